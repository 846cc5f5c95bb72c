package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/wire"
)

// Dir names a direction of a link: from its first host (A) to its second
// (B), the reverse, or both.
type Dir uint8

// The directions.
const (
	AtoB Dir = 1 << iota
	BtoA
	Both = AtoB | BtoA
)

func (d Dir) String() string {
	switch d {
	case AtoB:
		return "A->B"
	case BtoA:
		return "B->A"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Dir(%d)", uint8(d))
}

// DefaultMTU is the MTU of a path whose PathConfig.MTU is 0.
const DefaultMTU = 1500

// PathConfig describes one direction of a link. The zero value is a perfect
// link: no delay, infinite bandwidth, no loss, MTU 1500.
//
// A packet written into the path goes through these stages, in order:
//
//  1. MTU: a packet longer than MTU is dropped (PathStats.DropTooBig).
//  2. Partition: while the direction is down (Link.SetDown,
//     Link.Partition), packets are dropped (DropDown). Only packets written
//     while it is down are affected: those already on their way arrive.
//  3. Queue and bandwidth: with Bandwidth > 0, a packet waits behind those
//     written before it (FIFO) and then takes len*8/Bandwidth seconds to
//     serialise. With QueueLimit > 0, a packet that finds QueueLimit
//     packets waiting or being serialised is dropped (tail drop,
//     DropQueue). Without bandwidth there is no queue. With ECNThreshold
//     > 0, an ECN-capable packet that finds at least ECNThreshold packets
//     there is marked CE instead (RFC 3168 5; CEMarked), as a router's
//     AQM does to signal congestion without loss.
//  4. Loss on the wire: Loss (independent, DropLoss), then the
//     Gilbert-Elliott channel (bursty, DropBurstLoss).
//  5. Corruption: with probability Corrupt one bit, anywhere in the
//     packet, is flipped (Corrupted). In IPv4 every single-bit error is
//     caught by the IP or TCP checksum (or makes the header invalid); in
//     IPv6 a flip in the traffic class, flow label or hop limit goes
//     unnoticed, as on a real network.
//  6. Duplication: with probability Duplicate a copy is delivered right
//     after the packet (Duplicated).
//  7. Delay: the packet arrives Latency plus a jitter drawn uniformly from
//     [-Jitter, +Jitter] (the sum never below 0) after it was serialised.
//     The link is FIFO: a packet never arrives before one written earlier,
//     so jitter delays packets but does not reorder them.
//  8. Reordering: with probability Reorder a packet (and its duplicate)
//     is held back an extra ReorderDelay outside the FIFO, so that packets
//     written after it may arrive first (Reordered).
//
// Random draws come from the direction's own generator, so two runs with
// the same seed and configuration make the same decisions.
type PathConfig struct {
	// Latency is the one-way propagation delay.
	Latency time.Duration
	// Jitter is the half-width of the uniform variation added to Latency.
	Jitter time.Duration
	// Bandwidth in bits per second; 0 is infinite.
	Bandwidth int64
	// QueueLimit bounds the packets waiting for or undergoing
	// serialisation (with Bandwidth > 0); 0 means unbounded.
	QueueLimit int
	// ECNThreshold is the queue length (packets, with Bandwidth > 0) from
	// which ECT packets are marked CE (RFC 3168 5), a step-threshold AQM;
	// 0 disables marking. Not-ECT packets are never marked.
	ECNThreshold int
	// Loss is the probability that a packet is lost, independently of the
	// others.
	Loss float64
	// GilbertElliott adds bursty loss.
	GilbertElliott GilbertElliott
	// Reorder is the probability that a packet is delayed by ReorderDelay
	// (which must then be positive) and overtaken by later ones.
	Reorder      float64
	ReorderDelay time.Duration
	// Duplicate is the probability that a packet is delivered twice.
	Duplicate float64
	// Corrupt is the probability that a packet has one random bit flipped.
	Corrupt float64
	// MTU is the largest packet carried, in bytes (0 means DefaultMTU). The
	// interface of the sending host gets this MTU.
	MTU int
}

// GilbertElliott is the two-state Markov model of bursty loss. The channel
// starts in the good state; before each packet it moves from good to bad
// with probability P and from bad to good with probability R, then loses
// the packet with probability LossGood or LossBad depending on the state it
// is in. The mean time in the bad state is 1/R packets; the stationary
// probability of the bad state is P/(P+R). With LossGood 0 and LossBad 1
// (the Gilbert model) losses come in bursts of 1/R packets on average. The
// zero value disables it.
//
// The channel moves per packet, not per unit of time: a burst lasts 1/R
// packets however far apart they are, so a sender backing off its
// retransmission timer meets the same burst for longer (with R = 0.1 and
// LossBad = 1, ten lost retransmissions in a row are common enough to time
// connections out).
type GilbertElliott struct {
	P, R              float64
	LossGood, LossBad float64
}

func (g GilbertElliott) enabled() bool { return g.LossGood > 0 || (g.P > 0 && g.LossBad > 0) }

// LinkConfig configures both directions of a link.
type LinkConfig struct {
	AtoB, BtoA PathConfig
}

// Symmetric is a LinkConfig with the same PathConfig in both directions.
func Symmetric(p PathConfig) LinkConfig { return LinkConfig{AtoB: p, BtoA: p} }

func (p PathConfig) mtu() int {
	if p.MTU == 0 {
		return DefaultMTU
	}
	return p.MTU
}

// Validate reports the first setting that makes no sense.
func (p PathConfig) Validate() error {
	prob := func(name string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("sim: %s %v is not a probability", name, v)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"Loss", p.Loss}, {"Reorder", p.Reorder}, {"Duplicate", p.Duplicate}, {"Corrupt", p.Corrupt},
		{"GilbertElliott.P", p.GilbertElliott.P}, {"GilbertElliott.R", p.GilbertElliott.R},
		{"GilbertElliott.LossGood", p.GilbertElliott.LossGood}, {"GilbertElliott.LossBad", p.GilbertElliott.LossBad},
	} {
		if err := prob(c.name, c.v); err != nil {
			return err
		}
	}
	switch {
	case p.Latency < 0 || p.Jitter < 0 || p.ReorderDelay < 0:
		return errors.New("sim: negative Latency, Jitter or ReorderDelay")
	case p.Bandwidth < 0:
		return errors.New("sim: negative Bandwidth")
	case p.QueueLimit < 0:
		return errors.New("sim: negative QueueLimit")
	case p.ECNThreshold < 0:
		return errors.New("sim: negative ECNThreshold")
	case p.Reorder > 0 && p.ReorderDelay == 0:
		return errors.New("sim: Reorder needs a positive ReorderDelay")
	case p.MTU != 0 && (p.MTU < 68 || p.MTU > 65535):
		return fmt.Errorf("sim: MTU %d outside 68..65535", p.MTU)
	}
	return nil
}

// DropReason says why a link dropped a packet.
type DropReason uint8

// The reasons.
const (
	NotDropped DropReason = iota
	DropTooBig
	DropDown
	DropQueue
	DropLoss
	DropBurstLoss
	DropClosed // the receiving interface was closed
)

func (r DropReason) String() string {
	switch r {
	case NotDropped:
		return "none"
	case DropTooBig:
		return "too big"
	case DropDown:
		return "down"
	case DropQueue:
		return "queue full"
	case DropLoss:
		return "loss"
	case DropBurstLoss:
		return "burst loss"
	case DropClosed:
		return "closed"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// PathStats are a direction's counters.
type PathStats struct {
	// Sent counts the packets written into the path; Delivered those handed
	// to the receiving host (duplicates included).
	Sent, SentBytes           uint64
	Delivered, DeliveredBytes uint64
	// Drops by reason.
	DropTooBig, DropDown, DropQueue, DropLoss, DropBurstLoss, DropClosed uint64
	// Duplicated counts the extra copies made, Reordered the packets held
	// back, Corrupted those with a bit flipped, CEMarked those marked
	// CE (ECNThreshold).
	Duplicated, Reordered, Corrupted, CEMarked uint64
	// MaxQueue is the longest queue seen (with Bandwidth > 0).
	MaxQueue int
}

// Dropped is the sum of the drops.
func (s PathStats) Dropped() uint64 {
	return s.DropTooBig + s.DropDown + s.DropQueue + s.DropLoss + s.DropBurstLoss + s.DropClosed
}

func (s *PathStats) add(o PathStats) {
	s.Sent += o.Sent
	s.SentBytes += o.SentBytes
	s.Delivered += o.Delivered
	s.DeliveredBytes += o.DeliveredBytes
	s.DropTooBig += o.DropTooBig
	s.DropDown += o.DropDown
	s.DropQueue += o.DropQueue
	s.DropLoss += o.DropLoss
	s.DropBurstLoss += o.DropBurstLoss
	s.DropClosed += o.DropClosed
	s.Duplicated += o.Duplicated
	s.Reordered += o.Reordered
	s.Corrupted += o.Corrupted
	s.CEMarked += o.CEMarked
	s.MaxQueue = max(s.MaxQueue, o.MaxQueue)
}

// PacketEventKind says what happened to a packet on a link.
type PacketEventKind uint8

// The kinds.
const (
	PacketSent      PacketEventKind = iota // written into the path
	PacketDropped                          // dropped (Reason says why)
	PacketDelivered                        // handed to the receiving host
)

func (k PacketEventKind) String() string {
	switch k {
	case PacketSent:
		return "sent"
	case PacketDropped:
		return "dropped"
	case PacketDelivered:
		return "delivered"
	}
	return fmt.Sprintf("PacketEventKind(%d)", uint8(k))
}

// PacketEvent is what an observer of a link sees (Link.Observe).
type PacketEvent struct {
	At     time.Duration
	Dir    Dir
	Kind   PacketEventKind
	Reason DropReason // for PacketDropped
	// Packet is valid only during the call.
	Packet []byte
	// For PacketDelivered: the packet is a duplicate's extra copy, was
	// held back for reordering, or had a bit flipped.
	Duplicate, Reordered, Corrupted bool
}

// Link joins two hosts with one interface on each. It is made by Connect.
type Link struct {
	n      *Network
	idx    int
	a, b   *Host
	ab, ba *path
	ea, eb *endpoint
	obs    []func(PacketEvent)
}

// Connect joins a and b with a link: each host gets an interface (named
// eth0, eth1, ... on that host) carrying all of the host's addresses, with
// the MTU of the direction it sends into, and a host route (/32 or /128)
// to each of the peer's addresses through it. stack.AddInterface also adds
// on-link routes for the addresses' prefixes; routes to anything else are
// the caller's (Link.NIC gives the interfaces).
func (n *Network) Connect(a, b *Host, cfg LinkConfig) (*Link, error) {
	if a == nil || b == nil || a.n != n || b.n != n {
		return nil, errors.New("sim: Connect needs two hosts of this network")
	}
	if a == b {
		return nil, errors.New("sim: cannot connect a host to itself")
	}
	if err := cfg.AtoB.Validate(); err != nil {
		return nil, fmt.Errorf("%w (A->B)", err)
	}
	if err := cfg.BtoA.Validate(); err != nil {
		return nil, fmt.Errorf("%w (B->A)", err)
	}
	l := &Link{n: n, idx: len(n.links), a: a, b: b}
	l.ab = l.newPath(AtoB, cfg.AtoB)
	l.ba = l.newPath(BtoA, cfg.BtoA)
	l.ea = &endpoint{l: l, out: l.ab, in: l.ba}
	l.eb = &endpoint{l: l, out: l.ba, in: l.ab}
	l.ab.to, l.ba.to = l.eb, l.ea

	var err error
	if l.ea.nic, err = a.s.AddInterface(fmt.Sprintf("eth%d", a.nics), l.ea, a.addrs...); err != nil {
		return nil, fmt.Errorf("sim: %s: %w", a.name, err)
	}
	a.nics++
	if l.eb.nic, err = b.s.AddInterface(fmt.Sprintf("eth%d", b.nics), l.eb, b.addrs...); err != nil {
		return nil, fmt.Errorf("sim: %s: %w", b.name, err)
	}
	b.nics++
	for _, pair := range []struct {
		h    *Host
		nic  *stack.NIC
		peer *Host
	}{{a, l.ea.nic, b}, {b, l.eb.nic, a}} {
		for _, p := range pair.peer.addrs {
			addr := p.Addr()
			if err := pair.h.s.AddRoute(stack.Route{Dst: netip.PrefixFrom(addr, addr.BitLen()), NIC: pair.nic}); err != nil {
				return nil, err
			}
		}
	}
	n.links = append(n.links, l)
	return l, nil
}

func (l *Link) newPath(d Dir, cfg PathConfig) *path {
	s1 := mix(l.n.seed ^ mix(uint64(l.idx)<<2|uint64(d)))
	s2 := mix(s1 ^ 0x73796e66696e) // "synfin"
	return &path{l: l, dir: d, cfg: cfg, rng: rand.New(rand.NewPCG(s1, s2))}
}

// A returns the link's first host, B its second.
func (l *Link) A() *Host { return l.a }

// B returns the link's second host.
func (l *Link) B() *Host { return l.b }

// NIC returns h's interface on the link (nil if h is not on it).
func (l *Link) NIC(h *Host) *stack.NIC {
	switch h {
	case l.a:
		return l.ea.nic
	case l.b:
		return l.eb.nic
	}
	return nil
}

func (l *Link) paths(d Dir) []*path {
	switch d {
	case AtoB:
		return []*path{l.ab}
	case BtoA:
		return []*path{l.ba}
	case Both:
		return []*path{l.ab, l.ba}
	}
	panic(fmt.Sprintf("sim: bad direction %d", d))
}

// Stats returns a direction's counters (for Both, their sums).
func (l *Link) Stats(d Dir) PathStats {
	var s PathStats
	for _, p := range l.paths(d) {
		s.add(p.stats)
	}
	return s
}

// Config returns a direction's configuration (for Both, A->B's).
func (l *Link) Config(d Dir) PathConfig { return l.paths(d)[0].cfg }

// SetPath changes the configuration of a direction (or both) from now on.
// Packets already on their way keep their fate. The MTU of an interface
// does not change after Connect, only what the path drops.
func (l *Link) SetPath(d Dir, cfg PathConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, p := range l.paths(d) {
		p.cfg = cfg
	}
	return nil
}

// SetDown takes a direction (or both) down or up: while down, every packet
// written into it is dropped (DropDown).
func (l *Link) SetDown(d Dir, down bool) {
	for _, p := range l.paths(d) {
		p.down = down
	}
}

// Partition drops every packet written into direction d (or both) from
// virtual time from until to (absolute times, as Network.Now reads; from
// inclusive, to exclusive). Windows may overlap.
func (l *Link) Partition(d Dir, from, to time.Duration) {
	for _, p := range l.paths(d) {
		p.windows = append(p.windows, window{from, to})
	}
}

// Observe calls f for every packet event on the link, in both directions.
func (l *Link) Observe(f func(PacketEvent)) { l.obs = append(l.obs, f) }

// Inject writes raw IP packets into direction d (AtoB or BtoA) as if the
// sending host had written them; they meet the same fate as the host's.
func (l *Link) Inject(d Dir, pkts ...[]byte) {
	if d != AtoB && d != BtoA {
		panic("sim: Inject needs one direction")
	}
	p := l.paths(d)[0]
	for _, pkt := range pkts {
		p.send(pkt)
	}
}

func (l *Link) observe(ev PacketEvent) {
	for _, f := range l.obs {
		f(ev)
	}
}

type window struct{ from, to time.Duration }

// path is one direction of a link.
type path struct {
	l       *Link
	dir     Dir
	cfg     PathConfig
	rng     *rand.Rand
	to      *endpoint
	down    bool
	windows []window

	// The transmitter: when it is free, and when each packet in the queue
	// leaves it (a FIFO of departure times from qhead on).
	busyUntil time.Duration
	queue     []time.Duration
	qhead     int
	// FIFO delivery: the arrival of the last packet, and its batch while it
	// is still pending (later packets arriving at the same time join it).
	lastArrival time.Duration
	tail        *batch
	geBad       bool

	stats PathStats
}

// batch is a set of packets delivered together by one event.
type batch struct {
	p     *path
	at    time.Duration
	pkts  [][]byte
	flags []uint8
	done  bool
}

const (
	flagDup = 1 << iota
	flagReordered
	flagCorrupted
)

func (p *path) isDown(now time.Duration) bool {
	if p.down {
		return true
	}
	down := false
	j := 0
	for _, w := range p.windows {
		if w.to <= now {
			continue // over: forget it
		}
		p.windows[j] = w
		j++
		if now >= w.from {
			down = true
		}
	}
	p.windows = p.windows[:j]
	return down
}

func (p *path) drop(pkt []byte, r DropReason) {
	switch r {
	case DropTooBig:
		p.stats.DropTooBig++
	case DropDown:
		p.stats.DropDown++
	case DropQueue:
		p.stats.DropQueue++
	case DropLoss:
		p.stats.DropLoss++
	case DropBurstLoss:
		p.stats.DropBurstLoss++
	case DropClosed:
		p.stats.DropClosed++
	}
	if len(p.l.obs) > 0 {
		p.l.observe(PacketEvent{At: p.l.n.now, Dir: p.dir, Kind: PacketDropped, Reason: r, Packet: pkt})
	}
}

// txTime is the serialisation time of size bytes, rounded up to the
// nanosecond.
func txTime(size int, bw int64) time.Duration {
	bits := int64(size) * 8 * int64(time.Second)
	return time.Duration((bits + bw - 1) / bw)
}

// send takes one packet written into the path.
func (p *path) send(pkt []byte) {
	n := p.l.n
	now := n.now
	cfg := &p.cfg
	p.stats.Sent++
	p.stats.SentBytes += uint64(len(pkt))
	if len(p.l.obs) > 0 {
		p.l.observe(PacketEvent{At: now, Dir: p.dir, Kind: PacketSent, Packet: pkt})
	}
	if len(pkt) > cfg.mtu() {
		p.drop(pkt, DropTooBig)
		return
	}
	if p.isDown(now) {
		p.drop(pkt, DropDown)
		return
	}
	departure := now
	markCE := false
	if cfg.Bandwidth > 0 {
		for p.qhead < len(p.queue) && p.queue[p.qhead] <= now {
			p.qhead++
		}
		if p.qhead == len(p.queue) {
			p.queue, p.qhead = p.queue[:0], 0
		}
		if cfg.QueueLimit > 0 && len(p.queue)-p.qhead >= cfg.QueueLimit {
			p.drop(pkt, DropQueue)
			return
		}
		markCE = cfg.ECNThreshold > 0 && len(p.queue)-p.qhead >= cfg.ECNThreshold
		departure = max(now, p.busyUntil) + txTime(len(pkt), cfg.Bandwidth)
		p.busyUntil = departure
		if p.qhead > 1024 && p.qhead > len(p.queue)/2 {
			k := copy(p.queue, p.queue[p.qhead:])
			p.queue, p.qhead = p.queue[:k], 0
		}
		p.queue = append(p.queue, departure)
		p.stats.MaxQueue = max(p.stats.MaxQueue, len(p.queue)-p.qhead)
	}
	if cfg.Loss > 0 && p.rng.Float64() < cfg.Loss {
		p.drop(pkt, DropLoss)
		return
	}
	if ge := &cfg.GilbertElliott; ge.enabled() {
		if p.geBad {
			if ge.R > 0 && p.rng.Float64() < ge.R {
				p.geBad = false
			}
		} else if ge.P > 0 && p.rng.Float64() < ge.P {
			p.geBad = true
		}
		loss := ge.LossGood
		if p.geBad {
			loss = ge.LossBad
		}
		if loss > 0 && p.rng.Float64() < loss {
			p.drop(pkt, DropBurstLoss)
			return
		}
	}
	buf := n.getBuf(len(pkt))
	copy(buf, pkt)
	if markCE {
		if e := wire.PacketECN(buf); e.IsECT() && e != wire.CE && wire.SetPacketECN(buf, wire.CE) {
			p.stats.CEMarked++
		}
	}
	var flags uint8
	if cfg.Corrupt > 0 && p.rng.Float64() < cfg.Corrupt && len(buf) > 0 {
		bit := p.rng.IntN(len(buf) * 8)
		buf[bit/8] ^= 1 << (bit % 8)
		flags |= flagCorrupted
		p.stats.Corrupted++
	}
	dup := cfg.Duplicate > 0 && p.rng.Float64() < cfg.Duplicate
	reorder := cfg.Reorder > 0 && p.rng.Float64() < cfg.Reorder
	delay := cfg.Latency
	if cfg.Jitter > 0 {
		delay += time.Duration(p.rng.Int64N(2*int64(cfg.Jitter)+1)) - cfg.Jitter
		delay = max(delay, 0)
	}
	arrival := departure + delay
	var b *batch
	if reorder {
		p.stats.Reordered++
		flags |= flagReordered
		b = p.newBatch(arrival + cfg.ReorderDelay)
	} else {
		arrival = max(arrival, p.lastArrival)
		p.lastArrival = arrival
		if t := p.tail; t != nil && !t.done && t.at == arrival {
			b = t
		} else {
			b = p.newBatch(arrival)
			p.tail = b
		}
	}
	b.pkts = append(b.pkts, buf)
	b.flags = append(b.flags, flags)
	if dup {
		p.stats.Duplicated++
		c := n.getBuf(len(buf))
		copy(c, buf)
		b.pkts = append(b.pkts, c)
		b.flags = append(b.flags, flags|flagDup)
	}
}

func (p *path) newBatch(at time.Duration) *batch {
	b := &batch{p: p, at: at}
	p.l.n.schedule(at, b.deliver)
	return b
}

func (b *batch) deliver() {
	p := b.p
	n := p.l.n
	b.done = true
	if p.tail == b {
		p.tail = nil
	}
	ep := p.to
	if ep.closed || ep.disp == nil {
		for _, pkt := range b.pkts {
			p.drop(pkt, DropClosed)
		}
	} else {
		for i, pkt := range b.pkts {
			p.stats.Delivered++
			p.stats.DeliveredBytes += uint64(len(pkt))
			if len(p.l.obs) > 0 {
				f := b.flags[i]
				p.l.observe(PacketEvent{At: n.now, Dir: p.dir, Kind: PacketDelivered, Packet: pkt,
					Duplicate: f&flagDup != 0, Reordered: f&flagReordered != 0, Corrupted: f&flagCorrupted != 0})
			}
		}
		ep.disp.DeliverPackets(b.pkts)
	}
	for i, pkt := range b.pkts {
		n.putBuf(pkt)
		b.pkts[i] = nil
	}
}

// endpoint is a host's interface on a link. It implements link.Endpoint.
type endpoint struct {
	l       *Link
	out, in *path
	nic     *stack.NIC
	disp    link.Dispatcher
	closed  bool
}

var _ link.Endpoint = (*endpoint)(nil)

func (e *endpoint) MTU() int                { return e.out.cfg.mtu() }
func (e *endpoint) Offloads() link.Offloads { return link.Offloads{} }
func (e *endpoint) Attach(d link.Dispatcher) {
	e.disp = d
}

func (e *endpoint) WritePackets(pkts [][]byte) (int, error) {
	if e.closed {
		return 0, link.ErrClosed
	}
	for _, p := range pkts {
		e.out.send(p)
	}
	return len(pkts), nil
}

func (e *endpoint) Close() error {
	e.closed = true
	return nil
}

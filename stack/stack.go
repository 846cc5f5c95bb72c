// Package stack is a synfin host: network interfaces and addresses, routes,
// demultiplexing of TCP segments to connections, listeners with SYN and
// accept queues, ephemeral ports, TIME_WAIT, ICMP, and the Go net API
// (Listen, Dial, net.Conn, net.Listener) on top of the sans-I/O engine in
// package tcp.
//
// Concurrency: a Stack is safe for use by many goroutines. It starts no
// goroutine per connection: engine calls happen under one mutex, timers live
// in one hierarchical wheel woken by the Clock, and blocking calls wait on
// channels, so code using the stack runs under testing/synctest in virtual
// time.
package stack

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synfin/synfin/internal/wheel"
	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/tcp"
)

// Clock is the stack's source of time and wake-ups. The default uses the
// time package (virtual under testing/synctest); the simulator supplies a
// virtual clock it steps itself.
type Clock interface {
	// Now is the time since an arbitrary epoch; it never goes backwards.
	Now() time.Duration
	// AfterFunc calls f (on any goroutine) once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not happened; it reports whether it did.
	Stop() bool
}

type realClock struct{ start time.Time }

func (c realClock) Now() time.Duration { return time.Since(c.start) }
func (c realClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// Capture receives every packet the stack sends or receives, with a comment
// naming the state changes it caused ("SYN_SENT -> ESTABLISHED"). A few
// lines adapt link/pcap's Writer to it (see cmd/synfin and package sim).
type Capture interface {
	CapturePacket(ts time.Duration, out bool, pkt []byte, comment string)
}

// Options configure a Stack. The zero value is usable.
type Options struct {
	// TCP is the engine configuration; nil means tcp.DefaultConfig().
	TCP *tcp.Config
	// Clock is the time source; nil means real time.
	Clock Clock
	// Secret keys ISNs, timestamp offsets, ephemeral ports and SYN cookies.
	// nil draws one from crypto/rand; the simulator fixes it for
	// reproducibility.
	Secret *[16]byte
	// Capture, if set, sees every packet.
	Capture Capture
	// SomaxConn caps listen backlogs (net.core.somaxconn, 4096).
	SomaxConn int
	// Syncookies is net.ipv4.tcp_syncookies: 1 when the SYN queue is full,
	// 2 always, and SyncookiesNever (any negative value) for Linux's 0. The
	// zero value means the default, 1.
	Syncookies int
	// EphemeralPorts is net.ipv4.ip_local_port_range (32768-60999).
	EphemeralPorts [2]uint16
	// FragmentMemory bounds the memory used to reassemble IP fragments
	// (net.ipv4.ipfrag_high_thresh, 4 MiB); FragmentTimeout is ipfrag_time (30 s).
	FragmentMemory  int
	FragmentTimeout time.Duration
	// AbortHandshakeOnUnreachable makes an ICMP net or host unreachable end
	// a connection attempt at once, as Linux does. The default follows RFC
	// 9293 MUST-56: such errors are soft, and the SYN keeps being retried.
	AbortHandshakeOnUnreachable bool
	// TTL is the default IPv4 TTL and IPv6 hop limit (net.ipv4.ip_default_ttl,
	// 64; RFC 9293 MUST-49 wants it configurable).
	TTL uint8
}

// SyncookiesNever is the Options.Syncookies value that turns SYN cookies
// off (tcp_syncookies=0): SYNs beyond the SYN queue are dropped.
const SyncookiesNever = -1

// Stack is a host.
type Stack struct {
	// txBlocked makes TCP's transmissions fail (SetTxBlocked).
	txBlocked atomic.Bool
	// scratchSeg is the Segment every engine of this stack builds its
	// outgoing segments in (tcp.SegmentScratch).
	scratchSeg tcp.Segment

	mu     sync.Mutex
	opts   Options
	cfg    *tcp.Config
	clock  Clock
	secret [16]byte
	isn    *tcp.ISNGenerator

	nics   []*NIC
	routes []Route

	conns     map[connKey]*conn
	listeners map[netip.AddrPort]*listener
	timeWait  twTable // tables.go
	ports     map[uint16]*portUse
	nextEph   uint32
	peaks     tablePeaks // for shrinking the tables above (tables.go)

	wheel     *wheel.Wheel
	wake      Timer
	wakeAt    time.Duration
	wakeArmed bool

	challenge tcp.ChallengeLimiter
	cookies   *tcp.SynCookies
	frags     reassembler
	fo        stackFastOpen // TCP Fast Open: cookie cache and key (fastopen.go)

	tx     *txBatch
	txMu   sync.Mutex
	closed bool

	subs    []*subscriber
	comment []byte // state changes caused by the packet being processed
	inInput bool   // processing an arriving packet (captures are deferred)
	// outComment is the comment of the packet being sent: the sending
	// connection's pending state changes.
	outComment []byte
	// replyComments pairs with replies.
	replyComments []string
	batch         []*conn // connections holding their ACK during deliver
	replies       [][]byte

	linkWriteErrors atomic.Uint64

	stats Stats
	ipID  uint16
}

// Stats are the stack's counters: what arrived, what was dropped and why.
type Stats struct {
	PacketsIn, PacketsOut    uint64
	BadIPHeader              uint64
	BadIPChecksum            uint64
	NotForUs                 uint64 // not addressed to us (broadcast and multicast included)
	BadSource                uint64 // TCP or ICMP from an unspecified, multicast or broadcast source
	SourceRouted             uint64 // IPv4 packets with a source-route option, dropped
	UnknownProtocol          uint64
	BadTCPHeader             uint64
	BadTCPChecksum           uint64
	BadTCPOptions            uint64
	BadICMP                  uint64
	ICMPEchoReplies          uint64
	ICMPErrorsIn             uint64
	ICMPErrorsIgnored        uint64
	ResetsSent               uint64
	NoRoute                  uint64
	ListenOverflows          uint64
	ListenDrops              uint64
	SynCookiesSent           uint64
	SynCookiesValid          uint64
	SynCookiesInvalid        uint64
	TimeWaitReused           uint64
	TimeWaitRecycled         uint64
	FragmentsIn              uint64
	FragmentsOut             uint64
	FragmentsReassembled     uint64
	FragmentsDropped         uint64
	FragmentTimeouts         uint64
	LinkWriteErrors          uint64
	ActiveOpens, PassiveOpen uint64
	EventsDropped            uint64
	// TCP Fast Open (RFC 7413): cookie requests answered, connections
	// that took the data of their SYN, SYNs whose cookie was invalid, and
	// SYNs refused Fast Open because their listener's queue was full.
	FastOpenCookieRequests  uint64
	FastOpenPassive         uint64
	FastOpenPassiveFails    uint64
	FastOpenListenOverflows uint64
}

// New creates a stack.
func New(opts Options) (*Stack, error) {
	cfg := opts.TCP
	if cfg == nil {
		c := tcp.DefaultConfig()
		cfg = &c
	} else {
		c := *cfg
		cfg = &c
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = realClock{start: time.Now()}
	}
	if opts.SomaxConn <= 0 {
		opts.SomaxConn = 4096
	}
	if opts.EphemeralPorts == [2]uint16{} {
		opts.EphemeralPorts = [2]uint16{32768, 60999}
	}
	if opts.EphemeralPorts[0] == 0 || opts.EphemeralPorts[0] > opts.EphemeralPorts[1] {
		return nil, fmt.Errorf("stack: bad ephemeral port range %v", opts.EphemeralPorts)
	}
	if opts.FragmentMemory <= 0 {
		opts.FragmentMemory = 4 << 20
	}
	if opts.TTL == 0 {
		opts.TTL = 64
	}
	if opts.FragmentTimeout <= 0 {
		opts.FragmentTimeout = 30 * time.Second
	}
	// Internally Syncookies holds the sysctl's value: 0 never, 1, 2.
	switch {
	case opts.Syncookies == 0:
		opts.Syncookies = 1
	case opts.Syncookies < 0:
		opts.Syncookies = 0
	}
	s := &Stack{
		opts:      opts,
		cfg:       cfg,
		clock:     opts.Clock,
		conns:     make(map[connKey]*conn),
		listeners: make(map[netip.AddrPort]*listener),
		timeWait:  newTWTable(),
		ports:     make(map[uint16]*portUse),
	}
	if opts.Secret != nil {
		s.secret = *opts.Secret
	} else if _, err := rand.Read(s.secret[:]); err != nil {
		return nil, err
	}
	s.isn = tcp.NewISNGenerator(s.secret)
	s.wheel = wheel.New(time.Millisecond, s.clock.Now())
	s.challenge.PerSecond = cfg.ChallengeAckLimit
	s.frags.init(opts.FragmentMemory, opts.FragmentTimeout)
	s.tx = newTxBatch()
	return s, nil
}

// Config returns a copy of the stack's TCP configuration.
func (s *Stack) Config() tcp.Config { return *s.cfg }

// Now returns the stack's clock reading.
func (s *Stack) Now() time.Duration { return s.clock.Now() }

// NIC is a network interface: a link endpoint with addresses.
type NIC struct {
	s     *Stack
	id    int
	name  string
	ep    link.Endpoint
	mtu   int
	addrs []netip.Prefix
	off   link.Offloads
	// owner is ep if it can take packets without copying them.
	owner link.OwningWriter
	// splitter is ep if it can take packets in two pieces.
	splitter link.SplitWriter
}

// Name returns the interface's name.
func (n *NIC) Name() string { return n.name }

// Addrs returns the interface's addresses.
func (n *NIC) Addrs() []netip.Prefix { return append([]netip.Prefix(nil), n.addrs...) }

// MTU returns the link MTU.
func (n *NIC) MTU() int { return n.mtu }

// DeliverPackets implements link.Dispatcher.
func (n *NIC) DeliverPackets(pkts [][]byte) { n.s.deliver(n, pkts, nil) }

// DeliverSplitPackets implements link.SplitDispatcher.
func (n *NIC) DeliverSplitPackets(heads, tails [][]byte) { n.s.deliver(n, heads, tails) }

// Route sends packets for Dst through NIC. Links are point-to-point IP links
// (TUN, pipe, simulator), so a gateway needs no address resolution; it is
// kept for display.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
	NIC     *NIC
}

// ErrStackClosed is returned by calls on a closed stack.
var ErrStackClosed = errors.New("synfin: stack closed")

// AddInterface attaches a link with its addresses and adds on-link routes for
// them. The first interface for each address family also becomes the default
// route if none exists.
func (s *Stack) AddInterface(name string, ep link.Endpoint, addrs ...netip.Prefix) (*NIC, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrStackClosed
	}
	for _, a := range addrs {
		if !a.IsValid() {
			s.mu.Unlock()
			return nil, fmt.Errorf("stack: invalid address %v", a)
		}
	}
	mtu := ep.MTU()
	if mtu < 68 {
		s.mu.Unlock()
		return nil, fmt.Errorf("stack: MTU %d below the IPv4 minimum of 68", mtu)
	}
	n := &NIC{s: s, id: len(s.nics) + 1, name: name, ep: ep, mtu: mtu, off: ep.Offloads()}
	n.owner, _ = ep.(link.OwningWriter)
	n.splitter, _ = ep.(link.SplitWriter)
	for _, a := range addrs {
		n.addrs = append(n.addrs, a)
		s.routes = append(s.routes, Route{Dst: a.Masked(), NIC: n})
	}
	s.nics = append(s.nics, n)
	s.sortRoutes()
	s.mu.Unlock()
	ep.Attach(n)
	return n, nil
}

// AddRoute adds a route (for example the default route 0.0.0.0/0 or ::/0).
func (s *Stack) AddRoute(r Route) error {
	if !r.Dst.IsValid() || r.NIC == nil {
		return fmt.Errorf("stack: route needs a destination prefix and an interface")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, Route{Dst: r.Dst.Masked(), Gateway: r.Gateway, NIC: r.NIC})
	s.sortRoutes()
	return nil
}

// Routes returns the routing table, longest prefix first.
func (s *Stack) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Route(nil), s.routes...)
}

func (s *Stack) sortRoutes() {
	sort.SliceStable(s.routes, func(i, j int) bool { return s.routes[i].Dst.Bits() > s.routes[j].Dst.Bits() })
}

// route finds the interface and source address for dst.
func (s *Stack) route(dst netip.Addr) (*NIC, netip.Addr, bool) {
	for _, r := range s.routes {
		if r.Dst.Addr().Is4() != dst.Is4() || !r.Dst.Contains(dst) {
			continue
		}
		for _, a := range r.NIC.addrs {
			if a.Addr().Is4() == dst.Is4() {
				return r.NIC, a.Addr(), true
			}
		}
	}
	return nil, netip.Addr{}, false
}

// isLocal reports whether a is one of our addresses, and on which interface.
func (s *Stack) isLocal(a netip.Addr) bool {
	for _, n := range s.nics {
		for _, p := range n.addrs {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// Close aborts every connection, closes listeners and links, and stops the
// timers. No goroutine of the stack survives it.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	now := s.clock.Now()
	for _, c := range s.connList() {
		c.tcb.Abort(now)
		s.dropConn(c)
	}
	for _, l := range s.listeners {
		l.closed = true
		l.wakeAll()
	}
	s.listeners = map[netip.AddrPort]*listener{}
	s.timeWait.reset()
	s.closed = true
	if s.wake != nil {
		s.wake.Stop()
		s.wakeArmed = false
	}
	for _, sub := range s.subs {
		close(sub.ch)
	}
	s.subs = nil
	nics := s.nics
	batch := s.takeBatch()
	s.mu.Unlock()
	s.flush(batch)
	var first error
	for _, n := range nics {
		if err := n.ep.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Stack) connList() []*conn {
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.less(out[j].key) })
	return out
}

// Stats returns a snapshot of the stack's counters.
func (s *Stack) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.LinkWriteErrors = s.linkWriteErrors.Load()
	return st
}

// unlockAndFlush releases the lock, then writes what the engines emitted
// while it was held, in order.
func (s *Stack) unlockAndFlush() {
	s.armWake()
	b := s.takeBatch()
	if b == nil {
		s.mu.Unlock()
		return
	}
	s.txMu.Lock()
	s.mu.Unlock()
	s.writeBatch(b)
	s.txMu.Unlock()
	b.Release()
}

func (s *Stack) flush(b *txBatch) {
	if b == nil {
		return
	}
	s.txMu.Lock()
	s.writeBatch(b)
	s.txMu.Unlock()
	b.Release()
}

// armWake makes sure the clock wakes the stack for the earliest timer.
func (s *Stack) armWake() {
	if s.closed {
		return
	}
	next, ok := s.wheel.Next()
	if !ok {
		return
	}
	if s.wakeArmed && s.wakeAt <= next {
		return
	}
	if s.wake != nil {
		s.wake.Stop()
	}
	d := next - s.clock.Now()
	if d < 0 {
		d = 0
	}
	s.wakeAt, s.wakeArmed = next, true
	s.wake = s.clock.AfterFunc(d, s.onWake)
}

// onWake runs the expired timers.
func (s *Stack) onWake() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wakeArmed = false
	s.runTimers(s.clock.Now())
	s.unlockAndFlush()
}

func (s *Stack) runTimers(now time.Duration) {
	s.wheel.Advance(now, func(e *wheel.Entry) {
		switch v := e.Value.(type) {
		case *conn:
			v.tcb.Tick(now)
			s.afterEngine(v)
		case *twEntry:
			s.expireTimeWait(v, now)
		case *reassembler:
			v.expire(now, &s.stats)
			s.scheduleFrag()
		}
	})
}

// SetTxBlocked makes the stack's local transmit queue refuse every TCP
// segment carrying data while blocked is true, as a full or zero-length
// queue discipline would (tc qdisc ... limit 0): connections see their
// transmissions fail and retry later. It exists for tests and the
// packetdrill runner.
func (s *Stack) SetTxBlocked(blocked bool) { s.txBlocked.Store(blocked) }

package main

// A real-time emulated path (bandwidth with a FIFO tail-drop queue,
// one-way delay, independent random loss) that both synfin and gVisor can be
// put behind. gVisor reads the real clock for its timers, so it cannot be
// driven by synfin's virtual-time simulator; instead both stacks run over
// this same real-time link and synfin is also measured in the simulator for
// reference.

import (
	"context"
	"flag"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synfin/synfin/link"

	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"

	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
)

// lossyLinux, when set to two network namespace names "A,B" (made by
// scripts/lossy-linux.sh), runs only the Linux reference of the lossy
// workload: kernel to kernel over the same emulated path, -reps times
// (default 3), 10 s each.
var lossyLinux = flag.String("lossy-linux", "", "namespaces `A,B`: measure kernel-to-kernel goodput over the lossy path and exit")

// lossyPath is issue #5's lossy path: 100 Mbit/s, 50 ms RTT, 1 % random
// loss each way, a tail-drop queue of 50 ms.
var lossyPath = pathConfig{Bandwidth: 100e6, Delay: 25 * time.Millisecond, Loss: 0.01, QueueTime: 50 * time.Millisecond}

type pathConfig struct {
	Bandwidth float64       // bits per second
	Delay     time.Duration // one way
	Loss      float64       // probability per packet
	QueueTime time.Duration // tail drop when the serialisation backlog exceeds this
	// Reorder is the probability that a packet is held back by
	// ReorderDelay more than the others, so that later ones overtake it.
	Reorder      float64
	ReorderDelay time.Duration
}

type emuItem struct {
	at  time.Time
	pkt []byte
}

// emuPath is one direction.
type emuPath struct {
	cfg      pathConfig
	mu       sync.Mutex
	rng      *rand.Rand
	nextFree time.Time
	q        chan emuItem
	deliver  func([][]byte)
	lost     int64
	dropped  int64
	// Data segments seen on the wire, and the retransmissions among them
	// whose original was not dropped here (spurious ones).
	dataSegs, spuriousSegs int64
	maxEnd                 uint32
	maxEndValid            bool
	droppedSeqs            map[uint32]bool // starts of data segments this path dropped
}

// noteTCP counts a data segment and whether it is a spurious
// retransmission: it repeats sequence space already sent whose original
// this path did not drop (IPv4 only, as the bench's addresses are). It
// returns the segment's start and whether it carries data.
func (p *emuPath) noteTCP(pkt []byte) (uint32, bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != 6 {
		return 0, false
	}
	ihl := int(pkt[0]&15) * 4
	total := int(pkt[2])<<8 | int(pkt[3])
	if total > len(pkt) || ihl+20 > total {
		return 0, false
	}
	tcp := pkt[ihl:total]
	doff := int(tcp[12]>>4) * 4
	n := len(tcp) - doff
	if n <= 0 {
		return 0, false
	}
	seq := uint32(tcp[4])<<24 | uint32(tcp[5])<<16 | uint32(tcp[6])<<8 | uint32(tcp[7])
	end := seq + uint32(n)
	p.dataSegs++
	if p.maxEndValid && int32(end-p.maxEnd) <= 0 {
		if p.droppedSeqs[seq] {
			delete(p.droppedSeqs, seq)
		} else {
			p.spuriousSegs++
		}
	}
	if !p.maxEndValid || int32(end-p.maxEnd) > 0 {
		p.maxEnd, p.maxEndValid = end, true
	}
	return seq, true
}

// noteDrop remembers a data segment this path dropped (lost or queue full).
func (p *emuPath) noteDrop(seq uint32, data bool) {
	if !data {
		return
	}
	if p.droppedSeqs == nil {
		p.droppedSeqs = map[uint32]bool{}
	}
	p.droppedSeqs[seq] = true
}

func newEmuPath(cfg pathConfig, seed uint64, deliver func([][]byte)) *emuPath {
	p := &emuPath{cfg: cfg, rng: rand.New(rand.NewPCG(seed, 7)), q: make(chan emuItem, 1<<16), deliver: deliver}
	go p.run()
	return p
}

// send takes a copy of pkt.
func (p *emuPath) send(pkt []byte) {
	now := time.Now()
	p.mu.Lock()
	seq, data := p.noteTCP(pkt)
	start := p.nextFree
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > p.cfg.QueueTime {
		p.dropped++
		p.noteDrop(seq, data)
		p.mu.Unlock()
		return
	}
	done := start.Add(time.Duration(float64(len(pkt)*8) / p.cfg.Bandwidth * 1e9))
	p.nextFree = done
	lost := p.rng.Float64() < p.cfg.Loss
	if lost {
		p.lost++
		p.noteDrop(seq, data)
	}
	late := !lost && p.cfg.Reorder > 0 && p.rng.Float64() < p.cfg.Reorder
	p.mu.Unlock()
	if lost {
		return
	}
	if late {
		// Held back: delivered on its own, after packets sent later.
		c := append([]byte(nil), pkt...)
		time.AfterFunc(time.Until(done.Add(p.cfg.Delay+p.cfg.ReorderDelay)), func() { p.deliver([][]byte{c}) })
		return
	}
	select {
	case p.q <- emuItem{done.Add(p.cfg.Delay), append([]byte(nil), pkt...)}:
	default:
		p.mu.Lock()
		p.dropped++
		p.noteDrop(seq, data)
		p.mu.Unlock()
	}
}

func (p *emuPath) run() {
	var batch [][]byte
	for it := range p.q {
		if d := time.Until(it.at); d > 0 {
			time.Sleep(d)
		}
		batch = append(batch[:0], it.pkt)
		// Everything else already due goes in the same batch.
	more:
		for {
			select {
			case nx, ok := <-p.q:
				if !ok {
					break more
				}
				if d := time.Until(nx.at); d > 0 {
					p.deliver(batch)
					batch = batch[:0]
					time.Sleep(d)
				}
				batch = append(batch, nx.pkt)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			p.deliver(batch)
		}
	}
}

func (p *emuPath) close() { close(p.q) }

// emuEndpoint is a synfin link.Endpoint whose writes go through an emuPath.
type emuEndpoint struct {
	mtu  int
	out  *emuPath
	mu   sync.Mutex
	disp link.Dispatcher
}

func (e *emuEndpoint) MTU() int                 { return e.mtu }
func (e *emuEndpoint) Offloads() link.Offloads  { return link.Offloads{} }
func (e *emuEndpoint) Attach(d link.Dispatcher) { e.mu.Lock(); e.disp = d; e.mu.Unlock() }
func (e *emuEndpoint) Close() error             { return nil }
func (e *emuEndpoint) WritePackets(pkts [][]byte) (int, error) {
	for _, p := range pkts {
		if len(p) <= e.mtu {
			e.out.send(p)
		}
	}
	return len(pkts), nil
}
func (e *emuEndpoint) dispatch(pkts [][]byte) {
	e.mu.Lock()
	d := e.disp
	e.mu.Unlock()
	if d != nil {
		d.DeliverPackets(pkts)
	}
}

type emuSynfin struct {
	env
	paths []*emuPath
}

func (e *emuSynfin) Close() {
	e.env.Close()
	for _, p := range e.paths {
		p.close()
	}
}

// newSynfinEmu joins two synfin stacks by the emulated path cfg, whose two
// directions draw their losses from seeds 2·run+1 and 2·run+2: run i of a
// workload meets the same loss pattern on every stack, and the runs of a
// workload meet different ones.
func newSynfinEmu(cfg pathConfig, mtu, run int) (env, error) {
	a := &emuEndpoint{mtu: mtu}
	b := &emuEndpoint{mtu: mtu}
	a.out = newEmuPath(cfg, uint64(2*run+1), b.dispatch)
	b.out = newEmuPath(cfg, uint64(2*run+2), a.dispatch)
	e, err := newSynfinOn(a, b)
	if err != nil {
		return nil, err
	}
	return &emuSynfin{e, []*emuPath{a.out, b.out}}, nil
}

// emuPaths is implemented by the emulated environments: the client's
// outgoing path first.
type emuPaths interface{ emuPaths() []*emuPath }

func (e *emuSynfin) emuPaths() []*emuPath { return e.paths }

// newGvisorEmu is newSynfinEmu for two gVisor stacks.
func newGvisorEmu(cfg pathConfig, mtu, run int) (env, error) {
	ca := channel.New(gvisorQueueLen, uint32(mtu), "")
	cb := channel.New(gvisorQueueLen, uint32(mtu), "")
	ctx, cancel := context.WithCancel(context.Background())
	mk := func(to *channel.Endpoint) func([][]byte) {
		return func(pkts [][]byte) {
			for _, p := range pkts {
				injectBytes(to, p)
			}
		}
	}
	pa := newEmuPath(cfg, uint64(2*run+1), mk(cb))
	pb := newEmuPath(cfg, uint64(2*run+2), mk(ca))
	go pumpToPath(ctx, ca, pa)
	go pumpToPath(ctx, cb, pb)
	e, err := newGvisorOn(ca, cb, cancel)
	if err != nil {
		return nil, err
	}
	return &emuGvisor{e, []*emuPath{pa, pb}}, nil
}

// pumpToPath sends what gVisor writes to channel endpoint from along path
// until ctx ends, then closes the path.
func pumpToPath(ctx context.Context, from *channel.Endpoint, path *emuPath) {
	defer path.close()
	for {
		pkt := from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		path.send(v.AsSlice())
		v.Release()
		pkt.DecRef()
	}
}

type emuGvisor struct {
	env
	paths []*emuPath
}

func (e *emuGvisor) emuPaths() []*emuPath { return e.paths }

// spuriousShare is the share of data segments on the client's path that
// were spurious retransmissions (their original was not dropped), in
// percent.
func spuriousShare(e env) (float64, bool) {
	ep, ok := e.(emuPaths)
	if !ok {
		return 0, false
	}
	p := ep.emuPaths()[0]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dataSegs == 0 {
		return 0, false
	}
	return 100 * float64(p.spuriousSegs) / float64(p.dataSegs), true
}

var _ gstack.LinkEndpoint = (*channel.Endpoint)(nil)

// goodput sends for d over a fresh connection and returns the bytes the
// receiver got per second, in Mbit/s.
func goodput(e env, d time.Duration) (float64, error) {
	ln, err := e.Listen(port)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	var mu sync.Mutex
	var read int64
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf)
			mu.Lock()
			read += int64(n)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := e.Dial(ctx, port)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	chunk := make([]byte, 64<<10)
	stop := start.Add(d)
	c.SetWriteDeadline(stop)
	for time.Now().Before(stop) {
		if _, err := c.Write(chunk); err != nil {
			break
		}
	}
	if w := time.Until(stop); w > 0 {
		time.Sleep(w)
	}
	mu.Lock()
	r := read
	mu.Unlock()
	return float64(r) * 8 / time.Since(start).Seconds() / 1e6, nil
}

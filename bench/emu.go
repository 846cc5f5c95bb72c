package main

// A real-time emulated path (bandwidth with a FIFO tail-drop queue,
// one-way delay, independent random loss) that both synfin and gVisor can be
// put behind. gVisor reads the real clock for its timers, so it cannot be
// driven by synfin's virtual-time simulator; instead both stacks run over
// this same real-time link and synfin is also measured in the simulator for
// reference.

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synfin/synfin/link"

	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"

	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
)

type pathConfig struct {
	Bandwidth float64       // bits per second
	Delay     time.Duration // one way
	Loss      float64       // probability per packet
	QueueTime time.Duration // tail drop when the serialisation backlog exceeds this
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
	start := p.nextFree
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > p.cfg.QueueTime {
		p.dropped++
		p.mu.Unlock()
		return
	}
	done := start.Add(time.Duration(float64(len(pkt)*8) / p.cfg.Bandwidth * 1e9))
	p.nextFree = done
	lost := p.rng.Float64() < p.cfg.Loss
	if lost {
		p.lost++
	}
	p.mu.Unlock()
	if lost {
		return
	}
	select {
	case p.q <- emuItem{done.Add(p.cfg.Delay), append([]byte(nil), pkt...)}:
	default:
		p.mu.Lock()
		p.dropped++
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

func newSynfinEmu(cfg pathConfig, mtu int) (env, error) {
	a := &emuEndpoint{mtu: mtu}
	b := &emuEndpoint{mtu: mtu}
	a.out = newEmuPath(cfg, 1, b.dispatch)
	b.out = newEmuPath(cfg, 2, a.dispatch)
	e, err := newSynfinOn(a, b)
	if err != nil {
		return nil, err
	}
	return &emuSynfin{e, []*emuPath{a.out, b.out}}, nil
}

func newGvisorEmu(cfg pathConfig, mtu int) (env, error) {
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
	pa := newEmuPath(cfg, 1, mk(cb))
	pb := newEmuPath(cfg, 2, mk(ca))
	pump := func(from *channel.Endpoint, path *emuPath) {
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
	go pump(ca, pa)
	go pump(cb, pb)
	return newGvisorOn(ca, cb, cancel)
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

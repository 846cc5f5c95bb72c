package main

// Experiments on the lossy path (emu.go) that take its figure apart: each
// side of the connection can be synfin or gVisor, with either stack's
// congestion control set to CUBIC or NewReno, so that a sender's effect can
// be told from a receiver's (gVisor acknowledges every segment, synfin
// delays ACKs as Linux does). `bench -lossyx all` runs the whole matrix;
// the regular lossy workload is unchanged.

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sstack "github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// lossyX names the experiments to run ("all", or a comma-separated list
// of variants such as "s-s/cubic,g-g/reno,s-g/cubic"): the first letter is
// the sender's stack, the second the receiver's (s synfin, g gVisor), then
// the congestion control of both, or "def" for each stack's default
// (synfin CUBIC, gVisor reno).
var lossyX = flag.String("lossyx", "", "run lossy-path `variants` (sender-receiver/cc, e.g. s-g/cubic, or all; -reps runs each, default 3) and exit")

// lossyXSeed is the first run's seed; run i uses lossyXSeed+2i (forward
// path) and the next number (reverse path). The regular lossy workload
// uses 1 and 2 on every run.
var lossyXSeed = flag.Uint64("lossyx-seed", 11, "first `seed` of the -lossyx runs (1 is the regular workload's loss pattern)")

// lossyXTrace prints the sender's cwnd every 10 ms.
var lossyXTrace = flag.Bool("lossyx-trace", false, "print the sender's cwnd every 10 ms")

// lossyXSame runs every -lossyx run with the same seed, as the regular
// workload does.
var lossyXSame = flag.Bool("lossyx-same-seed", false, "use the -lossyx-seed on every run")

// xVariants is the matrix "all" runs.
var xVariants = []string{
	"s-s/def", "g-g/def",
	"s-s/reno", "g-g/cubic",
	"s-g/def", "g-s/def",
	"s-g/reno", "g-s/cubic",
}

// xSide is one host of an experiment: synfin or gVisor.
type xSide struct {
	name    string
	deliver func([][]byte) // hands it packets from the wire
	attach  func(out *emuPath)
	listen  func(p uint16) (net.Listener, error)
	dial    func(ctx context.Context, p uint16) (net.Conn, error)
	close   func()
	// cwnd samples the sending connection (after dial): cwnd and ssthresh
	// in segments and whether it is in recovery.
	cwnd     func() (uint32, uint32, bool)
	counters func() string
}

func newXSynfin(ip netip.Addr, cc string) (*xSide, error) {
	cfg := tcp.DefaultConfig()
	if cc != "def" {
		cfg.CongestionControl = cc
	}
	s, err := sstack.New(sstack.Options{TCP: &cfg})
	if err != nil {
		return nil, err
	}
	ep := &emuEndpoint{mtu: 1500}
	if _, err := s.AddInterface("p0", ep, netip.PrefixFrom(ip, 24)); err != nil {
		return nil, err
	}
	x := &xSide{name: "synfin", deliver: ep.dispatch, close: func() { s.Close() }}
	x.attach = func(out *emuPath) { ep.out = out }
	x.listen = func(p uint16) (net.Listener, error) {
		return s.Listen("tcp", netip.AddrPortFrom(ip, p).String())
	}
	var conn atomic.Pointer[sstack.TCPConn]
	x.dial = func(ctx context.Context, p uint16) (net.Conn, error) {
		to := clientIP
		if ip == clientIP {
			to = serverIP
		}
		c, err := s.DialContext(ctx, "tcp", netip.AddrPortFrom(to, p).String())
		if err == nil {
			if tc, ok := c.(*sstack.TCPConn); ok {
				conn.Store(tc)
			}
		}
		return c, err
	}
	x.cwnd = func() (uint32, uint32, bool) {
		c := conn.Load()
		if c == nil {
			return 0, 0, false
		}
		in := c.Info()
		return in.SndCwnd, in.SndSsthresh, in.CAState == "recovery" || in.CAState == "loss"
	}
	x.counters = func() string {
		c := conn.Load()
		if c == nil {
			return ""
		}
		in := c.Info()
		return fmt.Sprintf("srtt %v minrtt %v retrans %d fast %d rto %d tlp %d undo %d ssthresh %d segsout %d", in.RTT.Round(time.Millisecond/10), in.MinRTT.Round(time.Millisecond/10), in.TotalRetrans, in.FastRetrans, in.Timeouts, in.TLPProbes, in.SpuriousUndos, in.SndSsthresh, in.DataSegsOut)
	}
	return x, nil
}

func newXGvisor(ip netip.Addr, cc string) (*xSide, error) {
	ch := channel.New(gvisorQueueLen, 1500, "")
	s, err := newGvisorStack(ch, ip)
	if err != nil {
		return nil, err
	}
	if cc != "def" {
		o := tcpip.CongestionControlOption(cc)
		if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, &o); err != nil {
			return nil, fmt.Errorf("gvisor cc %s: %v", cc, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &xSide{name: "gvisor"}
	x.deliver = func(pkts [][]byte) {
		for _, p := range pkts {
			injectBytes(ch, p)
		}
	}
	x.attach = func(out *emuPath) { go pumpToPath(ctx, ch, out) }
	x.close = func() { s.Close(); cancel(); s.Wait() }
	x.listen = func(p uint16) (net.Listener, error) {
		return gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(ip.As4()), Port: p}, ipv4.ProtocolNumber)
	}
	var epp atomic.Pointer[tcpip.Endpoint]
	x.dial = func(dctx context.Context, p uint16) (net.Conn, error) {
		to := clientIP
		if ip == clientIP {
			to = serverIP
		}
		var wq waiter.Queue
		ep, terr := s.NewEndpoint(gtcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			return nil, fmt.Errorf("endpoint: %v", terr)
		}
		we, notify := waiter.NewChannelEntry(waiter.WritableEvents)
		wq.EventRegister(&we)
		defer wq.EventUnregister(&we)
		terr = ep.Connect(tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(to.As4()), Port: p})
		if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
			select {
			case <-notify:
			case <-dctx.Done():
				ep.Close()
				return nil, dctx.Err()
			}
			terr = ep.LastError()
		}
		if terr != nil {
			ep.Close()
			return nil, fmt.Errorf("connect: %v", terr)
		}
		epp.Store(&ep)
		return gonet.NewTCPConn(&wq, ep), nil
	}
	x.cwnd = func() (uint32, uint32, bool) {
		e := epp.Load()
		if e == nil {
			return 0, 0, false
		}
		var info tcpip.TCPInfoOption
		if err := (*e).GetSockOpt(&info); err != nil {
			return 0, 0, false
		}
		return info.SndCwnd, info.SndSsthresh, info.CcState == tcpip.SACKRecovery || info.CcState == tcpip.FastRecovery || info.CcState == tcpip.RTORecovery
	}
	x.counters = func() string {
		t := s.Stats().TCP
		var info tcpip.TCPInfoOption
		if e := epp.Load(); e != nil {
			(*e).GetSockOpt(&info)
		}
		return fmt.Sprintf("srtt %v retrans %d fast %d sackrec %d rto %d tlp %d spurious %d", info.RTT.Round(time.Millisecond/10), t.Retransmits.Value(), t.FastRetransmit.Value(), t.SACKRecovery.Value(), t.Timeouts.Value(), t.TLPRecovery.Value(), t.SpuriousRecovery.Value())
	}
	return x, nil
}

// xEnv joins a sender (the client, which dials) and a receiver by the
// lossy path.
type xEnv struct {
	snd, rcv *xSide
	fwd, rev *emuPath
	fwdPkts  atomic.Int64 // delivered to the receiver
	revPkts  atomic.Int64 // delivered to the sender (ACKs)
}

func newXEnv(variant string, seed uint64) (*xEnv, error) {
	pair, cc, ok := strings.Cut(variant, "/")
	if !ok || len(pair) != 3 || pair[1] != '-' {
		return nil, fmt.Errorf("variant %q: want s-g/cubic", variant)
	}
	mk := func(c byte, ip netip.Addr) (*xSide, error) {
		switch c {
		case 's':
			return newXSynfin(ip, cc)
		case 'g':
			return newXGvisor(ip, cc)
		}
		return nil, fmt.Errorf("variant %q: stack %q", variant, c)
	}
	snd, err := mk(pair[0], clientIP)
	if err != nil {
		return nil, err
	}
	rcv, err := mk(pair[2], serverIP)
	if err != nil {
		snd.close()
		return nil, err
	}
	e := &xEnv{snd: snd, rcv: rcv}
	e.fwd = newEmuPath(lossyPath, seed, func(p [][]byte) { e.fwdPkts.Add(int64(len(p))); rcv.deliver(p) })
	e.rev = newEmuPath(lossyPath, seed+1, func(p [][]byte) { e.revPkts.Add(int64(len(p))); snd.deliver(p) })
	snd.attach(e.fwd)
	rcv.attach(e.rev)
	return e, nil
}

func (e *xEnv) Listen(p uint16) (net.Listener, error)                { return e.rcv.listen(p) }
func (e *xEnv) Dial(ctx context.Context, p uint16) (net.Conn, error) { return e.snd.dial(ctx, p) }
func (e *xEnv) Close() {
	e.snd.close()
	e.rcv.close()
	if e.snd.name == "synfin" {
		e.fwd.close()
	}
	if e.rcv.name == "synfin" {
		e.rev.close()
	}
}
func (e *xEnv) emuPaths() []*emuPath { return []*emuPath{e.fwd, e.rev} }

type xRun struct {
	goodput     float64
	meanCwnd    float64
	recFrac     float64 // share of samples in recovery
	acksPerData float64
	caGrowth    float64 // cwnd growth in congestion avoidance, segments per base RTT
	lost        int64
	counters    string
}

func runX(variant string, seed uint64, d time.Duration) (xRun, error) {
	e, err := newXEnv(variant, seed)
	if err != nil {
		return xRun{}, err
	}
	defer e.Close()
	var mu sync.Mutex
	var sum, n, rec, caTime, caGrow float64
	var prevW uint32
	var prevCA bool
	t0 := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				w, th, r := e.snd.cwnd()
				if w == 0 {
					continue
				}
				mu.Lock()
				sum += float64(w)
				n++
				if r {
					rec++
				}
				// Congestion avoidance: open, past slow start, and so
				// since the previous sample too.
				ca := !r && w >= th
				if ca && prevCA {
					caTime += 0.01
					if w > prevW {
						caGrow += float64(w - prevW)
					}
				}
				prevW, prevCA = w, ca
				if *lossyXTrace {
					fmt.Printf("trace %s %.2f cwnd %d ssthresh %d rec %v\n", variant, time.Since(t0).Seconds(), w, th, r)
				}
				mu.Unlock()
			}
		}
	}()
	g, err := goodput(e, d)
	close(stop)
	<-done
	if err != nil {
		return xRun{}, err
	}
	r := xRun{goodput: g, counters: e.snd.counters()}
	if n > 0 {
		r.meanCwnd, r.recFrac = sum/n, rec/n
	}
	if caTime > 0 {
		r.caGrowth = caGrow / caTime * lossyPath.Delay.Seconds() * 2
	}
	e.fwd.mu.Lock()
	data := e.fwd.dataSegs
	r.lost = e.fwd.lost
	e.fwd.mu.Unlock()
	if data > 0 {
		r.acksPerData = float64(e.revPkts.Load()) / float64(data)
	}
	return r, nil
}

// runLossyX runs the variants, reps times each (seeds vary per run), and
// prints one line per run and a median per variant.
func runLossyX(spec string, reps int, d time.Duration) int {
	vs := strings.Split(spec, ",")
	if spec == "all" {
		vs = xVariants
	}
	type agg struct{ g, w, ack []float64 }
	res := map[string]*agg{}
	for i := 0; i < reps; i++ {
		for _, v := range vs {
			seed := *lossyXSeed + uint64(2*i)
			if *lossyXSame {
				seed = *lossyXSeed
			}
			r, err := runX(v, seed, d)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", v, err)
				return 1
			}
			fmt.Printf("%-10s run %d seed %d: %.3f Mbit/s  mean cwnd %.1f  CA growth %.2f/RTT  in recovery %.0f%%  rev pkts/data seg %.2f  lost %d  %s\n",
				v, i+1, seed, r.goodput, r.meanCwnd, r.caGrowth, 100*r.recFrac, r.acksPerData, r.lost, r.counters)
			a := res[v]
			if a == nil {
				a = &agg{}
				res[v] = a
			}
			a.g, a.w, a.ack = append(a.g, r.goodput), append(a.w, r.meanCwnd), append(a.ack, r.acksPerData)
		}
	}
	fmt.Println()
	fmt.Printf("%-10s %8s %10s %10s %s\n", "variant", "Mbit/s", "mean cwnd", "acks/seg", "runs")
	for _, v := range vs {
		a := res[v]
		fmt.Printf("%-10s %8.3f %10.1f %10.2f %s\n", v, median(a.g), median(a.w), median(a.ack), fmtRuns(a.g))
	}
	return 0
}

func fmtRuns(xs []float64) string {
	s := slices.Clone(xs)
	var b strings.Builder
	for i, x := range s {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.2f", x)
	}
	return b.String()
}

package main

// The lossy path in synfin's simulator (virtual time), sampled every
// millisecond, to measure how fast cwnd grows in congestion avoidance
// against what RFC 5681 (Reno: one segment per window acknowledged) or RFC
// 9438 prescribe.

import (
	"flag"
	"fmt"
	"net/netip"
	"time"

	"github.com/synfin/synfin/sim"
	sstack "github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

var lossyXSim = flag.String("lossyx-sim", "", "measure synfin's cwnd growth on the lossy path in the simulator with this congestion control (cubic or reno), seeds 1..-reps, and exit")

// simGrowth is one run's congestion-avoidance bookkeeping: cwnd
// increments, and the increments Reno would have made for the segments
// acknowledged meanwhile (acked/cwnd).
type simGrowth struct {
	goodput      float64
	inc, renoInc float64
	caTime       time.Duration
	meanCwnd     float64
}

func simGrowthRun(cc string, seed uint64, d time.Duration, trace bool) (simGrowth, error) {
	n := sim.New(seed)
	cfg := tcp.DefaultConfig()
	cfg.CongestionControl = cc
	a, err := n.AddHostWith("a", sstack.Options{TCP: &cfg}, netip.MustParsePrefix("10.0.0.1/24"))
	if err != nil {
		return simGrowth{}, err
	}
	b, err := n.AddHostWith("b", sstack.Options{TCP: &cfg}, netip.MustParsePrefix("10.0.0.2/24"))
	if err != nil {
		return simGrowth{}, err
	}
	p := sim.PathConfig{Latency: 25 * time.Millisecond, Bandwidth: 100e6, Loss: 0.01, QueueLimit: 417}
	if _, err := n.Connect(a, b, sim.Symmetric(p)); err != nil {
		return simGrowth{}, err
	}
	sink, err := b.Sink(b.AddrPort(80), sim.SinkConfig{})
	if err != nil {
		return simGrowth{}, err
	}
	n.Start(sink)
	snd, err := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: 1 << 40, Seed: seed})
	if err != nil {
		return simGrowth{}, err
	}
	n.Start(snd)
	var g simGrowth
	var prev tcp.Info
	var have bool
	var sum, cnt float64
	step := time.Millisecond
	for t := time.Duration(0); t < d; t += step {
		if err := n.RunFor(step); err != nil {
			return g, err
		}
		in := snd.Conn().Info()
		if in.State != tcp.Established {
			continue
		}
		sum += float64(in.SndCwnd)
		cnt++
		ca := in.CAState == "open" && in.SndCwnd >= in.SndSsthresh
		pca := have && prev.CAState == "open" && prev.SndCwnd >= prev.SndSsthresh
		if ca && pca && in.SndCwnd >= prev.SndCwnd {
			g.inc += float64(in.SndCwnd - prev.SndCwnd)
			g.renoInc += float64(in.BytesAcked-prev.BytesAcked) / float64(in.SndMSS) / float64(prev.SndCwnd)
			g.caTime += step
		}
		if trace && (!have || in.SndCwnd != prev.SndCwnd || in.CAState != prev.CAState) {
			fmt.Printf("simtrace %.3f cwnd %d ssthresh %d %s inflight %d acked %d\n", t.Seconds(), in.SndCwnd, in.SndSsthresh, in.CAState, in.Unacked-in.Sacked-in.Lost+in.Retrans, in.BytesAcked/uint64(in.SndMSS))
		}
		prev, have = in, true
	}
	g.goodput = float64(sink.Progress()) * 8 / d.Seconds() / 1e6
	if cnt > 0 {
		g.meanCwnd = sum / cnt
	}
	return g, nil
}

func runLossyXSim(cc string, seeds int, d time.Duration) int {
	var gs []float64
	for s := 1; s <= seeds; s++ {
		g, err := simGrowthRun(cc, uint64(s), d, *lossyXTrace)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		gs = append(gs, g.goodput)
		fmt.Printf("sim %s seed %d: %.3f Mbit/s  mean cwnd %.1f  CA time %.1fs  cwnd increments %.0f, Reno's for the same ACKs %.1f (ratio %.2f)\n",
			cc, s, g.goodput, g.meanCwnd, g.caTime.Seconds(), g.inc, g.renoInc, g.inc/g.renoInc)
	}
	fmt.Printf("sim %s median %.3f Mbit/s\n", cc, median(gs))
	return 0
}

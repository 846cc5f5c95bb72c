package main

import (
	"testing"
	"time"
)

// TestLossyXVariants: malformed variant names are refused with an error.
func TestLossyXVariants(t *testing.T) {
	for _, v := range []string{"s-s", "x-s/cubic", "s-x/reno", "ss/cubic", "s-s-s/reno"} {
		if e, err := newXEnv(v, 1); err == nil {
			e.Close()
			t.Errorf("newXEnv(%q): no error", v)
		}
	}
}

// TestLossyXCrossStack: a synfin sender and a gVisor receiver (and the
// reverse) exchange data over the emulated path.
func TestLossyXCrossStack(t *testing.T) {
	for _, v := range []string{"s-g/def", "g-s/reno"} {
		r, err := runX(v, 1, time.Second)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if r.goodput <= 0 || r.meanCwnd <= 0 {
			t.Errorf("%s: goodput %.3f Mbit/s, mean cwnd %.1f", v, r.goodput, r.meanCwnd)
		}
	}
}

// TestRFC5681_RenoGrowthOnLossyPath: in congestion avoidance synfin's Reno
// grows cwnd by one segment per cwnd segments acknowledged (RFC 5681 3.1),
// on the lossy path in the simulator: the increments made are those the
// ACKs called for, less the credit Linux also drops when a reduction
// starts (snd_cwnd_cnt = 0), never more.
func TestRFC5681_RenoGrowthOnLossyPath(t *testing.T) {
	g, err := simGrowthRun("reno", 2, 20*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	if ratio := g.inc / g.renoInc; ratio < 0.9 || ratio > 1.0 {
		t.Errorf("cwnd increments %.0f for %.1f called for (ratio %.2f), want 0.9-1.0", g.inc, g.renoInc, ratio)
	}
}

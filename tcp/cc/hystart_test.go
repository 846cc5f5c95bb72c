package cc

import (
	"testing"
	"time"
)

// hsFlow is a slow start observed ACK by ACK: each ACK acknowledges two
// segments and carries the RTT sample given.
type hsFlow struct {
	c *Cubic
	s Sender
}

func newHSFlow(p CubicParams) *hsFlow {
	f := &hsFlow{c: NewCubic(p)}
	f.s = Sender{Cwnd: 10, Ssthresh: InfiniteSSThresh, MSS: 1000, Now: time.Second, SndUna: 1, SndNxt: 10001}
	f.c.Init(&f.s)
	return f
}

// ack processes one ACK of segs segments at now+gap with the given RTT;
// sent is how many new segments the sender has put out since (SND.NXT).
func (f *hsFlow) ack(gap, rtt time.Duration, segs, sent uint32) {
	f.s.Now += gap
	f.s.SndUna += segs * 1000
	f.s.CwndLimited = true
	f.s.SRTT = rtt
	f.s.InFlight = f.s.Cwnd
	f.c.PktsAcked(&f.s, segs, rtt)
	f.c.CongAvoid(&f.s, segs)
	f.s.SndNxt += sent * 1000
}

// Linux HyStart, delay detection: the corpus's
// cubic-hystart-delay-rtt-jumps-upward. A round's minimum RTT, over its
// first eight samples, 20% above the minimum delay (more than an eighth,
// clamped to 4..16 ms) ends slow start on the ninth: ssthresh = cwnd.
func TestHystart_DelayIncreaseExits(t *testing.T) {
	f := newHSFlow(DefaultCubicParams())
	f.ack(200*time.Millisecond, 200*time.Millisecond, 10, 20) // delay_min 200 ms, cwnd 20
	for i := 0; i < 8; i++ {
		f.ack(time.Millisecond, 240*time.Millisecond+time.Duration(i)*time.Millisecond, 2, 0)
		if f.s.Ssthresh != InfiniteSSThresh {
			t.Fatalf("sample %d: slow start ended early (ssthresh %d)", i+1, f.s.Ssthresh)
		}
	}
	if f.s.Cwnd != 36 {
		t.Fatalf("cwnd %d before the check, want 36", f.s.Cwnd)
	}
	f.ack(time.Millisecond, 248*time.Millisecond, 2, 0)
	if f.s.Ssthresh != 36 || f.s.Cwnd != 36 || !f.c.HystartFound() {
		t.Errorf("ninth sample: ssthresh %d cwnd %d found %v, want 36 36 true", f.s.Ssthresh, f.s.Cwnd, f.c.HystartFound())
	}
}

// The threshold is the minimum delay plus an eighth of it, clamped to
// 4..16 ms: a rise just below it does not exit, just above does.
func TestHystart_DelayThresholdClamp(t *testing.T) {
	for _, tt := range []struct {
		min, rise time.Duration
		exit      bool
	}{
		{10 * time.Millisecond, 4 * time.Millisecond, false}, // eighth 1.25 ms -> 4 ms
		{10 * time.Millisecond, 4*time.Millisecond + time.Microsecond, true},
		{80 * time.Millisecond, 10 * time.Millisecond, false}, // eighth 10 ms
		{80 * time.Millisecond, 10*time.Millisecond + time.Microsecond, true},
		{400 * time.Millisecond, 16 * time.Millisecond, false}, // 50 ms -> 16 ms
		{400 * time.Millisecond, 16*time.Millisecond + time.Microsecond, true},
	} {
		f := newHSFlow(DefaultCubicParams())
		f.ack(tt.min, tt.min, 10, 20)
		for i := 0; i < 9; i++ {
			f.ack(3*time.Millisecond, tt.min+tt.rise, 1, 0)
		}
		if got := f.s.Ssthresh != InfiniteSSThresh; got != tt.exit {
			t.Errorf("min %v rise %v: exit %v, want %v", tt.min, tt.rise, got, tt.exit)
		}
	}
}

// The corpus's cubic-hystart-delay-min-rtt-jumps-downward (Linux commit
// "tcp_cubic: fix spurious HYSTART_DELAY exit upon drop in min RTT"): a
// sample after the eighth that lowers the minimum delay enters the round's
// minimum too, so the comparison is not of an old minimum with a new one.
func TestHystart_MinDelayDropDoesNotExit(t *testing.T) {
	f := newHSFlow(DefaultCubicParams())
	f.ack(200*time.Millisecond, 200*time.Millisecond, 10, 18)
	for i := 0; i < 9; i++ {
		f.ack(time.Millisecond, 200*time.Millisecond+time.Duration(i)*time.Millisecond, 2, 0)
	}
	f.ack(time.Millisecond, 28*time.Millisecond, 2, 0)
	if f.s.Ssthresh != InfiniteSSThresh || f.s.Cwnd != 40 {
		t.Errorf("ssthresh %d cwnd %d, want slow start to go on at 40", f.s.Ssthresh, f.s.Cwnd)
	}
	if f.c.DelayMin() != 28*time.Millisecond {
		t.Errorf("delay_min %v, want 28ms", f.c.DelayMin())
	}
}

// ACK-train detection: ACKs no more than hystart_ack_delta apart whose
// train lasts longer than half the minimum delay end slow start.
func TestHystart_AckTrainExits(t *testing.T) {
	p := DefaultCubicParams()
	p.HystartDetect = HystartAckTrain
	f := newHSFlow(p)
	f.ack(20*time.Millisecond, 20*time.Millisecond, 10, 30) // delay_min 20 ms, cwnd 20
	// The train starts with the first ACK of the round: 1 ms apart, each
	// RTT sample 20 ms. The threshold is (20 ms + ack delay <= 1 ms)/2.
	n := 0
	for f.s.Ssthresh == InfiniteSSThresh && n < 30 {
		f.ack(time.Millisecond, 20*time.Millisecond, 1, 1)
		n++
	}
	// Round start at the first ACK; exit when now - round start > 10.5 ms.
	if n != 12 {
		t.Errorf("exit after %d ACKs of the train, want 12 (11 ms > 10.5 ms)", n)
	}
	// A gap larger than hystart_ack_delta breaks the train.
	f = newHSFlow(p)
	f.ack(20*time.Millisecond, 20*time.Millisecond, 10, 30)
	for i := 0; i < 30; i++ {
		f.ack(3*time.Millisecond, 20*time.Millisecond, 1, 1)
	}
	if f.s.Ssthresh != InfiniteSSThresh {
		t.Errorf("ACKs 3 ms apart (delta 2 ms) ended slow start: ssthresh %d", f.s.Ssthresh)
	}
}

// hystart_detect selects the detectors; hystart=0 disables HyStart; below
// hystart_low_window neither acts.
func TestHystart_Knobs(t *testing.T) {
	jump := func(p CubicParams, first uint32) bool {
		f := newHSFlow(p)
		f.ack(100*time.Millisecond, 100*time.Millisecond, 10, 40)
		f.s.Cwnd = first
		for i := 0; i < 12; i++ {
			f.ack(5*time.Millisecond, 150*time.Millisecond, 1, 0)
			f.s.Cwnd-- // keep cwnd where it started
		}
		return f.s.Ssthresh != InfiniteSSThresh
	}
	def := DefaultCubicParams()
	noDelay := def
	noDelay.HystartDetect = HystartAckTrain
	off := def
	off.Hystart = false
	low := def
	low.HystartLowWindow = 64
	for _, tt := range []struct {
		name string
		p    CubicParams
		exit bool
	}{
		{"defaults", def, true},
		{"hystart_detect=1", noDelay, false},
		{"hystart=0", off, false},
		{"hystart_low_window=64", low, false},
	} {
		if got := jump(tt.p, 20); got != tt.exit {
			t.Errorf("%s: exit %v, want %v", tt.name, got, tt.exit)
		}
	}
}

// After a loss HyStart does not run again until a timeout resets it
// (Linux: ca->found is cleared only by bictcp_reset).
func TestHystart_OnceUntilTimeout(t *testing.T) {
	f := newHSFlow(DefaultCubicParams())
	f.ack(200*time.Millisecond, 200*time.Millisecond, 10, 20)
	for i := 0; i < 9; i++ {
		f.ack(time.Millisecond, 240*time.Millisecond, 2, 0)
	}
	if !f.c.HystartFound() {
		t.Fatal("setup: no exit")
	}
	f.s.Ssthresh = f.c.SSThresh(&f.s)
	f.c.OnEvent(&f.s, EventLoss)
	if f.c.HystartFound() {
		t.Error("a timeout did not re-arm HyStart")
	}
}

func TestHystartAckDelay(t *testing.T) {
	for _, tt := range []struct {
		s    Sender
		want uint32
	}{
		{Sender{}, 0}, // no RTT yet: no rate, no allowance
		{Sender{MSS: 1448, Cwnd: 16, Ssthresh: InfiniteSSThresh, SRTT: time.Millisecond}, 1000},
		// 2 * 1448 * 100 / 50us = 5.8 GB/s: 4*64KiB take 45 us.
		{Sender{MSS: 1448, Cwnd: 100, Ssthresh: InfiniteSSThresh, SRTT: 50 * time.Microsecond}, 45},
	} {
		if got := hystartAckDelay(&tt.s); got != tt.want {
			t.Errorf("%+v: %d us, want %d", tt.s, got, tt.want)
		}
	}
}

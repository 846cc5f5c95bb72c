package cc

import (
	"testing"
	"time"
)

func hppParams() CubicParams {
	p := DefaultCubicParams()
	p.HystartPlusPlus = true
	return p
}

// hppRound acknowledges one round: its first ACK reaches the SND.NXT of
// the previous round's start (ending that round), and n ACKs in all, each
// of acked segments with the given RTT, 1 ms apart. A window of new data
// is in flight beyond.
func (f *hsFlow) hppRound(n int, acked uint32, rtt time.Duration) {
	end := f.s.SndNxt
	f.s.SndUna = end - acked*1000
	f.s.SndNxt = end + 1000*1000
	for i := 0; i < n; i++ {
		f.ack(time.Millisecond, rtt, acked, 0)
	}
}

// RFC 9406 4.2: in slow start, cwnd grows by min(N, L*SMSS) per ACK, L = 8
// for a sender that does not pace (4.3).
func TestHystartPP_RFC9406_4_2_SlowStartLimitL(t *testing.T) {
	f := newHSFlow(hppParams())
	f.ack(10*time.Millisecond, 10*time.Millisecond, 10, 10)
	if f.s.Cwnd != 18 {
		t.Errorf("an ACK of 10 segments: cwnd %d, want 10+8 (L)", f.s.Cwnd)
	}
	f.ack(time.Millisecond, 10*time.Millisecond, 3, 0)
	if f.s.Cwnd != 21 {
		t.Errorf("an ACK of 3 segments: cwnd %d, want 18+3", f.s.Cwnd)
	}
}

// RFC 9406 4.2: a round whose minimum RTT, over at least N_RTT_SAMPLE
// samples, exceeds the previous round's by RttThresh (an eighth of it,
// clamped to 4..16 ms) moves to CSS, where growth is divided by
// CSS_GROWTH_DIVISOR; fewer samples do not count.
func TestHystartPP_RFC9406_4_2_DelayIncreaseEntersCSS(t *testing.T) {
	for _, tt := range []struct {
		base, rise time.Duration
		samples    int
		css        bool
	}{
		{100 * time.Millisecond, 12500 * time.Microsecond, 8, true}, // 100/8 = 12.5 ms
		{100 * time.Millisecond, 12499 * time.Microsecond, 8, false},
		{100 * time.Millisecond, 20 * time.Millisecond, 7, false}, // too few samples
		{10 * time.Millisecond, 4 * time.Millisecond, 8, true},    // 1.25 ms -> MIN_RTT_THRESH
		{10 * time.Millisecond, 3999 * time.Microsecond, 8, false},
		{400 * time.Millisecond, 16 * time.Millisecond, 8, true}, // 50 ms -> MAX_RTT_THRESH
		{400 * time.Millisecond, 15999 * time.Microsecond, 8, false},
	} {
		f := newHSFlow(hppParams())
		f.hppRound(8, 1, tt.base)
		f.hppRound(tt.samples, 1, tt.base+tt.rise)
		if got := f.c.InCSS(); got != tt.css {
			t.Errorf("base %v rise %v, %d samples: CSS %v, want %v", tt.base, tt.rise, tt.samples, got, tt.css)
		}
		if f.s.Ssthresh != InfiniteSSThresh {
			t.Errorf("base %v rise %v: ssthresh %d, CSS keeps it", tt.base, tt.rise, f.s.Ssthresh)
		}
	}
}

// RFC 9406 4.2: cwnd += min(N, L*SMSS)/CSS_GROWTH_DIVISOR per ACK in CSS.
func TestHystartPP_RFC9406_4_2_CSSGrowth(t *testing.T) {
	f := newHSFlow(hppParams())
	f.hppRound(8, 1, 50*time.Millisecond)
	f.hppRound(8, 1, 60*time.Millisecond)
	if !f.c.InCSS() {
		t.Fatal("setup: not in CSS")
	}
	cwnd := f.s.Cwnd
	for i := 0; i < 8; i++ {
		f.ack(time.Millisecond, 60*time.Millisecond, 1, 1)
	}
	if f.s.Cwnd != cwnd+2 {
		t.Errorf("8 segments acked in CSS: cwnd %d -> %d, want +2", cwnd, f.s.Cwnd)
	}
}

// RFC 9406 4.2: in CSS, a round minimum below the baseline that triggered
// it means the exit was spurious: back to slow start (and HyStart++).
func TestHystartPP_RFC9406_4_2_SpuriousExitResumesSlowStart(t *testing.T) {
	f := newHSFlow(hppParams())
	f.hppRound(8, 1, 50*time.Millisecond)
	f.hppRound(8, 1, 60*time.Millisecond) // CSS, baseline 60 ms
	f.hppRound(8, 1, 60*time.Millisecond)
	if !f.c.InCSS() {
		t.Fatal("a round at the baseline left CSS")
	}
	f.hppRound(8, 1, 55*time.Millisecond)
	if f.c.InCSS() {
		t.Error("a round below the baseline did not resume slow start")
	}
	cwnd := f.s.Cwnd
	f.ack(time.Millisecond, 55*time.Millisecond, 2, 0)
	if f.s.Cwnd != cwnd+2 {
		t.Errorf("after resuming: cwnd %d -> %d, want slow start's +2", cwnd, f.s.Cwnd)
	}
}

// RFC 9406 4.2: after CSS_ROUNDS rounds of CSS, congestion avoidance:
// ssthresh = cwnd. The round CSS began in does not count.
func TestHystartPP_RFC9406_4_2_CSSRoundsEnterCA(t *testing.T) {
	f := newHSFlow(hppParams())
	f.hppRound(8, 1, 50*time.Millisecond)
	f.hppRound(8, 1, 60*time.Millisecond) // CSS entered in this round
	for i := 0; i < 5; i++ {
		if f.s.Ssthresh != InfiniteSSThresh {
			t.Fatalf("congestion avoidance after %d CSS rounds, want 5", i)
		}
		f.hppRound(8, 1, 60*time.Millisecond)
	}
	// The first ACK of the next round ends the fifth.
	f.hppRound(1, 1, 60*time.Millisecond)
	if f.s.Ssthresh == InfiniteSSThresh || f.c.InCSS() {
		t.Fatalf("ssthresh %d in CSS %v after 5 CSS rounds", f.s.Ssthresh, f.c.InCSS())
	}
	if f.s.Ssthresh > f.s.Cwnd {
		t.Errorf("ssthresh %d above cwnd %d", f.s.Ssthresh, f.s.Cwnd)
	}
}

// RFC 9406 4.3: HyStart++ runs only in the initial slow start; after a
// loss, slow start is RFC 5681's (no L limit, no delay checks).
func TestHystartPP_RFC9406_4_3_OnlyInitialSlowStart(t *testing.T) {
	f := newHSFlow(hppParams())
	f.hppRound(8, 1, 50*time.Millisecond)
	f.s.Ssthresh = f.c.SSThresh(&f.s)
	f.s.Cwnd = 2
	f.ack(time.Millisecond, 50*time.Millisecond, 12, 0)
	if f.s.Cwnd != min(14, f.s.Ssthresh) {
		t.Errorf("slow start after a loss: cwnd %d, want 2+12 capped by ssthresh %d", f.s.Cwnd, f.s.Ssthresh)
	}
	if f.c.hpp.active {
		t.Error("HyStart++ still active after a loss")
	}
}

// Linux's HyStart does not run when HyStart++ is selected, and neither
// runs with hystart=0.
func TestHystartPP_Selection(t *testing.T) {
	p := hppParams()
	f := newHSFlow(p)
	f.ack(200*time.Millisecond, 200*time.Millisecond, 10, 20)
	for i := 0; i < 9; i++ {
		f.ack(time.Millisecond, 240*time.Millisecond, 2, 0)
	}
	if f.c.HystartFound() {
		t.Error("Linux HyStart ran with HyStart++ selected")
	}
	p.Hystart = false
	f = newHSFlow(p)
	f.hppRound(8, 1, 50*time.Millisecond)
	f.hppRound(8, 1, 80*time.Millisecond)
	if f.c.InCSS() {
		t.Error("HyStart++ ran with hystart=0")
	}
	cwnd := f.s.Cwnd
	f.ack(time.Millisecond, 80*time.Millisecond, 10, 0)
	if f.s.Cwnd != cwnd+10 {
		t.Errorf("hystart=0: an ACK of 10 segments: cwnd %d -> %d, want +10 (no L limit)", cwnd, f.s.Cwnd)
	}
}

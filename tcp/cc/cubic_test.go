package cc

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// cubicFlow drives a Cubic like an engine would: a bulk sender that is
// always cwnd-limited, whose ACKs each acknowledge one segment and are
// spread evenly over a round trip of rtt.
type cubicFlow struct {
	t   *testing.T
	c   *Cubic
	s   Sender
	rtt time.Duration
	nxt uint32
}

func newCubicFlow(t *testing.T, p CubicParams, rtt time.Duration) *cubicFlow {
	t.Helper()
	f := &cubicFlow{t: t, c: NewCubic(p), rtt: rtt, nxt: 1}
	f.s = Sender{Cwnd: 10, Ssthresh: InfiniteSSThresh, MSS: 1000, Now: time.Second, SndUna: 1, SndNxt: 1}
	f.c.Init(&f.s)
	return f
}

// round acknowledges one window, one segment per ACK, and advances time by
// one RTT.
func (f *cubicFlow) round() {
	f.nxt += f.s.Cwnd
	f.s.SndNxt = f.nxt
	n := f.s.Cwnd
	step := f.rtt / time.Duration(n)
	for i := uint32(0); i < n; i++ {
		f.ack(1, f.rtt)
		f.s.Now += step
	}
}

func (f *cubicFlow) ack(segs uint32, rtt time.Duration) {
	f.s.SndUna += segs
	f.s.CwndLimited = true
	f.s.SRTT = f.rtt
	f.s.InFlight = f.s.Cwnd
	f.c.PktsAcked(&f.s, segs, rtt)
	f.c.CongAvoid(&f.s, segs)
}

// loss is a congestion event detected by ACKs: ssthresh from SSThresh and
// cwnd set to it (RFC 9438 4.6; the engine's recovery in between is not
// modelled).
func (f *cubicFlow) loss() {
	f.s.Ssthresh = f.c.SSThresh(&f.s)
	f.c.OnEvent(&f.s, EventRecoveryStart)
	f.s.Cwnd = f.s.Ssthresh
	f.s.CwndCnt = 0
	f.c.OnEvent(&f.s, EventRecoveryEnd)
}

func TestCubic_Registered(t *testing.T) {
	a, err := New("cubic")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "cubic" {
		t.Fatalf("Name %q", a.Name())
	}
	c := a.(*Cubic)
	if c.Params() != DefaultCubicParams() {
		t.Fatalf("New(cubic) params %+v, want the defaults", c.Params())
	}
	p := DefaultParams()
	p.Cubic.Beta = 512
	b, err := NewWithParams("cubic", &p)
	if err != nil {
		t.Fatal(err)
	}
	if b.(*Cubic).Params().Beta != 512 {
		t.Fatal("NewWithParams did not hand the parameters to cubic")
	}
	if r, err := NewWithParams("reno", &p); err != nil || r.Name() != "reno" {
		t.Fatalf("NewWithParams(reno) = %v, %v", r, err)
	}
}

// RFC 9438 4.6: ssthresh = cwnd * beta_cubic (Linux: 717/1024), at least 2.
func TestCubic_RFC9438_4_6_MultiplicativeDecrease(t *testing.T) {
	for _, tt := range []struct{ cwnd, want uint32 }{
		{100, 70}, {10, 7}, {1000, 700}, {3, 2}, {2, 2}, {1, 2},
	} {
		c := NewCubic(DefaultCubicParams())
		s := &Sender{Cwnd: tt.cwnd, Ssthresh: InfiniteSSThresh}
		c.Init(s)
		if got := c.SSThresh(s); got != tt.want {
			t.Errorf("cwnd %d: ssthresh %d, want %d", tt.cwnd, got, tt.want)
		}
		if c.Wmax() != tt.cwnd {
			t.Errorf("cwnd %d: W_max %d, want cwnd", tt.cwnd, c.Wmax())
		}
	}
	// beta is a parameter: 512/1024 halves like Reno.
	p := DefaultCubicParams()
	p.Beta = 512
	c := NewCubic(p)
	s := &Sender{Cwnd: 100}
	if got := c.SSThresh(s); got != 50 {
		t.Errorf("beta 512: ssthresh %d, want 50", got)
	}
}

// RFC 9438 4.7: a loss below the previous W_max lowers W_max further to
// cwnd*(1+beta)/2, unless fast convergence is off.
func TestCubic_RFC9438_4_7_FastConvergence(t *testing.T) {
	for _, fc := range []bool{true, false} {
		p := DefaultCubicParams()
		p.FastConvergence = fc
		c := NewCubic(p)
		s := &Sender{Cwnd: 100, Ssthresh: InfiniteSSThresh}
		c.Init(s)
		c.SSThresh(s) // W_max 100
		s.Cwnd = 80   // the next loss comes earlier
		c.SSThresh(s)
		want := uint32(80)
		if fc {
			want = 80 * (1024 + 717) / 2048 // 68
		}
		if c.Wmax() != want {
			t.Errorf("fast_convergence=%v: W_max %d, want %d", fc, c.Wmax(), want)
		}
		s.Cwnd = 120 // above W_max: no further reduction
		c.SSThresh(s)
		if c.Wmax() != 120 {
			t.Errorf("fast_convergence=%v: loss above W_max: W_max %d, want 120", fc, c.Wmax())
		}
	}
}

// RFC 9438 4.2: after a loss at W_max, cwnd follows W_cubic(t) =
// C*(t-K)^3 + W_max: concave up to the plateau at W_max, reached after K =
// cbrt(W_max*(1-beta)/C), then convex. Without the Reno-friendly region,
// on a long path where it would not matter, the window is checked against
// the curve one RTT ahead (the target) every round.
func TestCubic_RFC9438_4_2_WindowFollowsCubicFunction(t *testing.T) {
	p := DefaultCubicParams()
	p.TCPFriendliness = false
	p.Hystart = false
	const rtt = 100 * time.Millisecond
	f := newCubicFlow(t, p, rtt)
	f.s.Cwnd = 1000
	f.round() // a delay sample
	f.s.Cwnd = 1000
	f.loss()
	if f.s.Cwnd != 700 {
		t.Fatalf("cwnd after loss %d, want 700", f.s.Cwnd)
	}
	const C = 0.4004 // 41*10/1024
	wmax := 1000.0
	K := math.Cbrt((wmax - 700) / C) // 9.08 s
	epoch := f.s.Now
	var atK uint32
	for i := 0; i < 150; i++ {
		f.round()
		tt := (f.s.Now - epoch).Seconds()
		w := C*math.Pow(tt-K, 3) + wmax
		got := float64(f.s.Cwnd)
		// One round behind the target, plus integer rounding.
		if math.Abs(got-w) > 0.02*wmax {
			t.Fatalf("round %d, t=%.1fs: cwnd %v, W_cubic %.1f", i, tt, got, w)
		}
		if tt <= K {
			atK = f.s.Cwnd
		}
	}
	if atK < 990 || atK > 1001 {
		t.Errorf("cwnd at t=K %d, want the plateau at W_max 1000", atK)
	}
	if f.s.Cwnd < 1070 {
		t.Errorf("cwnd 6 s past K %d: the convex region did not take off (W_cubic 1086)", f.s.Cwnd)
	}
	if k := f.c.K(); math.Abs(k.Seconds()-K) > 0.01 {
		t.Errorf("K %v, want %.3fs", k, K)
	}
}

// RFC 9438 4.2: the target is at most 1.5*cwnd, i.e. cwnd grows by at most
// one segment per two acknowledged, however far behind the curve it is.
func TestCubic_RFC9438_4_2_GrowthAtMostHalfASegmentPerSegment(t *testing.T) {
	p := DefaultCubicParams()
	p.Hystart = false
	f := newCubicFlow(t, p, 100*time.Millisecond)
	f.s.Cwnd, f.s.Ssthresh = 100, 100
	f.round()
	f.loss() // W_max 100, cwnd 70
	f.round()
	f.s.Now += time.Minute // the epoch runs on: W_cubic is far above cwnd
	for i := 0; i < 5; i++ {
		before := f.s.Cwnd
		f.round()
		if f.s.Cwnd > before+before/2 {
			t.Fatalf("round %d: cwnd %d -> %d, more than 1.5x", i, before, f.s.Cwnd)
		}
		if f.s.Cwnd < before+before/2-1 {
			t.Fatalf("round %d: cwnd %d -> %d, want the 1.5x cap far below the curve", i, before, f.s.Cwnd)
		}
	}
}

// RFC 9438 4.3: in the Reno-friendly region (short RTT, small window) cwnd
// grows like W_est, alpha_cubic = 3(1-beta)/(1+beta) = 0.53 segments per
// RTT, where the cubic function alone would barely move.
func TestCubic_RFC9438_4_3_RenoFriendlyRegion(t *testing.T) {
	const rtt = 2 * time.Millisecond
	const rounds = 200 // 0.4 s, well before K (about 2.5 s)
	run := func(friendly bool) uint32 {
		p := DefaultCubicParams()
		p.Hystart = false
		p.TCPFriendliness = friendly
		f := newCubicFlow(t, p, rtt)
		f.s.Cwnd = 20
		f.round()
		f.s.Cwnd = 20
		f.loss() // W_max 20, cwnd 14
		for i := 0; i < rounds; i++ {
			f.round()
		}
		return f.s.Cwnd
	}
	with, without := run(true), run(false)
	alpha := 3 * (1 - 717.0/1024) / (1 + 717.0/1024)
	want := 14 + alpha*rounds // W_est
	if math.Abs(float64(with)-want) > 0.1*want {
		t.Errorf("tcp_friendliness on: cwnd %d after %d rounds, want W_est %.0f", with, rounds, want)
	}
	if without > 20 {
		t.Errorf("tcp_friendliness off: cwnd %d, want at most W_max 20 before K", without)
	}
}

// RFC 9438 4.8 (and Linux's reset on entering TCP_CA_Loss): after a
// timeout W_max is forgotten, so the next congestion avoidance starts at
// K = 0 with W_max = cwnd_epoch, growing at least 5% per round (Linux's
// cnt cap of 20 while W_max is unknown), here as Linux's corpus script
// cubic-rto-ss-ca-cwnd-bump expects: one segment per 20 acknowledged.
func TestCubic_RFC9438_4_8_TimeoutForgetsWmax(t *testing.T) {
	p := DefaultCubicParams()
	p.TCPFriendliness = false
	f := newCubicFlow(t, p, 100*time.Millisecond)
	f.round()
	f.s.Ssthresh = f.c.SSThresh(&f.s)
	f.c.OnEvent(&f.s, EventLoss)
	if f.c.Wmax() != 0 || f.c.DelayMin() != 0 {
		t.Fatalf("after RTO: W_max %d delay_min %v, want both forgotten", f.c.Wmax(), f.c.DelayMin())
	}
	f.s.Cwnd = f.s.Ssthresh // slow start back to ssthresh, not modelled
	start := f.s.Cwnd
	for i := 0; i < 20; i++ {
		f.ack(1, 100*time.Millisecond)
	}
	if f.s.Cwnd != start+1 {
		t.Errorf("cwnd %d after 20 segments from %d, want one segment of growth", f.s.Cwnd, start)
	}
	if f.c.K() != 0 {
		t.Errorf("K %v after a timeout, want 0", f.c.K())
	}
}

// RFC 9438 4.10: leaving slow start without a loss (HyStart), W_max is
// unknown: K = 0 and the curve starts at cwnd.
func TestCubic_RFC9438_4_10_ExitWithoutLoss(t *testing.T) {
	f := newCubicFlow(t, DefaultCubicParams(), 100*time.Millisecond)
	f.s.Cwnd = 40
	f.s.Ssthresh = 40 // as HyStart sets it
	f.round()
	if f.c.Wmax() != 0 || f.c.K() != 0 || f.c.originPoint != 40 {
		t.Errorf("W_max %d K %v origin %d, want 0, 0, cwnd_epoch 40", f.c.Wmax(), f.c.K(), f.c.originPoint)
	}
	if f.s.Cwnd < 42 {
		t.Errorf("cwnd %d after a round from 40, want at least 5%% growth", f.s.Cwnd)
	}
}

// RFC 9438 4.2 and 5.8: time with nothing sent does not count as growth
// time: an idle period moves the epoch forward (Linux CA_EVENT_TX_START).
func TestCubic_RFC9438_5_8_IdleDoesNotCount(t *testing.T) {
	run := func(idleEvent bool) uint32 {
		p := DefaultCubicParams()
		p.Hystart = false
		f := newCubicFlow(t, p, 100*time.Millisecond)
		f.s.Cwnd = 100
		f.round()
		f.loss()
		f.round()
		last := f.s.Now
		f.s.Now += 10 * time.Second // idle, nothing in flight
		if idleEvent {
			f.s.LastSend = last
			f.c.OnEvent(&f.s, EventTxStart)
		}
		before := f.s.Cwnd
		f.round()
		return f.s.Cwnd - before
	}
	if shifted, unshifted := run(true), run(false); shifted > 5 || unshifted < 20 {
		t.Errorf("growth in the round after 10 s idle: %d with the epoch moved (want <= 5), %d without (want the jump)", shifted, unshifted)
	}
}

// RFC 7661 and RFC 9438 4.2: a window the application does not fill does
// not grow.
func TestCubic_ApplicationLimitedDoesNotGrow(t *testing.T) {
	f := newCubicFlow(t, DefaultCubicParams(), 10*time.Millisecond)
	for i := 0; i < 10; i++ {
		f.s.CwndLimited = false
		f.c.PktsAcked(&f.s, 1, 10*time.Millisecond)
		f.c.CongAvoid(&f.s, 1)
	}
	if f.s.Cwnd != 10 {
		t.Errorf("cwnd %d, want 10: not cwnd-limited", f.s.Cwnd)
	}
}

// RFC 9438 4.9.2: undo of a spurious loss. Linux restores cwnd only (the
// larger of the current and the prior window); UndoRestoresState also
// brings back W_max, K, the epoch and W_est, if cwnd is still below the
// prior window.
func TestCubic_RFC9438_4_9_2_Undo(t *testing.T) {
	for _, restore := range []bool{false, true} {
		p := DefaultCubicParams()
		p.Hystart = false
		p.UndoRestoresState = restore
		f := newCubicFlow(t, p, 100*time.Millisecond)
		f.s.Cwnd = 100
		f.round()
		f.loss() // W_max 100
		for i := 0; i < 20; i++ {
			f.round()
		}
		before := f.c.cubicState
		cwnd := f.s.Cwnd
		f.loss() // spurious; fast convergence lowers W_max
		if f.c.Wmax() >= before.wMax {
			t.Fatalf("setup: W_max %d not lowered from %d", f.c.Wmax(), before.wMax)
		}
		got := f.c.UndoCwnd(&f.s)
		if got != cwnd {
			t.Errorf("restore=%v: UndoCwnd %d, want the prior cwnd %d", restore, got, cwnd)
		}
		if restore && f.c.cubicState != before {
			t.Errorf("restore=%v: state %+v, want %+v", restore, f.c.cubicState, before)
		}
		if !restore && (f.c.Wmax() == before.wMax || f.c.epoch) {
			t.Errorf("restore=%v: W_max %d epoch %v, want Linux's: the reduced W_max and a new epoch", restore, f.c.Wmax(), f.c.epoch)
		}
		// A window that regrew past the prior one is kept.
		f.s.Cwnd = cwnd + 5
		if got := f.c.UndoCwnd(&f.s); got != cwnd+5 {
			t.Errorf("restore=%v: UndoCwnd %d, want the larger current %d", restore, got, cwnd+5)
		}
	}
}

// Linux computes cnt at most once per tick and holds it for HZ/32 ticks if
// cwnd has not changed; either way the window reached is the same on a
// long round, whatever HZ.
func TestCubic_HZ(t *testing.T) {
	var res []uint32
	for _, hz := range []uint32{100, 250, 1000} {
		p := DefaultCubicParams()
		p.Hystart = false
		p.HZ = hz
		f := newCubicFlow(t, p, 100*time.Millisecond)
		f.s.Cwnd = 100
		f.round()
		f.loss()
		for i := 0; i < 30; i++ {
			f.round()
		}
		res = append(res, f.s.Cwnd)
	}
	for _, r := range res {
		if r+2 < res[2] || r > res[2]+2 {
			t.Errorf("cwnd after 3 s at HZ 100/250/1000: %v, want within 2 segments", res)
		}
	}
}

func TestCubic_SlowStartBelowSsthresh(t *testing.T) {
	p := DefaultCubicParams()
	p.Hystart = false
	f := newCubicFlow(t, p, 100*time.Millisecond)
	f.s.Ssthresh = 15
	f.ack(3, 100*time.Millisecond)
	f.ack(3, 100*time.Millisecond) // crosses ssthresh: 2 to slow start, 1 to CA
	if f.s.Cwnd != 15 {
		t.Errorf("cwnd %d, want 15 (slow start stops at ssthresh, RFC 5681 3.1)", f.s.Cwnd)
	}
}

func TestCubic_InitialSsthreshOnlyWithoutHystart(t *testing.T) {
	for _, hs := range []bool{true, false} {
		p := DefaultCubicParams()
		p.Hystart = hs
		p.InitialSsthresh = 30
		c := NewCubic(p)
		s := &Sender{Cwnd: 10, Ssthresh: InfiniteSSThresh}
		c.Init(s)
		want := uint32(30)
		if hs {
			want = InfiniteSSThresh
		}
		if s.Ssthresh != want {
			t.Errorf("hystart=%v: ssthresh %d, want %d", hs, s.Ssthresh, want)
		}
	}
}

func TestCubic_Cbrt(t *testing.T) {
	for a := uint64(0); a < 100000; a++ {
		x := cbrt64(a)
		if x*x*x > a || (x+1)*(x+1)*(x+1) <= a {
			t.Fatalf("cbrt64(%d) = %d", a, x)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		a := r.Uint64() >> (r.IntN(64))
		x := cbrt64(a)
		if x > 2642245 || x*x*x > a || (x+1 <= 2642245 && (x+1)*(x+1)*(x+1) <= a) {
			t.Fatalf("cbrt64(%d) = %d", a, x)
		}
	}
	if x := cbrt64(math.MaxUint64); x != 2642245 {
		t.Fatalf("cbrt64(max) = %d", x)
	}
}

func TestCubic_CubeTermSaturates(t *testing.T) {
	if got := cubeTerm(410, 1024); got != 410/1024 {
		// C*(1 s)^3 = 0.4 segments
		t.Errorf("cubeTerm(410, 1 s) = %d, want 0", got)
	}
	if got := cubeTerm(410, 10*1024); got != 400 {
		t.Errorf("cubeTerm(410, 10 s) = %d, want 400", got)
	}
	if got := cubeTerm(410, 1<<40); got != math.MaxUint32 {
		t.Errorf("cubeTerm overflow = %d, want saturation", got)
	}
}

func TestCubicParams_SetModuleParam(t *testing.T) {
	p := DefaultCubicParams()
	for _, tt := range []struct{ name, val string }{
		{"hystart_detect", "1"}, {"beta", "512"}, {"fast_convergence", "0"}, {"tcp_friendliness", "0"},
		{"hystart", "0"}, {"hystart_low_window", "8"}, {"hystart_ack_delta_us", "500"},
		{"initial_ssthresh", "100"}, {"bic_scale", "82"},
	} {
		if err := p.SetModuleParam(tt.name, tt.val); err != nil {
			t.Errorf("%s=%s: %v", tt.name, tt.val, err)
		}
	}
	want := CubicParams{Beta: 512, InitialSsthresh: 100, BicScale: 82, HystartDetect: 1,
		HystartLowWindow: 8, HystartAckDelta: 500 * time.Microsecond, HZ: 1000}
	if p != want {
		t.Errorf("params %+v, want %+v", p, want)
	}
	for _, tt := range []struct{ name, val, err string }{
		{"beta", "1024", "out of range"}, {"beta", "0", "out of range"}, {"hystart_detect", "4", "only bits"},
		{"bic_scale", "x", "bad value"}, {"nosuch", "1", "no parameter"}, {"beta", "-1", "out of range"},
	} {
		q := p
		err := q.SetModuleParam(tt.name, tt.val)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s=%s: error %v, want %q", tt.name, tt.val, err, tt.err)
		}
		if q != p {
			t.Errorf("%s=%s: a rejected value changed the parameters", tt.name, tt.val)
		}
	}
}

func TestCubic_InvalidParamsFallBackToDefaults(t *testing.T) {
	c := NewCubic(CubicParams{})
	if c.Params() != DefaultCubicParams() {
		t.Errorf("zero params kept: %+v", c.Params())
	}
}

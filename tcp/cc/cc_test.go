package cc

import (
	"slices"
	"strings"
	"testing"
	"time"
)

type fakeAlg struct{ Reno }

func (fakeAlg) Name() string { return "fake" }

func TestRegistry_NewReturnsFreshInstances(t *testing.T) {
	a, err := New("reno")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New("reno")
	if a.Name() != "reno" {
		t.Fatalf("Name %q", a.Name())
	}
	if a == b {
		t.Fatal("New returned the same instance twice: per-connection state would be shared")
	}
}

func TestRegistry_UnknownListsAvailable(t *testing.T) {
	_, err := New("bogus")
	if err == nil {
		t.Fatal("no error for an unknown algorithm")
	}
	for _, want := range []string{`"bogus"`, "reno"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestRegistry_DuplicatePanics(t *testing.T) {
	Register("test-dup", func() Algorithm { return new(fakeAlg) })
	defer func() {
		if recover() == nil {
			t.Fatal("second Register of one name did not panic")
		}
	}()
	Register("test-dup", func() Algorithm { return new(fakeAlg) })
}

func TestRegistry_Available(t *testing.T) {
	names := Available()
	if !slices.Contains(names, "reno") || !slices.IsSorted(names) {
		t.Fatalf("Available() = %v, want a sorted list containing reno", names)
	}
}

func TestSlowStart_RFC5681_3_1_StopsAtSSThresh(t *testing.T) {
	tests := []struct {
		cwnd, ssthresh, clamp, acked uint32
		wantCwnd, wantLeft           uint32
	}{
		{cwnd: 10, ssthresh: InfiniteSSThresh, acked: 2, wantCwnd: 12},
		{cwnd: 10, ssthresh: 11, acked: 3, wantCwnd: 11, wantLeft: 2},
		{cwnd: 10, ssthresh: 10, acked: 3, wantCwnd: 10, wantLeft: 3},
		{cwnd: 12, ssthresh: 10, acked: 1, wantCwnd: 12, wantLeft: 1},
		{cwnd: 10, ssthresh: InfiniteSSThresh, clamp: 11, acked: 5, wantCwnd: 11},
	}
	for _, tt := range tests {
		s := &Sender{Cwnd: tt.cwnd, Ssthresh: tt.ssthresh, CwndClamp: tt.clamp}
		left := SlowStart(s, tt.acked)
		if s.Cwnd != tt.wantCwnd || left != tt.wantLeft {
			t.Errorf("%+v: cwnd %d left %d, want %d %d", tt, s.Cwnd, left, tt.wantCwnd, tt.wantLeft)
		}
	}
}

func TestCongAvoidAI_RFC5681_3_1_OnePerWindow(t *testing.T) {
	s := &Sender{Cwnd: 10, Ssthresh: 5}
	for i := 0; i < 9; i++ {
		CongAvoidAI(s, s.Cwnd, 1)
	}
	if s.Cwnd != 10 || s.CwndCnt != 9 {
		t.Fatalf("after 9 of 10: cwnd %d cnt %d", s.Cwnd, s.CwndCnt)
	}
	CongAvoidAI(s, s.Cwnd, 1)
	if s.Cwnd != 11 || s.CwndCnt != 0 {
		t.Fatalf("after 10 of 10: cwnd %d cnt %d", s.Cwnd, s.CwndCnt)
	}
	// A stretch ACK covering more than two windows grows by two.
	CongAvoidAI(s, s.Cwnd, 25)
	if s.Cwnd != 13 || s.CwndCnt != 3 {
		t.Fatalf("stretch ACK: cwnd %d cnt %d, want 13 3", s.Cwnd, s.CwndCnt)
	}
	// w == 0 is treated as 1 rather than dividing by zero.
	CongAvoidAI(s, 0, 2)
	if s.Cwnd != 18 {
		t.Fatalf("w=0: cwnd %d, want 18", s.Cwnd)
	}
	// The clamp holds.
	s = &Sender{Cwnd: 10, CwndClamp: 10}
	CongAvoidAI(s, 10, 100)
	if s.Cwnd != 10 {
		t.Fatalf("clamped cwnd grew to %d", s.Cwnd)
	}
}

func newReno(t *testing.T, cwnd uint32) (Algorithm, *Sender) {
	t.Helper()
	a, err := New("reno")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{Cwnd: cwnd, Ssthresh: InfiniteSSThresh, MSS: 1448, CwndLimited: true}
	a.Init(s)
	return a, s
}

// RFC 5681 3.1: during slow start cwnd grows by (up to) one segment per
// segment acknowledged, i.e. doubles every RTT.
func TestReno_RFC5681_3_1_SlowStart(t *testing.T) {
	a, s := newReno(t, 10)
	for rtt := 0; rtt < 3; rtt++ {
		w := s.Cwnd
		for i := uint32(0); i < w/2; i++ { // delayed ACKs: two segments each
			a.PktsAcked(s, 2, 50*time.Millisecond)
			a.CongAvoid(s, 2)
		}
		if s.Cwnd != 2*w {
			t.Fatalf("round %d: cwnd %d, want %d", rtt, s.Cwnd, 2*w)
		}
	}
}

// RFC 5681 3.1: slow start ends at ssthresh; the rest of an ACK that crosses
// it counts towards congestion avoidance.
func TestReno_RFC5681_3_1_SlowStartToCongestionAvoidance(t *testing.T) {
	a, s := newReno(t, 10)
	s.Ssthresh = 12
	a.CongAvoid(s, 4) // 2 in slow start, 2 left over
	if s.Cwnd != 12 || s.CwndCnt != 2 {
		t.Fatalf("cwnd %d cnt %d, want 12 2", s.Cwnd, s.CwndCnt)
	}
}

// RFC 5681 3.1: in congestion avoidance cwnd grows by one segment per RTT,
// i.e. per cwnd's worth of acknowledged segments.
func TestReno_RFC5681_3_1_CongestionAvoidance(t *testing.T) {
	a, s := newReno(t, 20)
	s.Ssthresh = 20
	for rtt := 0; rtt < 5; rtt++ {
		w := s.Cwnd
		for i := uint32(0); i < w; i++ {
			a.CongAvoid(s, 1)
		}
		if s.Cwnd != w+1 {
			t.Fatalf("round %d: cwnd %d, want %d", rtt, s.Cwnd, w+1)
		}
	}
}

// RFC 7661: a window the application is not filling must not grow.
func TestReno_RFC7661_NoGrowthWhenNotCwndLimited(t *testing.T) {
	a, s := newReno(t, 10)
	s.CwndLimited = false
	a.CongAvoid(s, 10)
	s.Ssthresh = 5
	a.CongAvoid(s, 100)
	if s.Cwnd != 10 || s.CwndCnt != 0 {
		t.Fatalf("cwnd %d cnt %d, want 10 0", s.Cwnd, s.CwndCnt)
	}
}

// RFC 5681 3.1 equation (4): ssthresh = max(FlightSize/2, 2*SMSS), here with
// cwnd as Linux does.
func TestReno_RFC5681_3_1_SSThreshOnLoss(t *testing.T) {
	for _, tt := range []struct{ cwnd, want uint32 }{
		{100, 50}, {101, 50}, {10, 5}, {5, 2}, {4, 2}, {3, 2}, {1, 2},
	} {
		a, s := newReno(t, tt.cwnd)
		s.InFlight = tt.cwnd
		if got := a.SSThresh(s); got != tt.want {
			t.Errorf("cwnd %d: ssthresh %d, want %d", tt.cwnd, got, tt.want)
		}
	}
}

// Undo after a spurious loss indication restores the window from before the
// loss, or keeps the current one if it has grown past it.
func TestReno_UndoRestoresPriorCwnd(t *testing.T) {
	a, s := newReno(t, 40)
	s.Ssthresh = a.SSThresh(s)
	s.Cwnd = s.Ssthresh // what the engine does at the end of recovery
	a.OnEvent(s, EventRecoveryStart)
	if got := a.UndoCwnd(s); got != 40 {
		t.Fatalf("UndoCwnd = %d, want 40", got)
	}
	s.Cwnd = 50
	if got := a.UndoCwnd(s); got != 50 {
		t.Fatalf("UndoCwnd = %d, want 50 (current cwnd is larger)", got)
	}
}

func TestEvent_String(t *testing.T) {
	for ev, want := range map[Event]string{EventLoss: "loss", EventRecoveryStart: "recovery-start", EventRecoveryEnd: "recovery-end", EventTxStart: "tx-start", EventECE: "ece", 99: "Event(99)"} {
		if ev.String() != want {
			t.Errorf("%d: %q, want %q", ev, ev.String(), want)
		}
	}
}

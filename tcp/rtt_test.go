package tcp

import (
	"testing"
	"time"
)

const rttMs = time.Millisecond

func newRTT() *rttEstimator {
	cfg := DefaultConfig()
	var r rttEstimator
	r.init(&cfg)
	return &r
}

// RFC 6298 2.1: before any measurement, RTO is the initial value (1 s).
func TestRTO_RFC6298_2_1_Initial(t *testing.T) {
	r := newRTT()
	if r.rto() != time.Second || r.hasSample() || r.srtt() != 0 || r.rttvar() != 0 || r.minRTT() != 0 {
		t.Fatalf("fresh: rto %v has %v srtt %v rttvar %v min %v", r.rto(), r.hasSample(), r.srtt(), r.rttvar(), r.minRTT())
	}
	cfg := DefaultConfig()
	cfg.RTOInitial = 3 * time.Second
	r.init(&cfg)
	if r.rto() != 3*time.Second {
		t.Fatalf("rto %v, want the configured 3s", r.rto())
	}
}

// RFC 6298 2.2: the first measurement R sets SRTT = R, RTTVAR = R/2 and
// RTO = SRTT + max(G, 4*RTTVAR), here with RTOMin as the floor of the
// variance term.
func TestRTO_RFC6298_2_2_FirstSample(t *testing.T) {
	tests := []struct {
		r, wantRTO time.Duration
	}{
		{10 * rttMs, 210 * rttMs},             // 4*RTTVAR = 20 rttMs < RTOMin
		{100 * rttMs, 300 * rttMs},            // 4*RTTVAR = 200 rttMs == RTOMin
		{300 * rttMs, 900 * rttMs},            // 4*RTTVAR = 600 rttMs
		{50 * time.Second, 120 * time.Second}, // RFC 6298 2.5 upper bound
	}
	for _, tt := range tests {
		r := newRTT()
		r.sample(tt.r)
		if r.srtt() != tt.r || r.rttvar() != tt.r/2 || r.rto() != tt.wantRTO || !r.hasSample() || r.minRTT() != tt.r {
			t.Errorf("R=%v: srtt %v rttvar %v rto %v min %v; want %v %v %v", tt.r, r.srtt(), r.rttvar(), r.rto(), r.minRTT(), tt.r, tt.r/2, tt.wantRTO)
		}
	}
}

// RFC 6298 2.3: later measurements update RTTVAR (beta = 1/4, with the old
// SRTT) and then SRTT (alpha = 1/8).
func TestRTO_RFC6298_2_3_SubsequentSamples(t *testing.T) {
	r := newRTT()
	r.sample(100 * rttMs) // SRTT 100, RTTVAR 50
	r.sample(200 * rttMs)
	// RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
	wantVar, wantSRTT := 62500*time.Microsecond, 112500*time.Microsecond
	if r.rttvar() != wantVar || r.srtt() != wantSRTT {
		t.Fatalf("rttvar %v srtt %v, want %v %v", r.rttvar(), r.srtt(), wantVar, wantSRTT)
	}
	if want := wantSRTT + 4*wantVar; r.rto() != want {
		t.Fatalf("rto %v, want %v", r.rto(), want)
	}
	r.sample(50 * rttMs)
	if r.minRTT() != 50*rttMs {
		t.Fatalf("minRTT %v, want 50ms", r.minRTT())
	}
}

// RFC 6298 2.3 converges: a steady RTT drives RTTVAR towards zero, and the
// RTO to SRTT + RTOMin (Linux's floor on the variance term).
func TestRTO_RFC6298_2_3_SteadyPathConvergesToSRTTPlusRTOMin(t *testing.T) {
	r := newRTT()
	for i := 0; i < 200; i++ {
		r.sample(10 * rttMs)
	}
	if r.srtt() != 10*rttMs || r.rto() != 210*rttMs {
		t.Fatalf("srtt %v rto %v, want 10ms 210ms", r.srtt(), r.rto())
	}
}

// RFC 6298 2.4 (with Linux's 200 rttMs instead of 1 s) and 2.5: the RTO stays
// within [RTOMin, RTOMax].
func TestRTO_RFC6298_2_4_Bounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RTOMin, cfg.RTOMax = 300*rttMs, 2*time.Second
	var r rttEstimator
	r.init(&cfg)
	r.sample(time.Microsecond)
	if want := 300*rttMs + time.Microsecond; r.rto() != want {
		t.Fatalf("tiny RTT: rto %v, want SRTT + RTOMin = %v", r.rto(), want)
	}
	r.sample(10 * time.Second)
	if r.rto() != 2*time.Second {
		t.Fatalf("huge RTT: rto %v, want RTOMax 2s", r.rto())
	}
}

// A zero or negative measurement counts as 1 µs.
func TestRTT_NonPositiveSampleIsOneMicrosecond(t *testing.T) {
	for _, m := range []time.Duration{0, -5 * rttMs} {
		r := newRTT()
		r.sample(m)
		if r.srtt() != time.Microsecond || r.minRTT() != time.Microsecond || !r.hasSample() {
			t.Errorf("sample(%v): srtt %v min %v", m, r.srtt(), r.minRTT())
		}
	}
}

func TestRTT_SampleDoesNotAllocate(t *testing.T) {
	r := newRTT()
	if a := testing.AllocsPerRun(100, func() { r.sample(42 * rttMs) }); a != 0 {
		t.Fatalf("sample allocates %v times", a)
	}
}

package tcp

import "time"

// rttEstimator computes the retransmission timeout from round-trip-time
// measurements as RFC 6298 specifies, with Linux's choice of floor: the RFC
// makes the RTO at least 1 s (2.4, a SHOULD) and adds max(G, 4*RTTVAR) to
// SRTT (2.2, 2.3), where G is the clock granularity; Linux instead floors the
// variance term at TCP_RTO_MIN (200 ms): RTO = SRTT + max(4*RTTVAR, RTOMin).
// The floor thus lies above the path's RTT rather than at a fixed value, so a
// 10 ms path gets an RTO of about 210 ms and a 300 ms path about 500 ms, while
// a spurious timeout caused by delayed ACKs (up to 200 ms) stays unlikely.
//
// Callers apply Karn's rule (RFC 6298 3): no samples from retransmitted
// segments unless timestamps disambiguate them. Backing the timer off after
// it fires (RFC 6298 5.5) is the caller's business too; rto is the value
// before backoff.
type rttEstimator struct {
	smoothed time.Duration // SRTT
	variance time.Duration // RTTVAR
	min      time.Duration // smallest sample seen
	cur      time.Duration // RTO before backoff
	has      bool          // at least one sample
	lo, hi   time.Duration // RTOMin, RTOMax
}

// init resets the estimator: no sample yet and RTO = cfg.RTOInitial (RFC
// 6298 2.1: "until a RTT measurement has been made ... RTO <- 1 second";
// Linux TCP_TIMEOUT_INIT is 1 s too).
func (r *rttEstimator) init(cfg *Config) {
	*r = rttEstimator{
		cur: cfg.RTOInitial,
		lo:  cfg.RTOMin,
		hi:  cfg.RTOMax,
	}
}

// sample feeds one RTT measurement m. The first sets SRTT = m and RTTVAR =
// m/2 (RFC 6298 2.2); later ones update RTTVAR and then SRTT with gains
// beta = 1/4 and alpha = 1/8, RTTVAR using the SRTT from before this sample
// (RFC 6298 2.3). A measurement of zero or less (a clock too coarse, or a
// timestamp echo from the same tick) counts as 1 µs, so that SRTT stays
// positive and "has a sample" is unambiguous.
func (r *rttEstimator) sample(m time.Duration) {
	if m <= 0 {
		m = time.Microsecond
	}
	if !r.has || r.min > m {
		r.min = m
	}
	if !r.has {
		r.smoothed = m
		r.variance = m / 2
		r.has = true
	} else {
		diff := r.smoothed - m
		if diff < 0 {
			diff = -diff
		}
		r.variance += (diff - r.variance) / 4 // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|
		r.smoothed += (m - r.smoothed) / 8    // SRTT = 7/8 SRTT + 1/8 R'
	}
	// RFC 6298 2.2/2.3 RTO = SRTT + max(G, K*RTTVAR) with K = 4, with
	// Linux's RTOMin in place of G; then the bounds of 2.4 and 2.5.
	v := 4 * r.variance
	if v < r.lo {
		v = r.lo
	}
	r.cur = clampDuration(r.smoothed+v, r.lo, r.hi)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}

// rto is the current retransmission timeout before backoff, within
// [RTOMin, RTOMax] once a sample was taken (RFC 6298 2.4, 2.5), and
// RTOInitial before.
func (r *rttEstimator) rto() time.Duration { return r.cur }

// srtt is the smoothed RTT, 0 before the first sample.
func (r *rttEstimator) srtt() time.Duration { return r.smoothed }

// rttvar is the RTT variation, 0 before the first sample.
func (r *rttEstimator) rttvar() time.Duration { return r.variance }

// minRTT is the smallest RTT measured over the connection's life, 0 before
// the first sample. (Linux keeps a windowed minimum over tcp_min_rtt_wlen,
// 300 s; samples carry no time here, so this is the plain minimum.)
func (r *rttEstimator) minRTT() time.Duration { return r.min }

// hasSample reports whether any RTT was measured yet.
func (r *rttEstimator) hasSample() bool { return r.has }

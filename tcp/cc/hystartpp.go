package cc

import (
	"math"
	"time"
)

// HyStart++ (RFC 9406), selected by CubicParams.HystartPlusPlus: slow start
// that watches the minimum RTT round by round, leaves for Conservative Slow
// Start (CSS) when it rises, goes back to slow start if the rise proves
// spurious, and enters congestion avoidance after CSS_ROUNDS rounds of CSS.
// As RFC 9406 4.3 recommends, it runs only in the initial slow start (while
// ssthresh is still "arbitrarily high"); later slow starts are RFC 5681's.

// RFC 9406 4.3's recommended constants.
const (
	hppMinRTTThresh  = 4 * time.Millisecond  // MIN_RTT_THRESH
	hppMaxRTTThresh  = 16 * time.Millisecond // MAX_RTT_THRESH
	hppMinRTTDivisor = 8                     // MIN_RTT_DIVISOR
	hppNRTTSample    = 8                     // N_RTT_SAMPLE
	hppCSSGrowthDiv  = 4                     // CSS_GROWTH_DIVISOR
	hppCSSRounds     = 5                     // CSS_ROUNDS
	hppL             = 8                     // L, in segments: synfin does not pace
	hppInfinity      = time.Duration(math.MaxInt64)
)

type hystartPP struct {
	active             bool // the initial slow start has not ended
	started            bool // a round has been started
	windowEnd          uint32
	lastRoundMinRTT    time.Duration
	currentRoundMinRTT time.Duration
	rttSampleCount     uint32
	inCSS              bool
	cssBaselineMinRTT  time.Duration
	cssRounds          uint32 // complete rounds spent in CSS
	cssPartial         bool   // the round CSS began in has not ended
	cssCredit          uint32 // segments acked in CSS not yet turned into growth
}

// init resets HyStart++ for a new connection (RFC 9406 4.2: both round
// minima start at infinity).
func (h *hystartPP) init(s *Sender) {
	*h = hystartPP{
		active:             true,
		lastRoundMinRTT:    hppInfinity,
		currentRoundMinRTT: hppInfinity,
		cssBaselineMinRTT:  hppInfinity,
	}
}

// running reports whether HyStart++ governs this slow start: it is selected,
// the connection has not left its initial slow start, and ssthresh is still
// at its initial value (RFC 9406 4.3).
func (h *hystartPP) running(c *Cubic, s *Sender) bool {
	if h == nil || !c.p.Hystart || !c.p.HystartPlusPlus || !h.active {
		return false
	}
	if s.Ssthresh != InfiniteSSThresh {
		h.active = false
		return false
	}
	return true
}

// stop ends HyStart++ for the connection (after a loss or a timeout).
func (h *hystartPP) stop() {
	if h != nil {
		h.active = false
	}
}

// onAck does RFC 9406 4.2's per-ACK work: round tracking, the minimum RTT
// of the round, and the transitions between slow start, CSS and congestion
// avoidance (the last by setting ssthresh to cwnd).
func (h *hystartPP) onAck(s *Sender, rtt time.Duration) {
	// "When windowEnd is ACKed, the current round ends and windowEnd is set
	// to SND.NXT."
	if !h.started || !seqAfter(h.windowEnd, s.SndUna) {
		if h.started && h.inCSS {
			if h.cssPartial {
				h.cssPartial = false
			} else {
				h.cssRounds++
			}
			if h.cssRounds >= hppCSSRounds {
				// "If CSS_ROUNDS rounds are complete, enter congestion
				// avoidance by setting the ssthresh to the current cwnd."
				s.Ssthresh = max(s.Cwnd, 2)
				h.active = false
				return
			}
		}
		h.started = true
		h.windowEnd = s.SndNxt
		h.lastRoundMinRTT = h.currentRoundMinRTT
		h.currentRoundMinRTT = hppInfinity
		h.rttSampleCount = 0
	}
	if rtt < 0 {
		return
	}
	h.currentRoundMinRTT = min(h.currentRoundMinRTT, rtt)
	h.rttSampleCount++
	if h.rttSampleCount < hppNRTTSample {
		return
	}
	if !h.inCSS {
		if h.currentRoundMinRTT == hppInfinity || h.lastRoundMinRTT == hppInfinity {
			return
		}
		thresh := max(hppMinRTTThresh, min(h.lastRoundMinRTT/hppMinRTTDivisor, hppMaxRTTThresh))
		if h.currentRoundMinRTT >= h.lastRoundMinRTT+thresh {
			// Delay increase: leave slow start for CSS.
			h.cssBaselineMinRTT = h.currentRoundMinRTT
			h.inCSS = true
			h.cssRounds = 0
			h.cssPartial = true
			h.cssCredit = 0
		}
		return
	}
	if h.currentRoundMinRTT < h.cssBaselineMinRTT {
		// The delay fell back: the exit was spurious, resume slow start.
		h.cssBaselineMinRTT = hppInfinity
		h.inCSS = false
	}
}

// slowStart grows cwnd for an ACK of acked segments in HyStart++'s slow
// start, min(N, L*SMSS) per ACK, or in CSS, a CSS_GROWTH_DIVISOR-th of that
// (RFC 9406 4.2). It returns the segments left for congestion avoidance if
// cwnd reached ssthresh.
func (h *hystartPP) slowStart(s *Sender, acked uint32) uint32 {
	inc := min(acked, hppL)
	if h.inCSS {
		h.cssCredit += inc
		inc = h.cssCredit / hppCSSGrowthDiv
		h.cssCredit -= inc * hppCSSGrowthDiv
	}
	room := uint32(0)
	if s.Ssthresh > s.Cwnd {
		room = s.Ssthresh - s.Cwnd
	}
	if inc >= room {
		s.Cwnd += room
		clampCwnd(s)
		return acked - min(acked, room)
	}
	s.Cwnd += inc
	clampCwnd(s)
	return 0
}

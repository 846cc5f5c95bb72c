package cc

import "time"

// Linux's HyStart (Ha and Rhee, "Taming the elephants: New TCP slow start",
// 2011), the slow-start exit tcp_cubic uses by default, as Linux 6.x has
// it. RFC 9438 4.10 names it as the experimental predecessor of HyStart++.
//
// Once cwnd reaches hystart_low_window, each round of slow start (from the
// ACK that passes the SND.NXT recorded at the round's start) is watched by
// two detectors; either sets ssthresh to cwnd, which ends slow start:
//
//   - ACK train: ACKs arriving no more than hystart_ack_delta apart are one
//     train; a train lasting longer than half the minimum delay (the whole
//     minimum delay when the sender paces) means the window already spans
//     the path's bandwidth-delay product.
//   - Delay: the smallest of the first eight RTT samples of a round, and of
//     every later one, exceeding the minimum delay by an eighth of it
//     (clamped to 4..16 ms) means a queue is building.
//
// The per-round minimum takes in every sample, not only the first eight,
// as Linux does since 2020 ("tcp_cubic: fix spurious HYSTART_DELAY exit
// upon drop in min RTT"): otherwise a fall of the minimum delay late in a
// round compares an old, larger minimum with the new one and exits.
type hystart struct {
	roundStart uint32 // the round's first ACK, microsecond clock
	lastAck    uint32 // the last ACK of the current train, microsecond clock
	endSeq     uint32 // the round ends when SND.UNA passes this SND.NXT
	currRTT    uint32 // the round's smallest RTT sample, microseconds
	sampleCnt  uint8  // samples counted towards the first delay check
	found      bool   // slow start was ended by HyStart
	started    bool   // a round has been started
}

// HyStart's constants (Linux tcp_cubic.c).
const (
	hystartMinSamples = 8                       // HYSTART_MIN_SAMPLES
	hystartDelayMin   = 4 * time.Millisecond    // HYSTART_DELAY_MIN
	hystartDelayMax   = 16 * time.Millisecond   // HYSTART_DELAY_MAX
	hystartGSOMaxSize = 65536                   // sk_gso_max_size without BIG TCP
	hystartMaxAckGap  = 1000 * time.Microsecond // hystart_ack_delay's cap (1 ms)
)

// usClock is the microsecond clock HyStart times ACKs with (Linux
// tcp_mstamp, truncated to 32 bits).
func usClock(now time.Duration) uint32 { return uint32(now / time.Microsecond) }

// reset starts a round at this ACK (Linux bictcp_hystart_reset).
func (h *hystart) reset(s *Sender) {
	now := usClock(s.Now)
	h.started = true
	h.roundStart, h.lastAck = now, now
	h.endSeq = s.SndNxt
	h.currRTT = ^uint32(0)
	h.sampleCnt = 0
}

// hystartAckDelay is Linux's allowance for TSO/GRO aggregation in the ACK
// train threshold: the time to send four 64 KiB aggregates at the pacing
// rate, at most 1 ms. The pacing rate is Linux's default: cwnd per SRTT,
// doubled in slow start (tcp_pacing_ss_ratio 200) and 1.2 times in
// congestion avoidance (tcp_pacing_ca_ratio 120).
func hystartAckDelay(s *Sender) uint32 {
	if s.SRTT <= 0 || s.MSS == 0 {
		return 0 // no rate yet: unlimited, no delay
	}
	ratio := uint64(120)
	if s.Cwnd < s.Ssthresh/2 {
		ratio = 200
	}
	segs := uint64(max(s.Cwnd, s.InFlight))
	// bytes per second = mss * segs * ratio/100 / srtt
	rate := uint64(s.MSS) * segs * ratio * uint64(time.Second/time.Microsecond) / 100 / max(uint64(s.SRTT/time.Microsecond), 1)
	if rate == 0 {
		return uint32(hystartMaxAckGap / time.Microsecond)
	}
	d := uint64(hystartGSOMaxSize) * 4 * uint64(time.Second/time.Microsecond) / rate
	return uint32(min(d, uint64(hystartMaxAckGap/time.Microsecond)))
}

// hystartUpdate runs HyStart's detectors on an ACK's RTT sample, delay in
// microseconds (Linux hystart_update). Ending slow start sets ssthresh to
// cwnd.
func (c *Cubic) hystartUpdate(s *Sender, delay uint32) {
	h := &c.hs
	if !h.started || seqAfter(s.SndUna, h.endSeq) {
		h.reset(s)
	}
	// Rounds are tracked from the first ACK; the detectors wait for
	// hystart_low_window.
	if s.Cwnd < c.p.HystartLowWindow {
		return
	}
	if c.p.HystartDetect&HystartAckTrain != 0 {
		now := usClock(s.Now)
		if int32(now-h.lastAck) <= int32(c.p.HystartAckDelta/time.Microsecond) {
			h.lastAck = now
			// synfin does not pace, so the threshold is half the
			// minimum delay (Linux: when sk_pacing_status is none).
			threshold := (c.delayMin + hystartAckDelay(s)) >> 1
			if int32(now-h.roundStart) > int32(threshold) {
				h.found = true
				s.Ssthresh = s.Cwnd
			}
		}
	}
	if c.p.HystartDetect&HystartDelay != 0 {
		if h.currRTT > delay {
			h.currRTT = delay
		}
		if h.sampleCnt < hystartMinSamples {
			h.sampleCnt++
		} else {
			eighth := time.Duration(c.delayMin>>3) * time.Microsecond
			thresh := min(max(eighth, hystartDelayMin), hystartDelayMax)
			if uint64(h.currRTT) > uint64(c.delayMin)+uint64(thresh/time.Microsecond) {
				h.found = true
				s.Ssthresh = s.Cwnd
			}
		}
	}
}

// HystartFound reports whether Linux's HyStart has ended slow start.
func (c *Cubic) HystartFound() bool { return c.hs.found }

// seqAfter is "a after b" in sequence space (RFC 9293 3.4).
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

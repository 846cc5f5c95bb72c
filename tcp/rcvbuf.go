package tcp

import "time"

// Receive-buffer auto-tuning, as Linux does it with tcp_moderate_rcvbuf on
// (its default; Config.ModerateRcvbuf).
//
// A receiver whose window is smaller than the path's bandwidth-delay product
// caps the sender at one window per round trip. Linux therefore lets a
// connection whose user did not set SO_RCVBUF grow its receive buffer from
// tcp_rmem[1] towards tcp_rmem[2] as the application shows it reads fast
// enough to use a larger window:
//
//  1. The receiver estimates the round-trip time on its own, with no data
//     of its own to time (tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts):
//     from the timestamp the peer echoes on a full-sized segment, now minus
//     TSecr (smoothed, gain 1/8); and, timestamps or not, from how long the
//     peer takes to send one window's worth of data (the window last
//     advertised, counted from RCV.NXT when the measurement starts), which
//     overestimates the RTT, so only smaller samples are taken.
//  2. Each time the application reads, at most once per estimated RTT, it
//     counts the bytes the application consumed since the last measurement
//     (tcp_rcv_space_adjust). When that beats the previous count, the buffer
//     grows to hold twice it (to ride out a loss) plus 16 segments, plus
//     twice the growth over the previous count (the sender may be in slow
//     start and double again), in buffer space (tcp_space_from_win), capped
//     at tcp_rmem[2]. The offered window then follows as data arrives
//     (growRcvSsthresh, tcp_grow_window), up to the window of the new
//     buffer (the window clamp).
//
// The buffer never shrinks, and its backing array still grows only as data
// is held (buffer.go), so an idle or slow connection holds no more memory
// than before.

// rcvTuning is the receiver's state for auto-tuning: the receiver-side RTT
// estimate (Linux's rcv_rtt_est) and the per-RTT measurement of what the
// application consumed (rcvq_space).
type rcvTuning struct {
	rttTime   Time   // when the per-window measurement started
	spaceTime Time   // when the current consumption measurement started
	rtt8      uint32 // receiver RTT estimate in µs, times 8 (0: none yet)
	rttSeq    uint32 // the per-window measurement ends when RCV.NXT reaches it
	lastEcr   uint32 // TSecr of the last timestamp sample
	space     uint32 // bytes consumed in the last measured RTT (tcpi_rcv_space)
	spaceSeq  uint32 // the stream position the application had read to
	rttArmed  bool   // a per-window measurement is running
	// locked: the user set SO_RCVBUF (Linux's SOCK_RCVBUF_LOCK), so the
	// buffer is not tuned.
	locked bool
}

// readSeq is the sequence number of the next byte the application will
// read (Linux's copied_seq).
func (t *TCB) readSeq() uint32 {
	s := t.rcvNxt - uint32(t.rcvBuf.readable())
	if t.rcvFin {
		s--
	}
	return s
}

// initRcvSpace starts the measurement of what the application consumes
// (Linux's tcp_init_buffer_space does it when the connection is
// established; here it happens when the first data arrives, before which
// there is nothing to consume): the first count to beat is the window
// offered, at most ten segments. space is never 0 afterwards.
func (t *TCB) initRcvSpace() {
	at := &t.tuning
	w := t.rcvSsthresh
	if seqGT(t.rcvAdv, t.lastAckSent) {
		w = min(w, t.rcvAdv-t.lastAckSent)
	}
	at.space = max(min(w, uint32(t.cfg.InitCwnd)*uint32(t.advMSS)), 1)
	at.spaceSeq = t.readSeq()
	at.spaceTime = t.now
}

// rcvRTTUpdate folds a sample into the receiver's RTT estimate
// (tcp_rcv_rtt_update). A per-window sample (winDep) can only lower it.
func (t *TCB) rcvRTTUpdate(sample time.Duration, winDep bool) {
	us := uint64(sample / time.Microsecond)
	if us == 0 {
		us = 1
	}
	m := min(us<<3, 1<<31)
	at := &t.tuning
	old := uint64(at.rtt8)
	switch {
	case old == 0 || m < old:
		at.rtt8 = uint32(m)
	case winDep:
	default:
		at.rtt8 = uint32(min(old-old>>3+m>>3, 1<<31))
	}
}

// rcvRTTMeasure takes the receiver's RTT samples from a segment that
// carried data; rcvNxt is RCV.NXT before the segment was processed, so
// that only in-order data counts.
func (t *TCB) rcvRTTMeasure(seg *Segment, rcvNxt uint32) {
	if t.rcvNxt == rcvNxt {
		return
	}
	at := &t.tuning
	if at.space == 0 {
		t.initRcvSpace()
	}
	// Per window (tcp_rcv_rtt_measure): the time the peer took to send a
	// window's worth (the window we last advertised) past RCV.NXT.
	if !at.rttArmed || !seqLT(t.rcvNxt, at.rttSeq) {
		if at.rttArmed {
			t.rcvRTTUpdate(t.now-at.rttTime, true)
		}
		wnd := uint32(0)
		if seqGT(t.rcvAdv, t.lastAckSent) {
			wnd = t.rcvAdv - t.lastAckSent
		}
		at.rttSeq, at.rttTime, at.rttArmed = t.rcvNxt+wnd, t.now, true
	}
	// Timestamps (tcp_rcv_rtt_measure_ts): one sample per echoed value,
	// from full-sized segments only (a short one may have waited for the
	// application), and none below the clock's 1 ms resolution.
	o := &seg.Options
	if t.tsOK && o.HasTimestamps && o.TSEcr != 0 && o.TSEcr != at.lastEcr {
		at.lastEcr = o.TSEcr
		if len(seg.Payload) >= t.rcvMSS {
			if d := int32(t.tsNow() - o.TSEcr); d > 0 {
				t.rcvRTTUpdate(time.Duration(d)*time.Millisecond, false)
			}
		}
	}
}

// rcvSpaceAdjust is tcp_rcv_space_adjust, called after the application
// read: once per receiver RTT, grow the buffer if the application consumed
// more than in the previous RTT.
func (t *TCB) rcvSpaceAdjust() {
	at := &t.tuning
	if at.space == 0 {
		// Data that came before any measurement (on the SYN, say).
		t.initRcvSpace()
		return
	}
	if at.rtt8 == 0 || t.now-at.spaceTime < time.Duration(at.rtt8>>3)*time.Microsecond {
		return
	}
	seq := t.readSeq()
	copied := seq - at.spaceSeq
	if copied > at.space {
		if t.cfg.ModerateRcvbuf && !at.locked {
			// Twice what was consumed plus a cushion of 16 segments,
			// plus twice the increase for a sender still speeding up.
			win := 2*uint64(copied) + 16*uint64(t.advMSS)
			win += 2 * (win * uint64(copied-at.space) / uint64(at.space))
			space := min(spaceFromWin(win, t.cfg.AdvWinScale), uint64(t.cfg.RMem[2]))
			if int(space) > t.rcvBuf.limit() {
				t.rcvBuf.setLimit(int(space))
			}
		}
		at.space = copied
	}
	at.spaceSeq, at.spaceTime = seq, t.now
}

// spaceFromWin is the buffer space that offers window win
// (tcp_space_from_win, the inverse of winFromSpace).
func spaceFromWin(win uint64, scale int) uint64 {
	if scale <= 0 {
		return win << uint(-scale)
	}
	// win = space - space>>scale = space * (2^scale - 1) / 2^scale
	g := uint64(1) << uint(scale)
	return (win*g + g - 2) / (g - 1)
}

// rcvRTT is the receiver's RTT estimate (tcpi_rcv_rtt), zero before a
// sample.
func (t *TCB) rcvRTT() time.Duration {
	return time.Duration(t.tuning.rtt8>>3) * time.Microsecond
}

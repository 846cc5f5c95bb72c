package tcp

import "time"

// RACK-TLP loss detection (RFC 8985), with the choices Linux 6.x makes.
//
// RACK deems a segment lost when a segment sent after it has been delivered
// (SACKed or cumulatively acknowledged) and more than RACK.rtt + reo_wnd has
// passed since it was sent. TLP sends a probe when the ACK clock stops, so
// that a lost tail is detected by RACK instead of waiting for the RTO.

// Bits of Config.Recovery (tcp_recovery).
const (
	// RecoveryRACK enables RACK loss detection (TCP_RACK_LOSS_DETECTION).
	RecoveryRACK = 0x1
	// RecoveryStaticReoWnd keeps the reordering window at min_RTT/4
	// (TCP_RACK_STATIC_REO_WND): DSACKs do not widen it.
	RecoveryStaticReoWnd = 0x2
	// RecoveryNoDupThresh: the reordering window stays open even once
	// DupThresh segments are SACKed (TCP_RACK_NO_DUPTHRESH).
	RecoveryNoDupThresh = 0x4
)

// reoWndPersistRounds is how many recoveries a widened reordering window
// survives without a new DSACK (RFC 8985 6.2 step 4: 16).
const reoWndPersistRounds = 16

// rackState is RFC 8985's per-connection state (6.1).
type rackState struct {
	xmit Time          // RACK.xmit_ts: the latest send time of a delivered segment
	rtt  time.Duration // RACK.rtt: the RTT of that segment

	endSeq uint32 // RACK.end_seq
	// fack is the highest sequence number delivered (RACK.fack).
	fack uint32
	// Reordering: reordSeen counts detections (tcpi_reord_seen);
	// reordering is the reordering degree in segments (tcpi_reordering,
	// Linux tp->reordering, DupThresh of RFC 6675 when it grows).
	reordSeen  uint32
	reordering uint32
	// dsackRound is SND.NXT when the reordering window last widened.
	dsackRound uint32
	// TLP (RFC 8985 7): tlpEnd is SND.NXT when the outstanding probe was
	// sent (TLP.end_seq); tlpRetrans says the probe was a retransmission
	// (TLP.is_retrans), so an ACK that covers it without a DSACK reveals a
	// repaired loss.
	tlpEnd uint32

	valid bool
	// advanced: a newly delivered segment moved the state since the last
	// loss detection.
	advanced  bool
	fackValid bool
	// The reordering window's DSACK adaptation (RFC 8985 6.2 step 4).
	reoWndMult    uint8
	reoWndPersist uint8
	dsackSeen     bool // a DSACK arrived in the current round
	tlpOut        bool
	tlpRetrans    bool
}

// sentAfter reports whether a segment sent at t1 ending at seq1 was sent
// after one sent at t2 ending at seq2 (RFC 8985 6.2: RACK_sent_after, with
// sequence order breaking ties of the clock).
func sentAfter(t1 Time, seq1 uint32, t2 Time, seq2 uint32) bool {
	return t1 > t2 || t1 == t2 && seqGT(seq1, seq2)
}

// rackUpdate is RFC 8985 6.2 step 2 for one newly delivered segment.
func (t *TCB) rackUpdate(s *txSeg, tsEcr uint32) {
	rtt := t.now - s.xmit
	if s.has(txEverRetrans) {
		// Ambiguous: the ACK may be for the original. Linux (and RFC 8985
		// 6.2 step 2) accepts the sample only if it is not below min_RTT
		// and the echoed timestamp is not older than the retransmission.
		if rtt < t.rtt.minRTT() {
			return
		}
		if t.tsOK && tsEcr != 0 && seqLT(tsEcr, t.tsAt(s.xmit)) {
			return
		}
	}
	t.rack.advanced = true
	t.rack.rtt = rtt
	if !t.rack.valid || sentAfter(s.xmit, s.end, t.rack.xmit, t.rack.endSeq) {
		t.rack.xmit, t.rack.endSeq, t.rack.valid = s.xmit, s.end, true
	}
}

// tsAt is the TSval the timestamp clock gave at time at.
func (t *TCB) tsAt(at Time) uint32 { return uint32(at/time.Millisecond) + t.tsOffset }

// rackDelivered advances RACK.fack, the highest sequence number delivered
// (RFC 8985 6.2 step 3).
func (t *TCB) rackDelivered(s *txSeg) {
	if !t.rack.fackValid || seqGT(s.end, t.rack.fack) {
		t.rack.fack, t.rack.fackValid = s.end, true
	}
}

// noteReordering records that a never-retransmitted segment starting at low
// was delivered below fack (Linux tcp_check_sack_reordering).
func (t *TCB) noteReordering(low uint32) {
	if !t.rack.fackValid || !seqLT(low, t.rack.fack) {
		return
	}
	metric := t.rack.fack - low
	mss := uint32(t.mss)
	if mss > 0 && metric > t.rack.reordering*mss {
		r := (metric + mss - 1) / mss
		if max := uint32(t.cfg.MaxReordering); max > 0 && r > max {
			r = max
		}
		t.rack.reordering = r
	}
	t.rack.reordSeen++
}

// reoWnd is RFC 8985 6.2 step 4's reordering window.
func (t *TCB) reoWnd() time.Duration {
	if t.rack.reordSeen == 0 {
		// No reordering seen: be aggressive during recovery, and once
		// DupThresh segments are SACKed (RFC 8985 6.2 step 4, as RFC 6675
		// would).
		if t.ca >= caRecovery {
			return 0
		}
		if t.rtxq.sacked >= t.rack.reordering && t.cfg.Recovery&RecoveryNoDupThresh == 0 {
			return 0
		}
	}
	mult := t.rack.reoWndMult
	if mult == 0 || t.cfg.Recovery&RecoveryStaticReoWnd != 0 {
		mult = 1
	}
	w := t.rtt.minRTT() / 4 * time.Duration(mult)
	if srtt := t.rtt.srtt(); w > srtt {
		w = srtt
	}
	return w
}

// rackDSACK adapts the reordering window to a DSACK (RFC 8985 6.2 step 4):
// at most one widening per round trip, kept for 16 recoveries.
func (t *TCB) rackDSACK() {
	if t.cfg.Recovery&RecoveryStaticReoWnd != 0 {
		return
	}
	if t.rack.dsackSeen && seqLT(t.sndUna, t.rack.dsackRound) {
		return
	}
	t.rack.dsackSeen = true
	t.rack.dsackRound = t.sndNxt
	if t.rack.reoWndMult < 255 {
		t.rack.reoWndMult++
	}
	t.rack.reoWndPersist = reoWndPersistRounds
}

// rackRecoveryEnded counts down the widened window's lifetime (RFC 8985 6.2
// step 4: reset after 16 recoveries without a DSACK).
func (t *TCB) rackRecoveryEnded() {
	if t.rack.reoWndPersist > 0 {
		t.rack.reoWndPersist--
		if t.rack.reoWndPersist == 0 {
			t.rack.reoWndMult = 1
		}
	}
}

// rackDetectLoss is RFC 8985 6.2 step 5: deem lost every outstanding
// segment sent before RACK.xmit_ts for longer than RACK.rtt + reo_wnd. When
// some are not yet old enough, it returns the time left until the first of
// them is (the reordering timer).
func (t *TCB) rackDetectLoss() (wait time.Duration) {
	if !t.rack.valid {
		return 0
	}
	reo := t.reoWnd()
	q := &t.rtxq
	for i := q.head; i < len(q.segs); i++ {
		s := &q.segs[i]
		if s.has(txSacked) || s.has(txLost) && !s.has(txRetrans) {
			continue
		}
		if !sentAfter(t.rack.xmit, t.rack.endSeq, s.xmit, s.end) {
			if !s.has(txEverRetrans) && (!q.highRetransValid || !seqLT(s.start, q.highRetrans)) {
				// Everything beyond was first sent after RACK.xmit_ts
				// and never retransmitted.
				break
			}
			continue
		}
		remaining := s.xmit + t.rack.rtt + reo - t.now
		if remaining <= 0 {
			q.markLost(s)
		} else if remaining > wait {
			wait = remaining
		}
	}
	return wait
}

// tlpTimeout is when a loss probe is due (RFC 8985 7.2 with Linux's
// constants): 2*SRTT, plus the worst-case delayed ACK when a single segment
// is outstanding (Linux uses tcp_rto_min there, a 2 ms timer slack
// otherwise), and never beyond the RTO.
func (t *TCB) tlpTimeout() time.Duration {
	srtt := t.rtt.srtt()
	var pto time.Duration
	if srtt > 0 {
		pto = 2 * srtt
		if t.rtxq.packetsOut() == 1 {
			pto += t.cfg.RTOMin
		} else {
			pto += 2 * time.Millisecond
		}
	} else {
		pto = t.cfg.RTOInitial
	}
	if rto := t.rtoBackedOff(); pto > rto {
		pto = rto
	}
	return pto
}

// tlpAllowed says whether a loss probe may be scheduled now (RFC 8985 7.2,
// Linux tcp_schedule_loss_probe): TLP enabled, SACK in use, something
// outstanding, the connection in Open or CWR, and no probe outstanding.
func (t *TCB) tlpAllowed() bool {
	if t.cfg.EarlyRetrans < 3 || !t.sackOK || t.rtxq.packetsOut() == 0 || t.noAckClock() {
		return false
	}
	if t.ca != caOpen && t.ca != caCWR {
		return false
	}
	return !t.rack.tlpOut
}

// noAckClock reports that the connection has no ACK clock yet: a loss
// probe makes no sense before the handshake completes.
func (t *TCB) noAckClock() bool {
	return !t.state.synchronized() || t.state == SynReceived
}

// tlpFire sends the loss probe (RFC 8985 7.3): new data if the windows
// allow, otherwise the last segment again.
func (t *TCB) tlpFire() {
	t.st().TLPProbes++
	before := t.sndNxt
	if t.sndBuf.Len() > t.dataInFlight() && t.windowAllows(uint32(min(t.effectiveMSS(), t.sndBuf.Len()-t.dataInFlight()))) {
		// New data: one segment, beyond cwnd if need be (RFC 8985 7.3).
		t.probeNewData = true
		t.output()
		t.probeNewData = false
	}
	if t.sndNxt != before {
		t.rack.tlpOut, t.rack.tlpEnd, t.rack.tlpRetrans = true, t.sndNxt, false
	} else if n := len(t.rtxq.segs); n > t.rtxq.head {
		s := &t.rtxq.segs[n-1]
		if !s.has(txSacked) {
			t.retransmitSeg(n - 1)
			t.rack.tlpOut, t.rack.tlpEnd, t.rack.tlpRetrans = true, t.sndNxt, true
		}
	}
	// RFC 8985 7.3: after the probe, the RTO takes over.
	t.armRTO()
}

// tlpAck is RFC 8985 7.4: decide from an ACK whether the probe repaired a
// loss. A probe retransmission acknowledged without a DSACK for it means
// the original was lost: the congestion window is reduced as for a loss,
// once (as Linux's tcp_process_tlp_ack does).
func (t *TCB) tlpAck(ack uint32, dsack bool) {
	if !t.rack.tlpOut || seqLT(ack, t.rack.tlpEnd) {
		return
	}
	switch {
	case !t.rack.tlpRetrans || dsack:
		// New data probed, or the probe was a duplicate: no loss.
		t.rack.tlpOut = false
	case seqGT(ack, t.rack.tlpEnd):
		t.rack.tlpOut = false
		if t.ca == caOpen || t.ca == caDisorder {
			t.st().TLPRecoveries++
			t.enterCWR()
			t.endCwndReduction()
			t.ca = caOpen
		}
	}
}

package tcp

import (
	"syscall"
	"time"

	"github.com/synfin/synfin/wire"
)

// pawsIdleLimit is RFC 7323 5.5's 24 days: TS.Recent older than this is
// invalid and no longer used to reject segments.
const pawsIdleLimit = 24 * 24 * time.Hour

// Input processes one arriving segment (SEGMENT ARRIVES, RFC 9293 3.10.7).
// The caller has already checked the checksum and matched the 4-tuple.
func (t *TCB) Input(now Time, seg *Segment) {
	t.now = now
	t.info.segsIn++
	t.rxECN = seg.ECN
	switch t.state {
	case Closed:
		t.inputClosed(seg)
	case Listen:
		t.inputListen(seg)
	case SynSent:
		t.inputSynSent(seg)
	default:
		t.lastRecv = now
		t.inputSynchronized(seg)
	}
	t.Unstage() // rxstage.go: the packet's memory is the caller's again
}

// InputBatch processes segments that arrived together (one read from the
// device) as Input does, one after the other, but sends the ACK they call for
// only once the last has been processed, so that one ACK covers the batch
// (RFC 9293 3.10.7.4, MUST-58/MUST-59). Data segments sent meanwhile still
// carry the ACK, and replies to unacceptable segments (RSTs, challenge and
// duplicate ACKs) are not held back.
func (t *TCB) InputBatch(now Time, segs []*Segment) {
	t.holdAck = true
	for _, s := range segs {
		t.Input(now, s)
	}
	t.holdAck = false
	t.ackIfNeeded()
}

// ResetFor returns the RST that answers seg when no connection exists
// (RFC 9293 3.10.7.1, MUST-?): nothing for an RST; <SEQ=SEG.ACK><CTL=RST>
// when seg has ACK; otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func ResetFor(seg *Segment) (Segment, bool) {
	if seg.Flags&wire.FlagRST != 0 {
		return Segment{}, false
	}
	if seg.Flags&wire.FlagACK != 0 {
		return Segment{Seq: seg.Ack, Flags: wire.FlagRST}, true
	}
	return Segment{Ack: seg.Seq + seg.Len(), Flags: wire.FlagRST | wire.FlagACK}, true
}

// inputClosed: RFC 9293 3.10.7.1. All data is discarded; anything but an RST
// is answered with an RST.
func (t *TCB) inputClosed(seg *Segment) {
	t.st().SegmentsToClosed++
	if rst, ok := ResetFor(seg); ok {
		*t.seg = rst
		t.out.Segment(t.seg)
	}
}

// inputListen: RFC 9293 3.10.7.2.
func (t *TCB) inputListen(seg *Segment) {
	switch {
	case seg.Flags&wire.FlagRST != 0:
		// First check: an RST is ignored.
		return
	case seg.Flags&wire.FlagACK != 0:
		// Second check: an ACK in LISTEN is bad: <SEQ=SEG.ACK><CTL=RST>.
		t.st().BadAckInListen++
		t.inputClosed(seg)
		return
	case seg.Flags&wire.FlagSYN == 0:
		t.st().DroppedNoFlags++
		return
	}
	// Third check: a SYN. Like Linux, data carried on the SYN is not
	// accepted (it is not acknowledged and the peer resends it), unless
	// Fast Open accepted the SYN (RFC 7413 4.2.2, AcceptFastOpen).
	t.irs = seg.Seq
	t.rcvNxt = seg.Seq + 1
	t.rcvAdv = t.rcvNxt // nothing offered yet in this sequence space
	t.negotiate(seg, true)
	t.sndWnd = uint32(seg.Window) // never scaled in a SYN (RFC 7323 2.2)
	t.maxSndWnd = t.sndWnd
	t.sndWl1, t.sndWl2 = seg.Seq, seg.Ack
	mss := int(t.advMSS)
	if t.tsOK {
		mss -= 12
	}
	t.rcvSsthresh = t.initialRcvWnd(mss)
	t.fastOpenTakeSYNData(seg)
	t.setState(SynReceived, CauseSynReceived)
	t.sendSYN(true)
	t.fastOpenChildReady()
}

// negotiate records the options of the peer's SYN (RFC 9293 3.7.1, RFC 7323,
// RFC 2018): an option is in use only if both ends offered it.
func (t *TCB) negotiate(seg *Segment, passive bool) {
	o := &seg.Options
	t.peerMSS = uint16(t.cfg.DefaultMSS)
	if t.defMSS != 0 {
		t.peerMSS = t.defMSS
	}
	if o.HasMSS {
		t.peerMSS = o.MSS
	}
	t.wsOK = t.cfg.WindowScaling && o.HasWScale
	if t.wsOK {
		t.sndWscale = o.WScale
		if t.sndWscale > 14 {
			t.sndWscale = 14 // RFC 7323 2.3
		}
	} else {
		t.sndWscale, t.rcvWscale = 0, 0
	}
	t.tsOK = t.cfg.Timestamps && o.HasTimestamps
	if t.tsOK {
		t.tsRecent, t.tsRecentT = o.TSVal, t.now
	}
	t.sackOK = t.cfg.SACK && o.SACKPermitted
	t.ecnNegotiate(seg, passive)
	t.setMSS()
	t.rcvMSS = int(t.advMSS)
	if t.rcvMSS > 536 {
		t.rcvMSS = 536
	}
}

// setMSS computes the effective send MSS: the smaller of the peer's MSS and
// our path MSS, less the timestamp option, never below tcp_min_snd_mss
// (RFC 9293 3.7.1, MUST-16; RFC 6691).
func (t *TCB) setMSS() {
	m := int(t.peerMSS)
	if int(t.pathMSS) < m {
		m = int(t.pathMSS)
	}
	if m < t.cfg.MinSndMSS {
		m = t.cfg.MinSndMSS
	}
	if t.tsOK {
		m -= 12
	}
	t.mss = m
	t.ccs.MSS = uint32(m)
}

// SetPathMSS lowers (or raises) the path MSS, for path MTU discovery (the
// stack calls it on ICMP fragmentation needed / packet too big, RFC 1191,
// RFC 8201).
func (t *TCB) SetPathMSS(now Time, mss uint16) {
	t.now = now
	if mss == 0 {
		return
	}
	t.pathMSS = mss
	if t.state.synchronized() || t.state == SynReceived {
		prev := t.mss
		t.setMSS()
		if t.mss < prev {
			t.simpleRetransmit()
		}
		t.output()
	}
	t.fastOpenPathMSS()
}

// inputSynSent: RFC 9293 3.10.7.3.
func (t *TCB) inputSynSent(seg *Segment) {
	f := seg.Flags
	// First check: the ACK.
	if f&wire.FlagACK != 0 {
		if seqLEQ(seg.Ack, t.iss) || seqGT(seg.Ack, t.sndNxt) {
			// Not for our SYN: <SEQ=SEG.ACK><CTL=RST> unless it is an RST.
			t.st().BadAck++
			if f&wire.FlagRST == 0 {
				t.inputClosed(seg)
			}
			return
		}
		if o := &seg.Options; f&wire.FlagRST == 0 && t.cfg.Timestamps && o.HasTimestamps && o.TSEcr != 0 &&
			!(seqGEQ(o.TSEcr, t.synTSVal) && seqLEQ(o.TSEcr, t.tsNow())) {
			// A SYN-ACK echoing a timestamp we never sent answers no SYN
			// of ours (Linux's PAWS check in SYN_SENT): reset it, as an
			// unacceptable ACK.
			t.st().BadAck++
			t.inputClosed(seg)
			return
		}
	}
	// Second check: RST.
	if f&wire.FlagRST != 0 {
		if f&wire.FlagACK != 0 {
			t.fail(syscall.ECONNREFUSED, CauseResetInSynSent)
		} else {
			t.st().RSTsIgnored++
		}
		return
	}
	// Fourth check: SYN.
	if f&wire.FlagSYN == 0 {
		t.st().DroppedNoFlags++
		return
	}
	t.irs = seg.Seq
	t.rcvNxt = seg.Seq + 1
	// The window our SYN offered now has its left edge (Linux: rcv_wup =
	// rcv_nxt with the initial rcv_wnd); rcvAdv held it relative to 0.
	t.rcvAdv = t.rcvNxt + min(t.rcvSsthresh, 65535)
	t.negotiate(seg, false)
	if f&wire.FlagACK != 0 {
		t.sndUna = seg.Ack
		t.ackedSYN()
		t.fastOpenSynAcked(seg)
		// The window in a SYN-ACK is never scaled (RFC 7323 2.2).
		t.sndWnd = uint32(seg.Window)
		t.maxSndWnd = t.sndWnd
		t.sndWl1, t.sndWl2 = seg.Seq, seg.Ack
		t.setState(Established, CauseSynAckReceived)
		t.expandSndBuf()
		if len(seg.Payload) > 0 {
			t.acceptData(seg.Seq+1, seg.Payload)
		}
		if f&wire.FlagFIN != 0 {
			// A FIN after the SYN-ACK's data, once it is in (a Fast Open
			// server may close at once: RFC 7413 4.2.2).
			t.receiveFin(seg.Seq + 1 + uint32(len(seg.Payload)))
		}
		if !t.fastOpenHoldAck() {
			t.sendAck()
		}
		t.output()
		t.raise(EventWritable)
		t.armKeepalive()
		return
	}
	// Simultaneous open: a bare SYN. Answer with SYN-ACK carrying our original
	// ISN and wait in SYN_RCVD.
	t.sndWnd = uint32(seg.Window)
	t.maxSndWnd = t.sndWnd
	t.sndWl1, t.sndWl2 = seg.Seq, seg.Ack
	t.setState(SynReceived, CauseSimultaneousOpen)
	// The SYN-ACK is our SYN retransmitted with ACK: restart its timer.
	t.rtxTimer.stop()
	t.sendSYN(true)
}

// ackedSYN is called when our SYN is acknowledged: RTT sample, timers, cwnd.
func (t *TCB) ackedSYN() {
	if t.rttTiming && t.retrans == 0 {
		t.rtt.sample(t.now - t.rttStart)
	}
	t.rttTiming = false
	if t.retrans > 0 {
		// RFC 6298 5.7: a retransmitted SYN leaves the RTO at its initial
		// value, and Linux (RFC 5681 3.1) starts with cwnd 1... Linux keeps
		// initcwnd but resets RTO; keep the estimator as it is.
		t.ccs.Cwnd = 1
	}
	t.rtxTimer.stop()
	t.backoff = 0
	t.retrans = 0
	t.sndBufSeq = t.iss + 1
	t.info.bytesAcked = 0
	t.fastOpenChildAcked()
}

// inputSynchronized handles SYN_RCVD and every later state: RFC 9293
// 3.10.7.4, its eight checks in order.
func (t *TCB) inputSynchronized(seg *Segment) {
	f := seg.Flags
	segLen := seg.Len()

	if t.state == TimeWait {
		t.inputTimeWait(seg)
		return
	}

	// SYN_RCVD: the peer's SYN again (our SYN-ACK was lost) is answered with
	// the SYN-ACK again; in a simultaneous open, the peer's SYN-ACK
	// acknowledging our SYN completes the handshake (Linux accepts it before
	// the sequence check, since it starts one before RCV.NXT).
	synUnacked := t.state == SynReceived || t.state == FinWait1 && t.sndUna == t.iss
	if synUnacked && f&wire.FlagSYN != 0 && f&wire.FlagRST == 0 && seg.Seq == t.irs {
		if f&wire.FlagACK == 0 {
			t.st().SYNRetransmitted++
			if t.oowRateLimited() {
				// Linux's tcp_check_req rate-limits these replies too.
				return
			}
			t.sendSYN(true)
			if t.passive {
				// As Linux's tcp_check_req: the SYN-ACK timer restarts from
				// this retransmission (with the current backoff).
				t.armRTO()
			}
			return
		}
		if !t.passive && seqGT(seg.Ack, t.iss) && seqLEQ(seg.Ack, t.sndNxt) {
			seg2 := *seg
			seg2.Flags &^= wire.FlagSYN
			seg2.Seq++
			// Linux sees the SYN-ACK as a retransmission of the peer's SYN
			// (old data, tcp_data_queue) and acknowledges it at once,
			// reporting the SYN as a duplicate (RFC 2883 4).
			t.setDSACK(seg.Seq, seg.Seq+1)
			t.ackPending = true
			t.quickAck()
			t.inputSynchronized(&seg2)
			return
		}
	}

	// RFC 7323 5.3 PAWS: a segment whose timestamp is older than TS.Recent is
	// a duplicate from an earlier incarnation or wrap; ACK it and drop it.
	if t.tsOK && seg.Options.HasTimestamps && f&wire.FlagRST == 0 && t.pawsReject(seg) {
		t.st().PAWSRejected++
		t.dupAck(seg)
		return
	}

	// First check: sequence number acceptability (the four cases of RFC 9293
	// 3.10.7.4). A zero window still accepts a segment at RCV.NXT so that its
	// ACK, URG and RST are processed; its data is dropped later.
	rcvWnd := uint32(0)
	if seqGT(t.rcvAdv, t.rcvNxt) {
		rcvWnd = t.rcvAdv - t.rcvNxt
	}
	if !t.acceptable(seg.Seq, segLen, rcvWnd) {
		if f&wire.FlagRST == 0 {
			if f&wire.FlagSYN != 0 && t.state != SynReceived {
				// RFC 5961 4.2: a SYN in a synchronized state, whatever its
				// sequence number, gets a challenge ACK.
				t.st().SYNInSynchronized++
				t.sendChallengeAck()
				return
			}
			t.st().OutOfWindow++
			t.dupAck(seg)
		} else {
			t.st().RSTsOutOfWindow++
		}
		return
	}

	// Second check: RST (RFC 9293 3.10.7.4 with RFC 5961 3.2).
	if f&wire.FlagRST != 0 {
		t.inputRST(seg)
		return
	}

	// Third check: security (not implemented; RFC 9293 MAY-... N/A).

	// Fourth check: SYN in a synchronized state (RFC 5961 4.2: challenge
	// ACK).
	if f&wire.FlagSYN != 0 {
		t.st().SYNInSynchronized++
		t.sendChallengeAck()
		return
	}

	// Fifth check: ACK.
	if f&wire.FlagACK == 0 {
		t.st().DroppedNoAck++
		return
	}
	if !t.processAck(seg) {
		return
	}
	if t.state == Closed {
		return
	}

	// RFC 7323 4.3: remember the peer's timestamp when this segment covers
	// the last ACK we sent.
	if t.tsOK && seg.Options.HasTimestamps && seqLEQ(seg.Seq, t.lastAckSent) {
		if seqGEQ(seg.Options.TSVal, t.tsRecent) || t.now-t.tsRecentT > pawsIdleLimit {
			t.tsRecent, t.tsRecentT = seg.Options.TSVal, t.now
		}
	}

	// Sixth check: URG.
	if f&wire.FlagURG != 0 {
		switch t.state {
		case Established, FinWait1, FinWait2:
			up := seg.Seq + uint32(seg.Urgent)
			if t.cfg.Stdurg {
				up++
			}
			if !t.rcvUrg || seqGT(up, t.rcvUp) {
				t.rcvUp, t.rcvUrg = up, true
				t.raise(EventUrgent)
			}
		}
	}

	// Seventh check: segment text.
	if len(seg.Payload) > 0 {
		switch t.state {
		case Established, FinWait1, FinWait2:
			if t.orphan || (t.readShut && (t.state == FinWait1 || t.state == FinWait2)) {
				end := seg.Seq + uint32(len(seg.Payload))
				if seqGT(end, t.rcvNxt) {
					// Linux: new data for a socket that can never read it is
					// answered with RST and the connection is dropped. The
					// RST answers the segment (tcp_rcv_state_process returns
					// 1 and tcp_v4_send_reset replies): <SEQ=SEG.ACK><RST>.
					t.st().DataAfterClose++
					if rst, ok := ResetFor(seg); ok {
						*t.seg = rst
						t.out.Segment(t.seg)
					}
					t.fail(syscall.ECONNRESET, CauseDataAfterClose)
					return
				}
			}
			rcvNxt := t.rcvNxt
			t.acceptData(seg.Seq, seg.Payload)
			t.rcvRTTMeasure(seg, rcvNxt) // receive-buffer auto-tuning (rcvbuf.go)
		default:
			// CLOSE_WAIT, CLOSING, LAST_ACK: the peer already sent its FIN;
			// the text is ignored (RFC 9293 3.10.7.4 seventh check).
			t.st().DataAfterFin++
		}
	}

	// Eighth check: FIN.
	if f&wire.FlagFIN != 0 {
		t.receiveFin(seg.Seq + uint32(len(seg.Payload)))
	}

	t.output()
	t.ackIfNeeded()
}

// acceptable is RFC 9293 3.10.7.4's acceptability test, widened as Linux's
// tcp_sequence is: a segment is acceptable if any part of it lies within
// [RCV.NXT, RCV.NXT+RCV.WND], or it is empty and starts at RCV.NXT.
func (t *TCB) acceptable(seq, segLen, rcvWnd uint32) bool {
	if segLen == 0 {
		if rcvWnd == 0 {
			return seq == t.rcvNxt
		}
		return seqInWindow(seq, t.rcvNxt, rcvWnd) || seq == t.rcvNxt+rcvWnd
	}
	if rcvWnd == 0 {
		// Only a segment starting at RCV.NXT is acceptable; its data will
		// be dropped, its control processed.
		return seq == t.rcvNxt
	}
	end := seq + segLen - 1
	return seqInWindow(seq, t.rcvNxt, rcvWnd) || seqInWindow(end, t.rcvNxt, rcvWnd) ||
		(seqLT(seq, t.rcvNxt) && seqGT(end, t.rcvNxt+rcvWnd))
}

func (t *TCB) pawsReject(seg *Segment) bool {
	if t.now-t.tsRecentT > pawsIdleLimit {
		// RFC 7323 5.5: TS.Recent is stale; accept and resynchronise.
		return false
	}
	return seqLT(seg.Options.TSVal, t.tsRecent)
}

// dupAck answers an unacceptable segment with an ACK (RFC 9293 3.10.7.4:
// "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"). Pure ACKs are rate-limited
// (tcp_invalid_ratelimit, RFC 5961 7); data is always answered, since it may
// be a retransmission whose ACK was lost.
func (t *TCB) dupAck(seg *Segment) {
	if len(seg.Payload) == 0 && seg.Flags&(wire.FlagSYN|wire.FlagFIN) == 0 {
		if t.oowRateLimited() {
			t.st().OutOfWindowAcksRateLimited++
			return
		}
	}
	if t.state == SynReceived {
		// No connection yet to acknowledge; Linux resends the SYN-ACK only
		// for the SYN itself and otherwise stays silent.
		return
	}
	if len(seg.Payload) > 0 && seqLT(seg.Seq, t.rcvNxt) {
		// Old data again: our ACK was lost or the sender retransmitted
		// needlessly; the DSACK tells it which (RFC 2883 4), and quick
		// ACKs follow (Linux's tcp_send_dupack, quickack.go).
		t.setDSACK(seg.Seq, seg.Seq+uint32(len(seg.Payload)))
		t.enterQuickAckMode(t.cfg.QuickAcks)
	}
	t.sendAck()
}

// setDSACK reports [start, end) (clipped to RCV.NXT) as duplicate in the
// next ACK's first SACK block (RFC 2883 4, tcp_dsack).
func (t *TCB) setDSACK(start, end uint32) {
	if !t.sackOK || !t.cfg.DSACK {
		return
	}
	if seqGT(end, t.rcvNxt) && seqLT(start, t.rcvNxt) {
		end = t.rcvNxt
	}
	t.dsack = wire.SACKBlock{Left: start, Right: end}
	t.dsackPending = true
}

// inputRST: RFC 9293 3.10.7.4 second check with RFC 5961 3.2: an RST is
// acted on only if it is exactly at RCV.NXT; an RST elsewhere in the window
// gets a challenge ACK.
func (t *TCB) inputRST(seg *Segment) {
	if t.state == SynReceived && t.passive {
		// A passive open is still only a request (Linux's request socket):
		// any RST in the window drops it and the stack discards this TCB;
		// the listener is unaffected (RFC 9293: "return to LISTEN"). (A
		// Fast Open connection is not passive: a full one already, RFC
		// 7413 4.2.2.)
		t.st().RSTsAccepted++
		t.stopAllTimers()
		t.setState(Listen, CauseResetInSynRcvd)
		t.dead = true
		return
	}
	if seg.Seq != t.rcvNxt {
		t.st().RSTsInWindow++
		t.sendChallengeAck()
		return
	}
	t.st().RSTsAccepted++
	// The error reported follows Linux's tcp_reset: EPIPE in CLOSE_WAIT
	// (the peer had finished sending), ECONNRESET otherwise, including a
	// simultaneous open in SYN_RCVD (where RFC 9293 says "refused").
	switch t.state {
	case SynReceived, Established, FinWait1, FinWait2:
		t.fail(syscall.ECONNRESET, CauseResetReceived)
	case CloseWait:
		t.fail(syscall.EPIPE, CauseResetReceived)
	case Closing, LastAck:
		t.dead = true
		t.setState(Closed, CauseResetReceived)
	}
}

// processAck is the fifth check. It returns false when the segment is to be
// dropped.
func (t *TCB) processAck(seg *Segment) bool {
	ack := seg.Ack
	// synPending: our SYN is not acknowledged yet, in SYN_RCVD or in the
	// FIN_WAIT_1 that a CLOSE in SYN_RCVD leads to.
	synPending := t.state == SynReceived || t.state == FinWait1 && t.sndUna == t.iss
	if synPending {
		// RFC 9293 3.10.7.4 fifth check in SYN_RCVD. (The RFC's SND.NXT
		// is sndMax: a retransmission timeout rewinds sndNxt, and the ACK
		// may cover a FIN sent before it.)
		if !(seqLT(t.sndUna, ack) && seqLEQ(ack, t.sndMax)) {
			t.st().BadAck++
			if rst, ok := ResetFor(seg); ok {
				*t.seg = rst
				t.out.Segment(t.seg)
			}
			return false
		}
		t.sndUna = ack
		t.ackedSYN()
		t.sndWnd = uint32(seg.Window) << t.sndWscale
		t.maxSndWnd = t.sndWnd
		t.sndWl1, t.sndWl2 = seg.Seq, ack
		if t.state == FinWait1 {
			// The FIN went out in SYN_RCVD; the handshake is complete now
			// and the ACK goes on to be checked against our FIN below. The
			// FIN may still be outstanding: keep it timed.
			if t.sndUna != t.sndMax {
				t.armRTO()
			}
			goto acked
		}
		t.setState(Established, CauseHandshakeAck)
		t.expandSndBuf()
		if t.passive {
			// Only a passive open has a listener to hand the connection to.
			t.out.Event(Event{Kind: EventAccepted})
		}
		t.raise(EventWritable)
		t.armKeepalive()
		if t.finQueued {
			// CLOSE in SYN_RCVD queued a FIN (RFC 9293 3.10.4).
			t.setState(FinWait1, CauseClose)
		}
	}

acked:
	// RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
	if seqGT(ack, t.sndMax) {
		// It acknowledges something not yet sent: ACK and drop.
		t.st().AckUnsentData++
		t.sendChallengeAck()
		return false
	}
	// Like Linux's tcp_ack, MAX.SND.WND is bounded by the bytes acknowledged
	// so far, so that an ACK for data never sent (such as 0 right after the
	// handshake) is not taken for an old duplicate.
	maxWnd := t.maxSndWnd
	if uint64(maxWnd) > t.info.bytesAcked {
		maxWnd = uint32(t.info.bytesAcked)
	}
	if seqLT(ack, t.sndUna-maxWnd) {
		t.st().AckTooOld++
		t.sendChallengeAck()
		return false
	}

	if seqGT(ack, t.sndNxt) {
		// SND.NXT never rewinds now, but stay safe.
		t.sndNxt = ack
	}

	prevUna := t.sndUna
	newData := seqGT(ack, t.sndUna)
	var ai ackInfo
	ai.rttSample = -1
	ai.priorUna = t.sndUna
	if newData {
		t.ackNewData(seg, &ai)
	}
	prevWnd := t.sndWnd
	t.updateWindow(seg)
	if t.sackOK && seg.Options.NumSACK > 0 {
		t.sackTag(seg, &ai)
	}
	if !newData && t.isDupAck(seg, prevUna, prevWnd) {
		ai.dupAck = true
		t.info.dupAcks++
	}
	t.ecnAck(seg, prevUna, &ai)
	if t.state != SynReceived {
		t.onAck(seg, &ai)
	}
	if t.persist && t.sndWnd > 0 {
		// The window opened: stop probing and forget the probe backoff, as
		// Linux's tcp_ack_probe does; output sends what now fits.
		t.persist = false
		t.rtxTimer.stop()
		t.backoff = 0
		t.probesOut = 0
	}

	// Our FIN acknowledged?
	finAcked := t.finSent && seqGT(t.sndUna, t.finSeq)
	switch t.state {
	case FinWait1:
		if finAcked {
			if seg.Flags&wire.FlagFIN != 0 && t.finInOrder(seg) {
				// FIN+ACK of our FIN: straight to TIME_WAIT (the eighth check
				// does it; FIN_WAIT_2 is skipped).
				return true
			}
			t.setState(FinWait2, CauseFinAcked)
			if t.orphan {
				t.startFinWait2Timer()
			}
		}
	case Closing:
		if finAcked {
			t.setState(TimeWait, CauseClosingAcked)
			return false
		}
	case LastAck:
		if finAcked {
			t.dead = true
			t.setState(Closed, CauseLastAckAcked)
			return false
		}
	}
	return true
}

// finInOrder reports whether seg's FIN will be accepted now (all data before
// it has arrived).
func (t *TCB) finInOrder(seg *Segment) bool {
	return seqLEQ(seg.Seq, t.rcvNxt) && seqGEQ(seg.Seq+uint32(len(seg.Payload)), t.rcvNxt)
}

// ackNewData handles SND.UNA < SEG.ACK <= SND.NXT (RFC 9293 3.10.7.4,
// RFC 6298 5.2-5.3, RFC 5681).
func (t *TCB) ackNewData(seg *Segment, ai *ackInfo) {
	ack := seg.Ack
	ai.unaAdvanced = true
	// The queue first (after the RTT sample for congestion control reads
	// it), so that a drained buffer can release both arrays.
	ai.caRTT = t.ackCARTT(ack)
	t.rtxAck(ack, seg.Options.TSEcr, ai)
	// Remove acknowledged data from the send buffer.
	dataAcked := int(ack - t.sndBufSeq)
	if t.finSent && seqGT(ack, t.finSeq) {
		dataAcked--
	}
	if dataAcked > 0 {
		if dataAcked > t.sndBuf.Len() {
			dataAcked = t.sndBuf.Len()
		}
		t.sndBuf.consume(dataAcked)
		t.sndBufSeq += uint32(dataAcked)
		t.trimRecords()
		if t.sndBuf.Len() == 0 {
			// Everything acknowledged: an idle connection keeps no send
			// buffer memory (released by the reclaim timer, so that a
			// busy one does not reallocate for every burst).
			t.bufferDrained(true)
		}
		t.info.bytesAcked += uint64(dataAcked)
	}
	t.sndUna = ack
	if t.sndUrg && seqGEQ(t.sndUna, t.sndUp) {
		t.sndUrg = false
	}

	// RTT: timestamps (RFC 7323 4.1) or the one timed segment (Karn).
	rtt := time.Duration(-1)
	if t.tsOK && seg.Options.HasTimestamps && seg.Options.TSEcr != 0 {
		d := int32(t.tsNow() - seg.Options.TSEcr)
		// Karn's rule still applies when the echo predates the last timeout
		// retransmission: the peer is echoing the original transmission
		// (its ACK of it was lost), and the time since then includes the
		// RTO wait, not a round trip (RFC 6298 3, MUST-18).
		if t.retrans > 0 && seqLT(seg.Options.TSEcr, t.rtxTSVal) {
			d = -1
		}
		if d >= 0 {
			rtt = time.Duration(d) * time.Millisecond
			if rtt == 0 {
				rtt = 500 * time.Microsecond
			}
		}
	} else if t.rttTiming && seqGT(ack, t.rttSeq) {
		if t.retrans == 0 {
			rtt = t.now - t.rttStart
		}
		t.rttTiming = false
	}
	if rtt >= 0 {
		t.rtt.sample(rtt)
	}
	ai.rttSample = rtt
	t.backoff = 0
	t.retrans = 0
	t.probesOut = 0
	if t.sndUna == t.sndMax {
		t.persist = false
	}
	if seqLT(t.sndNxt, t.sndUna) {
		t.sndNxt = t.sndUna
	}
	if t.sndBuf.Free() > 0 {
		t.raise(EventWritable)
	}
}

// updateWindow: RFC 9293 3.10.7.4 fifth check, window update rule, with
// Linux's tcp_may_update_window refinement.
func (t *TCB) updateWindow(seg *Segment) {
	wnd := uint32(seg.Window) << t.sndWscale
	if seqLT(t.sndWl1, seg.Seq) || (t.sndWl1 == seg.Seq && seqLEQ(t.sndWl2, seg.Ack)) || seqGT(seg.Ack, t.sndWl2) {
		if wnd != t.sndWnd {
			t.info.windowUpdates++
			if t.Unsent() > 0 {
				// Linux (tcp_ack_update_window): a window change with data
				// waiting may end an idle period (ssai.go).
				t.slowStartAfterIdleCheck()
			}
		}
		t.sndWnd = wnd
		t.sndWl1, t.sndWl2 = seg.Seq, seg.Ack
		if wnd > t.maxSndWnd {
			t.maxSndWnd = wnd
		}
	}
}

// acceptData stores in-window data starting at seq and advances RCV.NXT
// (RFC 9293 3.10.7.4 seventh check), out of order data included (RFC 9293
// SHLD-? reassembly).
func (t *TCB) acceptData(seq uint32, p []byte) {
	// Trim what was already received.
	if seqLT(seq, t.rcvNxt) {
		skip := t.rcvNxt - seq
		t.setDSACK(seq, seq+uint32(len(p)))
		if skip >= uint32(len(p)) {
			t.st().DuplicateData++
			t.ackPending = true
			t.enterQuickAckMode(t.cfg.QuickAcks)
			t.quickAck()
			return
		}
		t.ackPending = true
		t.quickAck()
		p = p[skip:]
		seq = t.rcvNxt
	}
	// Trim what lies beyond the window we offered.
	wnd := uint32(0)
	if seqGT(t.rcvAdv, t.rcvNxt) {
		wnd = t.rcvAdv - t.rcvNxt
	}
	off := seq - t.rcvNxt
	if off >= wnd {
		t.st().DataBeyondWindow++
		t.ackPending = true
		t.enterQuickAckMode(t.cfg.QuickAcks)
		t.quickAck()
		return
	}
	if uint32(len(p)) > wnd-off {
		t.st().DataBeyondWindow++
		p = p[:wnd-off]
	}
	if t.rcvFin {
		return
	}
	t.ecnCheckCE()
	if len(p) > t.rcvMSS && len(p) <= int(t.advMSS) {
		t.rcvMSS = len(p)
	}
	if off > 0 {
		t.flushHeldSACK(seq, len(p)) // sackflush.go: RFC 2018 4
	}
	if off > 0 && t.sackOK && t.cfg.DSACK {
		// Out-of-order data already held: a duplicate too (RFC 2883 4).
		for _, r := range t.rcvBuf.oooRanges() {
			if int(off) >= r.start && int(off)+len(p) <= r.end {
				t.dsack = wire.SACKBlock{Left: seq, Right: seq + uint32(len(p))}
				t.dsackPending = true
				break
			}
		}
	}
	direct := 0
	if off == 0 && t.lent != nil {
		direct = t.deliverDirect(p)
	}
	var advanced, stored int
	if staged := t.stagedPrefix(p); staged > 0 && !t.stagedLent && off == 0 && direct == 0 {
		advanced, stored = t.rcvBuf.writeStaged(p, staged)
	} else {
		advanced, stored = t.rcvBuf.write(int(off), p[direct:])
	}
	advanced += direct
	stored += direct
	t.info.dataSegsIn++
	if stored < len(p) {
		t.st().OutOfOrderDropped++
	}
	if off > 0 {
		// Out of order: ACK at once so the sender learns of the gap (RFC 5681
		// 4.2, RFC 9293 SHLD-?).
		t.st().OutOfOrderSegments++
		t.lastOOO, t.lastOOOValid = seq, true
		t.sackHeld = true
		t.ackPending = true
		t.quickAck()
		return
	}
	hadGap := t.rcvBuf.oooBytes() > 0 || advanced > len(p)
	t.dataRecvAckMode()
	t.lastDataRecv = t.now
	t.rcvNxt += uint32(advanced)
	t.info.bytesReceived += uint64(advanced)
	if t.peerFin && t.rcvNxt == t.peerFinSeq {
		t.peerFin = false
		t.receiveFin(t.peerFinSeq)
	} else if t.peerFin && seqGT(t.rcvNxt, t.peerFinSeq) {
		// Data ran past a FIN seen out of order (they conflict): the FIN
		// is stale, as Linux drops an out-of-order segment that RCV.NXT
		// has passed.
		t.peerFin = false
	}
	t.growRcvSsthresh(len(p))
	t.ackPending = true
	if hadGap {
		// Filling a hole: ACK immediately (RFC 5681 4.2).
		t.quickAck()
	} else if len(p) >= t.rcvMSS {
		t.segsUnAck++
	}
	if advanced > 0 {
		t.raise(EventReadable)
	}
}

// growRcvSsthresh lets the offered window grow as data arrives, two segments
// at a time, up to what the buffer can hold (Linux's tcp_grow_window).
// Like Linux's tcp_event_data_recv, segments shorter than 128 bytes do not
// grow it: their overhead would outweigh their data.
func (t *TCB) growRcvSsthresh(n int) {
	if n < 128 {
		return
	}
	limit := uint32(winFromSpace(t.rcvBuf.limit(), t.cfg.AdvWinScale))
	if t.rcvSsthresh < limit {
		t.rcvSsthresh += uint32(2 * t.rcvMSS)
		if t.rcvSsthresh > limit {
			t.rcvSsthresh = limit
		}
	}
}

func (t *TCB) quickAck() { t.segsUnAck = 1 << 20 }

// receiveFin processes a FIN at sequence number seq (RFC 9293 3.10.7.4
// eighth check). A FIN beyond RCV.NXT waits for the missing data.
func (t *TCB) receiveFin(seq uint32) {
	switch t.state {
	case Closed, Listen, SynSent:
		return
	}
	if t.rcvFin {
		// A retransmitted FIN: ACK it again.
		t.ackPending = true
		t.quickAck()
		return
	}
	if seq != t.rcvNxt {
		if seqGT(seq, t.rcvNxt) {
			t.peerFin, t.peerFinSeq = true, seq
		}
		t.ackPending = true
		t.quickAck()
		return
	}
	t.rcvFin = true
	t.rcvNxt++
	// The stream ends here: a FIN seen earlier beyond this point, and any
	// out-of-order data past it, can never be delivered (Linux's tcp_fin
	// purges the out-of-order queue likewise).
	t.peerFin = false
	t.rcvBuf.dropOutOfOrder()
	t.ackPending = true
	switch t.state {
	case SynReceived, Established:
		// Linux's tcp_fin enters pingpong mode: the ACK of the FIN is
		// delayed like one for data, unless no data has arrived yet (the
		// delayed-ACK engine has not started: its timeout is 0).
		t.pingpong = true
		if t.info.dataSegsIn == 0 {
			t.quickAck()
		}
	default:
		t.quickAck()
	}
	switch t.state {
	case SynReceived, Established:
		t.setState(CloseWait, CauseFinReceived)
	case FinWait1:
		if t.finSent && seqGT(t.sndUna, t.finSeq) {
			t.setState(TimeWait, CauseFinAckReceived)
		} else {
			t.setState(Closing, CauseFinReceived)
		}
	case FinWait2:
		t.setState(TimeWait, CauseFinReceived)
	}
	t.raise(EventReadable)
}

// ackIfNeeded sends the owed ACK now or arms the delayed-ACK timer, like
// Linux: immediately in quick-ACK mode, for every second full-sized segment,
// and for out-of-order data or a FIN; otherwise after the delayed-ACK timeout
// (RFC 9293 3.8.6.3, SHLD-18/19, RFC 5681 4.2).
func (t *TCB) ackIfNeeded() {
	if !t.ackPending || t.holdAck {
		return
	}
	if t.state == Closed || t.state == Listen || t.state == SynSent {
		t.ackPending = false
		return
	}
	// Linux's __tcp_ack_snd_check: also ACK once more than one receive MSS
	// has arrived since the last ACK, so that streams of small segments
	// are acknowledged every 2*RMSS bytes too (SHLD-19).
	if t.segsUnAck >= 2 || (t.quickAcks > 0 && !t.pingpong) || int(t.rcvNxt-t.lastAckSent) > t.rcvMSS {
		t.sendAck()
		return
	}
	t.armDelAck()
}

// inputTimeWait: a retransmitted FIN is acknowledged again and restarts the
// 2MSL timer (RFC 9293 3.10.7.4); an acceptable RST ends TIME_WAIT unless
// tcp_rfc1337 is set (RFC 1337); anything else is acknowledged.
func (t *TCB) inputTimeWait(seg *Segment) {
	// One set of TIME_WAIT rules serves both a full TCB and the compact
	// record a host keeps instead (TimeWaitRecord.Input).
	tw, _ := t.TimeWaitRecord()
	reply, send, v := tw.Input(t.now, t.cfg, seg)
	t.tsRecent, t.tsRecentT = tw.TSRecent, tw.TSRecentAt
	if tw.Expires != t.closeTimer.at() {
		t.closeTimer.set(tw.Expires)
	}
	f := seg.Flags
	switch {
	case v == TimeWaitClose:
		t.st().RSTsAccepted++
		t.dead = true
		t.setState(Closed, CauseResetReceived)
		return
	case f&wire.FlagRST != 0:
		t.st().RSTsIgnored++
	case v == TimeWaitNewSYN:
		// A TCB cannot become the new incarnation itself: its owner asks
		// TimeWaitAcceptsSYN first and opens a fresh TCB. Here the SYN is
		// answered like any other stray segment.
		t.st().SYNInSynchronized++
		reply, send = tw.ack(t.now), true
	case f&wire.FlagFIN != 0:
		t.st().FinRetransmitted++
	case send:
		t.st().OutOfWindow++
	}
	if send {
		*t.seg = reply
		t.info.segsOut++
		t.out.Segment(t.seg)
	}
}

// TimeWaitAcceptsSYN reports whether a SYN arriving for this connection in
// TIME_WAIT may open a new incarnation of it (RFC 9293 3.6.1 / RFC 6191, as
// Linux does): its sequence number is beyond the old RCV.NXT, or its
// timestamp is newer than TS.Recent.
func (t *TCB) TimeWaitAcceptsSYN(seg *Segment) bool {
	tw, ok := t.TimeWaitRecord()
	if !ok {
		return false
	}
	_, _, v := tw.Input(t.now, t.cfg, seg)
	return v == TimeWaitNewSYN
}

// NextISNAfterTimeWait is the ISN Linux picks for a connection that reuses a
// TIME_WAIT 4-tuple: beyond anything the old incarnation sent.
func (t *TCB) NextISNAfterTimeWait() uint32 { return t.sndNxt + 65535 + 2 }

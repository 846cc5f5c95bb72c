package tcp

import (
	"time"

	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// Loss recovery: the sender's congestion state machine, SACK processing
// (RFC 2018, RFC 2883 DSACK), SACK-based recovery with RFC 6675's pipe,
// RACK-TLP loss detection (rack.go, RFC 8985), Proportional Rate Reduction
// (RFC 6937), F-RTO (RFC 5682) and the undo of spurious recoveries (RFC
// 3522 Eifel detection with timestamps, DSACK-based undo as Linux does it).
//
// The states are Linux's (tcpi_ca_state), since tools and packetdrill
// scripts read them:
//
//	Open      nothing suspicious
//	Disorder  SACKs or duplicate ACKs seen, nothing deemed lost yet
//	CWR       the window is being reduced without a loss (ECN, a repaired
//	          tail loss found by TLP)
//	Recovery  fast recovery: losses detected by ACKs, PRR paces the
//	          retransmissions (RFC 6675 5, RFC 6937)
//	Loss      after a retransmission timeout: everything outstanding is
//	          deemed lost and resent from a window of one (RFC 5681 3.1)
type caState uint8

const (
	caOpen caState = iota
	caDisorder
	caCWR
	caRecovery
	caLoss
)

var caNames = [...]string{"open", "disorder", "cwr", "recovery", "loss"}

func (c caState) String() string { return caNames[c] }

// Kinds of the retransmission timer (the one timer serves the RTO, the
// loss probe and RACK's reordering timer, as in Linux).
const (
	rtxKindRTO uint8 = iota
	rtxKindTLP
	rtxKindReo
)

// ackInfo is what one ACK delivered, gathered while it is processed.
type ackInfo struct {
	priorUna    uint32 // SND.UNA before this ACK
	unaAdvanced bool
	ackedSegs   uint32 // segments removed from the queue
	delivered   uint32 // segments newly acknowledged or SACKed (RFC 6937 DeliveredData, in segments)
	sackedNew   uint32
	origAcked   bool // a never-retransmitted segment was acknowledged or SACKed
	dsack       bool
	dupAck      bool
	ece         bool   // the ACK carried ECN-Echo for data in flight (RFC 3168 6.1.2)
	reordLow    uint32 // lowest never-retransmitted segment delivered below fack
	reordValid  bool
	rttSample   time.Duration
	caRTT       time.Duration // congestion control's sample (ccrtt.go), set with unaAdvanced
}

// armRTO (re)starts the retransmission timeout (RFC 6298 5.1, 5.3).
func (t *TCB) armRTO() {
	t.rtxKind = rtxKindRTO
	t.persist = false
	t.rtxTimer.set(t.now + t.rtoBackedOff())
}

// rtxAck removes the segments that ack covers from the queue (RFC 9293
// 3.10.7.4: "any segments on the retransmission queue that are thereby
// entirely acknowledged are removed").
func (t *TCB) rtxAck(ack uint32, tsEcr uint32, ai *ackInfo) {
	q := &t.rtxq
	priorFack, fackValid := t.rack.fack, t.rack.fackValid
	var last *txSeg
	for q.head < len(q.segs) {
		s := &q.segs[q.head]
		if seqLT(ack, s.end) {
			if seqGT(ack, s.start) {
				// Partly acknowledged: keep the rest.
				s.start = ack
			}
			break
		}
		if !s.has(txSacked) {
			ai.delivered++
			if !s.has(txEverRetrans) {
				// F-RTO's evidence: original data from before the
				// timeout was delivered (Linux FLAG_ORIG_SACK_ACKED).
				ai.origAcked = ai.origAcked || !seqGT(s.end, t.highSeq)
				if fackValid && seqLT(s.start, priorFack) && (!ai.reordValid || seqLT(s.start, ai.reordLow)) {
					ai.reordLow, ai.reordValid = s.start, true
				}
			}
			last = s
		}
		ai.ackedSegs++
		q.uncount(s)
		q.head++
	}
	if last != nil {
		t.rackUpdate(last, tsEcr)
		t.rackDelivered(last)
	}
	if q.head == len(q.segs) {
		q.segs = q.segs[:0]
		q.head = 0
		q.highRetrans, q.highRetransValid = 0, false
		if !t.sackOK {
			q.sacked = 0
		}
	}
}

// sackTag processes the SACK blocks of an ACK (RFC 2018 5, RFC 6675 2,
// RFC 2883 4 for DSACKs).
func (t *TCB) sackTag(seg *Segment, ai *ackInfo) {
	o := &seg.Options
	n := o.NumSACK
	if n == 0 {
		return
	}
	blocks := o.SACKBlocks[:n]
	// RFC 2883 4: the first block reports a duplicate when it lies below the
	// cumulative ACK or within the second block.
	first := 0
	if b := blocks[0]; seqLT(b.Left, seg.Ack) || n > 1 && seqGEQ(b.Left, blocks[1].Left) && seqLEQ(b.Right, blocks[1].Right) {
		if seqLT(b.Left, b.Right) {
			t.dsackSeen(b)
			ai.dsack = true
		}
		first = 1
	}
	q := &t.rtxq
	priorFack, fackValid := t.rack.fack, t.rack.fackValid
	for _, b := range blocks[first:] {
		// Linux's tcp_is_sackblock_valid: inside what was sent, not below
		// SND.UNA, not larger than any window the peer offered.
		if !seqLT(b.Left, b.Right) || seqGT(b.Right, t.sndMax) || seqLT(b.Left, t.sndUna) || b.Right-b.Left > t.maxSndWnd && t.maxSndWnd > 0 {
			t.st().SACKBlocksDiscarded++
			continue
		}
		i := q.find(b.Left)
		if i < 0 {
			continue
		}
		for ; i < len(q.segs) && seqLT(q.segs[i].start, b.Right); i++ {
			s := &q.segs[i]
			// Entries are single segments: like Linux, which splits only
			// multi-segment buffers and at MSS boundaries, a block that
			// covers part of a segment does not SACK it. (It also keeps a
			// peer SACKing single bytes from fragmenting the queue.)
			if s.has(txSacked) || seqLT(s.start, b.Left) || seqGT(s.end, b.Right) {
				continue
			}
			q.markSacked(s)
			ai.delivered++
			ai.sackedNew++
			if !s.has(txEverRetrans) {
				ai.origAcked = ai.origAcked || !seqGT(s.end, t.highSeq)
				if fackValid && seqLT(s.start, priorFack) && (!ai.reordValid || seqLT(s.start, ai.reordLow)) {
					ai.reordLow, ai.reordValid = s.start, true
				}
			}
			t.rackUpdate(s, o.TSEcr)
			t.rackDelivered(s)
		}
	}
}

// dsackSeen accounts a DSACK block: the retransmissions it covers were
// unnecessary (RFC 2883 4.1), which both undo (Linux undo_retrans) and
// RACK's reordering window (RFC 8985 6.2 step 4) learn from.
func (t *TCB) dsackSeen(b wire.SACKBlock) {
	n := b.Right - b.Left
	if t.maxSndWnd > 0 && n > t.maxSndWnd {
		// Larger than any window offered: not believable.
		t.st().SACKBlocksDiscarded++
		return
	}
	segs := uint32(1)
	tlp := false
	if t.mss > 0 && n > uint32(t.mss) {
		segs = (n + uint32(t.mss) - 1) / uint32(t.mss)
	} else if t.rack.tlpOut && b.Right == t.rack.tlpEnd {
		tlp = true // the loss probe was a duplicate (RFC 8985 7.4)
	}
	st := t.st()
	st.DSACKDups += uint64(segs)
	if st.DSACKDups > uint64(t.info.totalRetrans) {
		// More duplicates than retransmissions: the network duplicated
		// them, nothing to learn about our retransmissions.
		return
	}
	if t.undoValid && t.undoRetrans > 0 && seqGT(b.Right, t.undoMarker) {
		t.undoRetrans = max(t.undoRetrans-int(segs), 0)
	}
	// RACK widens its window only for DSACKs that reordering may explain,
	// not for a duplicate loss probe (RFC 8985 6.2 step 4, as Linux).
	if t.rack.reordSeen > 0 && !tlp {
		t.rackDSACK()
	}
}

// isDupAck is RFC 5681 2's duplicate ACK: it acknowledges nothing new,
// carries no data, SYN or FIN, does not change the window, and data is
// outstanding.
func (t *TCB) isDupAck(seg *Segment, prevUna, prevWnd uint32) bool {
	if len(seg.Payload) != 0 || seg.Flags&(wire.FlagSYN|wire.FlagFIN) != 0 || t.sndUna == t.sndMax || seg.Ack != prevUna {
		return false
	}
	// A window update is not a duplicate ACK (RFC 5681 2, condition (e):
	// the window is compared with the one before this segment).
	return uint32(seg.Window)<<t.sndWscale == prevWnd
}

// renoSACK emulates a scoreboard for a peer without SACK, as Linux does:
// each duplicate ACK stands for one segment that left the network (RFC
// 5681 3.2 step 4), counted in rtxq.sacked, never more than the segments
// outstanding minus the holes.
func (t *TCB) renoDupAck(ai *ackInfo) {
	q := &t.rtxq
	holes := max(q.lost, 1)
	out := q.packetsOut()
	if q.sacked+holes < out {
		q.sacked++
		ai.delivered++
	}
}

// renoAcked: a cumulative ACK fills the hole; the segments beyond it that
// duplicate ACKs had reported are no longer counted.
func (t *TCB) renoAcked(ai *ackInfo) {
	q := &t.rtxq
	if ai.ackedSegs == 0 {
		return
	}
	acked := ai.ackedSegs
	// ackedSegs were all counted as delivered by rtxAck; those that
	// duplicate ACKs already reported are not new.
	if dup := min(q.sacked, acked-1); dup > 0 {
		ai.delivered -= min(dup, ai.delivered-1)
	}
	if acked-1 >= q.sacked {
		q.sacked = 0
	} else {
		q.sacked -= acked - 1
	}
	if t.ca < caRecovery {
		// Outside recovery an advancing ACK ends the duplicate ACK run.
		q.sacked = 0
	}
	t.renoLimit()
}

// renoLimit keeps the duplicate ACK count below the segments outstanding
// minus the holes (Linux tcp_limit_reno_sacked): a count above it means
// the duplicates were reordering, not departures.
func (t *TCB) renoLimit() {
	q := &t.rtxq
	out := q.packetsOut()
	holes := min(max(q.lost, 1), out)
	if q.sacked+holes > out {
		q.sacked = out - holes
	}
}

// onAck runs the recovery state machine for one acceptable ACK (Linux's
// tcp_fastretrans_alert and tcp_cong_control, after RFC 6675 5, RFC 8985,
// RFC 6937 and RFC 5682), then retransmits what is deemed lost and sets the
// timer.
func (t *TCB) onAck(seg *Segment, ai *ackInfo) {
	q := &t.rtxq
	t.ccs.Now = t.now
	t.ccs.SRTT = t.rtt.srtt()
	t.ccs.MinRTT = t.rtt.minRTT()
	t.ccs.SndUna, t.ccs.SndNxt = t.sndUna, t.sndNxt
	if !t.sackOK {
		if ai.dupAck {
			t.renoDupAck(ai)
		}
		if ai.unaAdvanced {
			t.renoAcked(ai)
		}
	}
	if ai.reordValid {
		t.noteReordering(ai.reordLow)
	}
	t.tlpAck(seg.Ack, ai.dsack)
	if ai.unaAdvanced || ai.delivered > 0 {
		t.ccs.InFlight = t.packetsInFlight()
		t.cc.PktsAcked(&t.ccs, ai.delivered, ai.ccRTT())
	}
	lostBefore := q.lost

	// The end of an episode: SND.UNA reached the recovery point (RFC 6675
	// 5 step (A): "RecoveryPoint", RFC 6582 3.2 step 3).
	switch t.ca {
	case caCWR:
		// CWR holds until something above the reduction point is
		// acknowledged, so that the CWR flag has reached the receiver
		// (Linux tcp_fastretrans_alert).
		if seqGT(t.sndUna, t.highSeq) {
			t.endCwndReduction()
			t.ca = caOpen
		}
	case caRecovery:
		if ai.unaAdvanced && seqLT(t.sndUna, t.highSeq) && t.undoValid && t.packetDelayed(seg) {
			// The hole was filled by the original, not the retransmission
			// (the echoed timestamp predates it, RFC 3522): reordering,
			// deeper than known. With retransmissions still out, keep
			// going but mark and resend nothing more; otherwise undo
			// (Linux tcp_try_undo_partial).
			t.noteReordering(ai.priorUna)
			if t.rtxq.retrans > 0 {
				t.congControl(ai, 0)
				t.setXmitTimer(ai, 0)
				return
			}
			t.undo(true)
			t.ca = caOpen
		}
		if t.ca != caRecovery {
			break
		}
		if !t.sackOK && t.sndUna == t.highSeq && !t.mayUndo(seg) {
			// Without SACK, hold the state until something above the
			// recovery point is acknowledged, or duplicate ACKs for the
			// segments sent after it would start a false fast retransmit
			// (RFC 6582 3.2 step 4, Linux tcp_try_undo_recovery).
		} else if seqGEQ(t.sndUna, t.highSeq) {
			if t.mayUndo(seg) {
				t.undo(false)
			} else {
				t.endCwndReduction()
			}
			t.ca = caOpen
			t.rackRecoveryEnded()
		} else if ai.dsack && t.undoValid && t.undoRetrans == 0 {
			// Every retransmission was a duplicate: the recovery was
			// spurious (Linux tcp_try_undo_dsack).
			t.undo(false)
			t.ca = caOpen
		}
	case caOpen, caDisorder:
		if ai.dsack && t.undoValid && t.undoRetrans == 0 {
			// DSACKs that arrive after the episode ended can still prove
			// it spurious (Linux tcp_try_undo_dsack).
			t.undo(false)
		}
	case caLoss:
		if t.processLoss(seg, ai) {
			// F-RTO sent new data (its window already updated).
			t.setXmitTimer(ai, 0)
			return
		}
	}

	// Loss detection.
	var wait time.Duration
	switch {
	case t.sackOK && t.cfg.Recovery&RecoveryRACK != 0:
		if t.rack.advanced {
			t.rack.advanced = false
			wait = t.rackDetectLoss()
		}
	case t.sackOK:
		t.markLostRFC6675()
	default:
		// NewReno (RFC 6582): the head is lost at DupThresh duplicate ACKs
		// and after each partial ACK during recovery.
		if t.ca < caRecovery && q.sacked >= t.rack.reordering || t.ca == caRecovery && ai.unaAdvanced {
			if q.head < len(q.segs) {
				q.markLost(&q.segs[q.head])
				t.renoLimit()
			}
		}
	}
	if t.ca < caRecovery && q.lost > 0 {
		t.enterRecovery(ai.ece)
	} else if ai.ece && t.ca < caCWR {
		// ECN-Echo without a loss: reduce once per window (RFC 3168
		// 6.1.2), where Linux's tcp_try_to_open does.
		t.onECE()
	}
	if t.ca == caOpen || t.ca == caDisorder {
		t.ca = caOpen
		if q.sacked > 0 || q.retrans > 0 || q.lost > 0 {
			t.ca = caDisorder
		}
	}
	newlyLost := uint32(0)
	if q.lost > lostBefore {
		newlyLost = q.lost - lostBefore
	}
	t.congControl(ai, newlyLost)
	if t.ca == caRecovery || t.ca == caLoss {
		t.xmitRetransmitQueue()
	}
	t.setXmitTimer(ai, wait)
}

// congControl adjusts cwnd after an ACK: PRR while the window is being
// reduced, the algorithm's growth otherwise (Linux tcp_cong_control).
func (t *TCB) congControl(ai *ackInfo, newlyLost uint32) {
	if t.ca == caCWR || t.ca == caRecovery {
		t.prr(ai.delivered, newlyLost, ai.unaAdvanced)
		return
	}
	if !t.mayRaiseCwnd(ai) {
		return
	}
	cwnd := t.ccs.Cwnd
	t.ccs.CwndLimited = t.cwndLimited()
	t.ccs.InFlight = t.packetsInFlight()
	t.cc.CongAvoid(&t.ccs, ai.delivered)
	if t.ccs.Cwnd > cwnd {
		t.expandSndBuf()
	}
}

// mayRaiseCwnd is Linux's tcp_may_raise_cwnd: the window grows on ACKs
// that acknowledge new data, or, once reordering is known to be deeper
// than the default DupThresh, on ACKs that SACK new data too.
func (t *TCB) mayRaiseCwnd(ai *ackInfo) bool {
	if ai.delivered == 0 {
		return false
	}
	if t.rack.reordering > uint32(t.cfg.dupThresh()) {
		return true
	}
	return ai.unaAdvanced
}

// enterRecovery starts fast recovery (RFC 6675 5 step (4), RFC 5681 3.2):
// ssthresh from the algorithm, PRR from zero, the recovery point at
// SND.NXT.
func (t *TCB) enterRecovery(ece bool) {
	t.info.fastRetrans++
	t.initUndo()
	if t.ca != caCWR {
		t.priorSsthresh = t.ccs.Ssthresh
		if ece {
			t.priorSsthresh = 0
		}
		t.initCwndReduction()
		t.cc.OnEvent(&t.ccs, cc.EventRecoveryStart)
	}
	t.ca = caRecovery
}

// enterCWR starts a window reduction without a loss (ECN, a repaired tail
// loss), once per window (RFC 3168 6.1.2).
func (t *TCB) enterCWR() {
	if t.ca >= caCWR {
		return
	}
	// No undo for a reduction the network asked for.
	t.undoValid = false
	t.priorSsthresh = 0
	t.initCwndReduction()
	t.ca = caCWR
}

// initCwndReduction is RFC 6937's initialisation: RecoverFS is the window
// before the reduction (Linux prior_cwnd), prr_delivered and prr_out start
// at zero, ssthresh comes from the algorithm.
func (t *TCB) initCwndReduction() {
	t.highSeq = t.sndNxt
	t.rack.tlpOut = false
	t.ccs.CwndCnt = 0
	t.priorCwnd = t.ccs.Cwnd
	t.prrDelivered, t.prrOut = 0, 0
	t.ccs.InFlight = t.packetsInFlight()
	t.ccs.SndUna, t.ccs.SndNxt = t.sndUna, t.sndNxt
	t.ccs.Ssthresh = t.cc.SSThresh(&t.ccs)
	// Every reduction is announced to an ECN peer (RFC 3168 6.1.2).
	t.ecnQueueCWR()
}

// prr is Proportional Rate Reduction (RFC 6937 3.1), in Linux's form:
// while pipe exceeds ssthresh, send in proportion to what is delivered;
// below it, slow-start back up to ssthresh (PRR-SSRB), by at most what was
// delivered (and one more when SND.UNA advanced without a new loss).
func (t *TCB) prr(delivered, newlyLost uint32, unaAdvanced bool) {
	if delivered == 0 || t.priorCwnd == 0 {
		return
	}
	t.prrDelivered += delivered
	pipe := int64(t.packetsInFlight())
	ssthresh := int64(t.ccs.Ssthresh)
	delta := ssthresh - pipe
	var sndcnt int64
	if delta < 0 {
		// RFC 6937: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
		sndcnt = (ssthresh*int64(t.prrDelivered)+int64(t.priorCwnd)-1)/int64(t.priorCwnd) - int64(t.prrOut)
	} else {
		sndcnt = max(int64(t.prrDelivered)-int64(t.prrOut), int64(delivered))
		if unaAdvanced && newlyLost == 0 {
			sndcnt++
		}
		sndcnt = min(delta, sndcnt)
	}
	if t.prrOut == 0 && sndcnt < 1 {
		// Force the fast retransmit when the reduction starts.
		sndcnt = 1
	}
	if sndcnt < 0 {
		sndcnt = 0
	}
	t.ccs.Cwnd = uint32(pipe + sndcnt)
}

// endCwndReduction: the reduction ends at ssthresh (RFC 6937 3.1, "on
// exiting recovery: cwnd = ssthresh").
func (t *TCB) endCwndReduction() {
	if t.ccs.Ssthresh < cc.InfiniteSSThresh && (t.ca == caCWR || t.undoValid) {
		t.ccs.Cwnd = t.ccs.Ssthresh
	}
	// undoValid stays: a DSACK may still prove the episode spurious.
	t.cc.OnEvent(&t.ccs, cc.EventRecoveryEnd)
}

// initUndo remembers where the episode started, so that it can be undone
// if it proves spurious.
func (t *TCB) initUndo() {
	t.undoValid = true
	t.undoMarker = t.sndUna
	t.undoRetrans = -1
	if t.rtxq.retrans > 0 {
		t.undoRetrans = int(t.rtxq.retrans)
	}
	t.retransStamp = 0
}

// mayUndo reports whether the episode was spurious: every retransmission
// was reported as a duplicate (DSACK, RFC 2883 4.1), or the ACK echoes a
// timestamp older than the first retransmission, so it acknowledges an
// original transmission (Eifel detection, RFC 3522).
func (t *TCB) mayUndo(seg *Segment) bool {
	if !t.undoValid {
		return false
	}
	if t.undoRetrans == 0 {
		return true
	}
	return t.packetDelayed(seg)
}

// packetDelayed is Eifel detection (RFC 3522 2): the ACK echoes a
// timestamp older than the first retransmission of the episode, so an
// original transmission got through.
func (t *TCB) packetDelayed(seg *Segment) bool {
	return t.retransStamp != 0 && t.tsOK && seg.Options.HasTimestamps && seg.Options.TSEcr != 0 &&
		seqLT(seg.Options.TSEcr, t.tsAt(t.retransStamp))
}

// undo restores the window from before a spurious episode (RFC 3522 3,
// RFC 5682 3.1: "the sender SHOULD ... restore"). With unmarkLoss, the
// segments deemed lost are forgiven.
func (t *TCB) undo(unmarkLoss bool) {
	q := &t.rtxq
	if unmarkLoss {
		for i := q.head; i < len(q.segs); i++ {
			s := &q.segs[i]
			if s.has(txLost) {
				s.flags &^= txLost
				q.lost--
			}
		}
	}
	if t.priorSsthresh != 0 {
		t.ccs.Cwnd = t.cc.UndoCwnd(&t.ccs)
		if t.priorSsthresh > t.ccs.Ssthresh {
			t.ccs.Ssthresh = t.priorSsthresh
		}
	}
	t.undoValid = false
	t.st().SpuriousUndos++
	t.rack.advanced = true
	t.ecnWithdrawCWR()
}

// markLostRFC6675 is RFC 6675 4's IsLost, used when RACK is disabled
// (tcp_recovery=0): a segment is lost when DupThresh segments above it are
// SACKed.
func (t *TCB) markLostRFC6675() {
	q := &t.rtxq
	dupThresh := t.rack.reordering
	if q.sacked < dupThresh {
		return
	}
	above := uint32(0)
	for i := len(q.segs) - 1; i >= q.head; i-- {
		s := &q.segs[i]
		if s.has(txSacked) {
			above++
			continue
		}
		if above >= dupThresh && !s.has(txLost) {
			q.markLost(s)
		}
	}
}

// xmitRetransmitQueue retransmits segments deemed lost, oldest first, while
// pipe is below cwnd (RFC 6675 5 step (C), NextSeg rule 1).
func (t *TCB) xmitRetransmitQueue() {
	q := &t.rtxq
	rearm := false
	for i := q.head; i < len(q.segs); i++ {
		if q.retrans >= q.lost || t.packetsInFlight() >= t.ccs.Cwnd {
			break
		}
		s := &q.segs[i]
		if !s.has(txLost) || s.has(txSacked) || s.has(txRetrans) {
			continue
		}
		if !t.retransmitSeg(i) {
			break
		}
		if i == q.head {
			rearm = true
		}
	}
	if rearm && !(t.rtxTimer.on() && t.rtxKind == rtxKindReo) || t.rtxTimer.on() && t.rtxKind == rtxKindTLP && t.ca >= caRecovery {
		// The oldest segment went again: its timeout starts afresh
		// (RFC 6298 5.3; no loss probe during recovery, RFC 8985 7.2).
		t.armRTO()
	}
}

// retransmitSeg resends queue entry i (split to the current MSS first) and
// reports whether it went out.
func (t *TCB) retransmitSeg(i int) bool {
	q := &t.rtxq
	s := &q.segs[i]
	mss := uint32(t.effectiveMSS())
	if s.end-s.start > mss+1 || s.end-s.start == mss+1 && !s.has(txFIN) {
		// The path MSS shrank since it was sent.
		q.split(i, s.start+mss, len(q.segs)+1)
		s = &q.segs[i]
	}
	t.collapseForRetransmit(i, mss)
	s = &q.segs[i]
	fin := s.has(txFIN)
	n := int(s.end - s.start)
	if fin {
		n--
	}
	if t.txBlocked() {
		// The local queue refuses packets: the retransmission did not
		// happen, and the segment stays eligible (Linux: the qdisc drop
		// fails tcp_transmit_skb).
		t.st().TxBlocked++
		return false
	}
	off := int(s.start - t.sndBufSeq)
	if off < 0 || off+n > t.sndBuf.Len() {
		// The queue and the buffer disagree; never send garbage.
		t.st().RetransmitQueueMismatch++
		return false
	}
	flags := wire.FlagACK
	end := s.start + uint32(n)
	if n > 0 && t.pushFlag(s.start, end, true) {
		flags |= wire.FlagPSH
	}
	if fin {
		flags |= wire.FlagFIN
	}
	t.emit(flags, s.start, t.sndBuf.peek(off, n), false)
	if n > 0 {
		t.info.bytesRetrans += uint64(n)
		t.info.bytesSent += uint64(n)
		t.info.dataSegsOut++
		t.lastSend = t.now
	}
	t.info.totalRetrans++
	if t.ca == caCWR || t.ca == caRecovery {
		t.prrOut++
	}
	if t.retransStamp == 0 {
		t.retransStamp = t.now
	}
	if t.undoRetrans < 0 {
		t.undoRetrans = 0
	}
	t.undoRetrans++
	q.markRetransmitted(s, t.now)
	if !t.sackOK {
		// Repackaging may have merged segments: keep the duplicate ACK
		// count within what is outstanding.
		t.renoLimit()
	}
	if t.rttTiming && seqGEQ(t.rttSeq, s.start) && seqLT(t.rttSeq, s.end) {
		// Karn's rule: a retransmitted segment gives no RTT sample (RFC
		// 6298 3).
		t.rttTiming = false
	}
	if !t.rtxTimer.on() {
		t.armRTO()
	}
	return true
}

// firstUnsacked is the index of the oldest outstanding segment the peer has
// not SACKed, or -1.
func (t *TCB) firstUnsacked() int {
	q := &t.rtxq
	for i := q.head; i < len(q.segs); i++ {
		if !q.segs[i].has(txSacked) {
			return i
		}
	}
	return -1
}

// enterLoss is the retransmission timeout's effect on the scoreboard (RFC
// 6675 5.1, RFC 5681 3.1, Linux tcp_enter_loss): ssthresh is set once per
// episode, cwnd drops to one segment, and every segment not SACKed is
// deemed lost, except those sent too recently to judge, as RACK would
// (RFC 8985 6.3). A SACKed head means the peer reneged (RFC 2018 8): the
// SACK information is discarded.
func (t *TCB) enterLoss() {
	q := &t.rtxq
	newEpisode := t.ca <= caDisorder || !seqGT(t.highSeq, t.sndUna) || t.ca == caLoss && t.retrans == 0
	if newEpisode {
		t.priorSsthresh = t.ccs.Ssthresh
		t.priorCwnd = t.ccs.Cwnd
		t.ccs.Now = t.now
		t.ccs.SndUna, t.ccs.SndNxt = t.sndUna, t.sndNxt
		t.ccs.InFlight = t.packetsInFlight()
		t.ccs.Ssthresh = t.cc.SSThresh(&t.ccs)
		t.cc.OnEvent(&t.ccs, cc.EventLoss)
		t.initUndo()
	}
	if !t.sackOK {
		// The duplicate ACKs counted for a peer without SACK say nothing
		// about what a timeout deems lost.
		q.sacked = 0
	}
	reneged := q.head < len(q.segs) && q.segs[q.head].has(txSacked)
	if reneged {
		t.st().SACKReneging++
	}
	for i := q.head; i < len(q.segs); i++ {
		s := &q.segs[i]
		if reneged && s.has(txSacked) {
			s.flags &^= txSacked
			q.sacked--
		} else if i != q.head && t.rack.valid && s.xmit+t.rack.rtt-t.now > 0 {
			continue
		}
		q.markLost(s)
	}
	t.ccs.Cwnd = t.packetsInFlight() + 1
	t.ccs.CwndCnt = 0
	t.highSeq = t.sndNxt
	t.rack.tlpOut = false
	t.rack.reordering = min(t.rack.reordering, uint32(t.cfg.dupThresh()))
	// F-RTO (RFC 5682) on a first timeout, or repeated ones, not when the
	// timeout struck in the middle of a fast recovery.
	t.frto = t.cfg.FRTO > 0 && (t.ca < caRecovery || t.retrans > 0)
	t.ca = caLoss
	t.ecnQueueCWR()
}

// processLoss handles an ACK in the Loss state (RFC 5682 3.1, the SACK
// variant of F-RTO, and Linux tcp_process_loss). It reports true when the
// ACK was fully handled (nothing more to retransmit now).
func (t *TCB) processLoss(seg *Segment, ai *ackInfo) bool {
	recovered := !seqLT(t.sndUna, t.highSeq)
	if (ai.unaAdvanced || ai.dsack) && t.mayUndo(seg) {
		// Eifel (RFC 3522) or DSACK: the timeout was spurious.
		t.undo(true)
		t.ca = caOpen
		t.frto = false
		return false
	}
	if t.frto {
		if ai.origAcked {
			// RFC 5682 3.1 step 3.b (SACK form): a segment never
			// retransmitted was delivered after the timeout: spurious.
			t.undo(true)
			t.ca = caOpen
			t.frto = false
			return false
		}
		if seqGT(t.sndNxt, t.highSeq) {
			// Step 3.a: new data went out, yet a duplicate ACK or SACK
			// came: the loss was real.
			if ai.sackedNew > 0 || ai.dupAck {
				t.frto = false
			}
		} else if ai.unaAdvanced && !recovered {
			// Step 2.b: send new data rather than more retransmissions.
			t.highSeq = t.sndNxt
			if t.sndBuf.Len() > t.dataInFlight() && t.windowAllows(1) {
				t.congControl(ai, 0)
				before := t.sndNxt
				t.output()
				if t.sndNxt != before {
					return true
				}
			}
			t.frto = false
		}
	}
	if recovered {
		// RFC 5682 3.1 step 2.a / the conventional end of the loss
		// episode: everything outstanding at the timeout is acknowledged.
		t.ca = caOpen
		t.frto = false
		t.undoValid = false
		t.cc.OnEvent(&t.ccs, cc.EventRecoveryEnd)
		return false
	}
	return false
}

// setXmitTimer rearms the retransmission timer after an ACK: RACK's
// reordering timer when a segment awaits its verdict, a loss probe when
// TLP may send one, the RTO otherwise (RFC 6298 5.2-5.3, RFC 8985 6.3, 7.2).
func (t *TCB) setXmitTimer(ai *ackInfo, reoWait time.Duration) {
	if t.rtxq.packetsOut() == 0 && t.sndUna == t.sndMax {
		if !t.persist {
			t.rtxTimer.stop()
		}
		return
	}
	if q := &t.rtxq; ai.unaAdvanced && q.head < len(q.segs) && q.segs[q.head].has(txSacked) {
		// The ACK stopped at a SACKed segment: the peer may have reneged
		// (RFC 2018 8). Give it a moment to ACK it properly, then time
		// out and discard the SACK information (enterLoss), as Linux's
		// tcp_check_sack_reneging does after max(SRTT/2, 10 ms).
		t.rtxKind = rtxKindRTO
		t.persist = false
		t.rtxTimer.set(t.now + max(t.rtt.srtt()/2, 10*time.Millisecond))
		return
	}
	if reoWait > 0 {
		t.rtxKind = rtxKindReo
		t.persist = false
		t.rtxTimer.set(t.now + reoWait)
		return
	}
	if !ai.unaAdvanced && t.rtxTimer.on() && !t.persist && !(t.rtxKind == rtxKindReo) {
		// Nothing new acknowledged: the running timer stands (RFC 6298
		// 5.3 restarts it only for ACKs of new data).
		return
	}
	if t.tlpAllowed() {
		// After an ACK the probe is also due no later than the oldest
		// segment's RTO (Linux tcp_schedule_loss_probe, advanced).
		pto := t.tlpTimeout()
		if d := t.rtoDelta(); d > 0 && d < pto {
			pto = d
		}
		t.rtxKind = rtxKindTLP
		t.persist = false
		t.rtxTimer.set(t.now + pto)
		return
	}
	t.armRTO()
}

// scheduleLossProbe is called after new data was sent (Linux
// tcp_schedule_loss_probe from tcp_write_xmit): the probe replaces a running
// RTO if it is due earlier.
func (t *TCB) scheduleLossProbe() {
	if !t.tlpAllowed() || t.persist {
		return
	}
	if t.rtxTimer.on() && t.rtxKind == rtxKindReo {
		return
	}
	pto := t.tlpTimeout()
	if t.rtxTimer.on() && t.rtxKind == rtxKindRTO {
		if left := t.rtxTimer.at() - t.now; left < pto {
			pto = left
		}
	}
	t.rtxKind = rtxKindTLP
	t.rtxTimer.set(t.now + pto)
}

// reoTimeout: RACK's reordering timer expired (RFC 8985 6.3): run the loss
// detection again; losses start or continue recovery.
func (t *TCB) reoTimeout() {
	q := &t.rtxq
	prior := t.packetsInFlight()
	lostBefore := q.lost
	wait := t.rackDetectLoss()
	if t.packetsInFlight() != prior {
		if t.ca != caRecovery && t.ca != caLoss {
			t.enterRecovery(false)
			t.prr(1, q.lost-lostBefore, false)
		}
		t.xmitRetransmitQueue()
	}
	if wait > 0 {
		t.rtxKind = rtxKindReo
		t.rtxTimer.set(t.now + wait)
		return
	}
	if q.packetsOut() > 0 && !t.rtxTimer.on() {
		t.armRTO()
	}
}

// collapseForRetransmit repackages a retransmission (RFC 9293 3.8.6.2.1,
// RFC 1122 4.2.2.15 "MAY repacketize"), as Linux's tcp_retrans_try_collapse
// and tcp_retrans_collapse do: small segments that follow, not SACKed and not
// separated by a MSG_EOR boundary, join it up to one MSS; a short tail
// segment takes data written since (so that what Nagle held is not held
// until an ACK that may never come, RFC 9293 MUST-60).
func (t *TCB) collapseForRetransmit(i int, mss uint32) {
	q := &t.rtxq
	wndEnd := t.sndUna + t.sndWnd
	for i+1 < len(q.segs) {
		s, nx := &q.segs[i], &q.segs[i+1]
		if s.has(txFIN) || s.has(txSacked) || nx.has(txSacked) {
			return
		}
		data := nx.end - s.start
		if nx.has(txFIN) {
			data--
		}
		if data > mss || seqGT(nx.end, wndEnd) {
			return
		}
		if n, _ := t.eorLimit(s.start, int(data)); n < int(data) {
			return
		}
		q.uncount(nx)
		s.end = nx.end
		s.flags = s.flags&^txPktEnd | nx.flags&(txFIN|txEverRetrans|txPktEnd)
		copy(q.segs[i+1:], q.segs[i+2:])
		q.segs = q.segs[:len(q.segs)-1]
	}
	s := &q.segs[i]
	if i != len(q.segs)-1 || s.has(txFIN) || s.end != t.sndNxt || s.end-s.start >= mss {
		return
	}
	unsent := t.sndBuf.Len() - int(t.sndNxt-t.sndBufSeq)
	n := min(unsent, int(mss-(s.end-s.start)))
	if n <= 0 {
		return
	}
	if total, _ := t.eorLimit(s.start, int(s.end-s.start)+n); total < int(s.end-s.start)+n {
		n = total - int(s.end-s.start)
	}
	if room := int(wndEnd - s.end); seqLT(wndEnd, s.end) || room < n {
		n = max(room, 0)
		if seqLT(wndEnd, s.end) {
			n = 0
		}
	}
	if n <= 0 {
		return
	}
	s.end += uint32(n)
	t.sndNxt = s.end
	t.sndMax = s.end
	if int(s.end-t.sndBufSeq) == t.sndBuf.Len() && t.finQueued && !t.finSent {
		// Everything queued is in it: the FIN can ride along.
		t.finSent, t.finSeq = true, s.end
		s.end++
		s.flags |= txFIN
		t.sndNxt, t.sndMax = s.end, s.end
	}
}

// simpleRetransmit resends, at once and at the new size, the segments too
// large for a path MTU that just shrank (RFC 1191 and RFC 8201 say the
// sender should repacketize; Linux's tcp_simple_retransmit). The packets
// were dropped by a router, not by congestion: cwnd stays, and the Loss
// state only makes the scoreboard resend them.
func (t *TCB) simpleRetransmit() {
	q := &t.rtxq
	mss := uint32(t.effectiveMSS())
	marked := false
	for i := q.head; i < len(q.segs); i++ {
		s := &q.segs[i]
		n := s.end - s.start
		if s.has(txFIN) {
			n--
		}
		if n > mss && q.markLost(s) {
			marked = true
		}
	}
	if !marked {
		return
	}
	if t.ca != caLoss {
		t.highSeq = t.sndNxt
		t.priorSsthresh = 0
		t.undoValid = false
		t.ca = caLoss
	}
	if !t.sackOK {
		t.renoLimit()
	}
	t.xmitRetransmitQueue()
}

// TxBlocker is implemented by an Output whose local transmit queue can
// refuse packets (a full or zero-length qdisc, a link that pushes back).
// When TxBlocked reports true the engine does not transmit data, and
// counts retransmissions as not done, as Linux does when the qdisc drops
// what tcp_transmit_skb hands it.
type TxBlocker interface {
	TxBlocked() bool
}

func (t *TCB) txBlocked() bool {
	b, ok := t.out.(TxBlocker)
	return ok && b.TxBlocked()
}

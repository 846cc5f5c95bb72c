package tcp

import (
	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// Explicit Congestion Notification (RFC 3168) as Linux 6.x applies it.
//
// Negotiation (RFC 3168 6.1.1): an active opener that wants ECN sends an
// "ECN-setup SYN" (ECE and CWR set); a listener that accepts answers with an
// "ECN-setup SYN-ACK" (ECE set, CWR clear). Once both agreed:
//
//   - the data sender marks new data segments ECT(0) in the IP header (never
//     SYNs, pure ACKs, retransmissions or window probes: 6.1.1, 6.1.4,
//     6.1.5, 6.1.6);
//   - a router that would drop such a packet may mark it CE instead (5);
//   - the data receiver, seeing CE, sets ECE on every segment it sends until
//     a segment with CWR arrives (6.1.3);
//   - the data sender, seeing ECE, reduces its congestion window as for a
//     loss, at most once per window of data, and sets CWR on the next new
//     data segment (6.1.2). Linux calls the reduction the CWR state and
//     paces it with PRR (RFC 6937).

// Values of Config.ECN (tcp_ecn).
const (
	ECNOff     = 0 // never use ECN
	ECNOn      = 1 // request ECN on active opens, accept it on passive ones
	ECNPassive = 2 // accept ECN when the peer requests it (Linux's default)
)

// Bits of TCB.ecnFlags (Linux's tp->ecn_flags).
const (
	// ecnOK: ECN is in use; in SYN_SENT, our SYN asked for it.
	ecnOK = 1 << iota
	// ecnQueueCWR: the window was reduced; the next new data segment
	// carries CWR (RFC 3168 6.1.2).
	ecnQueueCWR
	// ecnDemandCWR: a CE mark arrived; every segment carries ECE until the
	// peer's CWR (RFC 3168 6.1.3).
	ecnDemandCWR
	// ecnSeen: an ECT or CE segment arrived (TCPI_OPT_ECN_SEEN).
	ecnSeen
)

// ecnSynFlags returns the ECN flags of our SYN or SYN-ACK (RFC 3168
// 6.1.1). A first SYN asks for ECN when tcp_ecn is 1; its
// retransmissions do not when tcp_ecn_fallback is set (6.1.1.1), though
// the connection still accepts an ECN-setup SYN-ACK, as Linux does. A
// SYN-ACK carries ECE when the peer's SYN asked and we agreed, also when
// it is retransmitted.
func (t *TCB) ecnSynFlags(synAck bool) wire.TCPFlags {
	if synAck {
		if t.ecnFlags&ecnOK != 0 {
			return wire.FlagECE
		}
		return 0
	}
	if t.retrans == 0 {
		t.ecnFlags = 0
		if t.cfg.ECN == ECNOn {
			t.ecnFlags = ecnOK
		}
	}
	if t.ecnFlags&ecnOK != 0 && (t.retrans == 0 || !t.cfg.ECNFallback) {
		return wire.FlagECE | wire.FlagCWR
	}
	return 0
}

// ecnNegotiate settles ECN from the peer's SYN or SYN-ACK (RFC 3168
// 6.1.1).
//
// A listener accepts an ECN-setup SYN (ECE and CWR) unless tcp_ecn is 0, or
// the SYN itself arrived ECT or CE-marked: RFC 3168 6.1.1 forbids ECT on
// SYNs, so such a SYN reveals a path or peer that mangles the field (Linux's
// tcp_ecn_create_request). An active opener keeps ECN if the SYN-ACK has
// ECE without CWR; in a simultaneous open, if the peer's SYN was an
// ECN-setup SYN.
func (t *TCB) ecnNegotiate(seg *Segment, passive bool) {
	f := seg.Flags
	setup := f&(wire.FlagECE|wire.FlagCWR) == wire.FlagECE|wire.FlagCWR
	switch {
	case passive:
		t.ecnFlags = 0
		if ecnAcceptSyn(t.cfg, seg) {
			t.ecnFlags = ecnOK
		}
	case f&wire.FlagACK != 0:
		if f&(wire.FlagECE|wire.FlagCWR) != wire.FlagECE {
			t.ecnFlags &^= ecnOK
		}
	default:
		if !setup {
			t.ecnFlags &^= ecnOK
		}
	}
}

// ecnAcceptSyn reports whether a listener agrees to use ECN on the
// connection a SYN opens (see ecnNegotiate).
func ecnAcceptSyn(cfg *Config, syn *Segment) bool {
	f := syn.Flags
	return cfg.ECN != ECNOff && f&(wire.FlagECE|wire.FlagCWR) == wire.FlagECE|wire.FlagCWR && !syn.ECN.IsECT()
}

// ecnUsed reports whether the connection uses ECN (in SYN_SENT: asked for
// it).
func (t *TCB) ecnUsed() bool { return t.ecnFlags&ecnOK != 0 }

// ecnOutgoing sets the ECN codepoint and the ECE and CWR flags of a
// non-SYN segment about to be sent, as Linux's tcp_ecn_send does: ECT(0)
// only on new data (RFC 3168 6.1.4: not on pure ACKs; 6.1.5: not on
// retransmissions; 6.1.6: not on zero-window probes, which carry no new
// data), CWR on the first new data segment after a reduction (6.1.2), ECE
// on every segment while the peer's CWR is awaited (6.1.3). Active resets
// go through here too and carry ECE like Linux's.
func (t *TCB) ecnOutgoing(s *Segment) {
	if !t.ecnUsed() {
		return
	}
	if len(s.Payload) > 0 && !seqLT(s.Seq, t.sndMax) {
		s.ECN = wire.ECT0
		if t.ecnFlags&ecnQueueCWR != 0 {
			t.ecnFlags &^= ecnQueueCWR
			s.Flags |= wire.FlagCWR
			t.st().CWRSent++
		}
	}
	if t.ecnFlags&ecnDemandCWR != 0 {
		s.Flags |= wire.FlagECE
	}
}

// ecnQueueCWR asks for CWR on the next new data segment: the sender has
// reduced its window (RFC 3168 6.1.2). Linux does it for every reduction,
// fast recovery and RTO included (tcp_init_cwnd_reduction,
// tcp_enter_loss), so that the peer stops echoing ECE.
func (t *TCB) ecnQueueCWR() {
	if t.ecnFlags&ecnOK != 0 {
		t.ecnFlags |= ecnQueueCWR
	}
}

// ecnWithdrawCWR forgets a queued CWR: the reduction was undone (Linux's
// tcp_ecn_withdraw_cwr on an undo).
func (t *TCB) ecnWithdrawCWR() { t.ecnFlags &^= ecnQueueCWR }

// ecnAck handles the ECN side of an acceptable ACK (RFC 9293 3.10.7.4 fifth
// check) once SND.UNA and the scoreboard have been updated (ai says what
// the ACK delivered), before the recovery state machine runs (onAck).
// prevUna is SND.UNA before the ACK. Like Linux's tcp_ack, ACKs older than
// SND.UNA are ignored, and so is ECE when nothing was in flight.
//
// Data receiver: CWR ends the ECE echo (RFC 3168 6.1.3). Linux accepts CWR
// on pure ACKs too, more robust than the RFC's "first new data packet", and
// acknowledges data carrying CWR at once: the sender's window may be down
// to one segment.
//
// Data sender: ECE counts the segments the ACK delivered as delivered
// CE-marked (tcpi_delivered_ce) and, in Open or Disorder, starts a
// reduction (onECE).
func (t *TCB) ecnAck(seg *Segment, prevUna uint32, ai *ackInfo) {
	if !t.ecnUsed() || seqLT(seg.Ack, prevUna) {
		return
	}
	f := seg.Flags
	if f&wire.FlagCWR != 0 {
		t.st().CWRReceived++
		t.ecnFlags &^= ecnDemandCWR
		if len(seg.Payload) > 0 {
			t.quickAck()
		}
	}
	if f&wire.FlagECE == 0 || f&wire.FlagSYN != 0 {
		return
	}
	t.st().ECEReceived++
	if prevUna == t.sndMax {
		return // nothing was in flight (Linux: no_queue)
	}
	delivered := ai.delivered
	if ai.dupAck && !t.sackOK {
		// Without SACK a duplicate ACK stands for one segment delivered
		// (renoDupAck counts it when the state machine runs).
		delivered++
	}
	t.st().DeliveredCE += uint64(delivered)
	// The reduction itself waits for the recovery state machine (onAck),
	// which starts it where Linux's tcp_try_to_open would.
	ai.ece = true
}

// onECE reacts to an ACK carrying ECE while the connection is not already
// reducing its window (Linux's tcp_enter_cwr from tcp_try_to_open): like a
// loss, ssthresh comes from the congestion-control algorithm, but nothing
// is retransmitted and cwnd comes down over the next round trip (the CWR
// state, paced by PRR) rather than at once; CWR goes on the next new data
// segment (RFC 3168 6.1.2). ECEs arriving until everything outstanding
// now is acknowledged belong to the same window and start nothing, so the
// window is reduced at most once per round trip.
func (t *TCB) onECE() {
	t.st().ECNReductions++
	t.ccs.Now = t.now
	t.enterCWR()
	t.cc.OnEvent(&t.ccs, cc.EventECE)
}

// ecnCheckCE looks at the ECN field of arriving data that will be queued,
// in order or not (Linux's tcp_ecn_check_ce). CE: echo ECE from now on
// (RFC 3168 6.1.3) and, the first time, acknowledge the next segments at
// once, since the sender's window may be small. Not-ECT after ECT was
// seen: probably a retransmission (RFC 3168 6.1.5 forbids ECT on those),
// which Linux acknowledges quickly too.
func (t *TCB) ecnCheckCE() {
	if !t.ecnUsed() {
		return
	}
	switch t.rxECN {
	case wire.NotECT:
		if t.ecnFlags&ecnSeen != 0 {
			t.enterQuickAckMode(2)
		}
	case wire.CE:
		t.st().CEReceived++
		if t.ecnFlags&ecnDemandCWR == 0 {
			t.enterQuickAckMode(2)
			t.ecnFlags |= ecnDemandCWR
		}
		t.ecnFlags |= ecnSeen
	default:
		t.ecnFlags |= ecnSeen
	}
}

// ecnDeliveredCE is tcpi_delivered_ce.
func (t *TCB) ecnDeliveredCE() uint32 {
	if t.stats == nil {
		return 0
	}
	return uint32(t.stats.DeliveredCE)
}

package tcp

import "time"

// The receiver's ACK pacing: quick-ACK mode and the delayed-ACK timeout
// (ato). RFC 9293 3.8.6.3 (MUST-40, SHLD-18, SHLD-19) and RFC 5681 4.2 bound
// the delayed-ACK policy (an ACK for at least every second full-sized
// segment, none delayed by 0.5 s or more) and leave the rest to the
// implementation; synfin does what Linux 6.x does:
//
//   - Quick-ACK mode (every segment acknowledged at once) starts with the
//     first in-order data, and again after a silence longer than the RTO,
//     for as many ACKs as the offered window holds pairs of full segments,
//     at most Config.QuickAcks (TCP_MAX_QUICKACKS, 16): tcp_incr_quickack,
//     from tcp_event_data_recv.
//   - A duplicate segment, one beyond the window, or a CE mark puts the
//     receiver back in quick-ACK mode (tcp_enter_quickack_mode).
//   - Only ACKs that acknowledge new data spend the quick-ACK credit: data
//     segments that carry an ACK nobody was owed do not
//     (tcp_dec_quickack_mode since Linux 6.7, "count actual ACKs of new
//     data").
//   - The delayed-ACK timeout ato starts at Config.DelAckMin (TCP_ATO_MIN,
//     40 ms) and follows the gaps between in-order segments: halved towards
//     DelAckMin/2 + the gap, doubled (up to the RTO) when the timer fires
//     before the next segment; the timer is armed for ato bounded by the
//     SRTT and Config.DelAckMax (tcp_send_delayed_ack).

// incrQuickAck is Linux's tcp_incr_quickack: allow max quick ACKs, or as
// many as the window last offered holds pairs of receive-MSS segments if
// that is fewer (at least two), without lowering a larger allowance.
func (t *TCB) incrQuickAck(max int) {
	n := 0
	if t.rcvMSS > 0 && seqGT(t.rcvAdv, t.lastAckSent) {
		n = int(t.rcvAdv-t.lastAckSent) / (2 * t.rcvMSS)
	}
	if n == 0 {
		n = 2
	}
	n = min(n, max)
	if n > t.quickAcks {
		t.quickAcks = n
	}
}

// enterQuickAckMode is Linux's tcp_enter_quickack_mode: quick ACKs (up to
// max), out of interactive (pingpong) mode, ato back to its minimum.
func (t *TCB) enterQuickAckMode(max int) {
	t.incrQuickAck(max)
	t.pingpong = false
	t.ato = t.cfg.DelAckMin
}

// dataRecvAckMode is the ACK-pacing part of Linux's tcp_event_data_recv, for
// in-order data arriving now; t.lastDataRecv still holds the previous
// arrival (icsk_ack.lrcvtime).
func (t *TCB) dataRecvAckMode() {
	if t.ato == 0 {
		// The first data: start the delayed-ACK engine in quick-ACK mode.
		t.incrQuickAck(t.cfg.QuickAcks)
		t.ato = t.cfg.DelAckMin
		return
	}
	m := t.now - t.lastDataRecv
	rto := t.rtoBackedOff()
	switch {
	case m <= t.cfg.DelAckMin/2:
		t.ato = t.ato/2 + t.cfg.DelAckMin/2
	case m < t.ato:
		t.ato = min(t.ato/2+m, rto)
	case m > rto:
		// A long silence: the sender restarts from a small window, so
		// acknowledge its first segments at once again.
		t.incrQuickAck(t.cfg.QuickAcks)
	}
}

// ackSentQuickAck is Linux's tcp_dec_quickack_mode, for an ACK being sent:
// owed says it acknowledges data that called for an ACK.
func (t *TCB) ackSentQuickAck(owed bool) {
	if t.quickAcks == 0 || !owed {
		return
	}
	t.quickAcks--
	if t.quickAcks == 0 {
		t.ato = t.cfg.DelAckMin // leaving quick-ACK mode deflates ato
	}
}

// delAckTimeout is the delay tcp_send_delayed_ack gives an ACK: ato, which
// when above its minimum is bounded by 500 ms (DelAckMax in interactive
// mode) and by the SRTT (at least DelAckMin), then by DelAckMax
// (icsk_delack_max). Before any data ato is 0; DelAckMin is used.
func (t *TCB) delAckTimeout() time.Duration {
	ato := max(t.ato, t.cfg.DelAckMin)
	if ato > t.cfg.DelAckMin {
		maxATO := 500 * time.Millisecond
		if t.pingpong {
			maxATO = t.cfg.DelAckMax
		}
		if srtt := t.rtt.srtt(); srtt > 0 {
			maxATO = min(maxATO, max(srtt, t.cfg.DelAckMin))
		}
		ato = min(ato, maxATO)
	}
	return min(ato, t.cfg.DelAckMax)
}

// armDelAck schedules the owed ACK (tcp_send_delayed_ack): a timer already
// running keeps the earlier deadline, and if it would fire within a
// quarter of ato anyway the ACK goes now.
func (t *TCB) armDelAck() {
	ato := t.delAckTimeout()
	at := t.now + ato
	if t.delAck.on() {
		if t.delAck.at() <= t.now+ato/4 {
			t.sendAck()
			return
		}
		if t.delAck.at() <= at {
			return
		}
	}
	t.delAck.set(at)
}

// delAckMissed is Linux's tcp_delack_timer_handler before it sends the ACK:
// the timer fired before the next segment, so ato was too short; doubled,
// up to the RTO. In interactive mode it leaves that mode instead.
func (t *TCB) delAckMissed() {
	if t.pingpong {
		t.pingpong = false
		t.ato = t.cfg.DelAckMin
		return
	}
	t.ato = min(2*t.ato, t.rtoBackedOff())
}

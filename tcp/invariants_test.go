package tcp

import "fmt"

// Internal invariants of a TCB, checked by the property tests and the fuzz
// targets after every call into the engine. They read the TCB's private
// fields, which tests of package tcp may do.
//
// checkInvariants holds for a TCB at any moment between two calls.
// invTracker adds the facts that relate two such moments (values that may
// only grow, edges that may never move left).

// checkInvariants returns an error describing the first invariant of t that
// does not hold, or nil.
func checkInvariants(t *TCB) error {
	st := t.state
	neverOpened := st == Closed && t.sndMax == t.iss && t.iss == 0 && t.sndBufSeq == 0

	// Send sequence space: SND.UNA <= SND.NXT <= SND.MAX (RFC 9293 3.3.1;
	// SND.MAX is the highest sequence number sent, SND.NXT rewinds to
	// SND.UNA on a retransmission timeout).
	if !seqLEQ(t.sndUna, t.sndNxt) || !seqLEQ(t.sndNxt, t.sndMax) {
		return fmt.Errorf("%v: want SND.UNA %d <= SND.NXT %d <= SND.MAX %d", st, t.sndUna, t.sndNxt, t.sndMax)
	}

	// The send buffer starts at the data part of SND.UNA: the first byte
	// after the SYN until the SYN is acknowledged, the FIN's sequence number
	// once the FIN is acknowledged.
	if !neverOpened {
		want := t.sndUna
		switch {
		case t.sndUna == t.iss:
			want = t.iss + 1
		case t.finSent && seqGT(t.sndUna, t.finSeq):
			want = t.finSeq
		}
		if t.sndBufSeq != want {
			return fmt.Errorf("%v: send buffer starts at %d, want %d (SND.UNA %d, ISS %d, FIN sent %v at %d)",
				st, t.sndBufSeq, want, t.sndUna, t.iss, t.finSent, t.finSeq)
		}
		// Everything sent is backed by the buffer: SND.MAX lies at most one
		// (the FIN) past its last byte.
		span := int64(int32(t.sndMax - t.sndBufSeq))
		fin := int64(0)
		if t.finSent {
			fin = 1
		}
		if t.sndMax != t.iss && (span < 0 || span > int64(t.sndBuf.Len())+fin) {
			return fmt.Errorf("%v: SND.MAX %d is %d past the buffer start %d, buffer holds %d (fin %d)",
				st, t.sndMax, span, t.sndBufSeq, t.sndBuf.Len(), fin)
		}
	}
	if t.finSent {
		if !t.finQueued {
			return fmt.Errorf("%v: FIN sent but never queued", st)
		}
		if end := t.sndBufSeq + uint32(t.sndBuf.Len()); end != t.finSeq {
			return fmt.Errorf("%v: FIN at %d, but the data ends at %d", st, t.finSeq, end)
		}
	}

	// Buffers: what they hold and the memory behind it stay within their
	// limits (the arrays may be up to twice the limit, see buffer.go).
	if t.sndBuf.memory() > 2*t.sndBuf.limit() {
		return fmt.Errorf("%v: send buffer memory %d above twice the limit %d", st, t.sndBuf.memory(), t.sndBuf.limit())
	}
	rb := &t.rcvBuf
	if rb.readable() < 0 || rb.readable()+rb.oooBytes() > rb.limit() {
		return fmt.Errorf("%v: receive buffer holds %d readable + %d out of order, limit %d", st, rb.readable(), rb.oooBytes(), rb.limit())
	}
	if rb.memory() > 2*rb.limit() {
		return fmt.Errorf("%v: receive buffer memory %d above twice the limit %d", st, rb.memory(), rb.limit())
	}
	if rb.head < 0 || (int(rb.head) >= len(rb.buf) && rb.head != 0) || int(rb.r) > len(rb.buf) {
		return fmt.Errorf("%v: receive buffer ring head %d readable %d len %d", st, rb.head, rb.r, len(rb.buf))
	}
	rs := rb.oooRanges()
	if len(rs) > rb.maxR() {
		return fmt.Errorf("%v: %d out-of-order ranges, at most %d allowed", st, len(rs), rb.maxR())
	}
	sum, prev := 0, 0
	for i, r := range rs {
		if r.start <= prev || r.end <= r.start {
			return fmt.Errorf("%v: out-of-order range %d [%d,%d) after %d: not sorted, empty, adjacent or at RCV.NXT", st, i, r.start, r.end, prev)
		}
		sum += r.end - r.start
		prev = r.end
	}
	if sum != rb.oooBytes() {
		return fmt.Errorf("%v: out-of-order ranges hold %d bytes, counter says %d", st, sum, rb.oooBytes())
	}
	if len(rs) > 0 && int(rb.r)+rs[len(rs)-1].end > len(rb.buf) {
		return fmt.Errorf("%v: out-of-order data beyond what the ring holds", st)
	}

	// The receive side: RCV.NXT never passes the right edge of the window
	// offered (the peer's FIN may take one more sequence number), and
	// out-of-order data lies inside that window.
	if st.synchronized() || st == SynReceived {
		fin := uint32(0)
		if t.rcvFin {
			fin = 1
		}
		if seqGT(t.rcvNxt-fin, t.rcvAdv) {
			return fmt.Errorf("%v: RCV.NXT %d beyond the advertised edge %d (fin %d)", st, t.rcvNxt, t.rcvAdv, fin)
		}
		if len(rs) > 0 && seqGT(t.rcvNxt+uint32(rs[len(rs)-1].end), t.rcvAdv) {
			return fmt.Errorf("%v: out-of-order data up to %d beyond the advertised edge %d", st, t.rcvNxt+uint32(rs[len(rs)-1].end), t.rcvAdv)
		}
		if seqGT(t.lastAckSent, t.rcvNxt) {
			return fmt.Errorf("%v: last ACK sent %d beyond RCV.NXT %d", st, t.lastAckSent, t.rcvNxt)
		}
		if t.ccs.Cwnd < 1 {
			return fmt.Errorf("%v: cwnd %d", st, t.ccs.Cwnd)
		}
		if t.mss < 1 {
			return fmt.Errorf("%v: MSS %d", st, t.mss)
		}
		if t.sndWnd > t.maxSndWnd {
			return fmt.Errorf("%v: SND.WND %d above the largest window seen %d", st, t.sndWnd, t.maxSndWnd)
		}
	}
	if t.rcvFin && t.peerFin {
		return fmt.Errorf("%v: FIN both received and pending", st)
	}
	if t.peerFin && !seqGT(t.peerFinSeq, t.rcvNxt) {
		return fmt.Errorf("%v: pending FIN at %d, not beyond RCV.NXT %d", st, t.peerFinSeq, t.rcvNxt)
	}

	// Facts of each state.
	switch st {
	case CloseWait, Closing, LastAck, TimeWait:
		if !t.rcvFin {
			return fmt.Errorf("%v without the peer's FIN", st)
		}
	}
	switch st {
	case FinWait1, FinWait2, Closing, LastAck, TimeWait:
		if !t.finQueued {
			return fmt.Errorf("%v without our FIN queued", st)
		}
	case SynSent, Established, CloseWait:
		// (In SYN_RCVD a CLOSE queues the FIN until the handshake
		// completes, RFC 9293 3.10.4.)
		if t.finQueued {
			return fmt.Errorf("%v with our FIN queued", st)
		}
	}
	switch st {
	case FinWait2, TimeWait:
		if !t.finSent || !seqGT(t.sndUna, t.finSeq) {
			return fmt.Errorf("%v but our FIN is not acknowledged (sent %v at %d, SND.UNA %d)", st, t.finSent, t.finSeq, t.sndUna)
		}
		if t.sndBuf.Len() != 0 {
			return fmt.Errorf("%v with %d bytes in the send buffer", st, t.sndBuf.Len())
		}
	}

	// Timers.
	anyTimer := t.rtxTimer.on() || t.delAck.on() || t.keepTimer.on() || t.closeTimer.on() || t.reclaim.on()
	switch st {
	case Closed, Listen:
		if anyTimer {
			return fmt.Errorf("%v with a timer running (rtx %v delack %v keep %v close %v reclaim %v)", st, t.rtxTimer.on(), t.delAck.on(), t.keepTimer.on(), t.closeTimer.on(), t.reclaim.on())
		}
	case TimeWait:
		if !t.closeTimer.on() || t.rtxTimer.on() || t.delAck.on() || t.keepTimer.on() || t.reclaim.on() {
			return fmt.Errorf("TIME_WAIT timers: want only the 2MSL one (rtx %v delack %v keep %v close %v reclaim %v)", t.rtxTimer.on(), t.delAck.on(), t.keepTimer.on(), t.closeTimer.on(), t.reclaim.on())
		}
	case SynSent, SynReceived:
		if !t.rtxTimer.on() || t.persist {
			return fmt.Errorf("%v without the SYN retransmission timer", st)
		}
	}
	if t.persist && !t.rtxTimer.on() {
		return fmt.Errorf("%v: persist mode without the timer", st)
	}
	if t.closeTimer.on() && st != TimeWait && st != FinWait2 {
		return fmt.Errorf("%v with the 2MSL/FIN_WAIT_2 timer running", st)
	}
	if last := max(t.sndDrained, t.rcvDrained); t.reclaim.on() && last+reclaimDelay < t.reclaim.at() {
		return fmt.Errorf("%v: reclaim timer at %v, later than the last drain %v allows", st, t.reclaim.at(), last)
	}
	if t.keepTimer.on() && !t.keepAlive {
		return fmt.Errorf("%v: keep-alive timer without SO_KEEPALIVE", st)
	}
	switch st {
	case Established, CloseWait, FinWait1, Closing, LastAck:
		// RFC 6298 5.1: outstanding data keeps the retransmission timer
		// running; data or a FIN waiting to go out keeps it (or the persist
		// timer) running too, so that the connection cannot stall.
		if t.sndUna != t.sndMax && (!t.rtxTimer.on() || t.persist) {
			return fmt.Errorf("%v: %d sequence numbers outstanding, no retransmission timer (persist %v)", st, t.sndMax-t.sndUna, t.persist)
		}
		unsent := int32(t.sndBufSeq + uint32(t.sndBuf.Len()) - t.sndNxt)
		finWaiting := t.finQueued && !t.finSent
		if (unsent > 0 || finWaiting) && !t.rtxTimer.on() && !t.cork {
			return fmt.Errorf("%v: %d bytes unsent (FIN waiting %v), no timer (SND.WND %d cwnd %d)", st, unsent, finWaiting, t.sndWnd, t.ccs.Cwnd)
		}
		if t.ackPending && !t.delAck.on() {
			return fmt.Errorf("%v: an ACK is owed but neither sent nor scheduled", st)
		}
	case FinWait2:
		if t.ackPending && !t.delAck.on() {
			return fmt.Errorf("%v: an ACK is owed but neither sent nor scheduled", st)
		}
	}
	return nil
}

// invTracker checks checkInvariants and, across successive calls, that the
// values which may only grow do so: RCV.NXT, SND.UNA and the right edge of
// the offered window (RFC 9293 3.8.6.2.2, SHLD-14: the window is never
// shrunk). Tracking starts once the receive sequence space is known (the
// peer's SYN seen) and stops when the TCB closes or returns to LISTEN.
type invTracker struct {
	valid          bool
	rcvAdv, rcvNxt uint32
	sndUna         uint32
	irs            uint32
	calls          int
}

func (tr *invTracker) check(t *TCB) error {
	tr.calls++
	if err := checkInvariants(t); err != nil {
		return err
	}
	switch t.state {
	case Closed, Listen, SynSent:
		tr.valid = false
		return nil
	}
	if tr.valid && tr.irs == t.irs {
		if seqLT(t.rcvAdv, tr.rcvAdv) {
			return fmt.Errorf("%v: the offered window's right edge moved left from %d to %d (RCV.NXT %d)", t.state, tr.rcvAdv, t.rcvAdv, t.rcvNxt)
		}
		if seqLT(t.rcvNxt, tr.rcvNxt) {
			return fmt.Errorf("%v: RCV.NXT went back from %d to %d", t.state, tr.rcvNxt, t.rcvNxt)
		}
		if seqLT(t.sndUna, tr.sndUna) {
			return fmt.Errorf("%v: SND.UNA went back from %d to %d", t.state, tr.sndUna, t.sndUna)
		}
	}
	tr.valid = true
	tr.irs = t.irs
	tr.rcvAdv, tr.rcvNxt, tr.sndUna = t.rcvAdv, t.rcvNxt, t.sndUna
	return nil
}

package tcp

import (
	"time"

	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// tsNow is the timestamp clock: milliseconds, as Linux 6.x uses by default
// (RFC 7323 5.4 asks for 1 ms to 1 s per tick), offset per connection.
func (t *TCB) tsNow() uint32 { return uint32(t.now/time.Millisecond) + t.tsOffset }

// emit builds and hands one segment to the Output. It fills in ACK, window
// and options; SYN segments get the SYN option set.
func (t *TCB) emit(flags wire.TCPFlags, seq uint32, payload []byte, syn bool) {
	t.emitPinned(flags, seq, payload, syn, false)
}

// emitPinned is emit, with the segment's Pinned flag set as given.
func (t *TCB) emitPinned(flags wire.TCPFlags, seq uint32, payload []byte, syn, pinned bool) {
	s := t.seg
	*s = Segment{Seq: seq, Flags: flags, Payload: payload, Pinned: pinned}
	if flags&wire.FlagACK != 0 {
		s.Ack = t.rcvNxt
	}
	if flags&wire.FlagRST == 0 || flags&wire.FlagACK != 0 {
		// Active resets (RST with ACK) carry the current window, as Linux's
		// tcp_send_active_reset does (it goes through tcp_transmit_skb).
		s.Window = t.windowField(syn)
	}
	o := &s.Options
	if syn {
		o.HasMSS, o.MSS = true, t.advMSS
		synAck := flags&wire.FlagACK != 0
		if t.cfg.SACK && (!synAck || t.sackOK) {
			o.SACKPermitted = true
		}
		if t.cfg.Timestamps && (!synAck || t.tsOK) {
			o.HasTimestamps, o.TSVal = true, t.tsNow()
			if synAck {
				o.TSEcr = t.tsRecent
			}
		}
		if t.cfg.WindowScaling && (!synAck || t.wsOK) {
			o.HasWScale, o.WScale = true, t.rcvWscale
		}
		t.fastOpenOption(o) // RFC 7413 4.1.1
	} else {
		// Active resets carry timestamps too (Linux: tcp_established_options).
		if t.tsOK {
			o.HasTimestamps, o.TSVal, o.TSEcr = true, t.tsNow(), t.tsRecent
		}
		if t.sackOK && flags&(wire.FlagACK|wire.FlagRST) == wire.FlagACK {
			t.fillSACK(o)
		}
		t.ecnOutgoing(s)
	}
	if t.sndUrg && flags&wire.FlagRST == 0 && seqGT(t.sndUp, seq) {
		// RFC 9293 3.8.5: the urgent pointer is an offset from the segment's
		// sequence number to the byte after the urgent data (MUST-30, MAY-... the
		// BSD reading that Linux uses).
		up := t.sndUp - seq
		if up > 0xffff {
			up = 0xffff
		}
		s.Flags |= wire.FlagURG
		s.Urgent = uint16(up)
	}
	if flags&wire.FlagACK != 0 {
		t.lastAckSent = t.rcvNxt
		t.ackSentQuickAck(t.ackPending)
		t.ackPending = false
		t.sackHeld = false
		t.segsUnAck = 0
		t.delAck.stop()
	}
	t.info.segsOut++
	t.out.Segment(s)
	// Drop the alias into the send buffer, or an idle connection would keep
	// a released buffer alive through its scratch segment.
	s.Payload = nil
}

// fillSACK puts the out-of-order ranges into the SACK option, the block most
// recently changed first (RFC 2018 4).
func (t *TCB) fillSACK(o *wire.TCPOptions) {
	ranges := t.rcvBuf.oooRanges()
	max := wire.MaxSACKBlocks
	if o.HasTimestamps {
		max = 3
	}
	n := 0
	if t.dsackPending {
		// A DSACK goes first and in one ACK only (RFC 2883 4).
		o.SACKBlocks[0] = t.dsack
		n = 1
		t.dsackPending = false
	}
	if len(ranges) == 0 {
		o.NumSACK = n
		return
	}
	// The most recent block first, then the others from the highest down.
	recent := -1
	for i, r := range ranges {
		if t.lastOOOValid && seqInWindow(t.lastOOO, t.rcvNxt+uint32(r.start), uint32(r.end-r.start)) {
			recent = i
		}
	}
	if recent >= 0 && n < max {
		r := ranges[recent]
		o.SACKBlocks[n] = wire.SACKBlock{Left: t.rcvNxt + uint32(r.start), Right: t.rcvNxt + uint32(r.end)}
		n++
	}
	for i := len(ranges) - 1; i >= 0 && n < max; i-- {
		if i == recent {
			continue
		}
		r := ranges[i]
		o.SACKBlocks[n] = wire.SACKBlock{Left: t.rcvNxt + uint32(r.start), Right: t.rcvNxt + uint32(r.end)}
		n++
	}
	o.NumSACK = n
}

// sendSYN sends (or retransmits) our SYN, or SYN-ACK when ack is set.
func (t *TCB) sendSYN(ack bool) {
	flags := wire.FlagSYN
	if ack {
		flags |= wire.FlagACK
	}
	flags |= t.ecnSynFlags(ack)
	t.emit(flags, t.iss, t.fastOpenSYNPayload(), true)
	if t.sndNxt == t.iss {
		t.sndNxt = t.iss + 1
	}
	if seqLT(t.sndMax, t.sndNxt) {
		t.sndMax = t.sndNxt
	}
	if !t.rtxTimer.on() {
		t.armRTO()
	}
	if !t.rttTiming && t.retrans == 0 {
		t.rttTiming, t.rttSeq, t.rttStart = true, t.iss, t.now
	}
}

// sendAck sends an ACK now (no data), carrying the current window.
func (t *TCB) sendAck() {
	if t.state == Closed || t.state == Listen || t.state == SynSent {
		return
	}
	// SEQ is the RFC's SND.NXT, the highest sequence number sent (sndMax):
	// after a timeout rewinds sndNxt, an ACK stamped with it could lie
	// below the peer's RCV.NXT, and the peer would drop it as unacceptable
	// (both ends in that state deadlock, each dropping the other's ACKs).
	t.emit(wire.FlagACK, t.sndMax, nil, false)
}

// sendChallengeAck answers a suspicious segment with an ACK carrying our
// current state (RFC 5961 3.2, 4.2, 5.2), within the per-connection and
// global rate limits (RFC 5961 7).
func (t *TCB) sendChallengeAck() {
	if t.oowRateLimited() {
		t.st().ChallengeAcksRateLimited++
		return
	}
	if t.limiter != nil && !t.limiter.allow(t.now) {
		t.st().ChallengeAcksRateLimited++
		return
	}
	t.st().ChallengeAcks++
	t.sendAck()
}

// oowRateLimited applies tcp_invalid_ratelimit to ACKs sent in reply to
// out-of-window segments.
func (t *TCB) oowRateLimited() bool {
	if t.oowAckValid && t.now-t.lastOOWAck < t.cfg.InvalidRateLimit {
		return true
	}
	t.oowAckValid, t.lastOOWAck = true, t.now
	return false
}

// dataInFlight is the number of data bytes sent and not acknowledged.
func (t *TCB) dataInFlight() int {
	d := int(t.sndNxt - t.sndBufSeq)
	if d < 0 {
		return 0
	}
	if d > t.sndBuf.Len() {
		d = t.sndBuf.Len()
	}
	return d
}

// packetsInFlight is RFC 6675's pipe, in segments as Linux counts it
// (tcp_packets_in_flight): outstanding segments neither SACKed nor deemed
// lost, plus retransmissions in flight.
func (t *TCB) packetsInFlight() uint32 { return t.rtxq.pipe() }

// effectiveMSS bounds the send MSS by half the largest window the peer has
// offered (RFC 9293 3.8.6.2.1 sender SWS avoidance, as Linux's
// tcp_bound_to_half_wnd does).
func (t *TCB) effectiveMSS() int {
	m := t.mss
	if t.maxSndWnd > 0 {
		cut := int(t.maxSndWnd)
		if t.maxSndWnd > 536 {
			cut = int(t.maxSndWnd / 2)
		}
		if cut < 68-40 {
			cut = 68 - 40
		}
		if m > cut {
			m = cut
		}
	}
	if m < 1 {
		m = 1
	}
	return m
}

// output sends whatever the send and congestion windows, Nagle and sender
// SWS avoidance allow (RFC 9293 3.8.6.2.1, RFC 5681) and the FIN after the
// last byte. A data segment carries any owed ACK; a pure ACK is left to
// ackIfNeeded and the delayed-ACK timer (RFC 9293 SHLD-18, MUST-58).
func (t *TCB) output() {
	switch t.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
	case SynReceived:
		// RFC 7413 4.2.2: a Fast Open server may send data before the
		// handshake completes.
		if !t.fastOpenChild() {
			return
		}
	default:
		return
	}
	mss := t.effectiveMSS()
	t.burstStart = t.sndNxt
	sent, cwndHit, rwndHit := 0, false, false
	defer func() {
		if sent > 0 || cwndHit {
			t.cwndValidate(cwndHit || t.packetsInFlight() >= t.ccs.Cwnd)
		}
		t.chronoOutput(rwndHit, t.cwndLimited(), sent > 0) // tcp_info times (chrono.go)
	}()
	for {
		off := int(t.sndNxt - t.sndBufSeq)
		if off < 0 {
			off = 0
		}
		avail := t.sndBuf.Len() - off
		wantFin := t.finQueued && !t.finSentAt(t.sndNxt)
		if avail <= 0 && !wantFin {
			break
		}
		if avail <= 0 && wantFin {
			// A bare FIN: it needs room for one sequence number.
			if t.finSent && t.sndNxt != t.finSeq {
				break
			}
			if !t.windowAllows(1) && t.sndNxt != t.sndUna {
				rwndHit = true
				break
			}
			t.sendData(nil, true, false)
			break
		}
		n := avail
		if n > mss {
			n = mss
		}
		// A segment never spans the end of an MSG_EOR record; one cut
		// short by it is not the last data, so Nagle and cork let it go.
		n, cut := t.eorLimit(t.sndNxt, n)
		if t.probeNewData {
			// A loss probe sends one new segment whatever cwnd says
			// (RFC 8985 7.3).
			if sent > 0 {
				break
			}
		} else if t.packetsInFlight() >= t.ccs.Cwnd {
			cwndHit = true
			break
		}
		if !t.windowAllows(uint32(n)) {
			// Linux sends only segments that fit; the persist timer probes.
			rwndHit = true
			break
		}
		last := n == avail
		if n < mss && !t.noDelay && !cut {
			// Nagle (RFC 9293 3.7.4, MUST-? SHLD-7) with Minshall's rule: hold
			// a short segment while an earlier short one is unacknowledged.
			if t.cork || (!(last && t.finQueued) && seqGT(t.sndSml, t.sndUna) && seqLEQ(t.sndSml, t.sndNxt)) {
				break
			}
		}
		if t.txBlocked() {
			t.st().TxBlocked++
			break
		}
		fin := last && t.finQueued
		payload, inRing := t.sndBuf.peekRing(off, n)
		t.sendData(payload, fin, inRing)
		sent++
		if t.pushOne && t.lastEndedPacket() {
			break // tcp_push_one: one packet (records.go)
		}
	}
	if sent > 0 && !t.probeNewData {
		t.scheduleLossProbe()
	}
	t.armPersistIfNeeded()
}

// finSentAt reports whether our FIN has been sent at or before seq.
func (t *TCB) finSentAt(seq uint32) bool {
	return t.finSent && seqLT(t.finSeq, seq)
}

// windowAllows reports whether n more bytes from SND.NXT fit the peer's window.
func (t *TCB) windowAllows(n uint32) bool {
	return seqLEQ(t.sndNxt+n, t.windowBase()+t.sndWnd)
}

// sendData transmits payload at SND.NXT (with FIN when fin is set).
// inRing says that payload is the send buffer's memory (not its scratch),
// which makes a first transmission Pinned.
func (t *TCB) sendData(payload []byte, fin, inRing bool) {
	flags := wire.FlagACK
	seq := t.sndNxt
	end := seq + uint32(len(payload))
	psh, pktEnd := false, true
	if len(payload) > 0 {
		if seqLT(seq, t.sndMax) {
			psh = t.pushFlag(seq, end, true)
		} else {
			psh, pktEnd = t.xmitFlags(seq, end)
		}
	}
	if psh {
		flags |= wire.FlagPSH
	}
	if fin {
		flags |= wire.FlagFIN
		t.finSent = true
		t.finSeq = end
		end++
	}
	retransmission := seqLT(seq, t.sndMax)
	if t.sndNxt == t.sndUna && !t.rtxTimer.on() {
		// Sending with nothing in flight (Linux CA_EVENT_TX_START, on
		// every such transmission): cc learns the idle time, e.g. CUBIC
		// moves its epoch (RFC 9438 5.8). The window restart after idle
		// (RFC 5681 4.1, RFC 2861) is the engine's, when data is queued
		// (ssai.go).
		if !retransmission && t.lastSend != 0 {
			t.ccs.Now = t.now
			t.ccs.LastSend = t.lastSend
			t.cc.OnEvent(&t.ccs, cc.EventTxStart)
		}
	}
	if len(payload) > 0 && len(payload) < t.effectiveMSS() {
		t.sndSml = end
	}
	t.emitPinned(flags, seq, payload, false, inRing && !retransmission && len(payload) > 0)
	if !retransmission && end != seq {
		t.rtxq.push(seq, end, t.now, fin)
		if pktEnd {
			t.notePacketEnd() // records.go
		}
		if t.ca == caCWR || t.ca == caRecovery {
			t.prrOut++
		}
	}
	t.sndNxt = end
	if seqGT(end, t.sndMax) {
		t.sndMax = end
	}
	if len(payload) > 0 {
		t.lastSend = t.now
		t.info.dataSegsOut++
		t.info.bytesSent += uint64(len(payload))
		if retransmission {
			t.info.bytesRetrans += uint64(len(payload))
			t.info.totalRetrans++
		}
	}
	if !retransmission && !t.rttTiming && !t.tsOK {
		t.rttTiming, t.rttSeq, t.rttStart = true, seq, t.now
	}
	if !t.rtxTimer.on() || t.persist {
		t.armRTO()
	}
}

// retransmitHead resends the oldest unacknowledged segment (RFC 9293 3.8.1,
// RFC 6298 5.4): SYN, SYN-ACK, data or FIN.
func (t *TCB) retransmitHead() {
	switch t.state {
	case SynSent:
		t.sendSYN(false)
		return
	case SynReceived:
		t.sendSYN(true)
		return
	case FinWait1:
		if t.sndUna == t.iss {
			// Closed in SYN_RCVD: the SYN-ACK is still the oldest segment.
			t.sendSYN(true)
			return
		}
	}
	t.rtxqCover()
	if i := t.firstUnsacked(); i >= 0 {
		t.retransmitSeg(i)
	}
}

// armPersistIfNeeded starts the zero-window probe timer when data is waiting,
// nothing is in flight and the peer's window is too small to send it
// (RFC 9293 3.8.6.1).
func (t *TCB) armPersistIfNeeded() {
	if t.sndNxt != t.sndUna || t.rtxTimer.on() && !t.persist {
		return
	}
	waiting := t.sndBuf.Len() > t.dataInFlight() || (t.finQueued && !t.finSent)
	if !waiting {
		if t.persist {
			t.rtxTimer.stop()
			t.persist = false
		}
		return
	}
	if t.persist && t.rtxTimer.on() {
		return
	}
	t.persist = true
	t.rtxTimer.set(t.now + t.probeInterval())
}

func (t *TCB) probeInterval() time.Duration {
	d := t.rtt.rto() << uint(t.backoff)
	if d > t.cfg.RTOMax || d <= 0 {
		d = t.cfg.RTOMax
	}
	return d
}

// rtoBackedOff is the current retransmission timeout with backoff.
func (t *TCB) rtoBackedOff() time.Duration {
	d := t.rtt.rto()
	for i := 0; i < t.backoff && d < t.cfg.RTOMax; i++ {
		d *= 2
	}
	if d > t.cfg.RTOMax {
		d = t.cfg.RTOMax
	}
	return d
}

// windowField computes the window to advertise and returns the header field
// (scaled down by our window scale, or capped at 65535 in a SYN, RFC 7323
// 2.2). The right edge never moves left (RFC 9293 3.8.6.2.2, SHLD-14).
func (t *TCB) windowField(syn bool) uint16 {
	if syn {
		w := t.rcvSsthresh
		if w > 65535 {
			w = 65535
		}
		// A retransmitted SYN-ACK must not take back what an ACK sent in
		// SYN_RCVD offered (rounded up to the window scale).
		if seqGT(t.rcvAdv, t.rcvNxt+w) {
			cur := t.rcvAdv - t.rcvNxt
			if cur > 65535 {
				return 65535 // the edge stays where it is
			}
			w = cur
		}
		t.rcvAdv = t.rcvNxt + w
		return uint16(w)
	}
	w := t.rcvWindowToAdvertise()
	cur := uint32(0)
	if seqGT(t.rcvAdv, t.rcvNxt) {
		cur = t.rcvAdv - t.rcvNxt
	}
	if w < cur {
		// Never shrink: keep the old right edge (rounded up to the scale).
		w = cur
		if t.rcvWscale > 0 {
			g := uint32(1) << t.rcvWscale
			w = (w + g - 1) &^ (g - 1)
		}
	}
	field := w >> t.rcvWscale
	if field > 65535 {
		field = 65535
	}
	t.rcvAdv = t.rcvNxt + field<<t.rcvWscale
	if w == cur && seqGT(t.rcvNxt+w, t.rcvAdv) {
		t.rcvAdv = t.rcvNxt + w
	}
	return uint16(field)
}

// rcvWindowToAdvertise is the window the receive buffer can offer now: the
// free space, as much of it as tcp_adv_win_scale counts as window, bounded by
// rcvSsthresh and rounded (RFC 9293 3.8.6.2.2 receiver SWS avoidance: do not
// advertise small increases).
func (t *TCB) rcvWindowToAdvertise() uint32 {
	if t.readShut && t.orphan {
		return 0
	}
	free := t.rcvBuf.limit() - t.rcvBuf.readable() - t.rcvBuf.oooBytes()
	if free < 0 {
		free = 0
	}
	full := winFromSpace(t.rcvBuf.limit(), t.cfg.AdvWinScale)
	space := winFromSpace(free, t.cfg.AdvWinScale)
	mss := t.rcvMSS
	if mss < 1 {
		mss = int(t.advMSS)
	}
	if space < full/2 {
		// Receiver SWS avoidance: below half the buffer, offer nothing
		// smaller than one segment.
		if space < mss {
			space = 0
		}
	}
	if uint32(space) > t.rcvSsthresh {
		space = int(t.rcvSsthresh)
	}
	w := uint32(space)
	if t.rcvWscale > 0 {
		// Round up so the scaled field does not lose the last partial unit
		// (Linux's ALIGN in __tcp_select_window: 64240 becomes 502 << 7).
		g := uint32(1) << t.rcvWscale
		w = (w + g - 1) &^ (g - 1)
	} else if space > mss && mss > 0 {
		// Without scaling, Linux's __tcp_select_window keeps the window it
		// offered while that is within one segment of the free space, and
		// otherwise offers whole segments, so small changes are not
		// advertised (receiver SWS avoidance).
		cur := uint32(0)
		if seqGT(t.rcvAdv, t.rcvNxt) {
			cur = t.rcvAdv - t.rcvNxt
		}
		if cur+uint32(mss) > w && cur <= w {
			w = cur
		} else {
			w = uint32(space/mss) * uint32(mss)
		}
	}
	maxWin := uint32(65535) << t.rcvWscale
	if w > maxWin {
		w = maxWin
	}
	return w
}

// winFromSpace is the part of a buffer counted as window (tcp_adv_win_scale).
func winFromSpace(space, scale int) int {
	if scale <= 0 {
		return space - space>>uint(-scale)
	}
	return space - space>>uint(scale)
}

// initialRcvWnd is the first window offered: the buffer's window rounded down
// to whole segments, like Linux's tcp_select_initial_window.
func (t *TCB) initialRcvWnd(mss int) uint32 {
	w := winFromSpace(t.rcvBuf.limit(), t.cfg.AdvWinScale)
	if w > 65535 && t.rcvWscale == 0 {
		w = 65535
	}
	if mss > 0 && w > mss {
		w = (w / mss) * mss
	}
	return uint32(w)
}

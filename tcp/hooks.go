package tcp

// Hooks for the host stack: small questions about a connection that the
// stack needs answered without reaching into the TCB.

// SeqInFlight reports whether seq lies in [SND.UNA, SND.NXT): whether an ICMP
// error quoting a segment starting at seq can be about data we sent (RFC
// 5927 4.1). In SYN_SENT the quoted sequence number must be our ISN.
func (t *TCB) SeqInFlight(seq uint32) bool {
	if t.state == SynSent {
		return seq == t.iss
	}
	return seqGEQ(seq, t.sndUna) && seqLT(seq, t.sndMax)
}

// TimerName names the pending timer the way ss -o does ("on" for the
// retransmission timer, "persist", "keepalive", "timewait"), with its
// deadline; ok is false when none is pending.
func (t *TCB) TimerName() (name string, at Time, ok bool) {
	switch {
	case t.closeTimer.on() && t.state == TimeWait:
		return "timewait", t.closeTimer.at(), true
	case t.rtxTimer.on() && t.persist:
		return "persist", t.rtxTimer.at(), true
	case t.rtxTimer.on():
		return "on", t.rtxTimer.at(), true
	case t.keepTimer.on():
		return "keepalive", t.keepTimer.at(), true
	case t.closeTimer.on():
		return "timewait", t.closeTimer.at(), true
	case t.delAck.on():
		return "delack", t.delAck.at(), true
	}
	return "", 0, false
}

// Peer returns the remote's view needed by sockets tables: bytes waiting to
// be read (Recv-Q) and bytes not yet acknowledged (Send-Q).
func (t *TCB) Queues() (recvQ, sendQ int) { return t.rcvBuf.readable(), t.sndBuf.Len() }

// Err returns the error that ended the connection (ECONNREFUSED,
// ECONNRESET, ETIMEDOUT...), without consuming it, or nil.
func (t *TCB) Err() error { return t.err }

// BufferMemory returns the bytes of backing arrays the send and receive
// buffers hold (what ss -m reports as wmem/rmem allocations).
func (t *TCB) BufferMemory() (snd, rcv int) { return t.sndBuf.memory(), t.rcvBuf.memory() }

// HoldAck starts a batch: segments given to Input until ReleaseAck share one
// ACK (RFC 9293 MUST-59), as InputBatch does, for callers that receive
// packets one by one from a batch read.
func (t *TCB) HoldAck() { t.holdAck = true }

// ReleaseAck ends a batch begun by HoldAck and sends the ACK it calls for,
// now or by the delayed-ACK timer.
func (t *TCB) ReleaseAck(now Time) {
	if !t.holdAck {
		return
	}
	t.now = now
	t.holdAck = false
	t.ackIfNeeded()
}

package tcp

import "github.com/synfin/synfin/tcp/cc"

// Small accessors and calls for a socket layer (package socket) that
// reproduces Linux's socket options: what they need to read back, and the
// few per-call variants of Write.

// Cork reports TCP_CORK.
func (t *TCB) Cork() bool { return t.cork }

// WriteMore is Write for send(2) with MSG_MORE: the data is queued and only
// full-sized segments go out now, as if TCP_CORK were set for this call
// (Linux's tcp_push with TCP_NAGLE_CORK), even with TCP_NODELAY. What is held
// back leaves with the next push under the socket's own setting: a later
// write, an ACK, or the probe timer.
func (t *TCB) WriteMore(now Time, p []byte) (int, error) {
	return t.WriteRecord(now, p, true, false)
}

// SetSendBufferBytes sets the send buffer's capacity to exactly n bytes
// (a socket layer that has already applied Linux's doubling and limits to
// SO_SNDBUF).
func (t *TCB) SetSendBufferBytes(n int) {
	t.sndBuf.setLimit(n)
	t.sndBufLocked = true
}

// SetRecvBufferBytes sets the receive buffer's capacity to exactly n bytes
// (SO_RCVBUF after the socket layer's doubling); like SO_RCVBUF it turns
// receive-buffer auto-tuning off.
func (t *TCB) SetRecvBufferBytes(n int) {
	t.rcvBuf.setLimit(n)
	t.tuning.locked = true
}

// FinReceived reports whether the peer's FIN has been received in order
// (Linux's SOCK_DONE / RCV_SHUTDOWN), whether or not data before it is still
// unread.
func (t *TCB) FinReceived() bool { return t.rcvFin }

// TakeError returns the pending error and clears it, as getsockopt(SO_ERROR)
// and Linux's sock_error do. Later calls see the connection as closed.
func (t *TCB) TakeError() error { return t.takeError() }

// InfoAt is Info with the ages (last data sent, received...) measured at now
// rather than at the TCB's last call.
func (t *TCB) InfoAt(now Time) Info {
	if now > t.now {
		t.now = now
	}
	return t.Info()
}

// QuickAck sends an owed ACK at once instead of waiting for the delayed-ACK
// timer (setsockopt TCP_QUICKACK with a pending ACK).
func (t *TCB) QuickAck(now Time) {
	t.now = now
	if !t.ackPending || t.holdAck {
		return
	}
	switch t.state {
	case Established, CloseWait, FinWait1, FinWait2:
		t.sendAck() // clears ackPending and the delayed-ACK timer
	}
}

// CongestionControl returns the name of the connection's congestion
// control algorithm (TCP_CONGESTION).
func (t *TCB) CongestionControl() string { return t.cc.Name() }

// SetCongestionControl switches the connection to another registered
// algorithm (setsockopt TCP_CONGESTION). The window state carries over.
func (t *TCB) SetCongestionControl(name string) error {
	if t.cc.Name() == name {
		return nil
	}
	alg, err := cc.NewWithParams(name, &t.cfg.CongestionParams)
	if err != nil {
		return err
	}
	t.cc = alg
	t.cc.Init(&t.ccs)
	return nil
}

// SetSynRetries sets TCP_SYNCNT: how many times this connection's SYN is
// retransmitted before connect fails (0 restores tcp_syn_retries).
func (t *TCB) SetSynRetries(n int) { t.synRetries = uint8(min(max(n, 0), 255)) }

// synRetryLimit is TCP_SYNCNT, or tcp_syn_retries.
func (t *TCB) synRetryLimit() int {
	if t.synRetries > 0 {
		return int(t.synRetries)
	}
	return t.cfg.SynRetries
}

package tcp

import (
	"syscall"
	"time"

	"github.com/synfin/synfin/wire"
)

// Tick runs every timer that has expired by now. Call it at (or after) the
// time Deadline returned; calling it early does nothing.
func (t *TCB) Tick(now Time) {
	t.now = now
	if t.reclaim.expired(now) {
		t.reclaim.stop()
		t.reclaimBuffers()
	}
	if t.closeTimer.expired(now) {
		t.closeTimer.stop()
		switch t.state {
		case TimeWait:
			t.dead = true
			t.setState(Closed, CauseTimeWaitExpired)
			return
		case FinWait2:
			t.dead = true
			t.setState(Closed, CauseFinWait2Timeout)
			return
		}
	}
	if t.rtxTimer.expired(now) {
		t.rtxTimer.stop()
		switch {
		case t.persist:
			t.persist = false
			t.probeTimer()
		case t.rtxKind == rtxKindTLP && t.state.synchronized():
			t.rtxKind = rtxKindRTO
			t.tlpFire()
		case t.rtxKind == rtxKindReo && t.state.synchronized():
			t.rtxKind = rtxKindRTO
			t.reoTimeout()
		default:
			t.rtxKind = rtxKindRTO
			t.retransmitTimer()
		}
		if t.state == Closed {
			return
		}
	}
	if t.delAck.expired(now) {
		t.delAck.stop()
		if t.ackPending {
			t.delAckMissed()
			t.sendAck()
		}
	}
	if t.keepTimer.expired(now) {
		t.keepTimer.stop()
		t.keepaliveTimer()
	}
}

// reclaimDelay is how long the buffers must go without draining before
// their arrays are released.
const reclaimDelay = 200 * time.Millisecond

// bufferDrained is called when the send buffer (everything acknowledged) or
// the receive buffer (everything read) becomes empty, so that an idle
// connection holds no buffer memory. An isolated drain releases the array
// at once. A buffer that drains again within reclaimDelay is busy (a bulk
// transfer, a request/response exchange): releasing its array would make
// the next segment allocate a new one, so it is kept and the reclaim timer
// releases it once the connection goes quiet.
func (t *TCB) bufferDrained(snd bool) {
	last := &t.rcvDrained
	if snd {
		last = &t.sndDrained
	}
	busy := *last != 0 && t.now-*last < reclaimDelay
	*last = t.now
	if !busy {
		if snd {
			t.sndBuf.shrink()
			t.rtxq.release()
		} else {
			t.rcvBuf.shrink()
		}
		return
	}
	if !t.reclaim.on() {
		t.reclaim.set(t.now + reclaimDelay)
	}
}

// reclaimBuffers runs when the reclaim timer fires: while a buffer keeps
// draining the timer waits on; once neither has for reclaimDelay, the empty
// buffers give their arrays back (one holding data keeps its own).
func (t *TCB) reclaimBuffers() {
	last := max(t.sndDrained, t.rcvDrained)
	if t.now-last < reclaimDelay {
		t.reclaim.set(last + reclaimDelay)
		return
	}
	t.sndBuf.shrink()
	t.rtxq.release()
	t.rcvBuf.shrink()
}

// retransmitTimer: the retransmission timeout expired (RFC 6298 5.4-5.7,
// RFC 9293 3.8.3, RFC 5681 3.1).
func (t *TCB) retransmitTimer() {
	switch t.state {
	case SynSent:
		// Linux 6.5+: the first tcp_syn_linear_timeouts retransmissions
		// keep the initial RTO, then it doubles. tcp_write_timeout allows
		// tcp_syn_retries + tcp_syn_linear_timeouts retransmissions in
		// SYN_SENT, and no longer than tcp_syn_retries exponential ones
		// from the initial RTO would take, counted from the first SYN
		// (retransmits_timed_out): with the defaults, SYNs at 0, 1, 2, 3,
		// 4, 5, 7, 11, 19, 35 and 67 s and ETIMEDOUT at 131 s.
		if t.retrans == 0 {
			t.retransStart = t.now - t.rtoBackedOff()
		}
		if t.retrans >= t.synRetryLimit()+t.cfg.SynLinearTimeouts ||
			t.retrans > 0 && t.now-t.retransStart >= retriesBudget(t.synRetryLimit(), t.cfg.RTOInitial, t.cfg.RTOMax) {
			t.fail(t.timeoutErr(), CauseSynTimeout)
			return
		}
		if t.retrans == t.cfg.Retries1 && t.softErr == nil {
			// R1 applies to SYNs as to data (RFC 9293 3.8.3, MUST-20/22).
			t.softErr = syscall.ETIMEDOUT
		}
		t.retrans++
		t.info.totalRetrans++
		t.info.retransmits++
		if t.retrans > t.cfg.SynLinearTimeouts {
			t.backoff++
		}
		t.rttTiming = false
		t.sendSYN(false)
		return
	case SynReceived:
		if t.retrans >= t.cfg.SynackRetries {
			if t.passive {
				// The request is silently forgotten, as Linux does.
				t.dead = true
				t.stopAllTimers()
				t.setState(Listen, CauseSynAckTimeout)
				return
			}
			t.fail(syscall.ETIMEDOUT, CauseSynAckTimeout)
			return
		}
		t.retrans++
		t.backoff++
		t.info.totalRetrans++
		t.info.retransmits++
		t.rttTiming = false
		t.sendSYN(true)
		return
	case Closed, Listen, TimeWait, FinWait2, CloseWait:
		if t.sndUna == t.sndMax {
			return
		}
	}
	if t.sndUna == t.sndMax {
		return
	}
	if t.retrans == 0 {
		// Count from the original transmission of the oldest segment, one
		// RTO ago (Linux's retrans_stamp).
		t.retransStart = t.now - t.rtoBackedOff()
	}
	// RFC 9293 SHLD-17, as Linux's tcp_retransmit_timer: once the peer has
	// closed its window, retransmissions act as zero-window probes, and the
	// connection is not timed out for data the peer has no room for while
	// the peer keeps answering (within 2*RTOMax). An orphan, or a connection
	// with TCP_USER_TIMEOUT, still times out.
	zeroWnd := t.sndWnd == 0 && !t.orphan && t.userTimeout == 0 && t.now-t.lastRecv < 2*t.cfg.RTOMax
	if !zeroWnd && t.retransTimedOut() {
		cause := CauseRetransmitTimeout
		if t.userTimeout > 0 {
			cause = CauseUserTimeout
		}
		t.fail(t.timeoutErr(), cause)
		return
	}
	if t.retrans == t.cfg.Retries1 && t.softErr == nil {
		// RFC 9293 MUST-20 (R1): tell the IP layer and the user the path is
		// suspect. Recorded as a soft error.
		t.softErr = syscall.ETIMEDOUT
	}
	// Loss: ssthresh, cwnd to one segment, everything outstanding deemed
	// lost and resent from the oldest (RFC 5681 3.1 eq. 4, RFC 6298 5.4-5.6,
	// RFC 6675 5.1).
	if t.sndUna == t.iss {
		// CLOSE in SYN_RCVD sent a FIN before the SYN-ACK was
		// acknowledged: the SYN-ACK is still the oldest segment.
		t.retrans++
		t.info.retransmits++
		t.info.totalRetrans++
		t.backoff++
		t.rttTiming = false
		// What followed it (the FIN) is deemed lost as well, to be resent
		// once the SYN-ACK is acknowledged.
		t.enterLoss()
		t.retransmitHead()
		t.armRTO()
		return
	}
	t.rtxqCover()
	t.enterLoss()
	t.retrans++
	t.info.retransmits++
	t.info.timeouts++
	t.backoff++
	t.rttTiming = false
	t.rtxTSVal = t.tsNow()
	if i := t.firstUnsacked(); i >= 0 {
		t.retransmitSeg(i)
	}
	t.armRTO()
}

// timeoutErr is the error a connection that timed out reports: the last
// soft error if there was one (an ICMP host unreachable says more than
// "timed out"), ETIMEDOUT otherwise, as Linux's tcp_write_err does with
// sk_err_soft.
func (t *TCB) timeoutErr() error {
	if t.softErr != nil {
		return t.softErr
	}
	return syscall.ETIMEDOUT
}

// retransTimedOut decides whether to give up: TCP_USER_TIMEOUT when set,
// otherwise Linux's model of tcp_retries2 (or tcp_orphan_retries for an
// orphaned connection) as a time budget (RFC 9293 3.8.3 R2).
func (t *TCB) retransTimedOut() bool {
	elapsed := t.now - t.retransStart
	if t.userTimeout > 0 {
		return elapsed >= t.userTimeout
	}
	retries := t.cfg.Retries2
	if t.orphan {
		retries = t.cfg.OrphanRetries
		if retries == 0 {
			retries = 8
		}
	}
	return elapsed >= retriesBudget(retries, t.cfg.RTOMin, t.cfg.RTOMax)
}

// retriesBudget is how long n retransmissions take with exponential backoff
// from base, capped at max (Linux's tcp_model_timeout).
func retriesBudget(n int, base, max time.Duration) time.Duration {
	var total time.Duration
	d := base
	for i := 0; i <= n; i++ {
		total += d
		if d < max {
			d *= 2
			if d > max {
				d = max
			}
		}
	}
	return total
}

// probeTimer: the zero-window probe (persist) timer expired (RFC 9293
// 3.8.6.1, MUST-36; SHLD-29/30). Like Linux, send new data if the window has
// opened enough, or else a probe: an empty ACK with SEG.SEQ = SND.UNA-1
// that the peer must answer with its current window.
func (t *TCB) probeTimer() {
	if !t.state.synchronized() || t.state == TimeWait {
		return
	}
	if t.probesOut == 0 {
		t.probeStart = t.now
	}
	if t.userTimeout > 0 && t.now-t.probeStart >= t.userTimeout {
		t.fail(syscall.ETIMEDOUT, CauseUserTimeout)
		return
	}
	retries := t.cfg.Retries2
	if t.orphan {
		retries = t.cfg.OrphanRetries
		if retries == 0 {
			retries = 8
		}
	}
	if t.probesOut >= retries && t.userTimeout == 0 && t.orphan {
		t.fail(syscall.ETIMEDOUT, CauseRetransmitTimeout)
		return
	}
	t.probesOut++
	t.info.windowProbes++
	if t.sndWnd > 0 {
		// Linux's tcp_write_wakeup: what the probe sends carries PSH.
		t.wakeup = true
		t.output()
		t.wakeup = false
	}
	if t.sndNxt == t.sndUna {
		t.emit(wire.FlagACK, t.sndUna-1, nil, false)
	}
	if t.backoff < 30 {
		t.backoff++
	}
	t.persist = true
	t.rtxTimer.set(t.now + t.probeInterval())
}

// armKeepalive (re)starts the keep-alive timer when keep-alives are on and
// the connection is idle with nothing outstanding (RFC 9293 3.8.4).
func (t *TCB) armKeepalive() {
	if !t.keepAlive || !(t.state == Established || t.state == CloseWait || t.state == FinWait2) {
		// (The orphaned FIN_WAIT_2 timeout runs on closeTimer, not here.)
		t.keepTimer.stop()
		return
	}
	t.keepTimer.set(t.lastActivity() + t.keepaliveIdle())
}

func (t *TCB) lastActivity() Time {
	if t.lastRecv > t.lastSend {
		return t.lastRecv
	}
	return t.lastSend
}

// keepaliveTimer: after KeepaliveTime idle, send probes (an empty segment at
// SND.UNA-1, which the peer must ACK, RFC 9293 3.8.4 / RFC 1122 4.2.3.6)
// every KeepaliveIntvl; after KeepaliveProbes unanswered probes, reset the
// connection and report ETIMEDOUT, as Linux does.
func (t *TCB) keepaliveTimer() {
	if !t.keepAlive || !(t.state == Established || t.state == CloseWait || t.state == FinWait2) {
		return
	}
	if t.sndUna != t.sndMax || t.sndBuf.Len() > 0 {
		// Not idle: the retransmission or probe machinery is in charge.
		t.keepTimer.set(t.now + t.keepaliveIntvl())
		return
	}
	idle := t.now - t.lastRecv
	if idle < t.keepaliveIdle() && t.probesOut == 0 {
		t.keepTimer.set(t.lastRecv + t.keepaliveIdle())
		return
	}
	if t.probesOut > 0 && t.lastRecv > t.probeStart {
		// The peer answered: start over.
		t.probesOut = 0
		t.keepTimer.set(t.lastRecv + t.keepaliveIdle())
		return
	}
	if t.probesOut >= t.keepaliveCnt() || (t.userTimeout > 0 && t.probesOut > 0 && t.now-t.probeStart >= t.userTimeout) {
		t.emit(wire.FlagRST|wire.FlagACK, t.sndNxt, nil, false)
		cause := CauseKeepaliveTimeout
		if t.userTimeout > 0 {
			cause = CauseUserTimeout
		}
		t.fail(syscall.ETIMEDOUT, cause)
		return
	}
	if t.probesOut == 0 {
		t.probeStart = t.now
	}
	t.probesOut++
	t.info.keepaliveProbes++
	t.emit(wire.FlagACK, t.sndUna-1, nil, false)
	t.keepTimer.set(t.now + t.keepaliveIntvl())
}

// startFinWait2Timer bounds how long an orphaned connection waits in
// FIN_WAIT_2 for the peer's FIN (tcp_fin_timeout).
func (t *TCB) startFinWait2Timer() {
	if t.state == FinWait2 && t.orphan {
		t.closeTimer.set(t.now + t.cfg.FinTimeout)
	}
}

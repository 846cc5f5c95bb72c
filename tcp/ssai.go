package tcp

// Slow start after idle: RFC 5681 4.1 asks a sender that has sent nothing
// for more than one RTO to start again from its restart window, since the
// congestion window it holds was validated by a network that may have
// changed since; RFC 2861 instead decays the window by half for each RTO of
// idleness. Linux, with tcp_slow_start_after_idle on (its default), does
// the latter (tcp_cwnd_restart), and so does synfin. (RFC 7661, which
// obsoletes RFC 2861, keeps an unvalidated window for up to five minutes
// and is not what Linux implements.)
//
//   - the check runs when nothing is in flight and the application queues
//     new data, or the peer changes its window while data waits to be sent
//     (tcp_slow_start_after_idle_check);
//   - the connection is idle when the last data segment left more than one
//     RTO ago (the RTO without the backoff of zero-window probes);
//   - ssthresh keeps at least three quarters of the old window
//     (tcp_current_ssthresh; unless a window reduction is under way), so
//     slow start regains it quickly;
//   - cwnd halves once per RTO elapsed, never below the restart window
//     (RW = min(IW, cwnd), RFC 5681 4.1).

// slowStartAfterIdleCheck restarts the congestion window if the connection
// has been idle for longer than the RTO (Config.SlowStartAfterIdle).
func (t *TCB) slowStartAfterIdleCheck() {
	if !t.cfg.SlowStartAfterIdle || t.sndUna != t.sndMax || t.lastSend == 0 {
		return
	}
	idle := t.now - t.lastSend
	rto := t.rtt.rto()
	if idle <= rto {
		return
	}
	t.cwndRestart(idle, rto)
}

// cwndRestart is RFC 2861's decay after idle time idle with timeout rto.
func (t *TCB) cwndRestart(idle, rto Time) {
	cwnd := t.ccs.Cwnd
	restart := min(uint32(t.cfg.InitCwnd), cwnd)
	if t.ca != caCWR && t.ca != caRecovery {
		t.ccs.Ssthresh = max(t.ccs.Ssthresh, cwnd>>1+cwnd>>2)
	}
	for idle -= rto; idle > 0 && cwnd > restart; idle -= rto {
		cwnd >>= 1
	}
	t.ccs.Cwnd = max(cwnd, restart)
}

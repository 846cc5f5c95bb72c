package tcp

import "testing"

// TestCwndValidate_LinuxTcpCwndValidate: the bookkeeping behind
// tcp_is_cwnd_limited follows Linux 6.x's tcp_cwnd_validate. Within one
// window of observation (until SND.UNA reaches the SND.NXT at its start) a
// send limited by cwnd is remembered even if a later, unlimited send has
// more packets out ("tcp: fix tcp_cwnd_validate() to not forget
// is_cwnd_limited"); the most packets out are counted as Linux's
// packets_out (SACKed segments included, not RFC 6675's pipe); and the next
// window starts afresh.
func TestCwndValidate_LinuxTcpCwndValidate(t *testing.T) {
	p := newPair(t, nil, nil)
	p.connect()
	a := p.a.TCB
	send := func(n int) {
		for range n {
			a.rtxq.push(a.sndNxt, a.sndNxt+1000, p.now, false)
			a.sndNxt += 1000
		}
	}
	send(5)
	a.cwndValidate(true)
	if !a.isCwndLimited || a.maxPacketsOut != 5 {
		t.Fatalf("after a cwnd-limited send of 5: limited %v, max out %d", a.isCwndLimited, a.maxPacketsOut)
	}
	windowEnd := a.cwndUsageSeq
	send(3)
	a.cwndValidate(false)
	if !a.isCwndLimited || !a.cwndLimited() {
		t.Fatal("an unlimited send with more packets out, in the same window, cleared is_cwnd_limited")
	}
	if a.cwndUsageSeq != windowEnd {
		t.Fatal("the window of observation restarted before it was acknowledged")
	}

	// The window is acknowledged: the next send starts a new one, which
	// remembers only what it sees.
	a.sndUna = windowEnd
	a.cwndValidate(false)
	if a.isCwndLimited || a.cwndUsageSeq != a.sndNxt || a.maxPacketsOut != 8 {
		t.Fatalf("new window: limited %v, usage seq %d (want %d), max out %d (want the 8 still queued)",
			a.isCwndLimited, a.cwndUsageSeq, a.sndNxt, a.maxPacketsOut)
	}
	// Not limited: more packets out raise the maximum, SACKed ones counted.
	send(2)
	a.rtxq.sacked = 4
	a.cwndValidate(false)
	if a.maxPacketsOut != 10 {
		t.Fatalf("max packets out %d, want 10 (packets_out, SACKed included; pipe is %d)", a.maxPacketsOut, a.rtxq.pipe())
	}
}

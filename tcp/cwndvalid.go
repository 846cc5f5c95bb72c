package tcp

// Congestion window validation as Linux does it (RFC 7661's aim: a window
// the sender does not use is not grown), so that cwnd evolves as a Linux
// peer's does in the packetdrill corpus.

// cwndValidate is tcp_cwnd_validate's bookkeeping, after output sent
// something or was stopped by cwnd: limited says whether cwnd limited it
// (it stopped on cwnd, or what is in flight fills cwnd). A new window of
// observation starts once the previous one is acknowledged.
func (t *TCB) cwndValidate(limited bool) {
	pkts := t.packetsInFlight()
	if !seqLT(t.sndUna, t.cwndUsageSeq) || limited || pkts > t.maxPacketsOut {
		t.maxPacketsOut = pkts
		t.cwndUsageSeq = t.sndNxt
		t.isCwndLimited = limited
	}
}

// cwndLimited is tcp_is_cwnd_limited: cwnd limited the sender during the
// current window, or, in slow start, cwnd is less than twice the most
// segments in flight (slow start may double what was used).
func (t *TCB) cwndLimited() bool {
	if t.isCwndLimited {
		return true
	}
	if t.ccs.Cwnd < t.ccs.Ssthresh {
		return t.ccs.Cwnd < 2*t.maxPacketsOut
	}
	return false
}

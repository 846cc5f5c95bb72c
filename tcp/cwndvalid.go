package tcp

// Congestion window validation as Linux does it (RFC 7661's aim: a window
// the sender does not use is not grown), so that cwnd evolves as a Linux
// peer's does in the packetdrill corpus.

// cwndValidate is tcp_cwnd_validate's bookkeeping, after output sent
// something or was stopped by cwnd: limited says whether cwnd limited it
// (it stopped on cwnd, or what is in flight fills cwnd). A new window of
// observation starts once the previous one is acknowledged. Within a
// window the strongest signal wins: once cwnd limited the sender, a later
// send that was not limited does not clear that, even with more packets out
// (Linux 5.19+, "tcp: fix tcp_cwnd_validate() to not forget
// is_cwnd_limited"); otherwise the most packets out (Linux's packets_out:
// every segment sent and not cumulatively acknowledged, SACKed or lost ones
// included) are remembered.
func (t *TCB) cwndValidate(limited bool) {
	pkts := t.rtxq.packetsOut()
	if !seqLT(t.sndUna, t.cwndUsageSeq) || limited || (!t.isCwndLimited && pkts > t.maxPacketsOut) {
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

package tcp

// Send-buffer growth, as Linux's tcp_sndbuf_expand: a connection whose user
// has not set SO_SNDBUF gets a send buffer of at least twice the congestion
// window (in segments of the current MSS), so that the sender is limited by
// the network, not by a fixed 16 KiB buffer, and a large MSS (a 64 KiB MTU)
// never faces a buffer smaller than one segment. tcp_wmem[2] caps it.

// expandSndBuf grows the send buffer when the window it must cover grew:
// when the connection is established and when cwnd grows.
func (t *TCB) expandSndBuf() {
	if t.sndBufLocked || t.mss <= 0 {
		return
	}
	segs := int(t.ccs.Cwnd)
	if segs < t.cfg.InitCwnd {
		segs = t.cfg.InitCwnd
	}
	if segs < 4 { // tcp_reordering + 1
		segs = 4
	}
	want := 2 * segs * t.mss
	if want > t.cfg.WMem[2] {
		want = t.cfg.WMem[2]
	}
	if want > t.sndBuf.limit() {
		t.sndBuf.setLimit(want)
	}
}

package tcp

import "time"

// Send-side time accounting for tcp_info's tcpi_busy_time, tcpi_rwnd_limited
// and tcpi_sndbuf_limited, kept the way Linux keeps them (tcp_chrono_start,
// tcp_chrono_stop). At any moment the connection is in one of four
// conditions, ranked:
//
//	none            nothing queued to send and nothing unacknowledged
//	busy            data queued or in flight
//	rwnd-limited    data waiting that the peer's window does not admit
//	sndbuf-limited  everything written has been sent, the network could take
//	                more, and the application is waiting for send-buffer room
//
// A condition of higher rank overrides a lower one when it starts; when it
// stops, the connection falls back to busy (or to none once nothing is left
// to send or acknowledge). tcpi_busy_time is the time spent in any of the
// last three, and each limited figure is the time spent in its condition.
// Times are the engine's own, in nanoseconds; tcp_info reports microseconds.

// chrono is one of the conditions above (Linux's enum tcp_chrono).
type chrono uint8

const (
	chronoNone          chrono = iota // TCP_CHRONO_UNSPEC
	chronoBusy                        // TCP_CHRONO_BUSY
	chronoRwndLimited                 // TCP_CHRONO_RWND_LIMITED
	chronoSndbufLimited               // TCP_CHRONO_SNDBUF_LIMITED
)

// chronoStats is the TCB's accounting: the current condition, when it began,
// and the time accumulated in each condition but none.
type chronoStats struct {
	start Time
	spent [3]time.Duration
	cur   chrono
	// noSpace is Linux's SOCK_NOSPACE: the application found the send
	// buffer full. noSpaceWrite: set by a short Write, cleared by the
	// engine when an ACK frees enough room; noSpaceOwner: set and cleared
	// by the owner (a socket layer enforcing its own buffer limit), through
	// SetSendBufferFull.
	noSpace uint8
}

const (
	noSpaceWrite uint8 = 1 + iota
	noSpaceOwner
)

// chronoSet closes the current condition's period and opens one of c.
func (t *TCB) chronoSet(c chrono) {
	ch := &t.chrono
	if ch.cur != chronoNone {
		ch.spent[ch.cur-1] += t.now - ch.start
	}
	ch.start, ch.cur = t.now, c
}

// chronoStart is tcp_chrono_start: c takes over unless a higher-ranked
// condition holds.
func (t *TCB) chronoStart(c chrono) {
	if c > t.chrono.cur {
		t.chronoSet(c)
	}
}

// chronoStop is tcp_chrono_stop: with nothing left to send or acknowledge
// the connection is no longer busy; otherwise, if c was the condition, busy
// takes over again.
func (t *TCB) chronoStop(c chrono) {
	if t.sendQueuesEmpty() {
		t.chronoSet(chronoNone)
	} else if c == t.chrono.cur {
		t.chronoSet(chronoBusy)
	}
}

// sendQueuesEmpty reports that nothing is waiting to be sent or to be
// acknowledged: no data and no FIN (Linux's tcp_rtx_and_write_queues_empty).
func (t *TCB) sendQueuesEmpty() bool {
	return t.sndBuf.Len() == 0 && t.sndUna == t.sndMax && !(t.finQueued && !t.finSent)
}

// chronoWrite is called when the application queued n bytes (Linux starts
// the busy period when data enters an empty write queue; an earlier start
// still holds).
func (t *TCB) chronoWrite(queued, asked int) {
	if queued > 0 {
		t.chronoStart(chronoBusy)
	}
	if queued < asked && t.chrono.noSpace == 0 {
		t.chrono.noSpace = noSpaceWrite
	}
}

// chronoOutput is called at the end of every transmit pass (Linux's
// tcp_write_xmit and tcp_check_space): rwndLimited says the peer's window
// stopped the pass, cwndLimited whether the congestion window limits the
// sender (tcp_is_cwnd_limited, after cwndValidate), and sent whether the
// pass sent anything.
func (t *TCB) chronoOutput(rwndLimited, cwndLimited, sent bool) {
	if rwndLimited {
		t.chronoStart(chronoRwndLimited)
	} else {
		t.chronoStop(chronoRwndLimited)
	}
	// Linux's tcp_cwnd_validate: having just sent, not limited by cwnd, with
	// nothing left unsent while the application waits for room, the sender
	// is limited by its send buffer.
	if sent && !cwndLimited && t.chrono.noSpace != 0 && t.Unsent() == 0 &&
		(t.state == Established || t.state == CloseWait) {
		t.chronoStart(chronoSndbufLimited)
	}
	// tcp_check_space: once an ACK has made the buffer writable again (free
	// room at least half what is queued, sk_stream_is_writeable), the
	// application is no longer waiting.
	if t.chrono.noSpace == noSpaceWrite && t.sndBuf.Free() >= t.sndBuf.Len()/2 {
		t.chrono.noSpace = 0
		t.chronoStop(chronoSndbufLimited)
	}
	// Everything acknowledged (tcp_clean_rtx_queue emptying the
	// retransmission queue): no longer busy.
	if t.chrono.cur != chronoNone && t.sendQueuesEmpty() {
		t.chronoSet(chronoNone)
	}
}

// SetSendBufferFull records whether the application is waiting for room in
// the send buffer (Linux's SOCK_NOSPACE), for a socket layer that enforces a
// send-buffer limit of its own below the engine's buffer (so that Write is
// never cut short): it sets the flag when a write finds no room and clears
// it when the socket becomes writable again. The flag feeds
// tcpi_sndbuf_limited.
func (t *TCB) SetSendBufferFull(now Time, full bool) {
	t.now = now
	if full {
		t.chrono.noSpace = noSpaceOwner
		return
	}
	if t.chrono.noSpace != 0 {
		t.chrono.noSpace = 0
		t.chronoStop(chronoSndbufLimited)
	}
}

// chronoTimes returns tcpi_busy_time, tcpi_rwnd_limited and
// tcpi_sndbuf_limited as of now (tcp_get_info_chrono_stats).
func (t *TCB) chronoTimes() (busy, rwnd, sndbuf time.Duration) {
	s := t.chrono.spent
	if c := t.chrono.cur; c != chronoNone {
		s[c-1] += t.now - t.chrono.start
	}
	return s[0] + s[1] + s[2], s[1], s[2]
}

package tcp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Linux's send-side chrono statistics (tcpi_busy_time, tcpi_rwnd_limited,
// tcpi_sndbuf_limited; tcp_chrono_start/stop), written as exchanges of
// segments. The scripts open actively with SYN at 0 and the SYN-ACK at 0.100.

// stChrono asserts the three chrono figures at when.
func stChrono(when string, busy, rwnd, sndbuf time.Duration) stStep {
	desc := fmt.Sprintf("chrono busy %v rwnd %v sndbuf %v", busy, rwnd, sndbuf)
	return stCall(when, desc, func(r *stRun) error {
		i := r.tcb.InfoAt(r.now)
		if i.BusyTime != busy || i.RwndLimited != rwnd || i.SndbufLimited != sndbuf {
			return fmt.Errorf("busy %v rwnd %v sndbuf %v", i.BusyTime, i.RwndLimited, i.SndbufLimited)
		}
		return nil
	}, nil)
}

// stOpenWin is stActiveOpen with the peer offering win (scaled by 7).
func stOpenWin(win string) []stStep {
	return []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win "+win+" "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
	}
}

// TestChrono_RwndLimited: data that the peer's window does not admit counts
// as rwnd-limited time, from the write until the window opens; the busy time
// runs from the write until everything is acknowledged, and nothing counts
// while the connection has nothing to send.
func TestChrono_RwndLimited(t *testing.T) {
	stScript{steps: stSteps(stOpenWin("0"), []stStep{
		stChrono("0.150", 0, 0, 0),
		stWrite("0.200", strings.Repeat("x", 1000)),
		stChrono("0.300", 100*time.Millisecond, 100*time.Millisecond, 0),
		stIn("0.400", ". 5001:5001(0) ack 1001 win 100"),
		stOut("+0", "P. 1001:2001(1000) ack 5001 win 502"),
		stChrono("+0", 200*time.Millisecond, 200*time.Millisecond, 0),
		stIn("0.450", ". 5001:5001(0) ack 2001 win 100"),
		stChrono("+0", 250*time.Millisecond, 200*time.Millisecond, 0),
		stChrono("2.000", 250*time.Millisecond, 200*time.Millisecond, 0),
	})}.run(t)
}

// TestChrono_RwndLimitedSmallWindow: a window smaller than the segment
// waiting (Linux sends only segments that fit) is rwnd-limited too, and a
// later write while limited does not restart anything.
func TestChrono_RwndLimitedSmallWindow(t *testing.T) {
	stScript{steps: stSteps(stOpenWin("65535"), []stStep{
		stWrite("0.200", strings.Repeat("x", 1000)),
		stOut("+0", "P. 1001:2001(1000) ack 5001 win 502"),
		stIn("0.300", ". 5001:5001(0) ack 2001 win 1"), // 128 bytes
		stChrono("+0", 100*time.Millisecond, 0, 0),
		stWrite("0.400", strings.Repeat("y", 1000)),
		stWrite("0.450", strings.Repeat("z", 10)),
		stChrono("0.500", 200*time.Millisecond, 100*time.Millisecond, 0),
		stIn("0.500", ". 5001:5001(0) ack 2001 win 100"),
		stOut("+0", "P. 2001:3011(1010) ack 5001 win 502"),
		stIn("0.600", ". 5001:5001(0) ack 3011 win 100"),
		stChrono("+0", 300*time.Millisecond, 100*time.Millisecond, 0),
	})}.run(t)
}

// TestChrono_SndbufLimited: a write cut short by a full send buffer
// (SOCK_NOSPACE), all of whose data went out without filling cwnd, makes
// the sender send-buffer-limited until an ACK frees room.
func TestChrono_SndbufLimited(t *testing.T) {
	stScript{steps: stSteps([]stStep{
		stCall("0", "SO_SNDBUF 2048", func(r *stRun) error { r.tcb.SetWriteBuffer(2048); return nil }, nil),
	}, stOpenWin("65535"), []stStep{
		stCall("0.200", "write 10000 bytes", func(r *stRun) error {
			n, err := r.tcb.Write(r.now, make([]byte, 10000))
			if n != 4096 {
				return fmt.Errorf("wrote %d, want 4096 (SO_SNDBUF doubled)", n)
			}
			return err
		}, nil),
		stOut("+0", ". 1001:2461(1460) ack 5001 win 502"),
		stOut("+0", "P. 2461:3921(1460) ack 5001 win 502"),
		stOut("+0", "P. 3921:5097(1176) ack 5001 win 502"),
		stChrono("0.250", 50*time.Millisecond, 0, 50*time.Millisecond),
		// 1460 bytes free of 4096 with 2636 queued: writable again
		// (sk_stream_is_writeable: free room at least half what is queued).
		stIn("0.300", ". 5001:5001(0) ack 2461 win 65535"),
		stChrono("+0", 100*time.Millisecond, 0, 100*time.Millisecond),
		stIn("0.350", ". 5001:5001(0) ack 3921 win 65535"),
		stChrono("0.400", 200*time.Millisecond, 0, 100*time.Millisecond),
		stIn("0.450", ". 5001:5001(0) ack 5097 win 65535"),
		stChrono("1.000", 250*time.Millisecond, 0, 100*time.Millisecond),
	})}.run(t)
}

// TestChrono_SendBufferFullFromOwner: a socket layer that enforces its own
// send-buffer limit reports SOCK_NOSPACE with SetSendBufferFull; the
// engine's own buffer never filled, but the time counts as
// send-buffer-limited once everything written is out, until the owner
// clears the flag.
func TestChrono_SendBufferFullFromOwner(t *testing.T) {
	full := func(when string, on bool) stStep {
		return stCall(when, fmt.Sprintf("SetSendBufferFull(%v)", on), func(r *stRun) error {
			r.tcb.SetSendBufferFull(r.now, on)
			return nil
		}, nil)
	}
	stScript{steps: stSteps(stOpenWin("65535"), []stStep{
		stWrite("0.200", strings.Repeat("x", 1000)),
		stOut("+0", "P. 1001:2001(1000) ack 5001 win 502"),
		full("0.210", true),
		// Nothing more sent yet: the period starts with the next
		// transmission that leaves nothing unsent (tcp_cwnd_validate).
		stChrono("0.250", 50*time.Millisecond, 0, 0),
		stIn("0.300", ". 5001:5001(0) ack 2001 win 65535"),
		stChrono("+0", 100*time.Millisecond, 0, 0),
		stWrite("0.350", strings.Repeat("y", 1460)),
		stOut("+0", "P. 2001:3461(1460) ack 5001 win 502"),
		stChrono("0.400", 150*time.Millisecond, 0, 50*time.Millisecond),
		full("0.450", false),
		stChrono("0.500", 250*time.Millisecond, 0, 100*time.Millisecond),
		stIn("0.550", ". 5001:5001(0) ack 3461 win 65535"),
		stChrono("0.600", 300*time.Millisecond, 0, 100*time.Millisecond),
	})}.run(t)
}

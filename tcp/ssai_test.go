package tcp

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestCwndRestart_RFC2861 checks the arithmetic of Linux's tcp_cwnd_restart
// (RFC 2861's decay): once idle for more than one RTO, cwnd
// halves once per (started) RTO of idle time, never below the
// restart window min(IW, cwnd) (RFC 5681 4.1), and ssthresh keeps at least
// three quarters of the window the connection had (tcp_current_ssthresh).
func TestCwndRestart_RFC2861(t *testing.T) {
	const rto = 300 * time.Millisecond
	for _, tc := range []struct {
		name                   string
		cwnd, ssthresh         uint32
		idle                   time.Duration
		wantCwnd, wantSsthresh uint32
	}{
		{"just over one RTO: halved once", 40, 1000, 301 * time.Millisecond, 20, 1000},
		{"exactly two RTOs: halved once", 40, 1000, 600 * time.Millisecond, 20, 1000},
		{"over two RTOs: halved twice", 40, 1000, 601 * time.Millisecond, 10, 1000},
		{"over three RTOs: stops at IW", 80, 1000, 901 * time.Millisecond, 10, 1000},
		{"over three RTOs from 160", 160, 1000, 901 * time.Millisecond, 20, 1000},
		{"long idle: restart window IW", 40, 1000, time.Minute, 10, 1000},
		{"halving below IW ends at IW", 36, 1000, time.Minute, 10, 1000},
		{"window below IW stays", 4, 1000, time.Minute, 4, 1000},
		{"ssthresh raised to 3/4 cwnd", 40, 12, time.Minute, 10, 30},
		{"ssthresh above 3/4 cwnd kept", 40, 35, time.Minute, 10, 35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, nil)
			e.ccs.Cwnd, e.ccs.Ssthresh = tc.cwnd, tc.ssthresh
			e.cwndRestart(tc.idle, rto)
			if e.ccs.Cwnd != tc.wantCwnd || e.ccs.Ssthresh != tc.wantSsthresh {
				t.Errorf("cwnd %d ssthresh %d, want %d %d", e.ccs.Cwnd, e.ccs.Ssthresh, tc.wantCwnd, tc.wantSsthresh)
			}
		})
	}
}

// ssaiConn grows a connection's cwnd to 40 segments: SYN at 0, SYN-ACK at
// 0.1 (RTT 100 ms, RTO 300 ms), 10 segments out at 0.1 acknowledged at 0.2,
// 20 out at 0.2 acknowledged at 0.3. The last data left at 0.2.
func ssaiConn(t *testing.T, cfg *Config) endpoint {
	t.Helper()
	e := newEndpoint(t, cfg)
	ms := func(n int) Time { return Time(n) * time.Millisecond }
	e.SetWriteBuffer(1 << 20)
	e.Connect(0, OpenOptions{ISN: 1000, MSS: 1460})
	e.Input(ms(100), &Segment{Seq: 5000, Ack: 1001, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535,
		Options: wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7}})
	e.rec.take()
	if n, _ := e.Write(ms(100), make([]byte, 30*1460)); n != 30*1460 {
		t.Fatalf("wrote %d", n)
	}
	for _, at := range []int{200, 300} {
		if got := len(e.rec.take()); got != int(e.ccs.Cwnd) {
			t.Fatalf("sent %d segments with cwnd %d", got, e.ccs.Cwnd)
		}
		e.Input(ms(at), seg(wire.FlagACK, 5001, e.sndNxt, 1000, ""))
	}
	e.rec.take()
	if e.ccs.Cwnd != 40 || e.rtt.rto() != 300*time.Millisecond || e.lastSend != ms(200) {
		t.Fatalf("setup: cwnd %d rto %v last send %v", e.ccs.Cwnd, e.rtt.rto(), e.lastSend)
	}
	return e
}

// TestSlowStartAfterIdle_RFC5681_4_1: a write after the sender was idle for
// longer than the RTO leaves with the decayed window (Linux's
// tcp_slow_start_after_idle, default on); within one RTO, or with the knob
// off, the whole window goes out.
func TestSlowStartAfterIdle_RFC5681_4_1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		off   bool
		write time.Duration // time of the write (the last data left at 0.2)
		want  int           // segments sent
	}{
		{"idle 250ms < RTO", false, 450 * time.Millisecond, 40},
		{"idle 350ms: halved once", false, 550 * time.Millisecond, 20},
		{"idle 650ms: halved twice, IW", false, 850 * time.Millisecond, 10},
		{"idle 5s: initial window", false, 5 * time.Second, 10},
		{"tcp_slow_start_after_idle=0", true, 5 * time.Second, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Timestamps = false
			cfg.SlowStartAfterIdle = !tc.off
			e := ssaiConn(t, &cfg)
			e.Write(tc.write, make([]byte, 60*1460))
			if got := len(e.rec.take()); got != tc.want {
				t.Errorf("sent %d segments (cwnd %d), want %d", got, e.ccs.Cwnd, tc.want)
			}
		})
	}
}

// TestSlowStartAfterIdle_WindowUpdate: data held back by a zero window
// while the sender idles restarts the window when the peer opens it (Linux
// checks on every window change with data waiting, tcp_ack_update_window);
// zero-window probes carry no data and do not end the idle period.
func TestSlowStartAfterIdle_WindowUpdate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Timestamps = false
	e := ssaiConn(t, &cfg)
	ms := func(n int) Time { return Time(n) * time.Millisecond }
	e.Input(ms(300), seg(wire.FlagACK, 5001, e.sndNxt, 0, "")) // window closes
	e.Write(ms(300), make([]byte, 60*1460))
	for now := ms(300); now < ms(3000); now += ms(10) {
		e.Tick(now)
	}
	for _, s := range e.rec.take() {
		if len(s.Payload) > 0 {
			t.Fatalf("data sent into a zero window: %v", &s)
		}
	}
	if e.ccs.Cwnd != 40 {
		t.Fatalf("cwnd %d while the window is closed, want 40 (Linux does not restart before the window opens)", e.ccs.Cwnd)
	}
	e.Input(ms(3000), seg(wire.FlagACK, 5001, e.sndNxt, 1000, ""))
	if got := len(e.rec.take()); got != 10 || e.ccs.Cwnd != 10 {
		t.Errorf("after the window opened: sent %d segments with cwnd %d, want 10, 10", got, e.ccs.Cwnd)
	}
}

package tcp

// The receiver's ACK pacing as Linux 6.x does it (quickack.go): how many
// quick ACKs, what spends and renews them, and the delayed-ACK timeout ato.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// quickRun feeds full-sized segments (not read) and returns how many were
// acknowledged at once, each on its own, before the first that was not;
// it fails if all of max were.
func (r *r9) quickRun(max int) int {
	r.t.Helper()
	full := strings.Repeat("d", 1460)
	for i := 0; i < max; i++ {
		out := r.peer(wire.FlagACK, full)
		if len(out) == 0 {
			return i
		}
		if a := r9Only(r.t, out, "quick ACK"); a.Ack != r.nxt {
			r.t.Fatalf("segment %d answered with %s, want an ACK of %d", i+1, &a, r.nxt)
		}
	}
	r.t.Fatalf("%d full segments in a row acknowledged at once", max)
	return max
}

// Linux's tcp_event_data_recv starts quick-ACK mode with the first data
// (tcp_incr_quickack): TCP_MAX_QUICKACKS (Config.QuickAcks) ACKs, or as
// many as the window last offered holds pairs of full segments, at least
// two.
func TestLinux_QuickAck_CountAtFirstData(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want int
	}{
		{"defaults: TCP_MAX_QUICKACKS", nil, 16},
		{"QuickAcks 4", func(c *Config) { c.QuickAcks = 4 }, 4},
		// 8 KiB of buffer: 2920 offered, one pair of full segments.
		{"window of one pair", func(c *Config) { c.RMem[1] = 8192; c.ModerateRcvbuf = false }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := r9Passive(t, r9Config(tc.cfg), wire.TCPOptions{HasMSS: true, MSS: 1460}, 65535)
			if got := r.quickRun(64); got != tc.want {
				t.Fatalf("%d quick ACKs, want %d", got, tc.want)
			}
		})
	}
}

// Linux 6.7's tcp_dec_quickack_mode ("count actual ACKs of new data"):
// only ACKs that acknowledge data spend the quick-ACK allowance; our own
// data segments, which carry an ACK nobody was owed, do not.
func TestLinux_QuickAck_SpentOnlyByAcksOfNewData(t *testing.T) {
	r := r9Plain(t, nil)
	full := strings.Repeat("d", 1460)
	for i := 0; i < 4; i++ {
		if a := r9Only(t, r.peer(wire.FlagACK, full), "quick ACK"); a.Ack != r.nxt {
			t.Fatalf("segment %d: %s", i+1, &a)
		}
	}
	// 20 segments of ours, each with ACK set, acknowledged by the peer.
	out := r9Data(r.write(make([]byte, 20*1460)))
	for sent := 0; sent < 20; {
		if len(out) == 0 {
			t.Fatalf("the sender stalled after %d segments", sent)
		}
		sent += len(out)
		last := out[len(out)-1]
		out = r9Data(r.ackUpTo(last.Seq+uint32(len(last.Payload)), 65535))
	}
	if got := r.quickRun(64); got != 12 {
		t.Fatalf("%d quick ACKs left after our data, want 16-4 = 12", got)
	}
}

// Linux's tcp_send_dupack: a segment wholly below RCV.NXT (a retransmission
// of data already received) is acknowledged at once and puts the receiver
// back in quick-ACK mode (tcp_enter_quickack_mode), so a sender that
// retransmitted needlessly gets its window back quickly. That ACK was not
// owed for new data, so it does not spend one (tcp_dec_quickack_mode).
func TestLinux_QuickAck_DuplicateDataReenters(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	dup := seg(wire.FlagACK, r.nxt-1, r.ack, r.win, "q")
	if a := r9Only(t, r.in(dup), "ACK of the duplicate"); a.Ack != r.nxt {
		t.Fatalf("duplicate answered with %s, want ack %d", &a, r.nxt)
	}
	if got := r.quickRun(64); got != 16 {
		t.Fatalf("%d quick ACKs after the duplicate, want 16", got)
	}
}

// Linux's tcp_send_dupack: a segment that fails the acceptability test
// is answered with an ACK; quick-ACK mode follows only for data below
// RCV.NXT (a duplicate), not for data beyond the window.
func TestLinux_QuickAck_NotForDataBeyondWindow(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	far := seg(wire.FlagACK, r.nxt+200000, r.ack, r.win, "x")
	if a := r9Only(t, r.in(far), "ACK of the segment beyond the window"); a.Ack != r.nxt {
		t.Fatalf("answered with %s, want ack %d", &a, r.nxt)
	}
	if got := r.quickRun(64); got != 0 {
		t.Fatalf("%d quick ACKs after it, want 0", got)
	}
}

// Linux's tcp_data_queue: data at RCV.NXT while the offered window is zero
// is dropped, acknowledged at once, and puts the receiver in quick-ACK mode
// for as many ACKs as the window holds pairs of segments, at least two
// (tcp_enter_quickack_mode); the ACK of the drop, owed, spends one.
func TestLinux_QuickAck_ZeroWindowDropReenters(t *testing.T) {
	r := r9Passive(t, r9Config(func(c *Config) { c.RMem[1] = 4096; c.ModerateRcvbuf = false }),
		wire.TCPOptions{HasMSS: true, MSS: 1460}, 65535)
	full := strings.Repeat("d", 1460)
	for i := 0; ; i++ {
		if i == 8 {
			t.Fatal("the window never closed")
		}
		out := r.peer(wire.FlagACK, full)
		if len(out) > 0 && out[len(out)-1].Window == 0 {
			r.nxt = out[len(out)-1].Ack // the part beyond the window was cut
			break
		}
	}
	drop := r.mk(wire.FlagACK, full)
	if a := r9Only(t, r.in(drop), "ACK of the data in a zero window"); a.Ack != r.nxt || a.Window != 0 {
		t.Fatalf("answered with %s, want ack %d win 0", &a, r.nxt)
	}
	if q := r.e.quickAcks; q != 1 {
		t.Fatalf("quick ACKs left %d, want 2-1", q)
	}
}

// Linux's tcp_event_data_recv: in-order data after a silence longer than
// the RTO starts quick-ACK mode again (the sender restarts from a small
// window); a shorter silence does not.
func TestLinux_QuickAck_AfterSilenceLongerThanRTO(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	rto := r.e.Info().RTO
	r.now += rto / 2
	if got := r.quickRun(64); got != 0 {
		t.Fatalf("after %v (half the RTO): %d quick ACKs, want 0", rto/2, got)
	}
	r.runSegs(time.Second)
	r.now += rto + time.Millisecond
	if got := r.quickRun(64); got != 16 {
		t.Fatalf("after more than the RTO (%v): %d quick ACKs, want 16", rto, got)
	}
}

// Linux's delayed-ACK timeout ato (tcp_event_data_recv,
// tcp_delack_timer_handler, tcp_send_delayed_ack): 40 ms (TCP_ATO_MIN) at
// first; doubled, up to the RTO, each time the timer fires before the next
// segment; moved towards the gap between segments as they arrive; the
// timer itself bounded by the SRTT. Segments of 100 bytes, no quick ACKs;
// SRTT 100 ms, RTO 300 ms.
func TestLinux_DelayedAck_ATOFollowsArrivals(t *testing.T) {
	cfg := stCfg()
	cfg.QuickAcks = 0
	ato := func(want time.Duration) stStep {
		return stCall("+0", fmt.Sprintf("ato %v", want), func(r *stRun) error {
			if got := r.tcb.Info().ATO; got != want {
				return fmt.Errorf("Info().ATO %v, want %v", got, want)
			}
			return nil
		}, nil)
	}
	stScript{cfg: cfg, steps: append(stActiveOpen(),
		ato(0), // no data yet
		// The first data: ato 40 ms; the timer fires, ato doubles.
		stData("0.200", 5001, 100, 0, 0),
		ato(40*time.Millisecond),
		stQuiet("0.239"),
		stOut("0.240", ". 1001:1001(0) ack 5101 win 502"),
		ato(80*time.Millisecond),
		// 100 ms later: longer than ato, shorter than the RTO: ato
		// stays; the ACK waits 80 ms, and ato doubles again.
		stData("0.300", 5101, 100, 0, 0),
		stQuiet("0.379"),
		stOut("0.380", ". 1001:1001(0) ack 5201 win 502"),
		ato(160*time.Millisecond),
		// 100 ms, shorter than ato: ato = 160/2 + 100 = 180 ms, the
		// timer bounded by the SRTT (100 ms); doubled, capped at the RTO.
		stData("0.400", 5201, 100, 0, 0),
		ato(180*time.Millisecond),
		stQuiet("0.499"),
		stOut("0.500", ". 1001:1001(0) ack 5301 win 502"),
		ato(300*time.Millisecond),
		// 105 ms: ato = 300/2 + 105 = 255 ms, the timer at +100 ms;
		// then 5 ms (under 20 ms): ato = 255/2 + 20 = 147.5 ms, and the
		// timer already running keeps its earlier deadline.
		stData("0.505", 5301, 100, 0, 0),
		ato(255*time.Millisecond),
		stData("0.510", 5401, 100, 0, 0),
		ato(147500*time.Microsecond),
		stQuiet("0.604"),
		stOut("0.605", ". 1001:1001(0) ack 5501 win 502"),
	)}.run(t)
}

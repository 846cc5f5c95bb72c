package tcp

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestRFC5681_2_DupAckRequiresUnchangedWindow: an ACK that repeats SND.UNA
// is a duplicate only if it also leaves the advertised window unchanged
// (RFC 5681 2, condition (e)). Window updates from a receiver draining its
// buffer must not trigger fast retransmit; three true duplicates must.
func TestRFC5681_2_DupAckRequiresUnchangedWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Timestamps = false
	cfg.SACK = false
	cfg.WindowScaling = false
	e := newEndpoint(t, &cfg)
	now := time.Second
	e.Connect(now, OpenOptions{ISN: 1000, MSS: 1460})
	e.Input(now, &Segment{Seq: 5000, Ack: 1001, Flags: wire.FlagSYN | wire.FlagACK, Window: 60000,
		Options: wire.TCPOptions{HasMSS: true, MSS: 1000}})
	e.SetNoDelay(now, true)
	if n, _ := e.Write(now, make([]byte, 5000)); n != 5000 {
		t.Fatalf("wrote %d", n)
	}
	e.rec.take()
	ack := func(win uint16) int {
		e.Input(now, &Segment{Seq: 5001, Ack: 1001, Flags: wire.FlagACK, Window: win})
		retrans := 0
		for _, s := range e.rec.take() {
			if len(s.Payload) > 0 && s.Seq == 1001 {
				retrans++
			}
		}
		return retrans
	}
	// Window updates: same ACK, a different window each time.
	for _, w := range []uint16{10000, 20000, 30000, 40000} {
		if r := ack(w); r != 0 {
			t.Fatalf("a window update (win %d) caused a retransmission", w)
		}
	}
	if got := e.Info().FastRetrans; got != 0 {
		t.Fatalf("fast retransmits after window updates: %d", got)
	}
	// Three duplicates: same ACK, same window.
	r := ack(40000) + ack(40000) + ack(40000)
	if r != 1 || e.Info().FastRetrans != 1 {
		t.Fatalf("after three duplicate ACKs: %d retransmissions, FastRetrans %d; want 1 and 1", r, e.Info().FastRetrans)
	}
}

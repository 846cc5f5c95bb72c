package tcp

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestSendBufferGrowsWithCwnd: like Linux's tcp_sndbuf_expand, an
// established connection's send buffer holds at least two congestion windows
// (at least InitCwnd segments), so a 64 KiB MSS is never bigger than the
// buffer; SO_SNDBUF set by the user turns the growth off.
func TestSendBufferGrowsWithCwnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mss    uint16
		setBuf int
		want   int
	}{
		{"mss 1460", 1460, 0, 2 * 10 * 1460},
		{"mss 65495", 65495, 0, 2 * 10 * 65495},
		{"SO_SNDBUF set", 65495, 8192, 16384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Timestamps = false
			e := newEndpoint(t, &cfg)
			if tc.setBuf > 0 {
				e.SetWriteBuffer(tc.setBuf)
			}
			now := time.Second
			e.Connect(now, OpenOptions{ISN: 1, MSS: 65495})
			e.Input(now, &Segment{Seq: 100, Ack: 2, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535,
				Options: wire.TCPOptions{HasMSS: true, MSS: tc.mss}})
			if got := e.WriteBuffer(); got != tc.want {
				t.Errorf("send buffer %d, want %d", got, tc.want)
			}
		})
	}
}

// TestSendBufferGrowsDuringSlowStart: the send buffer follows the congestion
// window as it grows (two windows of segments, tcp_sndbuf_expand's factor
// for fast recovery), up to tcp_wmem[2]; with SO_SNDBUF set it stays put.
func TestSendBufferGrowsDuringSlowStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setBuf int
		want   []int // buffer after the handshake, then after each round
	}{
		{"grows with cwnd", 0, []int{29200, 58400, 116800, 200000}},
		{"SO_SNDBUF set", 50000, []int{100000, 100000, 100000, 100000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Timestamps = false
			cfg.WMem[2] = 200000
			e := newEndpoint(t, &cfg)
			if tc.setBuf > 0 {
				e.SetWriteBuffer(tc.setBuf)
			}
			now := time.Second
			e.Connect(now, OpenOptions{ISN: 1000, MSS: 1460})
			e.Input(now, &Segment{Seq: 5000, Ack: 1001, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535,
				Options: wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7}})
			data := make([]byte, 1<<20)
			for round, want := range tc.want {
				if got := e.WriteBuffer(); got != want {
					t.Fatalf("round %d (cwnd %d): send buffer %d, want %d", round, e.ccs.Cwnd, got, want)
				}
				e.Write(now, data)
				now += 100 * time.Millisecond
				e.Input(now, seg(wire.FlagACK, 5001, e.sndNxt, 1000, ""))
			}
		})
	}
}

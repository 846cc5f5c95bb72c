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

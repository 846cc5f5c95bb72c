package sim

import (
	"testing"
	"time"
)

// TestReceiveBufferAutotuning: over a long, fast path (100 ms round trip at
// 100 Mbit/s, a bandwidth-delay product of 1.25 MB) the receiver grows its
// buffer and the window it advertises well beyond the 64 KiB that
// tcp_rmem[1] offers (Linux's tcp_moderate_rcvbuf), and the transfer is
// faster for it; with SO_RCVBUF set the window stays at the initial one.
func TestReceiveBufferAutotuning(t *testing.T) {
	const size = 8 << 20
	type result struct {
		maxWnd   uint32
		duration time.Duration
	}
	run := func(t *testing.T, readBuffer int) result {
		n, a, b, _ := pair(t, 1, Symmetric(PathConfig{Latency: 50 * time.Millisecond, Bandwidth: 100e6, QueueLimit: 2000}))
		n.SetWatchdog(time.Minute)
		snd, sink := startTransferCfg(t, a, b, b.AddrPort(sinkPort), BulkConfig{Size: size, Seed: 3, ReadBuffer: readBuffer})
		var res result
		n.OnStep(func() {
			for _, st := range sink.Streams() {
				if i := st.Conn.Info(); i.RcvWnd > res.maxWnd {
					res.maxWnd = i.RcvWnd
				}
			}
		})
		if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour); err != nil {
			t.Fatal(err)
		}
		res.duration = checkTransfer(t, n, snd, sink, size).duration
		return res
	}
	tuned := run(t, 0)
	fixed := run(t, 64<<10) // SO_RCVBUF 64 KiB: a 128 KiB buffer, 64 KiB window
	t.Logf("auto-tuned: max window %d B, %v; SO_RCVBUF: max window %d B, %v",
		tuned.maxWnd, tuned.duration, fixed.maxWnd, fixed.duration)
	if fixed.maxWnd > 64<<10 {
		t.Errorf("with SO_RCVBUF the window grew to %d", fixed.maxWnd)
	}
	if tuned.maxWnd < 512<<10 {
		t.Errorf("auto-tuned window reached only %d", tuned.maxWnd)
	}
	if tuned.duration*3 > fixed.duration {
		t.Errorf("auto-tuned transfer took %v, not much faster than %v", tuned.duration, fixed.duration)
	}
}

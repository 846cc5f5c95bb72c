package sim

import (
	"runtime"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestPacketBuffersTrimmed: the free list of packet buffers is bounded
// (maxFreeBufs) after a burst, gives back what steady traffic does not
// need, without making steady traffic allocate a buffer per packet, and is
// empty after an idle period.
func TestPacketBuffersTrimmed(t *testing.T) {
	n, _, _, l := pair(t, 1, Symmetric(PathConfig{Latency: 10 * time.Millisecond}))
	hdr, err := wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: 253, Src: addrA.Addr(), Dst: addrB.Addr()}, 100)
	if err != nil {
		t.Fatal(err)
	}
	pkt := append(hdr, make([]byte, 100)...) // an unknown protocol: b counts and drops it

	// A burst: 6000 packets in flight at once.
	for range 6000 {
		l.Inject(AtoB, pkt)
	}
	if err := n.RunFor(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := len(n.bufs); got != maxFreeBufs {
		t.Fatalf("after a burst of 6000: %d free buffers, want the bound %d", got, maxFreeBufs)
	}

	// Steady traffic: 50 packets a millisecond, about 500 in flight.
	tick := n.Every(time.Millisecond, func() {
		for range 50 {
			l.Inject(AtoB, pkt)
		}
	})
	if err := n.RunFor(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(n.bufs); got >= maxFreeBufs/2 {
		t.Fatalf("steady traffic needing ~500 buffers: %d free buffers kept", got)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := n.RunFor(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	// 100k packets; the events and batches cost well under 1 KiB each, a
	// fresh buffer 2 KiB.
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 100000; per >= 1024 {
		t.Fatalf("steady traffic allocates %d B per packet: buffers are not reused", per)
	}
	tick.Stop()
	if got := l.Stats(AtoB).Delivered; got < 6000+250000-500 {
		t.Fatalf("%d packets delivered, want all 256000 but the last 10 ms (500)", got)
	}

	// Idle: nothing is sent for a while, and the free list shrinks to its
	// floor.
	if err := n.RunFor(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got, c := len(n.bufs), cap(n.bufs); got != minFreeBufs || c > 4*minFreeBufs+64 {
		t.Fatalf("idle: %d free buffers (capacity %d), want %d", got, c, minFreeBufs)
	}
}

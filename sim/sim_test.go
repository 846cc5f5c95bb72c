package sim

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

var (
	addrA = netip.MustParsePrefix("10.0.0.1/24")
	addrB = netip.MustParsePrefix("10.0.0.2/24")
)

const sinkPort = 5001

// pair builds a network with hosts a (10.0.0.1) and b (10.0.0.2) joined by
// one link.
func pair(t testing.TB, seed uint64, cfg LinkConfig) (*Network, *Host, *Host, *Link) {
	t.Helper()
	n := New(seed)
	a, err := n.AddHost("a", addrA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b", addrB)
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.Connect(a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, a, b, l
}

// transferResult is what a finished transfer measured.
type transferResult struct {
	bytes    int64
	duration time.Duration // handshake done -> receiver read EOF
	goodput  float64       // bytes per virtual second
}

// transfer sends size bytes from a to b over the network and checks that
// they arrive intact. It does not wait for TIME_WAIT.
func transfer(t testing.TB, n *Network, a, b *Host, size int64, seed uint64, limit time.Duration) (*BulkSender, *Sink, transferResult) {
	t.Helper()
	sink, err := b.Sink(b.AddrPort(sinkPort), SinkConfig{Accept: 1})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := a.BulkSend(b.AddrPort(sinkPort), BulkConfig{Size: size, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	done := func() bool { return snd.Done() && !sink.Waiting() }
	if err := n.RunUntil(done, limit); err != nil {
		t.Fatalf("seed %d: %v (sender queued %d of %d, err %v)", n.Seed(), err, snd.Queued(), size, snd.Err())
	}
	if snd.Err() != nil {
		t.Fatalf("seed %d: sender: %v", n.Seed(), snd.Err())
	}
	st := sink.Streams()
	if len(st) != 1 {
		t.Fatalf("seed %d: %d streams accepted", n.Seed(), len(st))
	}
	s := st[0]
	if s.Err != nil || !s.EOF {
		t.Fatalf("seed %d: receiver: eof %v err %v", n.Seed(), s.EOF, s.Err)
	}
	if s.Bytes != size {
		t.Fatalf("seed %d: received %d bytes, want %d", n.Seed(), s.Bytes, size)
	}
	if s.Sum != snd.Sum() {
		t.Fatalf("seed %d: sha256 mismatch", n.Seed())
	}
	d := s.Finished - snd.Established
	return snd, sink, transferResult{bytes: size, duration: d, goodput: float64(size) / d.Seconds()}
}

// waitClosed runs past TIME_WAIT and checks that no host has a socket left.
func waitClosed(t testing.TB, n *Network) {
	t.Helper()
	if err := n.RunFor(61 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, h := range n.Hosts() {
		if rows := h.Stack().Sockets(); len(rows) != 0 {
			t.Fatalf("seed %d: %s still has sockets at %v:\n%s", n.Seed(), h.Name(), n.Now(), stack.FormatSS(rows))
		}
	}
}

func TestBasicTransfer(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PathConfig
		size int64
	}{
		{"clean-1MiB", PathConfig{Latency: 5 * time.Millisecond}, 1 << 20},
		{"no-latency-1MiB", PathConfig{}, 1 << 20},
		{"empty", PathConfig{Latency: time.Millisecond}, 0},
		{"tiny", PathConfig{Latency: time.Millisecond}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			n, a, b, _ := pair(t, 1, Symmetric(tc.cfg))
			n.SetWatchdog(30 * time.Second)
			snd, _, r := transfer(t, n, a, b, tc.size, 7, time.Hour)
			if snd.Sum() != StreamSum(7, tc.size) {
				t.Fatal("sender's sum differs from StreamSum")
			}
			n.SetWatchdog(0)
			waitClosed(t, n)
			t.Logf("%d bytes in %v virtual (%.1f MB/s goodput), %v wall", r.bytes, r.duration, r.goodput/1e6, time.Since(start))
		})
	}
}

// TestNoGoroutines checks that a simulation starts no goroutine.
func TestNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n, a, b, _ := pair(t, 3, Symmetric(PathConfig{Latency: time.Millisecond, Loss: 0.01}))
	transfer(t, n, a, b, 256<<10, 1, time.Hour)
	if after := runtime.NumGoroutine(); after != before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

var _ = bytes.Equal
var _ = fmt.Sprint
var _ = math.Abs
var _ = tcp.Closed
var _ = wire.ProtoTCP

package reliability

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
)

// chaosPath is the impairment of each direction of the chaos link.
var chaosPath = sim.PathConfig{
	Latency:      10 * time.Millisecond,
	Jitter:       3 * time.Millisecond,
	Bandwidth:    200e6,
	Loss:         0.05,
	Duplicate:    0.01,
	Reorder:      0.02,
	ReorderDelay: 8 * time.Millisecond,
	Corrupt:      0.001,
}

// chaosSize is the bytes sent each way per seed.
const chaosSize = 16 << 20

// TestChaos: per seed, 16 MiB each way at once (two connections) through
// 5% loss, 1% duplication, 2% reordering, 0.1% corruption, jitter and a 2 s
// partition of both directions. Both streams must arrive intact (SHA-256),
// every connection must end CLOSED after TIME_WAIT with both hosts'
// socket tables empty, and the watchdog fails a run that stops making
// progress for 60 s of virtual time.
//
// Seeds: 100 in the full size, 50 in CI, 8 under -race.
func TestChaos(t *testing.T) {
	seeds := size(100, 50, 8)
	var passed atomic.Int32
	t.Run("seeds", func(t *testing.T) {
		for seed := 1; seed <= seeds; seed++ {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				t.Parallel()
				chaosRun(t, uint64(seed))
				passed.Add(1)
			})
		}
	})
	t.Logf("%d of %d seeds passed (16 MiB each way per seed)", passed.Load(), seeds)
}

func chaosRun(t *testing.T, seed uint64) {
	n := sim.New(seed)
	t.Cleanup(func() { n.Close() })
	a, err := n.AddHost("a", addrA)
	mustNoErr(t, err)
	b, err := n.AddHost("b", addrB)
	mustNoErr(t, err)
	l, err := n.Connect(a, b, sim.Symmetric(chaosPath))
	mustNoErr(t, err)
	// The partition: both directions down for 2 s, somewhere in the
	// first seconds of the transfers.
	from := time.Second + time.Duration(seed%7)*250*time.Millisecond
	l.Partition(sim.Both, from, from+2*time.Second)

	cfg := sim.BulkConfig{Size: chaosSize, WriteBuffer: 1 << 20, ReadBuffer: 1 << 20}
	sinkB, err := b.Sink(b.AddrPort(5001), sim.SinkConfig{Accept: 1, ReadBuffer: 1 << 20})
	mustNoErr(t, err)
	sinkA, err := a.Sink(a.AddrPort(5002), sim.SinkConfig{Accept: 1, ReadBuffer: 1 << 20})
	mustNoErr(t, err)
	cfg.Seed = seed
	ab, err := a.BulkSend(b.AddrPort(5001), cfg)
	mustNoErr(t, err)
	cfg.Seed = seed + 1<<32
	ba, err := b.BulkSend(a.AddrPort(5002), cfg)
	mustNoErr(t, err)
	n.SetWatchdog(60 * time.Second)

	done := func() bool { return ab.Done() && ba.Done() && !sinkA.Waiting() && !sinkB.Waiting() }
	if err := n.RunUntil(done, 30*time.Minute); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	for _, x := range []struct {
		name string
		snd  *sim.BulkSender
		sink *sim.Sink
	}{{"a->b", ab, sinkB}, {"b->a", ba, sinkA}} {
		st := x.sink.Streams()
		if x.snd.Err() != nil || len(st) != 1 || st[0].Err != nil || !st[0].EOF {
			t.Fatalf("seed %d %s: sender %v, %d streams", seed, x.name, x.snd.Err(), len(st))
		}
		if st[0].Bytes != chaosSize || st[0].Sum != x.snd.Sum() {
			t.Fatalf("seed %d %s: %d bytes, sha256 mismatch", seed, x.name, st[0].Bytes)
		}
	}
	// Everything ends CLOSED once TIME_WAIT (60 s) is over.
	n.SetWatchdog(0)
	if err := n.RunUntil(func() bool { return socketsEmpty(n) }, 5*time.Minute); err != nil {
		t.Fatalf("seed %d: sockets left: %v\n%s\n%s", seed, err, stack.FormatSS(a.Stack().Sockets()), stack.FormatSS(b.Stack().Sockets()))
	}
	sa, sb := a.Stack().Stats(), b.Stack().Stats()
	if sa.ActiveOpens != 1 || sb.ActiveOpens != 1 || sa.PassiveOpen != 1 || sb.PassiveOpen != 1 {
		t.Fatalf("seed %d: opens a %d/%d b %d/%d", seed, sa.ActiveOpens, sa.PassiveOpen, sb.ActiveOpens, sb.PassiveOpen)
	}
	ls := l.Stats(sim.Both)
	if seed == 1 {
		t.Logf("seed 1: done at %v; link: %d sent, %d lost, %d dropped by the partition, %d duplicated, %d reordered, %d corrupted; bad checksums caught a %d b %d",
			n.Now().Round(time.Millisecond), ls.Sent, ls.DropLoss, ls.DropDown, ls.Duplicated, ls.Reordered, ls.Corrupted,
			sa.BadIPChecksum+sa.BadTCPChecksum+sa.BadIPHeader+sa.BadTCPHeader, sb.BadIPChecksum+sb.BadTCPChecksum+sb.BadIPHeader+sb.BadTCPHeader)
	}
}

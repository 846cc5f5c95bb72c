package reliability

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// wrapSecret finds a host secret whose timestamp offset towards peer is
// within [2^32-hi, 2^32-lo): TSval then wraps between lo and hi ms after
// the clock's start. The search is deterministic.
func wrapSecret(t testing.TB, local, peer netip.Addr, lo, hi uint32) *[16]byte {
	var s [16]byte
	for i := uint64(0); i < 1<<26; i++ {
		binary.LittleEndian.PutUint64(s[:], i)
		if off := -tcp.NewISNGenerator(s).TSOffset(local, peer); off >= lo && off < hi {
			return &s
		}
	}
	t.Fatal("no secret found")
	return nil
}

// wrapPort finds a local port whose ISN towards remote, at time now, is
// within the last `room` bytes of the sequence space.
func wrapPort(t testing.TB, secret *[16]byte, now time.Duration, local netip.Addr, remote netip.AddrPort, room uint32) uint16 {
	g := tcp.NewISNGenerator(*secret)
	for p := 40000; p < 65536; p++ {
		if -g.ISN(now, netip.AddrPortFrom(local, uint16(p)), remote) <= room {
			return uint16(p)
		}
	}
	t.Fatal("no port found")
	return 0
}

// TestSequenceAndTimestampWraparound: a transfer whose sequence numbers and
// timestamps both wrap past 2^32, with PAWS on (timestamps are on by
// default). The sender's ISN is chosen 1 MiB below 2^32 and both hosts'
// TSval offsets a few seconds below it. In the full size 4.25 GiB go
// through (about 35 s of wall time: too slow for CI), so the sequence space
// wraps twice; in CI 512 MiB, under -race 64 MiB (one wrap each).
func TestSequenceAndTimestampWraparound(t *testing.T) {
	total := int64(size(4<<30+256<<20, 512<<20, 64<<20))
	n := sim.New(42)
	t.Cleanup(func() { n.Close() })
	secA := wrapSecret(t, addrA.Addr(), addrB.Addr(), 2000, 4000)
	secB := wrapSecret(t, addrB.Addr(), addrA.Addr(), 3000, 6000)
	a, err := n.AddHostWith("a", stack.Options{Secret: secA}, addrA)
	mustNoErr(t, err)
	b, err := n.AddHostWith("b", stack.Options{Secret: secB}, addrB)
	mustNoErr(t, err)
	l, err := n.Connect(a, b, sim.Symmetric(sim.PathConfig{Latency: 500 * time.Microsecond, Bandwidth: 100e6}))
	mustNoErr(t, err)
	lport := wrapPort(t, secA, n.Now(), addrA.Addr(), b.AddrPort(port), 1<<20)

	var seqWraps, tsWraps int
	var lastSeq, lastTS uint32
	var seen bool
	l.Observe(func(ev sim.PacketEvent) {
		p := ev.Packet
		if ev.Kind != sim.PacketSent || ev.Dir != sim.AtoB || len(p) < 52 || p[32]>>4 < 8 {
			return
		}
		seq := binary.BigEndian.Uint32(p[24:])
		ts := binary.BigEndian.Uint32(p[44:]) // NOP NOP TS: a's segments carry only that
		if seen && seq < lastSeq && lastSeq-seq > 1<<31 {
			seqWraps++
		}
		if seen && ts < lastTS && lastTS-ts > 1<<31 {
			tsWraps++
		}
		lastSeq, lastTS, seen = seq, ts, true
	})
	sink, err := b.Sink(b.AddrPort(port), sim.SinkConfig{Accept: 1})
	mustNoErr(t, err)
	snd, err := a.BulkSend(b.AddrPort(port), sim.BulkConfig{Size: total, Seed: 9, Local: netip.AddrPortFrom(addrA.Addr(), lport),
		WriteBuffer: 4 << 20, ReadBuffer: 4 << 20})
	mustNoErr(t, err)
	n.SetWatchdog(10 * time.Second)
	start := time.Now()
	until(t, n, func() bool { return snd.Done() && !sink.Waiting() }, 2*time.Hour, "transfer")
	st := sink.Streams()
	if snd.Err() != nil || len(st) != 1 || !st[0].EOF || st[0].Bytes != total || st[0].Sum != snd.Sum() {
		t.Fatalf("transfer failed: sender %v, streams %d", snd.Err(), len(st))
	}
	sa, sb := tcbStats(snd.Conn()), tcbStats(st[0].Conn)
	t.Logf("%d MiB in %v virtual, %v wall: sequence wrapped %d times, TSval %d times; PAWS rejections a %d b %d; retransmits %d",
		total>>20, n.Now().Round(time.Millisecond), time.Since(start).Round(time.Millisecond), seqWraps, tsWraps, sa.PAWSRejected, sb.PAWSRejected, sa.Retransmits)
	if seqWraps < 1 || tsWraps != 1 || sa.PAWSRejected+sb.PAWSRejected != 0 {
		t.Fatalf("wraps seq %d ts %d, PAWS rejections %d", seqWraps, tsWraps, sa.PAWSRejected+sb.PAWSRejected)
	}
	if total > 4<<30 && seqWraps < 2 {
		t.Fatalf("sequence wrapped %d times over %d MiB", seqWraps, total>>20)
	}
}

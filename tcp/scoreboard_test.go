package tcp

// Tests of the retransmission queue and SACK scoreboard (scoreboard.go,
// recovery.go sackTag): the SACK rules of RFC 2018 and RFC 6675 2 as
// exchanges of segments, unit tests of rtxQueue, a property test that feeds
// random ACKs and SACK blocks to an engine with data in flight, and the
// zero-allocation check for ACKs that carry SACK blocks.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
	"pgregory.net/rapid"
)

// sackedSegs lists the indexes (lrSeq numbering) of the outstanding
// segments the scoreboard holds as SACKed.
func sackedSegs(e *TCB) []int {
	var ks []int
	for _, s := range e.rtxq.live() {
		if s.has(txSacked) {
			ks = append(ks, int((s.start-lrSeq(0))/lrMSS))
		}
	}
	return ks
}

// TestRFC2018_SACKBlocksMarkScoreboard: each SACK block marks the segments
// it covers (RFC 2018 5: "the data sender ... turns on the SACKed bit"),
// whatever the order of the blocks and however they overlap, and a segment
// SACKed again is counted once (tcpi_sacked).
func TestRFC2018_SACKBlocksMarkScoreboard(t *testing.T) {
	for _, c := range []struct {
		name string
		acks [][][2]int // the SACK blocks of each ACK (all ACK segment 0)
		want []int
	}{
		{"one segment", [][][2]int{{{1, 2}}}, []int{1}},
		{"one block, several segments", [][][2]int{{{2, 6}}}, []int{2, 3, 4, 5}},
		{"blocks in any order", [][][2]int{{{7, 8}, {2, 3}, {4, 6}}}, []int{2, 4, 5, 7}},
		{"overlapping blocks", [][][2]int{{{2, 5}, {3, 7}}}, []int{2, 3, 4, 5, 6}},
		{"four blocks", [][][2]int{{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}, []int{1, 3, 5, 7}},
		{"SACKed again", [][][2]int{{{2, 4}}, {{2, 4}, {5, 6}}, {{2, 4}, {5, 6}}}, []int{2, 3, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// No loss detection: only the marking is looked at.
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.Recovery = 0; cfg.Reordering = 10; cfg.MaxReordering = 300 }), lrOpts{})
			l.send(10)
			for _, blocks := range c.acks {
				l.now += time.Millisecond
				l.sack(lrSeq(0), blocks...)
			}
			if got := sackedSegs(l.e.TCB); !slices.Equal(got, c.want) {
				t.Fatalf("SACKed segments %v, want %v", got, c.want)
			}
			w := lrI("disorder", 10, lrInf, 10, uint32(len(c.want)), 0, 0)
			w.Reordering = 10
			l.expectInfo("after the SACKs", w)
			if got := l.e.Stats().SACKBlocksDiscarded; got != 0 {
				t.Fatalf("SACKBlocksDiscarded %d, want 0", got)
			}
		})
	}
}

// TestRFC2018_PartialBlockIgnored: a block that covers only part of a
// segment does not SACK it (Linux marks whole segments and splits only
// multi-segment buffers), nor does it cut the queue entry: a peer SACKing
// single bytes cannot fragment the queue.
func TestRFC2018_PartialBlockIgnored(t *testing.T) {
	for _, c := range []struct {
		name  string
		block wire.SACKBlock
		want  []int
	}{
		{"second half of a segment", wire.SACKBlock{Left: lrSeq(1) - 500, Right: lrSeq(1)}, nil},
		{"one byte", wire.SACKBlock{Left: lrSeq(4) + 10, Right: lrSeq(4) + 11}, nil},
		{"across a boundary", wire.SACKBlock{Left: lrSeq(1) + 500, Right: lrSeq(3)}, []int{2}},
		{"inside two segments", wire.SACKBlock{Left: lrSeq(1) + 500, Right: lrSeq(2) + 500}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, nil, lrOpts{})
			l.send(10)
			l.now += 100 * time.Millisecond
			if out := l.in(l.ackRaw(lrSeq(0), c.block)); len(out) != 0 {
				t.Fatalf("SACK answered with %s", r9Fmt(out))
			}
			if got := sackedSegs(l.e.TCB); !slices.Equal(got, c.want) {
				t.Fatalf("SACKed segments %v, want %v", got, c.want)
			}
			if n := l.e.rtxq.packetsOut(); n != 10 {
				t.Fatalf("%d queue entries, want 10 (no entry split)", n)
			}
			ca := "open"
			if len(c.want) > 0 {
				ca = "disorder"
			}
			l.expectInfo("after the SACK", lrI(ca, 10, lrInf, 10, uint32(len(c.want)), 0, 0))
		})
	}
}

// TestRFC2018_InvalidBlocksCounted: blocks beyond SND.NXT, reversed or
// empty, or reaching below SND.UNA (when not a DSACK) are ignored and
// counted (Linux tcp_is_sackblock_valid, LINUX_MIB_TCPSACKDISCARD); the
// valid blocks of the same ACK still count.
func TestRFC2018_InvalidBlocksCounted(t *testing.T) {
	for _, c := range []struct {
		name      string
		blocks    []wire.SACKBlock
		discarded uint64
		want      []int
	}{
		{"beyond SND.NXT", []wire.SACKBlock{{Left: lrSeq(9), Right: lrSeq(11)}}, 1, nil},
		{"reversed", []wire.SACKBlock{{Left: lrSeq(5), Right: lrSeq(4)}}, 1, nil},
		{"empty", []wire.SACKBlock{{Left: lrSeq(5), Right: lrSeq(5)}}, 1, nil},
		{"below SND.UNA, not first", []wire.SACKBlock{dsb(4, 5), dsb(0, 1)}, 1, []int{4}},
		{"straddling SND.UNA", []wire.SACKBlock{dsb(4, 5), dsb(1, 3)}, 1, []int{4}},
		{"valid among invalid", []wire.SACKBlock{dsb(5, 6), {Left: lrSeq(9), Right: lrSeq(12)}, dsb(7, 8), {Left: lrSeq(8), Right: lrSeq(6)}}, 2, []int{5, 7}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.Recovery = 0 }), lrOpts{})
			l.send(10)
			l.now += 100 * time.Millisecond
			// SND.UNA moves to segment 2 with this ACK.
			l.in(l.ackRaw(lrSeq(2), c.blocks...))
			if got := l.e.Stats().SACKBlocksDiscarded; got != c.discarded {
				t.Fatalf("SACKBlocksDiscarded %d, want %d", got, c.discarded)
			}
			if got := sackedSegs(l.e.TCB); !slices.Equal(got, c.want) {
				t.Fatalf("SACKed segments %v, want %v", got, c.want)
			}
			if i := l.e.Info(); i.Sacked != uint32(len(c.want)) || i.DSACKDups != 0 || i.Unacked != 8 {
				t.Fatalf("Sacked %d, DSACKDups %d, Unacked %d; want %d, 0, 8", i.Sacked, i.DSACKDups, i.Unacked, len(c.want))
			}
		})
	}
}

// ---- rtxQueue unit tests ----

// sbQueue returns a queue of n segments of 100 bytes from 1000, sent at 1s.
func sbQueue(n int) *rtxQueue {
	q := &rtxQueue{}
	for i := 0; i < n; i++ {
		q.push(1000+uint32(i)*100, 1100+uint32(i)*100, time.Second, false)
	}
	return q
}

// sbCheck verifies q's counts against its flags and its entries'
// contiguity.
func sbCheck(t *testing.T, q *rtxQueue) {
	t.Helper()
	if err := scoreboardErr(q, true); err != nil {
		t.Fatal(err)
	}
}

// scoreboardErr reports the first broken invariant of q: counts equal to a
// recount of the flags, SACKed never together with lost or retransmitted,
// sacked + lost <= packets out, entries non-empty, contiguous and ordered.
// Without SACK, no segment is SACKed and q.sacked counts duplicate ACKs.
func scoreboardErr(q *rtxQueue, sack bool) error {
	if q.head < 0 || q.head > len(q.segs) {
		return fmt.Errorf("head %d outside [0, %d]", q.head, len(q.segs))
	}
	var sacked, lost, retrans uint32
	live := q.live()
	for i := range live {
		s := &live[i]
		if !seqLT(s.start, s.end) {
			return fmt.Errorf("entry %d [%d, %d) is empty or reversed", i, s.start, s.end)
		}
		if i > 0 && live[i-1].end != s.start {
			return fmt.Errorf("entry %d starts at %d, the previous ends at %d", i, s.start, live[i-1].end)
		}
		if s.has(txSacked) && s.flags&(txLost|txRetrans) != 0 {
			return fmt.Errorf("entry %d [%d, %d) is SACKed and lost or retransmitted (flags %#x)", i, s.start, s.end, s.flags)
		}
		if s.has(txRetrans) && !s.has(txEverRetrans) {
			return fmt.Errorf("entry %d in retransmission but never retransmitted", i)
		}
		if s.has(txSacked) {
			sacked++
		}
		if s.has(txLost) {
			lost++
		}
		if s.has(txRetrans) {
			retrans++
		}
	}
	if !sack {
		if sacked != 0 {
			return fmt.Errorf("%d segments SACKed without SACK", sacked)
		}
		sacked = q.sacked
	}
	if sacked != q.sacked || lost != q.lost || retrans != q.retrans {
		return fmt.Errorf("counts sacked %d lost %d retrans %d, flags say %d %d %d", q.sacked, q.lost, q.retrans, sacked, lost, retrans)
	}
	// Without SACK, sacked counts duplicate ACKs; the timeout resets it
	// and the path MTU drop limits it, as Linux's tcp_timeout_mark_lost
	// and tcp_simple_retransmit do.
	if q.sacked+q.lost > q.packetsOut() || q.lost > q.packetsOut() {
		return fmt.Errorf("sacked %d + lost %d > packets out %d", q.sacked, q.lost, q.packetsOut())
	}
	if sack {
		if want := q.packetsOut() - q.sacked - q.lost + q.retrans; q.pipe() != want {
			return fmt.Errorf("pipe %d, want %d", q.pipe(), want)
		}
	}
	return nil
}

// TestScoreboard_PushFind: pushed segments are contiguous entries found by
// any sequence number they hold; numbers outside return -1; a push that is
// not contiguous extends the tail over the gap rather than leaving a hole.
func TestScoreboard_PushFind(t *testing.T) {
	q := sbQueue(5)
	if q.packetsOut() != 5 || q.pipe() != 5 {
		t.Fatalf("packetsOut %d, pipe %d; want 5 and 5", q.packetsOut(), q.pipe())
	}
	for _, c := range []struct {
		seq  uint32
		want int
	}{{999, -1}, {1000, 0}, {1050, 0}, {1099, 0}, {1100, 1}, {1499, 4}, {1500, -1}, {1 << 31, -1}} {
		if got := q.find(c.seq); got != c.want {
			t.Errorf("find(%d) = %d, want %d", c.seq, got, c.want)
		}
	}
	q.push(1600, 1700, 2*time.Second, true)
	if q.segs[4].end != 1600 || q.find(1550) != 4 || q.find(1650) != 5 || !q.segs[5].has(txFIN) {
		t.Fatalf("after a push with a gap: %+v", q.live())
	}
	sbCheck(t, q)
	// Wrapping sequence numbers.
	w := &rtxQueue{}
	w.push(0xffffff00, 0xffffffa0, 0, false)
	w.push(0xffffffa0, 0x40, 0, false)
	if w.find(0xffffffff) != 1 || w.find(0x3f) != 1 || w.find(0x40) != -1 || w.find(0xffffff00) != 0 {
		t.Fatalf("find across the wrap: %d %d %d %d", w.find(0xffffffff), w.find(0x3f), w.find(0x40), w.find(0xffffff00))
	}
}

// TestScoreboard_Marks: the transitions of one segment's flags and what
// they do to the counts and pipe (RFC 6675 4: pipe counts a segment once
// unless SACKed or lost, and once more while a retransmission of it is in
// flight).
func TestScoreboard_Marks(t *testing.T) {
	type counts struct{ sacked, lost, retrans, pipe uint32 }
	q := sbQueue(4)
	s := &q.segs[1]
	steps := []struct {
		name string
		do   func() bool
		ret  bool
		want counts
	}{
		{"lost", func() bool { return q.markLost(s) }, true, counts{0, 1, 0, 3}},
		{"lost again (nothing in flight)", func() bool { return q.markLost(s) }, false, counts{0, 1, 0, 3}},
		{"retransmitted", func() bool { q.markRetransmitted(s, 2*time.Second); return true }, true, counts{0, 1, 1, 4}},
		{"retransmission lost", func() bool { return q.markLost(s) }, true, counts{0, 1, 0, 3}},
		{"retransmitted again", func() bool { q.markRetransmitted(s, 3*time.Second); return true }, true, counts{0, 1, 1, 4}},
		{"SACKed", func() bool { return q.markSacked(s) }, true, counts{1, 0, 0, 3}},
		{"SACKed again", func() bool { return q.markSacked(s) }, false, counts{1, 0, 0, 3}},
		{"SACKed is never lost", func() bool { return q.markLost(s) }, false, counts{1, 0, 0, 3}},
	}
	for _, st := range steps {
		if got := st.do(); got != st.ret {
			t.Fatalf("%s: returned %v, want %v", st.name, got, st.ret)
		}
		if got := (counts{q.sacked, q.lost, q.retrans, q.pipe()}); got != st.want {
			t.Fatalf("%s: sacked/lost/retrans/pipe %v, want %v", st.name, got, st.want)
		}
		sbCheck(t, q)
	}
	if !s.has(txEverRetrans) || s.xmit != 3*time.Second || q.highRetrans != 1200 {
		t.Fatalf("retransmission record: flags %#x xmit %v highRetrans %d", s.flags, s.xmit, q.highRetrans)
	}
	// A loss probe's retransmission (not lost) that is then deemed lost.
	p := &q.segs[3]
	q.markRetransmitted(p, 4*time.Second)
	if q.retrans != 1 || q.pipe() != 4 {
		t.Fatalf("probe: retrans %d pipe %d, want 1 and 4", q.retrans, q.pipe())
	}
	if !q.markLost(p) || q.retrans != 0 || q.lost != 1 || q.pipe() != 2 {
		t.Fatalf("probe lost: retrans %d lost %d pipe %d, want 0 1 2", q.retrans, q.lost, q.pipe())
	}
	sbCheck(t, q)
	// uncount forgets a segment's flags.
	q.uncount(p)
	q.uncount(s)
	if q.sacked != 0 || q.lost != 0 || q.retrans != 0 {
		t.Fatalf("after uncount: %d %d %d", q.sacked, q.lost, q.retrans)
	}
}

// TestScoreboard_PipeNeverWraps: counts that disagree with packetsOut (a
// bug elsewhere) must not make pipe wrap around to a huge number.
func TestScoreboard_PipeNeverWraps(t *testing.T) {
	q := sbQueue(2)
	q.sacked, q.lost, q.retrans = 2, 1, 1
	if p := q.pipe(); p != 1 {
		t.Fatalf("pipe %d with sacked+lost > packetsOut, want retrans (1)", p)
	}
	e := &rtxQueue{}
	if e.pipe() != 0 || e.packetsOut() != 0 {
		t.Fatalf("empty queue: pipe %d packetsOut %d", e.pipe(), e.packetsOut())
	}
}

// TestScoreboard_Split: split cuts an entry in two with the same flags and
// times (the counts follow), only strictly inside it, only while the
// queue is under its limit; the FIN stays with the upper part.
func TestScoreboard_Split(t *testing.T) {
	q := sbQueue(3)
	q.segs[2].flags |= txFIN
	q.markLost(&q.segs[2])
	q.markRetransmitted(&q.segs[2], 2*time.Second)
	for _, at := range []uint32{1200, 1300, 1100, 999} {
		if q.split(2, at, 100) {
			t.Fatalf("split(2, %d) cut an entry at or outside its edges", at)
		}
	}
	if !q.split(2, 1250, 100) {
		t.Fatal("split(2, 1250) refused")
	}
	lo, hi := q.segs[2], q.segs[3]
	if lo.start != 1200 || lo.end != 1250 || hi.start != 1250 || hi.end != 1300 {
		t.Fatalf("split into [%d,%d) [%d,%d)", lo.start, lo.end, hi.start, hi.end)
	}
	if lo.has(txFIN) || !hi.has(txFIN) || !lo.has(txLost|txRetrans) || !hi.has(txLost) || !hi.has(txRetrans) || lo.xmit != hi.xmit {
		t.Fatalf("flags after split: %#x %#x", lo.flags, hi.flags)
	}
	if q.lost != 2 || q.retrans != 2 || q.packetsOut() != 4 {
		t.Fatalf("counts after split: lost %d retrans %d out %d", q.lost, q.retrans, q.packetsOut())
	}
	sbCheck(t, q)
	if q.split(0, 1050, 4) {
		t.Fatal("split beyond the limit of 4 entries")
	}
	if q.find(1260) != 3 || q.find(1240) != 2 {
		t.Fatal("find after split")
	}
}

// TestScoreboard_CompactionAndRelease: acknowledged entries leave a dead
// head that a push compacts once it is at least half the array (amortised
// O(1)); an empty queue gives its array back; reset forgets everything.
func TestScoreboard_CompactionAndRelease(t *testing.T) {
	q := sbQueue(40)
	q.markSacked(&q.segs[30])
	q.markLost(&q.segs[25])
	// Acknowledge 24 segments as rtxAck does.
	for i := 0; i < 24; i++ {
		q.uncount(&q.segs[q.head])
		q.head++
	}
	q.push(5000, 5100, 2*time.Second, false)
	if q.head != 0 || len(q.segs) != 17 {
		t.Fatalf("after compaction: head %d, %d entries, want 0 and 17", q.head, len(q.segs))
	}
	if q.segs[0].start != 3400 || !q.segs[1].has(txLost) || !q.segs[6].has(txSacked) || q.find(5050) != 16 {
		t.Fatalf("compaction lost the entries' order or flags: %+v", q.segs[:7])
	}
	sbCheck(t, q)
	q.release()
	if q.segs == nil {
		t.Fatal("release freed a queue with entries")
	}
	for q.head < len(q.segs) {
		q.uncount(&q.segs[q.head])
		q.head++
	}
	q.release()
	if q.segs != nil || q.head != 0 {
		t.Fatal("release kept the array of an empty queue")
	}
	r := sbQueue(3)
	r.markSacked(&r.segs[1])
	r.markRetransmitted(&r.segs[2], 0)
	r.highRetrans = 1300
	r.reset()
	if r.packetsOut() != 0 || r.sacked != 0 || r.lost != 0 || r.retrans != 0 || r.highRetrans != 0 {
		t.Fatalf("after reset: %+v", r)
	}
}

// TestScoreboard_PropertyInvariants feeds random cumulative ACKs, SACK and
// DSACK blocks (valid or not), timer expiries and writes to an engine with
// data in flight, and checks the scoreboard after every step: the counts
// equal a recount of the flags, sacked + lost <= packets out, every
// retransmission not deemed lost is a loss probe's or survived an undo,
// entries are contiguous and cover exactly [SND.UNA, SND.MAX), Info reports
// the counts, and nothing panics.
func TestScoreboard_PropertyInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		noSACK := rapid.IntRange(0, 3).Draw(rt, "noSACK") == 0
		ts := rapid.Bool().Draw(rt, "ts")
		cfg := lrConfig(func(c *Config) {
			c.Recovery = rapid.SampledFrom([]int{0, RecoveryRACK, RecoveryRACK | RecoveryNoDupThresh, RecoveryRACK | RecoveryStaticReoWnd}).Draw(rt, "recovery")
			c.EarlyRetrans = rapid.SampledFrom([]int{0, 3}).Draw(rt, "early_retrans")
			c.FRTO = rapid.IntRange(0, 2).Draw(rt, "frto")
			c.CongestionControl = rapid.SampledFrom([]string{"cubic", "reno"}).Draw(rt, "cc")
		})
		l := lrOpen(t, cfg, lrOpts{noSACK: noSACK, ts: ts})
		l.send(rapid.IntRange(1, 40).Draw(rt, "segments"))
		check := func(step string) {
			e := l.e.TCB
			q := &e.rtxq
			err := scoreboardErr(q, e.sackOK)
			if err == nil {
				var retransNotLost uint32
				for _, s := range q.live() {
					if s.has(txRetrans) && !s.has(txLost) {
						retransNotLost++
					}
				}
				if i := e.Info(); retransNotLost > uint32(i.TLPProbes) && i.SpuriousUndos == 0 {
					err = fmt.Errorf("%d retransmissions in flight not deemed lost, %d probes", retransNotLost, i.TLPProbes)
				}
			}
			if err == nil {
				if n := q.packetsOut(); n == 0 && e.sndUna != e.sndMax {
					err = fmt.Errorf("empty queue, SND.UNA %d SND.MAX %d", e.sndUna, e.sndMax)
				} else if n > 0 && (q.segs[q.head].start != e.sndUna || q.segs[len(q.segs)-1].end != e.sndMax) {
					err = fmt.Errorf("queue [%d, %d), SND.UNA %d SND.MAX %d", q.segs[q.head].start, q.segs[len(q.segs)-1].end, e.sndUna, e.sndMax)
				}
			}
			if err == nil {
				if i := e.Info(); i.Sacked != q.sacked || i.Lost != q.lost || i.Retrans != q.retrans {
					err = fmt.Errorf("Info sacked/lost/retrans %d %d %d, queue %d %d %d", i.Sacked, i.Lost, i.Retrans, q.sacked, q.lost, q.retrans)
				}
			}
			if err == nil {
				err = checkInvariants(e)
			}
			if err != nil {
				rt.Fatalf("after %s: %v (ca %v)", step, err, e.ca)
			}
		}
		check("the first write")
		// seqIn draws a sequence number around [SND.UNA, SND.MAX], mostly
		// on segment boundaries.
		seqIn := func(label string) uint32 {
			e := l.e.TCB
			lo, hi := e.sndUna-2*lrMSS, e.sndMax+2*lrMSS
			if rapid.IntRange(0, 3).Draw(rt, label+"_aligned") > 0 {
				k := rapid.IntRange(0, int(hi-lo)/lrMSS).Draw(rt, label+"_seg")
				return lo + uint32(k)*lrMSS
			}
			return lo + uint32(rapid.IntRange(0, int(hi-lo)).Draw(rt, label))
		}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			step := ""
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0, 1, 2, 3, 4, 5:
				// An ACK: mostly at or a little beyond SND.UNA, with blocks.
				e := l.e.TCB
				ack := e.sndUna
				if rapid.IntRange(0, 2).Draw(rt, "advance") == 0 {
					ack = seqIn("ack")
				}
				var bs []wire.SACKBlock
				for n := rapid.IntRange(0, 4).Draw(rt, "blocks"); len(bs) < n; {
					a, b := seqIn("left"), seqIn("right")
					if rapid.IntRange(0, 4).Draw(rt, "ordered") > 0 && seqGT(a, b) {
						a, b = b, a
					}
					bs = append(bs, wire.SACKBlock{Left: a, Right: b})
				}
				l.now += time.Duration(rapid.IntRange(0, 20).Draw(rt, "ack_gap_ms")) * time.Millisecond
				l.in(l.ackRaw(ack, bs...))
				step = fmt.Sprintf("ACK %d %v", ack, bs)
			case 6, 7:
				d := time.Duration(rapid.IntRange(1, 400).Draw(rt, "run_ms")) * time.Millisecond
				l.run(d)
				step = fmt.Sprintf("%v of timers", d)
			case 8:
				n := rapid.IntRange(1, 5).Draw(rt, "more")
				l.write(make([]byte, n*lrMSS+rapid.IntRange(0, lrMSS-1).Draw(rt, "extra")))
				step = fmt.Sprintf("a write of %d segments", n)
			case 9:
				if mss := rapid.IntRange(0, 3).Draw(rt, "pmtu"); mss == 0 {
					l.e.SetPathMSS(l.now, 600)
					l.e.rec.take()
					step = "a path MTU drop"
				} else {
					l.now += time.Duration(mss) * 100 * time.Millisecond
					step = "a pause"
				}
			}
			check(step)
		}
	})
}

// TestScoreboard_ZeroAllocsSACKSteadyState: ACKs carrying SACK blocks cost no
// allocation once the connection is in its steady state. The peer receives
// the segments in pairs swapped (1, 0, 3, 2, ...): every other ACK SACKs
// one segment above a hole, the next fills it.
func TestScoreboard_ZeroAllocsSACKSteadyState(t *testing.T) {
	// An active open as newBenchActive's, but with a 100 ms round trip, so
	// that min_RTT, and RACK's reordering window, are realistic.
	cfg := DefaultConfig()
	out := &benchOut{buf: make([]byte, 0, 2048)}
	tcb, err := New(&cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	now := benchStart
	if err := tcb.Connect(now, OpenOptions{ISN: 1000, MSS: 1460}); err != nil {
		t.Fatal(err)
	}
	now += 100 * time.Millisecond
	synAck := Segment{Seq: 5000, Ack: 1001, Flags: wire.FlagSYN | wire.FlagACK, Window: 65535, Options: wire.TCPOptions{
		HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 100, TSEcr: out.last.Options.TSVal, HasWScale: true, WScale: 7}}
	tcb.Input(now, &synAck)
	if tcb.State() != Established || !tcb.sackOK {
		t.Fatalf("%v, SACK %v", tcb.State(), tcb.sackOK)
	}
	tcb.SetWriteBuffer(256 << 10)
	data := make([]byte, 64<<10)
	for {
		n, err := tcb.Write(now, data)
		if err != nil {
			t.Fatal(err)
		}
		if n < len(data) {
			break
		}
	}
	ack := Segment{Seq: 5001, Flags: wire.FlagACK, Window: 512}
	tsval := uint32(200)
	// The ACKs echo a TSval 100 ms old: min_RTT 100 ms, so RACK's
	// reordering window (25 ms) covers the swaps.
	ecr := func() uint32 { return out.last.Options.TSVal - 100 }
	sacks := 0
	step := func() {
		una := tcb.sndUna
		if seqGT(una+3*benchPayload, tcb.sndMax) {
			tcb.Write(now, data[:2*benchPayload])
			return
		}
		// Segment 1 of the pair arrives first.
		now += 50 * time.Microsecond
		tsval++
		ack.Ack = una
		ack.Options = benchTS(tsval, ecr())
		ack.Options.NumSACK = 1
		ack.Options.SACKBlocks[0] = wire.SACKBlock{Left: una + benchPayload, Right: una + 2*benchPayload}
		tcb.Input(now, &ack)
		if tcb.rtxq.sacked > 0 {
			sacks++
		}
		// Then segment 0.
		now += 50 * time.Microsecond
		tsval++
		ack.Ack = una + 2*benchPayload
		ack.Options = benchTS(tsval, ecr())
		tcb.Input(now, &ack)
		tcb.Write(now, data[:2*benchPayload])
	}
	for range benchWarmup {
		step()
	}
	i := tcb.Info()
	if sacks < benchWarmup/2 || i.ReordSeen == 0 || i.TotalRetrans != 0 || i.State != Established || out.data < benchWarmup {
		t.Fatalf("not the steady state wanted: %d SACKing ACKs, ReordSeen %d, TotalRetrans %d, %d data segments, %v",
			sacks, i.ReordSeen, i.TotalRetrans, out.data, i.State)
	}
	if n := testing.AllocsPerRun(1, func() {
		for range 1000 {
			step()
		}
	}); n != 0 {
		t.Errorf("%v allocations in 1000 steps of two ACKs (one with a SACK block), want 0", n)
	}
}

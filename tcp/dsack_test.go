package tcp

// DSACK tests (RFC 2883): the receiver reporting duplicates (input.go
// setDSACK, output.go fillSACK) and the sender learning from them
// (recovery.go sackTag, dsackSeen, undo). Helpers in recovery_test.go.

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestRFC2883_ReceiverSendsDSACK: a duplicate segment is answered at once
// with an ACK whose first SACK block reports the duplicate range (RFC 2883
// 4, Linux tcp_dsack_set): all of it when it lies below RCV.NXT, the part
// below RCV.NXT for a partial duplicate, followed by the ordinary SACK
// blocks; a DSACK is reported in one ACK only, and not at all with
// tcp_dsack off or without SACK.
func TestRFC2883_ReceiverSendsDSACK(t *testing.T) {
	type data struct {
		seq uint32
		n   int
	}
	for _, c := range []struct {
		name   string
		dsack  bool
		noSACK bool
		segs   []data
		ack    uint32
		blocks []wire.SACKBlock
	}{
		{"duplicate below RCV.NXT", true, false, []data{{5001, 100}, {5001, 100}}, 5101,
			[]wire.SACKBlock{{Left: 5001, Right: 5101}}},
		{"partial duplicate", true, false, []data{{5001, 100}, {5051, 200}}, 5251,
			[]wire.SACKBlock{{Left: 5051, Right: 5101}}},
		{"duplicate with out-of-order data held", true, false, []data{{5001, 100}, {5201, 100}, {5001, 100}}, 5101,
			[]wire.SACKBlock{{Left: 5001, Right: 5101}, {Left: 5201, Right: 5301}}},
		{"reported once", true, false, []data{{5001, 100}, {5001, 100}, {5101, 100}}, 5201, nil},
		{"tcp_dsack off", false, false, []data{{5001, 100}, {5001, 100}}, 5101, nil},
		{"no SACK", true, true, []data{{5001, 100}, {5001, 100}}, 5101, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.DSACK = c.dsack }), lrOpts{noSACK: c.noSACK})
			var last Segment
			for i, d := range c.segs {
				l.now += time.Millisecond
				out := l.in(seg(wire.FlagACK, d.seq, lrSeq(0), 65535, string(make([]byte, d.n))))
				last = r9Only(t, out, "ACK of data segment "+string(rune('1'+i)))
			}
			o := &last.Options
			ok := last.Flags == wire.FlagACK && last.Ack == c.ack && o.NumSACK == len(c.blocks)
			for i := 0; ok && i < len(c.blocks); i++ {
				ok = o.SACKBlocks[i] == c.blocks[i]
			}
			if !ok {
				t.Fatalf("last ACK %s, want ack %d with SACK blocks %v", &last, c.ack, c.blocks)
			}
		})
	}
}

// TestRFC2883_DSACKUndoesSpuriousRecovery: DSACKs that report every
// retransmission of a recovery as a duplicate show the recovery was
// spurious: cwnd and ssthresh come back (RFC 2883 4.1 and RFC 3708's use of
// it; Linux tcp_try_undo_dsack, with undo_retrans counting the
// retransmissions not yet reported). One DSACK among two retransmissions is
// not enough.
func TestRFC2883_DSACKUndoesSpuriousRecovery(t *testing.T) {
	ms := time.Millisecond
	t.Run("one retransmission", func(t *testing.T) {
		l := lrOpen(t, nil, lrOpts{})
		l.send(10)
		l.play([]lrStep{
			{100 * ms, 0, [][2]int{{1, 4}}, lrSegs(0), lrI("recovery", 7, 7, 10, 3, 1, 1)},
			// The original 0 arrives (it was reordered): a partial ACK.
			{ms, 4, nil, nil, lrI("recovery", 7, 7, 6, 0, 0, 0)},
		})
		// Then the retransmission, reported as a duplicate.
		l.now += 99 * ms
		if out := l.in(l.ackRaw(lrSeq(4), dsb(0, 1))); len(out) != 0 {
			t.Fatalf("DSACK answered with %s", r9Fmt(out))
		}
		l.expectInfo("after the DSACK", lrInfo{CAState: "open", SndCwnd: 10, SndSsthresh: lrInf, Unacked: 6,
			Reordering: 3, DSACKDups: 1, SpuriousUndos: 1})
	})
	t.Run("two retransmissions", func(t *testing.T) {
		l := lrOpen(t, nil, lrOpts{})
		l.send(10)
		l.play([]lrStep{
			// Holes at 0 and 4, both deemed lost and resent.
			{100 * ms, 0, [][2]int{{1, 4}, {5, 8}}, lrSegs(0, 4), lrI("recovery", 7, 7, 10, 6, 2, 2)},
			// Both originals arrive.
			{ms, 8, nil, nil, lrI("recovery", 7, 7, 2, 0, 0, 0)},
		})
		l.now += 99 * ms
		l.in(l.ackRaw(lrSeq(8), dsb(0, 1)))
		w := lrI("recovery", 7, 7, 2, 0, 0, 0)
		w.DSACKDups = 1
		l.expectInfo("after the first DSACK", w)
		l.now += ms
		l.in(l.ackRaw(lrSeq(8), dsb(4, 5)))
		l.expectInfo("after the second DSACK", lrInfo{CAState: "open", SndCwnd: 10, SndSsthresh: lrInf, Unacked: 2,
			Reordering: 3, DSACKDups: 2, SpuriousUndos: 1})
	})
}

// TestRFC2883_DSACKBlocksNotSACKs: a first block below the cumulative ACK,
// or inside the second block, is a DSACK (RFC 2883 4): it is counted in
// DSACKDups and marks nothing; the blocks after it are ordinary SACKs.
func TestRFC2883_DSACKBlocksNotSACKs(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(2))
	// A duplicate of 4 reported inside the second block, which SACKs it.
	l.now += ms
	l.in(l.ackRaw(lrSeq(2), dsb(4, 5), dsb(4, 5)))
	w := lrI("disorder", 12, lrInf, 8, 1, 0, 0)
	w.DSACKDups = 1
	l.expectInfo("DSACK inside the second block", w)
	// A duplicate below the ACK, followed by a SACK block.
	l.now += ms
	l.in(l.ackRaw(lrSeq(2), dsb(1, 2), dsb(7, 8)))
	w.Sacked, w.DSACKDups = 2, 2
	l.expectInfo("DSACK below the ACK", w)
	if got := l.e.Stats().SACKBlocksDiscarded; got != 0 {
		t.Fatalf("SACKBlocksDiscarded %d, want 0", got)
	}
}

package tcp

// Linux 6.x's finer points of loss recovery, each once a difference found
// by these tests and fixed in the engine.

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// F1
func TestRFC8985_7_2_NoProbeDuringRecovery(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	l.now += 100 * ms
	fr := l.now
	lrExpect(t, "SACKs", l.sack(lrSeq(0), [2]int{1, 3}, [2]int{4, 6}, [2]int{7, 10}), lrSegs(0, 3, 6))
	// Linux: retransmitting the head re-arms the RTO (tcp_xmit_retransmit_queue);
	// no loss probe in Recovery. The first retransmission timeout is RTO after
	// the fast retransmit.
	out := l.runData(400*ms, fr)
	if len(out) != 1 || out[0].after != 300*ms || out[0].s.Seq != lrSeq(0) {
		t.Errorf("after fast recovery started: sent %s, want only the RTO retransmission of %d at +300ms", lrFmtTimed(out), lrSeq(0))
	}
	if got := l.e.Info().TLPProbes; got != 0 {
		t.Errorf("TLPProbes %d, want 0", got)
	}
}

// F2
func TestRFC8985_6_2_DSACKIgnoredWithoutReordering(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	// TLP probe of 9 at +202; its DSACK with the ACK of everything.
	l.runData(210*ms, l.now)
	l.now += 40 * ms
	l.in(l.ackRaw(lrSeq(10), dsb(9, 10)))
	// Next flight: one SACK. No reordering seen (ReordSeen 0): Linux keeps
	// reo_wnd at min_RTT/4 (tcp_dsack_seen sets rack.dsack_seen only with
	// reord_seen, and not for a TLP's DSACK).
	l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(10), [2]int{11, 12})
	out := l.runData(60*ms, l.now)
	if len(out) != 1 || out[0].s.Seq != lrSeq(10) || out[0].after > 25*ms+lrTimerSlack {
		t.Errorf("sent %s, want %d after 25ms (27ms with Linux's slack)", lrFmtTimed(out), lrSeq(10))
	}
}

// F3
func TestRFC2883_DSACKUndoAfterRecovery(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(14)
	l.play([]lrStep{
		{100 * ms, 0, [][2]int{{1, 4}}, lrSegs(0), lrI("recovery", 7, 7, 10, 3, 1, 1)},
	})
	l.now += ms
	l.sack(lrSeq(10)) // original 0 arrived: recovery over (cwnd = ssthresh)
	l.now += 99 * ms
	l.in(l.ackRaw(lrSeq(10), dsb(0, 1)))
	i := l.e.Info()
	if i.SpuriousUndos != 1 || i.SndSsthresh != lrInf || i.SndCwnd < 10 {
		t.Errorf("after the late DSACK: SpuriousUndos %d, ssthresh %d, cwnd %d; want 1, infinite, >= 10 (Linux tcp_try_undo_dsack in Open)", i.SpuriousUndos, i.SndSsthresh, i.SndCwnd)
	}
}

// F4
func TestRFC5682_FRTORealLossSACK(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.EarlyRetrans = 0 }), lrOpts{})
	start := l.now
	l.send(20)
	l.runData(300*ms, start)
	l.play([]lrStep{
		{10 * ms, 1, nil, lrSegs(10, 11), lrI("loss", 2, 7, 11, 0, 9, 0)},
		// New segment 10 SACKed, 1 still missing: the loss was real (step 3.a).
		{100 * ms, 1, [][2]int{{10, 11}}, lrSegs(1), lrI("loss", 2, 7, 11, 1, 9, 1)},
	})
}

// F5
func TestRFC6582_RecoveryHeldUntilAboveHighSeq(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{noSACK: true})
	l.send(30)
	l.now += 100 * ms
	for k := 0; k < 3; k++ {
		l.sack(lrSeq(0))
		l.now += ms
	}
	// 0 was retransmitted; recovery point 12. The ACK reaches exactly 12.
	l.now += 100 * ms
	l.sack(lrSeq(12))
	if ca := l.e.Info().CAState; ca != "recovery" {
		t.Errorf("after an ACK of exactly the recovery point: %s, want recovery (Linux holds it for NewReno until an ACK above it)", ca)
	}
	for k := 0; k < 3; k++ {
		l.sack(lrSeq(12))
	}
	if i := l.e.Info(); i.FastRetrans != 1 {
		t.Errorf("FastRetrans %d after 3 duplicates of the recovery point, want 1", i.FastRetrans)
	}
}

// F6
func TestRFC2018_8_RenegingTimer(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(0), [2]int{1, 3})
	l.now += 10 * ms
	l.sack(lrSeq(1))
	srtt := l.e.Info().RTT
	out := l.runData(300*ms, l.now)
	if len(out) == 0 || out[0].after != srtt/2 {
		t.Errorf("sent %s, want the retransmission of %d after max(SRTT/2, 10ms) = %v (Linux tcp_check_sack_reneging)", lrFmtTimed(out), lrSeq(1), srtt/2)
	}
}

// F7
func TestRFC6298_KarnFastRetransmit(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(0), [2]int{1, 4}) // fast retransmit of 0
	before := l.e.Info().RTT
	l.now += 400 * ms
	l.sack(lrSeq(10)) // acknowledges the retransmitted segment 0 (and 1..9)
	if got := l.e.Info().RTT; got != before {
		t.Errorf("SRTT %v after an ACK of a retransmitted segment (no timestamps), want %v: Karn's rule (RFC 6298 3)", got, before)
	}
}

// F8
func TestRFC2883_ReceiverDSACKOutOfOrderDuplicate(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	l.in(seg(wire.FlagACK, 5001, lrSeq(0), 65535, string(make([]byte, 100))))
	l.in(seg(wire.FlagACK, 5201, lrSeq(0), 65535, string(make([]byte, 100))))
	a := r9Only(t, l.in(seg(wire.FlagACK, 5201, lrSeq(0), 65535, string(make([]byte, 100)))), "ACK")
	o := a.Options
	if a.Ack != 5101 || o.NumSACK != 2 || o.SACKBlocks[0] != (wire.SACKBlock{Left: 5201, Right: 5301}) || o.SACKBlocks[1] != (wire.SACKBlock{Left: 5201, Right: 5301}) {
		t.Errorf("ACK %s, want ack 5101 sack 5201:5301 5201:5301 (RFC 2883 4.1.3, Linux tcp_data_queue_ofo)", &a)
	}
}

// F9
func TestRFC5681_RTOResetsDupAckCount(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{noSACK: true})
	start := l.now
	l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(0))
	l.sack(lrSeq(0))
	l.runData(200*ms, start)
	l.expectInfo("after the RTO", lrI("loss", 1, 7, 10, 0, 10, 1))
}

// TestRFC3522_PartialUndoDetectsReordering: segment 0 is overtaken by
// 1..4; RACK (no reordering seen yet, DupThresh segments SACKed) deems it
// lost and fast recovery resends it. Then the delayed original fills the
// hole: the ACK echoes the original's timestamp, older than the
// retransmission (Eifel detection, RFC 3522 2). The recovery was
// spurious, and reordering is now known (Linux tcp_try_undo_partial):
// the window is restored and RACK widens its reordering window, so the
// same overtaking later deems nothing lost.
func TestRFC3522_PartialUndoDetectsReordering(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.EarlyRetrans = 0 }), lrOpts{ts: true})
	first := l.send(10)
	l.now += 100 * ms
	l.sack(lrSeq(0), [2]int{1, 2})
	l.sack(lrSeq(0), [2]int{1, 3})
	out := l.sack(lrSeq(0), [2]int{1, 4})
	if d := r9Data(out); len(d) != 1 || d[0].Seq != lrSeq(0) {
		t.Fatalf("third SACK: sent %s, want the retransmission of segment 0", r9Fmt(out))
	}
	if i := l.e.Info(); i.CAState != "recovery" || i.ReordSeen != 0 {
		t.Fatalf("after the fast retransmit: %s, %d reorderings seen", i.CAState, i.ReordSeen)
	}
	// The delayed original arrives: the ACK of 0..3 echoes its TSval.
	l.now += 2 * ms
	l.ecr, l.ecrSet = first[0].Options.TSVal, true
	l.sack(lrSeq(4))
	i := l.e.Info()
	if i.ReordSeen == 0 || i.Reordering <= 3 {
		t.Fatalf("reordering not detected: reord_seen %d, reordering %d", i.ReordSeen, i.Reordering)
	}
	// Nothing retransmitted is still out: the whole episode is undone,
	// cwnd and ssthresh as before it (cwnd 10, ssthresh unset).
	if i.CAState == "recovery" || i.CAState == "loss" || i.SndCwnd < 10 || i.SndSsthresh != lrInf || i.SpuriousUndos != 1 || i.Lost != 0 {
		t.Fatalf("after the undo: %s cwnd %d ssthresh %d, %d undos, %d lost; want the window from before the episode", i.CAState, i.SndCwnd, i.SndSsthresh, i.SpuriousUndos, i.Lost)
	}
	if l.e.reoWnd() == 0 {
		t.Fatal("RACK's reordering window is still 0 after reordering was seen")
	}
}

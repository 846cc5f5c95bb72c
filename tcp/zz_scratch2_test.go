package tcp

import (
	"testing"
	"time"
)

func runDump(t *testing.T, l *lr, d time.Duration) {
	for _, s := range l.run(d) {
		t.Logf("  %v %s", s.at, s.s.String())
	}
}

func TestScratchTLP(t *testing.T) {
	for _, n := range []int{10, 12, 1} {
		l := lrOpen(t, nil, lrOpts{})
		out := l.write(make([]byte, n*lrMSS))
		dump(t, l, "send", out)
		l.e.rec.take()
		runDump(t, l, 250*time.Millisecond)
		dump(t, l, "after probe", nil)
		t.Logf("tlp %d", l.e.Info().TLPProbes)
		if n == 10 {
			l.now += 50*time.Millisecond
			dump(t, l, "ack all", l.sack(lrSeq(10)))
			l.now += 10*time.Millisecond
			dump(t, l, "write1", l.send(1))
			l.now += 100*time.Millisecond
			dump(t, l, "ack 11", l.sack(lrSeq(11)))
		}
		if n == 12 {
			l.now += 50*time.Millisecond
			dump(t, l, "ack 11", l.sack(lrSeq(11)))
		}
	}
}

func TestScratchNewReno(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{noSACK: true})
	dump(t, l, "send", l.send(20))
	l.now += 100 * time.Millisecond
	for k := 1; k <= 9; k++ {
		dump(t, l, "dup", l.sack(lrSeq(0)))
		l.now += time.Millisecond
	}
	l.now += 100 * time.Millisecond
	dump(t, l, "partial 5", l.sack(lrSeq(5)))
	dump(t, l, "dup", l.sack(lrSeq(5)))
	l.now += 100 * time.Millisecond
	dump(t, l, "full", l.sack(lrSeq(12)))
	for k := 1; k <= 3; k++ {
		dump(t, l, "dup after", l.sack(lrSeq(12)))
	}
}

func TestScratchRTO(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{noSACK: true})
	dump(t, l, "send", l.send(10))
	runDump(t, l, 350*time.Millisecond)
	dump(t, l, "after rto", nil)
	dump(t, l, "ack1", l.sack(lrSeq(1)))
	l2 := lrOpen(t, nil, lrOpts{})
	dump(t, l2, "send", l2.send(10))
	l2.now += 100*time.Millisecond
	dump(t, l2, "ack1 sack 1-3", l2.sack(lrSeq(1), [2]int{1,3}))
	runDump(t, l2, 350*time.Millisecond)
	dump(t, l2, "after rto", nil)
	t.Logf("stats %+v", l2.e.Stats().SACKReneging)
}

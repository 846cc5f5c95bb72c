package tcp

import (
	"testing"
	"time"
)

func TestScratchEifel2(t *testing.T) {
	for _, ts := range []bool{true, false} {
		l := lrOpen(t, lrConfig(func(c *Config){c.FRTO = 0; c.EarlyRetrans = 0}), lrOpts{ts: ts})
		out := l.send(10)
		ecr := out[0].Options.TSVal
		runDump(t, l, 310*time.Millisecond)
		dump(t, l, "after rto", nil)
		l.ecr, l.ecrSet = ecr, true
		l.now += 10*time.Millisecond
		dump(t, l, "ack1", l.sack(lrSeq(1)))
	}
}

func TestScratchLostAgain(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	l.send(14)
	l.now += 100 * time.Millisecond
	dump(t, l, "sack1-4", l.sack(lrSeq(0), [2]int{1, 4}))
	l.now += 1 * time.Millisecond
	dump(t, l, "sack1-5", l.sack(lrSeq(0), [2]int{1, 5}))
	l.now += 99 * time.Millisecond
	dump(t, l, "sack 10", l.sack(lrSeq(0), [2]int{1, 10}, [2]int{10,11}))
	l.now += 2 * time.Millisecond
	dump(t, l, "sack 11", l.sack(lrSeq(0), [2]int{1, 12}))
	runDump(t, l, 100*time.Millisecond)
	dump(t, l, "end", nil)
	t.Logf("total retrans %d", l.e.Info().TotalRetrans)
}

func TestScratchReord(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	l.send(10)
	l.now += 100 * time.Millisecond
	dump(t, l, "sack2", l.sack(lrSeq(0), [2]int{2, 3}))
	l.now += 1 * time.Millisecond
	dump(t, l, "sack1-3", l.sack(lrSeq(0), [2]int{1, 3}))
	t.Logf("reord seen %d", l.e.Info().ReordSeen)
	l.now += 1 * time.Millisecond
	dump(t, l, "sack1-7", l.sack(lrSeq(0), [2]int{1, 7}))
	l.now += 1 * time.Millisecond
	dump(t, l, "ack7", l.sack(lrSeq(7)))
	t.Logf("reord seen %d", l.e.Info().ReordSeen)
	runDump(t, l, 100*time.Millisecond)
}

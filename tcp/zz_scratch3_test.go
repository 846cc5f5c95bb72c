package tcp

import (
	"testing"
	"time"
)

func TestScratchFRTO(t *testing.T) {
	for _, real := range []bool{false, true} {
		l := lrOpen(t, lrConfig(func(c *Config){c.EarlyRetrans = 0}), lrOpts{})
		dump(t, l, "send", l.send(20))
		runDump(t, l, 310*time.Millisecond)
		dump(t, l, "after rto", nil)
		l.now += 10*time.Millisecond
		dump(t, l, "ack1", l.sack(lrSeq(1)))
		l.now += 10*time.Millisecond
		if real {
			dump(t, l, "dup sack", l.sack(lrSeq(1), [2]int{10,11}))
		} else {
			dump(t, l, "ack2", l.sack(lrSeq(2)))
		}
	}
}

func TestScratchEifel(t *testing.T) {
	for _, ts := range []bool{true, false} {
		l := lrOpen(t, lrConfig(func(c *Config){c.FRTO = 0}), lrOpts{ts: ts})
		out := l.send(10)
		dump(t, l, "send", out)
		ecr := out[0].Options.TSVal
		runDump(t, l, 310*time.Millisecond)
		dump(t, l, "after rto", nil)
		l.ecr, l.ecrSet = ecr, true
		l.now += 10*time.Millisecond
		dump(t, l, "ack1", l.sack(lrSeq(1)))
	}
}

func TestScratchDSACKUndo(t *testing.T) {
	for _, during := range []bool{true, false} {
		l := lrOpen(t, nil, lrOpts{})
		dump(t, l, "send", l.send(10))
		l.now += 100 * time.Millisecond
		dump(t, l, "sack1-4", l.sack(lrSeq(0), [2]int{1, 4}))
		l.now += time.Millisecond
		if during {
			dump(t, l, "ack4", l.sack(lrSeq(4)))
			l.now += 99*time.Millisecond
			dump(t, l, "dsack", l.in(l.ackRaw(lrSeq(4), dsb(0,1))))
		} else {
			dump(t, l, "ack10", l.sack(lrSeq(10)))
			l.now += 99*time.Millisecond
			dump(t, l, "dsack", l.in(l.ackRaw(lrSeq(10), dsb(0,1))))
		}
	}
}

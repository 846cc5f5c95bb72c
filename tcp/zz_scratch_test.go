package tcp

import (
	"testing"
	"time"
)

func dump(t *testing.T, l *lr, what string, out []Segment) {
	d, ok := l.e.Deadline()
	t.Logf("%s: %s\n   info %+v pipe %d timer %v/%v kind %d", what, r9Fmt(out), l.info(), l.e.packetsInFlight(), d-l.now, ok, l.e.rtxKind)
}

func TestScratchPRR(t *testing.T) {
	l := lrOpen(t, lrConfig(func(c *Config) { c.CongestionControl = "reno" }), lrOpts{})
	out := l.send(30)
	dump(t, l, "send", out)
	l.now += 100 * time.Millisecond
	for k := 1; k <= 12; k++ {
		dump(t, l, "sack", l.sack(lrSeq(0), [2]int{1, k + 1}))
	}
	dump(t, l, "ack12", l.sack(lrSeq(12), [2]int{13,16}))
	dump(t, l, "ackall", l.sack(l.e.sndNxt))
}

func TestScratchSSRB(t *testing.T) {
	l := lrOpen(t, lrConfig(func(c *Config) { c.CongestionControl = "reno" }), lrOpts{})
	out := l.send(30)
	dump(t, l, "send", out)
	l.now += 100 * time.Millisecond
	dump(t, l, "sack6-10", l.sack(lrSeq(0), [2]int{6, 10}))
	dump(t, l, "ack1", l.sack(lrSeq(1), [2]int{6, 10}))
	dump(t, l, "ack2", l.sack(lrSeq(2), [2]int{6, 10}))
}

func TestScratchPipe(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	out := l.send(30)
	dump(t, l, "send", out)
	l.now += 100 * time.Millisecond
	dump(t, l, "sacks", l.sack(lrSeq(0), [2]int{1, 3}, [2]int{4, 6}, [2]int{7, 10}))
}

func TestScratch6675(t *testing.T) {
	l := lrOpen(t, lrConfig(func(c *Config) { c.Recovery = 0 }), lrOpts{})
	out := l.send(30)
	dump(t, l, "send", out)
	l.now += 100 * time.Millisecond
	dump(t, l, "s1", l.sack(lrSeq(0), [2]int{1, 2}))
	dump(t, l, "s2", l.sack(lrSeq(0), [2]int{1, 3}))
	dump(t, l, "s3", l.sack(lrSeq(0), [2]int{1, 4}))
	dump(t, l, "s4", l.sack(lrSeq(0), [2]int{1, 4}, [2]int{5,6}))
	dump(t, l, "s5", l.sack(lrSeq(0), [2]int{1, 4}, [2]int{5,8}))
}

func TestScratchTLPInRecovery(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	out := l.send(10)
	dump(t, l, "send", out)
	l.now += 100 * time.Millisecond
	dump(t, l, "sacks", l.sack(lrSeq(0), [2]int{1, 3}, [2]int{4, 6}, [2]int{7, 10}))
	for _, s := range l.run(time.Second) {
		t.Logf("%v %s", s.at, s.s.String())
	}
	dump(t, l, "end", nil)
}

package tcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// recorder is an Output that keeps copies of everything the engine emits.
type recorder struct {
	segs   []Segment
	events []Event
}

func (r *recorder) Segment(s *Segment) {
	c := *s
	c.Payload = append([]byte(nil), s.Payload...)
	r.segs = append(r.segs, c)
}

func (r *recorder) Event(e Event) { r.events = append(r.events, e) }

// take returns and clears the recorded segments.
func (r *recorder) take() []Segment {
	s := r.segs
	r.segs = nil
	return s
}

// transitions lists the state changes recorded so far as "A->B".
func (r *recorder) transitions() []string {
	var out []string
	for _, e := range r.events {
		if e.Kind == EventStateChange {
			out = append(out, e.Old.String()+"->"+e.New.String())
		}
	}
	return out
}

// endpoint is one TCB under test with its recorder.
type endpoint struct {
	*TCB
	rec *recorder
}

func newEndpoint(t testing.TB, cfg *Config) endpoint {
	t.Helper()
	if cfg == nil {
		c := DefaultConfig()
		cfg = &c
	}
	rec := &recorder{}
	tcb, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	return endpoint{tcb, rec}
}

// pair is two engines joined by an in-memory wire in virtual time. Each
// direction is a FIFO with a fixed one-way delay; drop, when set, decides
// whether a segment is lost.
type pair struct {
	t     testing.TB
	now   Time
	a, b  endpoint
	delay time.Duration
	// in flight: segments with their arrival time and destination.
	flight []inflight
	drop   func(from string, s *Segment) bool
	log    []string
}

type inflight struct {
	at  Time
	toB bool
	seg Segment
}

func newPair(t testing.TB, cfgA, cfgB *Config) *pair {
	return &pair{t: t, a: newEndpoint(t, cfgA), b: newEndpoint(t, cfgB), delay: 10 * time.Millisecond, now: time.Second}
}

// collect moves what both ends emitted onto the wire.
func (p *pair) collect() {
	for _, s := range p.a.rec.take() {
		p.send("A", true, s)
	}
	for _, s := range p.b.rec.take() {
		p.send("B", false, s)
	}
}

func (p *pair) send(from string, toB bool, s Segment) {
	dir := "A>B"
	if !toB {
		dir = "B>A"
	}
	if p.drop != nil && p.drop(from, &s) {
		p.log = append(p.log, fmt.Sprintf("%8v %s %v (lost)", p.now, dir, &s))
		return
	}
	p.log = append(p.log, fmt.Sprintf("%8v %s %v", p.now, dir, &s))
	p.flight = append(p.flight, inflight{at: p.now + p.delay, toB: toB, seg: s})
}

// step advances virtual time to the next event (a delivery or a timer) and
// processes it. It returns false when nothing is left to happen before limit.
func (p *pair) step(limit Time) bool {
	p.collect()
	next, ok := Time(0), false
	if len(p.flight) > 0 {
		next, ok = p.flight[0].at, true
		for _, f := range p.flight {
			if f.at < next {
				next = f.at
			}
		}
	}
	for _, e := range []endpoint{p.a, p.b} {
		if d, dok := e.Deadline(); dok && (!ok || d < next) {
			next, ok = d, true
		}
	}
	if !ok || next > limit {
		return false
	}
	if next > p.now {
		p.now = next
	}
	// Deliver everything due now, in order.
	var keep []inflight
	var due []inflight
	for _, f := range p.flight {
		if f.at <= p.now {
			due = append(due, f)
		} else {
			keep = append(keep, f)
		}
	}
	p.flight = keep
	for _, f := range due {
		s := f.seg
		if f.toB {
			p.b.Input(p.now, &s)
		} else {
			p.a.Input(p.now, &s)
		}
	}
	for _, e := range []endpoint{p.a, p.b} {
		if d, dok := e.Deadline(); dok && d <= p.now {
			e.Tick(p.now)
		}
	}
	p.collect()
	return true
}

// run steps until nothing happens before now+d.
func (p *pair) run(d time.Duration) {
	limit := p.now + d
	for i := 0; p.step(limit); i++ {
		if i > 1_000_000 {
			p.t.Fatal("pair.run: no quiescence")
		}
	}
	if p.now < limit {
		p.now = limit
	}
}

// connect opens A actively towards B listening, and runs the handshake.
func (p *pair) connect() {
	p.t.Helper()
	if err := p.b.Listen(p.now, OpenOptions{ISN: 5000, MSS: 1460}); err != nil {
		p.t.Fatal(err)
	}
	if err := p.a.Connect(p.now, OpenOptions{ISN: 1000, MSS: 1460}); err != nil {
		p.t.Fatal(err)
	}
	p.run(time.Second)
	if p.a.State() != Established || p.b.State() != Established {
		p.t.Fatalf("after handshake: A %v, B %v\n%s", p.a.State(), p.b.State(), p.trace())
	}
}

func (p *pair) trace() string {
	s := ""
	for _, l := range p.log {
		s += l + "\n"
	}
	return s
}

// readAll drains what e has received.
func readAll(e endpoint, now Time) []byte {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := e.Read(now, buf)
		out = append(out, buf[:n]...)
		if err != nil || n == 0 {
			return out
		}
	}
}

// seg builds an inbound segment for script-style tests.
func seg(flags wire.TCPFlags, seq, ack uint32, win uint16, payload string) *Segment {
	s := &Segment{Seq: seq, Ack: ack, Flags: flags, Window: win}
	if payload != "" {
		s.Payload = []byte(payload)
	}
	return s
}

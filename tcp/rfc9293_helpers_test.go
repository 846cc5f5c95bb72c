package tcp

// Helpers for the RFC 9293 conformance tests (rfc9293_*_test.go, indexed by
// docs/rfc9293.md). Each test drives one engine by hand and plays its peer
// itself, so that it can assert exactly what a peer would see on the wire:
// the segments the engine emits, with their flags, numbers, windows and
// options, and the events and errors its user would get.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// The sequence numbers the scripted connections start from.
const (
	r9ISS = 1000 // the engine's initial send sequence number
	r9IRS = 5000 // the peer's
)

// r9 is one engine under test and the state of the peer the test plays.
type r9 struct {
	t   testing.TB
	e   endpoint
	now Time
	// The peer's view: nxt is its next sequence number (the engine's
	// RCV.NXT once all is delivered), ack what it acknowledges, win the
	// window field it advertises, ts its timestamp clock when timestamps
	// are in use.
	nxt, ack uint32
	win      uint16
	ts       bool
	tsVal    uint32
}

// r9Config returns the Linux defaults, changed by fn when it is not nil.
func r9Config(fn func(*Config)) *Config {
	c := DefaultConfig()
	if fn != nil {
		fn(&c)
	}
	return &c
}

// r9Passive opens the engine passively and completes the handshake with a
// peer whose SYN carries synOpts and whose window field is win (never scaled
// unless synOpts asks for it). The engine announces MSS 1460.
func r9Passive(t testing.TB, cfg *Config, synOpts wire.TCPOptions, win uint16) *r9 {
	t.Helper()
	r := &r9{t: t, e: newEndpoint(t, cfg), now: 10 * time.Second, win: win}
	if err := r.e.Listen(r.now, OpenOptions{ISN: r9ISS, MSS: 1460}); err != nil {
		t.Fatal(err)
	}
	r.ts = synOpts.HasTimestamps
	r.tsVal = synOpts.TSVal
	syn := &Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: win, Options: synOpts}
	out := r.in(syn)
	if len(out) != 1 || out[0].Flags != wire.FlagSYN|wire.FlagACK {
		t.Fatalf("SYN answered with %s, want one SYN-ACK", r9Fmt(out))
	}
	r.nxt, r.ack = r9IRS+1, r9ISS+1
	if out := r.peer(wire.FlagACK, ""); len(out) != 0 {
		t.Fatalf("handshake ACK answered with %s", r9Fmt(out))
	}
	if r.e.State() != Established {
		t.Fatalf("state %v after the handshake, want ESTABLISHED", r.e.State())
	}
	return r
}

// r9Plain is r9Passive with a peer that offers MSS 1460 and no other
// option, and a 65535-byte window: no scaling, no timestamps, no SACK.
func r9Plain(t testing.TB, cfg *Config) *r9 {
	t.Helper()
	return r9Passive(t, cfg, wire.TCPOptions{HasMSS: true, MSS: 1460}, 65535)
}

// in hands s to the engine now and returns what it emitted.
func (r *r9) in(s *Segment) []Segment {
	r.t.Helper()
	r.e.Input(r.now, s)
	return r.e.rec.take()
}

// mk builds the peer's next segment: SEQ = nxt, ACK = ack, its window and,
// when in use, a timestamp echoing the engine's last TSval.
func (r *r9) mk(flags wire.TCPFlags, payload string) *Segment {
	s := seg(flags, r.nxt, r.ack, r.win, payload)
	if r.ts && flags&wire.FlagRST == 0 {
		r.tsVal++
		s.Options.HasTimestamps, s.Options.TSVal = true, r.tsVal
		s.Options.TSEcr = r.e.tsNow()
	}
	return s
}

// peer sends the peer's next segment and advances the peer's sequence
// number past it.
func (r *r9) peer(flags wire.TCPFlags, payload string) []Segment {
	r.t.Helper()
	s := r.mk(flags, payload)
	r.nxt += s.Len()
	return r.in(s)
}

// ackUpTo makes the peer acknowledge everything up to seq with window win.
func (r *r9) ackUpTo(seq uint32, win uint16) []Segment {
	r.t.Helper()
	r.ack, r.win = seq, win
	return r.peer(wire.FlagACK, "")
}

// write queues p and returns the segments the engine sent at once.
func (r *r9) write(p []byte) []Segment {
	r.t.Helper()
	n, err := r.e.Write(r.now, p)
	if err != nil || n != len(p) {
		r.t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
	}
	return r.e.rec.take()
}

// r9Timed is a segment with the virtual time it was emitted at.
type r9Timed struct {
	at Time
	s  Segment
}

// run advances virtual time by d, firing every timer that falls due on the
// way (at its exact time), and returns the segments emitted, with times.
func (r *r9) run(d time.Duration) []r9Timed { return r.runAnswering(d, nil) }

// runAnswering is run with a peer that answers: for each segment the engine
// emits, answer (when not nil) may return a segment that is delivered at
// once; what the engine emits in reply is recorded too.
func (r *r9) runAnswering(d time.Duration, answer func(Segment) *Segment) []r9Timed {
	r.t.Helper()
	var out []r9Timed
	end := r.now + d
	for i := 0; ; i++ {
		at, ok := r.e.Deadline()
		if !ok || at > end {
			break
		}
		if i > 100000 {
			r.t.Fatal("run: the timers never settle")
		}
		if at > r.now {
			r.now = at
		}
		r.e.Tick(r.now)
		pending := r.e.rec.take()
		for len(pending) > 0 {
			s := pending[0]
			pending = pending[1:]
			out = append(out, r9Timed{r.now, s})
			if answer != nil {
				if a := answer(s); a != nil {
					r.e.Input(r.now, a)
					pending = append(pending, r.e.rec.take()...)
				}
			}
		}
	}
	r.now = end
	return out
}

// runSegs is run without the times.
func (r *r9) runSegs(d time.Duration) []Segment {
	r.t.Helper()
	var out []Segment
	for _, ts := range r.run(d) {
		out = append(out, ts.s)
	}
	return out
}

// errs returns the errors reported through EventError so far.
func (r *r9) errs() []error {
	var out []error
	for _, ev := range r.e.rec.events {
		if ev.Kind == EventError {
			out = append(out, ev.Err)
		}
	}
	return out
}

// count returns how many events of kind were raised so far.
func (r *r9) count(kind EventKind) int {
	n := 0
	for _, ev := range r.e.rec.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// exhaustQuickAcks feeds one-byte segments until the engine stops
// acknowledging each one at once (it leaves Linux's initial quick-ACK mode),
// then lets the delayed ACK go and reads the data, so that later segments
// meet the ordinary delayed-ACK rules. It waits 100 ms, less than the
// RTO: after a longer silence the engine would go back to quick ACKs
// (quickack.go).
func (r *r9) exhaustQuickAcks() {
	r.t.Helper()
	for i := 0; i < 64; i++ {
		if out := r.peer(wire.FlagACK|wire.FlagPSH, "q"); len(out) == 0 {
			r.runSegs(100 * time.Millisecond)
			readAll(r.e, r.now)
			r.e.rec.take()
			return
		}
	}
	r.t.Fatal("the engine acknowledged 64 segments in a row at once: no delayed ACK")
}

// fillWindow sends the peer's data in full segments of n bytes until the engine's
// offered window is closed, and returns the bytes sent.
func (r *r9) fillWindow(n int) int {
	r.t.Helper()
	total := 0
	for i := 0; i < 10000; i++ {
		out := r.peer(wire.FlagACK, strings.Repeat("x", n))
		total += n
		out = append(out, r.runSegs(time.Second)...)
		if len(out) == 0 {
			r.t.Fatal("fillWindow: no ACK")
		}
		last := out[len(out)-1]
		if last.Ack != r.nxt {
			// The window was smaller than the segment: trim the peer's
			// view to what was taken.
			total -= int(r.nxt - last.Ack)
			r.nxt = last.Ack
		}
		if last.Window == 0 {
			return total
		}
	}
	r.t.Fatal("fillWindow: the window never closed")
	return 0
}

// r9Fmt renders segments for failure messages.
func r9Fmt(segs []Segment) string {
	if len(segs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i := range segs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(segs[i].String())
	}
	return b.String()
}

func r9FmtTimed(segs []r9Timed) string {
	if len(segs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i := range segs {
		fmt.Fprintf(&b, "\n  %v %s", segs[i].at, segs[i].s.String())
	}
	return b.String()
}

// r9Only returns the single segment of out, failing the test otherwise.
func r9Only(t testing.TB, out []Segment, what string) Segment {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("%s: got %s, want exactly one segment", what, r9Fmt(out))
	}
	return out[0]
}

// r9Data keeps the segments that carry payload.
func r9Data(out []Segment) []Segment {
	var d []Segment
	for _, s := range out {
		if len(s.Payload) > 0 {
			d = append(d, s)
		}
	}
	return d
}

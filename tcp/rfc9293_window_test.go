package tcp

// RFC 9293 3.8.5, 3.8.6 and 3.10.7.4: urgent data, window management (zero
// windows, shrinking, silly window syndrome), acknowledgement generation
// and out-of-order data. See docs/rfc9293.md.

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// MUST-30 (3.8.5) and MUST-62 (3.8.5): the urgent mechanism is supported,
// and the urgent pointer points at the octet following the urgent data, as
// an offset from the segment's sequence number.
func TestRFC9293_MUST_30_MUST_62_UrgentPointer(t *testing.T) {
	r := r9Plain(t, nil)
	if _, err := r.e.WriteUrgent(r.now, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	s := r9Only(t, r.e.rec.take(), "urgent segment")
	if s.Flags&wire.FlagURG == 0 || s.Seq+uint32(s.Urgent) != r9ISS+1+10 {
		t.Fatalf("sent %s; want URG with SEQ+UP = %d, the octet after the urgent data", &s, r9ISS+11)
	}
	r.ackUpTo(r9ISS+11, 65535)
	if s := r9Only(t, r.write([]byte("normal")), "normal data"); s.Flags&wire.FlagURG != 0 {
		t.Fatalf("data after the acknowledged urgent data still has URG: %s", &s)
	}
	// Receiving: the pointer's octet is the first non-urgent one.
	u := r.mk(wire.FlagACK|wire.FlagURG, "abcdefgh")
	u.Urgent = 5
	r.nxt += u.Len()
	r.in(u)
	if n, ok := r.e.UrgentPending(); !ok || n != 5 {
		t.Fatalf("UrgentPending = %d, %v; want 5 urgent bytes (\"abcde\")", n, ok)
	}
}

// MUST-31 (3.8.5): urgent data may be of any length: every segment of a
// long urgent sequence carries URG and points at its end (or as far as 16
// bits reach), and a received pointer may lie beyond the segment's data.
func TestRFC9293_MUST_31_UrgentAnyLength(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.WriteUrgent(r.now, make([]byte, 5000))
	out := r.e.rec.take()
	if len(out) != 4 {
		t.Fatalf("segments %s", r9Fmt(out))
	}
	for _, s := range out {
		if s.Flags&wire.FlagURG == 0 || s.Seq+uint32(s.Urgent) != r9ISS+1+5000 {
			t.Fatalf("segment %s does not point at the end of the 5000 urgent bytes (%d)", &s, r9ISS+5001)
		}
	}
	u := r.mk(wire.FlagACK|wire.FlagURG, strings.Repeat("u", 100))
	u.Urgent = 3000
	r.nxt += u.Len()
	r.in(u)
	if n, ok := r.e.UrgentPending(); !ok || n != 3000 {
		t.Fatalf("UrgentPending = %d, %v; want 3000", n, ok)
	}
}

// MUST-32 (3.8.5): the application is told asynchronously (EventUrgent, as
// Linux raises SIGURG) when an urgent pointer arrives with no urgent data
// pending, and when it advances; not when a segment repeats it.
func TestRFC9293_MUST_32_UrgentNotification(t *testing.T) {
	r := r9Plain(t, nil)
	send := func(payload string, up uint16) {
		u := r.mk(wire.FlagACK|wire.FlagURG, payload)
		u.Urgent = up
		r.nxt += u.Len()
		r.in(u)
	}
	send("aaaa", 10) // pointer at nxt+10
	if n := r.count(EventUrgent); n != 1 {
		t.Fatalf("%d urgent events for the first pointer, want 1", n)
	}
	send("bbbb", 6) // the same pointer, four octets on
	if n := r.count(EventUrgent); n != 1 {
		t.Fatalf("%d urgent events after a repeated pointer, want still 1", n)
	}
	send("cccc", 20) // advanced
	if n := r.count(EventUrgent); n != 2 {
		t.Fatalf("%d urgent events after the pointer advanced, want 2", n)
	}
}

// MUST-33 (3.8.5): the application can learn whether urgent data remains,
// and how much (UrgentPending; SIOCATMARK in Linux says whether it is at the
// mark).
func TestRFC9293_MUST_33_UrgentPendingAmount(t *testing.T) {
	r := r9Plain(t, nil)
	if _, ok := r.e.UrgentPending(); ok {
		t.Fatal("urgent data pending before any arrived")
	}
	u := r.mk(wire.FlagACK|wire.FlagURG, "URGENTnormal")
	u.Urgent = 6
	r.nxt += u.Len()
	r.in(u)
	buf := make([]byte, 4)
	r.e.Read(r.now, buf) // "URGE"
	if n, ok := r.e.UrgentPending(); !ok || n != 2 {
		t.Fatalf("after reading 4 bytes UrgentPending = %d, %v; want 2", n, ok)
	}
	r.e.Read(r.now, buf[:2]) // "NT"
	if n, ok := r.e.UrgentPending(); ok {
		t.Fatalf("past the mark UrgentPending = %d, %v; want none", n, ok)
	}
}

// r9ZeroWindowPeer returns a connection whose peer has just closed its
// window (ACK with window 0).
func r9ZeroWindowPeer(t *testing.T, cfg *Config) *r9 {
	t.Helper()
	r := r9Plain(t, cfg)
	r.ackUpTo(r9ISS+1, 0)
	return r
}

// MUST-35 and MUST-36 (3.8.6, 3.8.6.1), SHLD-29 and SHLD-30 (3.8.6.1): a
// zero window is probed: the first probe goes one RTO after the window
// closed, then at exponentially growing intervals (capped at RTOMax).
// Linux's probe is an empty ACK at SND.UNA-1, which the peer must answer
// with its window (3.10.7.4 first check); when the window opens, data flows.
func TestRFC9293_MUST_35_MUST_36_SHLD_29_SHLD_30_ZeroWindowProbe(t *testing.T) {
	r := r9ZeroWindowPeer(t, nil)
	rto := r.e.Info().RTO
	start := r.now
	if out := r.write([]byte("waiting for a window")); len(out) != 0 {
		t.Fatalf("sent %s into a zero window", r9Fmt(out))
	}
	answer := func(s Segment) *Segment { return seg(wire.FlagACK, r.nxt, r9ISS+1, 0, "") }
	out := r.runAnswering(20*time.Minute, answer)
	if len(out) < 8 {
		t.Fatalf("probes: %s", r9FmtTimed(out))
	}
	prev := start
	interval := rto
	for i, p := range out {
		if p.s.Seq != r9ISS || len(p.s.Payload) != 0 || p.s.Flags != wire.FlagACK {
			t.Fatalf("probe %d is %s, want an empty ACK at SND.UNA-1", i, &p.s)
		}
		if got := p.at - prev; got != interval {
			t.Fatalf("probe %d came %v after the previous event, want %v:%s", i, got, interval, r9FmtTimed(out))
		}
		prev = p.at
		interval *= 2
		if interval > DefaultConfig().RTOMax {
			interval = DefaultConfig().RTOMax
		}
	}
	// The window opens: the data goes out.
	d := r9Data(r.ackUpTo(r9ISS+1, 65535))
	if s := r9Only(t, d, "data after the window opened"); string(s.Payload) != "waiting for a window" {
		t.Fatalf("sent %q", s.Payload)
	}
}

// MUST-37 (3.8.6.1): as long as the peer answers the probes, the window may
// stay closed indefinitely: the connection is not timed out.
func TestRFC9293_MUST_37_ZeroWindowIndefinitely(t *testing.T) {
	r := r9ZeroWindowPeer(t, nil)
	r.write([]byte("patience"))
	answer := func(s Segment) *Segment { return seg(wire.FlagACK, r.nxt, r9ISS+1, 0, "") }
	out := r.runAnswering(6*time.Hour, answer)
	if r.e.State() != Established || len(r.errs()) != 0 {
		t.Fatalf("after 6 h of zero window: state %v, errors %v", r.e.State(), r.errs())
	}
	if last := out[len(out)-1].at; r.now-last > DefaultConfig().RTOMax {
		t.Fatalf("probing stopped at %v", last)
	}
}

// MUST-34 (3.8.6), SHLD-15, SHLD-16 (3.8.6) and MAY-7 (3.8.6): when the
// peer shrinks its window below what is in flight (usable window negative),
// the sender copes: it sends no new data, keeps retransmitting from
// SND.UNA (the head segment even where it passes the right edge), and
// resumes when the window reopens.
func TestRFC9293_MUST_34_SHLD_15_SHLD_16_MAY_7_ShrunkWindow(t *testing.T) {
	r := r9Plain(t, nil)
	if out := r.write(make([]byte, 4*1460)); len(out) != 4 {
		t.Fatalf("sent %s", r9Fmt(out))
	}
	// The peer acknowledges one segment and offers only 1000 bytes: the right
	// edge moves left of SND.NXT.
	if out := r9Data(r.ackUpTo(r9ISS+1+1460, 1000)); len(out) != 0 {
		t.Fatalf("sent %s after the window shrank", r9Fmt(out))
	}
	if out := r.write([]byte("new data")); len(r9Data(out)) != 0 {
		t.Fatalf("sent new data %s beyond a shrunk window", r9Fmt(out))
	}
	out := r.run(time.Second)
	if len(out) == 0 {
		t.Fatal("no retransmission")
	}
	re := out[0].s
	if re.Seq != r9ISS+1+1460 || len(re.Payload) != 1460 {
		t.Fatalf("retransmitted %s, want the 1460 bytes at SND.UNA %d", &re, r9ISS+1+1460)
	}
	// The window reopens: everything is acknowledged, the new data goes.
	d := r9Data(r.ackUpTo(r9ISS+1+4*1460, 65535))
	if s := r9Only(t, d, "new data"); s.Seq != r9ISS+1+4*1460 || string(s.Payload) != "new data" {
		t.Fatalf("after the window reopened: %s", &s)
	}
}

// SHLD-17 (3.8.6): the connection is not timed out because data beyond a
// closed window stays unacknowledged, as long as the peer answers; a silent
// peer still times it out.
func TestRFC9293_SHLD_17_NoTimeoutBeyondRightEdge(t *testing.T) {
	r := r9Plain(t, nil)
	r.write(make([]byte, 1460))
	r.ackUpTo(r9ISS+1, 0) // window closed, the segment not acknowledged
	answer := func(s Segment) *Segment { return seg(wire.FlagACK, r.nxt, r9ISS+1, 0, "") }
	r.runAnswering(3*time.Hour, answer)
	if r.e.State() != Established || len(r.errs()) != 0 {
		t.Fatalf("timed out while the peer answered: state %v, errors %v", r.e.State(), r.errs())
	}
	r.run(time.Hour)
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ETIMEDOUT) {
		t.Fatalf("a silent peer: errors %v, want ETIMEDOUT", errs)
	}
}

// MAY-8 (3.8.6.1): the receiver may keep its window closed indefinitely: an
// application that does not read keeps it at zero, and probes are answered
// with a zero window for as long as it lasts.
func TestRFC9293_MAY_8_ReceiverWindowClosedIndefinitely(t *testing.T) {
	r := r9Plain(t, nil)
	r.fillWindow(1460)
	for i := 0; i < 10; i++ {
		r.now += 10 * time.Minute
		out := r.in(seg(wire.FlagACK, r.nxt-1, r9ISS+1, 65535, ""))
		if a := r9Only(t, out, "answer to a probe"); a.Window != 0 || a.Ack != r.nxt {
			t.Fatalf("probe answered with %s, want window 0", &a)
		}
	}
	if r.e.State() != Established {
		t.Fatalf("state %v", r.e.State())
	}
}

// MUST-38 (3.8.6.2.1): sender silly window syndrome avoidance: no small
// segment is sent into a small usable window (Linux: only segments of a
// full MSS, the MSS bounded by half the peer's largest window).
func TestRFC9293_MUST_38_SenderSWSAvoidance(t *testing.T) {
	r := r9Plain(t, nil)
	r.ackUpTo(r9ISS+1, 500)
	if out := r9Data(r.write(make([]byte, 5000))); len(out) != 0 {
		t.Fatalf("sent %v into a 500-byte usable window", r9Sizes(out))
	}
	if got := r9Sizes(r9Data(r.ackUpTo(r9ISS+1, 3000))); !slices.Equal(got, []int{1460, 1460}) {
		t.Fatalf("into a 3000-byte window: %v, want two full segments and no 80-byte one", got)
	}
	// A peer whose largest window is 1000 bytes gets 500-byte segments.
	small := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460}, 1000)
	if got := r9Sizes(small.write(make([]byte, 2000))); !slices.Equal(got, []int{500, 500}) {
		t.Fatalf("to a 1000-byte window: %v, want 500-byte segments", got)
	}
}

// MUST-39 (3.8.6.2.2): receiver silly window syndrome avoidance: as the
// application reads from a full buffer, the window is not reopened in small
// steps: it stays at zero until at least a full segment (or half the
// buffer) is free.
func TestRFC9293_MUST_39_ReceiverSWSAvoidance(t *testing.T) {
	r := r9Plain(t, nil)
	total := r.fillWindow(1460)
	buf := make([]byte, 100)
	var windows []uint16
	for read := 0; read < total; read += 100 {
		r.e.Read(r.now, buf)
		for _, s := range r.e.rec.take() {
			windows = append(windows, s.Window)
		}
		r.now += time.Second
		// A probe makes the engine tell its current window.
		out := r.in(seg(wire.FlagACK, r.nxt-1, r9ISS+1, 65535, ""))
		for _, s := range out {
			windows = append(windows, s.Window)
		}
	}
	opened := false
	for _, w := range windows {
		if w != 0 && w < 1460 {
			t.Fatalf("advertised a silly window of %d bytes: %v", w, windows)
		}
		opened = opened || w != 0
	}
	if !opened {
		t.Fatalf("the window never reopened: %v", windows)
	}
}

// SHLD-14 (3.8.6): the receiver does not shrink its window: the right edge
// it advertised never moves left, even when its buffer is cut.
func TestRFC9293_SHLD_14_NoWindowShrink(t *testing.T) {
	r := r9Plain(t, nil)
	edge := func(payload string) uint32 {
		t.Helper()
		out := append(r.peer(wire.FlagACK|wire.FlagPSH, payload), r.runSegs(time.Second)...)
		if len(out) == 0 {
			t.Fatalf("%d bytes not acknowledged", len(payload))
		}
		a := out[len(out)-1]
		return a.Ack + uint32(a.Window)
	}
	e1 := edge("a")
	r.e.SetReadBuffer(1024)
	e2 := edge("b")
	e3 := edge(strings.Repeat("c", 1000))
	if seqLT(e2, e1) || seqLT(e3, e2) {
		t.Fatalf("right edge moved left: %d, %d, %d", e1, e2, e3)
	}
}

// MUST-66 (3.4): with a zero receive window, the ACK, URG and RST of a
// segment at RCV.NXT are still processed (its data is not taken).
func TestRFC9293_MUST_66_ZeroWindowStillProcessesControls(t *testing.T) {
	r := r9Plain(t, nil)
	r.write([]byte("outstanding"))
	r.fillWindow(1460)
	// URG at RCV.NXT: noted, its data dropped and the drop acknowledged.
	u := seg(wire.FlagACK|wire.FlagURG, r.nxt, r9ISS+1, 65535, "x")
	u.Urgent = 1
	out := r.in(u)
	if r.count(EventUrgent) != 1 {
		t.Fatal("URG in a zero window was not processed")
	}
	if a := r9Only(t, out, "ACK of dropped data"); a.Ack != r.nxt || a.Window != 0 {
		t.Fatalf("reply %s, want ack %d win 0", &a, r.nxt)
	}
	// ACK at RCV.NXT: acknowledges the outstanding data (so Nagle lets the
	// next short write go at once).
	r.now += time.Second
	r.in(seg(wire.FlagACK, r.nxt, r9ISS+1+11, 65535, ""))
	if d := r9Data(r.write([]byte("more"))); len(d) != 1 {
		t.Fatalf("the ACK in a zero window was not processed: next write sent %s", r9Fmt(d))
	}
	// RST at RCV.NXT: resets.
	r.in(seg(wire.FlagRST, r.nxt, 0, 0, ""))
	if r.e.State() != Closed {
		t.Fatalf("RST in a zero window ignored: state %v", r.e.State())
	}
}

// MUST-40 (3.8.6.3) and SHLD-18 (3.8.6.3): ACKs are delayed (fewer ACKs than
// segments), but by less than 0.5 s (Linux: 40 ms to 200 ms), and a Config
// asking for 0.5 s or more is refused.
func TestRFC9293_MUST_40_SHLD_18_DelayedAckUnder500ms(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	start := r.now
	if out := r.peer(wire.FlagACK|wire.FlagPSH, "small"); len(out) != 0 {
		t.Fatalf("a single small segment was acknowledged at once: %s", r9Fmt(out))
	}
	out := r.run(time.Second)
	if len(out) != 1 || out[0].s.Ack != r.nxt {
		t.Fatalf("delayed ACK: %s", r9FmtTimed(out))
	}
	if d := out[0].at - start; d <= 0 || d >= 500*time.Millisecond {
		t.Fatalf("ACK delayed by %v, want 0 < delay < 500ms", d)
	}
	bad := DefaultConfig()
	bad.DelAckMax = 500 * time.Millisecond
	if _, err := New(&bad, &recorder{}); err == nil {
		t.Fatal("a 500 ms delayed-ACK bound was accepted")
	}
}

// SHLD-19 (3.8.6.3): an ACK is sent for at least every second full-sized
// segment.
func TestRFC9293_SHLD_19_AckEverySecondFullSegment(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	full := strings.Repeat("f", 1460)
	for i := 0; i < 3; i++ {
		if out := r.peer(wire.FlagACK, full); len(out) != 0 {
			t.Fatalf("pair %d: the first full segment was acknowledged at once", i)
		}
		out := r.peer(wire.FlagACK, full)
		if a := r9Only(t, out, "ACK of the second full segment"); a.Ack != r.nxt {
			t.Fatalf("ACK %s, want ack %d", &a, r.nxt)
		}
		r.e.Read(r.now, make([]byte, 4096))
		r.e.rec.take()
	}
	// Small segments: an ACK at least every 2*RMSS bytes (RMSS is 536 until
	// larger segments are seen), without waiting for the timer.
	r2 := r9Plain(t, nil)
	r2.exhaustQuickAcks()
	unacked := 0
	for i := 0; i < 40; i++ {
		out := r2.peer(wire.FlagACK, strings.Repeat("s", 100))
		unacked += 100
		if len(out) > 0 {
			unacked = 0
		}
		if unacked > 2*536 {
			t.Fatalf("%d bytes of small segments received without an ACK", unacked)
		}
	}
}

// MUST-58 (3.10.7.4): ACKs are aggregated where possible: a run of in-order
// full-sized segments gets one ACK per two segments, not one per segment.
func TestRFC9293_MUST_58_AggregateAcks(t *testing.T) {
	r := r9Plain(t, nil)
	r.exhaustQuickAcks()
	var acks []Segment
	for i := 0; i < 8; i++ {
		acks = append(acks, r.peer(wire.FlagACK, strings.Repeat("d", 1460))...)
	}
	if len(acks) != 4 {
		t.Fatalf("8 full segments got %d ACKs (%s), want 4", len(acks), r9Fmt(acks))
	}
}

// MUST-59 (3.10.7.4): a series of queued segments is processed in full
// before any ACK is sent: InputBatch, which the stack uses for what one read
// from the device brought, answers the batch with one ACK.
func TestRFC9293_MUST_59_ProcessQueueBeforeAck(t *testing.T) {
	r := r9Plain(t, nil)
	s1 := seg(wire.FlagACK, r.nxt, r9ISS+1, 65535, "one.")
	s2 := seg(wire.FlagACK, r.nxt+4, r9ISS+1, 65535, "two.")
	s3 := seg(wire.FlagACK, r.nxt+8, r9ISS+1, 65535, "three")
	r.nxt += 13
	// Out of order and in quick-ACK mode: one at a time, each would be
	// acknowledged at once.
	r.e.InputBatch(r.now, []*Segment{s1, s3, s2})
	a := r9Only(t, r.e.rec.take(), "the batch's ACK")
	if a.Ack != r.nxt || a.Flags != wire.FlagACK {
		t.Fatalf("batch answered with %s, want one ACK of %d", &a, r.nxt)
	}
	if got := string(readAll(r.e, r.now)); got != "one.two.three" {
		t.Fatalf("read %q", got)
	}
}

// SHLD-31 (3.10.7.4) and MAY-13 (3.10.7.4): a segment beyond RCV.NXT but in
// the window is kept for later (not dropped), and is acknowledged at once
// with an ACK of RCV.NXT (with a SACK block when SACK is in use).
func TestRFC9293_SHLD_31_MAY_13_OutOfOrderQueued(t *testing.T) {
	r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true}, 65535)
	r.exhaustQuickAcks()
	base := r.nxt
	late := seg(wire.FlagACK, base+5, r9ISS+1, 65535, "world")
	a := r9Only(t, r.in(late), "ACK of the out-of-order segment")
	if a.Ack != base || a.Options.NumSACK != 1 || a.Options.SACKBlocks[0] != (wire.SACKBlock{Left: base + 5, Right: base + 10}) {
		t.Fatalf("out-of-order segment answered with %s, want ack %d sack %d:%d", &a, base, base+5, base+10)
	}
	r.nxt = base
	out := r.peer(wire.FlagACK, "hello")
	r.nxt = base + 10
	if a := r9Only(t, out, "ACK of the gap"); a.Ack != base+10 || a.Options.NumSACK != 0 {
		t.Fatalf("filling the gap was answered with %s, want an immediate ACK of %d", &a, base+10)
	}
	if got := string(readAll(r.e, r.now)); got != "helloworld" {
		t.Fatalf("read %q", got)
	}
}

// MAY-12 (3.10.7.4, RFC 5961 5): an ACK older than SND.UNA - MAX.SND.WND,
// or one for data never sent, makes the segment unacceptable: it is dropped
// (its data not taken) and answered with an ACK.
func TestRFC9293_MAY_12_BlindDataInjection(t *testing.T) {
	r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460}, 1000)
	r.e.SetNoDelay(r.now, true)
	una := uint32(r9ISS + 1)
	for sent := 0; sent < 4000; sent += 500 {
		for _, s := range r.write(make([]byte, 500)) {
			una = s.Seq + uint32(len(s.Payload))
		}
		r.ackUpTo(una, 1000)
	}
	for _, ack := range []uint32{r9ISS + 1 /* too old */, una + 5000 /* unsent */} {
		r.now += time.Second
		out := r.in(seg(wire.FlagACK|wire.FlagPSH, r.nxt, ack, 1000, "injected"))
		if a := r9Only(t, out, "reply to a blind ACK"); a.Flags != wire.FlagACK || a.Ack != r.nxt || len(a.Payload) != 0 {
			t.Fatalf("ack %d: replied %s, want an ACK of %d", ack, &a, r.nxt)
		}
		if got := readAll(r.e, r.now); len(got) != 0 {
			t.Fatalf("ack %d: injected data was accepted: %q", ack, got)
		}
	}
	// A legitimate segment is still taken.
	r.peer(wire.FlagACK|wire.FlagPSH, "genuine")
	if got := readAll(r.e, r.now); !bytes.Equal(got, []byte("genuine")) {
		t.Fatalf("read %q", got)
	}
}

package tcp

// RFC 9293 3.7 and 3.9.1.2: segment sizes (MSS), Nagle, PUSH and the
// packetisation of the byte stream. See docs/rfc9293.md.

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// r9Sizes returns the payload lengths of segs.
func r9Sizes(segs []Segment) []int {
	var n []int
	for _, s := range segs {
		n = append(n, len(s.Payload))
	}
	return n
}

// MUST-14 (3.7.1): the MSS option is both sent (in our SYN and SYN-ACK) and
// honoured (no segment larger than the peer's MSS).
func TestRFC9293_MUST_14_MSSOptionSentAndReceived(t *testing.T) {
	e := newEndpoint(t, nil)
	e.Connect(time.Second, OpenOptions{ISN: r9ISS, MSS: 1400})
	if syn := r9Only(t, e.rec.take(), "SYN"); !syn.Options.HasMSS || syn.Options.MSS != 1400 {
		t.Fatalf("SYN %s does not announce MSS 1400", &syn)
	}
	r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 500}, 65535)
	if got := r9Sizes(r.write(make([]byte, 1800))); !slices.Equal(got, []int{500, 500, 500, 300}) {
		t.Fatalf("segments %v for a peer MSS of 500", got)
	}
}

// MUST-15 (3.7.1): without an MSS option the send MSS is 536 (IPv4, the
// default) or 1220 (IPv6: the stack passes OpenOptions.DefaultMSS).
func TestRFC9293_MUST_15_DefaultSendMSS(t *testing.T) {
	r := r9Passive(t, nil, wire.TCPOptions{}, 65535)
	if got := r9Sizes(r.write(make([]byte, 1200))); !slices.Equal(got, []int{536, 536, 128}) {
		t.Fatalf("segments %v without an MSS option, want 536-byte ones", got)
	}
	for _, active := range []bool{false, true} {
		e := newEndpoint(t, nil)
		r6 := &r9{t: t, e: e, now: time.Second, win: 65535}
		o := OpenOptions{ISN: r9ISS, MSS: 1440, DefaultMSS: 1220}
		if active {
			e.Connect(r6.now, o)
			r6.e.rec.take()
			r6.in(seg(wire.FlagSYN|wire.FlagACK, r9IRS, r9ISS+1, 65535, ""))
		} else {
			e.Listen(r6.now, o)
			r6.in(seg(wire.FlagSYN, r9IRS, 0, 65535, ""))
			r6.in(seg(wire.FlagACK, r9IRS+1, r9ISS+1, 65535, ""))
		}
		if got := r9Sizes(r6.write(make([]byte, 2500))); !slices.Equal(got, []int{1220, 1220, 60}) {
			t.Fatalf("active=%v: segments %v with the IPv6 default, want 1220-byte ones", active, got)
		}
	}
}

// MUST-16 (3.7.1): the effective send MSS is the smaller of the peer's MSS
// and what the path carries, less the TCP options in use (timestamps);
// path MTU changes reported by the stack (SetPathMSS) apply at once.
func TestRFC9293_MUST_16_EffectiveSendMSS(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		e := newEndpoint(t, nil)
		e.Listen(time.Second, OpenOptions{ISN: r9ISS, MSS: 1460, PathMSS: 1000})
		r := &r9{t: t, e: e, now: time.Second, win: 65535}
		r.in(&Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535, Options: wire.TCPOptions{HasMSS: true, MSS: 1460}})
		r.nxt, r.ack = r9IRS+1, r9ISS+1
		r.peer(wire.FlagACK, "")
		if got := r9Sizes(r.write(make([]byte, 2500))); !slices.Equal(got, []int{1000, 1000, 500}) {
			t.Fatalf("segments %v with a 1000-byte path MSS", got)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 1}, 65535)
		if got := r9Sizes(r.write(make([]byte, 3000))); !slices.Equal(got, []int{1448, 1448, 104}) {
			t.Fatalf("segments %v with timestamps, want 1448 = 1460 - 12", got)
		}
	})
	t.Run("SetPathMSS", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.SetPathMSS(r.now, 1200)
		if got := r9Sizes(r.write(make([]byte, 2500))); !slices.Equal(got, []int{1200, 1200, 100}) {
			t.Fatalf("segments %v after SetPathMSS(1200)", got)
		}
	})
}

// MUST-67 (3.7.1): the MSS announced is at most MMS_R - 20, the largest
// segment this host can receive less the TCP header. The stack computes it
// from the interface MTU (MTU - 40); the engine announces exactly what it is
// given, and 1460 (an Ethernet MTU) when given nothing.
func TestRFC9293_MUST_67_AnnouncedMSS(t *testing.T) {
	for _, tc := range []struct{ in, want uint16 }{{8960, 8960}, {1220, 1220}, {0, 1460}} {
		e := newEndpoint(t, nil)
		e.Connect(time.Second, OpenOptions{ISN: 1, MSS: tc.in})
		if syn := r9Only(t, e.rec.take(), "SYN"); syn.Options.MSS != tc.want {
			t.Errorf("MSS %d given: SYN announces %d, want %d", tc.in, syn.Options.MSS, tc.want)
		}
	}
}

// SHLD-5 (3.7.1) and MAY-3 (3.7.1): the MSS option is sent in every SYN,
// even when its value is the 536 default.
func TestRFC9293_SHLD_5_MAY_3_MSSOptionAlwaysSent(t *testing.T) {
	e := newEndpoint(t, nil)
	e.Connect(time.Second, OpenOptions{ISN: 1, MSS: 536})
	if syn := r9Only(t, e.rec.take(), "SYN"); !syn.Options.HasMSS || syn.Options.MSS != 536 {
		t.Fatalf("SYN %s lacks MSS 536", &syn)
	}
	e2 := newEndpoint(t, nil)
	e2.Listen(time.Second, OpenOptions{ISN: 1, MSS: 536})
	e2.Input(time.Second, seg(wire.FlagSYN, 9, 0, 1000, ""))
	if sa := r9Only(t, e2.rec.take(), "SYN-ACK"); !sa.Options.HasMSS || sa.Options.MSS != 536 {
		t.Fatalf("SYN-ACK %s lacks MSS 536", &sa)
	}
}

// SHLD-7 (3.7.4): Nagle: while a short segment is unacknowledged, further
// short data waits and is sent when the ACK arrives (Linux uses Minshall's
// variant: only an outstanding short segment holds data back).
func TestRFC9293_SHLD_7_Nagle(t *testing.T) {
	r := r9Plain(t, nil)
	if got := r9Sizes(r.write(make([]byte, 100))); !slices.Equal(got, []int{100}) {
		t.Fatalf("first small write sent %v", got)
	}
	if out := r.write(make([]byte, 100)); len(out) != 0 {
		t.Fatalf("second small write sent %s while the first is unacknowledged", r9Fmt(out))
	}
	if out := r.write(make([]byte, 50)); len(out) != 0 {
		t.Fatalf("third small write sent %s", r9Fmt(out))
	}
	out := r.ackUpTo(r9ISS+101, 65535)
	if got := r9Sizes(r9Data(out)); !slices.Equal(got, []int{150}) {
		t.Fatalf("after the ACK: %v, want the held 150 bytes in one segment", got)
	}
}

// MUST-17 (3.7.4): the application can turn Nagle off per connection
// (TCP_NODELAY): short writes then go out at once.
func TestRFC9293_MUST_17_NagleCanBeDisabled(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetNoDelay(r.now, true)
	for i := 0; i < 3; i++ {
		if got := r9Sizes(r.write(make([]byte, 100))); !slices.Equal(got, []int{100}) {
			t.Fatalf("write %d with TCP_NODELAY sent %v", i, got)
		}
	}
	// Turning it off and on again releases what Nagle held.
	r2 := r9Plain(t, nil)
	r2.write(make([]byte, 10))
	r2.write(make([]byte, 10))
	r2.e.SetNoDelay(r2.now, true)
	if got := r9Sizes(r2.e.rec.take()); !slices.Equal(got, []int{10}) {
		t.Fatalf("SetNoDelay(true) released %v, want the held 10 bytes", got)
	}
}

// MUST-60 (3.9.1.2): without PUSH flags on SEND, data is never held
// indefinitely: what Nagle holds goes with the next ACK, or with the
// retransmission if the ACK never comes.
func TestRFC9293_MUST_60_NoIndefiniteBuffering(t *testing.T) {
	r := r9Plain(t, nil)
	r.write(make([]byte, 100))
	r.write(make([]byte, 100)) // held by Nagle
	out := r.run(10 * time.Second)
	if len(out) == 0 {
		t.Fatal("nothing sent in 10 s")
	}
	first := out[0].s
	if first.Seq != r9ISS+1 || len(first.Payload) != 200 {
		t.Fatalf("the retransmission at %v is %s; want it to carry all 200 bytes", out[0].at, &first)
	}
}

// MUST-61 (3.9.1.2): PSH is set on the last segment of what was queued (when
// no more data waits to be sent), and only there.
func TestRFC9293_MUST_61_PushOnLastSegment(t *testing.T) {
	r := r9Plain(t, nil)
	out := r.write(make([]byte, 3000))
	if len(out) != 3 {
		t.Fatalf("segments %s", r9Fmt(out))
	}
	for i, s := range out {
		if psh := s.Flags&wire.FlagPSH != 0; psh != (i == len(out)-1) {
			t.Errorf("segment %d (%s): PSH=%v", i, &s, psh)
		}
	}
	r.ackUpTo(r9ISS+3001, 65535)
	if s := r9Only(t, r.write(make([]byte, 1460)), "one full segment"); s.Flags&wire.FlagPSH == 0 {
		t.Errorf("a write of exactly one MSS sent %s without PSH", &s)
	}
}

// SHLD-27 (3.9.1.2): PSH is not a record marker: data of successive writes
// is coalesced into one segment with one PSH.
func TestRFC9293_SHLD_27_CollapsePush(t *testing.T) {
	r := r9Plain(t, nil)
	r.write([]byte("first"))
	r.write([]byte("second"))
	r.write([]byte("third"))
	out := r9Data(r.ackUpTo(r9ISS+6, 65535))
	s := r9Only(t, out, "coalesced segment")
	if string(s.Payload) != "secondthird" || s.Flags&wire.FlagPSH == 0 {
		t.Fatalf("sent %s %q, want one PSH segment with both writes", &s, s.Payload)
	}
}

// SHLD-28 (3.9.1.2): maximum-sized segments are sent whenever possible.
func TestRFC9293_SHLD_28_FullSizedSegments(t *testing.T) {
	r := r9Plain(t, nil)
	var out []Segment
	for i := 0; i < 10; i++ { // ten writes of 1000 bytes
		out = append(out, r.write(make([]byte, 1000))...)
	}
	out = append(out, r.ackUpTo(r9ISS+1+1000, 65535)...)
	sizes := r9Sizes(r9Data(out))
	total := 0
	for i, n := range sizes {
		total += n
		if i > 0 && i < len(sizes)-1 && n != 1460 {
			t.Fatalf("segment sizes %v: a middle segment is not full-sized", sizes)
		}
	}
	if total != 10000 {
		t.Fatalf("sent %d bytes: %v", total, sizes)
	}
}

// MAY-16 (3.9.1.2): data sent without PUSH may be aggregated before it is
// sent: TCP_CORK (Linux) holds partial segments until it is released.
func TestRFC9293_MAY_16_AggregateUnpushedData(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetCork(r.now, true)
	for _, w := range []string{"GET / HTTP/1.1\r\n", "Host: example\r\n", "\r\n"} {
		if out := r.write([]byte(w)); len(out) != 0 {
			t.Fatalf("corked write sent %s", r9Fmt(out))
		}
	}
	r.e.SetCork(r.now, false)
	s := r9Only(t, r.e.rec.take(), "uncorked segment")
	if !bytes.Equal(s.Payload, []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")) {
		t.Fatalf("uncorked segment carries %q", s.Payload)
	}
}

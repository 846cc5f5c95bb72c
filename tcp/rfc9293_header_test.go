package tcp

// RFC 9293 3.1, 3.2 and 3.4: the header, its options, the window field and
// sequence-number acceptability. See docs/rfc9293.md.

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// MUST-1 (3.1): the 16-bit window field is unsigned, so a window of 0x8000
// or more is a large window, not a negative one.
func TestRFC9293_MUST_1_WindowUnsigned(t *testing.T) {
	r := r9Passive(t, r9Config(func(c *Config) { c.InitCwnd = 100 }),
		wire.TCPOptions{HasMSS: true, MSS: 1460}, 0xF000)
	r.e.SetWriteBuffer(1 << 20)
	out := r.write(make([]byte, 0xF000))
	sent := 0
	for _, s := range out {
		sent += len(s.Payload)
	}
	if sent != 0xF000 {
		t.Fatalf("sent %d bytes into a 0xF000 window, want all %d", sent, 0xF000)
	}
	last := out[len(out)-1]
	if end := last.Seq + uint32(len(last.Payload)); end != r9ISS+1+0xF000 {
		t.Fatalf("last byte sent ends at %d, want the window's right edge %d", end, r9ISS+1+0xF000)
	}
}

// REC-1 (3.1): windows are kept and computed in 32 bits, so a scaled window
// (RFC 7323) larger than 65535 bytes is used in full.
func TestRFC9293_REC_1_Window32Bit(t *testing.T) {
	r := r9Passive(t, r9Config(func(c *Config) { c.InitCwnd = 100 }),
		wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7}, 65535)
	r.ackUpTo(r9ISS+1, 65535) // a non-SYN window: scaled by 2^7
	if got, want := r.e.Info().SndWnd, uint32(65535)<<7; got != want {
		t.Fatalf("peer window %d, want %d (65535 << 7)", got, want)
	}
	r.e.SetWriteBuffer(1 << 20)
	out := r.write(make([]byte, 200000))
	sent := 0
	for _, s := range out {
		sent += len(s.Payload)
	}
	if sent <= 65535 {
		t.Fatalf("only %d bytes in flight; a 32-bit window allows more than 65535", sent)
	}
}

// r9PseudoChecksum is an independent one's-complement checksum of the IPv4
// pseudo-header and segment, to check package wire against.
func r9PseudoChecksum(src, dst netip.Addr, segment []byte) uint16 {
	var b []byte
	s4, d4 := src.As4(), dst.As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	b = append(b, 0, wire.ProtoTCP, byte(len(segment)>>8), byte(len(segment)))
	b = append(b, segment...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

var (
	r9Src = netip.MustParseAddr("192.0.2.1")
	r9Dst = netip.MustParseAddr("198.51.100.7")
)

// MUST-2 (3.1): the sender always computes the checksum over the
// pseudo-header, the header and the data. The engine hands segments to the
// stack, which serialises them with wire.BuildTCP and FillChecksum.
func TestRFC9293_MUST_2_SenderChecksum(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("odd"), bytes.Repeat([]byte{0xff}, 1460)} {
		h := wire.TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: wire.FlagACK | wire.FlagPSH, Window: 512}
		opts := wire.TCPOptions{HasTimestamps: true, TSVal: 7, TSEcr: 9}
		b := wire.BuildTCP(nil, &h, &opts, payload)
		seg := wire.TCP(b)
		seg.FillChecksum(r9Src, r9Dst)
		c := seg.Checksum()
		seg.SetChecksum(0)
		if want := r9PseudoChecksum(r9Src, r9Dst, b); c != want {
			t.Fatalf("%d-byte payload: checksum %#04x, want %#04x", len(payload), c, want)
		}
	}
}

// MUST-3 (3.1): the receiver verifies every checksum; any corrupted bit
// makes the segment fail (the stack drops it before the engine sees it).
func TestRFC9293_MUST_3_ReceiverChecksum(t *testing.T) {
	h := wire.TCPHeader{SrcPort: 80, DstPort: 40000, Seq: 100, Ack: 200, Flags: wire.FlagACK, Window: 1000}
	b := wire.BuildTCP(nil, &h, nil, []byte("payload!"))
	wire.TCP(b).FillChecksum(r9Src, r9Dst)
	if !wire.TCP(b).VerifyChecksum(r9Src, r9Dst) {
		t.Fatal("a correct checksum does not verify")
	}
	for i := 0; i < len(b)*8; i++ {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		if wire.TCP(c).VerifyChecksum(r9Src, r9Dst) {
			t.Fatalf("flipping bit %d still verifies", i)
		}
	}
	// The pseudo-header counts too: a segment for another address fails.
	if wire.TCP(b).VerifyChecksum(r9Src, netip.MustParseAddr("198.51.100.8")) {
		t.Fatal("checksum verifies for the wrong destination address")
	}
}

// MUST-4 (3.1): End of Option List, No-Operation and MSS are supported: NOPs
// are skipped, and nothing after an EOL is read.
func TestRFC9293_MUST_4_MandatoryOptions(t *testing.T) {
	var o wire.TCPOptions
	b := []byte{wire.OptNOP, wire.OptNOP, wire.OptMSS, 4, 0x05, 0xb4, wire.OptEOL, 0xff, 0x07, 0x00}
	if err := wire.ParseTCPOptions(b, &o); err != nil {
		t.Fatal(err)
	}
	if !o.HasMSS || o.MSS != 1460 || o.Unknown != 0 {
		t.Fatalf("parsed %+v, want MSS 1460 and nothing past the EOL", o)
	}
	// The engine takes a SYN with just these options, and answers with its
	// own MSS.
	e := newEndpoint(t, nil)
	e.Listen(time.Second, OpenOptions{ISN: r9ISS, MSS: 1460})
	var so wire.TCPOptions
	wire.ParseTCPOptions([]byte{wire.OptNOP, wire.OptMSS, 4, 0x02, 0x00, wire.OptEOL, 0, 0}, &so)
	e.Input(time.Second, &Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535, Options: so})
	sa := r9Only(t, e.rec.take(), "SYN-ACK")
	if !sa.Options.HasMSS || sa.Options.MSS != 1460 || sa.Flags != wire.FlagSYN|wire.FlagACK {
		t.Fatalf("reply %s, want a SYN-ACK with MSS 1460", &sa)
	}
}

// MUST-5 (3.1): an option may arrive in any segment, not only a SYN: the
// timestamp of a data segment is taken (its TSval is echoed).
func TestRFC9293_MUST_5_OptionsInAnySegment(t *testing.T) {
	r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 100}, 65535)
	s := r.mk(wire.FlagACK|wire.FlagPSH, "data")
	s.Options.TSVal = 777777
	r.nxt += s.Len()
	out := append(r.in(s), r.runSegs(time.Second)...)
	ack := r9Only(t, out, "ACK of the data")
	if !ack.Options.HasTimestamps || ack.Options.TSEcr != 777777 {
		t.Fatalf("ACK %s does not echo the data segment's TSval 777777", &ack)
	}
	// And the wire parser reads options of a non-SYN header.
	h := wire.TCPHeader{Flags: wire.FlagACK}
	b := wire.BuildTCP(nil, &h, &wire.TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 1,
		SACKBlocks: [wire.MaxSACKBlocks]wire.SACKBlock{{Left: 10, Right: 20}}}, nil)
	var o wire.TCPOptions
	if err := wire.TCP(b).ParseOptions(&o); err != nil || !o.HasTimestamps || o.NumSACK != 1 {
		t.Fatalf("non-SYN options: %+v, %v", o, err)
	}
}

// MUST-6 (3.1): an option that is not implemented is skipped by its length
// and ignored, without error; the options around it still count.
func TestRFC9293_MUST_6_IgnoreUnknownOptions(t *testing.T) {
	b := []byte{
		0xfd, 6, 0xde, 0xad, 0xbe, 0xef, // experimental option (RFC 6994)
		wire.OptMSS, 4, 0x02, 0x18, // MSS 536
		30, 4, 0, 0, // MPTCP-like kind, unknown here
		wire.OptNOP, wire.OptWScale, 3, 5,
	}
	var o wire.TCPOptions
	if err := wire.ParseTCPOptions(b, &o); err != nil {
		t.Fatalf("unknown options made parsing fail: %v", err)
	}
	if o.Unknown != 2 || !o.HasMSS || o.MSS != 536 || !o.HasWScale || o.WScale != 5 {
		t.Fatalf("parsed %+v", o)
	}
	// A SYN carrying unknown options is answered as any other.
	r := &r9{t: t, e: newEndpoint(t, nil), now: time.Second}
	r.e.Listen(r.now, OpenOptions{ISN: r9ISS, MSS: 1460})
	out := r.in(&Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535, Options: o})
	if sa := r9Only(t, out, "reply to SYN"); sa.Flags != wire.FlagSYN|wire.FlagACK || sa.Ack != r9IRS+1 {
		t.Fatalf("reply %s, want SYN-ACK", &sa)
	}
}

// MUST-7 (3.1): an illegal option length (zero, one, past the end, wrong for
// the kind) is handled without crashing and reported, so the stack can drop
// the segment; the options decoded before it are kept.
func TestRFC9293_MUST_7_IllegalOptionLength(t *testing.T) {
	for _, b := range [][]byte{
		{wire.OptMSS, 4, 0x05, 0xb4, 0x99, 0},       // length 0
		{wire.OptMSS, 4, 0x05, 0xb4, 0x99, 1},       // length 1
		{wire.OptMSS, 4, 0x05, 0xb4, 0x99, 40, 1},   // past the end
		{wire.OptMSS, 4, 0x05, 0xb4, wire.OptMSS},   // no length octet
		{wire.OptMSS, 4, 0x05, 0xb4, 8, 6, 0, 0, 0}, // timestamps of length 6
	} {
		var o wire.TCPOptions
		err := wire.ParseTCPOptions(b, &o)
		if !errors.Is(err, wire.ErrBadOptionLength) {
			t.Errorf("% x: error %v, want ErrBadOptionLength", b, err)
		}
		if !o.HasMSS || o.MSS != 1460 {
			t.Errorf("% x: the MSS before the bad option was lost: %+v", b, o)
		}
	}
	// No input at all makes it panic.
	for n := 0; n < 1<<16; n++ {
		b := []byte{byte(n >> 8), byte(n), byte(n >> 3), 0x11}
		var o wire.TCPOptions
		_ = wire.ParseTCPOptions(b, &o)
	}
}

// MUST-64 (3.2): options are parsed correctly wherever they start, not only
// on 32-bit boundaries.
func TestRFC9293_MUST_64_UnalignedOptions(t *testing.T) {
	b := []byte{
		wire.OptNOP,                // MSS starts at offset 1
		wire.OptMSS, 4, 0x04, 0x00, // MSS 1024
		wire.OptWScale, 3, 9, // at offset 5
		wire.OptTimestamps, 10, 0, 0, 0, 42, 0, 0, 0, 43, // at offset 8
		wire.OptNOP, wire.OptNOP, wire.OptNOP,
		wire.OptSACKPermitted, 2, // at offset 21
	}
	var o wire.TCPOptions
	if err := wire.ParseTCPOptions(b, &o); err != nil {
		t.Fatal(err)
	}
	if !o.HasMSS || o.MSS != 1024 || !o.HasWScale || o.WScale != 9 || !o.HasTimestamps ||
		o.TSVal != 42 || o.TSEcr != 43 || !o.SACKPermitted {
		t.Fatalf("parsed %+v", o)
	}
}

// MUST-65 (3.2): the MSS option is sent only in SYN segments.
func TestRFC9293_MUST_65_MSSOnlyInSYN(t *testing.T) {
	n := 0
	check := func(s *Segment) {
		n++
		if s.Options.HasMSS != (s.Flags&wire.FlagSYN != 0) {
			t.Errorf("%s: MSS option present=%v", s, s.Options.HasMSS)
		}
	}
	// A whole conversation: handshake, data both ways, close.
	q := newPair(t, nil, nil)
	q.drop = func(from string, s *Segment) bool { check(s); return false }
	q.connect()
	q.a.Write(q.now, bytes.Repeat([]byte("x"), 5000))
	q.run(time.Second)
	q.b.Write(q.now, []byte("reply"))
	q.a.Close(q.now)
	q.b.Close(q.now)
	q.run(2 * time.Second)
	if n < 8 {
		t.Fatalf("only %d segments seen", n)
	}
	// The encoder never writes MSS outside a SYN either.
	o := wire.TCPOptions{HasMSS: true, MSS: 1460}
	if b := wire.AppendTCPOptions(nil, &o, false); len(b) != 0 {
		t.Fatalf("non-SYN options with MSS encode as % x", b)
	}
}

// r9WalkOptions checks an encoded options area: every option but EOL and NOP
// has a length octet covering exactly its bytes (MUST-68), and whatever
// follows an EOL is zero (MUST-69). It returns the kinds seen.
func r9WalkOptions(t *testing.T, b []byte) []byte {
	t.Helper()
	var kinds []byte
	for i := 0; i < len(b); {
		k := b[i]
		kinds = append(kinds, k)
		switch k {
		case wire.OptEOL:
			for _, z := range b[i+1:] {
				if z != 0 {
					t.Fatalf("% x: non-zero padding after EOL", b)
				}
			}
			return kinds
		case wire.OptNOP:
			i++
			continue
		}
		if i+1 >= len(b) || b[i+1] < 2 || i+int(b[i+1]) > len(b) {
			t.Fatalf("% x: option %d at %d has no valid length", b, k, i)
		}
		want := map[byte]int{wire.OptMSS: 4, wire.OptWScale: 3, wire.OptSACKPermitted: 2, wire.OptTimestamps: 10}[k]
		if want != 0 && int(b[i+1]) != want {
			t.Fatalf("% x: option %d has length %d, want %d", b, k, b[i+1], want)
		}
		i += int(b[i+1])
	}
	return kinds
}

// MUST-68 (3.1): every option other than EOL and NOP carries a length octet
// (that is what lets a receiver skip options it does not know, MUST-6).
func TestRFC9293_MUST_68_OptionLengths(t *testing.T) {
	e := newEndpoint(t, nil)
	e.Connect(time.Second, OpenOptions{ISN: r9ISS, MSS: 1460})
	syn := r9Only(t, e.rec.take(), "SYN")
	b := wire.AppendTCPOptions(nil, &syn.Options, true)
	kinds := r9WalkOptions(t, b)
	if !bytes.Contains(kinds, []byte{wire.OptMSS}) || !bytes.Contains(kinds, []byte{wire.OptTimestamps}) ||
		!bytes.Contains(kinds, []byte{wire.OptWScale}) || !bytes.Contains(kinds, []byte{wire.OptSACKPermitted}) {
		t.Fatalf("SYN options % x lack one of MSS, TS, WS, SACK-permitted", b)
	}
	o := wire.TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 3}
	r9WalkOptions(t, wire.AppendTCPOptions(nil, &o, false))
}

// MUST-69 (3.1): the header is padded with zeros to a 32-bit boundary after
// the options; nothing but zeros follows an End of Option List.
func TestRFC9293_MUST_69_ZeroPadding(t *testing.T) {
	for _, o := range []wire.TCPOptions{
		{},
		{HasMSS: true, MSS: 1460},
		{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7},
		{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, HasWScale: true},
		{HasTimestamps: true, NumSACK: 4},
		{NumSACK: 1},
	} {
		for _, syn := range []bool{true, false} {
			h := wire.TCPHeader{Flags: wire.FlagACK}
			if syn {
				h.Flags |= wire.FlagSYN
			}
			b := wire.BuildTCP(nil, &h, &o, []byte("data"))
			off := wire.TCP(b).DataOffset()
			if off%4 != 0 || len(b) != off+4 {
				t.Fatalf("%+v syn=%v: data offset %d for %d bytes", o, syn, off, len(b))
			}
			r9WalkOptions(t, wire.TCP(b).OptionBytes())
		}
	}
	// A received header padded with EOL and zeros parses.
	var o wire.TCPOptions
	if err := wire.ParseTCPOptions([]byte{wire.OptMSS, 4, 1, 0, wire.OptWScale, 3, 2, wire.OptEOL}, &o); err != nil || o.MSS != 256 || o.WScale != 2 {
		t.Fatalf("padded options: %+v %v", o, err)
	}
}

// 3.4 and 3.10.7.4 (first check): the four acceptability cases. An
// unacceptable segment is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
// and dropped; an acceptable one is processed.
func TestRFC9293_Sec3_10_7_4_SequenceAcceptability(t *testing.T) {
	r := r9Plain(t, nil)
	wantDupAck := func(what string, out []Segment) {
		t.Helper()
		a := r9Only(t, out, what)
		if a.Flags != wire.FlagACK || a.Seq != r9ISS+1 || a.Ack != r.nxt || len(a.Payload) != 0 {
			t.Fatalf("%s: reply %s, want <SEQ=%d><ACK=%d><CTL=ACK>", what, &a, r9ISS+1, r.nxt)
		}
	}
	wnd := uint32(r.e.Info().RcvWnd)
	if wnd == 0 {
		t.Fatal("no receive window")
	}
	// Length 0, window > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
	if out := r.in(seg(wire.FlagACK, r.nxt, r9ISS+1, 65535, "")); len(out) != 0 {
		t.Fatalf("an in-window empty ACK was answered: %s", r9Fmt(out))
	}
	r.now += time.Second
	wantDupAck("empty segment before RCV.NXT", r.in(seg(wire.FlagACK, r.nxt-10, r9ISS+1, 65535, "")))
	r.now += time.Second
	wantDupAck("empty segment beyond the window", r.in(seg(wire.FlagACK, r.nxt+wnd+1, r9ISS+1, 65535, "")))
	// Length > 0, window > 0: the first or the last byte is in the window.
	r.now += time.Second
	wantDupAck("old duplicate data", r.in(seg(wire.FlagACK, r.nxt-5, r9ISS+1, 65535, "dup")))
	r.now += time.Second
	wantDupAck("data beyond the window", r.in(seg(wire.FlagACK, r.nxt+wnd, r9ISS+1, 65535, "far")))
	// Data straddling the left edge: only the new part is taken.
	r.now += time.Second
	s := seg(wire.FlagACK|wire.FlagPSH, r.nxt-3, r9ISS+1, 65535, "oldNEW")
	r.nxt += 3
	r.in(s)
	r.runSegs(time.Second)
	if got := string(readAll(r.e, r.now)); got != "NEW" {
		t.Fatalf("read %q from a segment straddling RCV.NXT, want %q", got, "NEW")
	}
}

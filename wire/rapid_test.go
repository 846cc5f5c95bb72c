package wire

import (
	"bytes"
	"net/netip"
	"testing"

	"pgregory.net/rapid"
)

// genOptions draws options that AppendTCPOptions encodes without loss for a
// SYN (syn) or a non-SYN segment.
func genOptions(t *rapid.T, syn bool) TCPOptions {
	var o TCPOptions
	if o.HasTimestamps = rapid.Bool().Draw(t, "ts"); o.HasTimestamps {
		o.TSVal = rapid.Uint32().Draw(t, "tsval")
		o.TSEcr = rapid.Uint32().Draw(t, "tsecr")
	}
	if syn {
		if o.HasMSS = rapid.Bool().Draw(t, "hasmss"); o.HasMSS {
			o.MSS = rapid.Uint16().Draw(t, "mss")
		}
		if o.HasWScale = rapid.Bool().Draw(t, "haswscale"); o.HasWScale {
			o.WScale = rapid.Uint8Range(0, MaxWScale).Draw(t, "wscale")
		}
		o.SACKPermitted = rapid.Bool().Draw(t, "sackok")
		if rapid.Bool().Draw(t, "fastopen") {
			o.FastOpen = genFastOpen(t)
		}
		return o
	}
	limit := MaxSACKBlocks
	if o.HasTimestamps {
		limit = 3
	}
	o.NumSACK = rapid.IntRange(0, limit).Draw(t, "nsack")
	for i := range o.NumSACK {
		o.SACKBlocks[i] = SACKBlock{rapid.Uint32().Draw(t, "left"), rapid.Uint32().Draw(t, "right")}
	}
	return o
}

// genFastOpen draws a valid Fast Open option (RFC 7413 4.1.1).
func genFastOpen(t *rapid.T) FastOpen {
	f := FastOpen{Present: true, Exp: rapid.Bool().Draw(t, "foexp")}
	if rapid.Bool().Draw(t, "focookie") {
		f.Len = uint8(2 * rapid.IntRange(2, 8).Draw(t, "fohalf"))
		copy(f.Cookie[:], rapid.SliceOfN(rapid.Byte(), int(f.Len), int(f.Len)).Draw(t, "fobytes"))
	}
	return f
}

// normalized is what parsing AppendTCPOptions(o, syn) must give for any o:
// only the options allowed on such a segment, SACK blocks that fit, window
// scale clamped, and nothing unknown.
func normalized(o TCPOptions, syn bool) TCPOptions {
	n := TCPOptions{HasTimestamps: o.HasTimestamps}
	if o.HasTimestamps {
		n.TSVal, n.TSEcr = o.TSVal, o.TSEcr
	}
	if syn {
		n.HasMSS, n.SACKPermitted, n.HasWScale = o.HasMSS, o.SACKPermitted, o.HasWScale
		if o.HasMSS {
			n.MSS = o.MSS
		}
		if o.HasWScale {
			n.WScale, n.WScaleClamped = min(o.WScale, MaxWScale), o.WScale > MaxWScale
		}
	} else {
		n.NumSACK = o.sackBlocksToSend()
		copy(n.SACKBlocks[:], o.SACKBlocks[:n.NumSACK])
	}
	// Fast Open comes last and only if it fits; a cookie of a length RFC
	// 7413 4.1.1 does not allow is written, and read back as unknown.
	if f := o.FastOpen; f.Present && o.fastOpenLen(n.Len(syn)) > 0 {
		c := f.Bytes()
		if len(c) == 0 || len(c) >= MinFastOpenCookie && len(c)%2 == 0 {
			n.FastOpen = FastOpen{Present: true, Exp: f.Exp, Len: uint8(len(c))}
			copy(n.FastOpen.Cookie[:], c)
		} else {
			n.Unknown = 1
		}
	}
	return n
}

func TestRapidOptionsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		syn := rapid.Bool().Draw(t, "syn")
		o := genOptions(t, syn)
		b := AppendTCPOptions(nil, &o, syn)
		if len(b) != o.Len(syn) || len(b)%4 != 0 || len(b) > MaxTCPOptionsLen {
			t.Fatalf("encoded %d octets, Len %d", len(b), o.Len(syn))
		}
		var got TCPOptions
		if err := ParseTCPOptions(b, &got); err != nil {
			t.Fatalf("ParseTCPOptions(% x): %v", b, err)
		}
		if got != o {
			t.Fatalf("round trip of % x:\n got %+v\nwant %+v", b, got, o)
		}
	})
}

// TestRapidOptionsAnyValue encodes arbitrary option values, including ones
// that cannot be sent as they are, and checks the encoding is what
// normalized says and encodes again to the same bytes.
func TestRapidOptionsAnyValue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		syn := rapid.Bool().Draw(t, "syn")
		o := TCPOptions{
			HasMSS: rapid.Bool().Draw(t, "hasmss"), MSS: rapid.Uint16().Draw(t, "mss"),
			HasWScale: rapid.Bool().Draw(t, "haswscale"), WScale: rapid.Uint8().Draw(t, "wscale"),
			WScaleClamped: rapid.Bool().Draw(t, "clamped"), SACKPermitted: rapid.Bool().Draw(t, "sackok"),
			HasTimestamps: rapid.Bool().Draw(t, "ts"), TSVal: rapid.Uint32().Draw(t, "tsval"), TSEcr: rapid.Uint32().Draw(t, "tsecr"),
			NumSACK: rapid.IntRange(-2, 9).Draw(t, "nsack"), Unknown: rapid.IntRange(0, 3).Draw(t, "unknown"),
			FastOpen: FastOpen{Present: rapid.Bool().Draw(t, "fo"), Exp: rapid.Bool().Draw(t, "foexp"), Len: rapid.Uint8().Draw(t, "folen")},
		}
		copy(o.FastOpen.Cookie[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "focookie"))
		for i := range o.SACKBlocks {
			o.SACKBlocks[i] = SACKBlock{rapid.Uint32().Draw(t, "left"), rapid.Uint32().Draw(t, "right")}
		}
		b := AppendTCPOptions(nil, &o, syn)
		if len(b) != o.Len(syn) || len(b)%4 != 0 || len(b) > MaxTCPOptionsLen {
			t.Fatalf("encoded %d octets, Len %d", len(b), o.Len(syn))
		}
		var got TCPOptions
		if err := ParseTCPOptions(b, &got); err != nil {
			t.Fatalf("ParseTCPOptions(% x): %v", b, err)
		}
		if want := normalized(o, syn); got != want {
			t.Fatalf("% x:\n got %+v\nwant %+v", b, got, want)
		}
		// Encoding is idempotent once the window scale is in range.
		// (A Fast Open cookie of a length RFC 7413 does not allow is
		// read back as an unknown option, which is not written.)
		badCookie := got.Unknown > 0
		if again := AppendTCPOptions(nil, &got, syn); !bytes.Equal(again, b) && !(syn && o.HasWScale && o.WScale > MaxWScale) && !badCookie {
			t.Fatalf("re-encoding % x gave % x", b, again)
		}
	})
}

func TestRapidTCPRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := TCPHeader{
			SrcPort: rapid.Uint16().Draw(t, "sport"), DstPort: rapid.Uint16().Draw(t, "dport"),
			Seq: rapid.Uint32().Draw(t, "seq"), Ack: rapid.Uint32().Draw(t, "ack"),
			Flags:  TCPFlags(rapid.Uint8().Draw(t, "flags")),
			Window: rapid.Uint16().Draw(t, "win"), Urgent: rapid.Uint16().Draw(t, "urg"),
		}
		syn := h.Flags.Has(FlagSYN)
		o := genOptions(t, syn)
		payload := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "payload")
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		v6 := rapid.Bool().Draw(t, "v6")
		src, dst := netip.AddrFrom4([4]byte{10, 0, 0, 1}), netip.AddrFrom4([4]byte{10, 0, 0, 2})
		if v6 {
			src, dst = netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "src"))), synDst6
		}

		out := BuildTCP(bytes.Clone(prefix), &h, &o, payload)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("prefix clobbered")
		}
		seg, err := ParseTCP(out[len(prefix):])
		if err != nil {
			t.Fatalf("ParseTCP: %v", err)
		}
		seg.FillChecksum(src, dst)
		if !seg.VerifyChecksum(src, dst) {
			t.Fatal("checksum does not verify")
		}
		if seg.Header() != h || seg.DataOffset() != TCPMinHeaderLen+o.Len(syn) || !bytes.Equal(seg.Payload(), payload) {
			t.Fatalf("parsed %+v offset %d", seg.Header(), seg.DataOffset())
		}
		var got TCPOptions
		if err := seg.ParseOptions(&got); err != nil || got != o {
			t.Fatalf("options %+v, %v; want %+v", got, err, o)
		}
	})
}

func TestRapidIPv4RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := IPv4Header{
			TOS: rapid.Uint8().Draw(t, "tos"), ID: rapid.Uint16().Draw(t, "id"),
			Flags:          IPv4Flags(rapid.Uint8Range(0, 7).Draw(t, "flags")),
			FragmentOffset: rapid.Uint16Range(0, 0x1fff).Draw(t, "off"),
			TTL:            rapid.Uint8().Draw(t, "ttl"), Protocol: rapid.Uint8().Draw(t, "proto"),
			Src:     netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "src"))),
			Dst:     netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "dst"))),
			Options: rapid.SliceOfN(rapid.Byte(), 0, 40).Filter(func(b []byte) bool { return len(b)%4 == 0 }).Draw(t, "options"),
		}
		payload := rapid.SliceOfN(rapid.Byte(), 0, 100).Draw(t, "payload")
		pkt, err := BuildIPv4(nil, &h, len(payload))
		if err != nil {
			t.Fatal(err)
		}
		pkt = append(pkt, payload...)
		ip, err := ParseIPv4(pkt)
		if err != nil {
			t.Fatal(err)
		}
		got := ip.Header()
		if !ip.ChecksumValid() || !bytes.Equal(got.Options, h.Options) || !bytes.Equal(ip.Payload(), payload) {
			t.Fatalf("checksum %v options % x payload % x", ip.ChecksumValid(), got.Options, ip.Payload())
		}
		if !sameIPv4Header(got, h) {
			t.Fatalf("Header() = %+v, want %+v", got, h)
		}
	})
}

func TestRapidIPv6RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := IPv6Header{
			TrafficClass: rapid.Uint8().Draw(t, "tc"), FlowLabel: rapid.Uint32Range(0, 0xfffff).Draw(t, "fl"),
			NextHeader: rapid.Uint8().Draw(t, "nh"), HopLimit: rapid.Uint8().Draw(t, "hl"),
			Src: netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "src"))),
			Dst: netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "dst"))),
		}
		payload := rapid.SliceOfN(rapid.Byte(), 0, 100).Draw(t, "payload")
		pkt, err := BuildIPv6(nil, &h, len(payload))
		if err != nil {
			t.Fatal(err)
		}
		ip, err := ParseIPv6(append(pkt, payload...))
		if err != nil {
			t.Fatal(err)
		}
		if ip.Header() != h || !bytes.Equal(ip.Payload(), payload) {
			t.Fatalf("Header() = %+v, want %+v", ip.Header(), h)
		}
	})
}

// TestRapidParseOptionsArbitrary feeds arbitrary option bytes: parsing must
// not panic, and what it accepts must re-encode to something that parses
// to the normalized value.
func TestRapidParseOptionsArbitrary(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, MaxTCPOptionsLen).Draw(t, "options")
		syn := rapid.Bool().Draw(t, "syn")
		var o TCPOptions
		if err := ParseTCPOptions(b, &o); err != nil {
			return
		}
		checkReencode(t, &o, syn)
	})
}

// checkReencode encodes parsed options again and checks that they parse to
// normalized(o, syn).
func checkReencode(t interface {
	Fatalf(string, ...any)
}, o *TCPOptions, syn bool) {
	if o.NumSACK < 0 || o.NumSACK > MaxSACKBlocks || o.WScale > MaxWScale || o.Unknown < 0 {
		t.Fatalf("parsed options out of range: %+v", o)
	}
	enc := AppendTCPOptions(nil, o, syn)
	var back TCPOptions
	if err := ParseTCPOptions(enc, &back); err != nil {
		t.Fatalf("re-encoded options % x do not parse: %v", enc, err)
	}
	if want := normalized(*o, syn); back != want {
		t.Fatalf("re-encoded % x:\n got %+v\nwant %+v", enc, back, want)
	}
}

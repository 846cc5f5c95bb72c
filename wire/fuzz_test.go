package wire

import (
	"bytes"
	"testing"
)

// fuzzSeeds returns realistic packets: whole IPv4 and IPv6 packets and the
// TCP segments inside them, with the option layouts Linux sends.
func fuzzSeeds(tb testing.TB) (ip4, ip6, tcp [][]byte) {
	syn := unhex(tb, linuxSYNTCP)
	tcp = append(tcp, syn)
	for _, l := range optionLayouts {
		h := TCPHeader{SrcPort: 443, DstPort: 51000, Seq: 1, Ack: 2, Window: 1000}
		if l.syn {
			h.Flags = FlagSYN | FlagACK
		} else {
			h.Flags = FlagACK | FlagPSH
		}
		tcp = append(tcp, BuildTCP(nil, &h, &l.o, []byte("GET / HTTP/1.1\r\n")))
	}
	tcp = append(tcp,
		unhex(tb, "0050 9c40 00000001 00000002 5014 0000 0000 0000"),           // RST-ACK
		unhex(tb, "0050 9c40 00000001 00000002 6010 0000 0000 0000 0303 0f00"), // wscale 15
		unhex(tb, "0050 9c40 00000001 00000002 6010 0000 0000 0000 fe02 0100"), // unknown + nop + eol
		unhex(tb, "0050 9c40 00000001 00000002 6010 0000 0000 0000 0201 0000"), // bad length
	)
	ip4 = append(ip4, append(unhex(tb, linuxSYNIP), syn...))
	pkt, _, _ := benchSegment(tb)
	ip4 = append(ip4, pkt)
	withOpts, _ := BuildIPv4(nil, &IPv4Header{TTL: 1, Protocol: ProtoUDP, Src: synSrc4, Dst: synDst4, Options: []byte{0x94, 4, 0, 0}}, 4)
	ip4 = append(ip4, append(withOpts, 1, 2, 3, 4))

	for _, ext := range []string{"", "06 00 010400000000", "3c 00 010400000000 | 2c 00 010400000000 | 06 00 0000 00000001",
		"06 00 0001 00000001", "3b 00 010400000000"} {
		x := unhex(tb, ext)
		next := ProtoTCP
		if len(x) > 0 {
			next = ProtoHopByHop
		}
		h, _ := BuildIPv6(nil, &IPv6Header{NextHeader: next, HopLimit: 64, Src: synSrc6, Dst: synDst6}, len(x)+len(syn))
		ip6 = append(ip6, append(append(h, x...), syn...))
	}
	return ip4, ip6, tcp
}

func FuzzParseTCP(f *testing.F) {
	_, _, segs := fuzzSeeds(f)
	for _, s := range segs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, err := ParseTCP(b)
		if err != nil {
			if seg != nil {
				t.Fatal("a view returned with an error")
			}
			exerciseTCP(t, TCP(b)) // unvalidated views must be safe too
			return
		}
		off := seg.DataOffset()
		if off < TCPMinHeaderLen || off > TCPMaxHeaderLen || off%4 != 0 || off > len(seg) ||
			len(seg.OptionBytes()) != off-TCPMinHeaderLen || len(seg.Payload()) != len(seg)-off {
			t.Fatalf("offset %d options %d payload %d len %d", off, len(seg.OptionBytes()), len(seg.Payload()), len(seg))
		}
		exerciseTCP(t, seg)
		var o TCPOptions
		if err := seg.ParseOptions(&o); err != nil {
			return
		}
		// What parsed re-encodes to bytes that parse to the same value,
		// less what such a segment cannot carry.
		checkReencode(t, &o, true)
		checkReencode(t, &o, false)

		// And the whole segment rebuilds from its parts.
		h := seg.Header()
		out := BuildTCP(nil, &h, &o, seg.Payload())
		back, err := ParseTCP(out)
		if err != nil || back.Header() != h || !bytes.Equal(back.Payload(), seg.Payload()) {
			t.Fatalf("rebuilt segment: %v", err)
		}
	})
}

func FuzzParseIPv4(f *testing.F) {
	ip4, _, _ := fuzzSeeds(f)
	for _, p := range ip4 {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv4(b)
		if err != nil {
			if ip != nil {
				t.Fatal("a view returned with an error")
			}
			exerciseIPv4(t, IPv4(b))
			return
		}
		hl := ip.HeaderLen()
		if ip.Version() != 4 || hl < IPv4MinHeaderLen || hl > IPv4MaxHeaderLen || len(ip) != int(ip.TotalLength()) ||
			len(ip.Options()) != hl-IPv4MinHeaderLen || len(ip.Payload()) != len(ip)-hl || !bytes.Equal(ip, b[:len(ip)]) {
			t.Fatalf("hl %d total %d options %d payload %d len %d", hl, ip.TotalLength(), len(ip.Options()), len(ip.Payload()), len(ip))
		}
		exerciseIPv4(t, ip)
		// The header rebuilds from its fields, bit for bit but for the
		// checksum, which is right in the rebuilt one.
		h := ip.Header()
		out, err := BuildIPv4(nil, &h, len(ip.Payload()))
		if err != nil {
			t.Fatalf("BuildIPv4: %v", err)
		}
		rebuilt := IPv4(out)
		if !rebuilt.ChecksumValid() || !bytes.Equal(out[:10], ip[:10]) || !bytes.Equal(out[12:], ip[12:hl]) {
			t.Fatalf("rebuilt header\n% x\nfrom\n% x", out, []byte(ip[:hl]))
		}
		if seg, err := ParseTCP(ip.Payload()); err == nil {
			_ = seg.VerifyChecksum(ip.Src(), ip.Dst())
		}
	})
}

func FuzzParseIPv6(f *testing.F) {
	_, ip6, _ := fuzzSeeds(f)
	for _, p := range ip6 {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv6(b)
		if err != nil {
			if ip != nil {
				t.Fatal("a view returned with an error")
			}
			exerciseIPv6(t, IPv6(b))
			return
		}
		if ip.Version() != 6 || len(ip) != IPv6HeaderLen+int(ip.PayloadLength()) || len(ip.Payload()) != int(ip.PayloadLength()) {
			t.Fatalf("payload length %d, len %d", ip.PayloadLength(), len(ip))
		}
		exerciseIPv6(t, ip)
		proto, up, err := ip.UpperLayer()
		pl := ip.Payload()
		if len(up) > len(pl) || !bytes.Equal(up, pl[len(pl)-len(up):]) {
			t.Fatalf("UpperLayer returned bytes that are not a suffix of the payload")
		}
		if err == nil {
			switch proto {
			case ProtoHopByHop, ProtoRouting, ProtoDestOpts, ProtoFragment:
				t.Fatalf("UpperLayer stopped at extension header %d", proto)
			}
		}
		h := ip.Header()
		out, err := BuildIPv6(nil, &h, int(ip.PayloadLength()))
		if err != nil || !bytes.Equal(out, ip[:IPv6HeaderLen]) {
			t.Fatalf("rebuilt header % x, %v", out, err)
		}
	})
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{}, uint32(0), 0)
	f.Add([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, uint32(0), 4)
	f.Add(bytes.Repeat([]byte{0xff}, 77), uint32(0xffffffff), 32)
	f.Add(unhex(f, linuxSYNIP+linuxSYNTCP), uint32(0x1234), 20)
	f.Fuzz(func(t *testing.T, b []byte, initial uint32, split int) {
		want := refChecksum(b, initial)
		if got := FoldChecksum(Checksum(b, initial)); got != want {
			t.Fatalf("Checksum(% x, %#x) folds to %#04x, reference %#04x", b, initial, got, want)
		}
		// Chained at any even split, the sum is the same.
		if len(b) > 0 {
			split = (split%len(b) + len(b)) % len(b) &^ 1
			if got := FoldChecksum(Checksum(b[split:], Checksum(b[:split], initial))); got != want {
				t.Fatalf("split at %d: %#04x, reference %#04x", split, got, want)
			}
		}
	})
}

// FuzzChecksumPaths holds every checksum path (the exported Checksum and
// ChecksumCopy, the portable loop, the AVX2 assembly whole and in small
// chunks) to the RFC 1071 reference, with the data at any alignment.
func FuzzChecksumPaths(f *testing.F) {
	f.Add([]byte{}, uint32(0), uint8(0), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 301), uint32(0xffffffff), uint8(1), uint8(3))
	f.Add(bytes.Repeat([]byte{0x00}, 300), uint32(0), uint8(31), uint8(0))
	f.Add(unhex(f, linuxSYNIP+linuxSYNTCP), uint32(0x1234), uint8(7), uint8(9))
	impls := checksumImpls()
	f.Fuzz(func(t *testing.T, data []byte, initial uint32, srcAlign, dstAlign uint8) {
		// 4 KiB reach every loop and tail of every path; longer inputs
		// only slow the fuzzer down (TestChecksumLongInputs has those).
		if len(data) > 4096 {
			data = data[:4096]
		}
		src := make([]byte, int(srcAlign%64)+len(data))[srcAlign%64:]
		copy(src, data)
		want := refChecksum(src, initial)
		for _, impl := range impls {
			if got := FoldChecksum(impl.sum(src, initial)); got != want {
				t.Fatalf("%s(% x, %#x) at alignment %d folds to %#04x, reference %#04x",
					impl.name, data, initial, srcAlign%64, got, want)
			}
		}
		dst := make([]byte, int(dstAlign%64)+len(data))[dstAlign%64:]
		if got := FoldChecksum(ChecksumCopy(dst, src, initial)); got != want || !bytes.Equal(dst, data) {
			t.Fatalf("ChecksumCopy(% x, %#x) folds to %#04x, reference %#04x; copy equal: %v",
				data, initial, got, want, bytes.Equal(dst, data))
		}
	})
}

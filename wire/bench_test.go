package wire

import (
	"fmt"
	"math/rand"
	"net/netip"
	"testing"
)

var sink uint32

// benchSum times sum, a checksum path, over n random octets.
func benchSum(b *testing.B, n int, sum func([]byte, uint32) uint32) {
	buf := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(buf)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		sink += sum(buf, 0)
	}
}

func BenchmarkChecksum64(b *testing.B)   { benchSum(b, 64, Checksum) }
func BenchmarkChecksum1500(b *testing.B) { benchSum(b, 1500, Checksum) }
func BenchmarkChecksum64K(b *testing.B)  { benchSum(b, 65535, Checksum) }

// The portable Go loop on its own (the fallback without AVX2, on other
// GOARCHes and under purego).
func BenchmarkChecksumGeneric64(b *testing.B)   { benchSum(b, 64, checksumGeneric) }
func BenchmarkChecksumGeneric1500(b *testing.B) { benchSum(b, 1500, checksumGeneric) }
func BenchmarkChecksumGeneric64K(b *testing.B)  { benchSum(b, 65535, checksumGeneric) }

// BenchmarkChecksumPaths compares the Go loop and the vector path around
// vectorMin, the length from which Checksum takes the vector path.
func BenchmarkChecksumPaths(b *testing.B) {
	for _, n := range []int{32, 64, 96, 128, 160, 192, 224, 256, 320, 384, 512} {
		buf := make([]byte, n)
		rand.New(rand.NewSource(int64(n))).Read(buf)
		b.Run(fmt.Sprintf("generic/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sink += checksumGeneric(buf, 0)
			}
		})
		if !haveVector {
			continue
		}
		b.Run(fmt.Sprintf("vector/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sink += checksumVector(buf, 0)
			}
		})
	}
}

// BenchmarkChecksumCopy compares ChecksumCopy with copy followed by
// Checksum, which it must beat to be worth having.
func BenchmarkChecksumCopy(b *testing.B) {
	for _, n := range []int{64, 96, 128, 256, 512, 1460, 65535} {
		src := make([]byte, n)
		dst := make([]byte, n)
		rand.New(rand.NewSource(int64(n))).Read(src)
		b.Run(fmt.Sprintf("fused/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sink += ChecksumCopy(dst, src, 0)
			}
		})
		b.Run(fmt.Sprintf("copy+Checksum/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
				sink += Checksum(src, 0)
			}
		})
	}
}

// benchSegment is a Linux-like established-state data segment with
// timestamps and two SACK blocks, 1448 octets of payload, inside IPv4.
func benchSegment(tb testing.TB) (pkt []byte, src, dst netip.Addr) {
	src, dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK | FlagPSH, Window: 502}
	o := TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 2,
		SACKBlocks: [MaxSACKBlocks]SACKBlock{{100, 200}, {300, 400}}}
	payload := make([]byte, 1448)
	seg := BuildTCP(nil, &h, &o, payload)
	TCP(seg).FillChecksum(src, dst)
	pkt, err := BuildIPv4(nil, &IPv4Header{TTL: 64, Protocol: ProtoTCP, Src: src, Dst: dst, Flags: IPv4DontFragment}, len(seg))
	if err != nil {
		tb.Fatal(err)
	}
	return append(pkt, seg...), src, dst
}

func BenchmarkParseTCPOptions(b *testing.B) {
	pkt, _, _ := benchSegment(b)
	seg := pkt[IPv4MinHeaderLen:]
	b.ReportAllocs()
	var o TCPOptions
	for b.Loop() {
		t, err := ParseTCP(seg)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.ParseOptions(&o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseIPv4TCP(b *testing.B) {
	pkt, _, _ := benchSegment(b)
	b.ReportAllocs()
	var o TCPOptions
	for b.Loop() {
		ip, err := ParseIPv4(pkt)
		if err != nil {
			b.Fatal(err)
		}
		t, err := ParseTCP(ip.Payload())
		if err != nil {
			b.Fatal(err)
		}
		if err := t.ParseOptions(&o); err != nil {
			b.Fatal(err)
		}
		sink += uint32(t.SrcPort())
	}
}

func BenchmarkParseIPv4TCPVerify(b *testing.B) {
	pkt, _, _ := benchSegment(b)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	var o TCPOptions
	for b.Loop() {
		ip, err := ParseIPv4(pkt)
		if err != nil || !ip.ChecksumValid() {
			b.Fatal("bad ip")
		}
		t, err := ParseTCP(ip.Payload())
		if err != nil || !t.VerifyChecksum(ip.Src(), ip.Dst()) {
			b.Fatal("bad tcp")
		}
		if err := t.ParseOptions(&o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildTCPOptions(b *testing.B) {
	h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagSYN | FlagACK, Window: 65535}
	o := TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 1, TSEcr: 2, HasWScale: true, WScale: 7}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = BuildTCP(buf[:0], &h, &o, nil)
	}
}

func BenchmarkBuildIPv4TCP(b *testing.B) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: FlagACK | FlagPSH, Window: 502}
	o := TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2}
	ih := IPv4Header{TTL: 64, Protocol: ProtoTCP, Src: src, Dst: dst, Flags: IPv4DontFragment}
	payload := make([]byte, 1448)
	buf := make([]byte, 0, 1600)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		segLen := TCPMinHeaderLen + o.Len(false) + len(payload)
		pkt, err := BuildIPv4(buf[:0], &ih, segLen)
		if err != nil {
			b.Fatal(err)
		}
		pkt = BuildTCP(pkt, &h, &o, payload)
		TCP(pkt[IPv4MinHeaderLen:]).FillChecksum(src, dst)
		buf = pkt
	}
}

package tcp

import (
	"net/netip"
	"testing"
	"time"
)

// sipHashVectors are the SipHash-2-4 reference test vectors (the SipHash
// paper, Appendix A, and the reference implementation's vectors): key bytes
// 00 01 .. 0f, message i is the i bytes 00 01 .. i-1, result as a 64-bit
// little-endian integer. Entry 15 is the paper's worked example.
var sipHashVectors = [64]uint64{
	0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
	0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
	0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
	0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
	0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
	0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
	0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
	0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
	0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
	0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
	0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
	0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
	0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
	0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
	0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
}

func TestSipHash24_ReferenceVectors(t *testing.T) {
	const k0, k1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for i, want := range sipHashVectors {
		if got := sipHash24(k0, k1, msg[:i]); got != want {
			t.Errorf("length %d: %#016x, want %#016x", i, got, want)
		}
	}
}

var (
	isnLocal  = netip.MustParseAddrPort("192.0.2.1:40000")
	isnRemote = netip.MustParseAddrPort("198.51.100.7:443")
)

func testSecret(b byte) [16]byte {
	var s [16]byte
	for i := range s {
		s[i] = b + byte(i)*17
	}
	return s
}

// RFC 6528 3: F differs between connection-id tuples, so ISNs of different
// connections are unrelated.
func TestISN_RFC6528_3_DifferentTuplesDiffer(t *testing.T) {
	g := NewISNGenerator(testSecret(1))
	const now = 5 * time.Second
	tuples := [][2]netip.AddrPort{
		{isnLocal, isnRemote},
		{netip.MustParseAddrPort("192.0.2.1:40001"), isnRemote},
		{isnLocal, netip.MustParseAddrPort("198.51.100.7:444")},
		{netip.MustParseAddrPort("192.0.2.2:40000"), isnRemote},
		{isnLocal, netip.MustParseAddrPort("198.51.100.8:443")},
		{isnRemote, isnLocal}, // the same pair seen from the other side
		{netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:443")},
	}
	seen := map[uint32]int{}
	for i, tp := range tuples {
		isn := g.ISN(now, tp[0], tp[1])
		if j, dup := seen[isn]; dup {
			t.Errorf("tuples %d and %d share ISN %#x", j, i, isn)
		}
		seen[isn] = i
	}
}

// RFC 6528 3: M makes the ISN of one tuple advance with time, one per 64 ns
// like Linux, monotonically modulo 2^32.
func TestISN_RFC6528_3_MonotoneInTime(t *testing.T) {
	g := NewISNGenerator(testSecret(2))
	base := g.ISN(time.Hour, isnLocal, isnRemote)
	if d := g.ISN(time.Hour+64, isnLocal, isnRemote) - base; d != 1 {
		t.Fatalf("64 ns later: +%d, want +1", d)
	}
	if d := g.ISN(time.Hour+63, isnLocal, isnRemote) - base; d != 0 {
		t.Fatalf("63 ns later: +%d, want +0", d)
	}
	if d := g.ISN(time.Hour+time.Second, isnLocal, isnRemote) - base; d != 15625000 {
		t.Fatalf("1 s later: +%d, want +15625000", d)
	}
	prev := base
	for _, dt := range []time.Duration{time.Microsecond, time.Millisecond, time.Second, 60 * time.Second, 100 * time.Second} {
		isn := g.ISN(time.Hour+dt, isnLocal, isnRemote)
		if !seqGT(isn, prev) {
			t.Fatalf("%v later: ISN %#x not after %#x", dt, isn, prev)
		}
		prev = isn
	}
	// Negative times (an epoch in the future) still tick forwards.
	if d := g.ISN(-64, isnLocal, isnRemote) - g.ISN(-128, isnLocal, isnRemote); d != 1 {
		t.Fatalf("across negative times: +%d, want +1", d)
	}
	if d := g.ISN(0, isnLocal, isnRemote) - g.ISN(-1, isnLocal, isnRemote); d != 1 {
		t.Fatalf("across zero: +%d, want +1", d)
	}
}

// RFC 6528 3: the secret key makes F unpredictable; different secrets give
// different ISNs and timestamp offsets.
func TestISN_RFC6528_3_SecretMatters(t *testing.T) {
	g1, g2 := NewISNGenerator(testSecret(3)), NewISNGenerator(testSecret(4))
	if g1.ISN(time.Second, isnLocal, isnRemote) == g2.ISN(time.Second, isnLocal, isnRemote) {
		t.Fatal("two secrets gave the same ISN")
	}
	if g1.TSOffset(isnLocal.Addr(), isnRemote.Addr()) == g2.TSOffset(isnLocal.Addr(), isnRemote.Addr()) {
		t.Fatal("two secrets gave the same timestamp offset")
	}
	// Deterministic for one secret: a replayed simulation gets the same ISNs.
	g3 := NewISNGenerator(testSecret(3))
	if g1.ISN(time.Second, isnLocal, isnRemote) != g3.ISN(time.Second, isnLocal, isnRemote) {
		t.Fatal("same secret, different ISN")
	}
}

// RFC 7323 7.1: the timestamp offset is random per address pair, stable over
// time and ports, and unrelated to the ISN.
func TestISN_TSOffsetPerAddressPair(t *testing.T) {
	g := NewISNGenerator(testSecret(5))
	a, b, c := isnLocal.Addr(), isnRemote.Addr(), netip.MustParseAddr("203.0.113.9")
	ab := g.TSOffset(a, b)
	if g.TSOffset(a, b) != ab {
		t.Fatal("offset not stable")
	}
	if g.TSOffset(a, c) == ab || g.TSOffset(b, a) == ab {
		t.Fatal("different address pairs share an offset")
	}
	if ab == g.ISN(0, netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0)) {
		t.Fatal("timestamp offset equals the ISN hash")
	}
}

func TestISN_NoAllocs(t *testing.T) {
	g := NewISNGenerator(testSecret(6))
	var sink uint32
	a := testing.AllocsPerRun(1000, func() {
		sink += g.ISN(time.Second, isnLocal, isnRemote)
		sink += g.TSOffset(isnLocal.Addr(), isnRemote.Addr())
	})
	if a != 0 {
		t.Fatalf("ISN+TSOffset allocate %v times per call", a)
	}
	_ = sink
}

func BenchmarkISN(b *testing.B) {
	g := NewISNGenerator(testSecret(7))
	for i := 0; b.Loop(); i++ {
		g.ISN(time.Duration(i), isnLocal, isnRemote)
	}
}

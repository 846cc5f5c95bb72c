package wire

import (
	"bytes"
	"encoding/hex"
	"math/rand"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

// refChecksum is the textbook RFC 1071 algorithm, one 16-bit word at a
// time, the oracle for the fast Checksum.
func refChecksum(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// unhex decodes hex with spaces, "|" and newlines allowed for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestChecksumKnownAnswers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint16
	}{
		// RFC 1071 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
		{"rfc1071 example", "0001 f203 f4f5 f6f7", ^uint16(0xddf2)},
		{"empty", "", 0xffff},
		{"one zero octet", "00", 0xffff},
		{"odd octet is the high byte", "01", 0xfeff},
		{"odd length", "0001 f203 f4", 0x19fa}, // ~(0001+f203+f400 folded = e605)
		// The IPv4 header of the classic worked example (checksum field
		// zeroed); the checksum it carries is b861.
		{"ipv4 header", "4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7", 0xb861},
		{"all ones", strings.Repeat("ff", 64), 0x0000},
		{"carry out of 64 bits", strings.Repeat("ff", 40) + "0001", 0xfffe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.in)
			if got := FoldChecksum(Checksum(b, 0)); got != tt.want {
				t.Errorf("FoldChecksum(Checksum(%s)) = %#04x, want %#04x", tt.in, got, tt.want)
			}
			if got := refChecksum(b, 0); got != tt.want {
				t.Errorf("reference checksum = %#04x, want %#04x (bad test)", got, tt.want)
			}
		})
	}
}

func TestChecksumVerifiesToZero(t *testing.T) {
	h := unhex(t, "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")
	if got := FoldChecksum(Checksum(h, 0)); got != 0 {
		t.Errorf("sum over a header with a right checksum folds to %#04x, want 0", got)
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(1071))
	buf := make([]byte, 70000)
	for i := range 2000 {
		n := i
		if i >= 300 {
			n = r.Intn(len(buf))
		}
		b := buf[:n]
		r.Read(b)
		if i%7 == 0 { // lots of carries
			for j := range b {
				b[j] |= 0xf0
			}
		}
		initial := uint32(0)
		if i%3 == 0 {
			initial = r.Uint32()
		}
		if got, want := FoldChecksum(Checksum(b, initial)), refChecksum(b, initial); got != want {
			t.Fatalf("len %d initial %#x: got %#04x, want %#04x", n, initial, got, want)
		}
	}
}

func TestChecksumChaining(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	b := make([]byte, 1501)
	r.Read(b)
	want := FoldChecksum(Checksum(b, 0))
	for _, cut := range []int{0, 2, 8, 14, 20, 32, 34, 40, 64, 1000, 1500} {
		if got := FoldChecksum(Checksum(b[cut:], Checksum(b[:cut], 0))); got != want {
			t.Errorf("split at %d: %#04x, want %#04x", cut, got, want)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	tests := []struct {
		name      string
		src, dst  string
		proto     uint8
		length    int
		headerHex string // the pseudo-header spelled out
	}{
		{"ipv4 tcp", "10.0.0.1", "10.0.0.2", ProtoTCP, 40,
			"0a000001 0a000002 00 06 0028"},
		{"ipv4 udp", "192.168.1.1", "8.8.8.8", ProtoUDP, 1480,
			"c0a80101 08080808 00 11 05c8"},
		{"ipv6 tcp", "2001:db8::1", "2001:db8::2", ProtoTCP, 40,
			"20010db8000000000000000000000001 20010db8000000000000000000000002 00000028 000000 06"},
		{"ipv6 long", "fe80::1", "ff02::1:ff00:1", ProtoICMPv6, 100000,
			"fe800000000000000000000000000001 ff0200000000000000000001ff000001 000186a0 000000 3a"},
		{"mixed families use the IPv6 form", "10.0.0.1", "2001:db8::2", ProtoTCP, 20,
			"00000000000000000000ffff0a000001 20010db8000000000000000000000002 00000014 000000 06"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FoldChecksum(PseudoHeaderSum(tt.proto, netip.MustParseAddr(tt.src), netip.MustParseAddr(tt.dst), tt.length))
			want := refChecksum(unhex(t, tt.headerHex), 0)
			if got != want {
				t.Errorf("got %#04x, want %#04x", got, want)
			}
		})
	}
}

// checksumGeneric is Checksum by the portable Go loop at every length, on
// every GOARCH.
func checksumGeneric(b []byte, initial uint32) uint32 { return checksum(b, initial, false) }

// checksumImpl is one way of computing Checksum, for tests that hold every
// path to the reference.
type checksumImpl struct {
	name string
	sum  func(b []byte, initial uint32) uint32
}

// checksumImpls returns the exported Checksum and each path behind it: the
// portable Go loop, and where the CPU has it the vector assembly at every
// length (Checksum itself uses it only from vectorMin octets), including in
// small chunks so that the chunking is exercised too. ChecksumCopy is here
// as well, copying into a scratch buffer.
func checksumImpls() []checksumImpl {
	impls := []checksumImpl{
		{"Checksum", Checksum},
		{"generic", checksumGeneric},
		{"ChecksumCopy", func(b []byte, initial uint32) uint32 {
			return ChecksumCopy(make([]byte, len(b)), b, initial)
		}},
	}
	if haveVector {
		// The assembly needs 8 octets; Checksum never calls it on fewer.
		vector := func(f func(b []byte, initial uint32) uint32) func(b []byte, initial uint32) uint32 {
			return func(b []byte, initial uint32) uint32 {
				if len(b) < 8 {
					return checksumGeneric(b, initial)
				}
				return f(b, initial)
			}
		}
		impls = append(impls,
			checksumImpl{"vector", vector(checksumVector)},
			checksumImpl{"vector in chunks of 96", vector(func(b []byte, initial uint32) uint32 {
				return checksumVectorChunks(b, initial, 96)
			})},
			checksumImpl{"copy vector", vector(func(b []byte, initial uint32) uint32 {
				return copyChecksumVector(make([]byte, len(b)), b, initial)
			})},
			checksumImpl{"copy vector in chunks of 298", vector(func(b []byte, initial uint32) uint32 {
				return copyChecksumVectorChunks(make([]byte, len(b)), b, initial, 298)
			})},
		)
	}
	return impls
}

// checksumFills are the data patterns of the exhaustive tests: random
// octets, all ones (a carry out of every addition, and sums that are 0 mod
// 0xffff) and all zeros (the one sum that must fold to +0, not -0).
var checksumFills = []struct {
	name string
	fill func(r *rand.Rand, b []byte)
}{
	{"random", func(r *rand.Rand, b []byte) { r.Read(b) }},
	{"0xff", func(_ *rand.Rand, b []byte) {
		for i := range b {
			b[i] = 0xff
		}
	}},
	{"0x00", func(_ *rand.Rand, b []byte) { clear(b) }},
}

// checksumInitial returns the i'th initial accumulator of a test: the edge
// values first (0, the two one's complement zeros, the largest), then
// random ones.
func checksumInitial(r *rand.Rand, i int) uint32 {
	edges := []uint32{0, 0xffff, 0xffffffff, 0x1fffe}
	if i < len(edges) {
		return edges[i]
	}
	return r.Uint32()
}

// TestChecksumAllLengthsAndAlignments holds every path to the RFC 1071
// reference for every length 0..600 at every start alignment 0..63, with
// random, all-ones and all-zero data and varied initial accumulators.
func TestChecksumAllLengthsAndAlignments(t *testing.T) {
	r := rand.New(rand.NewSource(1071))
	impls := checksumImpls()
	backing := make([]byte, 64+600+64)
	for _, f := range checksumFills {
		i := 0
		for n := 0; n <= 600; n++ {
			for align := 0; align < 64; align++ {
				b := backing[align : align+n]
				f.fill(r, b)
				initial := checksumInitial(r, i)
				i++
				want := refChecksum(b, initial)
				for _, impl := range impls {
					if got := FoldChecksum(impl.sum(b, initial)); got != want {
						t.Fatalf("%s: %s data, len %d, alignment %d, initial %#x: %#04x, reference %#04x",
							impl.name, f.name, n, align, initial, got, want)
					}
				}
			}
		}
	}
}

// TestChecksumLongInputs covers lengths up to 1 MiB, odd and even, where
// the vector lanes and the Go loop's carry chain run longest.
func TestChecksumLongInputs(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	impls := checksumImpls()
	backing := make([]byte, 1<<20+64)
	lengths := []int{601, 1023, 1460, 1500, 4096, 9001, 65535, 65536, 65537, 100003, 1<<20 - 1, 1 << 20}
	for _, f := range checksumFills {
		for i, n := range lengths {
			for _, align := range []int{0, 1, 31, 63} {
				b := backing[align : align+n]
				f.fill(r, b)
				initial := checksumInitial(r, i)
				want := refChecksum(b, initial)
				for _, impl := range impls {
					if got := FoldChecksum(impl.sum(b, initial)); got != want {
						t.Fatalf("%s: %s data, len %d, alignment %d, initial %#x: %#04x, reference %#04x",
							impl.name, f.name, n, align, initial, got, want)
					}
				}
			}
		}
	}
}

// TestChecksumTwoZeros checks the one's complement zeros are kept apart as
// RFC 1071's loop keeps them: data of all zeros sums to +0 (checksum
// 0xffff), data that sums to 0 mod 0xffff but is not zero to -0 (checksum
// 0x0000), on every path.
func TestChecksumTwoZeros(t *testing.T) {
	for _, impl := range checksumImpls() {
		for _, n := range []int{0, 1, 2, 63, 64, 255, 256, 257, 1500, 65535} {
			zeros := make([]byte, n)
			if got := FoldChecksum(impl.sum(zeros, 0)); got != 0xffff {
				t.Errorf("%s: %d zero octets: %#04x, want 0xffff", impl.name, n, got)
			}
			if n < 2 {
				continue
			}
			ones := make([]byte, n&^1)
			for i := range ones {
				ones[i] = 0xff
			}
			if got := FoldChecksum(impl.sum(ones, 0)); got != 0 {
				t.Errorf("%s: %d octets of 0xff: %#04x, want 0", impl.name, len(ones), got)
			}
		}
	}
}

// TestChecksumCopy checks ChecksumCopy leaves dst as copy would (and
// nothing past len(src)) for every length 0..600 at independent source and
// destination alignments, and sums the source.
func TestChecksumCopy(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	src := make([]byte, 600+64)
	dst := make([]byte, 600+64+1)
	for n := 0; n <= 600; n++ {
		for _, al := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {3, 17}, {32, 5}, {63, 63}} {
			s := src[al[0] : al[0]+n]
			r.Read(s)
			for i := range dst {
				dst[i] = 0xa5
			}
			d := dst[al[1] : al[1]+n+1] // one octet more than needed
			initial := r.Uint32()
			got := FoldChecksum(ChecksumCopy(d, s, initial))
			if want := refChecksum(s, initial); got != want {
				t.Fatalf("len %d alignments %v: %#04x, reference %#04x", n, al, got, want)
			}
			if !bytes.Equal(d[:n], s) || d[n] != 0xa5 || (al[1] > 0 && dst[al[1]-1] != 0xa5) {
				t.Fatalf("len %d alignments %v: dst not a copy of src", n, al)
			}
		}
	}
}

// TestChecksumCopyOverlap checks overlapping dst and src behave as copy
// does, the sum being of src as it was before the copy.
func TestChecksumCopyOverlap(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	buf := make([]byte, 4096)
	for _, n := range []int{31, 256, 1000, 2048} {
		for _, shift := range []int{-64, -33, -1, 0, 1, 2, 32, 200} {
			r.Read(buf)
			srcOff := 1024
			s := buf[srcOff : srcOff+n]
			d := buf[srcOff+shift : srcOff+shift+n]
			want := refChecksum(s, 0)
			orig := bytes.Clone(s)
			if got := FoldChecksum(ChecksumCopy(d, s, 0)); got != want {
				t.Errorf("len %d shift %d: %#04x, reference %#04x", n, shift, got, want)
			}
			if !bytes.Equal(d, orig) {
				t.Errorf("len %d shift %d: dst is not the original src", n, shift)
			}
		}
	}
}

func TestChecksumCopyShortDstPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("ChecksumCopy with dst shorter than src did not panic")
		}
	}()
	ChecksumCopy(make([]byte, 9), make([]byte, 10), 0)
}

// TestChecksumVectorUsed checks that on a CPU with AVX2 the vector path is
// compiled in and taken (a build-tag slip would silently fall back to the
// slow loop), and that it is absent under purego and on other GOARCHes.
func TestChecksumVectorUsed(t *testing.T) {
	want := runtime.GOARCH == "amd64" && !purego && cpu.X86.HasAVX2
	if haveVector != want {
		t.Errorf("haveVector = %v, want %v (GOARCH %s, purego %v)", haveVector, want, runtime.GOARCH, purego)
	}
}

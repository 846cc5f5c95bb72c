package wire

import (
	"encoding/hex"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
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

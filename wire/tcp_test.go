package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// linuxSYN is a SYN as Linux sends it, written out by hand: 10.0.0.1:40000 >
// 10.0.0.2:80, seq 0x12345678, win 64240, options <mss 1460, sackOK, TS val
// 1000 ecr 0, nop, wscale 7>. Its checksums were worked out independently of
// this package (a plain RFC 1071 sum in another language): 0x0a74 for the
// IP header, 0x2fe8 for TCP over IPv4, 0xe875 for the same segment between
// 2001:db8::1 and 2001:db8::2.
const (
	linuxSYNIP  = "4500 003c 1c46 4000 4006 0a74 0a00 0001 0a00 0002"
	linuxSYNTCP = "9c40 0050 12345678 00000000 a002 faf0 2fe8 0000" +
		"020405b4 0402080a 000003e8 00000000 01030307"
	linuxSYNCsum6 = 0xe875
)

var (
	synSrc4, synDst4 = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	synSrc6, synDst6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	linuxSYNHeader   = TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 0x12345678, Flags: FlagSYN, Window: 64240}
	linuxSYNOptions  = TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 1000, HasWScale: true, WScale: 7}
)

func TestParseTCPLinuxSYN(t *testing.T) {
	b := unhex(t, linuxSYNTCP)
	seg, err := ParseTCP(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := seg.Header(); got != linuxSYNHeader {
		t.Errorf("Header() = %+v, want %+v", got, linuxSYNHeader)
	}
	if seg.DataOffset() != 40 || seg.Checksum() != 0x2fe8 || len(seg.OptionBytes()) != 20 || len(seg.Payload()) != 0 {
		t.Errorf("DataOffset %d Checksum %#x options %d payload %d", seg.DataOffset(), seg.Checksum(), len(seg.OptionBytes()), len(seg.Payload()))
	}
	if seg.Flags().String() != "S" {
		t.Errorf("flags %v", seg.Flags())
	}
	var o TCPOptions
	if err := seg.ParseOptions(&o); err != nil {
		t.Fatal(err)
	}
	if o != linuxSYNOptions {
		t.Errorf("options %+v, want %+v", o, linuxSYNOptions)
	}
	if !seg.VerifyChecksum(synSrc4, synDst4) {
		t.Error("VerifyChecksum over IPv4 = false")
	}
	if got := seg.ComputeChecksum(synSrc4, synDst4); got != 0x2fe8 {
		t.Errorf("ComputeChecksum = %#04x, want 0x2fe8", got)
	}
	if got := seg.ComputeChecksum(synSrc6, synDst6); got != linuxSYNCsum6 {
		t.Errorf("ComputeChecksum over IPv6 = %#04x, want %#04x", got, linuxSYNCsum6)
	}
	if seg.VerifyChecksum(synSrc4, netip.MustParseAddr("10.0.0.3")) {
		t.Error("VerifyChecksum accepted the wrong destination")
	}
	b[30] ^= 1
	if seg.VerifyChecksum(synSrc4, synDst4) {
		t.Error("VerifyChecksum accepted a corrupted segment")
	}
}

func TestBuildTCPLinuxSYN(t *testing.T) {
	want := unhex(t, linuxSYNTCP)
	got := BuildTCP(nil, &linuxSYNHeader, &linuxSYNOptions, nil)
	TCP(got).FillChecksum(synSrc4, synDst4)
	if !bytes.Equal(got, want) {
		t.Errorf("BuildTCP =\n% x\nwant\n% x", got, want)
	}
	ipw := unhex(t, linuxSYNIP)
	ip, err := BuildIPv4(nil, &IPv4Header{ID: 0x1c46, Flags: IPv4DontFragment, TTL: 64, Protocol: ProtoTCP, Src: synSrc4, Dst: synDst4}, len(got))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ip, ipw) {
		t.Errorf("BuildIPv4 =\n% x\nwant\n% x", ip, ipw)
	}
}

func TestBuildTCP(t *testing.T) {
	payload := []byte("hello, world")
	tests := []struct {
		name string
		h    TCPHeader
		o    *TCPOptions
		hex  string
	}{
		{"bare ack", TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: FlagACK, Window: 5, Urgent: 6}, nil,
			"0001 0002 00000003 00000004 5010 0005 0000 0006"},
		{"empty options", TCPHeader{Flags: FlagRST}, &TCPOptions{},
			"0000 0000 00000000 00000000 5004 0000 0000 0000"},
		{"ack with timestamps", TCPHeader{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 2, Flags: FlagACK | FlagPSH, Window: 502},
			&TCPOptions{HasTimestamps: true, TSVal: 9, TSEcr: 10, HasMSS: true, MSS: 1},
			"0050 9c40 00000001 00000002 8018 01f6 0000 0000 0101080a 00000009 0000000a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := append(unhex(t, tt.hex), payload...)
			prefix := []byte{1, 2, 3}
			got := BuildTCP(prefix, &tt.h, tt.o, payload)
			if !bytes.Equal(got[:3], prefix) || !bytes.Equal(got[3:], want) {
				t.Fatalf("BuildTCP =\n% x\nwant\n% x", got[3:], want)
			}
			seg, err := ParseTCP(got[3:])
			if err != nil {
				t.Fatal(err)
			}
			if seg.Header() != tt.h || !bytes.Equal(seg.Payload(), payload) {
				t.Errorf("parsed back %+v payload %q", seg.Header(), seg.Payload())
			}
			seg.FillChecksum(synSrc6, synDst6)
			if !seg.VerifyChecksum(synSrc6, synDst6) {
				t.Error("checksum does not verify")
			}
		})
	}
}

func TestParseTCPErrors(t *testing.T) {
	good := unhex(t, linuxSYNTCP)
	mod := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"19 octets", good[:19], ErrTruncated},
		{"data offset 0", mod(12, 0x00), ErrBadHeaderLength},
		{"data offset 4", mod(12, 0x40), ErrBadHeaderLength},
		{"data offset past end", good[:39], ErrBadHeaderLength},
		{"data offset 15 in 40 octets", mod(12, 0xf0), ErrBadHeaderLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg, err := ParseTCP(tt.b)
			if !errors.Is(err, tt.want) || seg != nil {
				t.Errorf("ParseTCP = %v, %v; want nil, %v", seg, err, tt.want)
			}
		})
	}
	// 20 octets with data offset 5 is the smallest valid segment.
	if _, err := ParseTCP(good[:20]); err == nil {
		t.Error("header claiming 40 octets accepted in 20")
	}
	min := mod(12, 0x50)[:20]
	if seg, err := ParseTCP(min); err != nil || len(seg.OptionBytes()) != 0 || len(seg.Payload()) != 0 {
		t.Errorf("minimal segment: %v", err)
	}
}

func TestTCPSetters(t *testing.T) {
	seg := TCP(make([]byte, 24))
	seg.SetSrcPort(0x1234)
	seg.SetDstPort(0x5678)
	seg.SetSeq(0x9abcdef0)
	seg.SetAck(0x0fedcba9)
	seg.SetDataOffset(24)
	seg.SetFlags(FlagFIN | FlagACK | FlagCWR)
	seg.SetWindow(0xaaaa)
	seg.SetChecksum(0xbbbb)
	seg.SetUrgent(0xcccc)
	want := unhex(t, "1234 5678 9abcdef0 0fedcba9 6091 aaaa bbbb cccc 00000000")
	if !bytes.Equal(seg, want) {
		t.Errorf("got % x\nwant % x", []byte(seg), want)
	}
	for _, bad := range []int{0, 16, 22, 64} {
		seg.SetDataOffset(bad)
		if seg.DataOffset() != 24 {
			t.Errorf("SetDataOffset(%d) changed it to %d", bad, seg.DataOffset())
		}
	}
}

// TestTCPShortViews calls every method on views of every length from 0 to
// 64 holding garbage: none may panic, whatever the header claims.
func TestTCPShortViews(t *testing.T) {
	for _, fill := range []byte{0x00, 0xff, 0x5f, 0xf5} {
		for n := 0; n <= 64; n++ {
			b := bytes.Repeat([]byte{fill}, n)
			exerciseTCP(t, TCP(b))
		}
	}
}

// exerciseTCP calls every method of t and checks the slices it returns
// alias t.
func exerciseTCP(t testing.TB, seg TCP) {
	_ = seg.SrcPort() + seg.DstPort() + seg.Window() + seg.Checksum() + seg.Urgent()
	_ = seg.Seq() + seg.Ack()
	_ = seg.Flags().String()
	_ = seg.Header()
	opts, pl := seg.OptionBytes(), seg.Payload()
	if len(opts)+len(pl) > len(seg) {
		t.Fatalf("options %d + payload %d > segment %d", len(opts), len(pl), len(seg))
	}
	if len(seg) >= TCPMinHeaderLen && len(opts)+len(pl)+TCPMinHeaderLen != len(seg) {
		t.Fatalf("20 + options %d + payload %d != segment %d", len(opts), len(pl), len(seg))
	}
	var o TCPOptions
	_ = seg.ParseOptions(&o)
	_ = seg.ComputeChecksum(synSrc4, synDst4)
	_ = seg.VerifyChecksum(synSrc6, synDst6)
	c := TCP(bytes.Clone(seg))
	c.SetSrcPort(1)
	c.SetDstPort(2)
	c.SetSeq(3)
	c.SetAck(4)
	c.SetDataOffset(20)
	c.SetFlags(FlagSYN)
	c.SetWindow(5)
	c.SetUrgent(6)
	c.FillChecksum(synSrc4, synDst4)
	if len(c) >= TCPMinHeaderLen && !c.VerifyChecksum(synSrc4, synDst4) {
		t.Fatal("FillChecksum did not verify")
	}
}

func TestTCPFlagsString(t *testing.T) {
	tests := []struct {
		f    TCPFlags
		want string
	}{
		{0, "none"}, {FlagSYN, "S"}, {FlagSYN | FlagACK, "S."}, {FlagFIN | FlagACK, "F."},
		{FlagPSH | FlagACK, "P."}, {FlagRST, "R"}, {FlagACK, "."},
		{0xff, "FSRPUEW."},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%08b: %q, want %q", uint8(tt.f), got, tt.want)
		}
	}
	if !(FlagSYN | FlagACK).Has(FlagSYN) || FlagSYN.Has(FlagSYN|FlagACK) {
		t.Error("Has")
	}
}

package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestParseIPv4LinuxSYN(t *testing.T) {
	pkt := append(unhex(t, linuxSYNIP), unhex(t, linuxSYNTCP)...)
	pkt = append(pkt, 0, 0, 0, 0, 0, 0) // Ethernet padding
	ip, err := ParseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if len(ip) != 60 {
		t.Errorf("view not trimmed to Total Length: %d", len(ip))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Version", ip.Version(), uint8(4)},
		{"HeaderLen", ip.HeaderLen(), 20},
		{"TOS", ip.TOS(), uint8(0)},
		{"TotalLength", ip.TotalLength(), uint16(60)},
		{"ID", ip.ID(), uint16(0x1c46)},
		{"Flags", ip.Flags(), IPv4DontFragment},
		{"DontFragment", ip.DontFragment(), true},
		{"MoreFragments", ip.MoreFragments(), false},
		{"FragmentOffset", ip.FragmentOffset(), uint16(0)},
		{"IsFragment", ip.IsFragment(), false},
		{"TTL", ip.TTL(), uint8(64)},
		{"Protocol", ip.Protocol(), ProtoTCP},
		{"HeaderChecksum", ip.HeaderChecksum(), uint16(0x0a74)},
		{"ComputeChecksum", ip.ComputeChecksum(), uint16(0x0a74)},
		{"ChecksumValid", ip.ChecksumValid(), true},
		{"Src", ip.Src(), synSrc4},
		{"Dst", ip.Dst(), synDst4},
		{"Options", len(ip.Options()), 0},
		{"Payload", len(ip.Payload()), 40},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	seg, err := ParseTCP(ip.Payload())
	if err != nil || !seg.VerifyChecksum(ip.Src(), ip.Dst()) {
		t.Errorf("TCP inside: %v", err)
	}
	ip[8]-- // a router decrements the TTL
	if ip.ChecksumValid() {
		t.Error("ChecksumValid after changing the TTL")
	}
	ip.FillChecksum()
	if !ip.ChecksumValid() {
		t.Error("FillChecksum did not fix the checksum")
	}
}

func TestParseIPv4Errors(t *testing.T) {
	good := append(unhex(t, linuxSYNIP), unhex(t, linuxSYNTCP)...)
	// mod returns good with the octets at the given offsets replaced:
	// offset, value, offset, value...
	mod := func(iv ...int) []byte {
		b := bytes.Clone(good)
		for k := 0; k < len(iv); k += 2 {
			b[iv[k]] = byte(iv[k+1])
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"19 octets", good[:19], ErrTruncated},
		{"version 6", mod(0, 0x65), ErrBadVersion},
		{"version 0", mod(0, 0x05), ErrBadVersion},
		{"ihl 4", mod(0, 0x44), ErrBadHeaderLength},
		{"ihl 0", mod(0, 0x40), ErrBadHeaderLength},
		{"ihl past end", mod(0, 0x4f)[:40], ErrBadHeaderLength},
		{"total length past end", good[:59], ErrBadTotalLength},
		{"total length below header", mod(3, 19), ErrBadTotalLength},
		{"total length below ihl", mod(0, 0x46, 3, 22), ErrBadTotalLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, err := ParseIPv4(tt.b)
			if !errors.Is(err, tt.want) || ip != nil {
				t.Errorf("ParseIPv4 = %v, %v; want nil, %v", ip, err, tt.want)
			}
		})
	}
}

func TestIPv4Options(t *testing.T) {
	opts := []byte{0x94, 0x04, 0x00, 0x00} // Router Alert (RFC 2113)
	h := IPv4Header{TOS: 0xb8, ID: 7, Flags: IPv4MoreFragments, FragmentOffset: 0x1234, TTL: 1, Protocol: ProtoUDP,
		Src: netip.MustParseAddr("::ffff:192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"), Options: opts}
	pkt, err := BuildIPv4(make([]byte, 0, 64), &h, 3)
	if err != nil {
		t.Fatal(err)
	}
	pkt = append(pkt, 'a', 'b', 'c')
	ip, err := ParseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if !ip.ChecksumValid() || ip.HeaderLen() != 24 || !bytes.Equal(ip.Options(), opts) || string(ip.Payload()) != "abc" {
		t.Errorf("checksum %v hl %d options % x payload %q", ip.ChecksumValid(), ip.HeaderLen(), ip.Options(), ip.Payload())
	}
	want := h
	want.Src = h.Src.Unmap()
	if got := ip.Header(); !sameIPv4Header(got, want) {
		t.Errorf("Header() = %+v, want %+v", got, want)
	}
	if !ip.IsFragment() || !ip.MoreFragments() || ip.DontFragment() {
		t.Error("fragment flags")
	}
}

func TestBuildIPv4Errors(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		h    IPv4Header
		n    int
		want error
	}{
		{"ipv6 source", IPv4Header{Src: a6, Dst: a4}, 0, ErrAddressFamily},
		{"zero destination", IPv4Header{Src: a4}, 0, ErrAddressFamily},
		{"options not words", IPv4Header{Src: a4, Dst: a4, Options: []byte{1}}, 0, ErrBadIPOptions},
		{"options too long", IPv4Header{Src: a4, Dst: a4, Options: make([]byte, 44)}, 0, ErrBadIPOptions},
		{"too long", IPv4Header{Src: a4, Dst: a4}, 65516, ErrTooLong},
		{"too long with options", IPv4Header{Src: a4, Dst: a4, Options: make([]byte, 4)}, 65512, ErrTooLong},
		{"negative", IPv4Header{Src: a4, Dst: a4}, -1, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{9}
			got, err := BuildIPv4(dst, &tt.h, tt.n)
			if !errors.Is(err, tt.want) || !bytes.Equal(got, dst) {
				t.Errorf("BuildIPv4 = % x, %v; want 09, %v", got, err, tt.want)
			}
		})
	}
	if pkt, err := BuildIPv4(nil, &IPv4Header{Src: a4, Dst: a4}, 65515); err != nil || IPv4(pkt).TotalLength() != 65535 {
		t.Errorf("largest packet: %v", err)
	}
}

func TestIPv4Setters(t *testing.T) {
	ip := IPv4(make([]byte, 20))
	ip[0] = 0x45
	ip.SetTOS(1)
	ip.SetTotalLength(20)
	ip.SetID(0x0203)
	ip.SetFlagsAndOffset(IPv4DontFragment|IPv4Reserved, 0xffff)
	ip.SetTTL(4)
	ip.SetProtocol(5)
	ip.SetSrc(netip.MustParseAddr("1.2.3.4"))
	ip.SetDst(netip.MustParseAddr("::ffff:5.6.7.8"))
	ip.SetSrc(netip.MustParseAddr("2001:db8::1")) // ignored
	ip.FillChecksum()
	want := unhex(t, "4501 0014 0203 dfff 0405 0000 01020304 05060708")
	want[10], want[11] = ip[10], ip[11]
	if !bytes.Equal(ip, want) || !ip.ChecksumValid() {
		t.Errorf("got % x\nwant % x", []byte(ip), want)
	}
	if ip.FragmentOffset() != 0x1fff || ip.Flags() != IPv4DontFragment|IPv4Reserved {
		t.Errorf("flags %v offset %#x", ip.Flags(), ip.FragmentOffset())
	}
}

// TestIPv4ShortViews calls every method on views of every length from 0
// to 64 holding garbage: none may panic.
func TestIPv4ShortViews(t *testing.T) {
	for _, fill := range []byte{0x00, 0xff, 0x4f, 0x45, 0x41} {
		for n := 0; n <= 64; n++ {
			exerciseIPv4(t, IPv4(bytes.Repeat([]byte{fill}, n)))
		}
	}
}

func exerciseIPv4(t testing.TB, ip IPv4) {
	_ = ip.Version() + ip.TOS() + ip.TTL() + ip.Protocol()
	_ = ip.HeaderLen()
	_ = ip.TotalLength() + ip.ID() + ip.FragmentOffset() + ip.HeaderChecksum()
	_ = ip.DontFragment() || ip.MoreFragments() || ip.IsFragment()
	_ = ip.Src().String() + ip.Dst().String()
	_ = ip.Header()
	opts, pl := ip.Options(), ip.Payload()
	if len(opts)+len(pl) > len(ip) {
		t.Fatalf("options %d + payload %d > packet %d", len(opts), len(pl), len(ip))
	}
	_ = ip.ComputeChecksum()
	_ = ip.ChecksumValid()
	c := IPv4(bytes.Clone(ip))
	c.SetTOS(1)
	c.SetTotalLength(2)
	c.SetID(3)
	c.SetFlagsAndOffset(IPv4DontFragment, 4)
	c.SetTTL(5)
	c.SetProtocol(6)
	c.SetSrc(synSrc4)
	c.SetDst(synDst4)
	c.FillChecksum()
	if len(c) >= IPv4MinHeaderLen && !c.ChecksumValid() {
		t.Fatal("FillChecksum did not verify")
	}
}

// sameIPv4Header compares two IPv4Header values, options by content.
func sameIPv4Header(a, b IPv4Header) bool {
	return bytes.Equal(a.Options, b.Options) && a.TOS == b.TOS && a.ID == b.ID && a.Flags == b.Flags &&
		a.FragmentOffset == b.FragmentOffset && a.TTL == b.TTL && a.Protocol == b.Protocol && a.Src == b.Src && a.Dst == b.Dst
}

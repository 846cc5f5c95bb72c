package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

const ipv6SYNHeader = "6abcdef5 0028 06 40 20010db8000000000000000000000001 20010db8000000000000000000000002"

func TestParseIPv6(t *testing.T) {
	seg := unhex(t, linuxSYNTCP)
	TCP(seg).FillChecksum(synSrc6, synDst6)
	pkt := append(unhex(t, ipv6SYNHeader), seg...)
	ip, err := ParseIPv6(append(pkt, 0, 0)) // trailing padding
	if err != nil {
		t.Fatal(err)
	}
	if len(ip) != 80 {
		t.Errorf("not trimmed: %d", len(ip))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Version", ip.Version(), uint8(6)},
		{"TrafficClass", ip.TrafficClass(), uint8(0xab)},
		{"FlowLabel", ip.FlowLabel(), uint32(0xcdef5)},
		{"PayloadLength", ip.PayloadLength(), uint16(40)},
		{"NextHeader", ip.NextHeader(), ProtoTCP},
		{"HopLimit", ip.HopLimit(), uint8(64)},
		{"Src", ip.Src(), synSrc6},
		{"Dst", ip.Dst(), synDst6},
		{"Payload", len(ip.Payload()), 40},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	proto, pl, err := ip.UpperLayer()
	if err != nil || proto != ProtoTCP || len(pl) != 40 {
		t.Fatalf("UpperLayer = %d, %d octets, %v", proto, len(pl), err)
	}
	if s, _ := ParseTCP(pl); !s.VerifyChecksum(ip.Src(), ip.Dst()) || TCP(pl).Checksum() != linuxSYNCsum6 {
		t.Error("TCP checksum over IPv6")
	}
	h := IPv6Header{TrafficClass: 0xab, FlowLabel: 0xcdef5, NextHeader: ProtoTCP, HopLimit: 64, Src: synSrc6, Dst: synDst6}
	if ip.Header() != h {
		t.Errorf("Header() = %+v", ip.Header())
	}
	built, err := BuildIPv6(nil, &h, len(seg))
	if err != nil || !bytes.Equal(built, pkt[:40]) {
		t.Errorf("BuildIPv6 = % x, %v\nwant % x", built, err, pkt[:40])
	}
}

func TestParseIPv6Errors(t *testing.T) {
	good := append(unhex(t, ipv6SYNHeader), unhex(t, linuxSYNTCP)...)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"39 octets", good[:39], ErrTruncated},
		{"version 4", append([]byte{0x4a}, good[1:]...), ErrBadVersion},
		{"payload past end", good[:79], ErrBadTotalLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, err := ParseIPv6(tt.b)
			if !errors.Is(err, tt.want) || ip != nil {
				t.Errorf("ParseIPv6 = %v, %v; want nil, %v", ip, err, tt.want)
			}
		})
	}
}

func TestSkipIPv6Extensions(t *testing.T) {
	const tcp = "9c40 0050"
	tests := []struct {
		name    string
		next    uint8
		hex     string
		proto   uint8
		rest    string // the upper-layer bytes expected back (on success)
		wantErr error
	}{
		{"no extensions", ProtoTCP, tcp, ProtoTCP, tcp, nil},
		{"hop-by-hop pad", ProtoHopByHop, "06 00 010400000000" + tcp, ProtoTCP, tcp, nil},
		{"hop-by-hop 16 octets", ProtoHopByHop, "06 01 0000000000000000000000000000" + tcp, ProtoTCP, tcp, nil},
		{"hbh, dest opts, routing, dest opts", ProtoHopByHop,
			"3c 00 010400000000 | 2b 00 010400000000 | 3c 01 0000 00000000 00000000 00000000 | 06 00 010400000000" + tcp,
			ProtoTCP, tcp, nil},
		{"atomic fragment", ProtoFragment, "06 00 0000 12345678" + tcp, ProtoTCP, tcp, nil},
		{"first fragment", ProtoFragment, "06 00 0001 12345678" + tcp, ProtoFragment, "", ErrFragment},
		{"later fragment", ProtoFragment, "06 00 0008 12345678" + tcp, ProtoFragment, "", ErrFragment},
		{"no next header", ProtoDestOpts, "3b 00 010400000000 ffff", ProtoNoNext, "ffff", nil},
		{"udp after dest opts", ProtoDestOpts, "11 00 010400000000 abcd", ProtoUDP, "abcd", nil},
		{"hop-by-hop not first", ProtoDestOpts, "00 00 010400000000 | 06 00 010400000000" + tcp, 0, "", ErrBadExtensionHeader},
		{"truncated header", ProtoRouting, "06 00 0000", 0, "", ErrBadExtensionHeader},
		{"length past end", ProtoDestOpts, "06 02 010400000000 00000000", 0, "", ErrBadExtensionHeader},
		{"truncated fragment", ProtoFragment, "06 00 0000 1234", 0, "", ErrBadExtensionHeader},
		{"empty", ProtoHopByHop, "", 0, "", ErrBadExtensionHeader},
		{"loop of dest opts", ProtoDestOpts, repeatHex("3c 00 010400000000", 20), 0, "", ErrTooManyExtensionHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto, rest, err := SkipIPv6Extensions(tt.next, unhex(t, tt.hex))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && tt.wantErr != ErrFragment {
				return
			}
			if proto != tt.proto {
				t.Errorf("proto = %d, want %d", proto, tt.proto)
			}
			if err == nil && !bytes.Equal(rest, unhex(t, tt.rest)) {
				t.Errorf("rest = % x, want %s", rest, tt.rest)
			}
		})
	}
	// Through the IPv6 view.
	h := IPv6Header{NextHeader: ProtoHopByHop, HopLimit: 1, Src: synSrc6, Dst: synDst6}
	ext := unhex(t, "06 00 010400000000"+tcp)
	pkt, _ := BuildIPv6(nil, &h, len(ext))
	ip, err := ParseIPv6(append(pkt, ext...))
	if err != nil {
		t.Fatal(err)
	}
	if proto, rest, err := ip.UpperLayer(); err != nil || proto != ProtoTCP || len(rest) != 4 {
		t.Errorf("UpperLayer = %d, % x, %v", proto, rest, err)
	}
}

func repeatHex(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestBuildIPv6Errors(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		h    IPv6Header
		n    int
		want error
	}{
		{"ipv4 source", IPv6Header{Src: a4, Dst: a6}, 0, ErrAddressFamily},
		{"zero destination", IPv6Header{Src: a6}, 0, ErrAddressFamily},
		{"too long", IPv6Header{Src: a6, Dst: a6}, 65536, ErrTooLong},
		{"negative", IPv6Header{Src: a6, Dst: a6}, -1, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildIPv6([]byte{7}, &tt.h, tt.n)
			if !errors.Is(err, tt.want) || !bytes.Equal(got, []byte{7}) {
				t.Errorf("BuildIPv6 = % x, %v; want 07, %v", got, err, tt.want)
			}
		})
	}
	zoned := netip.MustParseAddr("fe80::1%eth0")
	pkt, err := BuildIPv6(nil, &IPv6Header{Src: zoned, Dst: a6, FlowLabel: 0xfffffff}, 0xffff)
	if err != nil || IPv6(pkt).Src() != zoned.WithZone("") || IPv6(pkt).FlowLabel() != 0xfffff || IPv6(pkt).PayloadLength() != 0xffff {
		t.Errorf("BuildIPv6: % x, %v", pkt, err)
	}
}

func TestIPv6Setters(t *testing.T) {
	ip := IPv6(make([]byte, 40))
	ip[0] = 0x60
	ip.SetTrafficClass(0xff)
	ip.SetFlowLabel(0x12345)
	ip.SetTrafficClass(0xa5)
	ip.SetPayloadLength(0)
	ip.SetNextHeader(ProtoUDP)
	ip.SetHopLimit(255)
	ip.SetSrc(synSrc6)
	ip.SetDst(synDst6)
	ip.SetDst(synSrc4) // ignored
	want := unhex(t, "6a512345 0000 11 ff 20010db8000000000000000000000001 20010db8000000000000000000000002")
	if !bytes.Equal(ip, want) {
		t.Errorf("got % x\nwant % x", []byte(ip), want)
	}
}

func TestIPv6ShortViews(t *testing.T) {
	for _, fill := range []byte{0x00, 0xff, 0x60, 0x3c} {
		for n := 0; n <= 96; n++ {
			exerciseIPv6(t, IPv6(bytes.Repeat([]byte{fill}, n)))
		}
	}
}

func exerciseIPv6(t testing.TB, ip IPv6) {
	_ = ip.Version() + ip.TrafficClass() + ip.NextHeader() + ip.HopLimit()
	_ = ip.FlowLabel()
	_ = ip.PayloadLength()
	_ = ip.Src().String() + ip.Dst().String()
	_ = ip.Header()
	pl := ip.Payload()
	if len(pl) > len(ip) {
		t.Fatalf("payload %d > packet %d", len(pl), len(ip))
	}
	if _, rest, _ := ip.UpperLayer(); len(rest) > len(pl) {
		t.Fatalf("upper layer %d > payload %d", len(rest), len(pl))
	}
	c := IPv6(bytes.Clone(ip))
	c.SetTrafficClass(1)
	c.SetFlowLabel(2)
	c.SetPayloadLength(3)
	c.SetNextHeader(4)
	c.SetHopLimit(5)
	c.SetSrc(synSrc6)
	c.SetDst(synDst6)
}

package wire

import (
	"net/netip"
	"testing"
)

// RFC 3168 5: the ECN field is the two low bits of the IPv4 TOS octet and
// of the IPv6 Traffic Class; a router marking CE must leave the rest of the
// header valid (for IPv4, the header checksum).
func TestRFC3168_5_ECNField(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	src6, dst6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for _, tc := range []struct {
		name string
		tos  uint8
		want ECN
	}{
		{"not-ect", 0xb8, NotECT},
		{"ect1", 0xb9, ECT1},
		{"ect0", 0xba, ECT0},
		{"ce", 0xbb, CE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p4, err := BuildIPv4(nil, &IPv4Header{TOS: tc.tos, ID: 0x1234, TTL: 64, Protocol: ProtoTCP, Src: src4, Dst: dst4}, 0)
			if err != nil {
				t.Fatal(err)
			}
			p6, err := BuildIPv6(nil, &IPv6Header{TrafficClass: tc.tos, FlowLabel: 0xabcde, NextHeader: ProtoTCP, HopLimit: 64, Src: src6, Dst: dst6}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := PacketECN(p4); got != tc.want {
				t.Errorf("IPv4 PacketECN = %v, want %v", got, tc.want)
			}
			if got := PacketECN(p6); got != tc.want {
				t.Errorf("IPv6 PacketECN = %v, want %v", got, tc.want)
			}
			for _, to := range []ECN{NotECT, ECT1, ECT0, CE} {
				q4 := append([]byte(nil), p4...)
				if !SetPacketECN(q4, to) {
					t.Fatal("SetPacketECN(IPv4) = false")
				}
				ip := IPv4(q4)
				if PacketECN(q4) != to || ip.TOS()&^ECNMask != tc.tos&^ECNMask {
					t.Errorf("IPv4 %v -> %v: TOS %#x", tc.want, to, ip.TOS())
				}
				if !ip.ChecksumValid() {
					t.Errorf("IPv4 %v -> %v: header checksum invalid after the rewrite", tc.want, to)
				}
				q6 := append([]byte(nil), p6...)
				if !SetPacketECN(q6, to) {
					t.Fatal("SetPacketECN(IPv6) = false")
				}
				ip6 := IPv6(q6)
				if PacketECN(q6) != to || ip6.TrafficClass()&^ECNMask != tc.tos&^ECNMask || ip6.FlowLabel() != 0xabcde || ip6.Version() != 6 {
					t.Errorf("IPv6 %v -> %v: traffic class %#x flow label %#x", tc.want, to, ip6.TrafficClass(), ip6.FlowLabel())
				}
			}
		})
	}
}

func TestPacketECNShortOrForeign(t *testing.T) {
	for _, p := range [][]byte{nil, {0x45}, {0x00, 0x03}, {0x75, 0x03}} {
		if e := PacketECN(p); e != NotECT {
			t.Errorf("PacketECN(%x) = %v, want not-ect", p, e)
		}
		if SetPacketECN(append([]byte(nil), p...), CE) {
			t.Errorf("SetPacketECN(%x) = true, want false", p)
		}
	}
	if !CE.IsECT() || !ECT0.IsECT() || !ECT1.IsECT() || NotECT.IsECT() {
		t.Error("IsECT wrong")
	}
	if CE.String() != "ce" || ECN(7).String() != "ECN(7)" {
		t.Error("String wrong")
	}
}

package wire

import "fmt"

// ECN is the ECN field of an IP header (RFC 3168 5): the two low bits of
// the IPv4 TOS octet or of the IPv6 Traffic Class.
type ECN uint8

// The four codepoints of RFC 3168 5.
const (
	NotECT ECN = 0 // 00: not ECN-capable transport
	ECT1   ECN = 1 // 01: ECN-capable transport, ECT(1)
	ECT0   ECN = 2 // 10: ECN-capable transport, ECT(0)
	CE     ECN = 3 // 11: congestion experienced
)

// ECNMask selects the ECN field in a TOS or Traffic Class octet.
const ECNMask = 3

// IsECT reports whether the codepoint marks an ECN-capable transport
// (ECT(0), ECT(1), or CE, which a router sets only on ECT packets).
func (e ECN) IsECT() bool { return e&ECNMask != NotECT }

func (e ECN) String() string {
	switch e {
	case NotECT:
		return "not-ect"
	case ECT1:
		return "ect1"
	case ECT0:
		return "ect0"
	case CE:
		return "ce"
	}
	return fmt.Sprintf("ECN(%d)", uint8(e))
}

// PacketECN returns the ECN field of an IPv4 or IPv6 packet, NotECT when
// the header is too short to hold one.
func PacketECN(p []byte) ECN {
	if len(p) < 2 {
		return NotECT
	}
	switch p[0] >> 4 {
	case 4:
		return ECN(p[1] & ECNMask)
	case 6:
		// Traffic Class straddles the first two octets: its low two
		// bits are bits 4-5 of the second.
		return ECN(p[1]>>4) & ECNMask
	}
	return NotECT
}

// SetPacketECN rewrites the ECN field of an IPv4 or IPv6 packet, as a
// router marking congestion does (RFC 3168 5), keeping an IPv4 header
// checksum valid by updating it incrementally (RFC 1624). It reports
// whether p was an IP packet long enough to carry the field.
func SetPacketECN(p []byte, e ECN) bool {
	switch {
	case len(p) >= IPv4MinHeaderLen && p[0]>>4 == 4:
		old := uint16(p[0])<<8 | uint16(p[1])
		p[1] = p[1]&^ECNMask | uint8(e&ECNMask)
		updated := uint16(p[0])<<8 | uint16(p[1])
		// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
		sum := uint32(^(uint16(p[10])<<8 | uint16(p[11])))
		sum += uint32(^old) + uint32(updated)
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		c := ^uint16(sum)
		p[10], p[11] = byte(c>>8), byte(c)
		return true
	case len(p) >= IPv6HeaderLen && p[0]>>4 == 6:
		p[1] = p[1]&^(ECNMask<<4) | uint8(e&ECNMask)<<4
		return true
	}
	return false
}

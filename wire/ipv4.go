package wire

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// IPv4MinHeaderLen and IPv4MaxHeaderLen bound an IPv4 header's length: an
// IHL of 5 to 15 32-bit words (RFC 791 3.1).
const (
	IPv4MinHeaderLen = 20
	IPv4MaxHeaderLen = 60
)

// IPv4Flags are the three control flag bits of an IPv4 header (RFC 791
// 3.1), shifted down to the low bits.
type IPv4Flags uint8

// The IPv4 flag bits.
const (
	IPv4MoreFragments IPv4Flags = 1 << iota // MF: more fragments follow
	IPv4DontFragment                        // DF: routers must not fragment
	IPv4Reserved                            // bit 0, must be zero
)

// IPv4 is a zero-copy view of an IPv4 packet (RFC 791 3.1): header, options
// and payload.
//
// ParseIPv4 returns a view trimmed to the Total Length, with its lengths
// checked. The accessors never panic on any IPv4 value: a field beyond the
// end reads as zero, Options and Payload are clamped to the bytes there are,
// and a setter on a view too short for its field does nothing.
type IPv4 []byte

// ParseIPv4 checks that b starts with an IPv4 header and returns the packet
// as a view, trimmed to its Total Length so that link-layer padding (an
// Ethernet frame's minimum size) is not taken for payload. It does not copy
// or allocate; it does not verify the header checksum (ChecksumValid does),
// because a stack that received the packet from a kernel TUN device may
// trust it.
//
// b shorter than 20 octets is ErrTruncated; a version other than 4 is
// ErrBadVersion; an IHL below 5 words or beyond b is ErrBadHeaderLength; a
// Total Length shorter than the header or longer than b is
// ErrBadTotalLength.
func ParseIPv4(b []byte) (IPv4, error) {
	if len(b) < IPv4MinHeaderLen {
		return nil, ErrTruncated
	}
	if b[0]>>4 != 4 {
		return nil, ErrBadVersion
	}
	hl := int(b[0]&0x0f) * 4
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return nil, ErrBadHeaderLength
	}
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	if tl < hl || tl > len(b) {
		return nil, ErrBadTotalLength
	}
	return IPv4(b[:tl]), nil
}

// Version returns the Version field, 4 for a parsed view.
func (ip IPv4) Version() uint8 {
	if len(ip) < 1 {
		return 0
	}
	return ip[0] >> 4
}

// HeaderLen returns the header length in octets (IHL times 4), as the
// header says.
func (ip IPv4) HeaderLen() int {
	if len(ip) < 1 {
		return 0
	}
	return int(ip[0]&0x0f) * 4
}

// TOS returns the Type of Service octet, today the DSCP (RFC 2474) in the
// high 6 bits and ECN (RFC 3168) in the low 2.
func (ip IPv4) TOS() uint8 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return ip[1]
}

// TotalLength returns the Total Length field: header plus data, in octets.
func (ip IPv4) TotalLength() uint16 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(ip[2:4])
}

// ID returns the Identification field, which groups the fragments of one
// datagram.
func (ip IPv4) ID() uint16 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(ip[4:6])
}

// Flags returns the three flag bits.
func (ip IPv4) Flags() IPv4Flags {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return IPv4Flags(ip[6] >> 5)
}

// DontFragment reports whether DF is set; TCP sets it for path MTU
// discovery (RFC 1191).
func (ip IPv4) DontFragment() bool { return ip.Flags()&IPv4DontFragment != 0 }

// MoreFragments reports whether MF is set: this is a fragment and not the
// last.
func (ip IPv4) MoreFragments() bool { return ip.Flags()&IPv4MoreFragments != 0 }

// FragmentOffset returns the Fragment Offset field, in units of 8 octets
// (RFC 791 3.1).
func (ip IPv4) FragmentOffset() uint16 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(ip[6:8]) & 0x1fff
}

// IsFragment reports whether the packet is a fragment of a larger datagram
// (MF set or a non-zero offset), whose transport header may be elsewhere.
func (ip IPv4) IsFragment() bool { return ip.MoreFragments() || ip.FragmentOffset() != 0 }

// TTL returns the Time to Live.
func (ip IPv4) TTL() uint8 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return ip[8]
}

// Protocol returns the Protocol field, the payload's protocol (ProtoTCP,
// ...).
func (ip IPv4) Protocol() uint8 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return ip[9]
}

// HeaderChecksum returns the Header Checksum field as it is in the header.
func (ip IPv4) HeaderChecksum() uint16 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(ip[10:12])
}

// Src returns the Source Address (the invalid netip.Addr if the view is too
// short).
func (ip IPv4) Src() netip.Addr {
	if len(ip) < IPv4MinHeaderLen {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip[12:16]))
}

// Dst returns the Destination Address (the invalid netip.Addr if the view is
// too short).
func (ip IPv4) Dst() netip.Addr {
	if len(ip) < IPv4MinHeaderLen {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip[16:20]))
}

// headerLen is HeaderLen clamped to [20, len(ip)].
func (ip IPv4) headerLen() int {
	return min(max(ip.HeaderLen(), IPv4MinHeaderLen), len(ip))
}

// Options returns the options area after the fixed header (RFC 791 3.1),
// padding included; it aliases ip.
func (ip IPv4) Options() []byte {
	if len(ip) < IPv4MinHeaderLen {
		return nil
	}
	return ip[IPv4MinHeaderLen:ip.headerLen()]
}

// Payload returns the data after the header, up to the Total Length; it
// aliases ip.
func (ip IPv4) Payload() []byte {
	if len(ip) < IPv4MinHeaderLen {
		return nil
	}
	end := min(int(ip.TotalLength()), len(ip))
	hl := ip.headerLen()
	if end < hl {
		return ip[hl:hl]
	}
	return ip[hl:end]
}

// ComputeChecksum returns the header checksum the header should carry: the
// one's complement of the one's complement sum of the header's 16-bit words,
// the checksum field taken as zero (RFC 791 3.1).
func (ip IPv4) ComputeChecksum() uint16 {
	if len(ip) < IPv4MinHeaderLen {
		return 0
	}
	hdr := ip[:ip.headerLen()]
	return FoldChecksum(Checksum(hdr[12:], Checksum(hdr[:10], 0)))
}

// ChecksumValid reports whether the header checksum is right: the sum over
// the whole header, checksum field included, is all ones (RFC 791 3.1,
// RFC 1071 1).
func (ip IPv4) ChecksumValid() bool {
	if len(ip) < IPv4MinHeaderLen {
		return false
	}
	return FoldChecksum(Checksum(ip[:ip.headerLen()], 0)) == 0
}

// SetTOS sets the Type of Service octet.
func (ip IPv4) SetTOS(tos uint8) {
	if len(ip) >= IPv4MinHeaderLen {
		ip[1] = tos
	}
}

// SetTotalLength sets the Total Length field.
func (ip IPv4) SetTotalLength(n uint16) {
	if len(ip) >= IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(ip[2:4], n)
	}
}

// SetID sets the Identification field.
func (ip IPv4) SetID(id uint16) {
	if len(ip) >= IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(ip[4:6], id)
	}
}

// SetFlagsAndOffset sets the three flag bits and the Fragment Offset (in
// 8-octet units; its high 3 bits are dropped).
func (ip IPv4) SetFlagsAndOffset(f IPv4Flags, off uint16) {
	if len(ip) >= IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(ip[6:8], uint16(f&7)<<13|off&0x1fff)
	}
}

// SetTTL sets the Time to Live.
func (ip IPv4) SetTTL(ttl uint8) {
	if len(ip) >= IPv4MinHeaderLen {
		ip[8] = ttl
	}
}

// SetProtocol sets the Protocol field.
func (ip IPv4) SetProtocol(p uint8) {
	if len(ip) >= IPv4MinHeaderLen {
		ip[9] = p
	}
}

// SetHeaderChecksum sets the Header Checksum field; see FillChecksum.
func (ip IPv4) SetHeaderChecksum(c uint16) {
	if len(ip) >= IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(ip[10:12], c)
	}
}

// FillChecksum sets the Header Checksum to ComputeChecksum, as a router must
// after changing the TTL or a builder after changing any field.
func (ip IPv4) FillChecksum() { ip.SetHeaderChecksum(ip.ComputeChecksum()) }

// SetSrc sets the Source Address; an address that is not IPv4 (or
// IPv4-mapped IPv6) is ignored.
func (ip IPv4) SetSrc(a netip.Addr) {
	a = a.Unmap()
	if len(ip) >= IPv4MinHeaderLen && a.Is4() {
		b := a.As4()
		copy(ip[12:16], b[:])
	}
}

// SetDst sets the Destination Address; an address that is not IPv4 (or
// IPv4-mapped IPv6) is ignored.
func (ip IPv4) SetDst(a netip.Addr) {
	a = a.Unmap()
	if len(ip) >= IPv4MinHeaderLen && a.Is4() {
		b := a.As4()
		copy(ip[16:20], b[:])
	}
}

// Header returns the header's fields in the form BuildIPv4 takes; Options
// aliases ip.
func (ip IPv4) Header() IPv4Header {
	return IPv4Header{
		TOS:            ip.TOS(),
		ID:             ip.ID(),
		Flags:          ip.Flags(),
		FragmentOffset: ip.FragmentOffset(),
		TTL:            ip.TTL(),
		Protocol:       ip.Protocol(),
		Src:            ip.Src(),
		Dst:            ip.Dst(),
		Options:        ip.Options(),
	}
}

// IPv4Header holds the fields of an IPv4 header that a sender chooses (RFC
// 791 3.1). Version, IHL, Total Length and Header Checksum are derived by
// BuildIPv4.
type IPv4Header struct {
	TOS            uint8
	ID             uint16
	Flags          IPv4Flags
	FragmentOffset uint16 // in 8-octet units
	TTL            uint8
	Protocol       uint8
	Src, Dst       netip.Addr // IPv4 or IPv4-mapped IPv6
	// Options are copied verbatim after the fixed header: at most 40
	// octets, a multiple of 4 (pad with End of Option List octets).
	Options []byte
}

// BuildIPv4 appends an IPv4 header for a payload of payloadLen octets to dst
// and returns the extended slice; the caller appends the payload. The Total
// Length covers header and payload, and the Header Checksum is filled in.
// BuildIPv4 allocates nothing if dst has the capacity.
//
// Src or Dst not IPv4 is ErrAddressFamily, options too long or not a
// multiple of 4 are ErrBadIPOptions, and a total length over 65535 (or a
// negative payloadLen) is ErrTooLong; dst is then returned unchanged.
func BuildIPv4(dst []byte, h *IPv4Header, payloadLen int) ([]byte, error) {
	src, dstAddr := h.Src.Unmap(), h.Dst.Unmap()
	if !src.Is4() || !dstAddr.Is4() {
		return dst, ErrAddressFamily
	}
	if len(h.Options) > IPv4MaxHeaderLen-IPv4MinHeaderLen || len(h.Options)%4 != 0 {
		return dst, ErrBadIPOptions
	}
	hl := IPv4MinHeaderLen + len(h.Options)
	if payloadLen < 0 || payloadLen > 0xffff-hl {
		return dst, ErrTooLong
	}
	start := len(dst)
	dst = slices.Grow(dst, hl)
	dst = dst[:start+IPv4MinHeaderLen]
	hdr := dst[start:]
	hdr[0] = 4<<4 | byte(hl/4)
	hdr[1] = h.TOS
	binary.BigEndian.PutUint16(hdr[2:4], uint16(hl+payloadLen))
	binary.BigEndian.PutUint16(hdr[4:6], h.ID)
	binary.BigEndian.PutUint16(hdr[6:8], uint16(h.Flags&7)<<13|h.FragmentOffset&0x1fff)
	hdr[8] = h.TTL
	hdr[9] = h.Protocol
	hdr[10], hdr[11] = 0, 0
	s, d := src.As4(), dstAddr.As4()
	copy(hdr[12:16], s[:])
	copy(hdr[16:20], d[:])
	dst = append(dst, h.Options...)
	hdr = dst[start:]
	binary.BigEndian.PutUint16(hdr[10:12], FoldChecksum(Checksum(hdr, 0)))
	return dst, nil
}

package wire

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// IPv6HeaderLen is the length of the fixed IPv6 header (RFC 8200 3).
const IPv6HeaderLen = 40

// MaxExtensionHeaders bounds how many extension headers UpperLayer and
// SkipIPv6Extensions walk before giving up with ErrTooManyExtensionHeaders.
// RFC 8200 4.1 recommends each kind appear at most once (Destination Options
// twice), which is 5 for the kinds walked here; 8 leaves slack.
const MaxExtensionHeaders = 8

// IPv6 is a zero-copy view of an IPv6 packet (RFC 8200 3): the fixed header
// and what follows it, extension headers included.
//
// ParseIPv6 returns a view trimmed to the Payload Length, with its lengths
// checked. The accessors never panic on any IPv6 value: a field beyond the
// end reads as zero, Payload is clamped to the bytes there are, and a setter
// on a view too short for its field does nothing.
type IPv6 []byte

// ParseIPv6 checks that b starts with an IPv6 header and returns the packet
// as a view, trimmed to 40 octets plus its Payload Length so that
// link-layer padding is not taken for payload. It does not copy or
// allocate, and leaves the extension headers to UpperLayer.
//
// b shorter than 40 octets is ErrTruncated; a version other than 6 is
// ErrBadVersion; a Payload Length beyond the end of b is ErrBadTotalLength.
// Jumbograms (RFC 2675, Payload Length 0 with a Jumbo Payload option) are
// not supported: a zero Payload Length means an empty payload.
func ParseIPv6(b []byte) (IPv6, error) {
	if len(b) < IPv6HeaderLen {
		return nil, ErrTruncated
	}
	if b[0]>>4 != 6 {
		return nil, ErrBadVersion
	}
	n := IPv6HeaderLen + int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b) {
		return nil, ErrBadTotalLength
	}
	return IPv6(b[:n]), nil
}

// Version returns the Version field, 6 for a parsed view.
func (ip IPv6) Version() uint8 {
	if len(ip) < 1 {
		return 0
	}
	return ip[0] >> 4
}

// TrafficClass returns the Traffic Class octet: DSCP (RFC 2474) in the high
// 6 bits and ECN (RFC 3168) in the low 2.
func (ip IPv6) TrafficClass() uint8 {
	if len(ip) < IPv6HeaderLen {
		return 0
	}
	return uint8(binary.BigEndian.Uint16(ip[0:2]) >> 4)
}

// FlowLabel returns the 20-bit Flow Label (RFC 6437).
func (ip IPv6) FlowLabel() uint32 {
	if len(ip) < IPv6HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(ip[0:4]) & 0xfffff
}

// PayloadLength returns the Payload Length field: the octets after the
// fixed header, extension headers included.
func (ip IPv6) PayloadLength() uint16 {
	if len(ip) < IPv6HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(ip[4:6])
}

// NextHeader returns the Next Header field: the type of the first extension
// header, or the upper-layer protocol if there is none.
func (ip IPv6) NextHeader() uint8 {
	if len(ip) < IPv6HeaderLen {
		return 0
	}
	return ip[6]
}

// HopLimit returns the Hop Limit.
func (ip IPv6) HopLimit() uint8 {
	if len(ip) < IPv6HeaderLen {
		return 0
	}
	return ip[7]
}

// Src returns the Source Address (the invalid netip.Addr if the view is too
// short).
func (ip IPv6) Src() netip.Addr {
	if len(ip) < IPv6HeaderLen {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip[8:24]))
}

// Dst returns the Destination Address (the invalid netip.Addr if the view is
// too short).
func (ip IPv6) Dst() netip.Addr {
	if len(ip) < IPv6HeaderLen {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip[24:40]))
}

// Payload returns what follows the fixed header, up to the Payload Length,
// extension headers included; it aliases ip. UpperLayer skips the
// extension headers.
func (ip IPv6) Payload() []byte {
	if len(ip) < IPv6HeaderLen {
		return nil
	}
	end := min(IPv6HeaderLen+int(ip.PayloadLength()), len(ip))
	return ip[IPv6HeaderLen:end]
}

// UpperLayer skips the packet's extension headers and returns the
// upper-layer protocol (the last Next Header value) and its bytes; see
// SkipIPv6Extensions.
func (ip IPv6) UpperLayer() (proto uint8, payload []byte, err error) {
	if len(ip) < IPv6HeaderLen {
		return 0, nil, ErrTruncated
	}
	return SkipIPv6Extensions(ip.NextHeader(), ip.Payload())
}

// SkipIPv6Extensions walks a chain of IPv6 extension headers that starts
// with Next Header value next at the start of b (the payload of the fixed
// header), and returns the first header type it does not skip and the bytes
// from there on. It skips Hop-by-Hop Options (RFC 8200 4.3), Routing (4.4),
// Destination Options (4.6) and atomic Fragment headers (4.5, RFC 6946: an
// offset of 0 without the M flag); anything else, including No Next Header
// (59), AH and ESP, is returned as the upper layer. It never allocates.
//
// A header that does not fit in b, or a Hop-by-Hop Options header anywhere
// but first (RFC 8200 4.1), is ErrBadExtensionHeader; more than
// MaxExtensionHeaders headers is ErrTooManyExtensionHeaders. A real
// fragment is ErrFragment, returned with ProtoFragment and the bytes from
// the Fragment header on, so that a caller could reassemble.
func SkipIPv6Extensions(next uint8, b []byte) (proto uint8, payload []byte, err error) {
	for i := 0; ; i++ {
		switch next {
		case ProtoHopByHop, ProtoRouting, ProtoDestOpts, ProtoFragment:
		default:
			return next, b, nil
		}
		if i >= MaxExtensionHeaders {
			return next, b, ErrTooManyExtensionHeaders
		}
		if len(b) < 8 {
			return next, b, ErrBadExtensionHeader
		}
		n := 8 // the Fragment header has a fixed length
		switch next {
		case ProtoHopByHop:
			if i != 0 {
				return next, b, ErrBadExtensionHeader
			}
			n = (int(b[1]) + 1) * 8 // Hdr Ext Len: 8-octet units past the first 8
		case ProtoRouting, ProtoDestOpts:
			n = (int(b[1]) + 1) * 8
		case ProtoFragment:
			if binary.BigEndian.Uint16(b[2:4])&0xfff9 != 0 { // offset, or M
				return next, b, ErrFragment
			}
		}
		if n > len(b) {
			return next, b, ErrBadExtensionHeader
		}
		next = b[0]
		b = b[n:]
	}
}

// SetTrafficClass sets the Traffic Class.
func (ip IPv6) SetTrafficClass(tc uint8) {
	if len(ip) >= IPv6HeaderLen {
		v := binary.BigEndian.Uint32(ip[0:4])
		binary.BigEndian.PutUint32(ip[0:4], v&^(0xff<<20)|uint32(tc)<<20)
	}
}

// SetFlowLabel sets the Flow Label (its high 12 bits are dropped).
func (ip IPv6) SetFlowLabel(fl uint32) {
	if len(ip) >= IPv6HeaderLen {
		v := binary.BigEndian.Uint32(ip[0:4])
		binary.BigEndian.PutUint32(ip[0:4], v&^0xfffff|fl&0xfffff)
	}
}

// SetPayloadLength sets the Payload Length.
func (ip IPv6) SetPayloadLength(n uint16) {
	if len(ip) >= IPv6HeaderLen {
		binary.BigEndian.PutUint16(ip[4:6], n)
	}
}

// SetNextHeader sets the Next Header field.
func (ip IPv6) SetNextHeader(p uint8) {
	if len(ip) >= IPv6HeaderLen {
		ip[6] = p
	}
}

// SetHopLimit sets the Hop Limit.
func (ip IPv6) SetHopLimit(h uint8) {
	if len(ip) >= IPv6HeaderLen {
		ip[7] = h
	}
}

// SetSrc sets the Source Address; an address that is not IPv6 is ignored.
func (ip IPv6) SetSrc(a netip.Addr) {
	if len(ip) >= IPv6HeaderLen && a.Is6() {
		b := a.As16()
		copy(ip[8:24], b[:])
	}
}

// SetDst sets the Destination Address; an address that is not IPv6 is
// ignored.
func (ip IPv6) SetDst(a netip.Addr) {
	if len(ip) >= IPv6HeaderLen && a.Is6() {
		b := a.As16()
		copy(ip[24:40], b[:])
	}
}

// Header returns the header's fields in the form BuildIPv6 takes.
func (ip IPv6) Header() IPv6Header {
	return IPv6Header{
		TrafficClass: ip.TrafficClass(),
		FlowLabel:    ip.FlowLabel(),
		NextHeader:   ip.NextHeader(),
		HopLimit:     ip.HopLimit(),
		Src:          ip.Src(),
		Dst:          ip.Dst(),
	}
}

// IPv6Header holds the fields of an IPv6 header that a sender chooses (RFC
// 8200 3). Version and Payload Length are derived by BuildIPv6.
type IPv6Header struct {
	TrafficClass uint8
	FlowLabel    uint32 // 20 bits; the high 12 are dropped
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     netip.Addr // IPv6 (zones are dropped)
}

// BuildIPv6 appends a fixed IPv6 header for a payload of payloadLen octets
// (extension headers included) to dst and returns the extended slice; the
// caller appends the payload. It allocates nothing if dst has the capacity.
// IPv6 has no header checksum (RFC 8200 8.1 leaves it to the upper layer).
//
// Src or Dst not IPv6 is ErrAddressFamily; a payloadLen over 65535 or
// negative is ErrTooLong (jumbograms are not supported); dst is then
// returned unchanged.
func BuildIPv6(dst []byte, h *IPv6Header, payloadLen int) ([]byte, error) {
	if !h.Src.Is6() || !h.Dst.Is6() {
		return dst, ErrAddressFamily
	}
	if payloadLen < 0 || payloadLen > 0xffff {
		return dst, ErrTooLong
	}
	start := len(dst)
	dst = slices.Grow(dst, IPv6HeaderLen)
	dst = dst[:start+IPv6HeaderLen]
	hdr := dst[start:]
	binary.BigEndian.PutUint32(hdr[0:4], 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(hdr[4:6], uint16(payloadLen))
	hdr[6] = h.NextHeader
	hdr[7] = h.HopLimit
	s, d := h.Src.As16(), h.Dst.As16()
	copy(hdr[8:24], s[:])
	copy(hdr[24:40], d[:])
	return dst, nil
}

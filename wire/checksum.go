package wire

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Checksum adds b to the Internet checksum accumulator initial and returns
// the new accumulator: the 16-bit one's complement sum of RFC 1071, kept
// unfolded in 32 bits so that sums can be chained (a pseudo-header, then a
// header, then a payload held elsewhere). Start a fresh sum with initial 0.
//
// b is read as a sequence of big-endian 16-bit words; an odd final octet is
// padded with a zero octet on the right (RFC 1071 1, RFC 9293 3.1). Only the
// last slice of a chain may have an odd length, because an odd slice in the
// middle would shift every word after it.
//
// The loop adds 64-bit words with end-around carry, which folds down to the
// same 16-bit sum (RFC 1071 2(C), parallel summation), eight octets at a
// time.
func Checksum(b []byte, initial uint32) uint32 {
	s := uint64(initial)
	var c uint64
	for len(b) >= 32 {
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[8:16]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[16:24]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	// Fold the carry back in (end-around carry). If this overflows, s is 0
	// and adding the new carry cannot overflow again.
	s, c = bits.Add64(s, 0, c)
	s += c
	// Fold 64 bits into 32 (leaving room for the tail's few additions).
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	if len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b[0:4]))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b[0:2]))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	return uint32(s)
}

// FoldChecksum folds a Checksum accumulator to 16 bits and complements it,
// giving the value that goes in a header's checksum field (RFC 1071 1). On
// receipt, folding the sum over the whole header, checksum field included,
// gives 0 when the checksum is right.
func FoldChecksum(sum uint32) uint16 {
	s := (sum >> 16) + (sum & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return ^uint16(s)
}

// PseudoHeaderSum returns the Checksum accumulator of the pseudo-header that
// TCP and UDP checksums cover, so that a transport header is tied to the IP
// addresses it travelled between. length is the upper-layer packet length
// (header plus payload, in octets).
//
// If both addresses are IPv4 it is RFC 9293 3.1's 12-octet pseudo-header:
// source, destination, a zero octet, proto, and the 16-bit TCP length.
// Otherwise it is RFC 8200 8.1's 40-octet pseudo-header: 16-octet source and
// destination (an IPv4 address taking its IPv4-mapped form), the 32-bit
// upper-layer packet length, three zero octets and the next header value
// proto. length is truncated to the field's width (16 or 32 bits).
func PseudoHeaderSum(proto uint8, src, dst netip.Addr, length int) uint32 {
	var s uint64
	if src.Is4() && dst.Is4() {
		a, b := src.As4(), dst.As4()
		s = uint64(binary.BigEndian.Uint32(a[:])) + uint64(binary.BigEndian.Uint32(b[:]))
		s += uint64(proto) + uint64(uint16(length))
	} else {
		a, b := src.As16(), dst.As16()
		s = sum32s(a[:]) + sum32s(b[:])
		s += uint64(uint32(length)) + uint64(proto)
	}
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	return uint32(s)
}

// sum32s adds the big-endian 32-bit words of a 16-octet address; four words
// cannot overflow 64 bits.
func sum32s(b []byte) uint64 {
	_ = b[15]
	return uint64(binary.BigEndian.Uint32(b[0:4])) + uint64(binary.BigEndian.Uint32(b[4:8])) +
		uint64(binary.BigEndian.Uint32(b[8:12])) + uint64(binary.BigEndian.Uint32(b[12:16]))
}

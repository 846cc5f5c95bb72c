package wire

import (
	"encoding/binary"
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
// The accumulator returned is congruent (mod 0xffff) to initial plus the
// words of b, and is 0 only if both are: the two zeros of one's complement
// are told apart as RFC 1071's textbook loop tells them apart. Its exact
// unfolded value is not part of the contract; fold it with FoldChecksum.
//
// The words are summed eight octets or more at a time with end-around carry
// (RFC 1071 2(C), parallel summation), in little-endian order, and the
// folded 16-bit sum is byte-swapped once at the end (RFC 1071 2(B), byte
// order independence). On amd64 with AVX2, inputs of vectorMin (128)
// octets or more are summed 32 octets per instruction by assembly
// (checksum_amd64.s); elsewhere, and under the purego build tag, a
// portable Go loop does the work (checksum in checksum_generic.go).
func Checksum(b []byte, initial uint32) uint32 {
	return checksum(b, initial, haveVector)
}

// ChecksumCopy copies src into dst, as copy(dst, src) does, and returns
// Checksum(src, initial): the checksum of a payload computed while it is
// moved into a packet, or out of one, in a single pass over the octets. dst
// must be at least as long as src; it may overlap src, and the sum is then
// of src as it was before the copy.
//
// It panics if dst is shorter than src (a caller's bug: the copy would be
// cut short and the sum no longer that of the octets in dst).
func ChecksumCopy(dst, src []byte, initial uint32) uint32 {
	if len(dst) < len(src) {
		panic("wire: ChecksumCopy: dst shorter than src")
	}
	if haveVector && len(src) >= vectorCopyMin {
		return copyChecksumVector(dst, src, initial)
	}
	n := copy(dst, src)
	return checksum(dst[:n], initial, false)
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

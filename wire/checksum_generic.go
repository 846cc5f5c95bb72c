package wire

import (
	"encoding/binary"
	"math/bits"
)

// checksum is Checksum, which is inlined as a call to it: with vector
// false (tests, ChecksumCopy's short inputs) or without assembly it is the
// portable Go loop for every length, and with vector true inputs of
// vectorMin octets or more go to the assembly. Keeping the loop here rather
// than behind one more call saves a tenth of the time of a short sum.
//
// The loop adds 64-bit little-endian words with end-around carry (RFC 1071
// 2(C)), 64 octets per iteration so that the carry chain, not the loop,
// sets the pace; a little-endian load is a plain load on the common hosts.
// The sum S of the little-endian 16-bit words is turned into the
// big-endian sum at the end (RFC 1071 2(B)): swapping the octets of a
// 16-bit word w gives 256*w mod 0xffff, so rotating the 64-bit S left by 8
// bits, which is multiplying it by 256 mod 2^64-1 (a multiple of 0xffff),
// yields a value congruent to the big-endian sum. Every step keeps a
// non-zero sum non-zero, so only all-zero data sums to +0.
func checksum(b []byte, initial uint32, vector bool) uint32 {
	if vector && len(b) >= vectorMin {
		return checksumVector(b, initial)
	}
	var s, c uint64
	for len(b) >= 64 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:24]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:32]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[32:40]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[40:48]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[48:56]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[56:64]), c)
		b = b[64:]
	}
	// The 0-63 octets left, without a loop (a loop would have to save
	// and restore the carry on every turn).
	if len(b) >= 32 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:24]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	if len(b) >= 16 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		b = b[16:]
	}
	if len(b) >= 8 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	// The last 0-7 octets, zero-padded on the right, as one more
	// little-endian word: an odd final octet lands in the low half of its
	// 16-bit word, which the final swap makes the high half (RFC 1071 1's
	// padding).
	var t uint64
	var shift uint
	if len(b) >= 4 {
		t = uint64(binary.LittleEndian.Uint32(b[0:4]))
		b = b[4:]
		shift = 32
	}
	if len(b) >= 2 {
		t |= uint64(binary.LittleEndian.Uint16(b[0:2])) << shift
		b = b[2:]
		shift += 16
	}
	if len(b) == 1 {
		t |= uint64(b[0]) << shift
	}
	s, c = bits.Add64(s, t, c)
	// Fold the last carry back in (end-around carry). If this overflows, s
	// is 0 and adding the new carry cannot overflow again.
	s, c = bits.Add64(s, 0, c)
	s += c
	// Into network order, then fold to 32 bits and add initial, both with
	// end-around carry; the last carry cannot overflow again, since an
	// addition that carries leaves at most 2^32 - 2.
	s = bits.RotateLeft64(s, 8)
	lo, c32 := bits.Add32(uint32(s), uint32(s>>32), 0)
	lo, c32 = bits.Add32(lo, initial, c32)
	return lo + c32
}

//go:build amd64 && !purego

package wire

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveVector reports whether the AVX2 assembly may run: the CPU has AVX2
// and the OS saves the YMM registers (cpu.X86.HasAVX2 checks both).
var haveVector = cpu.X86.HasAVX2

// vectorMin is the length from which Checksum calls the assembly; below
// it the portable loop is as fast (BenchmarkChecksumPaths). It must be at
// least 8, which the assembly needs.
const vectorMin = 128

// vectorCopyMin is the length from which ChecksumCopy calls the assembly;
// below it copy then the portable loop is as fast (BenchmarkChecksumCopy).
// At least 8, as vectorMin.
const vectorCopyMin = 128

// maxVectorChunk bounds the octets one assembly call sees, so that its
// 64-bit lanes cannot overflow (checksum_amd64.s). It is even, so that
// chained pieces keep every 16-bit word whole.
const maxVectorChunk = 1 << 32

// checksumAVX2 is Checksum(b, initial) for 8 <= len(b) <= maxVectorChunk.
//
//go:noescape
func checksumAVX2(b []byte, initial uint32) uint32

// copyChecksumAVX2 copies n octets from src to dst, which must not
// overlap, and returns Checksum(src[:n], initial), for
// 8 <= n <= maxVectorChunk.
//
//go:noescape
func copyChecksumAVX2(dst, src *byte, n int, initial uint32) uint32

// checksumVector is Checksum by the assembly, for len(b) >= 8.
func checksumVector(b []byte, initial uint32) uint32 {
	return checksumVectorChunks(b, initial, maxVectorChunk)
}

// checksumVectorChunks is checksumVector in pieces of at most chunk octets
// (even and at least 8; tests make it small), chained through the
// accumulator.
func checksumVectorChunks(b []byte, initial uint32, chunk int) uint32 {
	for len(b) > chunk {
		initial = checksumAVX2(b[:chunk], initial)
		b = b[chunk:]
	}
	if len(b) < 8 {
		return checksum(b, initial, false)
	}
	return checksumAVX2(b, initial)
}

// copyChecksumVector is ChecksumCopy by the assembly, for
// len(dst) >= len(src) >= 8.
func copyChecksumVector(dst, src []byte, initial uint32) uint32 {
	return copyChecksumVectorChunks(dst, src, initial, maxVectorChunk)
}

// copyChecksumVectorChunks is copyChecksumVector in pieces of at most chunk
// octets (even and at least 8; tests make it small). Overlapping slices
// are copied first and the copy summed, so that the sum is of src as it
// was.
func copyChecksumVectorChunks(dst, src []byte, initial uint32, chunk int) uint32 {
	dst = dst[:len(src)]
	if overlap(dst, src) {
		copy(dst, src)
		return checksumVectorChunks(dst, initial, chunk)
	}
	for len(src) > chunk {
		initial = copyChecksumAVX2(&dst[0], &src[0], chunk, initial)
		dst, src = dst[chunk:], src[chunk:]
	}
	if len(src) < 8 {
		n := copy(dst, src)
		return checksum(dst[:n], initial, false)
	}
	return copyChecksumAVX2(&dst[0], &src[0], len(src), initial)
}

// overlap reports whether two non-empty slices share any memory: whether
// the later start comes before the earlier end. It takes the same path
// whichever slice lies lower, so that fuzzing coverage does not depend on
// where the allocator put them.
func overlap(a, b []byte) bool {
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return max(pa, pb) < min(pa+uintptr(len(a)), pb+uintptr(len(b)))
}

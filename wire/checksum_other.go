//go:build !amd64 || purego

package wire

// Without assembly (other GOARCHes, or the purego build tag) every input
// takes the portable loop.

const (
	haveVector    = false
	vectorMin     = 0
	vectorCopyMin = 0
)

func checksumVector(b []byte, initial uint32) uint32 { return checksum(b, initial, false) }

func checksumVectorChunks(b []byte, initial uint32, _ int) uint32 {
	return checksum(b, initial, false)
}

func copyChecksumVector(dst, src []byte, initial uint32) uint32 {
	n := copy(dst, src)
	return checksum(dst[:n], initial, false)
}

func copyChecksumVectorChunks(dst, src []byte, initial uint32, _ int) uint32 {
	return copyChecksumVector(dst, src, initial)
}

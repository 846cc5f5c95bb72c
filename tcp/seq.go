package tcp

// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): a is "less than" b
// when b lies less than 2^31 ahead of a.

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }
func seqGEQ(a, b uint32) bool { return int32(a-b) >= 0 }

// seqInWindow reports whether lo <= x < lo+size.
func seqInWindow(x, lo, size uint32) bool { return x-lo < size }

func seqMax(a, b uint32) uint32 {
	if seqGT(a, b) {
		return a
	}
	return b
}

func seqMin(a, b uint32) uint32 {
	if seqLT(a, b) {
		return a
	}
	return b
}

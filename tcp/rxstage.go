package tcp

import "github.com/synfin/synfin/wire"

// Receive staging: the checksum check and the copy into the receive buffer
// in one pass.
//
// A stack that verifies TCP checksums in software reads every payload byte
// twice on receipt: once to verify the checksum, once to copy the payload
// into the receive buffer. For a large in-order segment, the common case of
// a bulk transfer, StagePayload does both at once: it copies the payload
// to where it will sit in the receive buffer (the free space just past
// RCV.NXT, which holds nothing yet) and returns the checksum accumulator of
// the payload as it goes. The caller completes the check; if it fails, it
// calls Unstage and drops the segment, and the bytes copied lie in free
// space that nothing reads. If it passes, it calls Input, whose text
// processing (RFC 9293 3.10.7.4, seventh check) finds the payload already
// in place and only moves RCV.NXT. Either way the segment's processing is
// that of RFC 9293: a segment is acted on only once its checksum is known
// to be right.
//
// When a reader waits with its buffer lent (directread.go), the payload is
// staged in that buffer instead, past the bytes it holds already: the check
// and the one copy to the application are then the same pass.
//
// Staging is declined (the caller then verifies the checksum itself) when
// the payload would not simply be appended at RCV.NXT: not in order, data
// held out of order, a state in which text is not accepted, or a ring split
// at an odd offset (which the checksum's 16-bit words cannot be chained
// across).
//
// The staged payload is recognised in Input by the address of its first
// byte, and forgotten when Input returns: the memory of a packet is reused
// once the caller is done with it.

// StagePayload copies payload, the data of a segment starting at seq that
// the caller is about to pass to Input, into the receive buffer, and
// returns Checksum(payload, sum) (wire.Checksum's accumulator) computed in
// the same pass, and true. It returns false, having copied nothing, when
// the segment cannot be staged.
func (t *TCB) StagePayload(seq uint32, payload []byte, sum uint32) (uint32, bool) {
	t.Unstage()
	if len(payload) == 0 || seq != t.rcvNxt ||
		t.orphan || t.readShut || t.rcvFin || t.peerFin || t.rcvBuf.oooBytes() > 0 {
		return 0, false
	}
	switch t.state {
	case Established, FinWait1, FinWait2:
	default:
		return 0, false
	}
	if !seqGT(t.rcvAdv, t.rcvNxt) {
		return 0, false
	}
	n := min(len(payload), int(t.rcvAdv-t.rcvNxt))
	toLent := t.lent != nil && t.directOK()
	if toLent {
		// A reader waits (directread.go): straight into its buffer, past
		// what it has received already.
		n = min(n, len(t.lent)-int(t.lentN))
	} else {
		n = min(n, t.rcvBuf.limit()-t.rcvBuf.readable())
	}
	if n < len(payload) {
		n &^= 1 // the rest is summed after it: keep the words aligned
	}
	if n <= 0 {
		return 0, false
	}
	var acc uint32
	if toLent {
		acc = wire.ChecksumCopy(t.lent[t.lentN:], payload[:n], sum)
	} else {
		var ok bool
		if acc, ok = t.rcvBuf.stage(payload[:n], sum); !ok {
			return 0, false
		}
	}
	if n < len(payload) {
		acc = wire.Checksum(payload[n:], acc)
	}
	t.stagedFor, t.stagedN, t.stagedLent = &payload[0], int32(n), toLent
	return acc, true
}

// Unstage forgets a staged payload whose segment will not be input (its
// checksum was wrong).
func (t *TCB) Unstage() { t.stagedFor, t.stagedN, t.stagedLent = nil, 0, false }

// stagedPrefix reports how many bytes at the start of p, the text of the
// segment being processed, are already in place in the receive buffer.
func (t *TCB) stagedPrefix(p []byte) int {
	if t.stagedN == 0 || len(p) == 0 || &p[0] != t.stagedFor {
		return 0
	}
	return min(int(t.stagedN), len(p))
}

// stage copies p into the ring just past the in-order data (which must be
// followed by nothing: no out-of-order ranges), making room as write would,
// and returns Checksum(p, sum) computed in the same pass. It declines (false)
// if the ring would split p at an odd offset.
func (b *recvBuffer) stage(p []byte, sum uint32) (uint32, bool) {
	if len(b.ranges) > 0 {
		return 0, false
	}
	if int(b.r)+len(p) > len(b.buf) {
		b.buf = regrow(b.buf, int(b.head), int(b.r), int(b.r)+len(p), int(b.lim))
		b.head = 0
	}
	i := ringIndex(int(b.head), int(b.r), len(b.buf))
	first := len(b.buf) - i
	if first >= len(p) {
		return wire.ChecksumCopy(b.buf[i:], p, sum), true
	}
	if first%2 == 1 {
		return 0, false
	}
	sum = wire.ChecksumCopy(b.buf[i:], p[:first], sum)
	return wire.ChecksumCopy(b.buf, p[first:], sum), true
}

// writeStaged is write(0, p) for a p whose first staged bytes stage has
// already copied into place.
func (b *recvBuffer) writeStaged(p []byte, staged int) (advanced, stored int) {
	if staged == 0 || len(b.ranges) > 0 {
		return b.write(0, p)
	}
	space := int(b.lim) - int(b.r)
	n := min(len(p), space)
	if n < staged {
		staged = n
	}
	if int(b.r)+n > len(b.buf) {
		// Cannot happen when staged > 0 (stage made room for it), but a
		// rest beyond the staged part is copied as write would.
		return b.write(0, p)
	}
	if n > staged {
		b.store(staged, p[staged:n])
	}
	b.r += int32(n)
	return n, n
}

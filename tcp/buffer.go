package tcp

// Send and receive buffers.
//
// Both are rings: the live bytes start at head and may wrap around the end
// of the array, so dropping bytes at the head (an ACK, a read) and
// appending at the tail (a write, a segment) never move what is held. In
// the steady state of a bulk transfer (buffer full, every ACK or read frees
// a little, the other side refills it at once) a linear buffer would have
// to slide its live bytes back to the front over and over, about one extra
// copy of every byte; a ring copies each byte in once and out once.
//
// A segment's payload must be one contiguous slice. A range of the send
// buffer that wraps around the end of the array is therefore copied into a
// scratch slice (wrap), which happens once per trip around the ring: one
// segment's worth of copying per buffer's worth of data sent.
//
// Memory. Arrays are allocated lazily (a fresh or shrunk buffer holds none)
// and grow by doubling up to the limit, laying the live bytes out at the
// front of the new array (amortised O(1) moves per byte). The array never
// exceeds the limit, or what the buffer holds if the limit was lowered
// below that; the send buffer's scratch adds at most one segment.
//
// Steady-state operation does not allocate: once the array has reached its
// working size, writes, reads, peeks and consumes only copy and move indices.

// minBufferAlloc is the size of the first array a buffer allocates (or the
// limit, if smaller): a few segments' worth, so that a connection carrying a
// handful of small messages never grows beyond it.
const minBufferAlloc = 4096

// regrow returns a larger ring holding the live bytes of buf (live bytes
// from index head, wrapping) at its front: at least need bytes, doubling
// from the current size, and no more than lim unless need is more.
func regrow(buf []byte, head, live, need, lim int) []byte {
	n := 2 * len(buf)
	if n < minBufferAlloc {
		n = minBufferAlloc
	}
	for n < need {
		n *= 2
	}
	if n > lim {
		n = lim
	}
	if n < need {
		// Only when the limit was lowered below what the buffer holds.
		n = need
	}
	nb := make([]byte, n)
	ringRead(nb[:live], buf, head)
	return nb
}

// ringRead copies len(dst) bytes of ring buf, starting at index i, into dst.
func ringRead(dst, buf []byte, i int) {
	c := copy(dst, buf[i:])
	copy(dst[c:], buf)
}

// ringWrite copies src into ring buf, starting at index i.
func ringWrite(buf []byte, i int, src []byte) {
	c := copy(buf[i:], src)
	copy(buf, src[c:])
}

// ringIndex is head+off reduced into a ring of n bytes (off < n).
func ringIndex(head, off, n int) int {
	if i := head + off; i < n {
		return i
	}
	return head + off - n
}

// sendBuffer holds the bytes from SND.UNA onward: first those sent but not
// yet acknowledged, then those not yet sent. Offsets are relative to SND.UNA.
// The engine keeps the SYN and FIN, which occupy sequence space but no bytes,
// out of it.
type sendBuffer struct {
	buf  []byte  // ring, len == cap; nil when empty and shrunk
	wrap *[]byte // scratch for a peek that wraps around the end of buf
	// 32-bit indices (buffers stay far below 2 GiB) keep the TCB small.
	head int32 // index of the byte at SND.UNA
	n    int32 // bytes held
	lim  int32 // capacity in bytes (SO_SNDBUF)
}

// setLimit sets the capacity in bytes (SO_SNDBUF). It may be set below Len;
// the buffer then keeps what it holds and Free is 0 until enough is consumed.
func (b *sendBuffer) setLimit(n int) {
	b.lim = int32(clampBufferSize(n))
}

func (b *sendBuffer) limit() int { return int(b.lim) }

// Len is the number of bytes held: unacknowledged plus unsent.
func (b *sendBuffer) Len() int { return int(b.n) }

// Free is how many more bytes write accepts: limit - Len, never negative.
func (b *sendBuffer) Free() int {
	if f := int(b.lim) - int(b.n); f > 0 {
		return f
	}
	return 0
}

// write appends min(len(p), Free()) bytes of p and returns how many.
func (b *sendBuffer) write(p []byte) int {
	n := len(p)
	if f := b.Free(); n > f {
		n = f
	}
	if n == 0 {
		return 0
	}
	held := int(b.n)
	if held+n > len(b.buf) {
		b.buf = regrow(b.buf, int(b.head), held, held+n, int(b.lim))
		b.head = 0
	}
	ringWrite(b.buf, ringIndex(int(b.head), held, len(b.buf)), p[:n])
	b.n += int32(n)
	return n
}

// peek returns a view of up to n bytes starting off bytes after SND.UNA,
// shorter if the buffer ends first, and nil if off >= Len (or n <= 0). The
// slice aliases the buffer (or, when the range wraps around the end of the
// ring, the buffer's scratch): it is valid until the next write, peek,
// consume or shrink, and its capacity is cut so that appending to it cannot
// scribble on the buffer.
func (b *sendBuffer) peek(off, n int) []byte {
	p, _ := b.peekRing(off, n)
	return p
}

// peekRing is peek, also reporting whether the view is the ring's own
// memory (inRing) rather than a copy in the scratch. Bytes of the ring are
// not written again until consume has dropped them (and a regrow leaves
// the old array as it was), which is what makes a first transmission's
// payload Pinned.
func (b *sendBuffer) peekRing(off, n int) (p []byte, inRing bool) {
	held := int(b.n)
	if off < 0 || off >= held || n <= 0 {
		return nil, false
	}
	if n > held-off {
		n = held - off
	}
	s := ringIndex(int(b.head), off, len(b.buf))
	if s+n <= len(b.buf) {
		return b.buf[s : s+n : s+n], true
	}
	if b.wrap == nil || cap(*b.wrap) < n {
		w := make([]byte, n)
		b.wrap = &w
	}
	w := (*b.wrap)[:n:n]
	ringRead(w, b.buf, s)
	return w, false
}

// consume drops n bytes from the head, because they were acknowledged
// (SND.UNA advanced by n). n > Len is clamped.
func (b *sendBuffer) consume(n int) {
	if n <= 0 {
		return
	}
	if n >= int(b.n) {
		// Empty: restart at the front.
		b.head, b.n = 0, 0
		return
	}
	b.head = int32(ringIndex(int(b.head), n, len(b.buf)))
	b.n -= int32(n)
}

// shrink releases the backing array and the scratch if the buffer is
// empty, so an idle connection holds no buffer memory (Linux's
// sk_mem_reclaim).
func (b *sendBuffer) shrink() {
	if b.n == 0 {
		b.buf, b.head, b.wrap = nil, 0, nil
	}
}

// memory is the size of the arrays held, in bytes.
func (b *sendBuffer) memory() int {
	if b.wrap != nil {
		return cap(b.buf) + cap(*b.wrap)
	}
	return cap(b.buf)
}

// maxBufferSize bounds a buffer's limit, so that its 32-bit indices never
// overflow (Linux caps socket buffers at INT_MAX too; tcp_rmem and
// tcp_wmem default to a few MiB).
const maxBufferSize = 1 << 30

// clampBufferSize brings a requested limit into [0, maxBufferSize].
func clampBufferSize(n int) int {
	return min(max(n, 0), maxBufferSize)
}

// seqRange is a half-open range [start, end) of offsets.
type seqRange struct{ start, end int }

// defaultMaxRanges bounds the out-of-order ranges of a recvBuffer on which
// setMaxRanges was never called (Config.MaxOutOfOrder's default).
const defaultMaxRanges = 64

// oooRangeBytes is how much receive buffer each out-of-order range is
// allowed beyond the configured floor: the bound grows with the buffer.
// Linux has no count of its own; it charges every out-of-order segment's
// truesize (about 2 KiB for a full-size one) against the receive buffer
// and prunes when that runs out, so a sender whose every other full-size
// segment is lost never meets it, whatever the window. With one range per
// 2 KiB, a 6 MiB buffer keeps 3072 ranges (48 KiB of them at most), and
// the 128 KiB a connection starts with keeps the floor of 64: a peer
// flooding tiny segments gets no more than before.
const oooRangeBytes = 2048

// initialRanges is the capacity of a range list when first allocated;
// append grows it if more are needed.
const initialRanges = 8

// recvBuffer holds received data: first the in-order bytes the user has not
// read yet (up to RCV.NXT), then out-of-order data beyond RCV.NXT, each byte
// stored at its final position (index of RCV.NXT plus its offset) so that
// when a gap fills (RFC 9293 3.10.7.4, seventh check: data is delivered in
// order), advancing RCV.NXT is bookkeeping and never a copy. The bytes of the
// gaps between out-of-order ranges are garbage.
//
// Offsets in the interface are relative to RCV.NXT, the first byte not yet
// received in order. The space the buffer can hold, and so the largest
// window the engine may offer, is limit - readable().
type recvBuffer struct {
	buf []byte // ring, len == cap; nil when empty and shrunk
	// ranges are the out-of-order ranges, offsets relative to RCV.NXT,
	// sorted, neither overlapping nor adjacent, none starting at 0. It is
	// allocated when first needed, small, and grows with use up to maxR.
	ranges []seqRange

	// 32-bit indices (buffers stay far below 2 GiB) keep the TCB small.
	head      int32 // index of the first unread in-order byte
	r         int32 // in-order bytes not read yet: RCV.NXT is at head+r
	lim       int32
	ooo       int32 // sum of the ranges' lengths
	maxRanges int32
	maxSet    bool // setMaxRanges was called (else defaultMaxRanges)
}

// setLimit sets the receive buffer size in bytes (SO_RCVBUF). Lowering it
// below what is held drops nothing; it only shrinks the space offered to new
// data.
func (b *recvBuffer) setLimit(n int) {
	b.lim = int32(clampBufferSize(n))
}

func (b *recvBuffer) limit() int { return int(b.lim) }

// readable is the number of in-order bytes waiting for the user.
func (b *recvBuffer) readable() int { return int(b.r) }

// setMaxRanges sets the floor of the bound on separate out-of-order ranges
// kept (Config.MaxOutOfOrder; maxR): reassembly state must stay bounded
// whatever a peer sends (RFC 9293 3.10.7.4 lets a receiver drop
// out-of-order segments; Linux prunes its out-of-order queue under memory
// pressure). n <= 0 disables out-of-order storage. Lowering the bound below
// the current count drops the ranges farthest from RCV.NXT.
func (b *recvBuffer) setMaxRanges(n int) {
	if n < 0 {
		n = 0
	}
	b.maxRanges, b.maxSet = int32(n), true
	for len(b.ranges) > b.maxR() {
		r := b.ranges[len(b.ranges)-1]
		b.ooo -= int32(r.end - r.start)
		b.ranges = b.ranges[:len(b.ranges)-1]
	}
	if m := b.maxR(); b.ranges != nil && cap(b.ranges) > 2*(m+1) {
		// (A buffer without a list gets one when it first needs it.)
		b.ranges = append(make([]seqRange, 0, m+1), b.ranges...)
	}
	b.maybeReset()
}

// maxR is the most out-of-order ranges kept: the configured floor, or one
// per oooRangeBytes of the buffer's limit if that is more. A floor of 0
// keeps none.
func (b *recvBuffer) maxR() int {
	n := defaultMaxRanges
	if b.maxSet {
		n = int(b.maxRanges)
	}
	if n > 0 {
		n = max(n, int(b.lim)/oooRangeBytes)
	}
	return n
}

// maybeReset moves the (empty) live region back to the front of the array.
func (b *recvBuffer) maybeReset() {
	if int(b.r) == 0 && len(b.ranges) == 0 {
		b.head = 0
	}
}

// read copies in-order bytes into p, drops them and returns how many.
func (b *recvBuffer) read(p []byte) int {
	n := b.peek(p)
	b.head = int32(ringIndex(int(b.head), n, len(b.buf)))
	b.r -= int32(n)
	b.maybeReset()
	return n
}

// peek copies in-order bytes into p without dropping them (MSG_PEEK).
func (b *recvBuffer) peek(p []byte) int {
	n := min(len(p), int(b.r))
	if n == 0 {
		return 0
	}
	ringRead(p[:n], b.buf, int(b.head))
	return n
}

// discard drops up to n in-order bytes without copying them (MSG_TRUNC, or
// data received after shutdown(SHUT_RD)) and returns how many.
func (b *recvBuffer) discard(n int) int {
	if r := b.readable(); n > r {
		n = r
	}
	if n <= 0 {
		return 0
	}
	b.head = int32(ringIndex(int(b.head), n, len(b.buf)))
	b.r -= int32(n)
	b.maybeReset()
	return n
}

// write stores p at offset off relative to RCV.NXT. Bytes at or beyond
// limit-readable() are cut off (they lie outside any window the buffer can
// back); bytes already held are not overwritten (the first copy received
// wins, as RFC 9293 3.10.7.4 trims the overlapping part of a segment).
// Offsets below zero are data already received in order: they are trimmed
// and not counted.
//
// advanced is how far RCV.NXT moves: the length of in-order data that
// became available, including out-of-order data that p made contiguous.
// stored is how many bytes of p are now held, whether newly or already: it
// is short of len(p) when p runs past the space, and 0 when p lies wholly
// outside it or would create an out-of-order range beyond setMaxRanges's
// bound (the piece is then dropped entirely).
func (b *recvBuffer) write(off int, p []byte) (advanced, stored int) {
	if off < 0 {
		if -off >= len(p) {
			return 0, 0
		}
		p = p[-off:]
		off = 0
	}
	space := int(b.lim) - b.readable()
	if off >= space || len(p) == 0 {
		return 0, 0
	}
	end := off + len(p)
	if end > space {
		end = space
		p = p[:end-off]
	}

	// Find the ranges p touches (overlaps or adjoins): ranges[i:j].
	rs := b.ranges
	i := 0
	for i < len(rs) && rs[i].end < off {
		i++
	}
	j := i
	for j < len(rs) && rs[j].start <= end {
		j++
	}
	if i == j && off > 0 && len(rs) >= b.maxR() {
		// A new isolated out-of-order range, and there is no room for it.
		return 0, 0
	}

	// Make room for the span from head to the farthest byte to hold.
	far := end
	if n := len(rs); n > 0 && rs[n-1].end > far {
		far = rs[n-1].end
	}
	if int(b.r)+far > len(b.buf) {
		liveEnd := 0 // offset just past the held out-of-order data
		if n := len(rs); n > 0 {
			liveEnd = rs[n-1].end
		}
		b.buf = regrow(b.buf, int(b.head), int(b.r)+liveEnd, int(b.r)+far, int(b.lim))
		b.head = 0
	}

	// Copy the parts of p that fall into gaps between ranges[i:j].
	pos := off
	for k := i; k < j; k++ {
		if rs[k].start > pos {
			b.store(pos, p[pos-off:rs[k].start-off])
			b.ooo += int32(rs[k].start - pos)
		}
		if rs[k].end > pos {
			pos = rs[k].end
		}
	}
	if pos < end {
		b.store(pos, p[pos-off:])
		b.ooo += int32(end - pos)
	}

	// Replace ranges[i:j] with their union with [off, end).
	merged := seqRange{off, end}
	if i < j {
		if rs[i].start < merged.start {
			merged.start = rs[i].start
		}
		if rs[j-1].end > merged.end {
			merged.end = rs[j-1].end
		}
	}
	if b.ranges == nil {
		b.ranges = make([]seqRange, 0, min(b.maxR(), initialRanges)+1)
	}
	switch {
	case i == j: // insert
		b.ranges = append(b.ranges, seqRange{})
		copy(b.ranges[i+1:], b.ranges[i:])
		b.ranges[i] = merged
	default: // replace ranges[i:j] with one
		b.ranges[i] = merged
		b.ranges = append(b.ranges[:i+1], b.ranges[j:]...)
	}

	// In-order data: advance RCV.NXT and rebase the remaining ranges.
	if b.ranges[0].start == 0 {
		advanced = b.ranges[0].end
		b.ooo -= int32(advanced)
		b.r += int32(advanced)
		n := copy(b.ranges, b.ranges[1:])
		b.ranges = b.ranges[:n]
		for k := range b.ranges {
			b.ranges[k].start -= advanced
			b.ranges[k].end -= advanced
		}
	}
	return advanced, len(p)
}

// store copies p to offset off relative to RCV.NXT (the ring has room).
func (b *recvBuffer) store(off int, p []byte) {
	ringWrite(b.buf, ringIndex(int(b.head), int(b.r)+off, len(b.buf)), p)
}

// oooRanges returns the out-of-order ranges, offsets relative to RCV.NXT,
// ascending, neither overlapping nor adjacent: what the engine reports in
// SACK blocks (RFC 2018). The slice belongs to the buffer and is valid only
// until the next call of any of its methods.
func (b *recvBuffer) oooRanges() []seqRange { return b.ranges }

// oooBytes is the number of out-of-order bytes held.
func (b *recvBuffer) oooBytes() int { return int(b.ooo) }

// dropOutOfOrder forgets all out-of-order data, as Linux's tcp_prune_ofo_queue
// does when memory is short. RFC 2018 8 allows a receiver to discard data it
// has SACKed ("reneging"); the sender must keep it until cumulatively
// acknowledged.
func (b *recvBuffer) dropOutOfOrder() {
	b.ranges = b.ranges[:0]
	b.ooo = 0
	b.maybeReset()
}

// shrink releases the backing array (and the range list) if the buffer holds
// nothing, so an idle connection holds no buffer memory.
func (b *recvBuffer) shrink() {
	if int(b.r) == 0 && len(b.ranges) == 0 {
		b.buf, b.head, b.ranges = nil, 0, nil
	}
}

// memory is the size of the backing array held, in bytes.
func (b *recvBuffer) memory() int { return cap(b.buf) }

package tcp

// The retransmission queue and SACK scoreboard (RFC 6675 2, RFC 2018).
//
// The send buffer holds the bytes; the queue holds one entry per segment as
// it was first transmitted: its sequence range, when it was last sent and
// what is known about it (SACKed, deemed lost, retransmitted). Entries are
// contiguous and in sequence order, so an entry is found by binary search.
// Counting in segments, as Linux counts packets_out, sacked_out, lost_out and
// retrans_out, keeps RFC 6675's "pipe" one subtraction away:
//
//	pipe = packetsOut - (sacked + lost) + retrans
//
// (RFC 6675 4, SetPipe: a segment counts once if it is neither SACKed nor
// deemed lost, and once more if a retransmission of it is in flight.)

// txSeg flags.
const (
	// txSacked: the peer's SACK blocks cover the segment (RFC 2018).
	txSacked uint8 = 1 << iota
	// txLost: RACK, RFC 6675 IsLost or a timeout deemed it lost.
	txLost
	// txRetrans: a retransmission of it is in flight (neither acknowledged
	// nor deemed lost again).
	txRetrans
	// txEverRetrans: it was retransmitted at least once (for Karn's rule,
	// RACK's ambiguity check and undo).
	txEverRetrans
	// txFIN: the segment carries our FIN in its last sequence number.
	txFIN
	// txPktEnd: the segment ended a packet as first sent, one skb of
	// Linux's retransmission queue (records.go).
	txPktEnd
)

// txSeg is one transmitted segment.
type txSeg struct {
	start, end uint32 // [start, end), the FIN included
	xmit       Time   // the last (re)transmission
	flags      uint8
}

func (s *txSeg) has(f uint8) bool { return s.flags&f != 0 }

// rtxQueue is the retransmission queue.
type rtxQueue struct {
	segs []txSeg // segs[head:] are outstanding
	head int
	// Segment counts (Linux sacked_out, lost_out, retrans_out).
	sacked, lost, retrans uint32
	// highRetrans is the end of the highest segment retransmitted while
	// outstanding: RACK's scan may stop at the first never-retransmitted
	// segment sent after RACK.xmit_ts only beyond it.
	highRetrans      uint32
	highRetransValid bool
}

// live returns the outstanding entries.
func (q *rtxQueue) live() []txSeg { return q.segs[q.head:] }

// packetsOut is the number of outstanding segments.
func (q *rtxQueue) packetsOut() uint32 { return uint32(len(q.segs) - q.head) }

// pipe is RFC 6675's estimate of the segments in the network.
func (q *rtxQueue) pipe() uint32 {
	out := q.packetsOut()
	left := q.sacked + q.lost
	if left > out {
		return q.retrans
	}
	return out - left + q.retrans
}

// push records a segment sent for the first time.
func (q *rtxQueue) push(start, end uint32, now Time, fin bool) {
	if q.head > 0 && q.head >= len(q.segs)/2 && q.head >= 16 {
		// Compact: the dead head is at least half the array.
		n := copy(q.segs, q.segs[q.head:])
		q.segs = q.segs[:n]
		q.head = 0
	}
	var f uint8
	if fin {
		f = txFIN
	}
	if n := len(q.segs); n > q.head && q.segs[n-1].end != start {
		// Not contiguous with the tail (the engine never does this, but a
		// queue that lost track must not corrupt the scoreboard): extend the
		// tail over the gap.
		q.segs[n-1].end = start
	}
	q.segs = append(q.segs, txSeg{start: start, end: end, xmit: now, flags: f})
}

// find returns the index (in segs) of the outstanding segment holding seq,
// or -1.
func (q *rtxQueue) find(seq uint32) int {
	lo, hi := q.head, len(q.segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if seqLEQ(q.segs[m].end, seq) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(q.segs) && seqLEQ(q.segs[lo].start, seq) && seqLT(seq, q.segs[lo].end) {
		return lo
	}
	return -1
}

// forget updates the counts for a segment leaving the scoreboard or
// changing its flags away from f.
func (q *rtxQueue) uncount(s *txSeg) {
	if s.has(txSacked) {
		q.sacked--
	}
	if s.has(txLost) {
		q.lost--
	}
	if s.has(txRetrans) {
		q.retrans--
	}
}

// markSacked marks s SACKed; it reports whether that is new.
func (q *rtxQueue) markSacked(s *txSeg) bool {
	if s.has(txSacked) {
		return false
	}
	if s.has(txLost) {
		q.lost--
	}
	if s.has(txRetrans) {
		q.retrans--
	}
	s.flags = s.flags&^(txLost|txRetrans) | txSacked
	q.sacked++
	return true
}

// markLost deems s lost (RFC 6675 IsLost, RFC 8985 6.2). A segment already
// deemed lost whose retransmission is in flight has lost that
// retransmission too: it becomes eligible for another. It reports whether
// the marking changed anything.
func (q *rtxQueue) markLost(s *txSeg) bool {
	switch {
	case s.has(txSacked):
		return false
	case s.has(txLost):
		if !s.has(txRetrans) {
			return false
		}
		s.flags &^= txRetrans
		q.retrans--
		return true
	default:
		// Any retransmission in flight (a loss probe's) was sent at
		// s.xmit, the time the verdict is based on: it is lost too.
		if s.has(txRetrans) {
			s.flags &^= txRetrans
			q.retrans--
		}
		s.flags |= txLost
		q.lost++
		return true
	}
}

// markRetransmitted records a retransmission of s at now.
func (q *rtxQueue) markRetransmitted(s *txSeg, now Time) {
	if !s.has(txRetrans) {
		q.retrans++
	}
	s.flags |= txRetrans | txEverRetrans
	s.xmit = now
	if !q.highRetransValid || seqGT(s.end, q.highRetrans) {
		q.highRetrans, q.highRetransValid = s.end, true
	}
}

// split cuts segs[i] at seq (strictly inside it) into two entries with the
// same flags and times, and reports whether it did. The count of entries is
// bounded by limit: a peer SACKing single bytes must not make the queue grow
// without bound (the "SACK panic" class of attacks).
func (q *rtxQueue) split(i int, seq uint32, limit int) bool {
	s := q.segs[i]
	if !(seqLT(s.start, seq) && seqLT(seq, s.end)) || len(q.segs)-q.head >= limit {
		return false
	}
	lo, hi := s, s
	lo.end, hi.start = seq, seq
	lo.flags &^= txFIN
	// The new entry counts like the old one.
	if s.has(txSacked) {
		q.sacked++
	}
	if s.has(txLost) {
		q.lost++
	}
	if s.has(txRetrans) {
		q.retrans++
	}
	q.segs = append(q.segs, txSeg{})
	copy(q.segs[i+2:], q.segs[i+1:])
	q.segs[i], q.segs[i+1] = lo, hi
	return true
}

// reset forgets every outstanding segment (the connection is closing or
// the queue lost track, e.g. after an ACK beyond everything recorded).
func (q *rtxQueue) reset() {
	q.segs = q.segs[:0]
	q.head = 0
	q.sacked, q.lost, q.retrans = 0, 0, 0
	q.highRetrans, q.highRetransValid = 0, false
}

// release gives the backing array back when nothing is outstanding.
func (q *rtxQueue) release() {
	if q.head == len(q.segs) {
		q.segs = nil
		q.head = 0
	}
}

// rtxqCover makes sure the queue covers everything outstanding: sequence
// space sent without an entry (data carried by a SYN, say) gets entries of
// at most one MSS, so that it can be retransmitted like the rest.
func (t *TCB) rtxqCover() {
	if !t.state.synchronized() || t.state == SynReceived || t.sndUna == t.iss {
		return
	}
	q := &t.rtxq
	from := t.sndUna
	if n := len(q.segs); n > q.head {
		from = q.segs[n-1].end
	}
	if seqLT(from, t.sndUna) {
		from = t.sndUna
	}
	mss := uint32(max(t.effectiveMSS(), 1))
	for seqLT(from, t.sndMax) {
		end := t.sndMax
		if end-from > mss {
			end = from + mss
		}
		fin := t.finSent && end == t.finSeq+1
		q.push(from, end, t.now, fin)
		from = end
	}
}

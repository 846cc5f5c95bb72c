package tcp

import "time"

// Write records: where the user's writes end in the send stream, as
// Linux's socket buffers (skbs) remember them. Linux copies a write into
// the tail skb while that skb has not been sent, so consecutive writes
// merge until one is transmitted; a write with MSG_EOR closes its skb to
// later data. The records decide two things a peer sees:
//
//   - PSH. A write without MSG_MORE marks its skb for a push (tcp_push);
//     with MSG_MORE it does not. Linux 6.x sends every TSO packet carved
//     from a pushed skb with PSH, those of an unpushed one without. The
//     engine sends MSS-sized segments; the TSO packets Linux would build
//     end where the record ends, where cwnd or the window stop the burst,
//     and every tsoSegs segments (TSO autosizing), or every half cwnd if
//     that is fewer (tcp_cwnd_test): a first transmission of pushed data
//     carries PSH when it ends such a packet. A retransmission
//     carries PSH when it includes the end of a pushed record (the skb's
//     own flags: the head of a split skb loses PSH).
//   - Record boundaries (MSG_EOR): no segment, first transmission or
//     retransmission, spans the end of an EOR record (tcp_skb_can_collapse),
//     and a segment cut short by one is sent even when Nagle or cork would
//     hold a short segment (it is not the last skb: TCP_NAGLE_PUSH).

// sendRecord is the end of one record in the send stream.
type sendRecord struct {
	end  uint32 // sequence number after the record's last byte
	push bool   // the last write into the record was not MSG_MORE
	eor  bool   // MSG_EOR: no later data joins it
}

// WriteRecord is Write with send(2)'s flags: more is MSG_MORE (only
// full-sized segments leave now, as WriteMore, and the data is not marked
// for a push) and eor is MSG_EOR (the data ends a record: later writes never
// share a segment with it).
func (t *TCB) WriteRecord(now Time, p []byte, more, eor bool) (int, error) {
	if more {
		cork, noDelay := t.cork, t.noDelay
		t.cork, t.noDelay = true, false
		defer func() { t.cork, t.noDelay = cork, noDelay }()
	}
	return t.writeWith(now, p, false, !more, eor)
}

// noteWrite records that n bytes were just appended to the send buffer.
func (t *TCB) noteWrite(n int, push, eor bool) {
	if n <= 0 {
		return
	}
	end := t.sndBufSeq + uint32(t.sndBuf.Len())
	if k := len(t.records); k > 0 {
		last := &t.records[k-1]
		// The tail record still has unsent data: the write joins it.
		if !last.eor && seqGT(last.end, t.sndMax) {
			last.end, last.push, last.eor = end, push, eor
			return
		}
	}
	t.records = append(t.records, sendRecord{end: end, push: push, eor: eor})
}

// trimRecords forgets the records that have been acknowledged.
func (t *TCB) trimRecords() {
	i := 0
	for i < len(t.records) && seqLEQ(t.records[i].end, t.sndBufSeq) {
		i++
	}
	if i == 0 {
		return
	}
	if i == len(t.records) {
		// Keep a small array: a busy connection reuses it.
		t.records = t.records[:0]
		if cap(t.records) > 16 {
			t.records = nil
		}
		return
	}
	t.records = append(t.records[:0], t.records[i:]...)
}

// recordAt returns the record holding the byte at seq, or nil.
func (t *TCB) recordAt(seq uint32) *sendRecord {
	for i := range t.records {
		if seqGT(t.records[i].end, seq) {
			return &t.records[i]
		}
	}
	return nil
}

// eorLimit bounds a segment starting at seq to the end of its record when
// that record ends with MSG_EOR; cut reports that it did.
func (t *TCB) eorLimit(seq uint32, n int) (int, bool) {
	r := t.recordAt(seq)
	if r == nil || !r.eor {
		return n, false
	}
	if room := int(r.end - seq); room < n {
		return room, true
	}
	return n, false
}

// pushFlag decides PSH for data [seq, end) (see the comment at the top).
func (t *TCB) pushFlag(seq, end uint32, retransmission bool) bool {
	if len(t.records) == 0 {
		// Data written before records were kept: push at the end of
		// what is queued.
		return int(end-t.sndBufSeq) == t.sndBuf.Len()
	}
	if !retransmission {
		if t.wakeup {
			return true
		}
		r := t.recordAt(end - 1)
		if r == nil {
			return true
		}
		return r.push && (r.end == end || t.burstEnds(end) || t.chunkEnds(end))
	}
	for i := range t.records {
		r := &t.records[i]
		if seqGT(r.end, end) {
			break
		}
		if r.push && seqGT(r.end, seq) {
			return true
		}
	}
	return false
}

// burstEnds reports whether output, having sent up to end, will stop there:
// the congestion window is full or the peer's window has no room for the
// next segment.
func (t *TCB) burstEnds(end uint32) bool {
	mss := t.effectiveMSS()
	inFlight := (int(end-t.sndUna) + mss - 1) / mss
	if uint32(inFlight) >= t.ccs.Cwnd {
		return true
	}
	rest := int(t.sndBufSeq + uint32(t.sndBuf.Len()) - end)
	if rest <= 0 {
		return true
	}
	next, _ := t.eorLimit(end, min(mss, rest))
	return seqGT(end+uint32(next), t.sndUna+t.sndWnd)
}

// chunkEnds reports whether a first transmission ending at end completes a
// TSO packet of tsoSegs segments, counted from where this burst (or the
// record it sends from, if it began later) started.
func (t *TCB) chunkEnds(end uint32) bool {
	base := t.burstStart
	if r := t.recordAt(end - 1); r != nil {
		if start := t.recordStart(r); seqGT(start, base) {
			base = start
		}
	}
	mss := t.effectiveMSS()
	size := uint32(min(t.tsoSegs(mss), t.cwndQuota()) * mss)
	return size > 0 && (end-base)%size == 0
}

// cwndQuota is Linux's tcp_cwnd_test as the burst began: a TSO packet
// holds at most half the congestion window ("at least 2 GSO packets in
// flight") and no more than the window has room for.
func (t *TCB) cwndQuota() int {
	mss := max(t.effectiveMSS(), 1)
	inFlight := 0
	if d := int(t.burstStart - t.sndUna); d > 0 {
		inFlight = (d + mss - 1) / mss
	}
	cwnd := int(t.ccs.Cwnd)
	return max(min(max(cwnd/2, 1), cwnd-inFlight), 1)
}

// recordStart is where record r begins.
func (t *TCB) recordStart(r *sendRecord) uint32 {
	start := t.sndBufSeq
	for i := range t.records {
		if &t.records[i] == r {
			break
		}
		start = t.records[i].end
	}
	return start
}

// tsoSegs is Linux's tcp_tso_segs: how many segments one TSO packet holds,
// from the pacing rate (tcp_tso_autosize with a 64 KiB sk_gso_max_size,
// tcp_tso_rtt_log 9, tcp_min_tso_segs (Config.MinTSOSegs), tcp_pacing_ss_ratio
// 200 and tcp_pacing_ca_ratio 120). Before an RTT sample the rate is
// unlimited.
func (t *TCB) tsoSegs(mss int) int {
	const gsoMaxSize = 65536
	bytes := uint64(gsoMaxSize)
	if srtt := t.rtt.srtt(); srtt > 0 {
		ratio := uint64(120)
		if t.ccs.Cwnd < t.ccs.Ssthresh/2 {
			ratio = 200
		}
		cwnd := uint64(max(t.ccs.Cwnd, t.packetsInFlight()))
		rate := uint64(mss) * cwnd * ratio * 10000 / uint64(srtt/time.Microsecond+1)
		bytes = rate >> 10 // sk_pacing_shift: one millisecond's worth
		if m := t.rtt.minRTT(); m > 0 {
			if r := uint64(m/time.Microsecond) >> 9; r < 32 {
				bytes += gsoMaxSize >> r
			}
		}
		bytes = min(bytes, gsoMaxSize)
	}
	return max(int(bytes)/max(mss, 1), t.cfg.MinTSOSegs)
}

package tcp

import "time"

// Send records: the send stream cut as Linux cuts it into socket buffers
// (skbs), and where its PSH flags fall. A peer sees this layout in two
// ways: a packet never spans two skbs, and PSH marks the ends of some of
// them. The rules, all from Linux 6.x:
//
//   - Writes fill skbs of size_goal bytes (tcp_sendmsg_locked, sizeGoal): a
//     write first tops up the tail skb if no byte of that skb has been sent
//     yet (only its unsent part counts towards the goal, as the sent part
//     was cut off when it went out), then opens new ones. A write that
//     joins the tail skb clears its PSH; MSG_EOR closes the skb to later
//     data (tcp_skb_can_collapse_to).
//   - PSH is marked on the tail skb when a write ends without MSG_MORE
//     (tcp_push, tcp_mark_push), when a write stops on a full send buffer
//     (wait_for_space), and on the skb just filled when more than half the
//     largest window the peer offered was written since the last mark
//     (forced_push), which also sends at once.
//   - When a write fills the skb at the head of the unsent data, one packet
//     goes out before the write goes on (tcp_push_one): the skb keeps its
//     unsent tail, which the write tops up again. So where skbs end, and
//     where forced pushes fall, depends on what was sent during the write.
//   - Every packet with more than one segment carries PSH (tcp_transmit_skb
//     forces it on GSO packets, for the receiver's GRO); a one-segment
//     packet carries it when it ends an skb marked for a push (tcp_fragment
//     leaves the flag on the tail of a split skb).
//
// The engine sends MSS-sized segments. The packets Linux would build
// (tcp_write_xmit) end at the end of an skb, where cwnd or the peer's
// window stop the burst, and every tsoSegs segments (TSO autosizing), or
// every half cwnd if that is fewer (tcp_cwnd_test). The last segment of
// such a packet carries the packet's PSH, and its queue entry is marked
// txPktEnd: a packet as sent is one skb of Linux's retransmission queue,
// so a retransmission never spans it (tcp_retransmit_skb), carries PSH when
// it has more than one segment, and otherwise only when it ends an skb
// marked for a push. Retransmissions go in packets of up to tsoSegs
// segments and while cwnd allows (tcp_xmit_retransmit_queue).
//
// MSG_EOR: no segment, first transmission or retransmission, spans the
// end of an EOR record, and a segment cut short by one is sent even when
// Nagle or cork would hold a short segment (it is not the last skb:
// TCP_NAGLE_PUSH).

// sendRecord is the end of one skb in the send stream.
type sendRecord struct {
	end  uint32 // sequence number after the skb's last byte
	push bool   // the skb is marked for a push (tcp_mark_push)
	eor  bool   // MSG_EOR: no later data joins it
}

// gsoMaxSize is the largest TSO packet (sk_gso_max_size of packetdrill's
// TUN device and of most NICs).
const gsoMaxSize = 65536

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

// queueWrite appends p to the send buffer skb by skb, as Linux's
// tcp_sendmsg_locked does (see the top of the file), sending where Linux
// sends during a write when live is set. It returns how much was queued.
func (t *TCB) queueWrite(p []byte, push, eor, live bool) int {
	goal := t.sizeGoal()
	copied, sentDuring := 0, false
	for copied < len(p) {
		r := t.appendableRecord(goal)
		room := goal
		if r != nil {
			room -= t.unsentLen(len(t.records) - 1)
		}
		want := min(room, len(p)-copied)
		n := t.sndBuf.write(p[copied : copied+want])
		if n <= 0 {
			break
		}
		end := t.sndEnd()
		if r == nil {
			t.records = append(t.records, sendRecord{end: end})
			r = &t.records[len(t.records)-1]
		} else {
			if copied == 0 {
				// A new write joins the skb: its old PSH goes.
				r.push = false
			}
			r.end = end
		}
		copied += n
		if copied == len(p) || n < want {
			continue
		}
		// The skb reached the size goal and more data follows.
		forced := t.forcedPush()
		if forced {
			t.markPush(r)
		} else if seqGT(t.recordStart(len(t.records)-1), t.sndMax) {
			continue // not the head of the unsent data: no tcp_push_one
		}
		if !live {
			continue
		}
		if !sentDuring {
			// What writeWith does before it sends (Linux: as the skb is
			// queued, tcp_skb_entail).
			sentDuring = true
			t.slowStartAfterIdleCheck()
			t.chronoWrite(copied, copied)
		}
		t.pushOne = !forced
		t.output()
		t.pushOne = false
	}
	if copied > 0 {
		r := &t.records[len(t.records)-1]
		if eor && copied == len(p) {
			r.eor = true
		}
		// tcp_push: no MSG_MORE, a forced push, or a write that stopped on
		// a full buffer (wait_for_space pushes without MSG_MORE).
		if push || copied < len(p) || t.forcedPush() {
			t.markPush(r)
		}
	}
	return copied
}

// noteWrite records that n bytes were just appended to the send buffer as
// one write (data carried by a SYN).
func (t *TCB) noteWrite(n int, push, eor bool) {
	if n <= 0 {
		return
	}
	t.records = append(t.records, sendRecord{end: t.sndEnd(), eor: eor})
	if push {
		t.markPush(&t.records[len(t.records)-1])
	}
}

// sndEnd is the sequence number after the last byte queued (write_seq).
func (t *TCB) sndEnd() uint32 { return t.sndBufSeq + uint32(t.sndBuf.Len()) }

// sizeGoal is Linux's tcp_xmit_size_goal: an skb holds up to this many
// bytes, the largest TSO packet bounded by half the largest window the peer
// has offered (tcp_bound_to_half_wnd), in whole segments.
func (t *TCB) sizeGoal() int {
	mss := max(t.effectiveMSS(), 1)
	size := gsoMaxSize
	if w := int(t.maxSndWnd); w > 0 {
		cut := w
		if w > 536 {
			cut = w / 2
		}
		size = min(size, cut)
	}
	return max(size/mss, 1) * mss
}

// forcedPush is Linux's forced_push: more than half the largest window the
// peer has offered was written since the last push mark.
func (t *TCB) forcedPush() bool {
	return seqGT(t.sndEnd(), t.pushedSeq()+t.maxSndWnd/2)
}

// pushedSeq is Linux's pushed_seq, write_seq at the last push mark; it
// starts at ISS+1 (tcp_connect, tcp_create_openreq_child).
func (t *TCB) pushedSeq() uint32 { return t.iss + 1 + t.pushedOff }

// markPush is tcp_mark_push: r gets PSH and pushed_seq catches up.
func (t *TCB) markPush(r *sendRecord) {
	r.push = true
	t.pushedOff = t.sndEnd() - t.iss - 1
}

// appendableRecord returns the tail skb if a write may add to it: it has
// unsent bytes but fewer than goal, and it does not end an EOR record.
func (t *TCB) appendableRecord(goal int) *sendRecord {
	k := len(t.records)
	if k == 0 {
		return nil
	}
	r := &t.records[k-1]
	if r.eor || !seqGT(r.end, t.sndMax) || t.unsentLen(k-1) >= goal {
		return nil
	}
	return r
}

// unsentLen is how many bytes of record i have not been sent.
func (t *TCB) unsentLen(i int) int {
	start := t.recordStart(i)
	if seqLT(start, t.sndMax) {
		start = t.sndMax
	}
	if d := int(t.records[i].end - start); d > 0 {
		return d
	}
	return 0
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
		if cap(t.records) > 64 {
			t.records = nil
		}
		return
	}
	t.records = append(t.records[:0], t.records[i:]...)
}

// recordIndex returns the index of the record holding the byte at seq, or
// -1.
func (t *TCB) recordIndex(seq uint32) int {
	lo, hi := 0, len(t.records)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if seqLEQ(t.records[m].end, seq) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t.records) && (lo > 0 || seqLEQ(t.sndBufSeq, seq)) {
		return lo
	}
	return -1
}

// recordAt returns the record holding the byte at seq, or nil.
func (t *TCB) recordAt(seq uint32) *sendRecord {
	if i := t.recordIndex(seq); i >= 0 {
		return &t.records[i]
	}
	return nil
}

// recordStart is where record i begins.
func (t *TCB) recordStart(i int) uint32 {
	if i <= 0 {
		return t.sndBufSeq
	}
	return t.records[i-1].end
}

// endsPushedRecord reports whether end is the end of a record marked for a
// push: a one-segment packet ending there carries PSH.
func (t *TCB) endsPushedRecord(end uint32) bool {
	r := t.recordAt(end - 1)
	return r != nil && r.end == end && r.push
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

// pushFlag decides PSH for data [seq, end) (see the top of the file).
func (t *TCB) pushFlag(seq, end uint32, retransmission bool) bool {
	if retransmission {
		return t.retransmitPush(seq, end)
	}
	psh, _ := t.xmitFlags(seq, end)
	return psh
}

// xmitFlags decides, for a first transmission of data [seq, end), whether
// it carries PSH and whether it ends a packet.
func (t *TCB) xmitFlags(seq, end uint32) (psh, pktEnd bool) {
	if len(t.records) == 0 {
		// Data written before records were kept: push at the end of
		// what is queued.
		last := end == t.sndEnd()
		return last, last
	}
	if t.wakeup {
		// tcp_write_wakeup sends what it sends with PSH.
		return true, true
	}
	i := t.recordIndex(end - 1)
	if i < 0 {
		return true, true
	}
	r := &t.records[i]
	base, size := t.chunk(i)
	pktEnd = r.end == end || t.burstEnds(end) || size > 0 && (end-base)%size == 0
	if !pktEnd {
		return false, false
	}
	if !t.packetStartsAt(seq, base, size) || r.end == end && r.push {
		return true, true
	}
	// A one-segment packet that the TSO size alone cut off at the end of
	// a burst: that size comes from the pacing rate, which a real kernel
	// measures over RTTs a little longer than the ideal ones, so its
	// packet may well have been longer. Push, if the skb is pushed.
	mss := uint32(max(t.effectiveMSS(), 1))
	return r.push && seq != base && size > mss && int(size/mss) < t.cwndQuota() && t.burstEnds(end), true
}

// packetStartsAt reports whether a first transmission starting at seq
// begins a packet: the burst or the skb begins there, a TSO packet of the
// burst ended there, or the segment before it ended a packet.
func (t *TCB) packetStartsAt(seq, base, size uint32) bool {
	if seq == base || size > 0 && (seq-base)%size == 0 {
		return true
	}
	q := &t.rtxq
	n := len(q.segs)
	return n == q.head || q.segs[n-1].end != seq || q.segs[n-1].has(txPktEnd)
}

// notePacketEnd marks the entry just queued for a first transmission as
// the end of a packet.
func (t *TCB) notePacketEnd() {
	if n := len(t.rtxq.segs); n > t.rtxq.head {
		t.rtxq.segs[n-1].flags |= txPktEnd
	}
}

// lastEndedPacket reports whether the last first transmission ended a
// packet (output stops there for tcp_push_one).
func (t *TCB) lastEndedPacket() bool {
	n := len(t.rtxq.segs)
	return n > t.rtxq.head && t.rtxq.segs[n-1].has(txPktEnd)
}

// retransmitPush decides PSH for a retransmission of [seq, end), the data
// of a retransmission queue entry. The entries retransmitted just before
// it, back to the end of a packet as first sent, belong to the same
// retransmitted packet, up to tsoSegs segments; that packet ends with this
// entry if the entry ended a packet as first sent, if it is full, or if
// the retransmission loop will not send the next entry now.
func (t *TCB) retransmitPush(seq, end uint32) bool {
	q := &t.rtxq
	i := q.find(seq)
	if i < 0 {
		return t.endsPushedRecord(end)
	}
	run := 0
	for j := i - 1; j >= q.head; j-- {
		p := &q.segs[j]
		if p.has(txPktEnd) || !p.has(txRetrans) || p.xmit != t.now || p.end != q.segs[j+1].start {
			break
		}
		run++
	}
	segs := t.tsoSegs(max(t.effectiveMSS(), 1))
	pos := run % segs
	ends := q.segs[i].has(txPktEnd) || pos+1 >= segs || !t.retransmitsNext(i)
	if !ends {
		return false
	}
	// The retransmitted packet is an skb of its own from now on
	// (tcp_fragment in __tcp_retransmit_skb).
	q.segs[i].flags |= txPktEnd
	return pos > 0 || t.endsPushedRecord(end)
}

// retransmitsNext reports whether the retransmission loop
// (xmitRetransmitQueue) will send entry i+1 right after entry i: it is
// deemed lost and not yet retransmitted, and pipe stays below cwnd.
func (t *TCB) retransmitsNext(i int) bool {
	q := &t.rtxq
	if i+1 >= len(q.segs) {
		return false
	}
	nx := &q.segs[i+1]
	if !nx.has(txLost) || nx.has(txSacked) || nx.has(txRetrans) || nx.start != q.segs[i].end {
		return false
	}
	retrans := q.retrans
	if !q.segs[i].has(txRetrans) {
		retrans++
	}
	return retrans < q.lost && t.packetsInFlight()+1 < t.ccs.Cwnd
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
	rest := int(t.sndEnd() - end)
	if rest <= 0 {
		return true
	}
	next, _ := t.eorLimit(end, min(mss, rest))
	return seqGT(end+uint32(next), t.sndUna+t.sndWnd)
}

// chunk returns where the TSO packets of a first transmission from record
// i are counted from (where this burst began, or the record, if later) and
// their size in bytes (0: unbounded).
func (t *TCB) chunk(i int) (base, size uint32) {
	base = t.burstStart
	if start := t.recordStart(i); seqGT(start, base) {
		base = start
	}
	mss := t.effectiveMSS()
	return base, uint32(min(t.tsoSegs(mss), t.cwndQuota()) * mss)
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

// tsoSegs is Linux's tcp_tso_segs: how many segments one TSO packet holds,
// from the pacing rate (tcp_tso_autosize with a 64 KiB sk_gso_max_size,
// tcp_tso_rtt_log 9, tcp_min_tso_segs (Config.MinTSOSegs), tcp_pacing_ss_ratio
// 200 and tcp_pacing_ca_ratio 120). Before an RTT sample the rate is
// unlimited.
func (t *TCB) tsoSegs(mss int) int {
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
	return max(int(bytes)/max(mss, 1), t.cfg.MinTSOSegs, 1)
}

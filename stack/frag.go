package stack

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synfin/synfin/internal/wheel"
	"github.com/synfin/synfin/wire"
)

// reassembler puts IP fragments back together (RFC 791 3.2, RFC 8200 4.5)
// within a memory budget (ipfrag_high_thresh) and a timeout (ipfrag_time).
// Overlapping fragments discard the whole datagram (RFC 5722, and Linux for
// IPv4 too).
type reassembler struct {
	limit   int
	timeout time.Duration
	used    int
	bufs    map[fragKey]*fragBuf
	peak    int // population peak of bufs (see shrinkAfterDelete)
	timer   wheel.Entry
	// oldest and newest end the list of datagrams in order of arrival,
	// which is deadline order (one timeout for all), so that expiry and
	// the timer cost O(1) per datagram however many a flood leaves.
	oldest, newest *fragBuf
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragBuf struct {
	key        fragKey
	prev, next *fragBuf // arrival order
	data       []byte
	have       []seqSpan // received byte ranges, sorted, non-overlapping
	total      int       // total payload length, -1 until the last fragment arrives
	deadline   time.Duration
	proto      uint8
}

type seqSpan struct{ start, end int }

const maxDatagram = 65535

// fragOverhead is what the budget charges for each datagram besides its
// data: its record, map entry and spans (Linux charges each fragment's
// sk_buff truesize). Without it, a flood of 8-octet fragments would hold
// tens of times the budget.
const fragOverhead = 320

func (r *reassembler) init(limit int, timeout time.Duration) {
	r.limit, r.timeout = limit, timeout
	r.bufs = make(map[fragKey]*fragBuf)
	r.timer.Value = r
}

func (s *Stack) scheduleFrag() {
	r := &s.frags
	if r.oldest == nil {
		s.wheel.Cancel(&r.timer)
		return
	}
	s.wheel.Schedule(&r.timer, r.oldest.deadline)
}

// expire drops datagrams whose fragments did not all arrive in time.
func (r *reassembler) expire(now time.Duration, st *Stats) {
	for r.oldest != nil && r.oldest.deadline <= now {
		r.drop(r.oldest.key, r.oldest)
		st.FragmentTimeouts++
	}
}

func (r *reassembler) drop(k fragKey, b *fragBuf) {
	r.used -= cap(b.data) + fragOverhead
	delete(r.bufs, k)
	r.bufs = shrinkAfterDelete(r.bufs, &r.peak)
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		r.oldest = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		r.newest = b.prev
	}
	b.prev, b.next = nil, nil
}

// add stores one fragment's payload at byte offset off; more says whether
// more fragments follow. It returns the whole datagram's payload once
// complete.
func (r *reassembler) add(k fragKey, off int, more bool, p []byte, now time.Duration, st *Stats) ([]byte, bool) {
	end := off + len(p)
	if end > maxDatagram || (more && len(p)%8 != 0) {
		st.FragmentsDropped++
		return nil, false
	}
	b := r.bufs[k]
	if b == nil {
		if r.used+end+fragOverhead > r.limit {
			st.FragmentsDropped++
			return nil, false
		}
		b = &fragBuf{key: k, total: -1, deadline: now + r.timeout, proto: k.proto}
		r.bufs[k] = b
		r.used += fragOverhead
		b.prev = r.newest
		if r.newest != nil {
			r.newest.next = b
		} else {
			r.oldest = b
		}
		r.newest = b
	}
	if !more {
		if b.total >= 0 && b.total != end || end < b.lastEnd() {
			r.drop(k, b)
			st.FragmentsDropped++
			return nil, false
		}
		b.total = end
	} else if b.total >= 0 && end > b.total {
		r.drop(k, b)
		st.FragmentsDropped++
		return nil, false
	}
	for _, h := range b.have {
		if off < h.end && h.start < end {
			// Overlap (or duplicate): discard the datagram.
			r.drop(k, b)
			st.FragmentsDropped++
			return nil, false
		}
	}
	if end > len(b.data) {
		grow := end - cap(b.data)
		if grow > 0 && r.used+grow > r.limit {
			r.drop(k, b)
			st.FragmentsDropped++
			return nil, false
		}
		if end > cap(b.data) {
			nd := make([]byte, end, end)
			copy(nd, b.data)
			r.used += cap(nd) - cap(b.data)
			b.data = nd
		} else {
			b.data = b.data[:end]
		}
	}
	copy(b.data[off:end], p)
	b.have = insertSpan(b.have, seqSpan{off, end})
	if len(b.have) > 256 {
		r.drop(k, b)
		st.FragmentsDropped++
		return nil, false
	}
	if b.total >= 0 && len(b.have) == 1 && b.have[0].start == 0 && b.have[0].end == b.total {
		r.drop(k, b)
		st.FragmentsReassembled++
		return b.data[:b.total], true
	}
	return nil, false
}

func (b *fragBuf) lastEnd() int {
	if len(b.have) == 0 {
		return 0
	}
	return b.have[len(b.have)-1].end
}

// insertSpan adds a non-overlapping span, merging adjacent ones.
func insertSpan(h []seqSpan, n seqSpan) []seqSpan {
	i := 0
	for i < len(h) && h[i].start < n.start {
		i++
	}
	h = append(h, seqSpan{})
	copy(h[i+1:], h[i:])
	h[i] = n
	out := h[:1]
	for _, x := range h[1:] {
		if last := &out[len(out)-1]; last.end == x.start {
			last.end = x.end
		} else {
			out = append(out, x)
		}
	}
	return out
}

func (r *reassembler) addV4(ip wire.IPv4, now time.Duration, st *Stats) ([]byte, bool) {
	k := fragKey{src: ip.Src(), dst: ip.Dst(), id: uint32(ip.ID()), proto: ip.Protocol()}
	return r.add(k, int(ip.FragmentOffset())*8, ip.MoreFragments(), ip.Payload(), now, st)
}

// addV6 finds the Fragment header behind any Hop-by-Hop, Routing or
// Destination Options headers and reassembles.
func (r *reassembler) addV6(ip wire.IPv6, now time.Duration, st *Stats) ([]byte, uint8, bool) {
	nh := ip.NextHeader()
	b := ip.Payload()
	for i := 0; i < 8; i++ {
		switch nh {
		case 0, 43, 60:
			if len(b) < 8 {
				st.FragmentsDropped++
				return nil, 0, false
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				st.FragmentsDropped++
				return nil, 0, false
			}
			nh, b = b[0], b[n:]
			continue
		case 44:
			if len(b) < 8 {
				st.FragmentsDropped++
				return nil, 0, false
			}
			offField := binary.BigEndian.Uint16(b[2:4])
			k := fragKey{src: ip.Src(), dst: ip.Dst(), id: binary.BigEndian.Uint32(b[4:8]), proto: b[0]}
			whole, ok := r.add(k, int(offField&^7), offField&1 != 0, b[8:], now, st)
			return whole, k.proto, ok
		}
		break
	}
	st.FragmentsDropped++
	return nil, 0, false
}

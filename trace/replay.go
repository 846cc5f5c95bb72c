package trace

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// Causes of the steps that only an observer takes, or that it names
// differently from the engine because it cannot tell the calls apart. The
// engine's own causes (tcp.Cause*) are used wherever the packet shows which
// rule fired.
const (
	causeFinSent = "CLOSE call or shutdown(SHUT_WR): FIN sent (RFC 9293 3.10.4)"
	causeRstSent = "ABORT call, CLOSE with unread data or SO_LINGER 0: RST sent (RFC 9293 3.10.5, RFC 2525 2.17)"
	causeRstTW   = "RST arrived in TIME_WAIT: Linux closes (the RFC 1337 hazard, tcp_rfc1337=0)"
	causeMidOpen = "connection already open when the capture began"
)

// receipt kinds, scheduled at a segment index.
type receipt uint8

const (
	rcvAckOfSyn receipt = iota // the side's SYN is acknowledged by the peer
	rcvSyn                     // the peer's SYN arrives
	rcvAckOfFin                // the side's FIN is acknowledged by the peer
	rcvFin                     // the peer's FIN arrives
)

type event struct {
	kind receipt
	side Side // the receiving side
	from int  // index of the peer segment that causes it
}

type replayer struct {
	c     *Conn
	opts  Options
	segs  []Segment
	state [2]tcp.State

	passive   [2]bool
	synEnd    [2]uint32
	hasSyn    [2]bool
	finEnd    [2]uint32
	hasFin    [2]bool
	firstFin  [2]int
	finAcked  [2]bool // the peer acknowledged the FIN somewhere
	synCopies [2][]int
	finCopies [2][]int
	lost      map[int]bool
	events    map[int][]event
	twSince   [2]time.Duration
}

// replay infers both ends' states from the connection's segments.
func replay(c *Conn, capEnd time.Duration, opts Options) {
	r := &replayer{c: c, opts: opts, segs: c.Segments, lost: map[int]bool{}, events: map[int][]event{}}
	r.prepare()
	r.run()
	r.finish(capEnd)
	c.Vantage = vantage(c)
	for i := range r.segs {
		r.segs[i].Lost = r.lost[i]
	}
	c.Segments = r.segs
	annotate(c)
}

func (r *replayer) prepare() {
	c, segs := r.c, r.segs
	for i := range segs {
		s := &segs[i]
		x := s.From
		if s.Flags&wire.FlagSYN != 0 && !c.issKnown[x] {
			c.iss[x], c.issKnown[x] = s.Seq, true
		}
	}
	for i := range segs {
		s := &segs[i]
		x := s.From
		if !c.issKnown[x] {
			c.iss[x], c.issKnown[x] = s.Seq, true
		}
		if s.Flags&wire.FlagSYN != 0 && s.Seq == c.iss[x] {
			r.hasSyn[x], r.synEnd[x] = true, s.Seq+1
			r.synCopies[x] = append(r.synCopies[x], i)
		}
		if s.Flags&wire.FlagFIN != 0 && s.Flags&wire.FlagRST == 0 {
			end := s.Seq + s.SeqLen()
			if !r.hasFin[x] {
				r.hasFin[x], r.finEnd[x], r.firstFin[x] = true, end, i
			}
			if end == r.finEnd[x] {
				r.finCopies[x] = append(r.finCopies[x], i)
			}
		}
	}
	for i := range segs {
		s := &segs[i]
		s.RelSeq = s.Seq - c.iss[s.From]
		if s.Flags&wire.FlagACK != 0 {
			s.RelAck = s.Ack - c.iss[s.From.Peer()]
		}
	}

	// Initial states.
	for _, x := range []Side{Left, Right} {
		c.Initial[x] = tcp.Established
	}
	switch {
	case r.hasSyn[Left] && segs[r.synCopies[Left][0]].Flags&wire.FlagACK == 0:
		c.Initial[Left] = tcp.Closed
		c.Initial[Right] = tcp.Listen
		r.passive[Right] = true
		if r.hasSyn[Right] && segs[r.synCopies[Right][0]].Flags&wire.FlagACK == 0 {
			c.Initial[Right], r.passive[Right] = tcp.Closed, false // simultaneous open
		}
		// A SYN answered by a RST, before any SYN-ACK: no listener.
		for i := r.synCopies[Left][0] + 1; i < len(segs); i++ {
			if segs[i].From == Right {
				if segs[i].Flags&wire.FlagRST != 0 {
					c.Initial[Right], r.passive[Right] = tcp.Closed, false
				}
				break
			}
		}
	case r.hasSyn[Right]:
		// The capture began after the SYN: the SYN-ACK is the first thing seen.
		c.Initial[Left], c.Initial[Right] = tcp.SynSent, tcp.Listen
		r.passive[Right] = true
	}
	r.state = c.Initial
	if c.Initial[Left] == tcp.Established || c.Initial[Left] == tcp.SynSent {
		c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindMidStream, Time: segs[0].Time, Packet: segs[0].Packet,
			Detail: fmt.Sprintf("capture began mid-connection: both ends assumed %v (left %v, right %v)", c.Initial[Left], c.Initial[Left], c.Initial[Right])})
	}

	// Receipts of SYN and FIN. The copy taken as the one that arrived is
	// the last one sent before the peer's first ACK covering it; the ACK
	// taken as the one that arrived is the peer's first covering ACK after
	// the last copy. A peer's packet that does not yet acknowledge the
	// SYN or FIN was sent before it arrived, so the arrival is put after
	// it.
	for _, x := range []Side{Left, Right} {
		y := x.Peer()
		if r.hasSyn[x] {
			r.schedule(x, y, r.synCopies[x], r.synEnd[x], rcvSyn, rcvAckOfSyn, nil)
		}
		if r.hasFin[x] {
			r.schedule(x, y, r.finCopies[x], r.finEnd[x], rcvFin, rcvAckOfFin, &r.finAcked[x])
		}
	}
}

// covers reports whether s acknowledges everything before end.
func covers(s *Segment, end uint32) bool {
	return s.Flags&wire.FlagACK != 0 && s.Flags&wire.FlagRST == 0 && seqLE(end, s.Ack)
}

func (r *replayer) schedule(x, y Side, copies []int, end uint32, arrive, acked receipt, ackedFlag *bool) {
	segs := r.segs
	firstCover := -1
	for i := copies[0] + 1; i < len(segs); i++ {
		if segs[i].From == y && covers(&segs[i], end) {
			firstCover = i
			break
		}
	}
	if firstCover < 0 {
		if arrive == rcvFin {
			// Never acknowledged: assume the first copy arrived.
			r.events[copies[0]] = append(r.events[copies[0]], event{rcvFin, y, copies[0]})
		}
		return
	}
	if ackedFlag != nil {
		*ackedFlag = true
	}
	eff := copies[0]
	for _, i := range copies {
		if i < firstCover {
			eff = i
		}
	}
	for _, i := range copies {
		if i < eff {
			r.lost[i] = true // a later copy was needed
		}
	}
	at := eff
	for i := eff + 1; i < firstCover; i++ {
		if segs[i].From == y && segs[i].Flags&wire.FlagACK != 0 && segs[i].Flags&wire.FlagRST == 0 {
			at = i // sent before the SYN/FIN arrived
		}
	}
	if arrive == rcvFin {
		// The FIN takes effect only once everything before it has arrived
		// (RFC 9293 3.10.7.4, eighth check): data the sender sent again
		// after the FIN, before the peer's ACK covering it, filled a hole.
		for i := eff + 1; i < firstCover; i++ {
			if segs[i].From == x && segs[i].Len > 0 && i > at {
				at = i
			}
		}
	}
	r.events[at] = append(r.events[at], event{arrive, y, eff})
	last := copies[len(copies)-1]
	ack := -1
	for i := last + 1; i < len(segs); i++ {
		if segs[i].From == y && covers(&segs[i], end) {
			ack = i
			break
		}
	}
	if ack < 0 {
		for i := len(segs) - 1; i > last; i-- {
			if segs[i].From == y && covers(&segs[i], end) {
				ack = i
				break
			}
		}
	}
	if ack < 0 {
		ack = firstCover
	}
	r.events[ack] = append(r.events[ack], event{acked, x, ack})
}

func (r *replayer) step(i int, s Side, to tcp.State, cause string, conf Confidence, note string, receipt bool) {
	seg := &r.segs[i]
	r.c.Steps = append(r.c.Steps, Step{Time: seg.Time, Side: s, From: r.state[s], To: to, Cause: cause,
		Confidence: conf, Note: note, Packet: seg.Packet, Receipt: receipt})
	r.state[s] = to
	if to == tcp.TimeWait {
		r.twSince[s] = seg.Time
	}
}

func (r *replayer) run() {
	for i := range r.segs {
		seg := &r.segs[i]
		x := seg.From
		f := seg.Flags
		if f&wire.FlagRST != 0 {
			r.reset(i)
			continue
		}
		// What the sender's packet proves about the sender.
		switch {
		case f&wire.FlagSYN != 0 && f&wire.FlagACK == 0:
			if r.state[x] == tcp.Closed {
				r.step(i, x, tcp.SynSent, string(tcp.CauseActiveOpen), Observed, "", false)
			}
		case f&wire.FlagSYN != 0:
			switch r.state[x] {
			case tcp.Listen, tcp.Closed:
				r.step(i, x, tcp.SynReceived, string(tcp.CauseSynReceived), Observed,
					"the SYN it answers was not seen arriving: placed at the SYN-ACK", false)
			case tcp.SynSent:
				r.step(i, x, tcp.SynReceived, string(tcp.CauseSimultaneousOpen), Observed,
					"the peer's SYN was not seen arriving: placed at the SYN-ACK", false)
			}
		}
		if f&wire.FlagFIN != 0 && i == r.firstFin[x] {
			note := "the CLOSE or shutdown call came at or before this FIN (a FIN waits behind queued data)"
			switch r.state[x] {
			case tcp.Established, tcp.SynReceived:
				r.step(i, x, tcp.FinWait1, causeFinSent, Observed, note, false)
			case tcp.CloseWait:
				r.step(i, x, tcp.LastAck, causeFinSent, Observed, note, false)
			}
		}
		// What arriving packets did to their receivers.
		evs := r.events[i]
		for k, ev := range evs {
			r.apply(i, ev, evs[k+1:])
		}
	}
}

func (r *replayer) apply(i int, ev event, rest []event) {
	y := ev.side
	x := y.Peer()
	seg := &r.segs[i]
	from := &r.segs[ev.from]
	deferred := ""
	if seg.From == y && ev.kind != rcvAckOfSyn && ev.kind != rcvAckOfFin {
		deferred = fmt.Sprintf("; placed after packet %d, which %v sent before the segment (packet %d) had arrived", seg.Packet, y, from.Packet)
	}
	switch ev.kind {
	case rcvSyn:
		switch r.state[y] {
		case tcp.Listen:
			r.step(i, y, tcp.SynReceived, string(tcp.CauseSynReceived), Confirmed, "its SYN-ACK confirms it"+deferred, true)
		case tcp.SynSent:
			if from.Flags&wire.FlagACK != 0 && r.hasSyn[y] && from.Ack == r.synEnd[y] {
				r.step(i, y, tcp.Established, string(tcp.CauseSynAckReceived), Confirmed, "its ACK confirms it"+deferred, true)
			} else if from.Flags&wire.FlagACK == 0 {
				r.step(i, y, tcp.SynReceived, string(tcp.CauseSimultaneousOpen), Confirmed, "simultaneous open: its SYN-ACK confirms it"+deferred, true)
			}
		}
	case rcvAckOfSyn:
		if r.state[y] == tcp.SynReceived {
			conf, note := Inferred, "assumes this ACK arrived: nothing the receiver sends afterwards has to differ"
			for j := i + 1; j < len(r.segs); j++ {
				if r.segs[j].From == y && (r.segs[j].Len > 0 || r.segs[j].Flags&wire.FlagFIN != 0) && r.segs[j].Flags&wire.FlagSYN == 0 {
					conf, note = Confirmed, fmt.Sprintf("packet %d (data or FIN, sent only when synchronized) confirms it", r.segs[j].Packet)
					break
				}
			}
			r.step(i, y, tcp.Established, string(tcp.CauseHandshakeAck), conf, note, true)
		}
	case rcvAckOfFin:
		finToo := false
		for _, e := range rest {
			if e.kind == rcvFin && e.side == y {
				finToo = true
			}
		}
		switch r.state[y] {
		case tcp.FinWait1:
			if finToo {
				return // the FIN's arrival takes both steps at once
			}
			r.step(i, y, tcp.FinWait2, string(tcp.CauseFinAcked), Inferred,
				"FIN_WAIT_2 inferred: assumes this ACK arrived; nothing sent in FIN_WAIT_2 proves it", true)
		case tcp.Closing:
			r.step(i, y, tcp.TimeWait, string(tcp.CauseClosingAcked), Inferred, "assumes this ACK arrived", true)
		case tcp.LastAck:
			note := "assumes this ACK arrived"
			if !r.retransmitsAfter(y, i) {
				note += ": the FIN was not retransmitted after it"
			}
			r.step(i, y, tcp.Closed, string(tcp.CauseLastAckAcked), Inferred, note, true)
		}
	case rcvFin:
		conf, note := Confirmed, "its ACK of the FIN confirms it"
		if !r.finAcked[x] {
			conf, note = Inferred, "the FIN is never acknowledged in the capture: assumed to have arrived"
		}
		note += deferred
		ackedToo := r.hasFin[y] && covers(from, r.finEnd[y])
		switch r.state[y] {
		case tcp.Established, tcp.SynReceived:
			r.step(i, y, tcp.CloseWait, string(tcp.CauseFinReceived), conf, note, true)
		case tcp.FinWait1:
			if ackedToo {
				r.step(i, y, tcp.TimeWait, string(tcp.CauseFinAckReceived), conf, note, true)
			} else {
				r.step(i, y, tcp.Closing, string(tcp.CauseFinReceived), conf, "simultaneous close: "+note, true)
			}
		case tcp.FinWait2:
			r.step(i, y, tcp.TimeWait, string(tcp.CauseFinReceived), conf, note, true)
		}
	}
}

// retransmitsAfter reports whether s sends its FIN again after index i.
func (r *replayer) retransmitsAfter(s Side, i int) bool {
	for _, j := range r.finCopies[s] {
		if j > i {
			return true
		}
	}
	return false
}

// sndMax is the highest sequence number side s has sent before index i.
func (r *replayer) sndMax(s Side, i int) (uint32, bool) {
	var m uint32
	ok := false
	for j := 0; j < i; j++ {
		g := &r.segs[j]
		if g.From != s || g.Flags&wire.FlagRST != 0 {
			continue
		}
		e := g.Seq + g.SeqLen()
		if !ok || seqLT(m, e) {
			m, ok = e, true
		}
	}
	return m, ok
}

func (r *replayer) reset(i int) {
	seg := &r.segs[i]
	x, y := seg.From, seg.From.Peer()
	before := r.state[x]
	detail := fmt.Sprintf("%v sent RST in %v", x, before)
	switch before {
	case tcp.Closed, tcp.Listen:
		if before == tcp.Listen && r.c.Initial[x] == tcp.Listen {
			r.c.Initial[x], r.state[x] = tcp.Closed, tcp.Closed
		}
		detail = fmt.Sprintf("%v sent RST with no connection (CLOSED: a segment for a closed port or an ended connection, RFC 9293 3.10.7.1)", x)
	default:
		note := ""
		got := 0
		for j := 0; j < i; j++ {
			if r.segs[j].From == y {
				got += r.segs[j].Len
			}
		}
		switch {
		case i > r.firstFin[x] && r.hasFin[x]:
		case got > 0:
			note = fmt.Sprintf("RST instead of a FIN after %d bytes from %v: typical of close() with unread data (RFC 2525 2.17); SO_LINGER 0 or an abort look the same", got, y)
			detail += "; " + note
		default:
			note = "RST instead of a FIN: an abort or SO_LINGER 0"
			detail += "; " + note
		}
		r.step(i, x, tcp.Closed, causeRstSent, Observed, note, false)
	}
	// The receiver.
	m, ok := r.sndMax(x, i)
	accept, why := true, ""
	if ok && seg.Seq != m {
		if seqLT(seg.Seq, m) {
			accept, why = false, fmt.Sprintf("its sequence number is %d below what %v had sent: out of window, ignored or answered with a challenge ACK (RFC 5961 3.2)", m-seg.Seq, x)
		} else {
			why = "not the exact next sequence number: a Linux receiver answers with a challenge ACK (RFC 5961 3.2); assumed accepted"
		}
	}
	switch r.state[y] {
	case tcp.SynSent:
		if seg.Flags&wire.FlagACK != 0 && r.hasSyn[y] && seg.Ack == r.synEnd[y] {
			r.step(i, y, tcp.Closed, string(tcp.CauseResetInSynSent), Inferred, "connection refused; assumes the RST arrived", true)
			detail += "; connection refused"
		}
	case tcp.SynReceived:
		if accept {
			to := tcp.Closed
			cause := string(tcp.CauseResetReceived)
			if r.passive[y] {
				to, cause = tcp.Listen, string(tcp.CauseResetInSynRcvd)
			}
			r.step(i, y, to, cause, Inferred, strings.TrimSuffix("assumes the RST arrived; "+why, "; "), true)
		}
	case tcp.Closed, tcp.Listen:
	case tcp.TimeWait:
		if accept {
			r.step(i, y, tcp.Closed, causeRstTW, Inferred, "assumes the RST arrived", true)
		}
	default:
		if accept {
			note := "assumes the RST arrived"
			if why != "" {
				note += "; " + why
			}
			r.step(i, y, tcp.Closed, string(tcp.CauseResetReceived), Inferred, note, true)
		} else {
			detail += "; " + why
		}
	}
	r.c.Anomalies = append(r.c.Anomalies, Anomaly{Kind: KindReset, Time: seg.Time, Side: x, Packet: seg.Packet, Detail: detail})
}

func (r *replayer) finish(capEnd time.Duration) {
	c := r.c
	tw := r.opts.timeWait()
	for _, s := range []Side{Left, Right} {
		if r.state[s] != tcp.TimeWait {
			continue
		}
		exp := r.twSince[s] + tw
		if exp <= capEnd {
			c.Steps = append(c.Steps, Step{Time: exp, Side: s, From: tcp.TimeWait, To: tcp.Closed,
				Cause: string(tcp.CauseTimeWaitExpired), Confidence: Assumed,
				Note: fmt.Sprintf("no packet shows it: 2MSL (%v) after entering TIME_WAIT, within the capture", tw)})
			r.state[s] = tcp.Closed
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindTimeWait, Time: r.twSince[s], Duration: tw, Side: s,
				Detail: fmt.Sprintf("%v held TIME_WAIT (closed first and acknowledged the last FIN); expired at +%v", s, fmtDur(exp))})
		} else {
			c.TimeWaitExpiry[s] = exp
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindTimeWait, Time: r.twSince[s], Duration: capEnd - r.twSince[s], Side: s,
				Detail: fmt.Sprintf("%v holds TIME_WAIT (it acknowledged the last FIN): still holding at end of capture, expected to expire at +%v (2MSL = %v after entering)", s, fmtDur(exp), tw)})
		}
	}
	slices.SortStableFunc(c.Steps, func(a, b Step) int {
		if a.Time != b.Time {
			return int(a.Time - b.Time)
		}
		return a.Packet - b.Packet
	})
	c.Final = r.state
	r.anomalies(capEnd)
}

func (r *replayer) anomalies(capEnd time.Duration) {
	c, segs := r.c, r.segs
	type ival struct{ a, b int64 }
	var seen [2][]ival
	var maxEnd [2]int64
	var started [2]bool
	var retx, ooo [2][]int
	var zeroAt [2]int
	zeroAt[0], zeroAt[1] = -1, -1
	var lastDataAfterFin [2]time.Duration
	var dataAfterFin [2]bool
	var missed [2]int
	for i := range segs {
		g := &segs[i]
		x := g.From
		if g.Flags&wire.FlagRST == 0 {
			c.Packets[x]++
			c.Bytes[x] += int64(g.Len)
		} else {
			c.Packets[x]++
		}
		// The peer acknowledges data the capture never saw from x.
		if g.Flags&wire.FlagACK != 0 && g.Flags&wire.FlagRST == 0 && started[x.Peer()] {
			if int64(g.RelAck) > maxEnd[x.Peer()] && int64(g.RelAck)-maxEnd[x.Peer()] < 1<<30 {
				if missed[x.Peer()] == 0 {
					missed[x.Peer()] = i + 1
				}
			}
		}
		// Zero windows.
		if g.Flags&(wire.FlagRST|wire.FlagSYN) == 0 {
			if g.Window == 0 && zeroAt[x] < 0 {
				zeroAt[x] = i
			} else if g.Window != 0 && zeroAt[x] >= 0 {
				z := &segs[zeroAt[x]]
				c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindZeroWindow, Time: z.Time, Duration: g.Time - z.Time, Side: x, Packet: z.Packet,
					Detail: fmt.Sprintf("%v advertised a zero window for %v (packets %d to %d)", x, fmtDur(g.Time-z.Time), z.Packet, g.Packet)})
				zeroAt[x] = -1
			}
		}
		if r.hasFin[x.Peer()] && i > r.firstFin[x.Peer()] && g.Len > 0 {
			dataAfterFin[x], lastDataAfterFin[x] = true, g.Time
		}
		// Retransmissions and reordering.
		n := int64(g.SeqLen())
		if g.Flags&wire.FlagRST != 0 || n == 0 {
			continue
		}
		a := int64(g.RelSeq)
		if a > 1<<31 {
			a -= 1 << 32 // before the first sequence number seen
		}
		b := a + n
		covered := int64(0)
		for _, iv := range seen[x] {
			lo, hi := max(a, iv.a), min(b, iv.b)
			if hi > lo {
				covered += hi - lo
			}
		}
		switch {
		case !started[x]:
		case covered == n:
			if !(n == 1 && g.Len == 1 && b == maxEnd[x]) { // keep-alive probes are not retransmissions
				retx[x] = append(retx[x], i)
			}
		case covered > 0:
			retx[x] = append(retx[x], i)
		case a < maxEnd[x]:
			ooo[x] = append(ooo[x], i)
		}
		started[x] = true
		maxEnd[x] = max(maxEnd[x], b)
		seen[x] = append(seen[x], ival{a, b})
		slices.SortFunc(seen[x], func(p, q ival) int { return int(p.a - q.a) })
		merged := seen[x][:1]
		for _, iv := range seen[x][1:] {
			if last := &merged[len(merged)-1]; iv.a <= last.b {
				last.b = max(last.b, iv.b)
			} else {
				merged = append(merged, iv)
			}
		}
		seen[x] = merged
	}
	for _, x := range []Side{Left, Right} {
		for _, iv := range seen[x] {
			c.Unique[x] += iv.b - iv.a
		}
		if r.hasSyn[x] {
			c.Unique[x]--
		}
		if r.hasFin[x] {
			c.Unique[x]--
		}
		c.Unique[x] = max(c.Unique[x], 0)
		if len(retx[x]) > 0 {
			g := &segs[retx[x][0]]
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindRetransmit, Time: g.Time, Side: x, Packet: g.Packet, Count: len(retx[x]),
				Detail: fmt.Sprintf("%v sent %d segment(s) whose sequence range had been seen before (packets %s)", x, len(retx[x]), packetList(segs, retx[x]))})
		}
		if len(ooo[x]) > 0 {
			g := &segs[ooo[x][0]]
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindOutOfOrder, Time: g.Time, Side: x, Packet: g.Packet, Count: len(ooo[x]),
				Detail: fmt.Sprintf("%v: %d segment(s) filled a hole below data already seen: reordered, or retransmissions of data the capture missed (packets %s)", x, len(ooo[x]), packetList(segs, ooo[x]))})
		}
		if zeroAt[x] >= 0 {
			z := &segs[zeroAt[x]]
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindZeroWindow, Time: z.Time, Duration: capEnd - z.Time, Side: x, Packet: z.Packet,
				Detail: fmt.Sprintf("%v advertised a zero window from packet %d: still zero at end of capture (%v)", x, z.Packet, fmtDur(capEnd-z.Time))})
		}
		if missed[x] > 0 {
			g := &segs[missed[x]-1]
			c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindMissed, Time: g.Time, Side: x, Packet: g.Packet,
				Detail: fmt.Sprintf("%v acknowledges data from %v that the capture never saw: the capture point missed packets", x.Peer(), x)})
		}
		// Long half-close.
		y := x.Peer()
		if r.hasFin[y] && dataAfterFin[x] {
			fin := &segs[r.firstFin[y]]
			if d := lastDataAfterFin[x] - fin.Time; d > r.opts.halfClose() {
				c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindHalfClose, Time: fin.Time, Duration: d, Side: x, Packet: fin.Packet,
					Detail: fmt.Sprintf("%v kept sending for %v after %v's FIN (half-close)", x, fmtDur(d), y)})
			}
		}
		// Unanswered SYNs.
		if r.hasSyn[x] && segs[r.synCopies[x][0]].Flags&wire.FlagACK == 0 {
			answered := false
			for i := r.synCopies[x][0] + 1; i < len(segs); i++ {
				if segs[i].From == y {
					answered = true
					break
				}
			}
			if !answered {
				cp := r.synCopies[x]
				first, last := &segs[cp[0]], &segs[cp[len(cp)-1]]
				c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindSynUnanswered, Time: first.Time, Duration: last.Time - first.Time, Side: x, Packet: first.Packet, Count: len(cp),
					Detail: fmt.Sprintf("%v sent %d SYN(s) over %v and %v never answered", x, len(cp), fmtDur(last.Time-first.Time), y)})
			}
		}
	}
	var open []string
	for _, s := range []Side{Left, Right} {
		switch r.state[s] {
		case tcp.Closed, tcp.Listen, tcp.TimeWait:
		default:
			open = append(open, fmt.Sprintf("%v in %v", s, r.state[s]))
		}
	}
	if len(open) > 0 {
		c.Anomalies = append(c.Anomalies, Anomaly{Kind: KindNotClosed, Time: c.End, Duration: capEnd - c.Start,
			Detail: "not closed at end of capture: " + strings.Join(open, ", ")})
	}
	slices.SortStableFunc(c.Anomalies, func(a, b Anomaly) int { return int(a.Time - b.Time) })
}

func packetList(segs []Segment, idx []int) string {
	var p []string
	for k, i := range idx {
		if k == 8 {
			p = append(p, fmt.Sprintf("... %d more", len(idx)-k))
			break
		}
		p = append(p, fmt.Sprint(segs[i].Packet))
	}
	return strings.Join(p, ", ")
}

// vantage guesses where the capture was taken.
func vantage(c *Conn) Vantage {
	var v Vantage
	// pcapng direction flags or a cooked header's packet type are direct
	// evidence: a packet marked outgoing was captured on its sender.
	var out, in [2]int
	for i := range c.Segments {
		g := &c.Segments[i]
		switch g.Direction {
		case pcap.Out:
			out[g.From]++
		case pcap.In:
			in[g.From]++
		}
	}
	// Handshake timing: the capture point answers for the host near it at
	// once, and sees the far host's answer a round trip later.
	var syn, synack, ack = -1, -1, -1
	for i := range c.Segments {
		g := &c.Segments[i]
		switch {
		case syn < 0 && g.From == Left && g.Flags&wire.FlagSYN != 0 && g.Flags&wire.FlagACK == 0:
			syn = i
		case syn >= 0 && synack < 0 && g.From == Right && g.Flags&wire.FlagSYN != 0 && g.Flags&wire.FlagACK != 0:
			synack = i
		case synack >= 0 && ack < 0 && g.From == Left && g.Flags&wire.FlagACK != 0 && g.Flags&wire.FlagSYN == 0:
			ack = i
		}
	}
	timing := ""
	near := "unknown"
	if syn >= 0 && synack >= 0 && ack >= 0 {
		// Use the last SYN copy before the SYN-ACK and the last SYN-ACK copy before the ACK.
		d1 := c.Segments[synack].Time - c.Segments[syn].Time
		for i := syn; i < synack; i++ {
			if g := &c.Segments[i]; g.From == Left && g.Flags&wire.FlagSYN != 0 {
				d1 = c.Segments[synack].Time - g.Time
			}
		}
		d2 := c.Segments[ack].Time - c.Segments[synack].Time
		v.RTT = d1 + d2
		timing = fmt.Sprintf("SYN to SYN-ACK %v, SYN-ACK to ACK %v", fmtDur(d1), fmtDur(d2))
		switch {
		case v.RTT < 500*time.Microsecond:
			near = "both"
			timing += ": a negligible round trip (the same host, or loopback)"
		case d2*4 < d1:
			near = "left"
			timing += ": the left end answers at once, the right end a round trip later"
		case d1*4 < d2:
			near = "right"
			timing += ": the right end answers at once, the left end a round trip later"
		default:
			near = "unknown"
			timing += ": comparable delays, the capture point seems to be between the ends"
		}
	} else {
		timing = "no complete handshake to time"
	}
	dir := ""
	switch {
	case out[Left]+out[Right] > 0 && in[Left]+in[Right] == 0 && out[Left] > 0 && out[Right] > 0:
		dir, near = "every packet is marked outgoing: both ends are on the capturing host (loopback)", "both"
	case out[Left] > 0 && in[Left] == 0 && in[Right] > 0 && out[Right] == 0:
		dir, near = "direction flags: left's packets outgoing, right's incoming", "left"
	case out[Right] > 0 && in[Right] == 0 && in[Left] > 0 && out[Left] == 0:
		dir, near = "direction flags: right's packets outgoing, left's incoming", "right"
	}
	v.Near = near
	v.Reason = timing
	if dir != "" {
		v.Reason = dir + "; " + timing
	}
	switch near {
	case "left", "right":
		v.Reason += fmt.Sprintf(". Packets from the %s end are timed as sent, those from the other end as they arrived; a packet lost beyond the capture point still appears", near)
	}
	return v
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond && d > -time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second && d > -time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.6gs", d.Seconds())
	}
}

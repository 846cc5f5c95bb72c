package tour

import (
	"fmt"
	"strings"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// The rule behind every step is derived here, outside the engine, from what
// the engine lets any owner see: the segment, the end's state, its
// tcp.Info (sequence and congestion variables) and tcp.Stats (the counters
// of what it dropped or answered specially) before and after the step, and
// the segments it sent meanwhile. The engine reports a Cause only for state
// changes; these rules name what happened to every other segment too.

// Vars are an end's sequence and congestion variables after a step, as its
// engine reports them (tcp.TCB.Info, the same figures as Linux's tcp_info).
type Vars struct {
	// Known is false when the end has no connection whose variables mean
	// anything: no socket, CLOSED or LISTEN.
	Known bool
	// Cwnd and Ssthresh are in segments (tcp_info's snd_cwnd and
	// snd_ssthresh); Ssthresh starts "infinite" (InfiniteSsthresh).
	Cwnd, Ssthresh uint32
	// InFlight is the segments sent and not yet acknowledged.
	InFlight uint32
	// SND.UNA, SND.NXT and RCV.NXT (RFC 9293 3.3.1).
	SndUna, SndNxt, RcvNxt uint32
	// SndWnd is the peer's window, RcvWnd the one this end offers (bytes).
	SndWnd, RcvWnd uint32
}

// InfiniteSsthresh is the slow-start threshold before the first loss:
// Linux's TCP_INFINITE_SSTHRESH.
const InfiniteSsthresh = 0x7fffffff

// probe is what the tour can see of an end at one moment.
type probe struct {
	tcb   bool
	state tcp.State
	info  tcp.Info
	stats tcp.Stats
	timer string // the pending timer, as ss -o names it
}

func (e *end) probe() probe {
	p := probe{state: e.state}
	if e.tcb == nil {
		return p
	}
	p.tcb = true
	p.info = e.tcb.Info()
	p.stats = e.tcb.Stats()
	p.timer, _, _ = e.tcb.TimerName()
	return p
}

// hasVars says whether an end in state st has variables worth showing.
func hasVars(st tcp.State) bool { return st != tcp.Closed && st != tcp.Listen }

func (p probe) vars() Vars {
	if !p.tcb || !hasVars(p.state) {
		return Vars{}
	}
	i := &p.info
	return Vars{Known: true, Cwnd: i.SndCwnd, Ssthresh: i.SndSsthresh, InFlight: i.Unacked,
		SndUna: i.SndUna, SndNxt: i.SndNxt, RcvNxt: i.RcvNxt, SndWnd: i.SndWnd, RcvWnd: i.RcvWnd}
}

// sentDuring returns the segments side sent during the step.
func sentDuring(segs []*Segment, side Side) []*Segment {
	var out []*Segment
	for _, s := range segs {
		if s.From == side {
			out = append(out, s)
		}
	}
	return out
}

// sentText says what an end sent while processing something: "ACK sent",
// "RST sent", "SYN-ACK sent", "data sent"; "" for nothing.
func sentText(segs []*Segment) string {
	var parts []string
	add := func(s string) {
		for _, p := range parts {
			if p == s {
				return
			}
		}
		parts = append(parts, s)
	}
	for _, s := range segs {
		switch f := s.Flags; {
		case f&wire.FlagRST != 0:
			add("RST sent")
		case f&wire.FlagSYN != 0 && f&wire.FlagACK != 0:
			add("SYN-ACK sent")
		case f&wire.FlagSYN != 0:
			add("SYN sent")
		case f&wire.FlagFIN != 0:
			add("FIN sent")
		case s.Len() > 0:
			add("data sent")
		default:
			add("ACK sent")
		}
	}
	return strings.Join(parts, ", ")
}

// delta is what a counter of tcp.Stats gained during the step.
func delta(before, after probe, f func(*tcp.Stats) uint64) uint64 {
	return f(&after.stats) - f(&before.stats)
}

// causes joins the rules of an end's state changes.
func causes(changes []Change, side Side) string {
	var cs []string
	for _, c := range changes {
		if c.Side == side {
			cs = append(cs, string(c.Cause))
		}
	}
	return strings.Join(cs, "; ")
}

// segmentRule names the rule the receiver of seg applied to it, from its
// state, variables and counters before and after, what it sent meanwhile
// (sent) and the state changes it made.
func segmentRule(seg *Segment, before, after probe, sent []*Segment, changes []Change) string {
	f := seg.Flags
	to := seg.To
	out := sentText(sent)
	with := func(s string) string {
		if out != "" {
			return s + ", " + out
		}
		return s
	}
	// challenge: the rule already says an ACK goes back.
	challenge := func(s string) string {
		if out != "" && out != "ACK sent" {
			return s + ", " + out
		}
		return s
	}
	d := func(g func(*tcp.Stats) uint64) bool { return delta(before, after, g) > 0 }
	changed := causes(changes, to)

	if !before.tcb || before.state == tcp.Closed {
		switch {
		case f&wire.FlagRST != 0:
			return "RFC 9293 3.10.7.1 (CLOSED): an RST for no connection is discarded"
		case out != "":
			return "RFC 9293 3.10.7.1 (CLOSED): no connection, " + out
		}
		return "RFC 9293 3.10.7.1 (CLOSED): no connection, segment dropped"
	}
	switch before.state {
	case tcp.Listen:
		switch {
		case changed != "":
			return changed
		case f&wire.FlagRST != 0:
			return "RFC 9293 3.10.7.2 (LISTEN) first check: an RST is ignored"
		case f&wire.FlagACK != 0:
			return with("RFC 9293 3.10.7.2 (LISTEN) second check: an ACK in LISTEN is bad")
		}
		return "RFC 9293 3.10.7.2 (LISTEN): neither SYN, ACK nor RST: dropped"
	case tcp.SynSent:
		switch {
		case changed != "":
			return changed
		case d(func(s *tcp.Stats) uint64 { return s.BadAck }):
			return with("RFC 9293 3.10.7.3 (SYN_SENT) first check: the ACK is not for our SYN")
		case f&wire.FlagRST != 0:
			return "RFC 9293 3.10.7.3 (SYN_SENT) second check: an RST without an acceptable ACK is ignored"
		}
		return "RFC 9293 3.10.7.3 (SYN_SENT) fourth check: neither SYN nor RST: dropped"
	case tcp.TimeWait:
		switch {
		case changed != "":
			return changed
		case f&wire.FlagRST != 0:
			return "RFC 9293 3.10.7.4 second check in TIME_WAIT: RST ignored (RFC 1337)"
		case d(func(s *tcp.Stats) uint64 { return s.SYNInSynchronized }):
			return with("RFC 9293 3.10.7.4 fourth check in TIME_WAIT: a SYN that cannot open a new connection")
		case d(func(s *tcp.Stats) uint64 { return s.FinRetransmitted }):
			return with("RFC 9293 3.10.7.4 eighth check in TIME_WAIT: the FIN again (our ACK was lost), 2MSL timer restarted")
		case d(func(s *tcp.Stats) uint64 { return s.OutOfWindow }):
			return with("RFC 9293 3.10.7.4 first check in TIME_WAIT: unacceptable segment")
		}
		return with("RFC 9293 3.10.7.4 in TIME_WAIT: acceptable segment")
	}

	// SYN_RCVD and the synchronized states: the eight checks of 3.10.7.4.
	const p = "RFC 9293 3.10.7.4 "
	switch {
	case d(func(s *tcp.Stats) uint64 { return s.SYNRetransmitted }):
		return with("the peer's SYN again in SYN_RCVD (our SYN-ACK was lost): answered as the first (Linux tcp_check_req)")
	case d(func(s *tcp.Stats) uint64 { return s.PAWSRejected }):
		return with("RFC 7323 5.3 PAWS: timestamp older than TS.Recent, segment dropped")
	case d(func(s *tcp.Stats) uint64 { return s.RSTsOutOfWindow }):
		return p + "first check: RST outside the window: dropped"
	case d(func(s *tcp.Stats) uint64 { return s.OutOfWindowAcksRateLimited }):
		return p + "first check: unacceptable segment, dropped; its ACK suppressed (tcp_invalid_ratelimit)"
	case d(func(s *tcp.Stats) uint64 { return s.OutOfWindow }):
		return with(p + "first check: unacceptable segment (outside RCV.WND), dropped")
	case d(func(s *tcp.Stats) uint64 { return s.RSTsInWindow }):
		return challenge(p + "second check: RST in the window but not at RCV.NXT: challenge ACK (RFC 5961 3.2)")
	case d(func(s *tcp.Stats) uint64 { return s.SYNInSynchronized }):
		return challenge(p + "fourth check: SYN in a synchronized state: challenge ACK (RFC 5961 4.2)")
	case d(func(s *tcp.Stats) uint64 { return s.DroppedNoAck }):
		return p + "fifth check: no ACK bit, dropped"
	case d(func(s *tcp.Stats) uint64 { return s.BadAck }):
		return with(p + "fifth check in SYN_RCVD: unacceptable ACK")
	case d(func(s *tcp.Stats) uint64 { return s.AckUnsentData }):
		return with(p + "fifth check: ACK of data not yet sent, dropped (RFC 5961 5.2)")
	case d(func(s *tcp.Stats) uint64 { return s.AckTooOld }):
		return with(p + "fifth check: ACK older than SND.UNA - MAX.SND.WND, dropped (RFC 5961 5.2)")
	case d(func(s *tcp.Stats) uint64 { return s.DataAfterClose }):
		return changed
	}
	if f&wire.FlagRST != 0 && changed != "" {
		return changed
	}

	var checks []string
	bi, ai := &before.info, &after.info
	if changed == "" {
		// Fifth check: the ACK.
		var s string
		wnd := d(func(s *tcp.Stats) uint64 { return s.WindowUpdates })
		switch acked := ai.SndUna - bi.SndUna; {
		case int32(acked) > 0:
			s = fmt.Sprintf("fifth check: ACK advances SND.UNA by %d", acked)
			if ai.SndCwnd != bi.SndCwnd {
				s += fmt.Sprintf(", cwnd %d -> %d", bi.SndCwnd, ai.SndCwnd)
			}
		case d(func(s *tcp.Stats) uint64 { return s.DupAcks }):
			s = "fifth check: duplicate ACK (RFC 5681 2)"
			if ai.FastRetrans > bi.FastRetrans {
				s += ", the third: fast retransmit (RFC 5681 3.2, RFC 6582)"
			}
		case wnd:
			s = "fifth check: nothing new acknowledged"
		}
		if wnd {
			s += fmt.Sprintf(", window update (SND.WND %d)", ai.SndWnd)
		}
		if s != "" {
			checks = append(checks, s)
		}
		// Loss detected on the ACK's arrival: SACK and RACK (RFC 8985 6.2,
		// RFC 6675) or duplicate ACKs (RFC 5681 3.2).
		if n := ai.TotalRetrans - bi.TotalRetrans; n > 0 && ai.FastRetrans == bi.FastRetrans {
			l := fmt.Sprintf("loss detected (RFC 8985 6.2, RFC 6675): %d segment(s) retransmitted", n)
			if bi.CAState != ai.CAState {
				l += fmt.Sprintf(", congestion state %s -> %s", bi.CAState, ai.CAState)
			}
			checks = append(checks, l)
		}
	}
	// Seventh check: the text.
	if n := seg.Len(); n > 0 {
		switch adv := ai.RcvNxt - bi.RcvNxt; {
		case d(func(s *tcp.Stats) uint64 { return s.OutOfOrderSegments }):
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes beyond RCV.NXT, queued out of order (ACK at once, RFC 5681 4.2)", n))
		case d(func(s *tcp.Stats) uint64 { return s.DuplicateData }):
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes already received (ACK at once)", n))
		case d(func(s *tcp.Stats) uint64 { return s.DataAfterFin }):
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes after the peer's FIN, ignored", n))
		case d(func(s *tcp.Stats) uint64 { return s.DataBeyondWindow }):
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes beyond the window offered, trimmed", n))
		case f&wire.FlagFIN != 0 && changed != "" && int32(adv) > 0:
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes in order", n))
		case int32(adv) > int32(n):
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes in order fill a gap, RCV.NXT advances by %d", n, adv))
		case int32(adv) > 0:
			checks = append(checks, fmt.Sprintf("seventh check: %d bytes in order, RCV.NXT advances", adv))
		}
	}
	if changed != "" {
		checks = append(checks, changed)
		return strings.Join(checks, "; ")
	}
	if f&wire.FlagFIN != 0 {
		checks = append(checks, "eighth check: FIN")
	}
	rule := p + "first check: acceptable segment"
	if len(checks) > 0 {
		rule = p + strings.Join(checks, "; ")
	} else if f&wire.FlagACK != 0 && seg.SeqLen() == 0 {
		rule += "; fifth check: nothing new acknowledged"
	}
	switch {
	case out != "":
		rule += "; " + out
	case seg.SeqLen() > 0 && after.timer == "delack":
		rule += "; ACK delayed (RFC 9293 3.8.6.3)"
	}
	return rule
}

// timerRule names the timer that fired at an end (name: "retransmission
// timer expired") and the rule it applied (rule), from the end's counters
// before and after; both are "" when the counters tell nothing (the
// caller then judges by what was sent).
func timerRule(before, after probe, sent []*Segment, changes []Change, side Side) (name, rule string) {
	if c := causes(changes, side); c != "" {
		return "", c
	}
	d := func(g func(*tcp.Stats) uint64) bool { return delta(before, after, g) > 0 }
	bi, ai := &before.info, &after.info
	out := sentText(sent)
	cwnd := func() string {
		s := ""
		if bi.CAState != ai.CAState && ai.CAState != "" {
			s += fmt.Sprintf("; congestion state %s -> %s", bi.CAState, ai.CAState)
		}
		if bi.SndCwnd != ai.SndCwnd {
			s += fmt.Sprintf("; cwnd %d -> %d, ssthresh %d", bi.SndCwnd, ai.SndCwnd, ai.SndSsthresh)
		}
		return s
	}
	switch {
	case ai.Timeouts > bi.Timeouts || d(func(s *tcp.Stats) uint64 { return s.Retransmits }):
		name = "retransmission timer expired"
		switch before.state {
		case tcp.SynSent:
			return name, "RFC 6298 5.4: retransmission timer expired: SYN retransmitted (RFC 9293 3.8.1; Linux keeps the RTO for the first few)"
		case tcp.SynReceived:
			return name, "RFC 6298 5.4: retransmission timer expired: SYN-ACK retransmitted, 5.5: RTO doubled"
		}
		rule = "RFC 6298 5.4: retransmission timer expired: the earliest unacknowledged segment retransmitted, 5.5: RTO doubled"
		if bi.SndCwnd != ai.SndCwnd {
			rule += fmt.Sprintf("; RFC 5681 3.1: cwnd %d -> %d, ssthresh %d", bi.SndCwnd, ai.SndCwnd, ai.SndSsthresh)
		}
		return name, rule
	case ai.TLPProbes > bi.TLPProbes:
		return "loss probe timer expired", "RFC 8985 7.3: probe timeout (PTO) expired: tail loss probe sent (new data if any, else the last segment again)" + cwnd()
	case ai.TotalRetrans > bi.TotalRetrans:
		return "RACK reordering timer expired", fmt.Sprintf("RFC 8985 6.3: RACK reordering timer expired: %d segment(s) outstanding longer than RTT + reo_wnd deemed lost, retransmitted",
			ai.TotalRetrans-bi.TotalRetrans) + cwnd()
	case d(func(s *tcp.Stats) uint64 { return s.WindowProbes }):
		return "persist timer expired", "RFC 9293 3.8.6.1: persist timer expired: zero-window probe sent"
	case d(func(s *tcp.Stats) uint64 { return s.KeepaliveProbes }):
		return "keep-alive timer expired", "RFC 9293 3.8.4: keep-alive timer expired: probe sent"
	case out == "ACK sent":
		return "delayed-ACK timer expired", "RFC 9293 3.8.6.3 (RFC 1122 4.2.3.2): delayed-ACK timer expired: ACK sent"
	case out != "":
		return "", "timer expired: " + out
	}
	return "", ""
}

// callRule names the user call's rule (RFC 9293 3.10) when it changed no
// state; a state change names its own.
func callRule(op Op, side Side, sent []*Segment, changes []Change) string {
	if c := causes(changes, side); c != "" {
		return c
	}
	out := sentText(sent)
	var s string
	switch op {
	case Write:
		s = "RFC 9293 3.10.2 SEND call: data queued"
	case Read:
		s = "RFC 9293 3.10.3 RECEIVE call"
		if out == "ACK sent" {
			out = "window update sent"
		}
	case LingerZero:
		return "SO_LINGER 0: a later close() aborts (RFC 9293 3.10.5 ABORT)"
	case Close, ShutdownWrite:
		s = "RFC 9293 3.10.4 CLOSE call"
		if out == "" {
			return s + ": nothing more to send"
		}
	default:
		return ""
	}
	if out != "" {
		s += ", " + out
	}
	return s
}

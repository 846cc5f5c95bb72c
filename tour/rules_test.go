package tour

import (
	"strings"
	"testing"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// stepWhere returns the first step of a scenario's run that match selects.
func stepWhere(t *testing.T, name string, match func(*Step) bool) *Step {
	t.Helper()
	sc, ok := Lookup(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	tr, err := Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Steps {
		if match(&tr.Steps[i]) {
			return &tr.Steps[i]
		}
	}
	t.Fatalf("%s: no such step", name)
	return nil
}

func arrival(from Side, f func(*Segment) bool) func(*Step) bool {
	return func(st *Step) bool { return st.Kind == SegmentStep && st.Seg.From == from && f(st.Seg) }
}

// TestRulesInScenarios checks the rule named for segments and timers that
// change no state, in the runs of the tour's scenarios.
func TestRulesInScenarios(t *testing.T) {
	data := func(s *Segment) bool { return s.Len() > 0 }
	pureAck := func(s *Segment) bool { return s.Flags == wire.FlagACK && s.Len() == 0 }
	for _, c := range []struct {
		name, scenario string
		step           func(*Step) bool
		want           []string
	}{
		{"data in order", "handshake-data-close", arrival(Client, data),
			[]string{"RFC 9293 3.10.7.4 seventh check: 15 bytes in order, RCV.NXT advances", "ACK sent"}},
		{"ACK of data", "handshake-data-close", arrival(Server, func(s *Segment) bool { return pureAck(s) && s.Ack == 1016 }),
			[]string{"RFC 9293 3.10.7.4 fifth check: ACK advances SND.UNA by 15"}},
		{"nothing new acknowledged", "simultaneous-open", arrival(A, pureAck),
			[]string{"fifth check: nothing new acknowledged, window update (SND.WND"}},
		{"out of order", "data-retransmit", arrival(Client, func(s *Segment) bool { return s.Len() > 0 && s.Seq == 2449 }),
			[]string{"seventh check: 1448 bytes beyond RCV.NXT, queued out of order", "ACK sent"}},
		{"duplicate ACK", "data-retransmit", func(st *Step) bool {
			return st.Kind == SegmentStep && st.Seg.From == Server && len(st.Seg.Options.SACK()) > 0 && st.Seg.Options.SACK()[0].Right == 4001
		}, []string{"fifth check: duplicate ACK (RFC 5681 2)"}},
		{"timer that recovers the loss", "data-retransmit", func(st *Step) bool { return st.Kind == TimerStep },
			[]string{"timer expired", "retransmitted", "cwnd 10 -> "}},
		{"retransmission fills the gap", "data-retransmit", arrival(Client, func(s *Segment) bool { return s.Len() > 0 && s.Cwnd == 1 }),
			[]string{"seventh check: 1448 bytes in order fill a gap, RCV.NXT advances by 3000"}},
		{"cwnd grows", "data-retransmit", arrival(Server, func(s *Segment) bool { return pureAck(s) && s.Ack == 4001 }),
			[]string{"fifth check: ACK advances SND.UNA by 3000, cwnd 1 -> "}},
		{"SYN retransmission", "syn-retransmit", func(st *Step) bool { return st.Kind == TimerStep },
			[]string{"RFC 6298 5.4", "SYN retransmitted"}},
		{"SYN-ACK retransmission", "lost-handshake-ack", func(st *Step) bool { return st.Kind == TimerStep },
			[]string{"RFC 6298 5.4", "SYN-ACK retransmitted"}},
		{"old SYN-ACK in ESTABLISHED", "lost-handshake-ack", func(st *Step) bool {
			return st.Kind == SegmentStep && st.Seg.Flags == wire.FlagSYN|wire.FlagACK && st.Before[Client] == tcp.Established
		}, []string{"challenge ACK (RFC 5961 4.2)"}},
		{"FIN again in TIME_WAIT", "time-wait-reack", func(st *Step) bool {
			return st.Kind == SegmentStep && st.Before[Client] == tcp.TimeWait && st.Seg.Flags&wire.FlagFIN != 0
		}, []string{"eighth check in TIME_WAIT", "2MSL timer restarted", "ACK sent"}},
		{"no socket", "connection-refused", arrival(Client, func(*Segment) bool { return true }),
			[]string{"RFC 9293 3.10.7.1 (CLOSED): no connection, RST sent"}},
		{"delayed ACK", "handshake-data-close", func(st *Step) bool { return st.Kind == TimerStep && len(st.Changes) == 0 },
			[]string{"delayed-ACK timer expired: ACK sent"}},
		{"lost", "data-retransmit", func(st *Step) bool { return st.Kind == LostStep },
			[]string{"lost in the network"}},
	} {
		st := stepWhere(t, c.scenario, c.step)
		for _, w := range c.want {
			if !strings.Contains(st.Rule, w) {
				t.Errorf("%s: rule %q lacks %q", c.name, st.Rule, w)
			}
		}
		if len(st.Changes) != 0 {
			t.Errorf("%s: the step changed a state: %+v", c.name, st.Changes)
		}
	}
}

// TestEverySegmentHasARule: every segment and timer step of every scenario
// names its rule, and one that changes the receiver's state names its
// cause.
func TestEverySegmentHasARule(t *testing.T) {
	for _, tr := range runAll(t) {
		for _, st := range tr.Steps {
			switch st.Kind {
			case SegmentStep, TimerStep, LostStep:
				if st.Rule == "" {
					t.Errorf("%s at %s: %v step without a rule", tr.Name, FormatTime(st.At), st.Kind)
				}
			}
			for _, c := range st.Changes {
				if !strings.Contains(st.Rule, string(c.Cause)) {
					t.Errorf("%s at %s: rule %q does not name the cause %q", tr.Name, FormatTime(st.At), st.Rule, c.Cause)
				}
			}
		}
	}
}

// TestCwnd checks the congestion windows the tour records: per segment its
// sender's, per step both ends'.
func TestCwnd(t *testing.T) {
	for _, tr := range runAll(t) {
		for _, s := range tr.Segments() {
			// Only an RST from a port where nothing listens has no sender
			// connection.
			if !s.CwndKnown && s.Flags&wire.FlagRST == 0 {
				t.Errorf("%s: segment %d (%v) without cwnd", tr.Name, s.ID, s.Flags)
			}
			if s.CwndKnown && s.Cwnd == 0 {
				t.Errorf("%s: segment %d sent with cwnd 0", tr.Name, s.ID)
			}
		}
		for _, st := range tr.Steps {
			for side, v := range st.Vars {
				if v.Known != hasVars(st.After[side]) && !(st.Kind == LostStep) {
					t.Errorf("%s at %s: %s in %v has Known=%v", tr.Name, FormatTime(st.At), tr.Names[side], st.After[side], v.Known)
				}
			}
		}
	}

	sc, _ := Lookup("data-retransmit")
	tr, err := Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	// Initial window 10 (RFC 6928, Linux), 1 after the timeout with
	// ssthresh at half the flight (RFC 5681 3.1, eq. 4), growing again as
	// the retransmission is acknowledged.
	var cw []uint32
	for _, s := range sentBy(tr, Client, func(s *Segment) bool { return s.Len() > 0 }) {
		cw = append(cw, s.Cwnd)
	}
	if len(cw) != 4 || cw[0] != 10 || cw[1] != 10 || cw[2] != 10 || cw[3] != 1 {
		t.Errorf("client's data segments sent with cwnd %v, want 10 10 10 1", cw)
	}
	rto := stepWhere(t, "data-retransmit", func(st *Step) bool { return st.Kind == TimerStep })
	if v := rto.Vars[Client]; !v.Known || v.Cwnd != 1 || v.Ssthresh == InfiniteSsthresh || v.Ssthresh < 2 {
		t.Errorf("after the timeout the client has %+v", v)
	}
	last := stepWhere(t, "data-retransmit", arrival(Server, func(s *Segment) bool { return s.Ack == 4001 && s.Len() == 0 }))
	if v := last.Vars[Client]; v.Cwnd <= 1 || v.InFlight != 0 || v.SndUna != 4001 || v.SndNxt != 4001 {
		t.Errorf("after the cumulative ACK the client has %+v", v)
	}
	if v := last.Vars[Server]; v.RcvNxt != 4001 || v.Cwnd != 10 || v.Ssthresh != InfiniteSsthresh {
		t.Errorf("after the cumulative ACK the server has %+v", v)
	}
}

// TestRuleDerivation covers the rules that the scenarios do not reach, from
// the counters the engine keeps (tcp.Stats) before and after a segment.
func TestRuleDerivation(t *testing.T) {
	est := func(mod func(*tcp.Stats)) (probe, probe) {
		b := probe{tcb: true, state: tcp.Established}
		a := b
		mod(&a.stats)
		return b, a
	}
	ack := &Segment{Flags: wire.FlagACK, To: Server}
	ackOut := []*Segment{{From: Server, Flags: wire.FlagACK}}
	for _, c := range []struct {
		name   string
		seg    *Segment
		mod    func(*tcp.Stats)
		sent   []*Segment
		state  tcp.State
		want   string
		absent string
	}{
		{"unacceptable", ack, func(s *tcp.Stats) { s.OutOfWindow++ }, ackOut, 0,
			"RFC 9293 3.10.7.4 first check: unacceptable segment (outside RCV.WND), dropped, ACK sent", ""},
		{"unacceptable, rate-limited", ack, func(s *tcp.Stats) { s.OutOfWindow++; s.OutOfWindowAcksRateLimited++ }, nil, 0,
			"first check: unacceptable segment, dropped; its ACK suppressed (tcp_invalid_ratelimit)", ""},
		{"PAWS", ack, func(s *tcp.Stats) { s.PAWSRejected++ }, ackOut, 0, "RFC 7323 5.3 PAWS", ""},
		{"RST out of window", &Segment{Flags: wire.FlagRST, To: Server}, func(s *tcp.Stats) { s.RSTsOutOfWindow++ }, nil, 0,
			"first check: RST outside the window: dropped", ""},
		{"RST in window", &Segment{Flags: wire.FlagRST, To: Server}, func(s *tcp.Stats) { s.RSTsInWindow++ }, ackOut, 0,
			"second check: RST in the window but not at RCV.NXT: challenge ACK (RFC 5961 3.2)", "ACK sent"},
		{"no ACK bit", &Segment{To: Server}, func(s *tcp.Stats) { s.DroppedNoAck++ }, nil, 0, "fifth check: no ACK bit, dropped", ""},
		{"ACK of unsent data", ack, func(s *tcp.Stats) { s.AckUnsentData++ }, ackOut, 0,
			"fifth check: ACK of data not yet sent, dropped (RFC 5961 5.2), ACK sent", ""},
		{"ACK too old", ack, func(s *tcp.Stats) { s.AckTooOld++ }, ackOut, 0, "ACK older than SND.UNA - MAX.SND.WND", ""},
		{"bad ACK in SYN_RCVD", ack, func(s *tcp.Stats) { s.BadAck++ }, []*Segment{{From: Server, Flags: wire.FlagRST}}, tcp.SynReceived,
			"fifth check in SYN_RCVD: unacceptable ACK, RST sent", ""},
		{"duplicate data", &Segment{Flags: wire.FlagACK, To: Server, Payload: []byte("abc")}, func(s *tcp.Stats) { s.DuplicateData++ }, ackOut, 0,
			"seventh check: 3 bytes already received (ACK at once); ACK sent", ""},
		{"data after FIN", &Segment{Flags: wire.FlagACK, To: Server, Payload: []byte("abc")}, func(s *tcp.Stats) { s.DataAfterFin++ }, nil, tcp.CloseWait,
			"seventh check: 3 bytes after the peer's FIN, ignored", ""},
		{"SYN in a synchronized state", &Segment{Flags: wire.FlagSYN, To: Server}, func(s *tcp.Stats) { s.SYNInSynchronized++ }, ackOut, 0,
			"fourth check: SYN in a synchronized state: challenge ACK (RFC 5961 4.2)", "ACK sent"},
		{"SYN again in SYN_RCVD", &Segment{Flags: wire.FlagSYN, To: Server}, func(s *tcp.Stats) { s.SYNRetransmitted++ },
			[]*Segment{{From: Server, Flags: wire.FlagSYN | wire.FlagACK}}, tcp.SynReceived, "the peer's SYN again in SYN_RCVD", ""},
		{"RST in TIME_WAIT", &Segment{Flags: wire.FlagRST, To: Server}, func(s *tcp.Stats) { s.RSTsIgnored++ }, nil, tcp.TimeWait,
			"second check in TIME_WAIT: RST ignored (RFC 1337)", ""},
	} {
		b, a := est(c.mod)
		if c.state != 0 {
			b.state, a.state = c.state, c.state
		}
		got := segmentRule(c.seg, b, a, c.sent, nil)
		if !strings.Contains(got, c.want) || c.absent != "" && strings.Contains(got, c.absent) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}

	// LISTEN and SYN_SENT.
	listen := probe{tcb: true, state: tcp.Listen}
	for _, c := range []struct {
		seg  *Segment
		sent []*Segment
		want string
	}{
		{&Segment{Flags: wire.FlagRST, To: Server}, nil, "RFC 9293 3.10.7.2 (LISTEN) first check: an RST is ignored"},
		{&Segment{Flags: wire.FlagACK, To: Server}, []*Segment{{From: Server, Flags: wire.FlagRST}},
			"RFC 9293 3.10.7.2 (LISTEN) second check: an ACK in LISTEN is bad, RST sent"},
		{&Segment{Flags: wire.FlagFIN, To: Server}, nil, "RFC 9293 3.10.7.2 (LISTEN): neither SYN, ACK nor RST: dropped"},
	} {
		if got := segmentRule(c.seg, listen, listen, c.sent, nil); got != c.want {
			t.Errorf("LISTEN: %q, want %q", got, c.want)
		}
	}
	synSent := probe{tcb: true, state: tcp.SynSent}
	bad := synSent
	bad.stats.BadAck++
	if got := segmentRule(&Segment{Flags: wire.FlagACK, To: Client}, synSent, bad, []*Segment{{From: Client, Flags: wire.FlagRST}}, nil); got !=
		"RFC 9293 3.10.7.3 (SYN_SENT) first check: the ACK is not for our SYN, RST sent" {
		t.Errorf("SYN_SENT, bad ACK: %q", got)
	}
	if got := segmentRule(&Segment{Flags: wire.FlagRST, To: Client}, synSent, synSent, nil, nil); !strings.Contains(got, "second check: an RST without an acceptable ACK is ignored") {
		t.Errorf("SYN_SENT, RST: %q", got)
	}
	if got := segmentRule(&Segment{Flags: wire.FlagRST, To: Client}, probe{}, probe{}, nil, nil); !strings.Contains(got, "an RST for no connection is discarded") {
		t.Errorf("no socket, RST: %q", got)
	}

	// Timers other than retransmission.
	idle := probe{tcb: true, state: tcp.Established}
	probes := idle
	probes.stats.WindowProbes++
	for _, c := range []struct {
		mod        func(*probe)
		name, rule string
	}{
		{func(p *probe) { p.stats.WindowProbes++ }, "persist timer expired", "RFC 9293 3.8.6.1: persist timer expired: zero-window probe sent"},
		{func(p *probe) { p.stats.KeepaliveProbes++ }, "keep-alive timer expired", "RFC 9293 3.8.4: keep-alive timer expired: probe sent"},
		{func(p *probe) { p.info.TLPProbes++ }, "loss probe timer expired", "RFC 8985 7.3: probe timeout (PTO) expired: tail loss probe sent"},
		{func(p *probe) { p.info.TotalRetrans += 2; p.info.CAState = "recovery"; p.info.SndCwnd = 7 }, "RACK reordering timer expired",
			"RFC 8985 6.3: RACK reordering timer expired: 2 segment(s) outstanding longer than RTT + reo_wnd deemed lost, retransmitted; " +
				"congestion state open -> recovery; cwnd 10 -> 7"},
		{func(p *probe) { p.info.Timeouts++; p.info.SndCwnd = 1 }, "retransmission timer expired", "RFC 6298 5.4: retransmission timer expired: the earliest unacknowledged segment retransmitted, 5.5: RTO doubled; RFC 5681 3.1: cwnd 10 -> 1"},
		{func(*probe) {}, "", ""},
	} {
		b := idle
		b.info.CAState, b.info.SndCwnd = "open", 10
		a := b
		c.mod(&a)
		name, rule := timerRule(b, a, nil, nil, Client)
		if name != c.name || !strings.HasPrefix(rule, c.rule) || (c.rule == "") != (rule == "") {
			t.Errorf("timer: %q %q, want %q %q", name, rule, c.name, c.rule)
		}
	}
	// A timer that only sends an ACK is the delayed-ACK timer.
	if name, rule := timerRule(idle, idle, []*Segment{{Flags: wire.FlagACK}}, nil, Client); name != "delayed-ACK timer expired" || !strings.Contains(rule, "RFC 1122 4.2.3.2") {
		t.Errorf("delayed ACK: %q %q", name, rule)
	}
}

package tcp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/synfin/synfin/wire"
)

// ECN (RFC 3168) as segment exchanges. Segments are written as in the state
// scripts, with the IP header's ECN field in packetdrill's brackets in
// front: "[ect0] P. 1001:2001(1000) ack 5001 win 502". Without brackets an
// expected segment must be not-ECT.

// ecnCfg is stCfg with tcp_ecn set, and Reno, whose ssthresh is half the
// window, so that the reductions are easy to follow.
func ecnCfg(mode int) *Config {
	c := stCfg()
	c.ECN = mode
	c.CongestionControl = "reno"
	return c
}

// ecnSplit takes "[ce] rest" apart.
func ecnSplit(t *testing.T, line string) (wire.ECN, string) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "[") {
		return wire.NotECT, line
	}
	i := strings.IndexByte(line, ']')
	if i < 0 {
		t.Fatalf("bad segment %q", line)
	}
	cp, ok := map[string]wire.ECN{"noecn": wire.NotECT, "ect0": wire.ECT0, "ect1": wire.ECT1, "ce": wire.CE}[line[1:i]]
	if !ok {
		t.Fatalf("bad ECN codepoint in %q", line)
	}
	return cp, strings.TrimSpace(line[i+1:])
}

// ecnIn injects a segment with its ECN field.
func ecnIn(when, line string) stStep {
	return stStep{when: when, desc: "< " + line, checkQuiet: true, run: func(r *stRun, s *stStep) {
		cp, rest := ecnSplit(r.t, line)
		seg := stParseSeg(r.t, rest, true)
		seg.ECN = cp
		r.trace = append(r.trace, fmt.Sprintf("%8s < [%v] %v", stFmtTime(r.now), cp, seg))
		r.tcb.Input(r.now, seg)
	}}
}

// ecnOut expects a segment and its ECN field.
func ecnOut(when, line string) stStep {
	return stStep{when: when, desc: "> " + line, run: func(r *stRun, s *stStep) {
		cp, rest := ecnSplit(r.t, line)
		o := stOut(when, rest)
		n := len(r.segs)
		o.run(r, s)
		if n > 0 && r.last.ECN != cp {
			r.t.Errorf("line %d: %v sent with ECN field %v, want %v", s.line, &r.last, r.last.ECN, cp)
		}
	}}
}

// ecnCheck asserts something about the TCB at a point of the script.
func ecnCheck(desc string, f func(tcb *TCB) string) stStep {
	return stStep{when: "+0", desc: desc, run: func(r *stRun, s *stStep) {
		if msg := f(r.tcb); msg != "" {
			r.t.Errorf("line %d (%s): %s", s.line, desc, msg)
		}
	}}
}

// ecnInfo checks the congestion state, cwnd and ssthresh (segments).
func ecnInfo(ca string, cwnd, ssthresh uint32) stStep {
	return ecnCheck(fmt.Sprintf("ca %s cwnd %d ssthresh %d", ca, cwnd, ssthresh), func(tcb *TCB) string {
		i := tcb.Info()
		if i.CAState != ca || i.SndCwnd != cwnd || (ssthresh != 0 && i.SndSsthresh != ssthresh) {
			return fmt.Sprintf("ca %s cwnd %d ssthresh %d, want %s %d %d", i.CAState, i.SndCwnd, i.SndSsthresh, ca, cwnd, ssthresh)
		}
		return ""
	})
}

// ecnWrite queues n bytes.
func ecnWrite(when string, n int) stStep {
	return stCall(when, fmt.Sprintf("write(%d bytes)", n), func(r *stRun) error {
		w, err := r.tcb.Write(r.now, make([]byte, n))
		if err == nil && w != n {
			return fmt.Errorf("wrote %d of %d bytes", w, n)
		}
		return err
	}, nil)
}

func ecnOn(want bool) stStep {
	return ecnCheck(fmt.Sprintf("ECN in use: %v", want), func(tcb *TCB) string {
		if tcb.Info().ECN != want {
			return fmt.Sprintf("Info.ECN = %v, want %v", tcb.Info().ECN, want)
		}
		return ""
	})
}

// ecnActiveOpen: tcp_ecn=1, an ECN-setup SYN answered by an ECN-setup
// SYN-ACK announcing MSS 1000: ECN in use, ESTABLISHED at 0.100.
func ecnActiveOpen() []stStep {
	return []stStep{
		stConnect("0"),
		ecnOut("+0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		ecnIn("0.100", "SE. 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
		ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		ecnOn(true),
	}
}

// ecnPassiveOpen: tcp_ecn=2 (the default), the peer's ECN-setup SYN (not
// ECT) answered with ECE: ECN in use, ESTABLISHED at 0.100.
func ecnPassiveOpen() []stStep {
	return []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		ecnIn("0", "SEW 5000:5000(0) win 65535 <mss 1000,sackOK,wscale 7>"),
		ecnOut("+0", "SE. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		ecnIn("0.100", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		ecnOn(true),
	}
}

// TestRFC3168_6_1_1_ActiveOpen: with tcp_ecn=1 the SYN is an ECN-setup SYN
// (ECE and CWR) and not ECT (6.1.1: "A host MUST NOT set ECT on SYN or
// SYN-ACK packets"). An ECN-setup SYN-ACK (ECE, no CWR) agrees: new data
// then goes out ECT(0), the codepoint Linux uses; the final ACK of the
// handshake, a pure ACK, is not ECT (6.1.4).
func TestRFC3168_6_1_1_ActiveOpen(t *testing.T) {
	stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
		stWrite("0.200", "hello"),
		ecnOut("+0", "[ect0] P. 1001:1006(5) ack 5001 win 502"),
	})}.run(t)
}

// TestRFC3168_6_1_1_SynAckRefuses: the active opener uses ECN only if the
// SYN-ACK has ECE without CWR; a plain SYN-ACK, or one with both flags (a
// reflected SYN, not an answer: 6.1.1), leaves ECN off and data not-ECT.
func TestRFC3168_6_1_1_SynAckRefuses(t *testing.T) {
	for _, synAck := range []string{"S.", "SEW.", "SW."} {
		t.Run(synAck, func(t *testing.T) {
			stScript{cfg: ecnCfg(ECNOn), steps: []stStep{
				stConnect("0"),
				ecnOut("+0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
				stEv(stChange(Closed, SynSent, CauseActiveOpen)),
				ecnIn("0.100", synAck+" 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
				ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
				stEv(stChange(SynSent, Established, CauseSynAckReceived)),
				ecnOn(false),
				stWrite("0.200", "hello"),
				ecnOut("+0", "P. 1001:1006(5) ack 5001 win 502"),
			}}.run(t)
		})
	}
}

// TestRFC3168_6_1_1_NotRequested: with tcp_ecn 2 (Linux's default) or 0 an
// active open does not ask for ECN, and an ECE in the SYN-ACK changes
// nothing.
func TestRFC3168_6_1_1_NotRequested(t *testing.T) {
	for _, mode := range []int{ECNPassive, ECNOff} {
		t.Run(fmt.Sprint("tcp_ecn=", mode), func(t *testing.T) {
			stScript{cfg: ecnCfg(mode), steps: []stStep{
				stConnect("0"),
				ecnOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
				stEv(stChange(Closed, SynSent, CauseActiveOpen)),
				ecnIn("0.100", "SE. 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
				ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
				stEv(stChange(SynSent, Established, CauseSynAckReceived)),
				ecnOn(false),
				stWrite("0.200", "hello"),
				ecnOut("+0", "P. 1001:1006(5) ack 5001 win 502"),
			}}.run(t)
		})
	}
}

// TestRFC3168_6_1_1_PassiveOpen: a listener answers an ECN-setup SYN with
// an ECN-setup SYN-ACK (ECE only) when tcp_ecn is 1 or 2, and a plain one
// when tcp_ecn is 0, when the SYN is not an ECN-setup SYN (ECE alone), or
// when the SYN arrived ECT or CE: SYNs must not be ECT (6.1.1), so the
// field was mangled on the way, and Linux declines.
func TestRFC3168_6_1_1_PassiveOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   int
		syn    string
		synAck string
	}{
		{"accept tcp_ecn=2", ECNPassive, "SEW", "SE."},
		{"accept tcp_ecn=1", ECNOn, "SEW", "SE."},
		{"tcp_ecn=0", ECNOff, "SEW", "S."},
		{"ECE only", ECNPassive, "SE", "S."},
		{"CWR only", ECNPassive, "SW", "S."},
		{"plain SYN", ECNOn, "S", "S."},
		{"ECT(0) SYN", ECNPassive, "[ect0] SEW", "S."},
		{"ECT(1) SYN", ECNPassive, "[ect1] SEW", "S."},
		{"CE SYN", ECNPassive, "[ce] SEW", "S."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantECN := tc.synAck == "SE."
			data := "P. 1001:1006(5) ack 5001 win 502"
			if wantECN {
				data = "[ect0] " + data
			}
			stScript{cfg: ecnCfg(tc.mode), steps: []stStep{
				stListen("0"),
				stEv(stChange(Closed, Listen, CausePassiveOpen)),
				ecnIn("0", tc.syn+" 5000:5000(0) win 65535 <mss 1000,sackOK,wscale 7>"),
				ecnOut("+0", tc.synAck+" 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
				stEv(stChange(Listen, SynReceived, CauseSynReceived)),
				ecnIn("0.100", ". 5001:5001(0) ack 1001 win 502"),
				stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
				ecnOn(wantECN),
				stWrite("0.200", "hello"),
				ecnOut("+0", data),
			}}.run(t)
		})
	}
}

// TestRFC3168_6_1_1_1_SynFallback: an ECN-setup SYN that goes unanswered
// may be the victim of a middlebox that drops them; with tcp_ecn_fallback
// (the default) its retransmissions are plain SYNs (6.1.1.1), and the
// connection still takes an ECN-setup SYN-ACK if one arrives. Without the
// fallback every retransmission asks again.
func TestRFC3168_6_1_1_1_SynFallback(t *testing.T) {
	t.Run("fallback", func(t *testing.T) {
		stScript{cfg: ecnCfg(ECNOn), steps: []stStep{
			stConnect("0"),
			ecnOut("+0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
			stEv(stChange(Closed, SynSent, CauseActiveOpen)),
			stWait("1.0"),
			ecnOut("1.0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
			stWait("2.0"),
			ecnOut("2.0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
			ecnIn("2.100", "SE. 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
			ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
			stEv(stChange(SynSent, Established, CauseSynAckReceived)),
			ecnOn(true),
		}}.run(t)
	})
	t.Run("no fallback", func(t *testing.T) {
		cfg := ecnCfg(ECNOn)
		cfg.ECNFallback = false
		stScript{cfg: cfg, steps: []stStep{
			stConnect("0"),
			ecnOut("+0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
			stEv(stChange(Closed, SynSent, CauseActiveOpen)),
			stWait("1.0"),
			ecnOut("1.0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
			ecnIn("1.100", "S. 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
			ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
			stEv(stChange(SynSent, Established, CauseSynAckReceived)),
			ecnOn(false),
		}}.run(t)
	})
}

// TestRFC3168_6_1_1_SynAckRetransmitted: a retransmitted SYN-ACK still
// carries ECE (Linux builds every SYN-ACK of a request from its ecn_ok),
// and is never ECT.
func TestRFC3168_6_1_1_SynAckRetransmitted(t *testing.T) {
	stScript{cfg: ecnCfg(ECNPassive), steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		ecnIn("0", "SEW 5000:5000(0) win 65535 <mss 1000,sackOK,wscale 7>"),
		ecnOut("+0", "SE. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stWait("1.0"),
		ecnOut("1.0", "SE. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		ecnIn("1.100", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		ecnOn(true),
	}}.run(t)
}

// TestRFC3168_6_1_1_SimultaneousOpen: both ends send ECN-setup SYNs; each
// answers with a SYN-ACK carrying ECE (not CWR) and ECN is in use. A peer
// whose SYN does not ask for ECN turns it off.
func TestRFC3168_6_1_1_SimultaneousOpen(t *testing.T) {
	for _, tc := range []struct {
		peerSyn, synAck string
		on              bool
	}{{"SEW", "SE.", true}, {"S", "S.", false}} {
		t.Run(tc.peerSyn, func(t *testing.T) {
			data := "P. 1001:1006(5) ack 5001 win 502"
			if tc.on {
				data = "[ect0] " + data
			}
			stScript{cfg: ecnCfg(ECNOn), steps: []stStep{
				stConnect("0"),
				ecnOut("+0", "SEW 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
				stEv(stChange(Closed, SynSent, CauseActiveOpen)),
				ecnIn("0.050", tc.peerSyn+" 5000:5000(0) win 65535 <mss 1000,sackOK,wscale 7>"),
				ecnOut("+0", tc.synAck+" 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
				stEv(stChange(SynSent, SynReceived, CauseSimultaneousOpen)),
				ecnIn("0.100", ". 5001:5001(0) ack 1001 win 502"),
				stEv(stChange(SynReceived, Established, CauseHandshakeAck)),
				ecnOn(tc.on),
				stWrite("0.200", "hello"),
				ecnOut("+0", data),
			}}.run(t)
		})
	}
}

// TestRFC3168_6_1_4_6_1_5_6_1_6_NotECT: once ECN is in use, only new data
// is ECT. A FIN without data and pure ACKs (6.1.4), retransmissions
// (6.1.5) and zero-window probes (6.1.6) go out not-ECT.
func TestRFC3168_6_1_4_6_1_5_6_1_6_NotECT(t *testing.T) {
	t.Run("retransmission", func(t *testing.T) {
		stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
			stWrite("0.200", "hello"),
			ecnOut("+0", "[ect0] P. 1001:1006(5) ack 5001 win 502"),
			stWait("0.500"),
			ecnOut("0.500", "P. 1001:1006(5) ack 5001 win 502"),
			ecnIn("0.600", ". 5001:5001(0) ack 1006 win 502"),
			stWrite("0.700", "world"),
			ecnOut("+0", "[ect0] P. 1006:1011(5) ack 5001 win 502"),
		})}.run(t)
	})
	t.Run("pure ACK and FIN", func(t *testing.T) {
		stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
			ecnIn("0.200", "[ect0] P. 5001:5101(100) ack 1001 win 502"),
			ecnOut("+0", ". 1001:1001(0) ack 5101 win 502"),
			stRead("0.250", stFill(5001, 100), nil),
			stClose("0.300"),
			ecnOut("+0", "F. 1001:1001(0) ack 5101 win 502"),
			stEv(stChange(Established, FinWait1, CauseClose)),
		})}.run(t)
	})
	t.Run("zero-window probe", func(t *testing.T) {
		stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
			ecnIn("0.200", ". 5001:5001(0) ack 1001 win 0"),
			stWrite("0.300", "hello"),
			stWait("0.600"),
			ecnOut("0.600", ". 1000:1000(0) ack 5001 win 502"),
		})}.run(t)
	})
}

// TestRFC3168_6_1_3_ReceiverEchoesCE: a CE-marked data segment makes every
// segment we send carry ECE, ACKs and data alike, until a segment with CWR
// arrives. The CE segment is acknowledged at once (Linux enters quick-ACK
// mode for two segments: the sender's window may be small), as is a data
// segment carrying CWR; a later CE restarts the echo.
func TestRFC3168_6_1_3_ReceiverEchoesCE(t *testing.T) {
	cfg := ecnCfg(ECNOn)
	cfg.QuickAcks = 0 // delayed ACKs from the start, to see the quick ACKs
	stScript{cfg: cfg, steps: stSteps(ecnActiveOpen(), []stStep{
		// ECT data, not CE: a delayed ACK without ECE.
		ecnIn("0.200", "[ect0] . 5001:5101(100) ack 1001 win 502"),
		stQuiet("0.239"),
		ecnOut("0.240", ". 1001:1001(0) ack 5101 win 502"),
		// CE: ECE, and the next two segments acknowledged at once.
		ecnIn("0.300", "[ce] . 5101:5201(100) ack 1001 win 502"),
		ecnOut("+0", "E. 1001:1001(0) ack 5201 win 502"),
		ecnIn("0.310", "[ect0] . 5201:5301(100) ack 1001 win 502"),
		ecnOut("+0", "E. 1001:1001(0) ack 5301 win 502"),
		ecnIn("0.320", "[ect0] . 5301:5401(100) ack 1001 win 502"),
		stQuiet("0.359"),
		ecnOut("0.360", "E. 1001:1001(0) ack 5401 win 502"),
		// Our data carries ECE too (and is ECT: it is new data).
		stWrite("0.400", "hello"),
		ecnOut("+0", "[ect0] PE. 1001:1006(5) ack 5401 win 502"),
		// The peer's CWR on a pure ACK ends the echo (Linux accepts CWR on
		// pure ACKs); nothing is sent in reply to a pure ACK.
		ecnIn("0.450", "W. 5401:5401(0) ack 1006 win 502"),
		// The delayed ACK at 0.360 fired before more data came: ato
		// doubled to 80 ms (Linux's tcp_delack_timer_handler, quickack.go).
		ecnIn("0.500", "[ect0] . 5401:5501(100) ack 1006 win 502"),
		stQuiet("0.579"),
		ecnOut("0.580", ". 1006:1006(0) ack 5501 win 502"),
		// CE again: echo again; a CWR on data is acknowledged at once and
		// ends the echo.
		ecnIn("0.600", "[ce] . 5501:5601(100) ack 1006 win 502"),
		ecnOut("+0", "E. 1006:1006(0) ack 5601 win 502"),
		ecnIn("0.610", "[ect0] . 5601:5701(100) ack 1006 win 502"),
		ecnOut("+0", "E. 1006:1006(0) ack 5701 win 502"),
		ecnIn("0.620", "[ect0] W. 5701:5801(100) ack 1006 win 502"),
		ecnOut("+0", ". 1006:1006(0) ack 5801 win 502"),
		ecnCheck("counters", func(tcb *TCB) string {
			st := tcb.Stats()
			if st.CEReceived != 2 || st.CWRReceived != 2 || st.ECEReceived != 0 {
				return fmt.Sprintf("CE %d CWR %d ECE %d, want 2 2 0", st.CEReceived, st.CWRReceived, st.ECEReceived)
			}
			if !tcb.Info().ECNSeen {
				return "Info.ECNSeen false"
			}
			return ""
		}),
	})}.run(t)
}

// TestRFC3168_6_1_3_CEAndCWRTogether: a segment carrying CWR and marked CE
// ends the previous echo and starts a new one (RFC 3168 6.1.3: CWR is
// processed before the CE mark of the same segment).
func TestRFC3168_6_1_3_CEAndCWRTogether(t *testing.T) {
	stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
		ecnIn("0.200", "[ce] . 5001:5101(100) ack 1001 win 502"),
		ecnOut("+0", "E. 1001:1001(0) ack 5101 win 502"),
		ecnIn("0.300", "[ce] W. 5101:5201(100) ack 1001 win 502"),
		ecnOut("+0", "E. 1001:1001(0) ack 5201 win 502"),
	})}.run(t)
}

// TestRFC3168_6_1_5_NotECTAfterECT: not-ECT data after ECT data on an ECN
// connection is most likely a retransmission (6.1.5 forbids ECT on
// those), and Linux acknowledges it at once, as it does out-of-order data.
func TestRFC3168_6_1_5_NotECTAfterECT(t *testing.T) {
	cfg := ecnCfg(ECNOn)
	cfg.QuickAcks = 0
	stScript{cfg: cfg, steps: stSteps(ecnActiveOpen(), []stStep{
		ecnIn("0.200", "[ect0] . 5001:5101(100) ack 1001 win 502"),
		stQuiet("0.239"),
		ecnOut("0.240", ". 1001:1001(0) ack 5101 win 502"),
		ecnIn("0.300", ". 5101:5201(100) ack 1001 win 502"),
		ecnOut("+0", ". 1001:1001(0) ack 5201 win 502"),
	})}.run(t)
}

// TestRFC3168_6_1_2_SenderReducesOncePerWindow: an ACK with ECE makes the
// sender reduce its window as for a loss, without retransmitting, in the
// way Linux does (the CWR state): ssthresh from the algorithm (Reno: half
// of cwnd), cwnd brought down by PRR as ACKs arrive (RFC 6937; here 3 in
// flight, ssthresh 5: cwnd 3 + 2), the CWR flag on the next new data
// segment only. More ECEs for data sent before the reduction are the same
// congestion event and change nothing; the state ends, with cwnd at
// ssthresh, once an ACK covers more than what had been sent when it began;
// an ECE after that reduces again.
func TestRFC3168_6_1_2_SenderReducesOncePerWindow(t *testing.T) {
	stScript{cfg: ecnCfg(ECNOn), steps: stSteps(ecnActiveOpen(), []stStep{
		ecnWrite("0.200", 4000),
		ecnOut("+0", "[ect0] . 1001:2001(1000) ack 5001 win 502"),
		ecnOut("+0", "[ect0] P. 2001:3001(1000) ack 5001 win 502"),
		ecnOut("+0", "[ect0] . 3001:4001(1000) ack 5001 win 502"),
		ecnOut("+0", "[ect0] P. 4001:5001(1000) ack 5001 win 502"),
		ecnInfo("open", 10, 0x7fffffff),
		ecnIn("0.300", "E. 5001:5001(0) ack 2001 win 502"),
		ecnInfo("cwr", 5, 5),
		// CWR goes on the first new segment only.
		ecnWrite("0.310", 4000),
		ecnOut("+0", "[ect0] W. 5001:6001(1000) ack 5001 win 502"),
		ecnOut("+0", "[ect0] P. 6001:7001(1000) ack 5001 win 502"),
		// Same window: no second reduction. PRR: in flight 4 < ssthresh 5,
		// one delivered, SND.UNA advanced: cwnd = 4 + min(1, 2).
		ecnIn("0.320", "E. 5001:5001(0) ack 3001 win 502"),
		ecnInfo("cwr", 5, 5),
		// One segment cut from the head of the write's skb: no PSH
		// (tcp_fragment leaves it on the tail, records.go).
		ecnOut("+0", "[ect0] . 7001:8001(1000) ack 5001 win 502"),
		ecnIn("0.330", ". 5001:5001(0) ack 5001 win 502"),
		ecnInfo("cwr", 5, 5),
		ecnOut("+0", "[ect0] P. 8001:9001(1000) ack 5001 win 502"),
		// Beyond what was in flight at the ECE: the reduction is over.
		ecnIn("0.400", ". 5001:5001(0) ack 6001 win 502"),
		ecnInfo("open", 5, 5),
		ecnCheck("one reduction", func(tcb *TCB) string {
			st, in := tcb.Stats(), tcb.Info()
			if st.ECNReductions != 1 || st.ECEReceived != 2 || st.CWRSent != 1 || in.DeliveredCE != 2 {
				return fmt.Sprintf("reductions %d ECE %d CWR %d delivered_ce %d, want 1 2 1 2", st.ECNReductions, st.ECEReceived, st.CWRSent, in.DeliveredCE)
			}
			return ""
		}),
		// A new congestion event: a second reduction (ssthresh 5/2).
		ecnIn("0.410", "E. 5001:5001(0) ack 7001 win 502"),
		ecnInfo("cwr", 3, 2),
		// PRR: in flight 1 below ssthresh 2: cwnd 1 + min(1, 3).
		ecnIn("0.420", ". 5001:5001(0) ack 8001 win 502"),
		ecnInfo("cwr", 2, 2),
		ecnWrite("0.430", 1000),
		ecnOut("+0", "[ect0] PW. 9001:10001(1000) ack 5001 win 502"),
		// Past what was in flight at the second ECE: the reduction ends
		// with cwnd at ssthresh, and this ACK already grows it (Linux
		// leaves the CWR state before tcp_cong_control).
		ecnIn("0.530", ". 5001:5001(0) ack 10001 win 502"),
		ecnInfo("open", 3, 2),
		ecnCheck("two reductions", func(tcb *TCB) string {
			if st := tcb.Stats(); st.ECNReductions != 2 || st.CWRSent != 2 {
				return fmt.Sprintf("reductions %d CWR %d, want 2 2", st.ECNReductions, st.CWRSent)
			}
			return ""
		}),
	})}.run(t)
}

// TestRFC3168_6_1_2_NoECNIgnoresECE: without ECN negotiated, ECE and CWR
// mean nothing and CE marks are not echoed.
func TestRFC3168_6_1_2_NoECNIgnoresECE(t *testing.T) {
	stScript{cfg: ecnCfg(ECNPassive), steps: []stStep{
		stConnect("0"),
		ecnOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		ecnIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 <mss 1000,sackOK,wscale 7>"),
		ecnOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		ecnWrite("0.200", 3000),
		ecnOut("+0", ". 1001:2001(1000) ack 5001 win 502"),
		ecnOut("+0", "P. 2001:3001(1000) ack 5001 win 502"),
		ecnOut("+0", "P. 3001:4001(1000) ack 5001 win 502"),
		ecnIn("0.300", "[ce] E. 5001:5101(100) ack 2001 win 502"),
		ecnOut("+0", ". 4001:4001(0) ack 5101 win 502"),
		ecnInfo("open", 10, 0x7fffffff),
		ecnCheck("no counters", func(tcb *TCB) string {
			if st := tcb.Stats(); st.ECEReceived != 0 || st.CEReceived != 0 || tcb.Info().DeliveredCE != 0 {
				return "ECN counted on a connection without ECN"
			}
			return ""
		}),
	}}.run(t)
}

// TestRFC3168_6_1_2_ECEOnHandshakeAck: the ACK completing a passive open
// finds nothing in flight: an ECE on it reduces nothing (Linux's tcp_ack
// reaches its ECN processing only with data outstanding).
func TestRFC3168_6_1_2_ECEOnHandshakeAck(t *testing.T) {
	stScript{cfg: ecnCfg(ECNPassive), steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		ecnIn("0", "SEW 5000:5000(0) win 65535 <mss 1000,sackOK,wscale 7>"),
		ecnOut("+0", "SE. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		ecnIn("0.100", "E. 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		ecnInfo("open", 10, 0x7fffffff),
	}}.run(t)
}

// TestRFC3168_6_1_3_PassiveReceiver: the echo works the same on a passive
// open; an ECE on data from the peer, with our data in flight, reduces our
// window.
func TestRFC3168_6_1_3_PassiveReceiver(t *testing.T) {
	stScript{cfg: ecnCfg(ECNPassive), steps: stSteps(ecnPassiveOpen(), []stStep{
		ecnWrite("0.200", 2000),
		ecnOut("+0", "[ect0] . 1001:2001(1000) ack 5001 win 502"),
		ecnOut("+0", "[ect0] P. 2001:3001(1000) ack 5001 win 502"),
		ecnIn("0.300", "[ce] E. 5001:5101(100) ack 2001 win 502"),
		ecnOut("+0", "E. 3001:3001(0) ack 5101 win 502"),
		ecnInfo("cwr", 3, 5),
	})}.run(t)
}

func TestECNConfigValidate(t *testing.T) {
	for _, v := range []int{-1, 3} {
		c := DefaultConfig()
		c.ECN = v
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tcp_ecn") {
			t.Errorf("tcp_ecn=%d: Validate() = %v, want an error naming tcp_ecn", v, err)
		}
	}
	if c := DefaultConfig(); c.ECN != ECNPassive || !c.ECNFallback {
		t.Errorf("defaults: tcp_ecn %d, tcp_ecn_fallback %v; Linux has 2 and 1", c.ECN, c.ECNFallback)
	}
}

package tcp

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/synfin/synfin/wire"
)

// Opening a connection: RFC 9293 3.5 and 3.10.7.2-3.10.7.4, with Linux 6.x's
// timers and option layout.

// TestState_ClosedToSynSent_RFC9293_3_10_1: an active OPEN sends a SYN with
// MSS, SACK-permitted and window scale (7 with the default tcp_rmem), the
// window rounded down to whole 1460-byte segments (64240), and enters
// SYN_SENT. On the wire the options are in Linux's layout.
func TestState_ClosedToSynSent_RFC9293_3_10_1(t *testing.T) {
	r := stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stState(SynSent),
		stDeadline("1.0"),
	}}.run(t)
	// mss 1460, nop, nop, sackOK, nop, wscale 7: what Linux sends without
	// timestamps.
	got := wire.AppendTCPOptions(nil, &r.last.Options, true)
	want := []byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}
	if !bytes.Equal(got, want) {
		t.Errorf("SYN options on the wire % x, want % x", got, want)
	}
}

// TestState_ClosedToSynSent_Timestamps_RFC7323: with timestamps (the Linux
// default) the SYN carries TSval = our clock and TSecr 0, laid out as
// mss, sackOK, TS, nop, wscale; the window is still 64240 (a SYN sizes it
// for 1460-byte segments, since the peer has not agreed to timestamps yet).
func TestState_ClosedToSynSent_Timestamps_RFC7323(t *testing.T) {
	r := stScript{cfg: stTSCfg(), steps: []stStep{
		stConnect("0.250"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100250 ecr 0,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
	}}.run(t)
	got := wire.AppendTCPOptions(nil, &r.last.Options, true)
	want := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 1, 0x87, 0x9a, 0, 0, 0, 0, 1, 3, 3, 7}
	if !bytes.Equal(got, want) {
		t.Errorf("SYN options on the wire % x, want % x", got, want)
	}
}

// TestState_SynSentToEstablished_RFC9293_3_10_7_3: a SYN-ACK acknowledging
// our SYN moves SYN_SENT to ESTABLISHED and is acknowledged at once. The
// window of the ACK is scaled: 64256 >> 7 = 502.
func TestState_SynSentToEstablished_RFC9293_3_10_7_3(t *testing.T) {
	stScript{steps: stSteps(stActiveOpen(), []stStep{
		stDeadline("none"),
		stWrite("0.200", "hello"),
		stOut("+0", "P. 1001:1006(5) ack 5001 win 502"),
	})}.run(t)
}

// TestState_SynSentToEstablished_Timestamps_RFC7323_4_3: on the timestamp
// path the ACK echoes the peer's TSval and TS.Recent follows the peer.
func TestState_SynSentToEstablished_Timestamps_RFC7323_4_3(t *testing.T) {
	stScript{cfg: stTSCfg(), steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100000 ecr 0,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65160 <mss 1460,sackOK,TS val 700 ecr 100000,wscale 7>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502 <TS val 100100 ecr 700>"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		stIn("0.200", "P. 5001:5011(10) ack 1001 win 509 <TS val 800 ecr 100100>"),
		stOut("+0", ". 1001:1001(0) ack 5011 win 502 <TS val 100200 ecr 800>"),
		stRead("+0", stFill(5001, 10), nil),
	}}.run(t)
}

// TestState_ClosedToListen_RFC9293_3_10_1: a passive OPEN sends nothing.
func TestState_ClosedToListen_RFC9293_3_10_1(t *testing.T) {
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stState(Listen),
		stDeadline("none"),
	}}.run(t)
}

// TestState_ListenToSynRcvd_RFC9293_3_10_7_2: a SYN in LISTEN is answered
// with a SYN-ACK acknowledging ISN+1, carrying only the options the peer
// offered.
func TestState_ListenToSynRcvd_RFC9293_3_10_7_2(t *testing.T) {
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0.5", "S 5000:5000(0) win 65535 <mss 1400,nop,nop,sackOK>"),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stDeadline("1.5"),
	}}.run(t)
}

// TestState_ListenToSynRcvd_Timestamps_RFC7323: with timestamps the SYN-ACK
// window is sized for 1448-byte segments (65160) and echoes the peer's TSval.
func TestState_ListenToSynRcvd_Timestamps_RFC7323(t *testing.T) {
	stScript{cfg: stTSCfg(), steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 7>"),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 65160 <mss 1460,sackOK,TS val 100000 ecr 700,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.100", ". 5001:5001(0) ack 1001 win 502 <nop,nop,TS val 800 ecr 100000>"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		stWrite("0.200", "hi"),
		stOut("+0", "P. 1001:1003(2) ack 5001 win 510 <TS val 100200 ecr 800>"),
	}}.run(t)
}

// TestState_ListenIgnoresRSTAndResetsACK_RFC9293_3_10_7_2: in LISTEN an RST
// is ignored and an ACK is answered with <SEQ=SEG.ACK><CTL=RST>.
func TestState_ListenIgnoresRSTAndResetsACK_RFC9293_3_10_7_2(t *testing.T) {
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0.1", "R 5000:5000(0) win 0"),
		stIn("0.2", ". 5000:5000(0) ack 4242 win 502"),
		stOut("+0", "R 4242:4242(0) win 0"),
		stState(Listen),
	}}.run(t)
}

// TestState_SynRcvdToEstablished_RFC9293_3_10_7_4: the ACK of our SYN moves
// SYN_RCVD to ESTABLISHED and raises EventAccepted.
func TestState_SynRcvdToEstablished_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stDeadline("none"),
		stIn("0.2", "P. 5001:5101(100) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5101 win 502"),
		stRead("+0", stFill(5001, 100), nil),
	})}.run(t)
}

// TestState_SynRcvdBadAck_RFC9293_3_10_7_4: in SYN_RCVD an ACK that does not
// acknowledge our SYN is answered with <SEQ=SEG.ACK><CTL=RST> and the
// handshake goes on.
func TestState_SynRcvdBadAck_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.1", ". 5001:5001(0) ack 3000 win 502"),
		stOut("+0", "R 3000:3000(0) win 0"),
		stState(SynReceived),
		stIn("0.2", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
	}}.run(t)
}

// TestState_SynRcvdSynAckRetransmission_Linux: the final ACK is lost. Linux
// retransmits the SYN-ACK after 1, 2, 4, 8 and 16 s (TCP_TIMEOUT_INIT <<
// num_timeout) and, after tcp_synack_retries (5) retransmissions, drops the
// request when the next timeout (32 s) expires, at 63 s: the passive TCB goes
// back to LISTEN, dead, without sending anything.
func TestState_SynRcvdSynAckRetransmission_Linux(t *testing.T) {
	synack := "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"
	r := stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", synack),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stOut("1", synack),
		stOut("3", synack),
		stOut("7", synack),
		stOut("15", synack),
		stOut("31", synack),
		stDeadline("63"),
		stQuiet("62.999"),
		stWait("63"),
		stEv(stChange(SynReceived, Listen, CauseSynAckTimeout)),
		stDeadline("none"),
		stQuiet("200"),
	}}.run(t)
	if !r.tcb.dead {
		t.Error("TCB not dead after the SYN-ACK timeout")
	}
}

// TestState_SynRcvdRetransmittedSyn_Linux: the SYN-ACK was lost and the peer
// retransmits its SYN: it is answered with the SYN-ACK again (same ISN), and,
// as Linux's tcp_check_req does, the SYN-ACK timer restarts from then.
func TestState_SynRcvdRetransmittedSyn_Linux(t *testing.T) {
	synack := "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", synack),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.5", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", synack),
		stState(SynReceived),
		stDeadline("1.5"),
		stOut("1.5", synack),
		stOut("3.5", synack),
		stIn("3.6", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
	}}.run(t)
}

// TestState_SynSentRetransmission_Linux6: an unanswered SYN. Linux 6.5+
// (tcp_syn_linear_timeouts = 4) keeps the initial RTO for the first timeouts
// and then doubles it: retransmissions at 1, 2, 3, 4, 5, 7, 11, 19, 35 and
// 67 s. tcp_write_timeout allows tcp_syn_retries + tcp_syn_linear_timeouts
// (6 + 4) retransmissions in SYN_SENT, so connect fails with ETIMEDOUT when
// the timer set at 67 s expires, at 131 s.
func TestState_SynSentRetransmission_Linux6(t *testing.T) {
	syn := "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", syn),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stOut("1", syn),
		stOut("2", syn),
		stOut("3", syn),
		stOut("4", syn),
		stOut("5", syn),
		stOut("7", syn),
		stOut("11", syn),
		stOut("19", syn),
		stOut("35", syn),
		stOut("67", syn),
		stDeadline("131"),
		stQuiet("130.999"),
		stWait("131"),
		stEv(stErr(syscall.ETIMEDOUT), stChange(SynSent, Closed, CauseSynTimeout)),
		stDeadline("none"),
		stCall("+0", "connect() again", func(r *stRun) error { return r.tcb.Connect(r.now, stOpen) }, syscall.EINVAL),
	}}.run(t)
}

// TestState_SynSentRetransmission_Timestamps: each retransmitted SYN carries
// a fresh TSval.
func TestState_SynSentRetransmission_Timestamps(t *testing.T) {
	stScript{cfg: stTSCfg(), steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100000 ecr 0,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stOut("1", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 101000 ecr 0,wscale 7>"),
		stIn("1.1", "S. 5000:5000(0) ack 1001 win 65160 <mss 1460,sackOK,TS val 7 ecr 101000,wscale 7>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502 <TS val 101100 ecr 7>"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		stDeadline("none"),
	}}.run(t)
}

// TestState_SynSentToSynRcvd_SimultaneousOpen_RFC9293_3_10_7_3: a bare SYN in
// SYN_SENT moves to SYN_RCVD and is answered with a SYN-ACK carrying our
// original ISN; the peer's SYN-ACK completes the handshake. Linux treats that
// SYN-ACK as a retransmission of the peer's SYN (tcp_data_queue: old data)
// and acknowledges it at once, reporting the SYN as a duplicate (RFC 2883
// 4: a D-SACK block). No EventAccepted: there is no listener.
func TestState_SynSentToSynRcvd_SimultaneousOpen_RFC9293_3_10_7_3(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(SynSent, SynReceived, CauseSimultaneousOpen)),
		stIn("0.2", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502 <sack 5000:5001>"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck)),
		stDeadline("none"),
		stWrite("0.3", "x"),
		stOut("+0", "P. 1001:1002(1) ack 5001 win 502"),
	}}.run(t)
}

// TestState_SimultaneousOpenAck_RFC9293_3_10_7_4: in a simultaneous open the
// peer may answer our SYN-ACK with a plain ACK: SYN_RCVD -> ESTABLISHED.
func TestState_SimultaneousOpenAck_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(SynSent, SynReceived, CauseSimultaneousOpen)),
		stIn("0.2", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck)),
		stDeadline("none"),
	}}.run(t)
}

// TestState_SynRcvdClose_RFC9293_3_10_4: CLOSE in SYN_RCVD (possible for a
// simultaneous open). synfin takes RFC 9293 3.10.4's "queue for processing
// after entering ESTABLISHED" branch: nothing is sent and the SYN-ACK keeps
// being retransmitted; the ACK of our SYN then moves to ESTABLISHED and at
// once to FIN_WAIT_1 with the FIN.
func TestState_SynRcvdClose_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(SynSent, SynReceived, CauseSimultaneousOpen)),
		// Nothing queued: the FIN goes out at once and the connection enters
		// FIN_WAIT_1 (RFC 9293 3.10.4 first branch, Linux tcp_close_state).
		stClose("0.15"),
		stOut("+0", "F. 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynReceived, FinWait1, CauseClose)),
		// Our SYN is still unacknowledged: its SYN-ACK is what the RTO resends.
		// Its window keeps the right edge the FIN advertised (502 << 7), since
		// a window never shrinks (RFC 9293 3.8.6.2.2).
		stOut("1.1", "S. 1000:1000(0) ack 5001 win 64256 <mss 1460,sackOK,wscale 7>"),
		stIn("1.2", ". 5001:5001(0) ack 1001 win 502"),
		// The RTO went back to SND.UNA (RFC 5681 3.1, Linux marks all lost):
		// with the SYN acknowledged, the FIN is sent again.
		stOut("+0", "F. 1001:1001(0) ack 5001 win 502"),
		stState(FinWait1),
		stIn("1.3", ". 5001:5001(0) ack 1002 win 502"),
		stEv(stChange(FinWait1, FinWait2, CauseFinAcked)),
		stIn("1.4", "F. 5001:5001(0) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5002 win 502"),
		stEv(stChange(FinWait2, TimeWait, CauseFinReceived)),
	}}.run(t)
}

// TestState_SynSentRST_RFC9293_3_10_7_3: an RST acknowledging our SYN means
// "connection refused"; an RST without ACK is ignored.
func TestState_SynSentRST_RFC9293_3_10_7_3(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", "R 0:0(0) win 0"),
		stState(SynSent),
		stIn("0.2", "R. 0:0(0) ack 1001 win 0"),
		stEv(stErr(syscall.ECONNREFUSED), stChange(SynSent, Closed, CauseResetInSynSent)),
		stDeadline("none"),
		stCall("+0", "write()", func(r *stRun) error { _, err := r.tcb.Write(r.now, []byte("x")); return err }, syscall.ECONNREFUSED),
	}}.run(t)
}

// TestState_SynSentBadAck_RFC9293_3_10_7_3: an ACK not acknowledging our SYN
// (SEG.ACK =< ISS or > SND.NXT) is answered with <SEQ=SEG.ACK><CTL=RST>,
// with or without SYN; an RST with a bad ACK is dropped. None changes state.
func TestState_SynSentBadAck_RFC9293_3_10_7_3(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", ". 5000:5000(0) ack 2000 win 502"),
		stOut("+0", "R 2000:2000(0) win 0"),
		stIn("0.2", "S. 5000:5000(0) ack 1000 win 65535 "+stPeerSynOpts),
		stOut("+0", "R 1000:1000(0) win 0"),
		stIn("0.3", "R. 5000:5000(0) ack 999 win 0"),
		stState(SynSent),
		stIn("0.4", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
	}}.run(t)
}

// TestState_SynSentClose_RFC9293_3_10_4: CLOSE in SYN_SENT deletes the TCB
// without sending anything; the SYN-ACK that arrives later finds a CLOSED
// TCB and gets <SEQ=SEG.ACK><CTL=RST>.
func TestState_SynSentClose_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stClose("0.05"),
		stEv(stChange(SynSent, Closed, CauseCloseInSynSent)),
		stDeadline("none"),
		stIn("0.1", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", "R 1001:1001(0) win 0"),
		stState(Closed),
		stQuiet("5"),
	}}.run(t)
}

// TestState_ListenClose_RFC9293_3_10_4: CLOSE in LISTEN deletes the TCB.
func TestState_ListenClose_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stClose("1"),
		stEv(stChange(Listen, Closed, CauseCloseInListen)),
		stIn("2", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "R. 0:0(0) ack 5001 win 0"),
	}}.run(t)
}

package tcp

import (
	"io"
	"syscall"
	"testing"
)

// Closing a connection: RFC 9293 3.6 and 3.10.4/3.10.7.4, with Linux 6.x's
// orphan handling and timers.

// TestState_EstablishedToFinWait1_RFC9293_3_10_4: CLOSE in ESTABLISHED sends
// a FIN (with ACK) and enters FIN_WAIT_1; the FIN is timed (RTO 300 ms after
// a 100 ms RTT sample).
func TestState_EstablishedToFinWait1_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait1(), []stStep{
		stState(FinWait1),
		stDeadline("1.3"),
		stCall("+0", "write()", func(r *stRun) error { _, err := r.tcb.Write(r.now, []byte("x")); return err }, syscall.EPIPE),
	})}.run(t)
}

// TestState_FinWait1ToFinWait2_RFC9293_3_10_7_4: the ACK of our FIN moves
// FIN_WAIT_1 to FIN_WAIT_2, silently. The connection is orphaned (closed by
// the user), so the tcp_fin_timeout timer (60 s) starts.
func TestState_FinWait1ToFinWait2_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait2(), []stStep{
		stState(FinWait2),
		stDeadline("61.1"),
	})}.run(t)
}

// TestState_FinWait2ToTimeWait_RFC9293_3_10_7_4: the peer's FIN in
// FIN_WAIT_2 is acknowledged at once and starts TIME_WAIT (60 s).
func TestState_FinWait2ToTimeWait_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToTimeWait(), []stStep{
		stState(TimeWait),
		stDeadline("61.2"),
		stRead("+0", "", io.EOF),
	})}.run(t)
}

// TestState_FinWait1ToClosingToTimeWait_RFC9293_3_10_7_4: simultaneous
// close. The peer's FIN does not acknowledge ours: FIN_WAIT_1 -> CLOSING,
// and the FIN is acknowledged. The ACK of our FIN then moves CLOSING to
// TIME_WAIT, silently.
func TestState_FinWait1ToClosingToTimeWait_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToClosing(), []stStep{
		stState(Closing),
		stIn("1.2", ". 5002:5002(0) ack 1002 win 502"),
		stEv(stChange(Closing, TimeWait, CauseClosingAcked)),
		stDeadline("61.2"),
	})}.run(t)
}

// TestState_FinWait1ToTimeWait_RFC9293_3_10_7_4: a FIN that also
// acknowledges our FIN moves FIN_WAIT_1 straight to TIME_WAIT ("If our FIN
// has been ACKed (perhaps in this segment), then enter TIME-WAIT"): exactly
// one state change, no FIN_WAIT_2 or CLOSING on the way.
func TestState_FinWait1ToTimeWait_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait1(), []stStep{
		stIn("1.1", "F. 5001:5001(0) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5002 win 502"),
		stEv(stChange(FinWait1, TimeWait, CauseFinAckReceived)),
		stDeadline("61.1"),
	})}.run(t)
}

// TestState_FinWait1DataAndFinAck_RFC9293_3_10_7_4: data, FIN and the ACK of
// our FIN in one segment: the data is acknowledged with the FIN, and
// FIN_WAIT_1 goes straight to TIME_WAIT.
func TestState_FinWait1DataAndFinAck_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stShutdown("1.0", ShutWrite),
		stOut("+0", "F. 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(Established, FinWait1, CauseShutdownWrite)),
		stIn("1.1", "FP. 5001:5011(10) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5012 win 502"),
		stEv(stChange(FinWait1, TimeWait, CauseFinAckReceived)),
		stRead("+0", stFill(5001, 10), nil),
		stRead("+0", "", io.EOF),
	})}.run(t)
}

// TestState_EstablishedToCloseWait_RFC9293_3_10_7_4: the peer's FIN is
// acknowledged at once and moves ESTABLISHED to CLOSE_WAIT; Read returns the
// data that came before it, then io.EOF.
func TestState_EstablishedToCloseWait_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "P. 5001:5011(10) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5011 win 502"),
		stIn("1.1", "F. 5011:5011(0) ack 1001 win 502"),
		stEv(stChange(Established, CloseWait, CauseFinReceived)),
		// Linux's tcp_fin enters pingpong mode: with data received
		// before, the FIN's ACK waits for the delayed-ACK timer.
		stOut("1.14", ". 1001:1001(0) ack 5012 win 502"),
		stRead("+0", stFill(5001, 10), nil),
		stRead("+0", "", io.EOF),
		stRead("+0", "", io.EOF),
		stDeadline("none"),
	})}.run(t)
}

// TestState_CloseWaitToLastAckToClosed_RFC9293_3_10_7_4: half-close by the
// peer. In CLOSE_WAIT we can still send (and the peer acknowledges it); CLOSE
// sends our FIN (LAST_ACK) and its ACK deletes the TCB.
func TestState_CloseWaitToLastAckToClosed_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToCloseWait(), []stStep{
		stRead("+0", "", io.EOF),
		stWrite("1.05", "hello"),
		stOutPayload("+0", "P. 1001:1006(5) ack 5002 win 502", "hello"),
		stIn("1.1", ". 5002:5002(0) ack 1006 win 502"),
		stDeadline("none"),
		stClose("1.2"),
		stOut("+0", "F. 1006:1006(0) ack 5002 win 502"),
		stEv(stChange(CloseWait, LastAck, CauseClose)),
		stIn("1.3", ". 5002:5002(0) ack 1007 win 502"),
		stEv(stChange(LastAck, Closed, CauseLastAckAcked)),
		stDeadline("none"),
		stIn("2", ". 5002:5002(0) ack 1007 win 502"),
		stOut("+0", "R 1007:1007(0) win 0"),
	})}.run(t)
}

// TestState_LastAckFinRetransmission_RFC6298_5: an unacknowledged FIN in
// LAST_ACK is retransmitted by the RTO timer (300 ms after a 100 ms RTT
// sample), doubling each time (RFC 6298 5.5).
func TestState_LastAckFinRetransmission_RFC6298_5(t *testing.T) {
	fin := "F. 1001:1001(0) ack 5002 win 502"
	stScript{steps: stSteps(stActiveOpenNoSACK(), stToLastAck(), []stStep{
		stOut("1.4", fin),
		stOut("2.0", fin),
		stOut("3.2", fin),
		stOut("5.6", fin),
		stIn("5.7", ". 5002:5002(0) ack 1002 win 502"),
		stEv(stChange(LastAck, Closed, CauseLastAckAcked)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_FinWait1FinRetransmission_RFC6298_5: the same in FIN_WAIT_1; the
// ACK of the retransmitted FIN moves to FIN_WAIT_2.
func TestState_FinWait1FinRetransmission_RFC6298_5(t *testing.T) {
	fin := "F. 1001:1001(0) ack 5001 win 502"
	stScript{steps: stSteps(stActiveOpenNoSACK(), stToFinWait1(), []stStep{
		stOut("1.3", fin),
		stOut("1.9", fin),
		stOut("3.1", fin),
		stIn("3.2", ". 5001:5001(0) ack 1002 win 502"),
		stEv(stChange(FinWait1, FinWait2, CauseFinAcked)),
		stDeadline("63.2"),
	})}.run(t)
}

// TestState_TimeWaitExpires_RFC9293_3_10_8: TIME_WAIT lasts exactly 2*MSL
// (Linux TCP_TIMEWAIT_LEN, 60 s), then the TCB is deleted silently.
func TestState_TimeWaitExpires_RFC9293_3_10_8(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToTimeWait(), []stStep{
		stDeadline("61.2"),
		stQuiet("61.199999"),
		stState(TimeWait),
		stWait("61.2"),
		stEv(stChange(TimeWait, Closed, CauseTimeWaitExpired)),
		stDeadline("none"),
		stQuiet("200"),
	})}.run(t)
}

// TestState_TimeWaitFinRetransmission_RFC9293_3_10_7_4: a retransmitted FIN
// in TIME_WAIT is acknowledged again and restarts the 2*MSL timeout.
func TestState_TimeWaitFinRetransmission_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToTimeWait(), []stStep{
		stIn("11.2", "F. 5001:5001(0) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5002 win 502"),
		stState(TimeWait),
		stDeadline("71.2"),
		stQuiet("71.199"),
		stWait("71.2"),
		stEv(stChange(TimeWait, Closed, CauseTimeWaitExpired)),
	})}.run(t)
}

// TestState_TimeWaitRST_RFC9293_3_10_7_4: an RST exactly at RCV.NXT ends
// TIME_WAIT (TIME-WAIT assassination, RFC 1337, which Linux allows by
// default); an RST elsewhere is ignored, as Linux's
// tcp_timewait_state_process does (RFC 5961 3.2: only an exact RST acts).
func TestState_TimeWaitRST_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToTimeWait(), []stStep{
		stIn("2", "R 5100:5100(0) win 0"),
		stIn("3", "R 5001:5001(0) win 0"),
		stState(TimeWait),
		stIn("4", "R 5002:5002(0) win 0"),
		stEv(stChange(TimeWait, Closed, CauseResetReceived)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_TimeWaitRST_RFC1337: with tcp_rfc1337 set, TIME_WAIT ignores
// RSTs and lasts its full 60 s.
func TestState_TimeWaitRST_RFC1337(t *testing.T) {
	cfg := stCfg()
	cfg.RFC1337 = true
	stScript{cfg: cfg, steps: stSteps(stPassiveOpen(), stToTimeWait(), []stStep{
		stIn("2", "R 5002:5002(0) win 0"),
		stState(TimeWait),
		stDeadline("61.2"),
		stWait("61.2"),
		stEv(stChange(TimeWait, Closed, CauseTimeWaitExpired)),
	})}.run(t)
}

// TestState_HalfClose_ShutdownWrite_RFC9293_3_10_4: shutdown(SHUT_WR) sends
// our FIN but keeps the receiving side open: in FIN_WAIT_2 the peer's data
// is acknowledged and read, there is no tcp_fin_timeout (not orphaned), and
// writing fails with EPIPE. The peer's FIN then leads to TIME_WAIT.
func TestState_HalfClose_ShutdownWrite_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stShutdown("1.0", ShutWrite),
		stOut("+0", "F. 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(Established, FinWait1, CauseShutdownWrite)),
		stIn("1.05", "P. 5001:5101(100) ack 1001 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5101 win 502"),
		stIn("1.1", ". 5101:5101(0) ack 1002 win 502"),
		stEv(stChange(FinWait1, FinWait2, CauseFinAcked)),
		stDeadline("none"),
		stIn("2.0", "P. 5101:5201(100) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5201 win 502"),
		stRead("+0", stFill(5001, 200), nil),
		stCall("+0", "write()", func(r *stRun) error { _, err := r.tcb.Write(r.now, []byte("x")); return err }, syscall.EPIPE),
		stIn("3.0", "F. 5201:5201(0) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5202 win 502"),
		stEv(stChange(FinWait2, TimeWait, CauseFinReceived)),
		stRead("+0", "", io.EOF),
	})}.run(t)
}

// TestState_HalfClose_PeerShutsDown_RFC9293_3_10_7_4: the other direction:
// the peer half-closes first; we read its data and EOF, and our data keeps
// flowing (and being acknowledged) in CLOSE_WAIT until we close.
func TestState_HalfClose_PeerShutsDown_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stActiveOpen(), []stStep{
		stIn("1.0", "FP. 5001:5021(20) ack 1001 win 502"),
		stEv(stChange(Established, CloseWait, CauseFinReceived)),
		// Data with the FIN: pingpong mode delays the ACK (Linux).
		stOut("1.04", ". 1001:1001(0) ack 5022 win 502"),
		stRead("+0", stFill(5001, 20), nil),
		stRead("+0", "", io.EOF),
		stWrite("1.1", "0123456789"),
		stOutPayload("+0", "P. 1001:1011(10) ack 5022 win 502", "0123456789"),
		stIn("1.2", ". 5022:5022(0) ack 1011 win 502"),
		stWrite("1.3", "abc"),
		stOutPayload("+0", "P. 1011:1014(3) ack 5022 win 502", "abc"),
		stIn("1.4", ". 5022:5022(0) ack 1014 win 502"),
		stShutdown("1.5", ShutWrite),
		stOut("+0", "F. 1014:1014(0) ack 5022 win 502"),
		stEv(stChange(CloseWait, LastAck, CauseShutdownWrite)),
		stIn("1.6", ". 5022:5022(0) ack 1015 win 502"),
		stEv(stChange(LastAck, Closed, CauseLastAckAcked)),
	})}.run(t)
}

// TestState_CloseWithUnreadData_RFC2525_2_17: closing with received data
// not read aborts the connection: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>
// instead of a FIN (Linux tcp_close; RFC 2525 2.17). Like Linux's
// tcp_send_active_reset, the RST carries the current window.
func TestState_CloseWithUnreadData_RFC2525_2_17(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "P. 5001:5011(10) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5011 win 502"),
		stClose("1.1"),
		stOut("+0", "R. 1001:1001(0) ack 5011 win 502"),
		stEv(stChange(Established, Closed, CauseCloseUnreadData)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_CloseWithUnreadData_Timestamps: on the timestamp path the
// active RST carries the timestamp option with a current TSval, as Linux's
// does (tcp_send_active_reset goes through tcp_transmit_skb).
func TestState_CloseWithUnreadData_Timestamps(t *testing.T) {
	stScript{cfg: stTSCfg(), steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 7>"),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 65160 <mss 1460,sackOK,TS val 100000 ecr 700,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.100", ". 5001:5001(0) ack 1001 win 502 <nop,nop,TS val 800 ecr 100000>"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		stIn("0.200", "P. 5001:6001(1000) ack 1001 win 502 <nop,nop,TS val 801 ecr 100000>"),
		stOut("+0", ". 1001:1001(0) ack 6001 win 509 <TS val 100200 ecr 801>"),
		stClose("1.200"),
		stOut("+0", "R. 1001:1001(0) ack 6001 win 509 <TS val 101200 ecr 801>"),
		stEv(stChange(Established, Closed, CauseCloseUnreadData)),
	}}.run(t)
}

// TestState_CloseAfterReadingEverything_RFC9293_3_10_4: once the data has
// been read, CLOSE sends a FIN as usual.
func TestState_CloseAfterReadingEverything_RFC9293_3_10_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("0.5", "P. 5001:5011(10) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5011 win 502"),
		stRead("0.9", stFill(5001, 10), nil),
		stClose("1.0"),
		stOut("+0", "F. 1001:1001(0) ack 5011 win 502"),
		stEv(stChange(Established, FinWait1, CauseClose)),
	})}.run(t)
}

// TestState_LingerZero_Linux: with SO_LINGER on and a zero timeout, CLOSE
// aborts with RST.
func TestState_LingerZero_Linux(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stCall("1.0", "setsockopt(SO_LINGER, {1, 0})", func(r *stRun) error { r.tcb.SetLinger(true, 0); return nil }, nil),
		stClose("+0"),
		stOut("+0", "R. 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(Established, Closed, CauseLingerZero)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_OrphanFinWait2Timeout_Linux: an orphaned connection waits at most
// tcp_fin_timeout (60 s) in FIN_WAIT_2 for the peer's FIN, then disappears
// without sending anything.
func TestState_OrphanFinWait2Timeout_Linux(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait2(), []stStep{
		stDeadline("61.1"),
		stQuiet("61.099"),
		stState(FinWait2),
		stWait("61.1"),
		stEv(stChange(FinWait2, Closed, CauseFinWait2Timeout)),
		stDeadline("none"),
		stIn("62", "F. 5001:5001(0) ack 1002 win 502"),
		stOut("+0", "R 1002:1002(0) win 0"),
	})}.run(t)
}

// TestState_DataAfterClose_FinWait1_RFC1122_4_2_2_13: new data for a
// connection the user has closed cannot be delivered: it is answered with an
// RST and the connection is dropped. Like Linux (tcp_rcv_state_process
// returns 1, tcp_v4_send_reset answers the segment), the RST is
// <SEQ=SEG.ACK><CTL=RST>.
func TestState_DataAfterClose_FinWait1_RFC1122_4_2_2_13(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait1(), []stStep{
		stIn("1.1", "P. 5001:5011(10) ack 1001 win 502"),
		stOut("+0", "R 1001:1001(0) win 0"),
		stEv(stErr(syscall.ECONNRESET), stChange(FinWait1, Closed, CauseDataAfterClose)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_DataAfterClose_FinWait2_RFC1122_4_2_2_13: the same in FIN_WAIT_2.
func TestState_DataAfterClose_FinWait2_RFC1122_4_2_2_13(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToFinWait2(), []stStep{
		stIn("1.2", "P. 5001:5011(10) ack 1002 win 502"),
		stOut("+0", "R 1002:1002(0) win 0"),
		stEv(stErr(syscall.ECONNRESET), stChange(FinWait2, Closed, CauseDataAfterClose)),
		stDeadline("none"),
	})}.run(t)
}

// TestState_Abort_RFC9293_3_10_5: ABORT sends <SEQ=SND.NXT><CTL=RST> (with
// ACK, as Linux's tcp_send_active_reset) in SYN_RCVD, ESTABLISHED,
// FIN_WAIT_1, FIN_WAIT_2 and CLOSE_WAIT; in LISTEN, SYN_SENT, CLOSING,
// LAST_ACK and TIME_WAIT it deletes the TCB without sending anything (RFC
// 9293 3.10.5; Linux tcp_disconnect resets CLOSING and LAST_ACK only while
// the FIN is unsent).
func TestState_Abort_RFC9293_3_10_5(t *testing.T) {
	synRcvd := []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
	}
	for _, tc := range []struct {
		from  State
		setup []stStep
		rst   string // "" for none
	}{
		{Listen, []stStep{stListen("0"), stEv(stChange(Closed, Listen, CausePassiveOpen))}, ""},
		{SynSent, []stStep{stConnect("0"), stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"), stEv(stChange(Closed, SynSent, CauseActiveOpen))}, ""},
		{SynReceived, synRcvd, "R. 1001:1001(0) ack 5001 win 502"},
		{Established, stPassiveOpen(), "R. 1001:1001(0) ack 5001 win 502"},
		{FinWait1, stSteps(stPassiveOpen(), stToFinWait1()), "R. 1002:1002(0) ack 5001 win 502"},
		{FinWait2, stSteps(stPassiveOpen(), stToFinWait2()), "R. 1002:1002(0) ack 5001 win 502"},
		{CloseWait, stSteps(stPassiveOpen(), stToCloseWait()), "R. 1001:1001(0) ack 5002 win 502"},
		{Closing, stSteps(stPassiveOpen(), stToClosing()), ""},
		{LastAck, stSteps(stPassiveOpen(), stToLastAck()), ""},
		{TimeWait, stSteps(stPassiveOpen(), stToTimeWait()), ""},
	} {
		t.Run(tc.from.String(), func(t *testing.T) {
			s := stSteps(tc.setup, []stStep{stState(tc.from), stAbort("+0.01")})
			if tc.rst != "" {
				s = append(s, stOut("+0", tc.rst))
			}
			s = append(s, stEv(stChange(tc.from, Closed, CauseAbort)), stDeadline("none"), stQuiet("+100"))
			stScript{steps: s}.run(t)
		})
	}
}

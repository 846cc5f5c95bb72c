package tcp

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/synfin/synfin/wire"
)

// Resets, SYNs and bad ACKs in synchronized states (RFC 9293 3.10.7.4 with
// RFC 5961), and segments for a connection that does not exist (3.10.7.1).

// TestState_RSTInSynchronizedStates_RFC5961_3_2: in each synchronized state
// an RST is acted on only when SEG.SEQ = RCV.NXT exactly: the connection is
// reset (ECONNRESET in ESTABLISHED, FIN_WAIT_1/2 and CLOSE_WAIT, where a user
// may still be waiting; silently in CLOSING and LAST_ACK, RFC 9293 3.10.7.4
// second check). An RST elsewhere in the window gets a challenge ACK
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and changes nothing; an RST outside the
// window is dropped silently.
func TestState_RSTInSynchronizedStates_RFC5961_3_2(t *testing.T) {
	for _, tc := range []struct {
		state          State
		setup          []stStep
		sndNxt, rcvNxt uint32
		err            syscall.Errno // 0: no error event
	}{
		{Established, stPassiveOpen(), 1001, 5001, syscall.ECONNRESET},
		{FinWait1, stSteps(stPassiveOpen(), stToFinWait1()), 1002, 5001, syscall.ECONNRESET},
		{FinWait2, stSteps(stPassiveOpen(), stToFinWait2()), 1002, 5001, syscall.ECONNRESET},
		{CloseWait, stSteps(stPassiveOpen(), stToCloseWait()), 1001, 5002, syscall.EPIPE}, // Linux tcp_reset: EPIPE in CLOSE_WAIT,
		{Closing, stSteps(stPassiveOpen(), stToClosing()), 1002, 5002, 0},
		{LastAck, stSteps(stPassiveOpen(), stToLastAck()), 1002, 5002, 0},
	} {
		t.Run(tc.state.String(), func(t *testing.T) {
			rst := func(seq uint32) string { return fmt.Sprintf("R %d:%d(0) win 0", seq, seq) }
			end := []stStep{stEv(stChange(tc.state, Closed, CauseResetReceived))}
			if tc.err != 0 {
				end = []stStep{stEv(stErr(tc.err), stChange(tc.state, Closed, CauseResetReceived))}
			}
			stScript{steps: stSteps(tc.setup, []stStep{
				stState(tc.state),
				// In the window (64256 bytes from RCV.NXT) but not at RCV.NXT.
				stIn("+0.01", rst(tc.rcvNxt+100)),
				stOut("+0", fmt.Sprintf(". %d:%d(0) ack %d win 502", tc.sndNxt, tc.sndNxt, tc.rcvNxt)),
				// Outside the window, and just before it.
				stIn("+0.01", rst(tc.rcvNxt+70000)),
				stIn("+0", rst(tc.rcvNxt-1)),
				stState(tc.state),
				// Exactly at RCV.NXT, with or without ACK.
				stIn("+0.01", rst(tc.rcvNxt)),
			}, end, []stStep{stDeadline("none")})}.run(t)
		})
	}
}

// TestState_RSTWithAckInEstablished_RFC9293_3_10_7_4: an RST with ACK at
// RCV.NXT resets the connection too; Read and Write report ECONNRESET once.
func TestState_RSTWithAckInEstablished_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "R. 5001:5001(0) ack 1001 win 0"),
		stEv(stErr(syscall.ECONNRESET), stChange(Established, Closed, CauseResetReceived)),
		stCall("+0", "read()", func(r *stRun) error { _, err := r.tcb.Read(r.now, make([]byte, 10)); return err }, syscall.ECONNRESET),
		stCall("+0", "write()", func(r *stRun) error { _, err := r.tcb.Write(r.now, []byte("x")); return err }, syscall.EPIPE),
	})}.run(t)
}

// TestState_RSTInSynRcvd_RFC9293_3_10_7_4: an RST in SYN_RCVD of a passive
// open returns it to LISTEN (the stack forgets the embryonic connection; the
// TCB is dead); an RST outside the window is dropped.
func TestState_RSTInSynRcvd_RFC9293_3_10_7_4(t *testing.T) {
	r := stScript{steps: []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.1", "R 90000:90000(0) win 0"),
		stState(SynReceived),
		stIn("0.2", "R 5001:5001(0) win 0"),
		stEv(stChange(SynReceived, Listen, CauseResetInSynRcvd)),
		stDeadline("none"),
		stQuiet("10"),
	}}.run(t)
	if !r.tcb.dead {
		t.Error("TCB not dead after RST in SYN_RCVD")
	}
}

// TestState_RSTInSimultaneousSynRcvd_RFC9293_3_10_7_4: in SYN_RCVD of an
// active open (simultaneous open) an RST ends the connection: CLOSED, not
// LISTEN. RFC 9293 calls it "refused"; the errno is ECONNRESET, as Linux's
// tcp_reset reports in SYN_RECV.
func TestState_RSTInSimultaneousSynRcvd_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.1", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(SynSent, SynReceived, CauseSimultaneousOpen)),
		stIn("0.2", "R 5001:5001(0) win 0"),
		stEv(stErr(syscall.ECONNRESET), stChange(SynReceived, Closed, CauseResetReceived)),
		stDeadline("none"),
	}}.run(t)
}

// TestState_SynInEstablished_RFC5961_4_2: a SYN in a synchronized state,
// in the window or not, gets a challenge ACK and changes nothing; challenge
// ACKs are limited to one per tcp_invalid_ratelimit (500 ms, RFC 5961 7).
func TestState_SynInEstablished_RFC5961_4_2(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "S 90000:90000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stState(Established),
		stIn("1.2", "S 5001:5001(0) win 65535 "+stPeerSynOpts),
		stIn("1.6", "S 5001:5001(0) win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stState(Established),
		stIn("1.7", "P. 5001:5011(10) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5011 win 502"),
		stRead("+0", stFill(5001, 10), nil),
	})}.run(t)
}

// TestState_SynInCloseWait_RFC5961_4_2: the same rule in CLOSE_WAIT.
func TestState_SynInCloseWait_RFC5961_4_2(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), stToCloseWait(), []stStep{
		stIn("2.0", "S 7000:7000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5002 win 502"),
		stState(CloseWait),
	})}.run(t)
}

// TestState_FinWithoutAck_RFC5961_5_2: packetdrill's "F. 1:1(0) win ..."
// without "ack" sends the ACK flag with an acknowledgment number of 0. No
// byte was acknowledged yet, so Linux bounds MAX.SND.WND by bytes_acked
// (tcp_ack: max_window = min(max_window, bytes_acked)): SEG.ACK < SND.UNA -
// MAX.SND.WND is "too old", answered with a challenge ACK, and the segment
// (its FIN) is dropped.
func TestState_FinWithoutAck_RFC5961_5_2(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "F. 5001:5001(0) win 502"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stState(Established),
		stIn("2.0", "F. 5001:5001(0) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5002 win 502"),
		stEv(stChange(Established, CloseWait, CauseFinReceived)),
	})}.run(t)
}

// TestState_AckOfUnsentData_RFC9293_3_10_7_4: an ACK for something not yet
// sent is acknowledged and dropped, data and FIN with it.
func TestState_AckOfUnsentData_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "F. 5001:5001(0) ack 9999 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stState(Established),
	})}.run(t)
}

// TestState_NoAckInEstablished_RFC9293_3_10_7_4: a segment without ACK in a
// synchronized state is dropped (fifth check: "if the ACK bit is off, drop
// the segment and return").
func TestState_NoAckInEstablished_RFC9293_3_10_7_4(t *testing.T) {
	stScript{steps: stSteps(stPassiveOpen(), []stStep{
		stIn("1.0", "F 5001:5001(0) win 502"),
		stIn("1.1", "P 5001:5011(10) win 502"),
		stState(Established),
		stRead("+0", "", syscall.EAGAIN),
	})}.run(t)
}

// TestState_SegmentsToClosed_RFC9293_3_10_7_1: a TCB that was never opened
// (or was deleted) answers everything but an RST with an RST: with ACK,
// <SEQ=SEG.ACK><CTL=RST>; without, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func TestState_SegmentsToClosed_RFC9293_3_10_7_1(t *testing.T) {
	stScript{steps: []stStep{
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "R. 0:0(0) ack 5001 win 0"),
		stIn("0", ". 5000:5000(0) ack 1234 win 502"),
		stOut("+0", "R 1234:1234(0) win 0"),
		stIn("0", "P. 5000:5010(10) ack 77 win 502"),
		stOut("+0", "R 77:77(0) win 0"),
		stIn("0", "FP 5000:5010(10) win 502"),
		stOut("+0", "R. 0:0(0) ack 5011 win 0"),
		stIn("0", "F 5000:5000(0) win 502"),
		stOut("+0", "R. 0:0(0) ack 5001 win 0"),
		stIn("0", "S. 5000:5000(0) ack 1 win 502"),
		stOut("+0", "R 1:1(0) win 0"),
		stIn("0", "R 5000:5000(0) win 0"),
		stIn("0", "R. 5000:5000(0) ack 1 win 0"),
		stState(Closed),
		stDeadline("none"),
	}}.run(t)
}

// TestResetFor_RFC9293_3_10_7_1 checks ResetFor directly.
func TestResetFor_RFC9293_3_10_7_1(t *testing.T) {
	for _, tc := range []struct {
		in   *Segment
		want string // "" for no reply
	}{
		{seg(wire.FlagSYN, 100, 0, 1000, ""), "R. 0:0(0) ack 101 win 0"},
		{seg(wire.FlagSYN|wire.FlagFIN, 100, 0, 1000, "abc"), "R. 0:0(0) ack 105 win 0"},
		{seg(wire.FlagACK, 100, 777, 1000, ""), "R 777:777(0) win 0"},
		{seg(wire.FlagACK|wire.FlagPSH, 100, 0xffffffff, 1000, "abc"), "R 4294967295:4294967295(0) win 0"},
		{seg(0, 0xfffffffe, 0, 0, "abc"), "R. 0:0(0) ack 1 win 0"},
		{seg(wire.FlagRST, 100, 0, 0, ""), ""},
		{seg(wire.FlagRST|wire.FlagACK, 100, 5, 0, ""), ""},
	} {
		got, ok := ResetFor(tc.in)
		switch {
		case tc.want == "" && ok:
			t.Errorf("ResetFor(%v) = %v, want nothing", tc.in, &got)
		case tc.want != "" && !ok:
			t.Errorf("ResetFor(%v) = nothing, want %s", tc.in, tc.want)
		case ok && got.String() != tc.want:
			t.Errorf("ResetFor(%v) = %v, want %s", tc.in, &got, tc.want)
		case ok && (got.Options != wire.TCPOptions{} || len(got.Payload) != 0 || (got.Flags&wire.FlagACK == 0 && got.Ack != 0)):
			t.Errorf("ResetFor(%v) = %+v: options, payload or stray ack", tc.in, got)
		}
	}
}

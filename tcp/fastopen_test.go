package tcp

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/synfin/synfin/wire"
)

// TCP Fast Open (RFC 7413) as segment exchanges, in the notation of
// states_test.go: the engine's part of the client (cookie requests, SYNs
// with data, the SYN-ACK that takes only the SYN) and of the server
// (accepting the data of a SYN, or answering with a cookie).

// stFastOpen is the event a SYN-ACK of an active Fast Open raises.
var stFastOpen = Event{Kind: EventFastOpen}

// foCookie is a cookie the peer hands out in these scripts.
func foCookie(hexs string) wire.FastOpen {
	var f wire.FastOpen
	f.Present = true
	for i := 0; i+1 < len(hexs); i += 2 {
		var b byte
		for _, c := range hexs[i : i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			default:
				b |= byte(c-'a') + 10
			}
		}
		f.Cookie[f.Len] = b
		f.Len++
	}
	return f
}

// stConnectFO is connect() with Fast Open; n is the number of bytes the SYN
// must take from fo.Data.
func stConnectFO(when string, fo FastOpenConnect, n int) stStep {
	return stCall(when, "connect(fast open)", func(r *stRun) error {
		got, err := r.tcb.ConnectFastOpen(r.now, stOpen, fo)
		if err == nil && got != n {
			r.t.Errorf("the SYN took %d bytes, want %d", got, n)
		}
		return err
	}, nil)
}

// stFOReport checks what the last SYN-ACK taught (EventFastOpen).
func stFOReport(want FastOpenReport) stStep {
	return stStep{when: "+0", desc: "fast open report", run: func(r *stRun, s *stStep) {
		if r.tcb.fo == nil || r.tcb.fo.report != want {
			var got FastOpenReport
			if r.tcb.fo != nil {
				got = r.tcb.fo.report
			}
			r.t.Errorf("line %d: report %+v, want %+v", s.line, got, want)
		}
	}}
}

// stSynData asserts TCPI_OPT_SYN_DATA.
func stSynData(want bool) stStep {
	return stStep{when: "+0", desc: "syn data", run: func(r *stRun, s *stStep) {
		if got := r.tcb.FastOpenSynData(); got != want {
			r.t.Errorf("line %d: FastOpenSynData %v, want %v", s.line, got, want)
		}
	}}
}

// RFC 7413 4.1.1: a client without a cookie asks for one with an empty
// option on its SYN, which carries no data; the cookie and the MSS of the
// SYN-ACK go to the owner's cache.
func TestRFC7413_4_1_1_CookieRequest(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenRequest, Data: []byte("ignored")}, 0),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7,FO>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 <mss 1400,sackOK,wscale 7,FO abcd1234>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stFOReport(FastOpenReport{Cookie: foCookie("abcd1234"), MSS: 1400}),
		stSynData(false),
	}}.run(t)
}

// RFC 7413 4.1.1 and Linux: a cookie request the server ignores makes the
// next request use the experimental option (TryExp 1), and one ignored in
// that form goes back to the RFC option (TryExp 2).
func TestRFC7413_4_1_1_UnansweredRequestTriesExperimentalOption(t *testing.T) {
	for _, exp := range []bool{false, true} {
		opt, want := "FO", uint8(1)
		if exp {
			opt, want = "FOEXP", 2
		}
		t.Run(opt, func(t *testing.T) {
			stScript{steps: []stStep{
				stConnectFO("0", FastOpenConnect{Mode: FastOpenRequest, Cookie: wire.FastOpen{Exp: exp}}, 0),
				stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7,"+opt+">"),
				stEv(stChange(Closed, SynSent, CauseActiveOpen)),
				stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
				stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
				stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
				stFOReport(FastOpenReport{MSS: 1460, TryExp: want}),
			}}.run(t)
		})
	}
}

// RFC 7413 4.1.2: with a cookie, the SYN carries it and data; the SYN-ACK
// acknowledges SYN and data, and the connection reports TCPI_OPT_SYN_DATA.
// Linux sizes the data by the MSS cached with the cookie, less the 40
// octets of option space it keeps free (tcp_send_syn_data).
func TestRFC7413_4_1_2_SynWithCookieAndData(t *testing.T) {
	data := []byte(strings.Repeat("d", 2000))
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("1234abcd5678dcba"), MSS: 940, Data: data}, 900),
		stOut("+0", "S 1000:1900(900) win 64240 <mss 1460,sackOK,wscale 7,FO 1234abcd5678dcba>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1901 win 65535 <mss 1460,sackOK,wscale 7,FO 12345678>"),
		stOut("+0", ". 1901:1901(0) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stFOReport(FastOpenReport{Cookie: foCookie("12345678"), MSS: 1460}),
		stSynData(true),
		stWrite("0.200", "more"),
		stOut("+0", "P. 1901:1905(4) ack 5001 win 502"),
	}}.run(t)
}

// RFC 7413 4.1.2 with Linux's bounds on the data of a SYN: no more than the
// path MTU and the MSS we announce allow (TCP_MAXSEG), less 40 octets.
func TestRFC7413_4_1_2_SynDataSize(t *testing.T) {
	for _, c := range []struct {
		name         string
		mss, cached  uint16
		path         uint16
		want         int
		announcedMSS string
		data         int
	}{
		{"no cached MSS: our MSS", 1460, 0, 0, 1420, "1460", 5000},
		{"cached MSS above the path's", 1460, 10000, 0, 1420, "1460", 5000},
		{"TCP_MAXSEG", 1040, 1460, 0, 1000, "1040", 5000},
		{"path MTU", 1460, 1460, 1000, 960, "1460", 5000},
		{"less data than room", 1460, 1460, 0, 700, "1460", 700},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &stRun{t: t}
			tcb, err := New(stCfg(), r)
			if err != nil {
				t.Fatal(err)
			}
			o := stOpen
			o.MSS, o.PathMSS = c.mss, c.path
			n, err := tcb.ConnectFastOpen(0, o, FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("00000000"), MSS: c.cached, Data: make([]byte, c.data)})
			if err != nil || n != c.want {
				t.Fatalf("ConnectFastOpen = %d, %v; want %d", n, err, c.want)
			}
			if len(r.segs) != 1 || len(r.segs[0].seg.Payload) != c.want || r.segs[0].seg.Options.MSS != uint16(atoi(c.announcedMSS)) {
				t.Fatalf("sent %v", r.segs)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = 10*n + int(c-'0')
	}
	return n
}

// TCP_FASTOPEN_NO_COOKIE (Linux's tcp_fastopen 0x4): data in the SYN
// without any option.
func TestRFC7413_NoCookieMode(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenNoCookie, Data: []byte(strings.Repeat("x", 100))}, 100),
		stOut("+0", "S 1000:1100(100) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1101 win 65535 <mss 1460,sackOK,wscale 7,FO abcd1234>"),
		stOut("+0", ". 1101:1101(0) ack 5001 win 502"),
		// The cookie nobody asked for is not reported; the MSS is.
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stFOReport(FastOpenReport{MSS: 1460}),
		stSynData(true),
	}}.run(t)
}

// RFC 7413 4.1.3: the server may acknowledge only the SYN (its cookie was
// invalid, or it does not do Fast Open). As Linux's
// tcp_rcv_fastopen_synack, the client sends the data again at once, and
// that segment carries the ACK of the SYN-ACK.
func TestRFC7413_4_1_3_SynAckAcknowledgesOnlyTheSyn(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("1234abcd"), Data: []byte(strings.Repeat("d", 700))}, 700),
		stOut("+0", "S 1000:1700(700) win 64240 <mss 1460,sackOK,wscale 7,FO 1234abcd>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.020", "S. 5000:5000(0) ack 1001 win 65535 <mss 1040,sackOK,wscale 7,FO 1234abcd>"),
		stOut("+0", "P. 1001:1701(700) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stFOReport(FastOpenReport{Cookie: foCookie("1234abcd"), MSS: 1040}),
		stSynData(false),
		stIn("0.040", "P. 5001:6001(1000) ack 1701 win 502"),
		stOut("+0", ". 1701:1701(0) ack 6001 win 509"),
	}}.run(t)
}

// RFC 7413 4.1.3: a SYN-ACK may acknowledge part of the data (a server
// without Fast Open took part of it as a normal segment): the rest is sent
// again, in segments of the MSS the SYN-ACK announced.
func TestRFC7413_4_1_3_SynAckAcknowledgesPartOfTheData(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("abcd1234"), Data: []byte(strings.Repeat("d", 1420))}, 1420),
		stOut("+0", "S 1000:2420(1420) win 64240 <mss 1460,sackOK,wscale 7,FO abcd1234>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.010", "S. 5000:5000(0) ack 1101 win 65535 <mss 1000,sackOK,wscale 7>"),
		stOut("+0", ". 1101:2101(1000) ack 5001 win 502"),
		stOut("+0", "P. 2101:2421(320) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stSynData(false),
		stIn("0.020", ". 5001:5001(0) ack 2421 win 502"),
	}}.run(t)
}

// RFC 7413 4.1.3 and Linux: a SYN-ACK acknowledging more than we sent is
// answered with an RST, and the connection waits for a valid one.
func TestRFC7413_4_1_3_SynAckAcknowledgesTooMuch(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("abcd1234"), Data: []byte(strings.Repeat("d", 100))}, 100),
		stOut("+0", "S 1000:1100(100) win 64240 <mss 1460,sackOK,wscale 7,FO abcd1234>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.020", "S. 5000:5000(0) ack 101101 win 65535 <mss 1040,sackOK,wscale 7,FO badc00ce>"),
		stOut("+0", "R 101101:101101(0)"),
		stState(SynSent),
	}}.run(t)
}

// RFC 7413 4.1.3 and Linux: a retransmitted SYN carries neither the data
// nor the option. If the SYN-ACK then takes only the SYN and brings no
// cookie, the first SYN or its SYN-ACK was presumably dropped (SynLost), and
// the data follows.
func TestRFC7413_4_1_3_SynRetransmissionWithoutDataOrOption(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("abcd1234"), Data: []byte(strings.Repeat("d", 1000))}, 1000),
		stOut("+0", "S 1000:2000(1000) win 64240 <mss 1460,sackOK,wscale 7,FO abcd1234>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stOut("1", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stIn("1.020", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", "P. 1001:2001(1000) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stFOReport(FastOpenReport{MSS: 1460, SynLost: true}),
	}}.run(t)
}

// RFC 7413 4.1.2 with Linux's TCP_FASTOPEN_CONNECT: with a cookie cached,
// connect enters SYN_SENT and sends nothing; the SYN leaves with the data
// of the first write.
func TestRFC7413_DeferredSyn(t *testing.T) {
	fo := FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("112233445566"), Defer: true}
	stScript{steps: []stStep{
		stConnectFO("0", fo, 0),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stDeadline("none"),
		stCall("0.500", "write(2000)", func(r *stRun) error {
			if !r.tcb.FastOpenDeferred() {
				r.t.Errorf("not deferred")
			}
			fo.Data = make([]byte, 2000)
			n, err := r.tcb.SendDeferredSYN(r.now, fo)
			if n != 1420 {
				r.t.Errorf("SendDeferredSYN took %d bytes, want 1420", n)
			}
			return err
		}, nil),
		stOut("+0", "S 1000:2420(1420) win 64240 <mss 1460,sackOK,wscale 7,FO 112233445566>"),
		stCall("+0", "write again", func(r *stRun) error {
			_, err := r.tcb.SendDeferredSYN(r.now, fo)
			return err
		}, syscall.EALREADY),
		stIn("0.600", "S. 5000:5000(0) ack 2421 win 65535 "+stPeerSynOpts),
		stOut("+0", ". 2421:2421(0) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
	}}.run(t)
}

// Linux's sk_write_pending: when a writer waits for the handshake with data
// left over for after it, the ACK of the SYN-ACK is delayed and the data
// carries it.
func TestRFC7413_WriterPendingCarriesTheAck(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenRequest}, 0),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7,FO>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stCall("0.050", "writer waits", func(r *stRun) error { r.tcb.SetWritePending(true); return nil }, nil),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
		stDeadline("0.300"),
		stCall("+0", "writer done", func(r *stRun) error { r.tcb.SetWritePending(false); return nil }, nil),
		stWrite("+0", "hello"),
		stOut("+0", "P. 1001:1006(5) ack 5001 win 502"),
	}}.run(t)
}

// RFC 1191 with Linux's tcp_simple_retransmit for a SYN with data: the
// path MTU shrank under it, so the SYN goes again at once, alone, with the
// smaller MSS, and the data follows the handshake in segments that fit.
func TestRFC7413_SynDataFragmentationNeeded(t *testing.T) {
	stScript{steps: []stStep{
		stConnectFO("0", FastOpenConnect{Mode: FastOpenWithCookie, Cookie: foCookie("abcd1234"), Data: []byte(strings.Repeat("d", 1000))}, 1000),
		stOut("+0", "S 1000:2000(1000) win 64240 <mss 1460,sackOK,wscale 7,FO abcd1234>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stCall("0.010", "path MTU 840", func(r *stRun) error { r.tcb.SetPathMSS(r.now, 800); return nil }, nil),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 800,sackOK,wscale 7>"),
		stIn("0.030", "S. 5000:5000(0) ack 1001 win 65535 <mss 1040,sackOK,wscale 7>"),
		stOut("+0", ". 1001:1801(800) ack 5001 win 502"),
		stOut("+0", "P. 1801:2001(200) ack 5001 win 502"),
		stEv(stFastOpen, stChange(SynSent, Established, CauseSynAckReceived)),
	}}.run(t)
}

// A SYN-ACK echoing a timestamp our SYN never carried is answered with an
// RST (Linux's PAWS check in SYN_SENT, after RFC 7323 3.2: TSecr echoes a
// TSval we sent); the connection waits for a SYN-ACK that does.
func TestSynSent_SynAckEchoingUnsentTSval(t *testing.T) {
	stScript{cfg: stTSCfg(), steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100000 ecr 0,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.010", "S. 5000:5000(0) ack 1001 win 65535 <mss 1460,sackOK,TS val 7 ecr 9999,wscale 7>"),
		stOut("+0", "R 1001:1001(0)"),
		stState(SynSent),
		stIn("0.020", "S. 5000:5000(0) ack 1001 win 65535 <mss 1460,sackOK,TS val 7 ecr 100000,wscale 7>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502 <TS val 100020 ecr 7>"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
	}}.run(t)
}

// TCP_SYNCNT: the SYN is retransmitted SetSynRetries times, within the time
// that many exponentially backed-off ones would take (Linux 6.5+).
func TestSynRetries_TCP_SYNCNT(t *testing.T) {
	stScript{steps: []stStep{
		stCall("0", "TCP_SYNCNT 1", func(r *stRun) error { r.tcb.SetSynRetries(1); return nil }, nil),
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stOut("1", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stOut("2", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stWait("3"),
		stEv(stErr(syscall.ETIMEDOUT), stChange(SynSent, Closed, CauseSynTimeout)),
	}}.run(t)
}

// stListenFO is LISTEN with the Fast Open verdict on the coming SYN.
func stListenFO(when string, verdict func(t *TCB)) stStep {
	return stCall(when, "listen() and the Fast Open verdict", func(r *stRun) error {
		err := r.tcb.Listen(r.now, stOpen)
		verdict(r.tcb)
		return err
	}, nil)
}

// RFC 7413 4.2.2: a SYN whose cookie is valid has its data delivered at
// once; the SYN-ACK acknowledges it, and the connection goes to accept in
// SYN_RCVD, where it reads, and sends data before the handshake completes.
// The ACK of the SYN-ACK completes it without a second accept.
func TestRFC7413_4_2_2_ServerAcceptsSynData(t *testing.T) {
	stScript{steps: []stStep{
		stListenFO("0", func(t *TCB) { t.AcceptFastOpen(wire.FastOpen{}) }),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5010(10) win 32792 <mss 1460,sackOK,wscale 7,FO 3021b9d889017eeb>"),
		stOut("+0", "S. 1000:1000(0) ack 5011 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived), stAccepted),
		stSynData(true),
		stRead("0.100", stFill(5000, 10), nil),
		stWrite("+0", "hello"),
		stOut("+0", "P. 1001:1006(5) ack 5011 win 502"),
		stIn("0.200", ". 5011:5011(0) ack 1001 win 257"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck)),
		stIn("0.210", ". 5011:5011(0) ack 1006 win 257"),
		stState(Established),
	}}.run(t)
}

// RFC 7413 4.2.2: data sent in SYN_RCVD may fill the SYN's window, which
// covers data (Linux's child socket starts past the SYN-ACK, which the
// request socket retransmits); the ACK covering SYN-ACK and data
// acknowledges both.
func TestRFC7413_4_2_2_ServerSendsItsWindowBeforeTheHandshake(t *testing.T) {
	stScript{steps: []stStep{
		stListenFO("0", func(t *TCB) { t.AcceptFastOpen(wire.FastOpen{}) }),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 3000 <mss 1000,FO 3021b9d889017eeb>"),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived), stAccepted),
		stSynData(false),
		stWrite("0.010", strings.Repeat("w", 4000)),
		stOut("+0", ". 1001:2001(1000) ack 5001 win 64240"),
		// The peer's 3000-byte window makes one-segment skbs (size_goal
		// is half the window): PSH where more than half the window was
		// written since the last push (forced_push) and at the end of
		// the write (records.go).
		stOut("+0", "P. 2001:3001(1000) ack 5001 win 64240"),
		stOut("+0", ". 3001:4001(1000) ack 5001 win 64240"),
		stIn("0.100", ". 5001:5001(0) ack 3001 win 3000"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck)),
		stOut("+0", "P. 4001:5001(1000) ack 5001 win 64240"),
	}}.run(t)
}

// RFC 7413 4.2.2: a cookie made with the previous key is accepted and the
// SYN-ACK carries a fresh one.
func TestRFC7413_4_2_2_ServerReplacesAnOldCookie(t *testing.T) {
	stScript{steps: []stStep{
		stListenFO("0", func(t *TCB) { t.AcceptFastOpen(foCookie("00abaaabe8e954c2")) }),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5010(10) win 32792 <mss 1460,sackOK,wscale 7,FO 93b7aa4f550f8a1a>"),
		stOut("+0", "S. 1000:1000(0) ack 5011 win 64240 <mss 1460,sackOK,wscale 7,FO 00abaaabe8e954c2>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived), stAccepted),
	}}.run(t)
}

// RFC 7413 4.1.2 and 4.2.2: a cookie request, or an invalid cookie, is
// answered with a valid cookie; the SYN's data is not taken, and the
// handshake is the usual one.
func TestRFC7413_4_2_2_ServerAnswersWithACookie(t *testing.T) {
	stScript{steps: []stStep{
		stListenFO("0", func(t *TCB) { t.SetSynAckCookie(foCookie("3021b9d889017eeb")) }),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5010(10) win 32792 <mss 1460,sackOK,wscale 7,FO aaaaaaaaaaaaaaaa>"),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7,FO 3021b9d889017eeb>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stSynData(false),
		// A retransmitted SYN-ACK goes without the cookie, as in Linux.
		stOut("1", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stIn("1.100", ". 5001:5001(0) ack 1001 win 257"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
	}}.run(t)
}

// RFC 7413 4.2.2: a Fast Open connection is a full one from the start: an
// RST in SYN_RCVD resets it (its data still readable, then the error)
// instead of returning a request to LISTEN.
func TestRFC7413_4_2_2_ResetInSynRcvd(t *testing.T) {
	stScript{steps: []stStep{
		stListenFO("0", func(t *TCB) { t.AcceptFastOpen(wire.FastOpen{}) }),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5010(10) win 32792 <mss 1460,sackOK,wscale 7,FO 3021b9d889017eeb>"),
		stOut("+0", "S. 1000:1000(0) ack 5011 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived), stAccepted),
		stIn("0.100", "R. 5011:5011(0) ack 1001 win 257"),
		stEv(stErr(syscall.ECONNRESET), stChange(SynReceived, Closed, CauseResetReceived)),
		stRead("0.200", stFill(5000, 10), nil),
		stRead("+0", "", syscall.ECONNRESET),
	}}.run(t)
}

// RFC 7413 4.1.2 leaves the cookie to the server; Linux's is SipHash-2-4 of
// the two addresses under the key (__tcp_fastopen_cookie_gen_cipher). The
// vectors are the packetdrill corpus's, which Linux passes.
func TestRFC7413_4_1_2_CookieMatchesLinux(t *testing.T) {
	key := func(w0, w1, w2, w3 uint32) (k [16]byte) {
		for i, w := range []uint32{w0, w1, w2, w3} {
			k[4*i], k[4*i+1], k[4*i+2], k[4*i+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		return k
	}
	a0 := key(0xa1a1a1a1, 0xb2b2b2b2, 0xc3c3c3c3, 0xd4d4d4d4) // packetdrill's defaults.sh
	a1 := key(0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90)
	for _, c := range []struct {
		key      [16]byte
		src, dst string
		want     string
	}{
		{a0, "192.0.2.1", "192.168.0.1", "3021b9d889017eeb"},
		{a1, "10.248.0.2", "192.168.0.2", "00abaaabe8e954c2"},
		{a1, "10.248.0.3", "192.168.0.2", "1313a2da994a0951"},
		{a1, "10.248.0.3", "192.168.0.3", "76d2c1c530f51f79"},
		{[16]byte{}, "10.248.0.2", "192.168.0.2", "93b7aa4f550f8a1a"},
	} {
		got := FastOpenCookie(c.key, netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst))
		if got != foCookie(c.want) {
			t.Errorf("cookie for %s -> %s = %x, want %s", c.src, c.dst, got.Bytes(), c.want)
		}
	}
	// IPv6 addresses are hashed whole, and give another cookie.
	v6 := FastOpenCookie(a0, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"))
	if v6.Len != 8 || v6 == FastOpenCookie(a0, netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1")) {
		t.Errorf("IPv6 cookie %x", v6.Bytes())
	}
}

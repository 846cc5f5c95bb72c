package tcp

// RFC 9293 3.4.1, 3.5, 3.6 and 3.9.1.1: initial sequence numbers, opening,
// resets, closing and TIME_WAIT. See docs/rfc9293.md.

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

var (
	r9Local  = netip.MustParseAddrPort("192.0.2.1:40000")
	r9Remote = netip.MustParseAddrPort("198.51.100.7:443")
)

// MUST-8 (3.4.1): the ISN has a clock-driven component: for one 4-tuple it
// advances with time (here one step per 64 ns, Linux's choice; RFC 9293
// suggests about 4 µs), so successive incarnations start further on.
func TestRFC9293_MUST_8_ISNClockDriven(t *testing.T) {
	g := NewISNGenerator([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	base := 1000 * time.Second
	i0 := g.ISN(base, r9Local, r9Remote)
	for _, d := range []time.Duration{64, 4 * time.Microsecond, time.Millisecond, time.Second, 100 * time.Second} {
		i1 := g.ISN(base+d, r9Local, r9Remote)
		if got, want := i1-i0, uint32(d/64); got != want {
			t.Errorf("after %v the ISN advanced by %d, want %d (one per 64 ns)", d, got, want)
		}
	}
	// A 32-bit counter: it wraps after 2^32 ticks (about 275 s) and goes on.
	if g.ISN(base+(1<<32)*64, r9Local, r9Remote) != i0 {
		t.Error("the clock component is not a 32-bit counter")
	}
}

// MUST-9 (3.4.1): the function F of the ISN must not be computable from
// outside: it is keyed by the host's secret, so a different key gives an
// unrelated ISN for the same tuple and time, and knowing one tuple's ISN
// says nothing about a neighbouring tuple's.
func TestRFC9293_MUST_9_ISNUnpredictable(t *testing.T) {
	now := 5 * time.Second
	g1 := NewISNGenerator([16]byte{1})
	g2 := NewISNGenerator([16]byte{2})
	if g1.ISN(now, r9Local, r9Remote) == g2.ISN(now, r9Local, r9Remote) {
		t.Fatal("two secrets give the same ISN")
	}
	// Offsets between neighbouring ports differ from key to key: the
	// attacker cannot derive one tuple's ISN from another's.
	next := netip.AddrPortFrom(r9Local.Addr(), r9Local.Port()+1)
	d1 := g1.ISN(now, next, r9Remote) - g1.ISN(now, r9Local, r9Remote)
	d2 := g2.ISN(now, next, r9Remote) - g2.ISN(now, r9Local, r9Remote)
	if d1 == d2 || d1 == 0 {
		t.Fatalf("neighbouring tuples differ by %d and %d under two keys", d1, d2)
	}
}

// SHLD-1 (3.4.1, RFC 6528): ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey): F is fixed for a tuple, and differs per tuple.
func TestRFC9293_SHLD_1_ISNIsClockPlusPRF(t *testing.T) {
	g := NewISNGenerator([16]byte{0xaa, 0xbb})
	f := func(now time.Duration, l, r netip.AddrPort) uint32 { return g.ISN(now, l, r) - uint32(int64(now)>>6) }
	f0 := f(time.Second, r9Local, r9Remote)
	for _, now := range []time.Duration{2 * time.Second, time.Hour, 17 * time.Microsecond} {
		if f(now, r9Local, r9Remote) != f0 {
			t.Fatalf("F changed with time at %v", now)
		}
	}
	seen := map[uint32]bool{f0: true}
	for _, l := range []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.1:40001"),
		netip.MustParseAddrPort("192.0.2.2:40000"),
		netip.MustParseAddrPort("[2001:db8::1]:40000"),
	} {
		v := f(time.Second, l, r9Remote)
		if seen[v] {
			t.Fatalf("F repeats for %v", l)
		}
		seen[v] = true
	}
}

// MUST-10 (3.5): simultaneous open: both ends send a SYN; each answers the
// other's SYN with a SYN-ACK carrying its original ISN, and both reach
// ESTABLISHED.
func TestRFC9293_MUST_10_SimultaneousOpen(t *testing.T) {
	a, b := newEndpoint(t, nil), newEndpoint(t, nil)
	now := time.Second
	a.Connect(now, OpenOptions{ISN: 1000, MSS: 1460})
	b.Connect(now, OpenOptions{ISN: 5000, MSS: 1460})
	synA := r9Only(t, a.rec.take(), "A's SYN")
	synB := r9Only(t, b.rec.take(), "B's SYN")
	now += 10 * time.Millisecond
	a.Input(now, &synB)
	b.Input(now, &synA)
	saA := r9Only(t, a.rec.take(), "A's answer to B's SYN")
	saB := r9Only(t, b.rec.take(), "B's answer to A's SYN")
	if saA.Flags != wire.FlagSYN|wire.FlagACK || saA.Seq != 1000 || saA.Ack != 5001 {
		t.Fatalf("A answered %s, want S. 1000 ack 5001", &saA)
	}
	if saB.Flags != wire.FlagSYN|wire.FlagACK || saB.Seq != 5000 || saB.Ack != 1001 {
		t.Fatalf("B answered %s, want S. 5000 ack 1001", &saB)
	}
	if a.State() != SynReceived || b.State() != SynReceived {
		t.Fatalf("states %v %v, want SYN_RCVD", a.State(), b.State())
	}
	now += 10 * time.Millisecond
	a.Input(now, &saB)
	b.Input(now, &saA)
	if a.State() != Established || b.State() != Established {
		t.Fatalf("states %v %v, want ESTABLISHED", a.State(), b.State())
	}
	a.rec.take()
	b.rec.take()
	a.Write(now, []byte("ping"))
	d := r9Only(t, r9Data(a.rec.take()), "A's data")
	if d.Seq != 1001 || d.Ack != 5001 {
		t.Fatalf("A's data %s, want seq 1001 ack 5001", &d)
	}
	b.Input(now, &d)
	if got := string(readAll(b, now)); got != "ping" {
		t.Fatalf("B read %q", got)
	}
}

// MUST-11 (3.5): SYN_RCVD remembers how it was reached: an RST there
// returns a passive open to LISTEN (no error for any user), while an active
// open (via simultaneous open) fails with "connection refused".
func TestRFC9293_MUST_11_SynRcvdRemembersOpen(t *testing.T) {
	t.Run("passive", func(t *testing.T) {
		e := newEndpoint(t, nil)
		now := time.Second
		e.Listen(now, OpenOptions{ISN: r9ISS, MSS: 1460})
		e.Input(now, &Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535})
		e.rec.take()
		e.Input(now, seg(wire.FlagRST, r9IRS+1, 0, 0, ""))
		if e.State() != Listen {
			t.Fatalf("state %v after RST in SYN_RCVD of a passive open, want LISTEN", e.State())
		}
		for _, ev := range e.rec.events {
			if ev.Kind == EventError {
				t.Fatalf("a passive open reported %v to a user", ev.Err)
			}
		}
		if out := e.rec.take(); len(out) != 0 {
			t.Fatalf("answered the RST with %s", r9Fmt(out))
		}
	})
	t.Run("active", func(t *testing.T) {
		e := newEndpoint(t, nil)
		now := time.Second
		e.Connect(now, OpenOptions{ISN: r9ISS, MSS: 1460})
		e.Input(now, &Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535}) // simultaneous open
		if e.State() != SynReceived {
			t.Fatalf("state %v", e.State())
		}
		e.rec.take()
		e.Input(now, seg(wire.FlagRST, r9IRS+1, 0, 0, ""))
		if e.State() != Closed {
			t.Fatalf("state %v after RST in SYN_RCVD of an active open, want CLOSED", e.State())
		}
		// The user is told the connection failed. RFC 9293 words it
		// "refused"; synfin reports ECONNRESET as Linux's tcp_reset does
		// for SYN_RCVD, since scripts and programs check the errno.
		if _, err := e.Write(now, []byte("x")); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Write after the RST: %v, want ECONNRESET (Linux)", err)
		}
	})
}

// MUST-12 (3.6): when the peer ends the connection, the user learns whether
// it closed normally (FIN: end of file after the data) or aborted it (RST:
// ECONNRESET).
func TestRFC9293_MUST_12_CloseVersusAbort(t *testing.T) {
	t.Run("FIN", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.peer(wire.FlagACK|wire.FlagPSH|wire.FlagFIN, "bye")
		buf := make([]byte, 10)
		n, err := r.e.Read(r.now, buf)
		if n != 3 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if _, err := r.e.Read(r.now, buf); err != io.EOF {
			t.Fatalf("Read after the data: %v, want io.EOF", err)
		}
		if len(r.errs()) != 0 {
			t.Fatalf("errors reported: %v", r.errs())
		}
	})
	t.Run("RST", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.peer(wire.FlagRST, "")
		if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNRESET) {
			t.Fatalf("errors reported %v, want [ECONNRESET]", errs)
		}
		if _, err := r.e.Read(r.now, make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Read after RST: %v, want ECONNRESET", err)
		}
		if r.e.State() != Closed {
			t.Fatalf("state %v", r.e.State())
		}
	})
}

// r9TimeWait brings an engine to TIME_WAIT by an active close.
func r9TimeWait(t *testing.T, synOpts wire.TCPOptions) *r9 {
	t.Helper()
	r := r9Passive(t, nil, synOpts, 65535)
	r.e.Close(r.now)
	fin := r9Only(t, r.e.rec.take(), "FIN")
	if fin.Flags != wire.FlagFIN|wire.FlagACK || fin.Seq != r9ISS+1 {
		t.Fatalf("Close sent %s, want F. %d", &fin, r9ISS+1)
	}
	r.ack = r9ISS + 2
	r.peer(wire.FlagACK|wire.FlagFIN, "")
	if r.e.State() != TimeWait {
		t.Fatalf("state %v, want TIME_WAIT", r.e.State())
	}
	return r
}

// MUST-13 (3.6.1): the end that closes first stays in TIME_WAIT for 2*MSL
// (Linux: 60 s), and a retransmitted FIN restarts the wait.
func TestRFC9293_MUST_13_TimeWait2MSL(t *testing.T) {
	r := r9TimeWait(t, wire.TCPOptions{HasMSS: true, MSS: 1460})
	start := r.now
	if at, ok := r.e.Deadline(); !ok || at != start+60*time.Second {
		t.Fatalf("TIME_WAIT deadline %v %v, want %v", at, ok, start+60*time.Second)
	}
	r.run(30 * time.Second)
	// The peer's FIN again (our ACK was lost): ACK it, restart the timer.
	out := r.in(seg(wire.FlagACK|wire.FlagFIN, r9IRS+1, r9ISS+2, 65535, ""))
	if a := r9Only(t, out, "ACK of the retransmitted FIN"); a.Flags != wire.FlagACK || a.Ack != r9IRS+2 {
		t.Fatalf("reply %s", &a)
	}
	r.run(60*time.Second - time.Millisecond)
	if r.e.State() != TimeWait {
		t.Fatalf("left TIME_WAIT early: %v", r.e.State())
	}
	r.run(time.Millisecond)
	if r.e.State() != Closed {
		t.Fatalf("state %v 60 s after the last FIN, want CLOSED", r.e.State())
	}
}

// SHLD-4 (3.6.1, RFC 6191) and MAY-2 (3.6.1): a new SYN for a connection in
// TIME_WAIT may reopen it when it cannot belong to the old incarnation: its
// timestamp is newer than TS.Recent or, without timestamps, its sequence
// number is beyond the old RCV.NXT. The new incarnation's ISN lies beyond
// the old SND.NXT. The engine decides; the stack replaces the TCB.
func TestRFC9293_SHLD_4_MAY_2_TimeWaitAcceptsNewSYN(t *testing.T) {
	t.Run("timestamps", func(t *testing.T) {
		r := r9TimeWait(t, wire.TCPOptions{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 500})
		newer := &Segment{Seq: r9IRS - 4000, Flags: wire.FlagSYN, Options: wire.TCPOptions{HasTimestamps: true, TSVal: r.tsVal + 10}}
		older := &Segment{Seq: r9IRS + 100000, Flags: wire.FlagSYN, Options: wire.TCPOptions{HasTimestamps: true, TSVal: r.tsVal - 10}}
		if !r.e.TimeWaitAcceptsSYN(newer) {
			t.Error("a SYN with a newer timestamp (and an older sequence number) is refused")
		}
		if r.e.TimeWaitAcceptsSYN(older) {
			t.Error("a SYN with an older timestamp is accepted")
		}
	})
	t.Run("sequence", func(t *testing.T) {
		r := r9TimeWait(t, wire.TCPOptions{HasMSS: true, MSS: 1460})
		if !r.e.TimeWaitAcceptsSYN(&Segment{Seq: r9IRS + 100000, Flags: wire.FlagSYN}) {
			t.Error("a SYN beyond RCV.NXT is refused")
		}
		if r.e.TimeWaitAcceptsSYN(&Segment{Seq: r9IRS, Flags: wire.FlagSYN}) {
			t.Error("an old SYN is accepted")
		}
		if r.e.TimeWaitAcceptsSYN(&Segment{Seq: r9IRS + 100000, Flags: wire.FlagSYN | wire.FlagACK}) {
			t.Error("a SYN-ACK is accepted as a new connection")
		}
		if isn := r.e.NextISNAfterTimeWait(); !seqGT(isn, r9ISS+2) {
			t.Errorf("new ISN %d is not beyond the old SND.NXT %d", isn, r9ISS+2)
		}
		// A SYN that is not accepted gets an ACK of the old state.
		out := r.in(&Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 100})
		if a := r9Only(t, out, "reply to an old SYN in TIME_WAIT"); a.Flags != wire.FlagACK || a.Ack != r9IRS+2 {
			t.Fatalf("reply %s", &a)
		}
	})
}

// SHLD-2 (3.5.3): an RST may carry data (a diagnostic); it is processed as
// any RST.
func TestRFC9293_SHLD_2_RSTWithData(t *testing.T) {
	r := r9Plain(t, nil)
	r.in(seg(wire.FlagRST|wire.FlagACK, r.nxt, r9ISS+1, 0, "reset: service shutting down"))
	if r.e.State() != Closed {
		t.Fatalf("state %v after an RST with data, want CLOSED", r.e.State())
	}
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNRESET) {
		t.Fatalf("errors %v", errs)
	}
}

// SHLD-3 (3.6.1): with half-duplex close, CLOSE with received data unread,
// or new data arriving after CLOSE, is answered with RST so the peer learns
// the data was lost. MAY-1 (3.6.1): CLOSE is half-duplex: the user can no
// longer receive (shutdown(SHUT_WR) is the half-close that keeps reading).
func TestRFC9293_SHLD_3_MAY_1_HalfDuplexClose(t *testing.T) {
	t.Run("unread data at CLOSE", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.peer(wire.FlagACK|wire.FlagPSH, "unread")
		r.runSegs(time.Second)
		r.e.Close(r.now)
		rst := r9Only(t, r.e.rec.take(), "reply to CLOSE")
		if rst.Flags&wire.FlagRST == 0 || rst.Flags&wire.FlagFIN != 0 || rst.Seq != r9ISS+1 {
			t.Fatalf("CLOSE with unread data sent %s, want RST at SND.NXT %d", &rst, r9ISS+1)
		}
		if r.e.State() != Closed {
			t.Fatalf("state %v", r.e.State())
		}
	})
	t.Run("data after CLOSE", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.Close(r.now)
		fin := r9Only(t, r.e.rec.take(), "FIN")
		if fin.Flags != wire.FlagFIN|wire.FlagACK {
			t.Fatalf("CLOSE sent %s", &fin)
		}
		r.ack = r9ISS + 2
		out := r.peer(wire.FlagACK|wire.FlagPSH, "too late")
		rst := r9Only(t, out, "reply to data after CLOSE")
		if rst.Flags&wire.FlagRST == 0 {
			t.Fatalf("data after CLOSE answered with %s, want RST", &rst)
		}
		if r.e.State() != Closed {
			t.Fatalf("state %v", r.e.State())
		}
	})
	t.Run("shutdown(SHUT_WR) keeps receiving", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.Shutdown(r.now, ShutWrite)
		r.e.rec.take()
		r.ack = r9ISS + 2
		r.peer(wire.FlagACK|wire.FlagPSH, "still flowing")
		if got := string(readAll(r.e, r.now)); got != "still flowing" {
			t.Fatalf("read %q after SHUT_WR", got)
		}
		if r.e.State() != FinWait2 {
			t.Fatalf("state %v, want FIN_WAIT_2", r.e.State())
		}
	})
}

// 3.5.2 and 3.10.7.1-3: reset generation. Without a connection, a segment
// with ACK gets <SEQ=SEG.ACK><CTL=RST> and one without gets
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; an RST is never answered. In
// LISTEN an ACK is answered the same way; in SYN_SENT and SYN_RCVD an
// unacceptable ACK is.
func TestRFC9293_Sec3_5_2_ResetGeneration(t *testing.T) {
	closed := newEndpoint(t, nil)
	for _, tc := range []struct {
		in   *Segment
		want *Segment
	}{
		{seg(wire.FlagACK|wire.FlagPSH, 77, 4242, 100, "hello"), &Segment{Seq: 4242, Flags: wire.FlagRST}},
		{seg(wire.FlagSYN, 77, 0, 100, ""), &Segment{Ack: 78, Flags: wire.FlagRST | wire.FlagACK}},
		{seg(wire.FlagPSH, 77, 0, 100, "data"), &Segment{Ack: 81, Flags: wire.FlagRST | wire.FlagACK}},
		{seg(wire.FlagFIN, 77, 0, 100, "ab"), &Segment{Ack: 80, Flags: wire.FlagRST | wire.FlagACK}},
		{seg(wire.FlagRST, 77, 0, 100, ""), nil},
		{seg(wire.FlagRST|wire.FlagACK, 77, 5, 100, ""), nil},
	} {
		closed.Input(time.Second, tc.in)
		out := closed.rec.take()
		if rst, ok := ResetFor(tc.in); ok != (tc.want != nil) {
			t.Errorf("ResetFor(%s) ok=%v", tc.in, ok)
		} else if ok && (rst.Seq != tc.want.Seq || rst.Ack != tc.want.Ack || rst.Flags != tc.want.Flags) {
			t.Errorf("ResetFor(%s) = %s, want %s", tc.in, &rst, tc.want)
		}
		if tc.want == nil {
			if len(out) != 0 {
				t.Errorf("CLOSED answered %s with %s", tc.in, r9Fmt(out))
			}
			continue
		}
		got := r9Only(t, out, "CLOSED's answer to "+tc.in.String())
		if got.Seq != tc.want.Seq || got.Ack != tc.want.Ack || got.Flags != tc.want.Flags || len(got.Payload) != 0 {
			t.Errorf("CLOSED answered %s with %s, want %s", tc.in, &got, tc.want)
		}
	}

	listen := newEndpoint(t, nil)
	listen.Listen(time.Second, OpenOptions{ISN: r9ISS})
	listen.Input(time.Second, seg(wire.FlagACK, 77, 4242, 100, ""))
	if got := r9Only(t, listen.rec.take(), "LISTEN's answer to an ACK"); got.Flags != wire.FlagRST || got.Seq != 4242 {
		t.Errorf("LISTEN answered an ACK with %s, want R %d", &got, 4242)
	}
	listen.Input(time.Second, seg(wire.FlagRST, 77, 0, 100, ""))
	if out := listen.rec.take(); len(out) != 0 || listen.State() != Listen {
		t.Errorf("LISTEN answered an RST with %s (state %v)", r9Fmt(out), listen.State())
	}

	synSent := newEndpoint(t, nil)
	synSent.Connect(time.Second, OpenOptions{ISN: r9ISS})
	synSent.rec.take()
	synSent.Input(time.Second, seg(wire.FlagSYN|wire.FlagACK, r9IRS, r9ISS+99, 100, ""))
	if got := r9Only(t, synSent.rec.take(), "SYN_SENT's answer to a bad ACK"); got.Flags != wire.FlagRST || got.Seq != r9ISS+99 {
		t.Errorf("SYN_SENT answered a bad SYN-ACK with %s, want R %d", &got, r9ISS+99)
	}
	if synSent.State() != SynSent {
		t.Errorf("state %v after a bad SYN-ACK", synSent.State())
	}

	synRcvd := newEndpoint(t, nil)
	synRcvd.Listen(time.Second, OpenOptions{ISN: r9ISS})
	synRcvd.Input(time.Second, seg(wire.FlagSYN, r9IRS, 0, 100, ""))
	synRcvd.rec.take()
	synRcvd.Input(time.Second, seg(wire.FlagACK, r9IRS+1, r9ISS+50, 100, ""))
	if got := r9Only(t, synRcvd.rec.take(), "SYN_RCVD's answer to a bad ACK"); got.Flags != wire.FlagRST || got.Seq != r9ISS+50 {
		t.Errorf("SYN_RCVD answered a bad ACK with %s, want R %d", &got, r9ISS+50)
	}
}

// 3.5.3 and 3.10.7.4 (second check, with RFC 5961 3.2): an RST is acted on
// only when its sequence number is exactly RCV.NXT; elsewhere in the window
// it gets a challenge ACK, outside the window it is dropped silently. In
// SYN_SENT an RST is valid only if it acknowledges the SYN.
func TestRFC9293_Sec3_5_3_ResetProcessing(t *testing.T) {
	r := r9Plain(t, nil)
	if out := r.in(seg(wire.FlagRST, r.nxt+1000000, 0, 0, "")); len(out) != 0 || r.e.State() != Established {
		t.Fatalf("out-of-window RST: %s, state %v", r9Fmt(out), r.e.State())
	}
	out := r.in(seg(wire.FlagRST, r.nxt+10, 0, 0, ""))
	if a := r9Only(t, out, "challenge ACK"); a.Flags != wire.FlagACK || a.Seq != r9ISS+1 || a.Ack != r.nxt {
		t.Fatalf("in-window RST answered with %s, want a challenge ACK", &a)
	}
	if r.e.State() != Established {
		t.Fatalf("an in-window RST not at RCV.NXT closed the connection")
	}
	r.in(seg(wire.FlagRST, r.nxt, 0, 0, ""))
	if r.e.State() != Closed {
		t.Fatalf("an RST at RCV.NXT left the state %v", r.e.State())
	}

	e := newEndpoint(t, nil)
	e.Connect(time.Second, OpenOptions{ISN: r9ISS})
	e.Input(time.Second, seg(wire.FlagRST, r9IRS, 0, 0, ""))
	if e.State() != SynSent {
		t.Fatalf("an RST without ACK in SYN_SENT was acted on")
	}
	e.Input(time.Second, seg(wire.FlagRST|wire.FlagACK, 0, r9ISS+1, 0, ""))
	if e.State() != Closed {
		t.Fatalf("an RST acknowledging the SYN left SYN_SENT in %v", e.State())
	}
	if _, err := e.Write(time.Second, []byte("x")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Write after the refused SYN: %v, want ECONNREFUSED", err)
	}
}

// MUST-41 (3.9.1.1): a passive OPEN creates a new LISTEN record or fails; it
// never disturbs an existing connection. At the engine, Listen on a TCB
// already in use fails with EINVAL and changes nothing (the stack owns the
// table of listeners).
func TestRFC9293_MUST_41_ListenDoesNotDisturb(t *testing.T) {
	r := r9Plain(t, nil)
	if err := r.e.Listen(r.now, OpenOptions{ISN: 1}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Listen on an established TCB: %v, want EINVAL", err)
	}
	if r.e.State() != Established || len(r.e.rec.take()) != 0 {
		t.Fatalf("Listen disturbed the connection: state %v", r.e.State())
	}
	r.peer(wire.FlagACK|wire.FlagPSH, "still here")
	if got := string(readAll(r.e, r.now)); got != "still here" {
		t.Fatalf("read %q", got)
	}
}

// MUST-42 (3.9.1.1): a LISTEN can coexist with a connection from the same
// local port that is in SYN_SENT or SYN_RCVD. Port demultiplexing is the
// stack's; at the engine, TCBs are independent.
func TestRFC9293_MUST_42_ListenBesideOpeningConnections(t *testing.T) {
	now := time.Second
	active := newEndpoint(t, nil)
	active.Connect(now, OpenOptions{ISN: 1})
	half := newEndpoint(t, nil)
	half.Listen(now, OpenOptions{ISN: 2})
	half.Input(now, seg(wire.FlagSYN, 900, 0, 100, ""))
	listener := newEndpoint(t, nil)
	if err := listener.Listen(now, OpenOptions{ISN: 3}); err != nil {
		t.Fatal(err)
	}
	listener.Input(now, seg(wire.FlagSYN, 7000, 0, 100, ""))
	if got := r9Only(t, listener.rec.take(), "SYN-ACK"); got.Flags != wire.FlagSYN|wire.FlagACK || got.Ack != 7001 {
		t.Fatalf("listener answered %s", &got)
	}
	if active.State() != SynSent || half.State() != SynReceived {
		t.Fatalf("states %v %v", active.State(), half.State())
	}
}

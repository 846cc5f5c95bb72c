package reliability

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// victim is an established connection a -> b that the attacker knows
// everything about (the worst case for a blind attacker: it guessed the
// 4-tuple, and the sequence space to within the window).
type victim struct {
	l              *lab
	client, server *stack.TCPConn
	tap            *tap
	// challenge counts the pure ACKs b sends to a.
	acksToA int
}

func newVictim(t *testing.T, seed uint64, opts *stack.Options) *victim {
	l := newLab(t, seed, opts, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond}))
	v := &victim{l: l, tap: newTap(l.ab)}
	v.client, v.server, _ = l.established(t)
	v.tap.f = func(d sim.Dir, p parsed) {
		if d == sim.BtoA && p.flags == wire.FlagACK && p.plen == 0 {
			v.acksToA++
		}
	}
	return v
}

// spoof builds a segment from a to b with the connection's real numbers
// shifted: dseq is added to b's RCV.NXT, dack to b's SND.NXT. It carries a
// plausible timestamp, so PAWS does not filter it first.
func (v *victim) spoof(flags wire.TCPFlags, dseq, dack uint32, payload []byte) []byte {
	a2b := v.tap.last[sim.AtoB]
	opts := &wire.TCPOptions{HasTimestamps: true, TSVal: a2b.opts.TSVal + 1, TSEcr: a2b.opts.TSEcr}
	return seg{src: v.client.LocalAddrPort(), dst: v.client.RemoteAddrPort(), seq: a2b.end() + dseq, ack: a2b.ack + dack,
		flags: flags, win: 512, opts: opts, payload: payload}.build()
}

// alive checks that the connection still works both ways.
func (v *victim) alive(t *testing.T) {
	t.Helper()
	if st := v.server.State(); st != tcp.Established {
		t.Fatalf("server in %v (%v)", st, v.server.Err())
	}
	if st := v.client.State(); st != tcp.Established {
		t.Fatalf("client in %v (%v)", st, v.client.Err())
	}
	msg := []byte("still here")
	if _, err := v.client.TryWrite(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got []byte
	until(t, v.l.n, func() bool {
		k, _ := v.server.TryRead(buf)
		got = append(got, buf[:k]...)
		return len(got) >= len(msg)
	}, 5*time.Second, "read after attack")
	if !bytes.Equal(got, msg) {
		t.Fatalf("server read %q, want %q (injected data accepted?)", got, msg)
	}
}

// TestBlindInWindowRST: RSTs inside the window but not at RCV.NXT draw a
// rate-limited challenge ACK and leave the connection alone (RFC 5961 3).
func TestBlindInWindowRST(t *testing.T) {
	v := newVictim(t, 1, nil)
	const bursts, perBurst = 10, 100
	for i := 0; i < bursts; i++ {
		var pkts [][]byte
		for j := 0; j < perBurst; j++ {
			pkts = append(pkts, v.spoof(wire.FlagRST, uint32(1+j*100), 0, nil))
		}
		v.l.inject(pkts...)
		run(t, v.l.n, 100*time.Millisecond)
	}
	st := tcbStats(v.server)
	t.Logf("%d in-window RSTs over %v: RSTsInWindow %d, ChallengeAcks %d, rate-limited %d, acks seen by a %d",
		bursts*perBurst, time.Duration(bursts)*100*time.Millisecond, st.RSTsInWindow, st.ChallengeAcks, st.ChallengeAcksRateLimited, v.acksToA)
	if st.RSTsInWindow != bursts*perBurst || st.RSTsAccepted != 0 {
		t.Fatalf("RSTsInWindow %d RSTsAccepted %d", st.RSTsInWindow, st.RSTsAccepted)
	}
	if st.ChallengeAcks+st.ChallengeAcksRateLimited != bursts*perBurst {
		t.Fatalf("challenge ACKs %d + limited %d != %d", st.ChallengeAcks, st.ChallengeAcksRateLimited, bursts*perBurst)
	}
	// tcp_invalid_ratelimit 500 ms: one per 500 ms over 1 s of bursts.
	if st.ChallengeAcks < 1 || st.ChallengeAcks > 3 {
		t.Fatalf("ChallengeAcks %d, want 1..3 (rate limit)", st.ChallengeAcks)
	}
	v.alive(t)
}

// TestBlindSYNInjection: a SYN in a synchronized state is answered with a
// challenge ACK and does not reset the connection (RFC 5961 4).
func TestBlindSYNInjection(t *testing.T) {
	v := newVictim(t, 2, nil)
	var pkts [][]byte
	for j := 0; j < 200; j++ {
		pkts = append(pkts, v.spoof(wire.FlagSYN, uint32(j*1000), 0, nil))
	}
	v.l.inject(pkts...)
	run(t, v.l.n, 2*time.Second)
	st := tcbStats(v.server)
	t.Logf("200 SYNs: SYNInSynchronized %d ChallengeAcks %d rate-limited %d", st.SYNInSynchronized, st.ChallengeAcks, st.ChallengeAcksRateLimited)
	if st.SYNInSynchronized != 200 || st.ChallengeAcks == 0 || st.ChallengeAcks > 2 {
		t.Fatalf("stats %+v", st)
	}
	v.alive(t)
}

// TestBlindDataInjection: data in the window whose ACK is unacceptable
// (too old, or for data never sent) is dropped with an ACK (RFC 5961 5);
// none of it reaches the application.
func TestBlindDataInjection(t *testing.T) {
	v := newVictim(t, 3, nil)
	evil := bytes.Repeat([]byte("EVIL"), 64)
	var pkts [][]byte
	for j := 0; j < 100; j++ {
		pkts = append(pkts, v.spoof(wire.FlagACK|wire.FlagPSH, uint32(j*len(evil)), 1<<30, evil)) // ACK far in the future
		pkts = append(pkts, v.spoof(wire.FlagACK|wire.FlagPSH, uint32(j*len(evil)), 3<<30, evil)) // ACK far in the past
	}
	v.l.inject(pkts...)
	run(t, v.l.n, 2*time.Second)
	st := tcbStats(v.server)
	t.Logf("200 data segments with bad ACKs: AckUnsentData %d AckTooOld %d ChallengeAcks %d rate-limited %d",
		st.AckUnsentData, st.AckTooOld, st.ChallengeAcks, st.ChallengeAcksRateLimited)
	if st.AckUnsentData != 100 || st.AckTooOld != 100 {
		t.Fatalf("AckUnsentData %d AckTooOld %d, want 100 each", st.AckUnsentData, st.AckTooOld)
	}
	if k, err := v.server.TryRead(make([]byte, 64)); k != 0 || err == io.EOF {
		t.Fatalf("server read %d bytes (%v) of injected data", k, err)
	}
	v.alive(t)
}

// TestAckUnsentData: pure ACKs for data b never sent are dropped and
// counted; b's send sequence is unaffected.
func TestAckUnsentData(t *testing.T) {
	v := newVictim(t, 4, nil)
	var pkts [][]byte
	for j := 1; j <= 500; j++ {
		pkts = append(pkts, v.spoof(wire.FlagACK, 0, uint32(j*1000), nil))
	}
	v.l.inject(pkts...)
	run(t, v.l.n, time.Second)
	st := tcbStats(v.server)
	t.Logf("500 ACKs of unsent data: AckUnsentData %d, challenge ACKs %d, rate-limited %d", st.AckUnsentData, st.ChallengeAcks, st.ChallengeAcksRateLimited)
	if st.AckUnsentData != 500 {
		t.Fatalf("AckUnsentData %d", st.AckUnsentData)
	}
	if info := v.server.Info(); info.Unacked != 0 {
		t.Fatalf("server Unacked %d", info.Unacked)
	}
	// b -> a still works: b's SND.UNA did not move past what it sent.
	if _, err := v.server.TryWrite([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	var got int
	until(t, v.l.n, func() bool { k, _ := v.client.TryRead(buf[got:]); got += k; return got == 4 }, 5*time.Second, "pong")
	v.alive(t)
}

// TestRSTStorm: thousands of random RSTs for the 4-tuple. The connection
// survives unless one lands exactly on RCV.NXT (2^-32 per RST).
func TestRSTStorm(t *testing.T) {
	v := newVictim(t, 5, nil)
	n := size(100000, 20000, 5000)
	rcvNxt := v.tap.last[sim.AtoB].end()
	var seqs []uint32
	rng := uint64(12345)
	exact := 0
	for i := 0; i < n; i++ {
		rng = rng*6364136223846793005 + 1442695040888963407
		s := uint32(rng >> 32)
		if s == rcvNxt {
			exact++
			continue // a hit would (rightly) reset it
		}
		seqs = append(seqs, s)
	}
	a2b := v.tap.last[sim.AtoB]
	for i := 0; i < len(seqs); i += 500 {
		var pkts [][]byte
		for _, s := range seqs[i:min(i+500, len(seqs))] {
			pkts = append(pkts, seg{src: v.client.LocalAddrPort(), dst: v.client.RemoteAddrPort(), seq: s, flags: wire.FlagRST,
				opts: &wire.TCPOptions{HasTimestamps: true, TSVal: a2b.opts.TSVal, TSEcr: a2b.opts.TSEcr}}.build())
		}
		v.l.inject(pkts...)
		run(t, v.l.n, 10*time.Millisecond)
	}
	st := tcbStats(v.server)
	t.Logf("%d random RSTs (%d skipped at RCV.NXT): out of window %d, in window %d (challenge ACKs %d, limited %d), accepted %d",
		n, exact, st.RSTsOutOfWindow, st.RSTsInWindow, st.ChallengeAcks, st.ChallengeAcksRateLimited, st.RSTsAccepted)
	if st.RSTsAccepted != 0 || st.RSTsOutOfWindow+st.RSTsInWindow != uint64(len(seqs)) {
		t.Fatalf("stats %+v", st)
	}
	v.alive(t)

	// And the one that hits RCV.NXT ends it, as RFC 5961 3.2 says.
	v.l.inject(v.spoof(wire.FlagRST, 0, 0, nil))
	run(t, v.l.n, 10*time.Millisecond)
	if st := v.server.State(); st != tcp.Closed {
		t.Fatalf("exact RST: server in %v", st)
	}
}

package reliability

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// rogue is a hand-made peer at the ghost address: the attacker speaks TCP
// to b itself, packet by packet.
type rogue struct {
	l      *lab
	addr   netip.AddrPort
	iss    uint32 // our ISN
	irs    uint32 // b's ISN
	fromB  []parsed
	server *stack.TCPConn
}

// handshake connects a rogue from ghost:lport to b's listener ln with a SYN
// carrying opts and window win, and returns it once b has accepted.
func (l *lab) handshake(t *testing.T, ln *stack.TCPListener, lport uint16, win uint16, opts *wire.TCPOptions) *rogue {
	t.Helper()
	r := &rogue{l: l, addr: netip.AddrPortFrom(ghost, lport), iss: 1000}
	l.xb.Observe(func(ev sim.PacketEvent) {
		if ev.Kind != sim.PacketSent || ev.Dir != sim.BtoA {
			return
		}
		if p, ok := parse(ev.Packet); ok && p.dst == r.addr {
			r.fromB = append(r.fromB, p)
		}
	})
	l.inject(seg{src: r.addr, dst: l.b.AddrPort(port), seq: r.iss, flags: wire.FlagSYN, win: win, opts: opts}.build())
	until(t, l.n, func() bool { return len(r.fromB) > 0 }, time.Second, "SYN-ACK")
	sa := r.fromB[0]
	if sa.flags != wire.FlagSYN|wire.FlagACK || sa.ack != r.iss+1 {
		t.Fatalf("got %v ack %d", sa.flags, sa.ack)
	}
	r.irs = sa.seq
	l.inject(seg{src: r.addr, dst: l.b.AddrPort(port), seq: r.iss + 1, ack: r.irs + 1, flags: wire.FlagACK, win: win}.build())
	until(t, l.n, func() bool {
		c, err := ln.TryAccept()
		if err == nil {
			r.server = c
		}
		return r.server != nil
	}, time.Second, "accept")
	return r
}

// TestTinyMSS: a SYN announcing MSS 1..40 gets the floor tcp_min_snd_mss
// (48): b never sends segments smaller than that, which would make it
// spend a packet per byte (CVE-2019-11479).
func TestTinyMSS(t *testing.T) {
	l := newLab(t, 9, nil, sim.Symmetric(sim.PathConfig{}))
	ln, err := l.b.Stack().ListenConfig(stack.ListenConfig{}, "tcp", l.b.AddrPort(port).String())
	mustNoErr(t, err)
	for mss := 1; mss <= 40; mss++ {
		r := l.handshake(t, ln, uint16(2000+mss), 65535, &wire.TCPOptions{HasMSS: true, MSS: uint16(mss)})
		if got := r.server.Info().SndMSS; got != 48 {
			t.Fatalf("MSS %d: SndMSS %d, want 48", mss, got)
		}
		_, err := r.server.TryWrite(make([]byte, 1000))
		mustNoErr(t, err)
		run(t, l.n, 10*time.Millisecond)
		sizes := map[int]int{}
		for _, p := range r.fromB[1:] {
			if p.plen > 0 {
				sizes[p.plen]++
			}
		}
		if len(sizes) != 1 || sizes[48] == 0 {
			t.Fatalf("MSS %d: payload sizes %v, want only 48", mss, sizes)
		}
		r.server.Close()
	}
	t.Logf("MSS 1..40 in the SYN: every connection sends 48-byte segments")
}

// TestZeroWindowForever: a peer that acknowledges every probe with a zero
// window. Probes go on with exponential backoff (capped at RTOMax); with
// TCP_USER_TIMEOUT the connection ends with ETIMEDOUT.
func TestZeroWindowForever(t *testing.T) {
	for _, ut := range []time.Duration{0, 90 * time.Second} {
		l := newLab(t, 10, nil, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond}))
		ln, err := l.b.Stack().ListenConfig(stack.ListenConfig{}, "tcp", l.b.AddrPort(port).String())
		mustNoErr(t, err)
		r := l.handshake(t, ln, 3000, 0, &wire.TCPOptions{HasMSS: true, MSS: 1460})
		if ut > 0 {
			mustNoErr(t, r.server.SetUserTimeout(ut))
		}
		var probes []time.Duration
		seen := len(r.fromB)
		l.n.OnStep(func() {
			for ; seen < len(r.fromB); seen++ {
				p := r.fromB[seen]
				if p.flags&wire.FlagRST != 0 {
					continue
				}
				probes = append(probes, l.n.Now())
				// Answer every probe: "still no room".
				l.inject(seg{src: r.addr, dst: l.b.AddrPort(port), seq: r.iss + 1, ack: r.irs + 1, flags: wire.FlagACK, win: 0}.build())
			}
		})
		_, err = r.server.TryWrite(make([]byte, 10000))
		mustNoErr(t, err)
		start := l.n.Now()
		horizon := 30 * time.Minute
		l.n.RunUntil(func() bool { return r.server.State() == tcp.Closed }, horizon)
		var gaps []time.Duration
		for i := 1; i < len(probes); i++ {
			gaps = append(gaps, (probes[i] - probes[i-1]).Round(time.Millisecond))
		}
		st := r.server.State()
		t.Logf("user timeout %v: %d probes in %v, state %v (%v), gaps %v", ut, len(probes), l.n.Now()-start, st, r.server.Err(), gaps)
		for i := 1; i < len(gaps); i++ {
			if gaps[i] < gaps[i-1] || gaps[i] > 121*time.Second {
				t.Fatalf("probe gaps %v: not a capped backoff", gaps)
			}
		}
		if ut == 0 {
			if st != tcp.Established || len(probes) < 15 {
				t.Fatalf("without user timeout: state %v, %d probes", st, len(probes))
			}
			continue
		}
		if st != tcp.Closed || !errors.Is(r.server.Err(), syscall.ETIMEDOUT) {
			t.Fatalf("with user timeout: state %v err %v", st, r.server.Err())
		}
		if d := l.n.Now() - start; d < ut || d > ut+2*time.Minute {
			t.Fatalf("ended after %v, user timeout %v", d, ut)
		}
	}
}

// TestTimeWaitAssassination: an RST for a TIME_WAIT entry ends it by default
// (Linux tcp_rfc1337=0); with RFC1337 it is ignored (RFC 1337 TIME-WAIT
// hazard TWH1).
func TestTimeWaitAssassination(t *testing.T) {
	for _, rfc1337 := range []bool{false, true} {
		cfg := tcp.DefaultConfig()
		cfg.RFC1337 = rfc1337
		v := newVictim(t, 11, &stack.Options{TCP: &cfg})
		// b closes first, so b holds the TIME_WAIT entry.
		mustNoErr(t, v.server.Close())
		until(t, v.l.n, func() bool {
			_, err := v.client.TryRead(make([]byte, 8))
			return err != nil && !errors.Is(err, tcp.ErrWouldBlock)
		}, time.Second, "client sees EOF")
		mustNoErr(t, v.client.Close())
		until(t, v.l.n, func() bool { return v.server.State() == tcp.TimeWait && v.client.State() == tcp.Closed }, time.Second, "TIME_WAIT")
		// The RST is in the window: seq at b's RCV.NXT (a's FIN + 1).
		v.l.inject(v.spoof(wire.FlagRST, 0, 0, nil))
		run(t, v.l.n, 10*time.Millisecond)
		st := v.server.State()
		t.Logf("RFC1337 %v: TIME_WAIT after the RST: %v", rfc1337, st == tcp.TimeWait)
		if rfc1337 && st != tcp.TimeWait || !rfc1337 && st != tcp.Closed {
			t.Fatalf("RFC1337 %v: state %v", rfc1337, st)
		}
	}
}

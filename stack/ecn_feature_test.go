package stack

import (
	"net/netip"
	"testing"

	"github.com/synfin/synfin/wire"
)

// ecnHandshake sends an ECN-setup SYN (ECE and CWR, RFC 3168 6.1.1) from p
// and completes the handshake; it returns the stack's SYN-ACK.
func ecnHandshake(t *testing.T, p *peer) outSeg {
	t.Helper()
	p.l.take()
	s := p.seg(wire.FlagSYN|wire.FlagECE|wire.FlagCWR, nil)
	if p.ts {
		s.opts = synOpts(p.tsval)
	} else {
		s.opts = wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 7}
	}
	p.l.inject(s.bytes())
	p.sndNxt++
	sa := only(t, p.l.takeTCP(t), "ECN-setup SYN")
	if wire.PacketECN(sa.raw) != wire.NotECT {
		t.Errorf("SYN-ACK sent %v, want not-ECT (RFC 3168 6.1.1)", wire.PacketECN(sa.raw))
	}
	p.note(sa)
	p.send(wire.FlagACK, nil)
	return sa
}

// TestRFC3168_StackECNField: the stack reads the ECN field of arriving
// packets for the engine and writes the engine's codepoint into the IP
// header of what it sends, over IPv4 and IPv6: ECT(0) on new data, with
// the DSCP the application set (IP_TOS sets only those bits of a TCP
// socket, as in Linux), not-ECT on pure ACKs, and a CE mark echoed as ECE
// (6.1.3).
func TestRFC3168_StackECNField(t *testing.T) {
	for _, tc := range []struct{ name, host, peer string }{
		{"IPv4", "10.0.0.2", "10.0.0.1"},
		{"IPv6", "fd00::2", "fd00::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, l := rawHost(t, Options{}) // tcp_ecn=2: accepts
			host := netip.AddrPortFrom(netip.MustParseAddr(tc.host), 80)
			ln, err := s.Listen("tcp", host.String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			p := newPeer(t, l, netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 5555), host)
			sa := ecnHandshake(t, p)
			if sa.flags != wire.FlagSYN|wire.FlagACK|wire.FlagECE {
				t.Fatalf("answer to an ECN-setup SYN: %v, want SYN-ACK with ECE", sa)
			}
			c, err := ln.(*TCPListener).AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			c.SetTOS(0xb9) // EF, with ECN bits the stack must not take
			c.Write([]byte("hello"))
			out := only(t, l.takeTCP(t), "write")
			p.note(out)
			tos := out.raw[1]
			if tc.name == "IPv6" {
				tos = uint8(wire.IPv6(out.raw).TrafficClass())
			}
			if tos != 0xba {
				t.Errorf("data sent with TOS/traffic class %#x, want 0xba (EF, ECT(0))", tos)
			}

			in := p.seg(wire.FlagACK|wire.FlagPSH, []byte("data")).bytes()
			wire.SetPacketECN(in, wire.CE)
			l.inject(in)
			p.sndNxt += 4
			ack := only(t, l.takeTCP(t), "CE-marked data")
			if ack.flags&wire.FlagECE == 0 || len(ack.data) != 0 {
				t.Errorf("answer to CE-marked data: %v, want an ACK with ECE", ack)
			}
			if e := wire.PacketECN(ack.raw); e != wire.NotECT {
				t.Errorf("pure ACK sent %v, want not-ECT (RFC 3168 6.1.4)", e)
			}
			if info := c.Info(); !info.ECN || !info.ECNSeen {
				t.Errorf("Info: ECN %v, ECNSeen %v; want both", info.ECN, info.ECNSeen)
			}
		})
	}
}

// TestRFC3168_SynCookiesKeepECN: a SYN cookie carries the ECN agreement in
// the timestamp, as Linux's does (the sixth low bit of TSval), so the
// connection rebuilt from the ACK uses ECN as its SYN-ACK promised; without
// timestamps there is nowhere to keep it, and the SYN-ACK declines.
func TestRFC3168_SynCookiesKeepECN(t *testing.T) {
	for _, ts := range []bool{true, false} {
		name := map[bool]string{true: "timestamps", false: "no timestamps"}[ts]
		t.Run(name, func(t *testing.T) {
			s, l := rawHost(t, Options{Syncookies: 2})
			ln, err := s.Listen("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:80"))
			p.ts = ts
			sa := ecnHandshake(t, p)
			if got := s.Stats().SynCookiesSent; got != 1 {
				t.Fatalf("SynCookiesSent = %d, want 1", got)
			}
			wantFlags := wire.FlagSYN | wire.FlagACK
			if ts {
				wantFlags |= wire.FlagECE
				if sa.opts.TSVal&0x20 == 0 {
					t.Errorf("cookie TSval %#x lacks the ECN bit 0x20", sa.opts.TSVal)
				}
			}
			if sa.flags != wantFlags {
				t.Fatalf("cookie SYN-ACK %v, want flags %v", sa, wantFlags)
			}
			c, err := ln.(*TCPListener).AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Info().ECN; got != ts {
				t.Errorf("connection from the cookie: ECN %v, want %v", got, ts)
			}
			c.Write([]byte("hello"))
			out := only(t, l.takeTCP(t), "write")
			want := wire.NotECT
			if ts {
				want = wire.ECT0
			}
			if e := wire.PacketECN(out.raw); e != want {
				t.Errorf("data sent %v, want %v", e, want)
			}
		})
	}
}

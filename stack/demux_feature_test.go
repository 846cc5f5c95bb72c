package stack

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/synfin/synfin/wire"
)

// TestResetForNoSocket: RFC 9293 3.10.7.1: a segment for which there is no
// connection nor listener is answered with <SEQ=SEG.ACK><CTL=RST> if it
// has ACK, and <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> otherwise; an RST
// is not answered.
func TestResetForNoSocket(t *testing.T) {
	cases := []struct {
		name     string
		flags    wire.TCPFlags
		seq, ack uint32
		data     int
		// The answer; noReply for none.
		noReply        bool
		rstFlags       wire.TCPFlags
		rstSeq, rstAck uint32
	}{
		{name: "SYN", flags: wire.FlagSYN, seq: 1000, rstFlags: wire.FlagRST | wire.FlagACK, rstSeq: 0, rstAck: 1001},
		{name: "SYN+data", flags: wire.FlagSYN, seq: 1000, data: 10, rstFlags: wire.FlagRST | wire.FlagACK, rstAck: 1011},
		{name: "ACK", flags: wire.FlagACK, seq: 1000, ack: 5000, rstFlags: wire.FlagRST, rstSeq: 5000},
		{name: "ACK+data", flags: wire.FlagACK | wire.FlagPSH, seq: 1000, ack: 7777, data: 20, rstFlags: wire.FlagRST, rstSeq: 7777},
		{name: "FIN+ACK", flags: wire.FlagFIN | wire.FlagACK, seq: 1000, ack: 9, rstFlags: wire.FlagRST, rstSeq: 9},
		{name: "FIN", flags: wire.FlagFIN, seq: 1000, rstFlags: wire.FlagRST | wire.FlagACK, rstAck: 1001},
		{name: "data-without-ACK", flags: wire.FlagPSH, seq: 0xfffffffe, data: 5, rstFlags: wire.FlagRST | wire.FlagACK, rstAck: 3},
		{name: "no-flags", flags: 0, seq: 42, rstFlags: wire.FlagRST | wire.FlagACK, rstAck: 42},
		{name: "SYN+ACK", flags: wire.FlagSYN | wire.FlagACK, seq: 1000, ack: 0xdeadbeef, rstFlags: wire.FlagRST, rstSeq: 0xdeadbeef},
		{name: "RST", flags: wire.FlagRST, seq: 1000, noReply: true},
		{name: "RST+ACK", flags: wire.FlagRST | wire.FlagACK, seq: 1000, ack: 55, noReply: true},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range cases {
			t.Run(fam+"/"+tc.name, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				host, peer := family(fam)
				in := seg{src: netip.AddrPortFrom(peer, 4321), dst: netip.AddrPortFrom(host, 9), seq: tc.seq, ack: tc.ack,
					flags: tc.flags, data: bytes.Repeat([]byte{'x'}, tc.data), opts: wire.TCPOptions{HasTimestamps: true, TSVal: 1}}
				l.inject(in.bytes())
				out := l.takeTCP(t)
				if tc.noReply {
					if len(out) != 0 {
						t.Errorf("an RST was answered: %v", out)
					}
					if s.Stats().ResetsSent != 0 {
						t.Errorf("ResetsSent %d", s.Stats().ResetsSent)
					}
					return
				}
				rst := only(t, out, tc.name)
				if rst.src != in.dst || rst.dst != in.src {
					t.Errorf("RST %v -> %v, want %v -> %v", rst.src, rst.dst, in.dst, in.src)
				}
				if rst.flags != tc.rstFlags || rst.seq != tc.rstSeq || rst.flags&wire.FlagACK != 0 && rst.ack != tc.rstAck {
					t.Errorf("answer %v, want [%v] seq %d ack %d", rst, tc.rstFlags, tc.rstSeq, tc.rstAck)
				}
				if len(rst.data) != 0 || len(rst.optBytes) != 0 {
					t.Errorf("RST carries %d data octets, options % x", len(rst.data), rst.optBytes)
				}
				if s.Stats().ResetsSent != 1 {
					t.Errorf("ResetsSent %d", s.Stats().ResetsSent)
				}
			})
		}
	}
}

// TestResetListenerOtherFamily: a listener on an IPv4 address does not take
// SYNs for the same port on the host's IPv6 address; they are reset.
func TestResetListenerOtherFamily(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, err := s.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l.inject(seg{src: netip.AddrPortFrom(peerV6, 1), dst: netip.AddrPortFrom(hostV6, 80), seq: 7, flags: wire.FlagSYN}.bytes())
	if rst := only(t, l.takeTCP(t), "SYN"); rst.flags != wire.FlagRST|wire.FlagACK || rst.ack != 8 {
		t.Errorf("answer %v", rst)
	}
}

// TestDropBadPackets: every malformed or misdirected packet is counted under
// its reason, answered with nothing, and creates nothing.
func TestDropBadPackets(t *testing.T) {
	syn4 := func() []byte {
		return seg{src: netip.AddrPortFrom(peerV4, 1000), dst: netip.AddrPortFrom(hostV4, 80), seq: 1, flags: wire.FlagSYN, opts: synOpts(1)}.bytes()
	}
	syn6 := func() []byte {
		return seg{src: netip.AddrPortFrom(peerV6, 1000), dst: netip.AddrPortFrom(hostV6, 80), seq: 1, flags: wire.FlagSYN, opts: synOpts(1)}.bytes()
	}
	// tcpAt rebuilds a v4 packet around a TCP header edited by f, with a
	// correct checksum unless f breaks it after.
	tcpEdit := func(f func(th []byte) []byte, fixSum bool) []byte {
		ip, _ := wire.ParseIPv4(syn4())
		th := f(bytes.Clone(ip.Payload()))
		if fixSum && len(th) >= 18 {
			binary.BigEndian.PutUint16(th[16:18], 0)
			binary.BigEndian.PutUint16(th[16:18], wire.FoldChecksum(wire.Checksum(th, wire.PseudoHeaderSum(wire.ProtoTCP, peerV4, hostV4, len(th)))))
		}
		return ipPacket(peerV4, hostV4, wire.ProtoTCP, th)
	}
	cases := []struct {
		name    string
		pkt     func() []byte
		counter func(st Stats) uint64
	}{
		{"empty", func() []byte { return nil }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"version-5", func() []byte { p := syn4(); p[0] = 0x55; return p }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-ihl-4", func() []byte { p := syn4(); p[0] = 0x44; return p }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-ihl-beyond", func() []byte { p := syn4()[:24]; p[0] = 0x4f; return p }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-total-length-long", func() []byte {
			p := syn4()
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)+1))
			wire.IPv4(p).FillChecksum()
			return p
		}, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-total-length-short", func() []byte {
			p := syn4()
			binary.BigEndian.PutUint16(p[2:], 10)
			wire.IPv4(p).FillChecksum()
			return p
		}, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-truncated", func() []byte { return syn4()[:19] }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-header-checksum", func() []byte { p := syn4(); p[10] ^= 1; return p }, func(st Stats) uint64 { return st.BadIPChecksum }},
		{"v6-truncated", func() []byte { return syn6()[:39] }, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v6-payload-length-long", func() []byte {
			p := syn6()
			binary.BigEndian.PutUint16(p[4:], uint16(len(p)))
			return p
		}, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v6-bad-extension", func() []byte {
			// A Destination Options header claiming more than there is.
			b, _ := wire.BuildIPv6(nil, &wire.IPv6Header{NextHeader: wire.ProtoDestOpts, HopLimit: 64, Src: peerV6, Dst: hostV6}, 8)
			return append(b, wire.ProtoTCP, 9, 0, 0, 0, 0, 0, 0)
		}, func(st Stats) uint64 { return st.BadIPHeader }},
		{"v4-not-for-us", func() []byte {
			return seg{src: netip.AddrPortFrom(peerV4, 1), dst: netip.MustParseAddrPort("10.0.0.3:80"), flags: wire.FlagSYN}.bytes()
		}, func(st Stats) uint64 { return st.NotForUs }},
		{"v6-not-for-us", func() []byte {
			return seg{src: netip.AddrPortFrom(peerV6, 1), dst: netip.MustParseAddrPort("[fd00::3]:80"), flags: wire.FlagSYN}.bytes()
		}, func(st Stats) uint64 { return st.NotForUs }},
		{"v4-broadcast-not-for-us", func() []byte {
			return seg{src: netip.AddrPortFrom(peerV4, 1), dst: netip.MustParseAddrPort("10.0.0.255:80"), flags: wire.FlagSYN}.bytes()
		}, func(st Stats) uint64 { return st.NotForUs }},
		{"unknown-protocol", func() []byte { return ipPacket(peerV4, hostV4, wire.ProtoUDP, make([]byte, 8)) }, func(st Stats) uint64 { return st.UnknownProtocol }},
		{"v6-unknown-protocol", func() []byte { return ipPacket(peerV6, hostV6, 132, make([]byte, 12)) }, func(st Stats) uint64 { return st.UnknownProtocol }},
		{"tcp-truncated", func() []byte { return ipPacket(peerV4, hostV4, wire.ProtoTCP, make([]byte, 10)) }, func(st Stats) uint64 { return st.BadTCPHeader }},
		{"tcp-data-offset-4", func() []byte {
			return tcpEdit(func(th []byte) []byte { th[12] = 4 << 4; return th }, true)
		}, func(st Stats) uint64 { return st.BadTCPHeader }},
		{"tcp-data-offset-beyond", func() []byte {
			return tcpEdit(func(th []byte) []byte { th[12] = 15 << 4; return th[:40] }, true)
		}, func(st Stats) uint64 { return st.BadTCPHeader }},
		{"tcp-checksum", func() []byte {
			return tcpEdit(func(th []byte) []byte { th[17] ^= 0x40; return th }, false)
		}, func(st Stats) uint64 { return st.BadTCPChecksum }},
		{"v6-tcp-checksum", func() []byte { p := syn6(); p[len(p)-1] ^= 0x80; return p }, func(st Stats) uint64 { return st.BadTCPChecksum }},
		{"tcp-checksum-of-data", func() []byte {
			p := seg{src: netip.AddrPortFrom(peerV4, 1000), dst: netip.AddrPortFrom(hostV4, 80), seq: 1, ack: 1, flags: wire.FlagACK, data: []byte("payload")}.bytes()
			p[len(p)-1] ^= 1
			return p
		}, func(st Stats) uint64 { return st.BadTCPChecksum }},
		{"tcp-option-length-0", func() []byte {
			// MSS option with length 0 in place of the SYN's MSS.
			return tcpEdit(func(th []byte) []byte { th[21] = 0; return th }, true)
		}, func(st Stats) uint64 { return st.BadTCPOptions }},
		{"tcp-option-too-long", func() []byte {
			return tcpEdit(func(th []byte) []byte { th[21] = 40; return th }, true)
		}, func(st Stats) uint64 { return st.BadTCPOptions }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, l := rawHost(t, Options{})
			ln, err := s.Listen("tcp", ":80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			l.inject(tc.pkt())
			if out := l.take(); len(out) != 0 {
				t.Errorf("answered with %d packets", len(out))
			}
			st := s.Stats()
			if got := tc.counter(st); got != 1 {
				t.Errorf("counter %d, want 1 (stats %+v)", got, st)
			}
			if st.PacketsIn != 1 || st.ResetsSent != 0 || st.PassiveOpen != 0 {
				t.Errorf("PacketsIn %d ResetsSent %d PassiveOpen %d", st.PacketsIn, st.ResetsSent, st.PassiveOpen)
			}
			if rows := s.Sockets(); len(rows) != 1 {
				t.Errorf("sockets:\n%s", FormatSS(rows))
			}
		})
	}
}

// TestMalformedNeverPanics throws truncations and random corruptions of
// valid packets (TCP to a connection, to a listener, ICMP errors, echo,
// fragments) at a stack with live connections. Nothing panics, and what
// the stack sends is always well formed (parseOut checks checksums).
func TestMalformedNeverPanics(t *testing.T) {
	s, l := rawHost(t, Options{})
	p, c := established(t, s, l, "v4")
	p6, c6 := established(t, s, l, "v6")
	ln, err := s.Listen("tcp", ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := inFlight(t, c, l, 3000)
	data6 := inFlight(t, c6, l, 3000)
	seeds := [][]byte{
		p.seg(wire.FlagACK|wire.FlagPSH, []byte("some data for the connection")).bytes(),
		p6.seg(wire.FlagACK|wire.FlagPSH, []byte("some data for the connection")).bytes(),
		seg{src: netip.AddrPortFrom(peerV4, 7), dst: netip.AddrPortFrom(hostV4, 81), seq: 5, flags: wire.FlagSYN, opts: synOpts(3)}.bytes(),
		seg{src: netip.AddrPortFrom(peerV6, 7), dst: netip.AddrPortFrom(hostV6, 81), seq: 5, flags: wire.FlagSYN, opts: synOpts(3)}.bytes(),
		icmpErrorAbout(data[0].raw, router("v4"), 3, 4, 1280),
		icmpErrorAbout(data6[0].raw, router("v6"), 2, 0, 1280),
		icmpErrorAbout(data[0].raw, router("v4"), 3, 1, 0),
		echoRequest("v4", 1, 1, []byte("ping")),
		echoRequest("v6", 1, 1, []byte("ping")),
	}
	seeds = append(seeds, fragment(echoRequest("v4", 2, 2, make([]byte, 200)), 3, 72)...)
	seeds = append(seeds, fragment(echoRequest("v6", 2, 2, make([]byte, 200)), 3, 72)...)
	check := func(pkt []byte) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic on % x: %v", pkt, r)
			}
		}()
		l.inject(pkt)
		for _, o := range l.take() {
			if o[0]>>4 == 4 || o[0]>>4 == 6 {
				parseOut(t, o)
			} else {
				t.Fatalf("stack sent garbage % x", o)
			}
		}
	}
	for _, sd := range seeds {
		for n := 0; n <= len(sd); n++ {
			check(bytes.Clone(sd[:n]))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		pkt := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for k := rng.IntN(4) + 1; k > 0; k-- {
			switch rng.IntN(3) {
			case 0:
				pkt[rng.IntN(len(pkt))] ^= byte(1 << rng.IntN(8))
			case 1:
				pkt[rng.IntN(len(pkt))] = byte(rng.Uint32())
			case 2:
				pkt = pkt[:rng.IntN(len(pkt)+1)]
				if len(pkt) == 0 {
					pkt = append(pkt, 0x45)
				}
			}
		}
		// Keep some of them past the IPv4 header checksum.
		if pkt[0]>>4 == 4 && len(pkt) >= 20 && rng.IntN(2) == 0 {
			wire.IPv4(pkt).FillChecksum()
		}
		check(pkt)
	}
	st := s.Stats()
	t.Logf("in %d out %d badIP %d badSum %d notForUs %d badTCP %d badTCPSum %d badOpts %d badICMP %d icmpErr %d ignored %d frags %d dropped %d",
		st.PacketsIn, st.PacketsOut, st.BadIPHeader, st.BadIPChecksum, st.NotForUs, st.BadTCPHeader, st.BadTCPChecksum,
		st.BadTCPOptions, st.BadICMP, st.ICMPErrorsIn, st.ICMPErrorsIgnored, st.FragmentsIn, st.FragmentsDropped)
}

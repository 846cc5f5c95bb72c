package stack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// family picks the addresses of the host and the peer.
func family(fam string) (host, peer netip.Addr) {
	if fam == "v6" {
		return hostV6, peerV6
	}
	return hostV4, peerV4
}

// icmpOut decodes an ICMP message the stack sent, checking its checksum.
func icmpOut(t testing.TB, p []byte) (src, dst netip.Addr, m []byte) {
	t.Helper()
	switch p[0] >> 4 {
	case 4:
		ip, err := wire.ParseIPv4(p)
		if err != nil || !ip.ChecksumValid() || ip.Protocol() != wire.ProtoICMP {
			t.Fatalf("not a valid ICMPv4 packet: % x", p)
		}
		m = ip.Payload()
		if wire.FoldChecksum(wire.Checksum(m, 0)) != 0 {
			t.Errorf("ICMPv4 checksum wrong")
		}
		return ip.Src(), ip.Dst(), m
	default:
		ip, err := wire.ParseIPv6(p)
		if err != nil || ip.NextHeader() != wire.ProtoICMPv6 {
			t.Fatalf("not a valid ICMPv6 packet: % x", p)
		}
		m = ip.Payload()
		if wire.FoldChecksum(wire.Checksum(m, wire.PseudoHeaderSum(wire.ProtoICMPv6, ip.Src(), ip.Dst(), len(m)))) != 0 {
			t.Errorf("ICMPv6 checksum wrong")
		}
		return ip.Src(), ip.Dst(), m
	}
}

// echoRequest builds an echo request from the peer to the host.
func echoRequest(fam string, id, seq uint16, data []byte) []byte {
	host, peer := family(fam)
	rest := uint32(id)<<16 | uint32(seq)
	if fam == "v6" {
		return ipPacket(peer, host, wire.ProtoICMPv6, icmpV6(peer, host, 128, 0, rest, data))
	}
	return ipPacket(peer, host, wire.ProtoICMP, icmpV4(8, 0, rest, data))
}

// checkEchoReply checks that p answers echoRequest(fam, id, seq, data).
func checkEchoReply(t testing.TB, fam string, p []byte, id, seq uint16, data []byte) {
	t.Helper()
	host, peer := family(fam)
	src, dst, m := icmpOut(t, p)
	wantType := uint8(0)
	if fam == "v6" {
		wantType = 129
	}
	if src != host || dst != peer {
		t.Errorf("echo reply %v -> %v, want %v -> %v", src, dst, host, peer)
	}
	if m[0] != wantType || m[1] != 0 {
		t.Errorf("echo reply type %d code %d, want %d 0", m[0], m[1], wantType)
	}
	if gotID, gotSeq := binary.BigEndian.Uint16(m[4:6]), binary.BigEndian.Uint16(m[6:8]); gotID != id || gotSeq != seq {
		t.Errorf("echo reply id %d seq %d, want %d %d", gotID, gotSeq, id, seq)
	}
	if !bytes.Equal(m[8:], data) {
		t.Errorf("echo reply data %d bytes, want %d bytes echoed", len(m[8:]), len(data))
	}
}

// TestICMPEcho: echo requests (v4, v6) are answered with echo replies that
// keep the identifier, sequence number and data; a bad checksum or a
// truncated message is counted and not answered.
func TestICMPEcho(t *testing.T) {
	for _, fam := range []string{"v4", "v6"} {
		for _, size := range []int{0, 56, 1400} {
			t.Run(fam, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				data := bytes.Repeat([]byte{0xa5, 0x5a, 0x01}, size/3+1)[:size]
				l.inject(echoRequest(fam, 0x1234, 7, data))
				out := l.take()
				if len(out) != 1 {
					t.Fatalf("%d packets in answer to an echo request", len(out))
				}
				checkEchoReply(t, fam, out[0], 0x1234, 7, data)
				if st := s.Stats(); st.ICMPEchoReplies != 1 || st.BadICMP != 0 {
					t.Errorf("ICMPEchoReplies %d BadICMP %d", st.ICMPEchoReplies, st.BadICMP)
				}
			})
		}
	}
	bad := []struct {
		name string
		pkt  func(fam string) []byte
	}{
		{"bad-checksum", func(fam string) []byte {
			p := echoRequest(fam, 1, 1, []byte("abcdefgh"))
			p[len(p)-1] ^= 0xff
			return p
		}},
		{"truncated", func(fam string) []byte {
			host, peer := family(fam)
			proto := wire.ProtoICMP
			if fam == "v6" {
				proto = wire.ProtoICMPv6
			}
			return ipPacket(peer, host, proto, []byte{8, 0, 0xf7})
		}},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range bad {
			t.Run(fam+"/"+tc.name, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				l.inject(tc.pkt(fam))
				if out := l.take(); len(out) != 0 {
					t.Errorf("answered a bad ICMP message")
				}
				if st := s.Stats(); st.BadICMP != 1 || st.ICMPEchoReplies != 0 {
					t.Errorf("BadICMP %d ICMPEchoReplies %d", st.BadICMP, st.ICMPEchoReplies)
				}
			})
		}
	}
}

// router is where ICMP errors come from.
func router(fam string) netip.Addr {
	if fam == "v6" {
		return netip.MustParseAddr("fd00::fe")
	}
	return netip.MustParseAddr("10.0.0.254")
}

// TestICMPUnreachableInSynSent: a hard error (port unreachable) quoting our
// SYN fails Dial with ECONNREFUSED; a host unreachable is a soft error
// (RFC 9293 MUST-56: the SYN keeps being retried) unless
// AbortHandshakeOnUnreachable asks for Linux's behaviour, which fails Dial
// with EHOSTUNREACH; an error quoting another sequence number is ignored.
func TestICMPUnreachableInSynSent(t *testing.T) {
	linux := Options{AbortHandshakeOnUnreachable: true}
	cases := []struct {
		fam        string
		typ, code  uint8
		seqDelta   uint32
		opts       Options
		want       error // nil: ignored or soft, Dial times out
		wantString string
		soft       error // with want == nil: the soft error recorded
	}{
		{"v4", 3, 3, 0, Options{}, syscall.ECONNREFUSED, "dial tcp 10.0.0.1:80: connect: connection refused", nil},
		{"v4", 3, 2, 0, Options{}, syscall.ECONNREFUSED, "", nil},
		{"v4", 3, 1, 0, Options{}, nil, "", syscall.EHOSTUNREACH},
		{"v4", 3, 1, 0, linux, syscall.EHOSTUNREACH, "dial tcp 10.0.0.1:80: connect: no route to host", nil},
		{"v6", 1, 4, 0, Options{}, syscall.ECONNREFUSED, "dial tcp [fd00::1]:80: connect: connection refused", nil},
		{"v6", 1, 3, 0, Options{}, nil, "", syscall.EHOSTUNREACH},
		{"v6", 1, 3, 0, linux, syscall.EHOSTUNREACH, "", nil},
		{"v4", 3, 3, 1, Options{}, nil, "", nil},
		{"v6", 1, 4, 100000, Options{}, nil, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.fam, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, tc.opts)
				_, peer := family(tc.fam)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				errc := make(chan error, 1)
				go func() {
					_, err := s.DialContext(ctx, "tcp", netip.AddrPortFrom(peer, 80).String())
					errc <- err
				}()
				synctest.Wait()
				out := l.take()
				if len(out) != 1 {
					t.Fatalf("%d packets after Dial, want the SYN", len(out))
				}
				syn := bytes.Clone(out[0])
				o, _ := parseOut(t, syn)
				if tc.seqDelta != 0 {
					hl := 20
					if tc.fam == "v6" {
						hl = 40
					}
					binary.BigEndian.PutUint32(syn[hl+4:], o.seq+tc.seqDelta)
				}
				l.inject(icmpErrorAbout(syn, router(tc.fam), tc.typ, tc.code, 0))
				synctest.Wait()
				st := s.Stats()
				if st.ICMPErrorsIn != 1 {
					t.Errorf("ICMPErrorsIn %d", st.ICMPErrorsIn)
				}
				if tc.want == nil {
					if tc.soft != nil {
						c := s.conns[connKey{local: o.src, remote: o.dst}]
						if c == nil || c.tcb.SoftError() != tc.soft {
							t.Errorf("soft error not recorded")
						}
					} else if st.ICMPErrorsIgnored != 1 {
						t.Errorf("ICMPErrorsIgnored %d, want 1", st.ICMPErrorsIgnored)
					}
					if st, ok := sockState(s, o.src, o.dst); !ok || st != tcp.SynSent {
						t.Errorf("after an ignored or soft error: %v %v", st, ok)
					}
					var ne net.Error
					if err := <-errc; !errors.As(err, &ne) || !ne.Timeout() {
						t.Errorf("dial: %v, want a timeout", err)
					}
					return
				}
				err := <-errc
				if !errors.Is(err, tc.want) {
					t.Fatalf("dial: %v, want %v", err, tc.want)
				}
				if tc.wantString != "" && err.Error() != tc.wantString {
					t.Errorf("error text %q, want %q", err, tc.wantString)
				}
				if rows := s.Sockets(); len(rows) != 0 {
					t.Errorf("sockets left:\n%s", FormatSS(rows))
				}
			})
		})
	}
}

// established sets up a connection between a listener of the host on port
// 80 and a hand-driven peer, and returns both ends.
func established(t testing.TB, s *Stack, l *rawLink, fam string) (*peer, *TCPConn) {
	t.Helper()
	return establishedMSS(t, s, l, fam, 0)
}

func establishedMSS(t testing.TB, s *Stack, l *rawLink, fam string, mss uint16) (*peer, *TCPConn) {
	t.Helper()
	host, peerAddr := family(fam)
	ln, err := s.ListenConfig(ListenConfig{}, "tcp", netip.AddrPortFrom(host, 80).String())
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, l, netip.AddrPortFrom(peerAddr, 40000), netip.AddrPortFrom(host, 80))
	p.mss = mss
	p.connect()
	c, err := ln.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	l.take()
	return p, c
}

// inFlight writes n bytes on c and returns the data segments sent.
func inFlight(t testing.TB, c *TCPConn, l *rawLink, n int) []outSeg {
	t.Helper()
	if _, err := c.TryWrite(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	var data []outSeg
	for _, o := range l.takeTCP(t) {
		if len(o.data) > 0 {
			data = append(data, o)
		}
	}
	if len(data) == 0 {
		t.Fatal("nothing sent")
	}
	return data
}

// TestICMPSoftErrorEstablished: a host unreachable quoting data in flight
// is a soft error in ESTABLISHED: recorded, and the connection goes on.
func TestICMPSoftErrorEstablished(t *testing.T) {
	cases := []struct {
		fam       string
		typ, code uint8
	}{
		{"v4", 3, 1}, // host unreachable
		{"v4", 3, 0}, // network unreachable
		{"v4", 11, 0},
		{"v6", 1, 3}, // address unreachable
		{"v6", 3, 0}, // time exceeded
	}
	for _, tc := range cases {
		t.Run(tc.fam, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				p, c := established(t, s, l, tc.fam)
				data := inFlight(t, c, l, 3000)
				l.inject(icmpErrorAbout(data[0].raw, router(tc.fam), tc.typ, tc.code, 0))
				if st := s.Stats(); st.ICMPErrorsIn != 1 || st.ICMPErrorsIgnored != 0 {
					t.Errorf("ICMPErrorsIn %d ICMPErrorsIgnored %d", st.ICMPErrorsIn, st.ICMPErrorsIgnored)
				}
				s.mu.Lock()
				soft, state := c.c.tcb.SoftError(), c.c.tcb.State()
				s.mu.Unlock()
				if !errors.Is(soft, syscall.EHOSTUNREACH) || state != tcp.Established {
					t.Errorf("after the error: soft error %v, state %v", soft, state)
				}
				// The connection survives: data still flows both ways.
				for _, o := range data {
					p.note(o)
				}
				p.send(wire.FlagACK|wire.FlagPSH, []byte("still here"))
				buf := make([]byte, 64)
				n, err := c.TryRead(buf)
				if err != nil || string(buf[:n]) != "still here" {
					t.Errorf("read after a soft error: %q %v", buf[:n], err)
				}
				if _, err := c.TryWrite([]byte("me too")); err != nil {
					t.Errorf("write after a soft error: %v", err)
				}
			})
		})
	}
}

// TestICMPPathMTU: fragmentation needed (v4, next-hop MTU 1280) and packet
// too big (v6) lower the connection's MSS: the retransmission and all later
// data segments fit the new MTU. A tiny MTU is not believed below Linux's
// floor (min_pmtu 552 for IPv4, 1280 for IPv6).
func TestICMPPathMTU(t *testing.T) {
	cases := []struct {
		fam     string
		mtu     uint32
		wantMSS int // payload per segment, timestamps on
	}{
		{"v4", 1280, 1280 - 40 - 12},
		{"v4", 1400, 1400 - 40 - 12},
		{"v4", 200, 552 - 40 - 12},
		{"v6", 1280, 1280 - 60 - 12},
		{"v6", 1000, 1280 - 60 - 12},
	}
	for _, tc := range cases {
		t.Run(tc.fam, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				p, c := established(t, s, l, tc.fam)
				data := inFlight(t, c, l, 40000)
				before := len(data[0].data)
				if before <= tc.wantMSS {
					t.Fatalf("first segment %d bytes, already below %d", before, tc.wantMSS)
				}
				var pkt []byte
				if tc.fam == "v4" {
					pkt = icmpErrorAbout(data[0].raw, router(tc.fam), 3, 4, tc.mtu)
				} else {
					pkt = icmpErrorAbout(data[0].raw, router(tc.fam), 2, 0, tc.mtu)
				}
				l.inject(pkt)
				if got := c.Info().SndMSS; got != tc.wantMSS {
					t.Errorf("MSS after the error %d, want %d", got, tc.wantMSS)
				}
				check := func(what string, segs []outSeg) {
					t.Helper()
					for _, o := range segs {
						if len(o.data) > tc.wantMSS {
							t.Errorf("%s: segment of %d bytes after PMTU %d", what, len(o.data), tc.mtu)
						}
						if len(o.raw) > int(max(tc.mtu, 552)) && tc.fam == "v4" || len(o.raw) > int(max(tc.mtu, 1280)) && tc.fam == "v6" {
							t.Errorf("%s: packet of %d bytes after PMTU %d", what, len(o.raw), tc.mtu)
						}
					}
				}
				// The lost segment is retransmitted at the new size, at
				// once, as Linux's tcp_simple_retransmit does.
				rtx := l.takeTCP(t)
				check("right after", rtx)
				time.Sleep(1500 * time.Millisecond)
				rtx = append(rtx, l.takeTCP(t)...)
				if len(rtx) == 0 || rtx[0].seq != data[0].seq {
					t.Fatalf("no retransmission of %d: %v", data[0].seq, rtx)
				}
				check("retransmission", rtx)
				if len(rtx[0].data) != tc.wantMSS {
					t.Errorf("retransmission of %d bytes, want %d", len(rtx[0].data), tc.wantMSS)
				}
				// Acknowledge everything sent so far; the rest comes at the
				// new size.
				sentMax := data[len(data)-1].seq + uint32(len(data[len(data)-1].data))
				for _, o := range rtx {
					if e := o.seq + uint32(len(o.data)); int32(e-sentMax) > 0 {
						sentMax = e
					}
				}
				p.note(rtx[0])
				p.rcvNxt = sentMax
				p.send(wire.FlagACK, nil)
				more := l.takeTCP(t)
				check("after the ACK", more)
				full := 0
				for _, o := range more {
					if len(o.data) == tc.wantMSS {
						full++
					}
				}
				if full == 0 {
					t.Errorf("no full-size segment after the ACK: %v", more)
				}
			})
		})
	}
}

// TestICMPPathMTUNeverRaised: a Too Big message announcing an MTU above the
// current estimate (here above the link's MTU, to a peer whose MSS would
// allow it) changes nothing; once lowered, the estimate is not raised again.
func TestICMPPathMTUNeverRaised(t *testing.T) {
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			s, l := rawHost(t, Options{})
			_, c := establishedMSS(t, s, l, fam, 9000)
			hdr := 40
			if fam == "v6" {
				hdr = 60
			}
			tooBig := func(mtu uint32) {
				data := inFlight(t, c, l, 100)
				if fam == "v4" {
					l.inject(icmpErrorAbout(data[0].raw, router(fam), 3, 4, mtu))
				} else {
					l.inject(icmpErrorAbout(data[0].raw, router(fam), 2, 0, mtu))
				}
			}
			want := 1500 - hdr - 12
			if got := c.Info().SndMSS; got != want {
				t.Fatalf("initial MSS %d, want %d (the link's)", got, want)
			}
			tooBig(9000)
			if got := c.Info().SndMSS; got != want {
				t.Errorf("MSS %d after a Too Big of 9000 on a 1500 link, want %d", got, want)
			}
			tooBig(1400)
			if got := c.Info().SndMSS; got != 1400-hdr-12 {
				t.Errorf("MSS %d after a Too Big of 1400", got)
			}
			tooBig(1450)
			if got := c.Info().SndMSS; got != 1400-hdr-12 {
				t.Errorf("MSS %d after a Too Big of 1450 that followed 1400: raised", got)
			}
		})
	}
}

// TestICMPErrorIgnored: RFC 5927: an ICMP error whose quoted sequence
// number is not in SND.UNA..SND.NXT, or that names no connection, or quotes
// something other than TCP, changes nothing and is counted.
func TestICMPErrorIgnored(t *testing.T) {
	type edit func(q []byte, hl int, o outSeg)
	setSeq := func(f func(o outSeg) uint32) edit {
		return func(q []byte, hl int, o outSeg) { binary.BigEndian.PutUint32(q[hl+4:], f(o)) }
	}
	cases := []struct {
		name string
		edit edit
	}{
		{"seq=SND.NXT", setSeq(func(o outSeg) uint32 { return o.seq + uint32(len(o.data)) })},
		{"seq beyond SND.NXT", setSeq(func(o outSeg) uint32 { return o.seq + 1<<20 })},
		{"seq before SND.UNA", setSeq(func(o outSeg) uint32 { return o.seq - 1 })},
		{"unknown port", func(q []byte, hl int, o outSeg) { binary.BigEndian.PutUint16(q[hl:], 1) }},
		{"not TCP", func(q []byte, hl int, o outSeg) {
			if hl == 20 {
				q[9] = wire.ProtoUDP
				wire.IPv4(q).FillChecksum()
			} else {
				q[6] = wire.ProtoUDP
			}
		}},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, kind := range []string{"frag-needed", "unreachable"} {
			for _, tc := range cases {
				t.Run(fam+"/"+kind+"/"+tc.name, func(t *testing.T) {
					s, l := rawHost(t, Options{})
					_, c := established(t, s, l, fam)
					data := inFlight(t, c, l, 1000)
					mss := c.Info().SndMSS
					q := bytes.Clone(data[0].raw)
					hl := 20
					if fam == "v6" {
						hl = 40
					}
					tc.edit(q, hl, data[0])
					var pkt []byte
					switch {
					case kind == "frag-needed" && fam == "v4":
						pkt = icmpErrorAbout(q, router(fam), 3, 4, 1280)
					case kind == "frag-needed":
						pkt = icmpErrorAbout(q, router(fam), 2, 0, 1280)
					case fam == "v4":
						pkt = icmpErrorAbout(q, router(fam), 3, 1, 0)
					default:
						pkt = icmpErrorAbout(q, router(fam), 1, 3, 0)
					}
					l.inject(pkt)
					st := s.Stats()
					if st.ICMPErrorsIn != 1 || st.ICMPErrorsIgnored != 1 {
						t.Errorf("ICMPErrorsIn %d ICMPErrorsIgnored %d, want 1 1", st.ICMPErrorsIn, st.ICMPErrorsIgnored)
					}
					if got := c.Info().SndMSS; got != mss {
						t.Errorf("MSS changed from %d to %d", mss, got)
					}
					s.mu.Lock()
					soft := c.c.tcb.SoftError()
					s.mu.Unlock()
					if soft != nil {
						t.Errorf("soft error %v recorded", soft)
					}
				})
			}
		}
	}
}

// TestICMPBadSource: an echo request from a broadcast, multicast or
// unspecified source is not answered (the host would be a Smurf
// reflector), and is counted.
func TestICMPBadSource(t *testing.T) {
	for _, src := range []string{"10.0.0.255", "255.255.255.255", "224.0.0.1", "0.0.0.0", "ff02::1", "::"} {
		t.Run(src, func(t *testing.T) {
			s, l := rawHost(t, Options{})
			a := netip.MustParseAddr(src)
			if a.Is4() {
				l.inject(ipPacket(a, hostV4, wire.ProtoICMP, icmpV4(8, 0, 1, []byte("smurf"))))
			} else {
				l.inject(ipPacket(a, hostV6, wire.ProtoICMPv6, icmpV6(a, hostV6, 128, 0, 1, []byte("smurf"))))
			}
			if out := l.take(); len(out) != 0 {
				t.Errorf("echo request from %s answered", src)
			}
			if st := s.Stats(); st.BadSource != 1 || st.ICMPEchoReplies != 0 {
				t.Errorf("BadSource %d ICMPEchoReplies %d", st.BadSource, st.ICMPEchoReplies)
			}
		})
	}
}

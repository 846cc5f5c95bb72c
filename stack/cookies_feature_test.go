package stack

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// spoofed returns the i-th address and port of a SYN flood: on-link
// addresses that belong to nobody, so the SYN-ACKs are never answered.
func spoofed(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(100 + i%100)}), uint16(20000+i))
}

func countStates(rows []Socket) map[tcp.State]int {
	m := map[tcp.State]int{}
	for _, r := range rows {
		m[r.State]++
	}
	return m
}

// TestSynCookieFlood: a listener with a backlog of 4 under a flood of
// spoofed SYNs keeps 4 half-open connections and answers the rest with SYN
// cookies; a real client (another stack over the same link) still connects,
// with window scaling, SACK and timestamps recovered from the cookie, and
// exchanges data.
func TestSynCookieFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, tap := tappedHosts(t, Options{})
		ln, err := b.ListenConfig(ListenConfig{Backlog: 4}, "tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		const flood = 500
		dst := netip.MustParseAddrPort("10.0.0.2:80")
		for i := 0; i < flood; i++ {
			s := seg{src: spoofed(i), dst: dst, seq: uint32(i) * 7919, flags: wire.FlagSYN, opts: synOpts(uint32(i))}
			tap.inject(s.bytes())
		}
		synacks := 0
		for _, o := range tap.takeTCP(t) {
			if o.flags == wire.FlagSYN|wire.FlagACK {
				synacks++
			}
		}
		if synacks != flood {
			t.Errorf("%d SYN-ACKs for %d SYNs", synacks, flood)
		}
		st := b.Stats()
		if st.SynCookiesSent != flood-4 || st.PassiveOpen != 4 {
			t.Errorf("SynCookiesSent %d, PassiveOpen %d; want %d and 4", st.SynCookiesSent, st.PassiveOpen, flood-4)
		}
		// No state beyond the backlog: the listener and 4 SYN-RECV.
		rows := b.Sockets()
		if n := countStates(rows); len(rows) != 5 || n[tcp.SynReceived] != 4 || n[tcp.Listen] != 1 {
			t.Fatalf("sockets after the flood:\n%s", FormatSS(rows))
		}
		b.mu.Lock()
		records := len(b.conns)
		b.mu.Unlock()
		if records != 4 {
			t.Errorf("%d connection records, want 4", records)
		}

		// A legitimate client still gets in, through a cookie.
		accepted := make(chan *TCPConn, 1)
		go func() {
			c, err := ln.AcceptTCP()
			if err != nil {
				t.Error(err)
				close(accepted)
				return
			}
			accepted <- c
		}()
		c, err := a.DialTCP(t.Context(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		srv := <-accepted
		if srv == nil {
			return
		}
		if got := b.Stats().SynCookiesValid; got != 1 {
			t.Errorf("SynCookiesValid %d, want 1", got)
		}
		msg := bytes.Repeat([]byte("cookie"), 20000)
		go func() { c.Write(msg); c.CloseWrite() }()
		got, err := io.ReadAll(srv)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("server read %d bytes (err %v), want %d", len(got), err, len(msg))
		}
		go func() { srv.Write([]byte("thanks")); srv.Close() }()
		reply, err := io.ReadAll(c)
		if err != nil || string(reply) != "thanks" {
			t.Fatalf("client read %q, %v", reply, err)
		}
		ci, si := c.Info(), srv.Info()
		if !si.Timestamps || !si.SACK || !si.WindowScale {
			t.Errorf("cookie connection lost options: timestamps %v sack %v wscale %v", si.Timestamps, si.SACK, si.WindowScale)
		}
		if si.SndWscale != ci.RcvWscale || si.RcvWscale != ci.SndWscale {
			t.Errorf("window scales: server snd %d rcv %d, client snd %d rcv %d", si.SndWscale, si.RcvWscale, ci.SndWscale, ci.RcvWscale)
		}
		c.Close()
		ln.Close()
	})
}

// TestSynCookieSynAck: a cookie SYN-ACK looks like a normal one (same
// options in the same layout, same window); the ACK that echoes the cookie
// creates an established connection whose options come back from the
// TSecr (window scale, SACK-permitted), and the peer's MSS from the cookie.
func TestSynCookieSynAck(t *testing.T) {
	type optCase struct {
		name           string
		mss            bool
		ts, sack, ws   bool
		wantWS, wantTS bool
	}
	cases := []optCase{
		{name: "all", mss: true, ts: true, sack: true, ws: true, wantWS: true, wantTS: true},
		{name: "ts-only", mss: true, ts: true, wantTS: true},
		{name: "ts+ws", mss: true, ts: true, ws: true, wantWS: true, wantTS: true},
		{name: "ts+sack", mss: true, ts: true, sack: true, wantTS: true},
		// Without timestamps the cookie cannot carry window scale or SACK
		// (as in Linux): the connection goes on without them.
		{name: "no-ts", mss: true, sack: true, ws: true},
		{name: "bare", mss: false},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range cases {
			t.Run(fam+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s, l := rawHost(t, Options{})
					host, peerA := hostV4, peerV4
					if fam == "v6" {
						host, peerA = hostV6, peerV6
					}
					ln, err := s.ListenConfig(ListenConfig{Backlog: 1}, "tcp", netip.AddrPortFrom(host, 80).String())
					if err != nil {
						t.Fatal(err)
					}
					opts := wire.TCPOptions{HasMSS: tc.mss, MSS: 1460, SACKPermitted: tc.sack, HasTimestamps: tc.ts, TSVal: 777, HasWScale: tc.ws, WScale: 7}
					syn := func(port uint16) outSeg {
						sg := seg{src: netip.AddrPortFrom(peerA, port), dst: netip.AddrPortFrom(host, 80), seq: 1000, flags: wire.FlagSYN, win: 64240, opts: opts}
						l.inject(sg.bytes())
						return only(t, l.takeTCP(t), "SYN")
					}
					normal := syn(1000)
					cookie := syn(1001)
					if st := s.Stats(); st.SynCookiesSent != 1 {
						t.Fatalf("SynCookiesSent %d, want 1", st.SynCookiesSent)
					}
					if normal.flags != cookie.flags || normal.win != cookie.win || normal.ack != cookie.ack {
						t.Errorf("cookie SYN-ACK %v differs from normal %v", cookie, normal)
					}
					// Same layout byte for byte, except the TSval.
					nb, cb := bytes.Clone(normal.optBytes), bytes.Clone(cookie.optBytes)
					if i := bytes.Index(nb, []byte{8, 10}); i >= 0 && len(nb) >= i+6 && len(cb) >= i+6 {
						copy(nb[i+2:i+6], "TSva")
						copy(cb[i+2:i+6], "TSva")
					}
					if !bytes.Equal(nb, cb) {
						t.Errorf("options layout: cookie % x, normal % x", cookie.optBytes, normal.optBytes)
					}
					no, co := normal.opts, cookie.opts
					no.TSVal, co.TSVal = 0, 0
					if no != co {
						t.Errorf("options: cookie %+v, normal %+v", cookie.opts, normal.opts)
					}
					if tc.ts {
						bits := uint32(0xf)
						if tc.ws {
							bits = 7
						}
						if tc.sack {
							bits |= 0x10
						}
						if cookie.opts.TSVal&0x3f != bits || cookie.opts.TSEcr != 777 {
							t.Errorf("cookie TSval %#x (low bits %#x, want %#x), TSecr %d", cookie.opts.TSVal, cookie.opts.TSVal&0x3f, bits, cookie.opts.TSEcr)
						}
					}

					// Complete the handshake by hand, with data, advertising a
					// window of 1000 << 7 if scaling was recovered.
					p := newPeer(t, l, netip.AddrPortFrom(peerA, 1001), netip.AddrPortFrom(host, 80))
					p.sndNxt, p.ts = 1001, tc.ts
					p.tsval = 800
					p.note(cookie)
					ack := p.seg(wire.FlagACK|wire.FlagPSH, []byte("hello"))
					ack.win = 1000
					l.inject(ack.bytes())
					p.sndNxt += 5
					if st := s.Stats(); st.SynCookiesValid != 1 || st.SynCookiesInvalid != 0 {
						t.Fatalf("SynCookiesValid %d, Invalid %d", st.SynCookiesValid, st.SynCookiesInvalid)
					}
					if st, ok := sockState(s, p.remote, p.local); !ok || st != tcp.Established {
						t.Fatalf("connection after the cookie ACK: %v %v\n%s", st, ok, FormatSS(s.Sockets()))
					}
					c, err := ln.TryAccept()
					if err != nil {
						t.Fatal(err)
					}
					buf := make([]byte, 16)
					n, err := c.TryRead(buf)
					if err != nil || string(buf[:n]) != "hello" {
						t.Fatalf("read %q, %v", buf[:n], err)
					}
					info := c.Info()
					if info.Timestamps != tc.wantTS || info.WindowScale != tc.wantWS || info.SACK != (tc.sack && tc.ts) {
						t.Errorf("recovered options: ts %v ws %v sack %v; want %v %v %v", info.Timestamps, info.WindowScale, info.SACK, tc.wantTS, tc.wantWS, tc.sack && tc.ts)
					}
					wantMSS := 1460
					if fam == "v6" {
						wantMSS = 1440 // the largest entry of the IPv6 table not above 1460
					}
					if !tc.mss {
						wantMSS = 536
						if fam == "v6" {
							wantMSS = 1220
						}
					}
					if tc.wantTS {
						wantMSS -= 12
					}
					if info.SndMSS != wantMSS {
						t.Errorf("send MSS %d, want %d", info.SndMSS, wantMSS)
					}
					// The window the peer offered is scaled (or not) as agreed.
					l.take()
					if _, err := c.TryWrite(make([]byte, 64<<10)); err != nil {
						t.Fatal(err)
					}
					sent := 0
					for _, o := range l.takeTCP(t) {
						sent += len(o.data)
						if len(o.data) > wantMSS {
							t.Errorf("segment of %d bytes, MSS %d", len(o.data), wantMSS)
						}
					}
					if tc.wantWS && sent <= 1000 || !tc.wantWS && sent > 1000 {
						t.Errorf("sent %d bytes into a window field of 1000 (scaling %v)", sent, tc.wantWS)
					}
					c.SetLinger(0)
					c.Close()
					ln.Close()
				})
			})
		}
	}
}

// TestSynCookieForged: an ACK to a listener that does not carry a valid
// cookie creates nothing and is answered with <SEQ=SEG.ACK><RST>.
func TestSynCookieForged(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(s *seg, cookie outSeg)
		sleep time.Duration
	}{
		{"wrong-cookie", func(s *seg, c outSeg) { s.ack = c.seq + 1 + 1<<24 }, 0},
		{"cookie-off-by-one", func(s *seg, c outSeg) { s.ack = c.seq + 2 }, 0},
		{"wrong-seq", func(s *seg, c outSeg) { s.seq += 5000 }, 0},
		{"other-port", func(s *seg, c outSeg) { s.src = netip.AddrPortFrom(s.src.Addr(), s.src.Port()+1) }, 0},
		{"expired", func(s *seg, c outSeg) {}, 200 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, Options{Syncookies: 2})
				ln, err := s.Listen("tcp", "10.0.0.2:80")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				src, dst := netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:80")
				l.inject(seg{src: src, dst: dst, seq: 1000, flags: wire.FlagSYN, opts: synOpts(100)}.bytes())
				cookie := only(t, l.takeTCP(t), "SYN")
				time.Sleep(tc.sleep)
				ack := seg{src: src, dst: dst, seq: 1001, ack: cookie.seq + 1, flags: wire.FlagACK,
					opts: wire.TCPOptions{HasTimestamps: true, TSVal: 101, TSEcr: cookie.opts.TSVal}}
				tc.edit(&ack, cookie)
				l.inject(ack.bytes())
				rst := only(t, l.takeTCP(t), "forged ACK")
				if rst.flags != wire.FlagRST || rst.seq != ack.ack || rst.dst != ack.src {
					t.Errorf("answer to a forged ACK: %v, want RST seq %d to %v", rst, ack.ack, ack.src)
				}
				st := s.Stats()
				if st.SynCookiesInvalid != 1 || st.SynCookiesValid != 0 || st.ResetsSent != 1 {
					t.Errorf("SynCookiesInvalid %d, Valid %d, ResetsSent %d", st.SynCookiesInvalid, st.SynCookiesValid, st.ResetsSent)
				}
				if rows := s.Sockets(); len(rows) != 1 {
					t.Errorf("sockets:\n%s", FormatSS(rows))
				}
			})
		})
	}
}

// TestSynCookieModes: tcp_syncookies 0 (never: SYNs beyond the SYN queue
// are dropped), 1 (when the SYN queue is full) and 2 (always).
func TestSynCookieModes(t *testing.T) {
	cases := []struct {
		mode                     int
		synacks, cookies, drops  int
		passive, synRecv         int
		ackToListenerAnsweredRST bool
	}{
		{mode: SyncookiesNever, synacks: 2, cookies: 0, drops: 3, passive: 2, synRecv: 2},
		{mode: 1, synacks: 5, cookies: 3, drops: 0, passive: 2, synRecv: 2},
		{mode: 2, synacks: 5, cookies: 5, drops: 0, passive: 0, synRecv: 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("tcp_syncookies=%d", max(tc.mode, 0)), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, Options{Syncookies: tc.mode})
				ln, err := s.ListenConfig(ListenConfig{Backlog: 2}, "tcp", "10.0.0.2:80")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				dst := netip.MustParseAddrPort("10.0.0.2:80")
				var last outSeg
				for i := 0; i < 5; i++ {
					l.inject(seg{src: spoofed(i), dst: dst, seq: 1000, flags: wire.FlagSYN, opts: synOpts(100)}.bytes())
					for _, o := range l.takeTCP(t) {
						if o.flags == wire.FlagSYN|wire.FlagACK {
							tc.synacks--
							last = o
						}
					}
				}
				if tc.synacks != 0 {
					t.Errorf("SYN-ACK count off by %d", tc.synacks)
				}
				st := s.Stats()
				if int(st.SynCookiesSent) != tc.cookies || int(st.ListenDrops) != tc.drops || int(st.PassiveOpen) != tc.passive {
					t.Errorf("SynCookiesSent %d ListenDrops %d PassiveOpen %d; want %d %d %d",
						st.SynCookiesSent, st.ListenDrops, st.PassiveOpen, tc.cookies, tc.drops, tc.passive)
				}
				if n := countStates(s.Sockets())[tcp.SynReceived]; n != tc.synRecv {
					t.Errorf("%d SYN-RECV sockets, want %d", n, tc.synRecv)
				}
				// The last SYN-ACK answered spoofed(4) (modes 1, 2: a cookie)
				// or spoofed(1) (mode 0). Completing it works in every mode.
				i := 4
				if tc.mode == SyncookiesNever {
					i = 1
				}
				ack := seg{src: spoofed(i), dst: dst, seq: 1001, ack: last.seq + 1, flags: wire.FlagACK,
					opts: wire.TCPOptions{HasTimestamps: true, TSVal: 101, TSEcr: last.opts.TSVal}}
				l.inject(ack.bytes())
				if st, ok := sockState(s, dst, spoofed(i)); !ok || st != tcp.Established {
					t.Errorf("after the ACK: %v %v", st, ok)
				}
				if c, err := ln.TryAccept(); err != nil {
					t.Errorf("accept: %v", err)
				} else if c.RemoteAddr().String() != spoofed(i).String() {
					t.Errorf("accepted %v, want %v", c.RemoteAddr(), spoofed(i))
				}
				// Mode 0 never checks cookies: an unknown ACK is just reset.
				l.take()
				l.inject(seg{src: spoofed(50), dst: dst, seq: 1, ack: 12345, flags: wire.FlagACK}.bytes())
				if rst := only(t, l.takeTCP(t), "stray ACK"); rst.flags != wire.FlagRST || rst.seq != 12345 {
					t.Errorf("stray ACK answered with %v", rst)
				}
				if inv := s.Stats().SynCookiesInvalid; tc.mode == SyncookiesNever && inv != 0 || tc.mode != SyncookiesNever && inv != 1 {
					t.Errorf("SynCookiesInvalid %d in mode %d", inv, tc.mode)
				}
			})
		})
	}
}

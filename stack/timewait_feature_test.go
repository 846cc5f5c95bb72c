package stack

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// twSetup brings a connection between the host's listener on 10.0.0.2:80
// and a hand-driven peer at 10.0.0.1:40000 into TIME_WAIT on the host (the
// host closes first), and returns the peer and the host's last FIN.
func twSetup(t *testing.T, opts Options) (*Stack, *rawLink, *TCPListener, *peer, outSeg) {
	t.Helper()
	s, l := rawHost(t, opts)
	ln, err := s.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"))
	p.connect()
	c, err := ln.(*TCPListener).TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := only(t, l.takeTCP(t), "close")
	if fin.flags != wire.FlagFIN|wire.FlagACK {
		t.Fatalf("close sent %v, want FIN", fin)
	}
	p.note(fin)
	p.send(wire.FlagACK, nil)
	p.send(wire.FlagFIN|wire.FlagACK, nil)
	ack := only(t, l.takeTCP(t), "peer's FIN")
	if ack.flags != wire.FlagACK || ack.ack != p.sndNxt || ack.seq != fin.seq+1 {
		t.Fatalf("answer to the FIN: %v", ack)
	}
	if st, ok := sockState(s, p.remote, p.local); !ok || st != tcp.TimeWait {
		t.Fatalf("state %v %v, want TIME_WAIT", st, ok)
	}
	return s, l, ln.(*TCPListener), p, fin
}

func twRow(t *testing.T, s *Stack, p *peer) (Socket, bool) {
	t.Helper()
	for _, r := range s.Sockets() {
		if r.Local == p.remote && r.Remote == p.local {
			return r, true
		}
	}
	return Socket{}, false
}

// TestTimeWaitRetransmittedFIN: the TIME_WAIT entry answers a
// retransmitted FIN with the same final ACK and restarts the 2MSL timer.
func TestTimeWaitRetransmittedFIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, l, ln, p, fin := twSetup(t, Options{})
		defer ln.Close()
		row, ok := twRow(t, s, p)
		if !ok || row.Timer != "timewait" || row.TimerLeft != 60*time.Second {
			t.Fatalf("TIME_WAIT row %+v", row)
		}
		time.Sleep(20 * time.Second)
		if row, _ := twRow(t, s, p); row.TimerLeft != 40*time.Second {
			t.Errorf("after 20 s: %v left", row.TimerLeft)
		}
		finTS := p.tsval // the TSval of the FIN that took us to TIME_WAIT
		p.sndNxt--
		p.send(wire.FlagFIN|wire.FlagACK, nil) // the same FIN again
		ack := only(t, l.takeTCP(t), "retransmitted FIN")
		if ack.flags != wire.FlagACK || ack.seq != fin.seq+1 || ack.ack != p.sndNxt {
			t.Errorf("answer %v, want ACK seq %d ack %d", ack, fin.seq+1, p.sndNxt)
		}
		// The retransmission is below RCV.NXT, so TS.Recent stays that of
		// the first FIN (RFC 7323 4.3; Linux's tcp_timewait_state_process).
		if !ack.opts.HasTimestamps || ack.opts.TSEcr != finTS {
			t.Errorf("ACK timestamps %+v, want TSecr %d", ack.opts, finTS)
		}
		if row, _ := twRow(t, s, p); row.TimerLeft != 60*time.Second {
			t.Errorf("2MSL timer not restarted: %v left", row.TimerLeft)
		}
		// A bare ACK at RCV.NXT is not answered.
		p.send(wire.FlagACK, nil)
		if out := l.takeTCP(t); len(out) != 0 {
			t.Errorf("a duplicate ACK was answered: %v", out)
		}
		time.Sleep(60*time.Second + time.Millisecond)
		if _, ok := twRow(t, s, p); ok {
			t.Errorf("TIME_WAIT outlived its timer")
		}
	})
}

// TestTimeWaitNewSYN: a SYN with a higher sequence number (and a newer
// timestamp) reuses the 4-tuple at once (TimeWaitReused), with an ISN past
// the old connection's; an old SYN is answered with the final ACK.
func TestTimeWaitNewSYN(t *testing.T) {
	cases := []struct {
		name     string
		seqDelta int64 // relative to the peer's SND.NXT
		tsDelta  int64 // relative to the peer's last TSval
		reuse    bool
	}{
		{"higher-seq-newer-ts", 100000, 1000, true},
		{"lower-seq-newer-ts", -5000, 1000, true}, // timestamps decide (RFC 6191)
		{"higher-seq-older-ts", 100000, -1000, false},
		{"no-ts-higher-seq", 100000, 0, true},
		{"no-ts-lower-seq", -5000, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l, ln, p, fin := twSetup(t, Options{})
				defer ln.Close()
				time.Sleep(5 * time.Second)
				syn := seg{src: p.local, dst: p.remote, seq: uint32(int64(p.sndNxt) + tc.seqDelta), flags: wire.FlagSYN, opts: synOpts(0)}
				if tc.tsDelta != 0 {
					syn.opts.TSVal = uint32(int64(p.tsval) + tc.tsDelta)
				} else {
					syn.opts.HasTimestamps = false
				}
				l.inject(syn.bytes())
				out := only(t, l.takeTCP(t), "SYN")
				if !tc.reuse {
					if out.flags != wire.FlagACK || out.seq != fin.seq+1 || out.ack != p.sndNxt {
						t.Errorf("answer to an old SYN: %v, want the final ACK", out)
					}
					if st, _ := sockState(s, p.remote, p.local); st != tcp.TimeWait {
						t.Errorf("state %v after an old SYN", st)
					}
					return
				}
				if out.flags != wire.FlagSYN|wire.FlagACK || out.ack != syn.seq+1 {
					t.Fatalf("answer to a new SYN: %v, want SYN-ACK", out)
				}
				if want := fin.seq + 1 + 65535 + 2; out.seq != want {
					t.Errorf("new ISN %d, want %d (old SND.NXT + 65537)", out.seq, want)
				}
				if st := s.Stats(); st.TimeWaitReused != 1 || st.PassiveOpen != 2 {
					t.Errorf("TimeWaitReused %d PassiveOpen %d", st.TimeWaitReused, st.PassiveOpen)
				}
				// The new incarnation completes and carries data.
				np := newPeer(t, l, p.local, p.remote)
				np.sndNxt, np.tsval, np.ts = syn.seq+1, syn.opts.TSVal, syn.opts.HasTimestamps
				np.note(out)
				np.send(wire.FlagACK|wire.FlagPSH, []byte("again"))
				c, err := ln.TryAccept()
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 8)
				if n, err := c.TryRead(buf); err != nil || string(buf[:n]) != "again" {
					t.Errorf("read %q %v", buf[:n], err)
				}
				if st, _ := sockState(s, p.remote, p.local); st != tcp.Established {
					t.Errorf("new incarnation in %v", st)
				}
			})
		})
	}
}

// TestTimeWaitRST: an RST exactly at RCV.NXT ends TIME_WAIT (as Linux
// without tcp_rfc1337); anywhere else, or with tcp_rfc1337, it is ignored.
// No RST is ever answered.
func TestTimeWaitRST(t *testing.T) {
	cases := []struct {
		name    string
		delta   uint32
		rfc1337 bool
		kills   bool
	}{
		{"at-RCV.NXT", 0, false, true},
		{"RCV.NXT+1", 1, false, false},
		{"RCV.NXT-1", ^uint32(0), false, false},
		{"rfc1337", 0, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := tcp.DefaultConfig()
				cfg.RFC1337 = tc.rfc1337
				s, l, ln, p, _ := twSetup(t, Options{TCP: &cfg})
				ln.Close()
				l.inject(seg{src: p.local, dst: p.remote, seq: p.sndNxt + tc.delta, flags: wire.FlagRST}.bytes())
				if out := l.take(); len(out) != 0 {
					t.Errorf("an RST was answered")
				}
				_, alive := twRow(t, s, p)
				if alive == tc.kills {
					t.Errorf("TIME_WAIT alive %v after the RST", alive)
				}
				if tc.kills {
					// The port is free for anyone now.
					ln2, err := s.ListenConfig(ListenConfig{NoReuseAddr: true}, "tcp", "10.0.0.2:80")
					if err != nil {
						t.Errorf("listen after the RST: %v", err)
					} else {
						ln2.Close()
					}
				}
			})
		})
	}
}

// TestTimeWaitFormatSS: the sockets table of a host with a listener, a
// busy connection and a TIME_WAIT entry, laid out like ss -tan -o.
func TestTimeWaitFormatSS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, l, ln, _, _ := twSetup(t, Options{})
		defer ln.Close()
		p2 := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.2:80"))
		p2.connect()
		c, err := ln.TryAccept()
		if err != nil {
			t.Fatal(err)
		}
		c.TryWrite(make([]byte, 1000)) // in flight, unacknowledged: the retransmission timer runs
		p2.send(wire.FlagACK|wire.FlagPSH, []byte("unread"))
		time.Sleep(10 * time.Second / 1000)
		want := "" +
			"State       Recv-Q  Send-Q  Local Address:Port                       Peer Address:Port                        Timer\n" +
			"LISTEN      0       4096    10.0.0.2:80                              *:*                                      \n" +
			"TIME-WAIT   0       0       10.0.0.2:80                              10.0.0.1:40000                           timer:(timewait,59.99s)\n" +
			"ESTAB       6       1000    10.0.0.2:80                              10.0.0.1:40001                           timer:(on,190ms)\n"
		if got := FormatSS(s.Sockets()); got != want {
			t.Errorf("FormatSS:\n%s\nwant:\n%s", got, want)
		}
	})
}

// TestTimeWaitSYNWithoutListener: on the side that dialled, nothing listens
// on the local port, so a new SYN for the 4-tuple cannot reuse it: the
// entry answers with its final ACK (as Linux) and stays.
func TestTimeWaitSYNWithoutListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, l := rawHost(t, Options{})
		c, err := s.DialAsync(netip.AddrPort{}, netip.MustParseAddrPort("10.0.0.1:80"))
		if err != nil {
			t.Fatal(err)
		}
		syn := only(t, l.takeTCP(t), "dial")
		p := newPeer(t, l, syn.dst, syn.src)
		p.note(syn)
		sa := p.seg(wire.FlagSYN|wire.FlagACK, nil)
		sa.opts = synOpts(p.tsval)
		sa.opts.TSEcr = syn.opts.TSVal
		l.inject(sa.bytes())
		p.sndNxt++
		only(t, l.takeTCP(t), "SYN-ACK") // the handshake's ACK
		c.Close()
		fin := only(t, l.takeTCP(t), "close")
		p.note(fin)
		p.send(wire.FlagFIN|wire.FlagACK, nil)
		last := only(t, l.takeTCP(t), "FIN")
		if st, _ := sockState(s, syn.src, syn.dst); st != tcp.TimeWait {
			t.Fatalf("state %v", st)
		}
		l.inject(seg{src: p.local, dst: p.remote, seq: p.sndNxt + 100000, flags: wire.FlagSYN, opts: synOpts(p.tsval + 100)}.bytes())
		ack := only(t, l.takeTCP(t), "new SYN")
		if ack.flags != wire.FlagACK || ack.seq != last.seq || ack.ack != p.sndNxt {
			t.Errorf("answer to a SYN in TIME_WAIT without a listener: %v, want ACK seq %d ack %d", ack, last.seq, p.sndNxt)
		}
		if st, _ := sockState(s, syn.src, syn.dst); st != tcp.TimeWait || s.Stats().TimeWaitReused != 0 {
			t.Errorf("state %v, TimeWaitReused %d", st, s.Stats().TimeWaitReused)
		}
	})
}

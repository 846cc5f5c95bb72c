package socket_test

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/socket"
)

func TestSetsockoptGetsockopt(t *testing.T) {
	e := newEnv(t)
	const (
		S   = socket.SOL_SOCKET
		TCP = socket.SOL_TCP
		IP  = socket.SOL_IP
	)
	for _, c := range []struct {
		name       string
		level, opt int
		set        []byte // nil: no setsockopt
		setErr     syscall.Errno
		get        int // expected getsockopt value (if getErr is 0)
		getErr     syscall.Errno
		skipGet    bool
	}{
		{"SO_REUSEADDR default", S, socket.SO_REUSEADDR, nil, 0, 0, 0, false},
		{"SO_REUSEADDR", S, socket.SO_REUSEADDR, socket.Int(5), 0, 1, 0, false},
		{"SO_REUSEPORT", S, socket.SO_REUSEPORT, socket.Int(1), 0, 1, 0, false},
		{"SO_KEEPALIVE", S, socket.SO_KEEPALIVE, socket.Int(1), 0, 1, 0, false},
		{"SO_SNDBUF doubles", S, socket.SO_SNDBUF, socket.Int(21000), 0, 42000, 0, false},
		{"SO_SNDBUF minimum", S, socket.SO_SNDBUF, socket.Int(1), 0, 4608, 0, false},
		{"SO_SNDBUF wmem_max", S, socket.SO_SNDBUF, socket.Int(1 << 30), 0, 2 * 212992, 0, false},
		{"SO_SNDBUF negative is huge", S, socket.SO_SNDBUF, socket.Int(-1), 0, 2 * 212992, 0, false},
		{"SO_RCVBUF doubles", S, socket.SO_RCVBUF, socket.Int(10000), 0, 20000, 0, false},
		{"SO_RCVBUF minimum", S, socket.SO_RCVBUF, socket.Int(0), 0, 2304, 0, false},
		{"SO_RCVBUFFORCE (set only)", S, socket.SO_RCVBUFFORCE, socket.Int(1 << 20), 0, 0, syscall.ENOPROTOOPT, false},
		{"SO_RCVLOWAT", S, socket.SO_RCVLOWAT, socket.Int(100), 0, 100, 0, false},
		{"SO_RCVLOWAT 0 is 1", S, socket.SO_RCVLOWAT, socket.Int(0), 0, 1, 0, false},
		{"SO_SNDLOWAT not settable", S, socket.SO_SNDLOWAT, socket.Int(10), syscall.ENOPROTOOPT, 1, 0, false},
		{"SO_TYPE", S, socket.SO_TYPE, socket.Int(1), syscall.ENOPROTOOPT, socket.SOCK_STREAM, 0, false},
		{"SO_PROTOCOL", S, socket.SO_PROTOCOL, nil, 0, socket.IPPROTO_TCP, 0, false},
		{"SO_DOMAIN", S, socket.SO_DOMAIN, nil, 0, socket.AF_INET, 0, false},
		{"SO_ERROR", S, socket.SO_ERROR, socket.Int(1), syscall.ENOPROTOOPT, 0, 0, false},
		{"SO_ACCEPTCONN", S, socket.SO_ACCEPTCONN, nil, 0, 0, 0, false},
		{"SO_ZEROCOPY", S, socket.SO_ZEROCOPY, socket.Int(1), 0, 1, 0, false},
		{"SO_ZEROCOPY 2", S, socket.SO_ZEROCOPY, socket.Int(2), syscall.EINVAL, 0, 0, true},
		{"SO_PRIORITY", S, socket.SO_PRIORITY, socket.Int(6), 0, 6, 0, false},
		{"SO_MARK", S, socket.SO_MARK, socket.Int(77), 0, 77, 0, false},
		{"SO_LINGER short", S, socket.SO_LINGER, socket.Int(1), syscall.EINVAL, 0, 0, true},
		{"SO_RCVTIMEO short", S, socket.SO_RCVTIMEO, socket.Int(1), syscall.EINVAL, 0, 0, true},
		{"SO_RCVTIMEO usec out of range", S, socket.SO_RCVTIMEO, socket.Timeval(1, 1000000), syscall.EDOM, 0, 0, true},
		{"short optlen", S, socket.SO_REUSEADDR, []byte{1, 0}, syscall.EINVAL, 0, 0, true},
		{"unknown", S, 999, socket.Int(1), syscall.ENOPROTOOPT, 0, syscall.ENOPROTOOPT, false},

		{"TCP_NODELAY default", TCP, socket.TCP_NODELAY, nil, 0, 0, 0, false},
		{"TCP_NODELAY", TCP, socket.TCP_NODELAY, socket.Int(7), 0, 1, 0, false},
		{"TCP_CORK", TCP, socket.TCP_CORK, socket.Int(1), 0, 1, 0, false},
		{"TCP_MAXSEG default", TCP, socket.TCP_MAXSEG, nil, 0, 536, 0, false},
		{"TCP_MAXSEG", TCP, socket.TCP_MAXSEG, socket.Int(1000), 0, 1000, 0, false},
		{"TCP_MAXSEG too small", TCP, socket.TCP_MAXSEG, socket.Int(87), syscall.EINVAL, 0, 0, true},
		{"TCP_MAXSEG too big", TCP, socket.TCP_MAXSEG, socket.Int(32768), syscall.EINVAL, 0, 0, true},
		{"TCP_KEEPIDLE default", TCP, socket.TCP_KEEPIDLE, nil, 0, 7200, 0, false},
		{"TCP_KEEPIDLE", TCP, socket.TCP_KEEPIDLE, socket.Int(30), 0, 30, 0, false},
		{"TCP_KEEPIDLE 0", TCP, socket.TCP_KEEPIDLE, socket.Int(0), syscall.EINVAL, 0, 0, true},
		{"TCP_KEEPINTVL default", TCP, socket.TCP_KEEPINTVL, nil, 0, 75, 0, false},
		{"TCP_KEEPINTVL", TCP, socket.TCP_KEEPINTVL, socket.Int(5), 0, 5, 0, false},
		{"TCP_KEEPINTVL too big", TCP, socket.TCP_KEEPINTVL, socket.Int(32768), syscall.EINVAL, 0, 0, true},
		{"TCP_KEEPCNT default", TCP, socket.TCP_KEEPCNT, nil, 0, 9, 0, false},
		{"TCP_KEEPCNT", TCP, socket.TCP_KEEPCNT, socket.Int(3), 0, 3, 0, false},
		{"TCP_KEEPCNT too big", TCP, socket.TCP_KEEPCNT, socket.Int(128), syscall.EINVAL, 0, 0, true},
		{"TCP_SYNCNT default", TCP, socket.TCP_SYNCNT, nil, 0, 6, 0, false},
		{"TCP_SYNCNT", TCP, socket.TCP_SYNCNT, socket.Int(2), 0, 2, 0, false},
		{"TCP_SYNCNT 0", TCP, socket.TCP_SYNCNT, socket.Int(0), syscall.EINVAL, 0, 0, true},
		{"TCP_USER_TIMEOUT", TCP, socket.TCP_USER_TIMEOUT, socket.Int(3000), 0, 3000, 0, false},
		{"TCP_USER_TIMEOUT negative", TCP, socket.TCP_USER_TIMEOUT, socket.Int(-1), syscall.EINVAL, 0, 0, true},
		{"TCP_NOTSENT_LOWAT default", TCP, socket.TCP_NOTSENT_LOWAT, nil, 0, 0, 0, false},
		{"TCP_NOTSENT_LOWAT max", TCP, socket.TCP_NOTSENT_LOWAT, socket.Int(-1), 0, -1, 0, false},
		{"TCP_LINGER2 default", TCP, socket.TCP_LINGER2, nil, 0, 60, 0, false},
		{"TCP_LINGER2 off", TCP, socket.TCP_LINGER2, socket.Int(-5), 0, -1, 0, false},
		{"TCP_LINGER2 capped", TCP, socket.TCP_LINGER2, socket.Int(500), 0, 120, 0, false},
		{"TCP_DEFER_ACCEPT rounds to retransmissions", TCP, socket.TCP_DEFER_ACCEPT, socket.Int(5), 0, 7, 0, false},
		{"TCP_QUICKACK default", TCP, socket.TCP_QUICKACK, nil, 0, 1, 0, false},
		{"TCP_QUICKACK 0", TCP, socket.TCP_QUICKACK, socket.Int(0), 0, 0, 0, false},
		{"TCP_INQ", TCP, socket.TCP_INQ, socket.Int(1), 0, 1, 0, false},
		{"TCP_INQ 2", TCP, socket.TCP_INQ, socket.Int(2), syscall.EINVAL, 0, 0, true},
		{"TCP_FASTOPEN_CONNECT", TCP, socket.TCP_FASTOPEN_CONNECT, socket.Int(1), 0, 1, 0, false},
		{"TCP_FASTOPEN_CONNECT 2", TCP, socket.TCP_FASTOPEN_CONNECT, socket.Int(2), syscall.EINVAL, 0, 0, true},
		{"TCP_FASTOPEN", TCP, socket.TCP_FASTOPEN, socket.Int(5), 0, 5, 0, false},
		{"TCP_CONGESTION unknown", TCP, socket.TCP_CONGESTION, []byte("nope"), syscall.ENOENT, 0, 0, true},
		{"TCP_CONGESTION empty", TCP, socket.TCP_CONGESTION, []byte{}, syscall.EINVAL, 0, 0, true},
		{"TCP_MD5SIG", TCP, socket.TCP_MD5SIG, make([]byte, 80), syscall.ENOPROTOOPT, 0, 0, true},
		{"TCP short optlen", TCP, socket.TCP_NODELAY, []byte{1}, syscall.EINVAL, 0, 0, true},
		{"TCP unknown", TCP, 200, socket.Int(1), syscall.ENOPROTOOPT, 0, syscall.ENOPROTOOPT, false},

		{"IP_TOS", IP, socket.IP_TOS, socket.Int(0xb7), 0, 0xb4, 0, false},
		{"IP_TTL default", IP, socket.IP_TTL, nil, 0, 64, 0, false},
		{"IP_TTL 0", IP, socket.IP_TTL, socket.Int(0), syscall.EINVAL, 0, 0, true},
		{"IP_MTU_DISCOVER default", IP, socket.IP_MTU_DISCOVER, nil, 0, 1, 0, false},
		{"IP_MTU unconnected", IP, 14, nil, 0, 0, syscall.ENOTCONN, false},
		{"IP unknown", IP, 200, socket.Int(1), syscall.ENOPROTOOPT, 0, syscall.ENOPROTOOPT, false},
		{"IPv6 level on AF_INET", socket.SOL_IPV6, socket.IPV6_V6ONLY, socket.Int(1), syscall.ENOPROTOOPT, 0, syscall.ENOPROTOOPT, false},
		{"bad level", 77, 1, socket.Int(1), syscall.ENOPROTOOPT, 0, syscall.ENOPROTOOPT, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fd := tcpSocket(t, e.c, false)
			defer e.c.Close(fd)
			if c.set != nil {
				expect(t, "setsockopt", 0, c.setErr)(e.c.Setsockopt(fd, c.level, c.opt, c.set))
			}
			if c.skipGet {
				return
			}
			v, err := e.c.GetsockoptInt(fd, c.level, c.opt)
			if err != c.getErr || (err == 0 && v != c.get) {
				t.Fatalf("getsockopt = %d, %v; want %d, %v", v, errName(err), c.get, errName(c.getErr))
			}
		})
	}
}

func TestGetsockoptLengths(t *testing.T) {
	e := newEnv(t)
	fd := tcpSocket(t, e.c, false)
	ok(t, "SO_SNDBUF")(e.c.SetsockoptInt(fd, socket.SOL_SOCKET, socket.SO_SNDBUF, 0x12345))
	b := make([]byte, 8)
	n := 2
	ok(t, "getsockopt short")(e.c.Getsockopt(fd, socket.SOL_SOCKET, socket.SO_SNDBUF, b, &n))
	if n != 2 || binary.LittleEndian.Uint16(b) != 0x468a {
		t.Fatalf("truncated SO_SNDBUF: n=%d %x", n, b[:2])
	}
	n = 8
	ok(t, "getsockopt long")(e.c.Getsockopt(fd, socket.SOL_SOCKET, socket.SO_SNDBUF, b, &n))
	if n != 4 {
		t.Fatalf("optlen out %d; want 4", n)
	}
	n = -1
	expect(t, "negative optlen", 0, syscall.EINVAL)(e.c.Getsockopt(fd, socket.SOL_SOCKET, socket.SO_SNDBUF, b, &n))

	// TCP_CONGESTION: the name, NUL-padded, at most 16 bytes; cubic by
	// default, as in Linux.
	name := make([]byte, 32)
	n = 32
	ok(t, "TCP_CONGESTION")(e.c.Getsockopt(fd, socket.SOL_TCP, socket.TCP_CONGESTION, name, &n))
	if n != 16 || string(bytes.TrimRight(name[:n], "\x00")) != "cubic" {
		t.Fatalf("TCP_CONGESTION = %q (%d)", name[:n], n)
	}
	ok(t, "set TCP_CONGESTION")(e.c.Setsockopt(fd, socket.SOL_TCP, socket.TCP_CONGESTION, []byte("reno\x00junk")))

	// SO_RCVTIMEO round trip, in jiffies of 4 ms: 1.001 s reads back 1.004.
	ok(t, "SO_RCVTIMEO")(e.c.Setsockopt(fd, socket.SOL_SOCKET, socket.SO_RCVTIMEO, socket.Timeval(1, 1000)))
	tv := make([]byte, 16)
	n = 16
	ok(t, "get SO_RCVTIMEO")(e.c.Getsockopt(fd, socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv, &n))
	if sec, usec := binary.LittleEndian.Uint64(tv), binary.LittleEndian.Uint64(tv[8:]); sec != 1 || usec != 4000 {
		t.Fatalf("SO_RCVTIMEO = %d.%06d", sec, usec)
	}

	// TCP_INFO copies at most what was asked, and says how much.
	info := make([]byte, 512)
	n = 512
	ok(t, "TCP_INFO")(e.c.Getsockopt(fd, socket.SOL_TCP, socket.TCP_INFO, info, &n))
	if n != socket.TCPInfoSize || info[0] != socket.TCP_CLOSE {
		t.Fatalf("TCP_INFO n=%d state=%d", n, info[0])
	}
	n = 1
	ok(t, "TCP_INFO 1 byte")(e.c.Getsockopt(fd, socket.SOL_TCP, socket.TCP_INFO, info, &n))
	if n != 1 {
		t.Fatalf("TCP_INFO n=%d", n)
	}
}

func TestSocketOptionsApply(t *testing.T) {
	e := newEnv(t)
	// Options set on a listener are inherited by accepted sockets and
	// applied before the SYN-ACK.
	lfd := tcpSocket(t, e.s, false)
	ok(t, "SO_RCVBUF")(e.s.SetsockoptInt(lfd, socket.SOL_SOCKET, socket.SO_RCVBUF, 5000))
	ok(t, "TCP_NODELAY")(e.s.SetsockoptInt(lfd, socket.SOL_TCP, socket.TCP_NODELAY, 1))
	ok(t, "TCP_NOTSENT_LOWAT")(e.s.SetsockoptInt(lfd, socket.SOL_TCP, socket.TCP_NOTSENT_LOWAT, 4000))
	ok(t, "bind")(e.s.Bind(lfd, netipServer(80)))
	ok(t, "listen")(e.s.Listen(lfd, 4))
	cfd := tcpSocket(t, e.c, false)
	ok(t, "connect")(e.wait(e.c.Connect(cfd, netipServer(80)), time.Second))
	sfd := ok(t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	if v := getInt(t, e.s, sfd, socket.SOL_SOCKET, socket.SO_RCVBUF); v != 10000 {
		t.Fatalf("inherited SO_RCVBUF = %d", v)
	}
	if v := getInt(t, e.s, sfd, socket.SOL_TCP, socket.TCP_NODELAY); v != 1 {
		t.Fatalf("inherited TCP_NODELAY = %d", v)
	}
	if v := getInt(t, e.s, sfd, socket.SOL_TCP, socket.TCP_NOTSENT_LOWAT); v != 4000 {
		t.Fatalf("inherited TCP_NOTSENT_LOWAT = %d", v)
	}
	// Connected sockets report the negotiated MSS.
	if v := getInt(t, e.c, cfd, socket.SOL_TCP, socket.TCP_MAXSEG); v < 1400 || v > 1460 {
		t.Fatalf("TCP_MAXSEG connected = %d", v)
	}
	// The advertised window reflects the small receive buffer.
	info, _ := e.c.TCPInfo(cfd)
	if info.SndWnd > 10000 {
		t.Fatalf("client sees a %d-byte window from a 10000-byte receive buffer", info.SndWnd)
	}

	// TCP_MAXSEG before connect caps the MSS announced in the SYN.
	m := tcpSocket(t, e.c, false)
	ok(t, "TCP_MAXSEG")(e.c.SetsockoptInt(m, socket.SOL_TCP, socket.TCP_MAXSEG, 1000))
	ok(t, "connect")(e.wait(e.c.Connect(m, netipServer(80)), time.Second))
	s2 := ok(t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	if v := getInt(t, e.s, s2, socket.SOL_TCP, socket.TCP_MAXSEG); v > 1000 {
		t.Fatalf("server's MSS towards a TCP_MAXSEG 1000 client = %d", v)
	}
}

func TestTCPInfoStates(t *testing.T) {
	e := newEnv(t)
	fd := tcpSocket(t, e.c, true)
	if st := state(t, e.c, fd); st != socket.TCP_CLOSE {
		t.Fatalf("fresh socket state %d; want 7", st)
	}
	info, _ := e.c.TCPInfo(fd)
	if info.RTO != 1000000 || info.SndCwnd != 10 {
		t.Fatalf("fresh TCP_INFO rto %d cwnd %d", info.RTO, info.SndCwnd)
	}
	lfd := e.listener(80, 7)
	if st := state(t, e.s, lfd); st != socket.TCP_LISTEN {
		t.Fatalf("listener state %d; want 10", st)
	}
	done(t, e.c.Connect(fd, netipServer(80)))
	if st := state(t, e.c, fd); st != socket.TCP_SYN_SENT {
		t.Fatalf("connecting state %d; want 2", st)
	}
	e.run(20 * time.Millisecond)
	if st := state(t, e.c, fd); st != socket.TCP_ESTABLISHED {
		t.Fatalf("state %d; want 1", st)
	}
	info, _ = e.s.TCPInfo(lfd)
	if info.Unacked != 1 || info.Sacked != 7 {
		t.Fatalf("listener unacked %d sacked %d", info.Unacked, info.Sacked)
	}
	sfd := ok(t, "accept")(done(t, e.s.Accept(lfd)))
	info, _ = e.c.TCPInfo(fd)
	if info.Options != socket.TCPI_OPT_TIMESTAMPS|socket.TCPI_OPT_SACK|socket.TCPI_OPT_WSCALE {
		t.Fatalf("tcpi_options %#x", info.Options)
	}
	if info.RTT < 9000 || info.RTT > 11000 {
		t.Fatalf("tcpi_rtt %d us; want ~10000", info.RTT)
	}
	if info.RTO < 200000 {
		t.Fatalf("tcpi_rto %d us", info.RTO)
	}
	// The ages count from now, not from the last engine call.
	before := info.LastDataRecv
	e.run(time.Second)
	info, _ = e.c.TCPInfo(fd)
	if info.LastDataRecv-before != 1000 {
		t.Fatalf("tcpi_last_data_recv went from %d to %d ms over 1s idle", before, info.LastDataRecv)
	}
	f := info.Fields()
	if f["tcpi_state"] != 1 || f["tcpi_snd_cwnd"] != uint64(info.SndCwnd) || f["tcpi_rtt"] != uint64(info.RTT) || f["tcpi_rcv_wscale"] != uint64(info.RcvWscale) {
		t.Fatalf("Fields disagree with the struct: %v", f)
	}

	ok(t, "SHUT_WR")(e.c.Shutdown(fd, socket.SHUT_WR))
	if st := state(t, e.c, fd); st != socket.TCP_FIN_WAIT1 {
		t.Fatalf("after SHUT_WR state %d; want 4", st)
	}
	e.run(20 * time.Millisecond)
	if a, b := state(t, e.c, fd), state(t, e.s, sfd); a != socket.TCP_FIN_WAIT2 || b != socket.TCP_CLOSE_WAIT {
		t.Fatalf("states %d %d; want 5, 8", a, b)
	}
	ok(t, "SHUT_WR")(e.s.Shutdown(sfd, socket.SHUT_WR))
	if st := state(t, e.s, sfd); st != socket.TCP_LAST_ACK {
		t.Fatalf("state %d; want 9", st)
	}
	e.run(20 * time.Millisecond)
	// The client is in TIME_WAIT; its descriptor sees TCP_CLOSE.
	if a, b := state(t, e.c, fd), state(t, e.s, sfd); a != socket.TCP_CLOSE || b != socket.TCP_CLOSE {
		t.Fatalf("states %d %d; want 7, 7", a, b)
	}

	// Simultaneous close: CLOSING (11).
	c2, s2, _ := e.pair(81, true)
	ok(t, "SHUT_WR")(e.c.Shutdown(c2, socket.SHUT_WR))
	ok(t, "SHUT_WR")(e.s.Shutdown(s2, socket.SHUT_WR))
	e.run(5 * time.Millisecond)
	if a := state(t, e.c, c2); a != socket.TCP_CLOSING {
		t.Fatalf("simultaneous close state %d; want 11", a)
	}
}

func TestTCPInfoLayout(t *testing.T) {
	info := socket.TCPInfo{State: 1, Options: 7, SndWscale: 7, RcvWscale: 8, RTO: 0x01020304, SndCwnd: 10,
		BytesAcked: 0x1122334455667788, TotalRTOTime: 99, SndWnd: 5}
	b := info.Marshal()
	if len(b) != socket.TCPInfoSize || b[0] != 1 || b[5] != 7 || b[6] != 0x87 {
		t.Fatalf("header bytes % x", b[:8])
	}
	le := binary.LittleEndian
	if le.Uint32(b[8:]) != 0x01020304 || le.Uint32(b[80:]) != 10 || le.Uint64(b[120:]) != 0x1122334455667788 ||
		le.Uint32(b[244:]) != 99 || le.Uint32(b[228:]) != 5 {
		t.Fatal("field offsets differ from struct tcp_info")
	}
}

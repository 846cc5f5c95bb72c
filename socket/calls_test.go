package socket_test

import (
	"bytes"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/socket"
	"github.com/synfin/synfin/tcp"
)

func TestSocketCall(t *testing.T) {
	e := newEnv(t)
	tb := e.c
	for _, c := range []struct {
		name              string
		domain, typ, prot int
		want              syscall.Errno
	}{
		{"inet stream tcp", socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, 0},
		{"inet stream 0", socket.AF_INET, socket.SOCK_STREAM, 0, 0},
		{"inet6 stream", socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, 0},
		{"nonblock cloexec", socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0, 0},
		{"stream udp", socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_UDP, syscall.EPROTONOSUPPORT},
		{"stream mptcp", socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_MPTCP, syscall.EPROTONOSUPPORT},
		{"dgram", socket.AF_INET, socket.SOCK_DGRAM, 0, syscall.EPROTONOSUPPORT},
		{"seqpacket", socket.AF_INET, socket.SOCK_SEQPACKET, 0, syscall.ESOCKTNOSUPPORT},
		{"type 0", socket.AF_INET, 0, 0, syscall.ESOCKTNOSUPPORT},
		{"type too big", socket.AF_INET, 12, 0, syscall.EINVAL},
		{"bad flags", socket.AF_INET, socket.SOCK_STREAM | 0x100, 0, syscall.EINVAL},
		{"unix", socket.AF_UNIX, socket.SOCK_STREAM, 0, syscall.EAFNOSUPPORT},
		{"family out of range", 200, socket.SOCK_STREAM, 0, syscall.EAFNOSUPPORT},
		{"protocol out of range", socket.AF_INET, socket.SOCK_STREAM, 300, syscall.EINVAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			fd, err := tb.Socket(c.domain, c.typ, c.prot)
			if err != c.want || (c.want == 0) != (fd >= 3) {
				t.Fatalf("socket = %d, %v; want %v", fd, err, c.want)
			}
			if fd >= 0 {
				ok(t, "close")(done(t, tb.Close(fd)))
			}
		})
	}
}

func TestDescriptorNumbers(t *testing.T) {
	e := newEnv(t)
	tb := e.c
	a := tcpSocket(t, tb, false)
	b := tcpSocket(t, tb, false)
	c := tcpSocket(t, tb, false)
	if a != 3 || b != 4 || c != 5 {
		t.Fatalf("fds %d %d %d; want 3 4 5", a, b, c)
	}
	ok(t, "close")(done(t, tb.Close(4)))
	if fd := tcpSocket(t, tb, false); fd != 4 {
		t.Fatalf("after close(4) socket = %d; want 4 (lowest free)", fd)
	}
	expectCall(t, "close(99)", tb.Close(99), -1, syscall.EBADF)
	expectCall(t, "close twice", tb.Close(5), 0, 0)
	expectCall(t, "close twice", tb.Close(5), -1, syscall.EBADF)
	// The standard streams are not sockets.
	expect(t, "bind(0)", 0, syscall.ENOTSOCK)(e.c.Bind(0, netip.AddrPortFrom(clientAddr, 1)))
	expect(t, "listen(99)", 0, syscall.EBADF)(e.c.Listen(99, 1))
	expect(t, "setsockopt(1)", 0, syscall.ENOTSOCK)(e.c.SetsockoptInt(1, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))

	tb.Limit = 8
	for fd := 5; fd < 8; fd++ {
		tcpSocket(t, tb, false)
	}
	expect(t, "socket beyond RLIMIT_NOFILE", 0, syscall.EMFILE)(tb.Socket(socket.AF_INET, socket.SOCK_STREAM, 0))
}

func TestBind(t *testing.T) {
	e := newEnv(t)
	tb := e.s
	any4 := netip.AddrPortFrom(netip.IPv4Unspecified(), 8000)

	a := tcpSocket(t, tb, false)
	ok(t, "bind")(tb.Bind(a, netip.AddrPortFrom(serverAddr, 8000)))
	expect(t, "bind twice", 0, syscall.EINVAL)(tb.Bind(a, netip.AddrPortFrom(serverAddr, 8001)))
	name, _ := tb.Getsockname(a)
	if name != netip.AddrPortFrom(serverAddr, 8000) {
		t.Fatalf("getsockname = %v", name)
	}

	b := tcpSocket(t, tb, false)
	expect(t, "same port, no SO_REUSEADDR", 0, syscall.EADDRINUSE)(tb.Bind(b, netip.AddrPortFrom(serverAddr, 8000)))
	expect(t, "wildcard overlaps", 0, syscall.EADDRINUSE)(tb.Bind(b, any4))
	expect(t, "not our address", 0, syscall.EADDRNOTAVAIL)(tb.Bind(b, netip.MustParseAddrPort("192.0.2.9:8000")))
	expect(t, "IPv6 address on AF_INET", 0, syscall.EAFNOSUPPORT)(tb.Bind(b, netip.MustParseAddrPort("[fd00::2]:8000")))
	expect(t, "AF_UNSPEC", 0, syscall.EAFNOSUPPORT)(tb.Bind(b, netip.AddrPort{}))

	// Both with SO_REUSEADDR and neither listening: allowed.
	c := tcpSocket(t, tb, false)
	d := tcpSocket(t, tb, false)
	for _, fd := range []int{c, d} {
		ok(t, "SO_REUSEADDR")(tb.SetsockoptInt(fd, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
		ok(t, "bind reuse")(tb.Bind(fd, netip.AddrPortFrom(serverAddr, 9000)))
	}
	ok(t, "listen")(tb.Listen(c, 1))
	// A listener holds the port against everyone.
	f := tcpSocket(t, tb, false)
	ok(t, "SO_REUSEADDR")(tb.SetsockoptInt(f, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
	expect(t, "bind over a listener", 0, syscall.EADDRINUSE)(tb.Bind(f, netip.AddrPortFrom(serverAddr, 9000)))

	// Port 0: an ephemeral port.
	g := tcpSocket(t, tb, false)
	ok(t, "bind port 0")(tb.Bind(g, netip.AddrPortFrom(serverAddr, 0)))
	if name, _ := tb.Getsockname(g); name.Port() < 32768 || name.Port() > 60999 {
		t.Fatalf("ephemeral bind got %v", name)
	}
	// Closing frees the port.
	ok(t, "close")(done(t, tb.Close(a)))
	ok(t, "bind after close")(tb.Bind(b, netip.AddrPortFrom(serverAddr, 8000)))

	// AF_INET6.
	h, _ := tb.Socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
	expect(t, "sockaddr_in on AF_INET6", 0, syscall.EINVAL)(tb.Bind(h, netip.AddrPortFrom(serverAddr, 7000)))
	mapped := netip.AddrPortFrom(netip.AddrFrom16(serverAddr.As16()), 7000)
	ok(t, "bind v4-mapped")(tb.Bind(h, mapped))
	if name, _ := tb.Getsockname(h); name != mapped {
		t.Fatalf("getsockname = %v; want %v", name, mapped)
	}
	i, _ := tb.Socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
	ok(t, "bind v6")(tb.Bind(i, netip.AddrPortFrom(server6, 7000)))
}

func TestListen(t *testing.T) {
	e := newEnv(t)
	// Unbound: listen picks an ephemeral port.
	fd := tcpSocket(t, e.s, false)
	ok(t, "listen unbound")(e.s.Listen(fd, 5))
	name, _ := e.s.Getsockname(fd)
	if name.Port() == 0 || !name.Addr().IsUnspecified() {
		t.Fatalf("listen autobind: %v", name)
	}
	ok(t, "listen again (new backlog)")(e.s.Listen(fd, 10))
	if v := getInt(t, e.s, fd, socket.SOL_SOCKET, socket.SO_ACCEPTCONN); v != 1 {
		t.Fatalf("SO_ACCEPTCONN = %d", v)
	}

	// A connected socket cannot listen.
	cfd, sfd, _ := e.pair(80, false)
	expect(t, "listen on connected client", 0, syscall.EINVAL)(e.c.Listen(cfd, 1))
	expect(t, "listen on accepted", 0, syscall.EINVAL)(e.s.Listen(sfd, 1))

	// Nor a connecting one.
	nb := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(nb, netip.AddrPortFrom(serverAddr, 80)))
	expect(t, "listen while connecting", 0, syscall.EINVAL)(e.c.Listen(nb, 1))

	// Two listeners on one port.
	a := e.listener(81, 1)
	b := tcpSocket(t, e.s, false)
	ok(t, "SO_REUSEADDR")(e.s.SetsockoptInt(b, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
	expect(t, "bind over a listener", 0, syscall.EADDRINUSE)(e.s.Bind(b, netip.AddrPortFrom(serverAddr, 81)))
	_ = a
}

func TestListenBacklog(t *testing.T) {
	// listen(fd, 1) queues two connections (ack_backlog > max_ack_backlog
	// is "full"); the third handshake does not complete.
	e := newEnv(t)
	lfd := e.listener(80, 1)
	var fds []int
	for i := 0; i < 3; i++ {
		fd := tcpSocket(t, e.c, true)
		done(t, e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)))
		fds = append(fds, fd)
		e.run(50 * time.Millisecond)
	}
	info, _ := e.s.TCPInfo(lfd)
	if info.State != socket.TCP_LISTEN || info.Unacked != 2 || info.Sacked != 1 {
		t.Fatalf("listener TCP_INFO state %d unacked %d sacked %d; want 10, 2, 1", info.State, info.Unacked, info.Sacked)
	}
}

func TestAccept(t *testing.T) {
	e := newEnv(t)
	lfd := e.listener(80, 4)
	nb := tcpSocket(t, e.s, true)
	ok(t, "bind")(e.s.Bind(nb, netip.AddrPortFrom(serverAddr, 81)))
	ok(t, "listen")(e.s.Listen(nb, 4))

	expectCall(t, "accept nonblocking, empty", e.s.Accept(nb), -1, syscall.EAGAIN)
	expectCall(t, "accept bad flags", e.s.Accept4(lfd, 0x1), -1, syscall.EINVAL)
	expectCall(t, "accept EBADF", e.s.Accept(77), -1, syscall.EBADF)
	un := tcpSocket(t, e.s, false)
	expectCall(t, "accept on unlistening", e.s.Accept(un), -1, syscall.EINVAL)

	// Blocking accept waits for a connection.
	ac := e.s.Accept4(lfd, socket.SOCK_NONBLOCK|socket.SOCK_CLOEXEC)
	e.run(100 * time.Millisecond)
	if ac.Poll(); ac.Done() {
		t.Fatal("blocking accept returned with nothing to accept")
	}
	cfd := tcpSocket(t, e.c, false)
	cc := e.c.Connect(cfd, netip.AddrPortFrom(serverAddr, 80))
	sfd := ok(t, "accept")(e.wait(ac, time.Second))
	ok(t, "connect")(e.wait(cc, time.Second))
	local, _ := e.c.Getsockname(cfd)
	if ac.Addr != local {
		t.Fatalf("accept peer %v; want %v", ac.Addr, local)
	}
	if fl, _ := e.s.Fcntl(sfd, socket.F_GETFL, 0); fl != socket.O_RDWR|socket.O_NONBLOCK {
		t.Fatalf("accept4(SOCK_NONBLOCK) F_GETFL = %#x", fl)
	}
	if fd, _ := e.s.Fcntl(sfd, socket.F_GETFD, 0); fd != socket.FD_CLOEXEC {
		t.Fatalf("accept4(SOCK_CLOEXEC) F_GETFD = %d", fd)
	}
	if peer, _ := e.s.Getpeername(sfd); peer != local {
		t.Fatalf("getpeername %v", peer)
	}

	// SO_RCVTIMEO bounds a blocking accept.
	ok(t, "SO_RCVTIMEO")(e.s.Setsockopt(lfd, socket.SOL_SOCKET, socket.SO_RCVTIMEO, socket.Timeval(0, 300000)))
	ac = e.s.Accept(lfd)
	r, er := e.wait(ac, time.Second)
	expect(t, "accept timeout", -1, syscall.EAGAIN)(r, er)
	if d := ac.End() - ac.Start(); d < 300*time.Millisecond || d > 310*time.Millisecond {
		t.Fatalf("accept timed out after %v; want 300ms", d)
	}

	// An AF_INET6 listener reports IPv4 peers as mapped addresses.
	l6, _ := e.s.Socket(socket.AF_INET6, socket.SOCK_STREAM, 0)
	ok(t, "listen v6")(e.s.Listen(l6, 4))
	port, _ := e.s.Getsockname(l6)
	c2 := tcpSocket(t, e.c, false)
	ok(t, "connect v4 to v6 listener")(e.wait(e.c.Connect(c2, netip.AddrPortFrom(serverAddr, port.Port())), time.Second))
	ac = e.s.Accept(l6)
	ok(t, "accept v6")(e.wait(ac, time.Second))
	if !ac.Addr.Addr().Is4In6() || ac.Addr.Addr().Unmap() != clientAddr {
		t.Fatalf("v6 accept peer %v", ac.Addr)
	}
}

func TestConnect(t *testing.T) {
	e := newEnv(t)
	lfd := e.listener(80, 4)

	fd := tcpSocket(t, e.c, true)
	expectCall(t, "connect", e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EINPROGRESS)
	if st := state(t, e.c, fd); st != socket.TCP_SYN_SENT {
		t.Fatalf("state %d; want SYN_SENT", st)
	}
	expectCall(t, "connect again", e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EALREADY)
	e.run(20 * time.Millisecond)
	expectCall(t, "connect after the handshake", e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)), 0, 0)
	expectCall(t, "connect once connected", e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EISCONN)
	expectCall(t, "connect on a listener", e.s.Connect(lfd, netip.AddrPortFrom(clientAddr, 80)), -1, syscall.EISCONN)
	expectCall(t, "connect EBADF", e.c.Connect(66, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EBADF)

	// Address checks.
	a := tcpSocket(t, e.c, true)
	expectCall(t, "IPv6 address on AF_INET", e.c.Connect(a, netip.AddrPortFrom(server6, 80)), -1, syscall.EAFNOSUPPORT)
	expectCall(t, "no route", e.c.Connect(a, netip.MustParseAddrPort("198.51.100.1:80")), -1, syscall.ENETUNREACH)

	// Refused: the server answers RST.
	b := tcpSocket(t, e.c, true)
	expectCall(t, "connect", e.c.Connect(b, netip.AddrPortFrom(serverAddr, 99)), -1, syscall.EINPROGRESS)
	e.run(20 * time.Millisecond)
	if v := getInt(t, e.c, b, socket.SOL_SOCKET, socket.SO_ERROR); v != int(syscall.ECONNREFUSED) {
		t.Fatalf("SO_ERROR = %d; want ECONNREFUSED", v)
	}
	if v := getInt(t, e.c, b, socket.SOL_SOCKET, socket.SO_ERROR); v != 0 {
		t.Fatalf("SO_ERROR read twice = %d; want 0", v)
	}
	c := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(c, netip.AddrPortFrom(serverAddr, 99)))
	e.run(20 * time.Millisecond)
	expectCall(t, "connect reports the refusal", e.c.Connect(c, netip.AddrPortFrom(serverAddr, 99)), -1, syscall.ECONNREFUSED)
	// The socket is unconnected again and can connect elsewhere.
	expectCall(t, "connect again", e.c.Connect(c, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EINPROGRESS)
	e.run(20 * time.Millisecond)
	if st := state(t, e.c, c); st != socket.TCP_ESTABLISHED {
		t.Fatalf("state %d after reconnect", st)
	}

	// Blocking connect, refused.
	d := tcpSocket(t, e.c, false)
	cc := e.c.Connect(d, netip.AddrPortFrom(serverAddr, 98))
	if cc.Done() {
		t.Fatal("blocking connect returned at once")
	}
	r, er := e.wait(cc, time.Second)
	expect(t, "blocking connect refused", -1, syscall.ECONNREFUSED)(r, er)

	// Blocking connect, SO_SNDTIMEO: EINPROGRESS when the time is up.
	e.link.SetDown(sim.Both, true)
	f := tcpSocket(t, e.c, false)
	ok(t, "SO_SNDTIMEO")(e.c.Setsockopt(f, socket.SOL_SOCKET, socket.SO_SNDTIMEO, socket.Timeval(0, 500000)))
	r, er = e.wait(e.c.Connect(f, netip.AddrPortFrom(serverAddr, 80)), 2*time.Second)
	expect(t, "connect with SO_SNDTIMEO", -1, syscall.EINPROGRESS)(r, er)
}

func TestConnectTimeout(t *testing.T) {
	cfg := tcp.DefaultConfig()
	cfg.SynRetries, cfg.SynLinearTimeouts = 2, 0
	e := newEnvWith(t, &cfg)
	e.link.SetDown(sim.Both, true)
	fd := tcpSocket(t, e.c, false)
	c := e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80))
	r, er := e.wait(c, 30*time.Second)
	expect(t, "connect to a black hole", -1, syscall.ETIMEDOUT)(r, er)
	if d := c.End() - c.Start(); d < 7*time.Second || d > 8*time.Second {
		t.Fatalf("ETIMEDOUT after %v; want 7s (1+2+4)", d)
	}
}

func TestConnectBound(t *testing.T) {
	e := newEnv(t)
	e.listener(80, 4)
	fd := tcpSocket(t, e.c, true)
	ok(t, "bind")(e.c.Bind(fd, netip.AddrPortFrom(clientAddr, 5555)))
	done(t, e.c.Connect(fd, netip.AddrPortFrom(serverAddr, 80)))
	e.run(20 * time.Millisecond)
	if name, _ := e.c.Getsockname(fd); name != netip.AddrPortFrom(clientAddr, 5555) {
		t.Fatalf("getsockname %v", name)
	}
	expect(t, "bind on connected", 0, syscall.EINVAL)(e.c.Bind(fd, netip.AddrPortFrom(clientAddr, 5556)))
	// The same 4-tuple again.
	g := tcpSocket(t, e.c, true)
	ok(t, "SO_REUSEADDR")(e.c.SetsockoptInt(g, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
	ok(t, "SO_REUSEADDR")(e.c.SetsockoptInt(fd, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
}

func TestReadWriteErrors(t *testing.T) {
	e := newEnv(t)
	fd := tcpSocket(t, e.c, false)
	buf := make([]byte, 100)
	expectCall(t, "read unconnected", e.c.Read(fd, buf), -1, syscall.ENOTCONN)
	expectCall(t, "recv unconnected", e.c.Recv(fd, buf, 0), -1, syscall.ENOTCONN)
	expectCall(t, "write unconnected", e.c.Write(fd, buf), -1, syscall.EPIPE)
	expectCall(t, "send unconnected", e.c.Send(fd, buf, 0), -1, syscall.EPIPE)
	expectCall(t, "read len 0", e.c.Read(fd, nil), 0, 0)
	expectCall(t, "MSG_ERRQUEUE", e.c.Recv(fd, buf, socket.MSG_ERRQUEUE), -1, syscall.EAGAIN)
	// Linux's tcp_sendmsg_fastopen: AF_UNSPEC is not an address to open to.
	expectCall(t, "MSG_FASTOPEN to AF_UNSPEC", e.c.Sendto(fd, buf, socket.MSG_FASTOPEN, netip.AddrPort{}), -1, syscall.EOPNOTSUPP)
	// send(2) names no address.
	expectCall(t, "MSG_FASTOPEN without address", e.c.Send(fd, buf, socket.MSG_FASTOPEN), -1, syscall.EINVAL)

	lfd := e.listener(80, 4)
	expectCall(t, "read listener", e.s.Read(lfd, buf), -1, syscall.ENOTCONN)
	expectCall(t, "write listener", e.s.Write(lfd, buf), -1, syscall.EPIPE)

	ep, _ := e.c.EpollCreate1(0)
	expectCall(t, "read epoll", e.c.Read(ep, buf), -1, syscall.EINVAL)
	expectCall(t, "recv epoll", e.c.Recv(ep, buf, 0), -1, syscall.ENOTSOCK)
	expectCall(t, "read EBADF", e.c.Read(55, buf), -1, syscall.EBADF)
	expectCall(t, "readv too many", e.c.Readv(fd, make([][]byte, 1025)), -1, syscall.EINVAL)
	expectCall(t, "sendmsg too many", e.c.Sendmsg(fd, &socket.Msghdr{Iov: make([][]byte, 1025)}, 0), -1, syscall.EMSGSIZE)

	// Non-blocking connect in progress: EAGAIN both ways.
	nb := tcpSocket(t, e.c, true)
	e.link.SetDown(sim.Both, true)
	done(t, e.c.Connect(nb, netip.AddrPortFrom(serverAddr, 80)))
	expectCall(t, "read while connecting", e.c.Read(nb, buf), -1, syscall.EAGAIN)
	expectCall(t, "write while connecting", e.c.Write(nb, buf), -1, syscall.EAGAIN)
}

func TestReadWrite(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	buf := make([]byte, 1000)
	expectCall(t, "read nothing", e.s.Read(sfd, buf), -1, syscall.EAGAIN)
	expectCall(t, "write", e.c.Write(cfd, []byte("hello, world")), 12, 0)
	expectCall(t, "write 0 bytes", e.c.Write(cfd, nil), 0, 0)
	e.run(10 * time.Millisecond)
	expectCall(t, "peek", e.s.Recv(sfd, buf[:5], socket.MSG_PEEK), 5, 0)
	if string(buf[:5]) != "hello" {
		t.Fatalf("peeked %q", buf[:5])
	}
	expectCall(t, "recv 0 bytes", e.s.Recv(sfd, nil, 0), 0, 0)
	var n int
	ok(t, "ioctl")(e.s.Ioctl(sfd, socket.SIOCINQ, &n))
	if n != 12 {
		t.Fatalf("SIOCINQ = %d after peek", n)
	}
	a, b := make([]byte, 7), make([]byte, 10)
	expectCall(t, "readv", e.s.Readv(sfd, [][]byte{a, b}), 12, 0)
	if string(a)+string(b[:5]) != "hello, world" {
		t.Fatalf("readv got %q %q", a, b)
	}
	expectCall(t, "writev", e.c.Writev(cfd, [][]byte{[]byte("abc"), nil, []byte("defg")}), 7, 0)
	e.run(10 * time.Millisecond)
	expectCall(t, "recv 0 bytes with data there", e.s.Recv(sfd, nil, socket.MSG_TRUNC|socket.MSG_DONTWAIT), 0, 0)
	expectCall(t, "MSG_TRUNC discards", e.s.Recv(sfd, make([]byte, 3), socket.MSG_TRUNC), 3, 0)
	expectCall(t, "rest", e.s.Read(sfd, buf), 4, 0)
	if string(buf[:4]) != "defg" {
		t.Fatalf("after MSG_TRUNC read %q", buf[:4])
	}

	// recvmsg with TCP_INQ: the hint, and 1 at EOF.
	ok(t, "TCP_INQ")(e.s.SetsockoptInt(sfd, socket.SOL_TCP, socket.TCP_INQ, 1))
	done(t, e.c.Write(cfd, bytes.Repeat([]byte{'x'}, 3000)))
	e.run(10 * time.Millisecond)
	msg := &socket.Msghdr{Iov: [][]byte{make([]byte, 1000)}}
	expectCall(t, "recvmsg", e.s.Recvmsg(sfd, msg, 0), 1000, 0)
	if !msg.HasInq || msg.Inq != 2000 {
		t.Fatalf("TCP_CM_INQ %v %d; want 2000", msg.HasInq, msg.Inq)
	}
	ok(t, "shutdown")(e.c.Shutdown(cfd, socket.SHUT_WR))
	e.run(10 * time.Millisecond)
	msg.Iov = [][]byte{make([]byte, 5000)}
	expectCall(t, "recvmsg rest", e.s.Recvmsg(sfd, msg, 0), 2000, 0)
	if msg.Inq != 1 {
		t.Fatalf("TCP_CM_INQ at EOF = %d; want 1", msg.Inq)
	}
	expectCall(t, "read EOF", e.s.Read(sfd, buf), 0, 0)
	expectCall(t, "read EOF again", e.s.Read(sfd, buf), 0, 0)
	expectCall(t, "write after SHUT_WR", e.c.Write(cfd, buf), -1, syscall.EPIPE)
	// The server can still write to the half-closed client.
	expectCall(t, "write to half-closed", e.s.Write(sfd, []byte("bye")), 3, 0)
	e.run(10 * time.Millisecond)
	expectCall(t, "client reads", e.c.Read(cfd, buf), 3, 0)
}

func TestResetErrors(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	// SO_LINGER {1, 0}: close sends RST.
	ok(t, "SO_LINGER")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 0)))
	expectCall(t, "close", e.s.Close(sfd), 0, 0)
	e.run(10 * time.Millisecond)
	buf := make([]byte, 10)
	expectCall(t, "read after RST", e.c.Read(cfd, buf), -1, syscall.ECONNRESET)
	expectCall(t, "read again", e.c.Read(cfd, buf), 0, 0)
	expectCall(t, "write after RST", e.c.Write(cfd, buf), -1, syscall.EPIPE)
	if st := state(t, e.c, cfd); st != socket.TCP_CLOSE {
		t.Fatalf("state after RST %d", st)
	}
	// The non-blocking connect was never called again: the socket is still
	// SS_CONNECTING, so connect looks at the (closed) connection, whose
	// error read already took.
	expectCall(t, "connect after RST", e.c.Connect(cfd, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.ECONNABORTED)
	expect(t, "shutdown after RST", 0, syscall.ENOTCONN)(e.c.Shutdown(cfd, socket.SHUT_RDWR))

	// A blocking connect made it SS_CONNECTED: EISCONN, even once reset.
	cfd, sfd, _ = e.pair(83, false)
	ok(t, "SO_LINGER")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 0)))
	done(t, e.s.Close(sfd))
	e.run(10 * time.Millisecond)
	expectCall(t, "connect after RST", e.c.Connect(cfd, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EISCONN)
	expectCall(t, "read after RST", e.c.Read(cfd, buf), -1, syscall.ECONNRESET)

	// The write side sees the error first.
	cfd, sfd, _ = e.pair(81, true)
	ok(t, "SO_LINGER")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 0)))
	done(t, e.s.Close(sfd))
	e.run(10 * time.Millisecond)
	expectCall(t, "write after RST", e.c.Write(cfd, buf), -1, syscall.ECONNRESET)
	expectCall(t, "write again", e.c.Write(cfd, buf), -1, syscall.EPIPE)
	expectCall(t, "read", e.c.Read(cfd, buf), 0, 0)

	// Unread data at close: RST (the engine's Linux rule).
	cfd, sfd, _ = e.pair(82, true)
	done(t, e.c.Write(cfd, []byte("unread")))
	e.run(10 * time.Millisecond)
	done(t, e.s.Close(sfd))
	e.run(10 * time.Millisecond)
	expectCall(t, "write to a reset peer", e.c.Write(cfd, buf), -1, syscall.ECONNRESET)
}

func TestShutdown(t *testing.T) {
	e := newEnv(t)
	fd := tcpSocket(t, e.c, false)
	expect(t, "shutdown unconnected", 0, syscall.ENOTCONN)(e.c.Shutdown(fd, socket.SHUT_RDWR))
	expect(t, "shutdown bad how", 0, syscall.EINVAL)(e.c.Shutdown(fd, 3))
	expect(t, "shutdown bad how", 0, syscall.EINVAL)(e.c.Shutdown(fd, -1))
	expect(t, "shutdown EBADF", 0, syscall.EBADF)(e.c.Shutdown(42, 0))
	// The bits are set even so: poll reports HUP and RDHUP.
	p := []socket.PollFd{{Fd: fd, Events: socket.POLLIN | socket.POLLOUT | socket.POLLRDHUP}}
	done(t, e.c.Poll(p, 0))
	if want := int16(socket.POLLIN | socket.POLLOUT | socket.POLLHUP | socket.POLLRDHUP); p[0].Revents != want {
		t.Fatalf("revents %#x; want %#x", p[0].Revents, want)
	}

	// SHUT_RD: queued data can still be read, then EOF.
	cfd, sfd, lfd := e.pair(80, true)
	done(t, e.c.Write(cfd, []byte("data")))
	e.run(10 * time.Millisecond)
	ok(t, "SHUT_RD")(e.s.Shutdown(sfd, socket.SHUT_RD))
	buf := make([]byte, 10)
	expectCall(t, "read after SHUT_RD", e.s.Read(sfd, buf), 4, 0)
	expectCall(t, "EOF after SHUT_RD", e.s.Read(sfd, buf), 0, 0)

	// SHUT_WR sends a FIN: FIN_WAIT_2 here, CLOSE_WAIT there. (After data,
	// the FIN's ACK is delayed like Linux's in pingpong mode: up to 40 ms.)
	ok(t, "SHUT_WR")(e.c.Shutdown(cfd, socket.SHUT_WR))
	e.run(100 * time.Millisecond)
	if a, b := state(t, e.c, cfd), state(t, e.s, sfd); a != socket.TCP_FIN_WAIT2 || b != socket.TCP_CLOSE_WAIT {
		t.Fatalf("states %d %d; want FIN_WAIT2, CLOSE_WAIT", a, b)
	}
	// shutdown(SHUT_WR) on a listener does nothing; SHUT_RD stops it.
	ok(t, "listener SHUT_WR")(e.s.Shutdown(lfd, socket.SHUT_WR))
	if st := state(t, e.s, lfd); st != socket.TCP_LISTEN {
		t.Fatalf("listener state %d", st)
	}
	ok(t, "listener SHUT_RD")(e.s.Shutdown(lfd, socket.SHUT_RD))
	if st := state(t, e.s, lfd); st != socket.TCP_CLOSE {
		t.Fatalf("listener state after SHUT_RD %d", st)
	}
	ok(t, "listen again")(e.s.Listen(lfd, 1))

	// shutdown in SYN_SENT disconnects: the socket can connect again.
	e.link.SetDown(sim.Both, true)
	nb := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(nb, netip.AddrPortFrom(serverAddr, 80)))
	ok(t, "shutdown in SYN_SENT")(e.c.Shutdown(nb, socket.SHUT_RD))
	if st := state(t, e.c, nb); st != socket.TCP_CLOSE {
		t.Fatalf("state %d after shutdown in SYN_SENT", st)
	}
	expectCall(t, "connect again", e.c.Connect(nb, netip.AddrPortFrom(serverAddr, 80)), -1, syscall.EINPROGRESS)
}

func TestFcntl(t *testing.T) {
	e := newEnv(t)
	fd := tcpSocket(t, e.c, false)
	expect(t, "F_GETFL", socket.O_RDWR, 0)(e.c.Fcntl(fd, socket.F_GETFL, 0))
	expect(t, "F_SETFL", 0, 0)(e.c.Fcntl(fd, socket.F_SETFL, socket.O_RDWR|socket.O_NONBLOCK))
	expect(t, "F_GETFL", socket.O_RDWR|socket.O_NONBLOCK, 0)(e.c.Fcntl(fd, socket.F_GETFL, 0))
	expectCall(t, "read nonblocking", e.c.Read(fd, make([]byte, 1)), -1, syscall.ENOTCONN)
	expect(t, "F_GETFD", 0, 0)(e.c.Fcntl(fd, socket.F_GETFD, 0))
	expect(t, "F_SETFD", 0, 0)(e.c.Fcntl(fd, socket.F_SETFD, socket.FD_CLOEXEC))
	expect(t, "F_GETFD", 1, 0)(e.c.Fcntl(fd, socket.F_GETFD, 0))
	expect(t, "bad cmd", 0, syscall.EINVAL)(e.c.Fcntl(fd, 9999, 0))
	expect(t, "EBADF", 0, syscall.EBADF)(e.c.Fcntl(99, socket.F_GETFL, 0))
	one := 0
	expect(t, "FIONBIO", 0, 0)(e.c.Ioctl(fd, socket.FIONBIO, &one))
	expect(t, "F_GETFL after FIONBIO 0", socket.O_RDWR, 0)(e.c.Fcntl(fd, socket.F_GETFL, 0))
}

func TestIoctl(t *testing.T) {
	e := newEnv(t)
	lfd := e.listener(80, 4)
	var n int
	expect(t, "SIOCINQ listener", 0, syscall.EINVAL)(e.s.Ioctl(lfd, socket.SIOCINQ, &n))
	expect(t, "SIOCOUTQ listener", 0, syscall.EINVAL)(e.s.Ioctl(lfd, socket.SIOCOUTQ, &n))
	expect(t, "unknown", 0, syscall.ENOTTY)(e.s.Ioctl(lfd, 0x1234, &n))
	ep, _ := e.s.EpollCreate(1)
	expect(t, "SIOCINQ epoll", 0, syscall.ENOTTY)(e.s.Ioctl(ep, socket.SIOCINQ, &n))
	un := tcpSocket(t, e.s, false)
	n = -1
	expect(t, "SIOCINQ unconnected", 0, 0)(e.s.Ioctl(un, socket.SIOCINQ, &n))
	if n != 0 {
		t.Fatalf("SIOCINQ unconnected = %d", n)
	}

	cfd, sfd, _ := e.pair(81, true)
	done(t, e.c.Write(cfd, make([]byte, 1000)))
	e.run(10 * time.Millisecond)
	ok(t, "SIOCINQ")(e.s.Ioctl(sfd, socket.SIOCINQ, &n))
	if n != 1000 {
		t.Fatalf("SIOCINQ = %d", n)
	}
	done(t, e.s.Read(sfd, make([]byte, 1000)))
	ok(t, "SIOCINQ")(e.s.Ioctl(sfd, socket.SIOCINQ, &n))
	if n != 0 {
		t.Fatalf("SIOCINQ after read = %d", n)
	}
	// Data then FIN: the FIN is not counted.
	done(t, e.c.Write(cfd, make([]byte, 1000)))
	ok(t, "shutdown")(e.c.Shutdown(cfd, socket.SHUT_WR))
	e.run(10 * time.Millisecond)
	ok(t, "SIOCINQ")(e.s.Ioctl(sfd, socket.SIOCINQ, &n))
	if n != 1000 {
		t.Fatalf("SIOCINQ with FIN = %d; want 1000", n)
	}
	done(t, e.s.Read(sfd, make([]byte, 1000)))
	ok(t, "SIOCINQ")(e.s.Ioctl(sfd, socket.SIOCINQ, &n))
	if n != 0 {
		t.Fatalf("SIOCINQ at EOF = %d; want 0", n)
	}

	// SIOCOUTQ and SIOCOUTQNSD: unacknowledged + unsent, and unsent. A
	// zero window holds the data back.
	cfd, sfd, _ = e.pair(82, true)
	ok(t, "TCP_CORK")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 1))
	done(t, e.c.Write(cfd, make([]byte, 100)))
	var q, nsd int
	ok(t, "SIOCOUTQ")(e.c.Ioctl(cfd, socket.SIOCOUTQ, &q))
	ok(t, "SIOCOUTQNSD")(e.c.Ioctl(cfd, socket.SIOCOUTQNSD, &nsd))
	if q != 100 || nsd != 100 {
		t.Fatalf("corked: SIOCOUTQ %d SIOCOUTQNSD %d; want 100 100", q, nsd)
	}
	ok(t, "uncork")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 0))
	ok(t, "SIOCOUTQ")(e.c.Ioctl(cfd, socket.SIOCOUTQ, &q))
	ok(t, "SIOCOUTQNSD")(e.c.Ioctl(cfd, socket.SIOCOUTQNSD, &nsd))
	if q != 100 || nsd != 0 {
		t.Fatalf("in flight: SIOCOUTQ %d SIOCOUTQNSD %d; want 100 0", q, nsd)
	}
	e.run(20 * time.Millisecond)
	ok(t, "SIOCOUTQ")(e.c.Ioctl(cfd, socket.SIOCOUTQ, &q))
	if q != 0 {
		t.Fatalf("acknowledged: SIOCOUTQ %d", q)
	}
	_ = sfd
}

func TestMsgMoreAndCork(t *testing.T) {
	e := newEnv(t)
	cfd, _, _ := e.pair(80, true)
	ok(t, "TCP_NODELAY")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_NODELAY, 1))
	unsent := func() int {
		var n int
		ok(t, "SIOCOUTQNSD")(e.c.Ioctl(cfd, socket.SIOCOUTQNSD, &n))
		return n
	}
	// MSG_MORE holds a partial segment back even with TCP_NODELAY.
	expectCall(t, "send MSG_MORE", e.c.Send(cfd, make([]byte, 40), socket.MSG_MORE), 40, 0)
	if n := unsent(); n != 40 {
		t.Fatalf("unsent after MSG_MORE = %d; want 40", n)
	}
	expectCall(t, "send MSG_MORE", e.c.Send(cfd, make([]byte, 40), socket.MSG_MORE), 40, 0)
	// A plain write pushes everything.
	expectCall(t, "write", e.c.Write(cfd, make([]byte, 20)), 20, 0)
	if n := unsent(); n != 0 {
		t.Fatalf("unsent after write = %d; want 0", n)
	}
	e.run(50 * time.Millisecond)
	// TCP_NODELAY set while data is held pushes it.
	done(t, e.c.Send(cfd, make([]byte, 40), socket.MSG_MORE))
	ok(t, "TCP_NODELAY")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_NODELAY, 1))
	if n := unsent(); n != 0 {
		t.Fatalf("unsent after TCP_NODELAY = %d; want 0", n)
	}
	// TCP_CORK.
	ok(t, "TCP_NODELAY off")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_NODELAY, 0))
	e.run(50 * time.Millisecond)
	ok(t, "TCP_CORK")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 1))
	done(t, e.c.Write(cfd, make([]byte, 40)))
	done(t, e.c.Write(cfd, make([]byte, 40)))
	if n := unsent(); n != 80 {
		t.Fatalf("corked unsent = %d; want 80", n)
	}
	ok(t, "TCP_CORK off")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 0))
	if n := unsent(); n != 0 {
		t.Fatalf("uncorked unsent = %d; want 0", n)
	}
	// Zero-copy sends copy; SO_ZEROCOPY is accepted.
	ok(t, "SO_ZEROCOPY")(e.c.SetsockoptInt(cfd, socket.SOL_SOCKET, socket.SO_ZEROCOPY, 1))
	expectCall(t, "sendmsg MSG_ZEROCOPY", e.c.Sendmsg(cfd, &socket.Msghdr{Iov: [][]byte{nil, make([]byte, 10), nil, make([]byte, 50)}}, socket.MSG_ZEROCOPY), 60, 0)
}

func TestPartialWrite(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	ok(t, "SO_SNDBUF")(e.c.SetsockoptInt(cfd, socket.SOL_SOCKET, socket.SO_SNDBUF, 10000))
	if v := getInt(t, e.c, cfd, socket.SOL_SOCKET, socket.SO_SNDBUF); v != 20000 {
		t.Fatalf("SO_SNDBUF = %d; want 20000", v)
	}
	// Linux checks sk_sndbuf before it starts an skb and then fills the
	// skb to the size goal: a write may queue up to one goal past it.
	wrote := partialWrite(t, e.c.Write(cfd, make([]byte, 100000)), 20000)
	expectCall(t, "full", e.c.Write(cfd, make([]byte, 10)), -1, syscall.EAGAIN)
	expectCall(t, "MSG_DONTWAIT", e.c.Send(cfd, make([]byte, 10), socket.MSG_DONTWAIT), -1, syscall.EAGAIN)
	e.run(50 * time.Millisecond)
	got := 0
	for {
		n, err := done(t, e.s.Read(sfd, make([]byte, 100000)))
		if err != 0 {
			break
		}
		got += n
	}
	if got != wrote {
		t.Fatalf("server read %d of %d", got, wrote)
	}
}

// partialWrite checks a non-blocking write that filled a send buffer of
// sndbuf bytes: it queued at least sndbuf and at most one size goal (64 KiB)
// more. It returns the count.
func partialWrite(t *testing.T, c *socket.Call, sndbuf int) int {
	t.Helper()
	n, err := done(t, c)
	if err != 0 || n < sndbuf || n > sndbuf+65536 {
		t.Fatalf("partial write = %d, %v; want %d plus at most 65536", n, errName(err), sndbuf)
	}
	return n
}

// TestBlockingEndToEnd drives a blocking client and a blocking server
// through connect, accept, a transfer larger than the buffers, half-close
// and close, completing each blocking call by polling in virtual time.
func TestBlockingEndToEnd(t *testing.T) {
	e := newEnv(t)
	lfd := e.listener(80, 4)
	cfd := tcpSocket(t, e.c, false)

	ac := e.s.Accept(lfd)
	cc := e.c.Connect(cfd, netip.AddrPortFrom(serverAddr, 80))
	if ac.Done() || cc.Done() {
		t.Fatal("blocking accept/connect finished at once")
	}
	ok(t, "connect")(e.wait(cc, time.Second))
	if d := cc.End() - cc.Start(); d != 10*time.Millisecond {
		t.Fatalf("connect took %v; want one RTT (10ms)", d)
	}
	sfd := ok(t, "accept")(e.wait(ac, time.Second))

	// A blocking read waits for data.
	buf := make([]byte, 1<<20)
	rd := e.s.Recv(sfd, buf, socket.MSG_WAITALL)
	e.run(30 * time.Millisecond)
	if rd.Poll(); rd.Done() {
		t.Fatal("blocking read returned with nothing to read")
	}

	// A blocking write bigger than the send buffer waits for ACKs.
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	wr := e.c.Write(cfd, msg)
	if wr.Done() {
		t.Fatal("1 MiB blocking write finished at once")
	}
	for !wr.Done() || !rd.Done() {
		e.run(time.Millisecond)
		wr.Poll()
		rd.Poll()
		if e.n.Now() > 60*time.Second {
			t.Fatal("transfer stalled")
		}
	}
	ok(t, "write")(wr.Result())
	if n, _ := wr.Result(); n != len(msg) {
		t.Fatalf("write returned %d", n)
	}
	if n, _ := rd.Result(); n != len(msg) || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("MSG_WAITALL read %d bytes", n)
	}

	// Close: the server's blocking read returns 0.
	rd = e.s.Read(sfd, buf)
	ok(t, "close")(e.wait(e.c.Close(cfd), time.Second))
	r, er := e.wait(rd, time.Second)
	expect(t, "read at EOF", 0, 0)(r, er)
	ok(t, "close")(e.wait(e.s.Close(sfd), time.Second))
	e.run(100 * time.Millisecond)
	for _, row := range e.ch.Stack().Sockets() {
		if row.State != tcp.TimeWait {
			t.Fatalf("client left %v", row.State)
		}
	}
}

func TestLingerClose(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, false)
	ok(t, "SO_LINGER")(e.c.Setsockopt(cfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 5)))
	b := make([]byte, 8)
	n := 8
	ok(t, "getsockopt SO_LINGER")(e.c.Getsockopt(cfd, socket.SOL_SOCKET, socket.SO_LINGER, b, &n))
	if n != 8 || socket.ParseInt(b[:4]) != 1 || socket.ParseInt(b[4:]) != 5 {
		t.Fatalf("SO_LINGER = %v (%d)", b, n)
	}
	done(t, e.c.Write(cfd, make([]byte, 1000)))
	cl := e.c.Close(cfd)
	if cl.Done() {
		t.Fatal("lingering close returned at once")
	}
	if dl, ok := cl.Deadline(); !ok || dl != cl.Start()+5*time.Second {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	ok(t, "close")(e.wait(cl, time.Second))
	if d := cl.End() - cl.Start(); d != 10*time.Millisecond {
		t.Fatalf("close lingered %v; want until the FIN's ACK (10ms)", d)
	}
	// The peer, closed, times out the linger when nobody answers.
	e.link.SetDown(sim.Both, true)
	ok(t, "SO_LINGER")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 1)))
	done(t, e.s.Read(sfd, make([]byte, 2000)))
	done(t, e.s.Read(sfd, make([]byte, 2000)))
	cl = e.s.Close(sfd)
	r, er := e.wait(cl, 3*time.Second)
	expect(t, "close", 0, 0)(r, er)
	if d := cl.End() - cl.Start(); d != time.Second {
		t.Fatalf("close lingered %v; want 1s", d)
	}
}

func TestReadTimeoutAndLowat(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, false)
	ok(t, "SO_RCVTIMEO")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_RCVTIMEO, socket.Timeval(0, 100000)))
	rd := e.s.Read(sfd, make([]byte, 10))
	r, er := e.wait(rd, time.Second)
	expect(t, "read timeout", -1, syscall.EAGAIN)(r, er)
	if d := rd.End() - rd.Start(); d != 100*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	// SO_RCVLOWAT: a blocking read waits for that much.
	ok(t, "SO_RCVTIMEO off")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_RCVTIMEO, socket.Timeval(0, 0)))
	ok(t, "SO_RCVLOWAT")(e.s.SetsockoptInt(sfd, socket.SOL_SOCKET, socket.SO_RCVLOWAT, 100))
	rd = e.s.Read(sfd, make([]byte, 1000))
	done(t, e.c.Write(cfd, make([]byte, 60)))
	e.run(50 * time.Millisecond)
	if rd.Poll(); rd.Done() {
		t.Fatal("read returned below SO_RCVLOWAT")
	}
	done(t, e.c.Write(cfd, make([]byte, 60)))
	r, er = e.wait(rd, time.Second)
	expect(t, "read at SO_RCVLOWAT", 120, 0)(r, er)
	// Non-blocking, it returns what is there.
	done(t, e.c.Write(cfd, make([]byte, 30)))
	e.run(20 * time.Millisecond)
	expectCall(t, "MSG_DONTWAIT below lowat", e.s.Recv(sfd, make([]byte, 1000), socket.MSG_DONTWAIT), 30, 0)
}

var _ = tcp.Closed

func TestBlockingWriteWaitsForConnect(t *testing.T) {
	e := newEnv(t)
	e.listener(80, 4)
	fd := tcpSocket(t, e.c, true)
	expectCall(t, "connect", e.c.Connect(fd, netipServer(80)), -1, syscall.EINPROGRESS)
	ok(t, "F_SETFL blocking")(e.c.Fcntl(fd, socket.F_SETFL, socket.O_RDWR))
	w := e.c.Write(fd, make([]byte, 1000))
	if w.Done() {
		t.Fatal("write in SYN_SENT on a blocking socket returned at once")
	}
	r, er := e.wait(w, time.Second)
	expect(t, "write", 1000, 0)(r, er)
	if w.End()-w.Start() != 10*time.Millisecond {
		t.Fatalf("write returned after %v; want the handshake's 10ms", w.End()-w.Start())
	}
}

func TestShutdownSettlesConnect(t *testing.T) {
	e := newEnv(t)
	e.listener(80, 4)
	// A non-blocking connect that completed: shutdown makes the socket
	// SS_CONNECTED, so connect then says EISCONN.
	fd := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(fd, netipServer(80)))
	e.run(20 * time.Millisecond)
	ok(t, "shutdown")(e.c.Shutdown(fd, socket.SHUT_WR))
	expectCall(t, "connect", e.c.Connect(fd, netipServer(80)), -1, syscall.EISCONN)
	// One that failed: SS_DISCONNECTING, where connect and listen are EINVAL.
	f := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(f, netipServer(99)))
	e.run(20 * time.Millisecond)
	expect(t, "shutdown", 0, syscall.ENOTCONN)(e.c.Shutdown(f, socket.SHUT_RDWR))
	expectCall(t, "connect", e.c.Connect(f, netipServer(80)), -1, syscall.EINVAL)
	expect(t, "listen", 0, syscall.EINVAL)(e.c.Listen(f, 1))
	if v := getInt(t, e.c, f, socket.SOL_SOCKET, socket.SO_ERROR); v != int(syscall.ECONNREFUSED) {
		t.Fatalf("SO_ERROR %d", v)
	}
}

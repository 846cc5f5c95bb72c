package socket_test

import (
	"bytes"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/socket"
	"github.com/synfin/synfin/tcp"
)

// TCP Fast Open (RFC 7413) through Linux's socket API: MSG_FASTOPEN,
// TCP_FASTOPEN_CONNECT, TCP_FASTOPEN and its companions, between two
// simulated hosts with tcp_fastopen 0x3 (client and server).

func newFastOpenEnv(t *testing.T) *env {
	cfg := tcp.DefaultConfig()
	cfg.FastOpen = tcp.FastOpenClient | tcp.FastOpenServer
	return newEnvWith(t, &cfg)
}

// foListener listens on port with a Fast Open queue.
func (e *env) foListener(port uint16) int {
	e.t.Helper()
	fd := tcpSocket(e.t, e.s, false)
	ok(e.t, "TCP_FASTOPEN")(e.s.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN, 16))
	ok(e.t, "bind")(e.s.Bind(fd, netip.AddrPortFrom(serverAddr, port)))
	ok(e.t, "listen")(e.s.Listen(fd, 8))
	return fd
}

// foWarmUp gets the client a cookie for the server: a non-blocking
// sendto(MSG_FASTOPEN) without a cookie sends a cookie request and
// returns EINPROGRESS (RFC 7413 4.1.1).
func (e *env) foWarmUp(lfd int) {
	e.t.Helper()
	fd := tcpSocket(e.t, e.c, true)
	expectCall(e.t, "sendto(MSG_FASTOPEN) without a cookie", e.c.Sendto(fd, []byte("data"), socket.MSG_FASTOPEN, netipServer(80)), -1, syscall.EINPROGRESS)
	e.run(50 * time.Millisecond)
	sfd := ok(e.t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	info, _ := e.c.TCPInfo(fd)
	if info.State != socket.TCP_ESTABLISHED || info.Options&socket.TCPI_OPT_SYN_DATA != 0 {
		e.t.Fatalf("warm-up connection: state %d options %#x", info.State, info.Options)
	}
	done(e.t, e.c.Close(fd))
	done(e.t, e.s.Close(sfd))
	e.run(50 * time.Millisecond)
}

// MSG_FASTOPEN with a cookie: sendto on an unconnected socket connects, and
// a non-blocking one returns what the SYN carried at once; the server's
// accept returns the connection with the data already readable.
func TestFastOpenSendto(t *testing.T) {
	e := newFastOpenEnv(t)
	lfd := e.foListener(80)
	e.foWarmUp(lfd)

	fd := tcpSocket(t, e.c, true)
	big := bytes.Repeat([]byte("x"), 3000)
	expectCall(t, "sendto(MSG_FASTOPEN) with a cookie", e.c.Sendto(fd, big, socket.MSG_FASTOPEN, netipServer(80)), 1420, 0)
	expectCall(t, "sendto(MSG_FASTOPEN) while connecting", e.c.Sendto(fd, big, socket.MSG_FASTOPEN, netipServer(80)), -1, syscall.EALREADY)
	expectCall(t, "write while connecting", e.c.Write(fd, big), -1, syscall.EAGAIN)
	e.run(6 * time.Millisecond) // the SYN arrived, the SYN-ACK not yet back
	sfd := ok(t, "accept")(done(t, e.s.Accept4(lfd, socket.SOCK_NONBLOCK)))
	if st := state(t, e.s, sfd); st != socket.TCP_SYN_RECV {
		t.Fatalf("accepted socket in state %d, want SYN_RECV", st)
	}
	buf := make([]byte, 4000)
	expectCall(t, "read the SYN's data before the handshake", e.s.Read(sfd, buf), 1420, 0)
	e.run(20 * time.Millisecond)
	info, _ := e.c.TCPInfo(fd)
	if info.State != socket.TCP_ESTABLISHED || info.Options&socket.TCPI_OPT_SYN_DATA == 0 {
		t.Fatalf("client: state %d options %#x, want ESTABLISHED with TCPI_OPT_SYN_DATA", info.State, info.Options)
	}
	// After the handshake MSG_FASTOPEN is ignored (the socket is still
	// SS_CONNECTING, as after a non-blocking connect).
	expectCall(t, "sendto(MSG_FASTOPEN) established", e.c.Sendto(fd, big[:100], socket.MSG_FASTOPEN, netipServer(80)), 100, 0)
}

// A blocking sendto(MSG_FASTOPEN) waits for the handshake and sends the
// rest of its data after it.
func TestFastOpenBlockingSendto(t *testing.T) {
	e := newFastOpenEnv(t)
	lfd := e.foListener(80)
	e.foWarmUp(lfd)

	fd := tcpSocket(t, e.c, false)
	data := bytes.Repeat([]byte("y"), 5000)
	c := e.c.Sendto(fd, data, socket.MSG_FASTOPEN, netipServer(80))
	if c.Done() {
		t.Fatalf("blocking sendto returned at once: %v", c)
	}
	if n, err := e.wait(c, time.Second); n != 5000 || err != 0 {
		t.Fatalf("sendto = %d, %v", n, err)
	}
	sfd := ok(t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	e.run(50 * time.Millisecond)
	buf := make([]byte, 8000)
	expectCall(t, "read", e.s.Read(sfd, buf), 5000, 0)
}

// TCP_FASTOPEN_CONNECT: with a cookie, connect returns 0 at once and the
// socket is writable; the SYN leaves with the first write. Without one,
// connect sends a cookie request (EINPROGRESS for a non-blocking socket).
func TestFastOpenConnect(t *testing.T) {
	e := newFastOpenEnv(t)
	lfd := e.foListener(80)

	fd := tcpSocket(t, e.c, true)
	ok(t, "TCP_FASTOPEN_CONNECT")(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 1))
	expectCall(t, "connect without a cookie", e.c.Connect(fd, netipServer(80)), -1, syscall.EINPROGRESS)
	e.run(50 * time.Millisecond)
	sfd := ok(t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	done(t, e.c.Close(fd))
	done(t, e.s.Close(sfd))
	e.run(50 * time.Millisecond)

	fd = tcpSocket(t, e.c, true)
	ok(t, "TCP_FASTOPEN_CONNECT")(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 1))
	expectCall(t, "connect with a cookie", e.c.Connect(fd, netipServer(80)), 0, 0)
	if st := state(t, e.c, fd); st != socket.TCP_SYN_SENT {
		t.Fatalf("state %d after a deferred connect, want SYN_SENT", st)
	}
	p := []socket.PollFd{{Fd: fd, Events: socket.POLLIN | socket.POLLOUT}}
	expectCall(t, "poll", e.c.Poll(p, 0), 1, 0)
	if p[0].Revents != socket.POLLOUT {
		t.Fatalf("revents %#x, want POLLOUT: the SYN waits for a write", p[0].Revents)
	}
	expectCall(t, "connect again", e.c.Connect(fd, netipServer(80)), -1, syscall.EISCONN)
	before := e.ch.Stack().Stats().PacketsOut
	e.run(time.Second)
	if got := e.ch.Stack().Stats().PacketsOut; got != before {
		t.Fatalf("%d packets sent while the SYN waits for a write", got-before)
	}
	expectCall(t, "write sends the SYN", e.c.Write(fd, []byte("hello")), 5, 0)
	e.run(20 * time.Millisecond)
	sfd = ok(t, "accept")(e.wait(e.s.Accept(lfd), time.Second))
	buf := make([]byte, 100)
	expectCall(t, "server read", e.s.Read(sfd, buf), 5, 0)
	info, _ := e.s.TCPInfo(sfd)
	if info.Options&socket.TCPI_OPT_SYN_DATA == 0 {
		t.Fatalf("server: TCPI_OPT_SYN_DATA not set (options %#x)", info.Options)
	}
}

// The Fast Open socket options' values and errors, as Linux's
// do_tcp_setsockopt gives them.
func TestFastOpenSockopts(t *testing.T) {
	cfg := tcp.DefaultConfig()
	cfg.FastOpen = 0
	e := newEnvWith(t, &cfg)
	fd := tcpSocket(t, e.c, false)
	expect(t, "TCP_FASTOPEN_CONNECT with tcp_fastopen 0", 0, syscall.EOPNOTSUPP)(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 1))
	expectCall(t, "MSG_FASTOPEN with tcp_fastopen 0", e.c.Sendto(fd, []byte("x"), socket.MSG_FASTOPEN, netipServer(80)), -1, syscall.EOPNOTSUPP)

	e = newFastOpenEnv(t)
	fd = tcpSocket(t, e.c, false)
	expect(t, "TCP_FASTOPEN_CONNECT 2", 0, syscall.EINVAL)(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 2))
	ok(t, "TCP_FASTOPEN_CONNECT 1")(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 1))
	if v := getInt(t, e.c, fd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT); v != 1 {
		t.Errorf("TCP_FASTOPEN_CONNECT reads %d", v)
	}
	expect(t, "TCP_FASTOPEN -1", 0, syscall.EINVAL)(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN, -1))
	ok(t, "TCP_FASTOPEN 5")(e.c.SetsockoptInt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN, 5))
	if v := getInt(t, e.c, fd, socket.SOL_TCP, socket.TCP_FASTOPEN); v != 5 {
		t.Errorf("TCP_FASTOPEN reads %d", v)
	}
	expect(t, "TCP_FASTOPEN_KEY of 3 bytes", 0, syscall.EINVAL)(e.c.Setsockopt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_KEY, []byte{1, 2, 3}))
	key := []byte("0123456789abcdef")
	ok(t, "TCP_FASTOPEN_KEY")(e.c.Setsockopt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_KEY, key))
	b, n := make([]byte, 64), 64
	ok(t, "getsockopt TCP_FASTOPEN_KEY")(e.c.Getsockopt(fd, socket.SOL_TCP, socket.TCP_FASTOPEN_KEY, b, &n))
	if !bytes.Equal(b[:n], key) {
		t.Errorf("TCP_FASTOPEN_KEY reads %x", b[:n])
	}
	expectCall(t, "MSG_FASTOPEN to AF_UNSPEC", e.c.Sendto(fd, []byte("x"), socket.MSG_FASTOPEN, netip.AddrPort{}), -1, syscall.EOPNOTSUPP)

	// On a connected socket, TCP_FASTOPEN and TCP_FASTOPEN_CONNECT are
	// refused; MSG_FASTOPEN on a socket connect(2) completed is EISCONN.
	cfd, _, _ := e.pair(90, false)
	expect(t, "TCP_FASTOPEN connected", 0, syscall.EINVAL)(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_FASTOPEN, 1))
	expect(t, "TCP_FASTOPEN_CONNECT connected", 0, syscall.EINVAL)(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_FASTOPEN_CONNECT, 1))
	expectCall(t, "MSG_FASTOPEN connected", e.c.Sendto(cfd, []byte("x"), socket.MSG_FASTOPEN, netipServer(90)), -1, syscall.EISCONN)
}

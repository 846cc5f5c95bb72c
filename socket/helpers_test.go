package socket_test

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/socket"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// env is two hosts in the simulator, each with its own process table:
// client (10.0.0.1, fd00::1) and server (10.0.0.2, fd00::2), 5 ms apart.
type env struct {
	t      *testing.T
	n      *sim.Network
	link   *sim.Link
	ch, sh *sim.Host
	c, s   *socket.Table
}

var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
	server6    = netip.MustParseAddr("fd00::2")
)

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

func newEnvWith(t *testing.T, cfg *tcp.Config) *env {
	t.Helper()
	n := sim.New(1)
	opts := stack.Options{TCP: cfg}
	ch, err := n.AddHostWith("client", opts, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64"))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := n.AddHostWith("server", opts, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.Connect(ch, sh, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &env{t: t, n: n, link: l, ch: ch, sh: sh, c: socket.New(ch.Stack()), s: socket.New(sh.Stack())}
}

// run advances virtual time.
func (e *env) run(d time.Duration) {
	e.t.Helper()
	if err := e.n.RunFor(d); err != nil {
		e.t.Fatal(err)
	}
}

// wait advances virtual time in small steps until c finishes (at most
// limit), and returns its result.
func (e *env) wait(c *socket.Call, limit time.Duration) (int, syscall.Errno) {
	e.t.Helper()
	step := time.Millisecond
	if limit > 10*time.Second {
		step = 10 * time.Millisecond
	}
	for waited := time.Duration(0); !c.Done() && waited < limit; waited += step {
		e.run(step)
		c.Poll()
	}
	if !c.Done() {
		e.t.Fatalf("%s still pending after %v", c.Name(), limit)
	}
	return c.Result()
}

// ok returns a checker that fails the test unless the call succeeded; it
// returns ret: ok(t, "socket")(tb.Socket(...)).
func ok(t *testing.T, what string) func(int, syscall.Errno) int {
	return func(ret int, e syscall.Errno) int {
		t.Helper()
		if e != 0 || ret < 0 {
			t.Fatalf("%s = %d, %v; want success", what, ret, errName(e))
		}
		return ret
	}
}

// expect returns a checker of a (ret, errno) pair: expect(t, "bind", 0,
// syscall.EINVAL)(tb.Bind(...)). For failures ret must be -1.
func expect(t *testing.T, what string, wantRet int, wantErr syscall.Errno) func(int, syscall.Errno) {
	return func(ret int, e syscall.Errno) {
		t.Helper()
		if e != wantErr || (wantErr == 0 && ret != wantRet) || (wantErr != 0 && ret != -1) {
			t.Fatalf("%s = %d, %v (%d); want %d, %v", what, ret, errName(e), int(e), wantRet, errName(wantErr))
		}
	}
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "0"
	}
	if e == socket.Pending {
		return "Pending"
	}
	return e.Error()
}

// expectCall checks a call that must have finished at once.
func expectCall(t *testing.T, what string, c *socket.Call, wantRet int, wantErr syscall.Errno) {
	t.Helper()
	expect(t, what, wantRet, wantErr)(done(t, c))
}

// done returns the result of a call that must have finished at once.
func done(t *testing.T, c *socket.Call) (int, syscall.Errno) {
	t.Helper()
	if !c.Done() {
		t.Fatalf("%s pending; want an immediate result", c.Name())
	}
	return c.Result()
}

// tcpSocket makes a TCP socket, optionally non-blocking.
func tcpSocket(t *testing.T, tb *socket.Table, nonblock bool) int {
	t.Helper()
	typ := socket.SOCK_STREAM
	if nonblock {
		typ |= socket.SOCK_NONBLOCK
	}
	return ok(t, "socket")(tb.Socket(socket.AF_INET, typ, socket.IPPROTO_TCP))
}

// listener makes a listening socket on the server at port.
func (e *env) listener(port uint16, backlog int) int {
	e.t.Helper()
	fd := tcpSocket(e.t, e.s, false)
	ok(e.t, "setsockopt")(e.s.SetsockoptInt(fd, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
	ok(e.t, "bind")(e.s.Bind(fd, netip.AddrPortFrom(serverAddr, port)))
	ok(e.t, "listen")(e.s.Listen(fd, backlog))
	return fd
}

// pair connects a client socket to a server listener and accepts it:
// client fd, server fd, listener fd. Both connected sockets are
// non-blocking when nonblock is set.
func (e *env) pair(port uint16, nonblock bool) (cfd, sfd, lfd int) {
	e.t.Helper()
	lfd = e.listener(port, 8)
	cfd = tcpSocket(e.t, e.c, nonblock)
	cc := e.c.Connect(cfd, netip.AddrPortFrom(serverAddr, port))
	if nonblock {
		expectCall(e.t, "connect", cc, -1, syscall.EINPROGRESS)
		e.run(20 * time.Millisecond)
	} else {
		ok(e.t, "connect")(e.wait(cc, time.Second))
	}
	ac := e.s.Accept4(lfd, flagIf(nonblock, socket.SOCK_NONBLOCK))
	sfd = ok(e.t, "accept")(e.wait(ac, time.Second))
	return cfd, sfd, lfd
}

func flagIf(b bool, f int) int {
	if b {
		return f
	}
	return 0
}

// state is the TCP_INFO state of fd.
func state(t *testing.T, tb *socket.Table, fd int) int {
	t.Helper()
	info, e := tb.TCPInfo(fd)
	if e != 0 {
		t.Fatalf("TCP_INFO: %v", e)
	}
	return int(info.State)
}

func getInt(t *testing.T, tb *socket.Table, fd, level, name int) int {
	t.Helper()
	v, e := tb.GetsockoptInt(fd, level, name)
	if e != 0 {
		t.Fatalf("getsockopt(%d, %d): %v", level, name, e)
	}
	return v
}

func netipServer(port uint16) netip.AddrPort { return netip.AddrPortFrom(serverAddr, port) }

package socket_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/socket"
)

const allPoll = socket.POLLIN | socket.POLLPRI | socket.POLLOUT | socket.POLLRDHUP

// revents polls one descriptor without waiting.
func revents(t *testing.T, tb *socket.Table, fd int, events int16) int16 {
	t.Helper()
	p := []socket.PollFd{{Fd: fd, Events: events}}
	done(t, tb.Poll(p, 0))
	return p[0].Revents
}

func wantRevents(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: revents %s; want %s", what, pollNames(got), pollNames(want))
	}
}

func pollNames(m int16) string {
	names := []struct {
		bit  int16
		name string
	}{{socket.POLLIN, "IN"}, {socket.POLLPRI, "PRI"}, {socket.POLLOUT, "OUT"}, {socket.POLLERR, "ERR"},
		{socket.POLLHUP, "HUP"}, {socket.POLLNVAL, "NVAL"}, {socket.POLLRDHUP, "RDHUP"}}
	s := ""
	for _, n := range names {
		if m&n.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	if s == "" {
		return "0"
	}
	return s
}

func TestPollMasks(t *testing.T) {
	e := newEnv(t)
	fresh := tcpSocket(t, e.c, true)
	wantRevents(t, "fresh socket", revents(t, e.c, fresh, allPoll), socket.POLLOUT|socket.POLLHUP)
	wantRevents(t, "fresh socket, only POLLIN asked", revents(t, e.c, fresh, socket.POLLIN), socket.POLLHUP)

	lfd := e.listener(90, 4)
	wantRevents(t, "empty listener", revents(t, e.s, lfd, allPoll), 0)

	e.link.SetDown(sim.Both, true)
	conn := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(conn, netipServer(90)))
	wantRevents(t, "connecting", revents(t, e.c, conn, allPoll), 0)
	e.link.SetDown(sim.Both, false)
	done(t, e.c.Close(conn))

	cfd, sfd, _ := e.pair(80, true)
	wantRevents(t, "established", revents(t, e.c, cfd, allPoll), socket.POLLOUT)
	done(t, e.s.Write(sfd, []byte("x")))
	e.run(10 * time.Millisecond)
	wantRevents(t, "data", revents(t, e.c, cfd, allPoll), socket.POLLIN|socket.POLLOUT)
	wantRevents(t, "POLLRDNORM", revents(t, e.c, cfd, socket.POLLRDNORM), socket.POLLRDNORM)
	ok(t, "SHUT_WR")(e.s.Shutdown(sfd, socket.SHUT_WR))
	e.run(10 * time.Millisecond)
	wantRevents(t, "FIN", revents(t, e.c, cfd, allPoll), socket.POLLIN|socket.POLLOUT|socket.POLLRDHUP)
	wantRevents(t, "SHUT_WR side", revents(t, e.s, sfd, allPoll), socket.POLLOUT)
	ok(t, "SHUT_WR")(e.c.Shutdown(cfd, socket.SHUT_WR))
	wantRevents(t, "both shut", revents(t, e.c, cfd, allPoll), socket.POLLIN|socket.POLLOUT|socket.POLLRDHUP|socket.POLLHUP)

	// RST: POLLERR until the error is read.
	c2, s2, _ := e.pair(81, true)
	ok(t, "SO_LINGER")(e.s.Setsockopt(s2, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 0)))
	done(t, e.s.Close(s2))
	e.run(10 * time.Millisecond)
	all := socket.POLLIN | socket.POLLOUT | socket.POLLERR | socket.POLLHUP | socket.POLLRDHUP
	wantRevents(t, "reset", revents(t, e.c, c2, allPoll), int16(all))
	expectCall(t, "read", e.c.Read(c2, make([]byte, 1)), -1, syscall.ECONNRESET)
	wantRevents(t, "reset, error read", revents(t, e.c, c2, allPoll), int16(all&^socket.POLLERR))

	// A listener with a connection to accept.
	wantRevents(t, "listener", revents(t, e.s, lfd, allPoll), 0)
	c3 := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(c3, netipServer(90)))
	e.run(20 * time.Millisecond)
	wantRevents(t, "listener ready", revents(t, e.s, lfd, allPoll), socket.POLLIN)

	// Bad descriptors.
	p := []socket.PollFd{{Fd: 99, Events: socket.POLLIN}, {Fd: -1, Events: socket.POLLIN}, {Fd: cfd, Events: socket.POLLIN}}
	expectCall(t, "poll", e.c.Poll(p, 0), 2, 0)
	if p[0].Revents != socket.POLLNVAL || p[1].Revents != 0 {
		t.Fatalf("revents %v", p)
	}
}

func TestPollBlocking(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	p := []socket.PollFd{{Fd: cfd, Events: socket.POLLIN}}
	c := e.c.Poll(p, 100)
	if c.Done() {
		t.Fatal("poll returned at once")
	}
	if dl, ok := c.Deadline(); !ok || dl != c.Start()+100*time.Millisecond {
		t.Fatalf("deadline %v", dl)
	}
	r, er := e.wait(c, time.Second)
	expect(t, "poll timeout", 0, 0)(r, er)
	if c.End()-c.Start() != 100*time.Millisecond {
		t.Fatalf("poll timed out after %v", c.End()-c.Start())
	}
	c = e.c.Poll(p, -1)
	e.run(30 * time.Millisecond)
	done(t, e.s.Write(sfd, []byte("wake")))
	r, er = e.wait(c, time.Second)
	expect(t, "poll", 1, 0)(r, er)
	if p[0].Revents != socket.POLLIN || c.End()-c.Start() != 35*time.Millisecond {
		t.Fatalf("revents %s after %v", pollNames(p[0].Revents), c.End()-c.Start())
	}
}

func TestPollWriteSpace(t *testing.T) {
	e := newEnv(t)
	cfd, _, _ := e.pair(80, true)
	// TCP_NOTSENT_LOWAT: writable while less than half of it is unsent.
	ok(t, "TCP_NOTSENT_LOWAT")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_NOTSENT_LOWAT, 1000))
	ok(t, "TCP_CORK")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 1))
	done(t, e.c.Write(cfd, make([]byte, 499)))
	wantRevents(t, "499 unsent", revents(t, e.c, cfd, socket.POLLOUT), socket.POLLOUT)
	done(t, e.c.Write(cfd, make([]byte, 1)))
	wantRevents(t, "500 unsent", revents(t, e.c, cfd, socket.POLLOUT), 0)
	ok(t, "uncork")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_CORK, 0))
	wantRevents(t, "sent", revents(t, e.c, cfd, socket.POLLOUT), socket.POLLOUT)

	// sk_stream_wspace >= sk_stream_min_wspace: a third of the buffer free.
	c3, _, _ := e.pair(82, true)
	ok(t, "SO_SNDBUF")(e.c.SetsockoptInt(c3, socket.SOL_SOCKET, socket.SO_SNDBUF, 15000)) // 30000
	e.link.SetDown(sim.Both, true)
	expectCall(t, "write", e.c.Write(c3, make([]byte, 20000)), 20000, 0)
	wantRevents(t, "20000 of 30000 queued", revents(t, e.c, c3, socket.POLLOUT), socket.POLLOUT)
	expectCall(t, "write", e.c.Write(c3, make([]byte, 1)), 1, 0)
	wantRevents(t, "20001 of 30000 queued", revents(t, e.c, c3, socket.POLLOUT), 0)
}

func TestNotsentLowatWrite(t *testing.T) {
	e := newEnv(t)
	cfd, _, _ := e.pair(80, true)
	ok(t, "SO_SNDBUF")(e.c.SetsockoptInt(cfd, socket.SOL_SOCKET, socket.SO_SNDBUF, 200000))
	ok(t, "TCP_NOTSENT_LOWAT")(e.c.SetsockoptInt(cfd, socket.SOL_TCP, socket.TCP_NOTSENT_LOWAT, 4000))
	// The peer's window is ~64 KB: skbs of up to 32 KB, so the write fills
	// the initial window (10 segments) plus what completes the skb the
	// window cut, then stops at the next skb: notsent >= lowat.
	n, err := done(t, e.c.Write(cfd, make([]byte, 200000)))
	if err != 0 || n >= 200000 {
		t.Fatalf("write = %d, %v: TCP_NOTSENT_LOWAT did not stop it", n, err)
	}
	var unsent int
	ok(t, "SIOCOUTQNSD")(e.c.Ioctl(cfd, socket.SIOCOUTQNSD, &unsent))
	// Skbs of 22 segments (half the 64 KB window): 10 segments of the first
	// leave at once, the skb is filled up again, and the next one is
	// refused.
	if unsent < 4000 || n != 22*1448+10*1448 {
		t.Fatalf("write = %d with %d unsent", n, unsent)
	}
	expectCall(t, "write again", e.c.Write(cfd, make([]byte, 100)), -1, syscall.EAGAIN)
}

func TestEpollErrors(t *testing.T) {
	e := newEnv(t)
	tb := e.c
	expect(t, "epoll_create(0)", 0, syscall.EINVAL)(tb.EpollCreate(0))
	expect(t, "epoll_create1(bad)", 0, syscall.EINVAL)(tb.EpollCreate1(1))
	ep := ok(t, "epoll_create")(tb.EpollCreate(1))
	ep2 := ok(t, "epoll_create1")(tb.EpollCreate1(socket.EPOLL_CLOEXEC))
	if fd, _ := tb.Fcntl(ep2, socket.F_GETFD, 0); fd != socket.FD_CLOEXEC {
		t.Fatal("EPOLL_CLOEXEC not set")
	}
	fd := tcpSocket(t, tb, true)
	ev := &socket.EpollEvent{Events: socket.EPOLLIN, Data: uint64(fd)}
	expect(t, "epfd not epoll", 0, syscall.EINVAL)(tb.EpollCtl(fd, socket.EPOLL_CTL_ADD, fd, ev))
	expect(t, "epfd EBADF", 0, syscall.EBADF)(tb.EpollCtl(77, socket.EPOLL_CTL_ADD, fd, ev))
	expect(t, "fd EBADF", 0, syscall.EBADF)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, 77, ev))
	expect(t, "add itself", 0, syscall.EINVAL)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, ep, ev))
	expect(t, "stdin", 0, syscall.EPERM)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, 0, ev))
	expect(t, "bad op", 0, syscall.EINVAL)(tb.EpollCtl(ep, 9, fd, ev))
	expect(t, "nil event", 0, syscall.EFAULT)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, fd, nil))
	expect(t, "MOD absent", 0, syscall.ENOENT)(tb.EpollCtl(ep, socket.EPOLL_CTL_MOD, fd, ev))
	expect(t, "DEL absent", 0, syscall.ENOENT)(tb.EpollCtl(ep, socket.EPOLL_CTL_DEL, fd, nil))
	ok(t, "ADD")(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, fd, ev))
	expect(t, "ADD twice", 0, syscall.EEXIST)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, fd, ev))
	ok(t, "DEL")(tb.EpollCtl(ep, socket.EPOLL_CTL_DEL, fd, nil))
	ex := &socket.EpollEvent{Events: socket.EPOLLIN | socket.EPOLLEXCLUSIVE}
	ok(t, "ADD exclusive")(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, fd, ex))
	expect(t, "MOD exclusive", 0, syscall.EINVAL)(tb.EpollCtl(ep, socket.EPOLL_CTL_MOD, fd, ex))
	expect(t, "MOD of an exclusive item", 0, syscall.EINVAL)(tb.EpollCtl(ep, socket.EPOLL_CTL_MOD, fd, ev))
	fd2 := tcpSocket(t, tb, true)
	expect(t, "exclusive with ONESHOT", 0, syscall.EINVAL)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, fd2, &socket.EpollEvent{Events: socket.EPOLLIN | socket.EPOLLEXCLUSIVE | socket.EPOLLONESHOT}))
	ok(t, "nested epoll")(tb.EpollCtl(ep2, socket.EPOLL_CTL_ADD, ep, ev))
	expect(t, "loop", 0, syscall.ELOOP)(tb.EpollCtl(ep, socket.EPOLL_CTL_ADD, ep2, ev))

	expectCall(t, "maxevents 0", tb.EpollWait(ep, 0, 0), -1, syscall.EINVAL)
	expectCall(t, "not epoll", tb.EpollWait(fd, 1, 0), -1, syscall.EINVAL)
	expectCall(t, "EBADF", tb.EpollWait(66, 1, 0), -1, syscall.EBADF)
}

// wantEvents runs epoll_wait with a zero timeout and checks the result.
func wantEvents(t *testing.T, tb *socket.Table, ep int, want ...socket.EpollEvent) {
	t.Helper()
	c := tb.EpollWait(ep, 8, 0)
	n, err := done(t, c)
	if err != 0 || n != len(want) {
		t.Fatalf("epoll_wait = %d, %v (%v); want %v", n, err, c.Events, want)
	}
	for i := range want {
		if c.Events[i] != want[i] {
			t.Fatalf("epoll_wait events %v; want %v", c.Events, want)
		}
	}
}

func ev(events uint32, fd int) socket.EpollEvent {
	return socket.EpollEvent{Events: events, Data: uint64(fd)}
}

// TestEpollEdgeIn follows packetdrill's epoll/epoll_in_edge: with EPOLLET,
// each arrival of data is reported once, whether or not the socket was
// drained.
func TestEpollEdgeIn(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	ep := ok(t, "epoll_create")(e.s.EpollCreate(1))
	in, out := uint32(socket.EPOLLIN), uint32(socket.EPOLLOUT)
	ok(t, "ADD")(e.s.EpollCtl(ep, socket.EPOLL_CTL_ADD, sfd, &socket.EpollEvent{Events: in | out | socket.EPOLLET, Data: uint64(sfd)}))
	wantEvents(t, e.s, ep, ev(out, sfd))
	wantEvents(t, e.s, ep)

	done(t, e.c.Write(cfd, make([]byte, 4000)))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in|out, sfd))
	wantEvents(t, e.s, ep)

	done(t, e.c.Write(cfd, make([]byte, 6000)))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in|out, sfd))
	wantEvents(t, e.s, ep)

	expectCall(t, "read", e.s.Read(sfd, make([]byte, 1000)), 1000, 0)
	wantEvents(t, e.s, ep)

	done(t, e.c.Write(cfd, make([]byte, 2000)))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in|out, sfd))
	wantEvents(t, e.s, ep)

	// The peer's FIN is a state change: everything asked for is reported.
	ok(t, "SHUT_WR")(e.c.Shutdown(cfd, socket.SHUT_WR))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in|out, sfd))
	wantEvents(t, e.s, ep)
}

// TestEpollEdgeOut: after a write found the buffer full, the ACK that makes
// the socket writable again (a third of the buffer free) wakes EPOLLOUT
// once; later ACKs do not, until a write fills the buffer again.
func TestEpollEdgeOut(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	ok(t, "SO_SNDBUF")(e.c.SetsockoptInt(cfd, socket.SOL_SOCKET, socket.SO_SNDBUF, 15000))
	ep := ok(t, "epoll_create")(e.c.EpollCreate(1))
	out := uint32(socket.EPOLLOUT)
	ok(t, "ADD")(e.c.EpollCtl(ep, socket.EPOLL_CTL_ADD, cfd, &socket.EpollEvent{Events: socket.EPOLLIN | out | socket.EPOLLET, Data: 7}))
	wantEvents(t, e.c, ep, ev(out, 7))
	wantEvents(t, e.c, ep)

	// Partition the link so that nothing is acknowledged while the write
	// fills the buffer.
	e.link.SetDown(sim.AtoB, true) // nothing reaches the server
	partialWrite(t, e.c.Write(cfd, make([]byte, 200000)), 30000)
	wantEvents(t, e.c, ep)
	e.link.SetDown(sim.AtoB, false)
	// The retransmission timer resends; the ACKs come back and free the
	// buffer: one EPOLLOUT.
	for i := 0; i < 3000; i++ {
		e.run(time.Millisecond)
		if n, _ := done(t, e.c.EpollWait(ep, 8, 0)); n > 0 {
			break
		}
	}
	var q int
	ok(t, "SIOCOUTQ")(e.c.Ioctl(cfd, socket.SIOCOUTQ, &q))
	if q > 20000 {
		t.Fatalf("EPOLLOUT with %d queued in a 30000-byte buffer", q)
	}
	// Later ACKs: no new EPOLLOUT without a new full write.
	e.run(2 * time.Second)
	wantEvents(t, e.c, ep)
	drain(t, e, sfd)

	// Level-triggered EPOLLOUT is reported every time.
	ok(t, "MOD")(e.c.EpollCtl(ep, socket.EPOLL_CTL_MOD, cfd, &socket.EpollEvent{Events: out, Data: 7}))
	wantEvents(t, e.c, ep, ev(out, 7))
	wantEvents(t, e.c, ep, ev(out, 7))
}

func drain(t *testing.T, e *env, fd int) {
	for {
		if _, err := done(t, e.s.Recv(fd, make([]byte, 1<<16), socket.MSG_DONTWAIT)); err != 0 {
			return
		}
	}
}

func TestEpollLevelAndOneshot(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, lfd := e.pair(80, true)
	ep := ok(t, "epoll_create")(e.s.EpollCreate(1))
	in := uint32(socket.EPOLLIN)
	ok(t, "ADD")(e.s.EpollCtl(ep, socket.EPOLL_CTL_ADD, sfd, &socket.EpollEvent{Events: in, Data: 1}))
	wantEvents(t, e.s, ep)
	done(t, e.c.Write(cfd, []byte("abc")))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in, 1))
	wantEvents(t, e.s, ep, ev(in, 1)) // level-triggered: again
	done(t, e.s.Read(sfd, make([]byte, 10)))
	wantEvents(t, e.s, ep)

	// ONESHOT: reported once, then disabled until EPOLL_CTL_MOD.
	ok(t, "MOD oneshot")(e.s.EpollCtl(ep, socket.EPOLL_CTL_MOD, sfd, &socket.EpollEvent{Events: in | socket.EPOLLONESHOT, Data: 2}))
	done(t, e.c.Write(cfd, []byte("abc")))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in, 2))
	wantEvents(t, e.s, ep)
	done(t, e.c.Write(cfd, []byte("more")))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.s, ep)
	ok(t, "rearm")(e.s.EpollCtl(ep, socket.EPOLL_CTL_MOD, sfd, &socket.EpollEvent{Events: in | socket.EPOLLONESHOT, Data: 3}))
	wantEvents(t, e.s, ep, ev(in, 3))

	// A listener, edge-triggered: one event per queued connection.
	ok(t, "ADD listener")(e.s.EpollCtl(ep, socket.EPOLL_CTL_ADD, lfd, &socket.EpollEvent{Events: in | socket.EPOLLET, Data: 9}))
	wantEvents(t, e.s, ep)
	c2 := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(c2, netipServer(80)))
	e.run(20 * time.Millisecond)
	wantEvents(t, e.s, ep, ev(in, 9))
	wantEvents(t, e.s, ep)

	// maxevents smaller than the ready list: the rest comes next time.
	ok(t, "MOD")(e.s.EpollCtl(ep, socket.EPOLL_CTL_MOD, sfd, &socket.EpollEvent{Events: in, Data: 4}))
	c3 := tcpSocket(t, e.c, true)
	done(t, e.c.Connect(c3, netipServer(80)))
	e.run(20 * time.Millisecond)
	first := e.s.EpollWait(ep, 1, 0)
	if n, _ := first.Result(); n != 1 || first.Events[0] != ev(in, 4) {
		t.Fatalf("first epoll_wait %v", first.Events)
	}
	wantEvents(t, e.s, ep, ev(in, 9), ev(in, 4))

	// Closing a descriptor removes its registration.
	done(t, e.s.Close(sfd))
	wantEvents(t, e.s, ep)
	expect(t, "DEL closed", 0, syscall.EBADF)(e.s.EpollCtl(ep, socket.EPOLL_CTL_DEL, sfd, nil))
}

func TestEpollErrAndHup(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	ep := ok(t, "epoll_create")(e.c.EpollCreate(1))
	// EPOLLERR and EPOLLHUP are always reported, even when not asked for.
	ok(t, "ADD")(e.c.EpollCtl(ep, socket.EPOLL_CTL_ADD, cfd, &socket.EpollEvent{Events: socket.EPOLLIN | socket.EPOLLET, Data: 1}))
	wantEvents(t, e.c, ep)
	ok(t, "SO_LINGER")(e.s.Setsockopt(sfd, socket.SOL_SOCKET, socket.SO_LINGER, socket.Linger(1, 0)))
	done(t, e.s.Close(sfd))
	e.run(10 * time.Millisecond)
	wantEvents(t, e.c, ep, ev(socket.EPOLLIN|socket.EPOLLERR|socket.EPOLLHUP, 1))
	wantEvents(t, e.c, ep)
}

func TestEpollWaitBlocking(t *testing.T) {
	e := newEnv(t)
	cfd, sfd, _ := e.pair(80, true)
	ep := ok(t, "epoll_create")(e.s.EpollCreate(1))
	ok(t, "ADD")(e.s.EpollCtl(ep, socket.EPOLL_CTL_ADD, sfd, &socket.EpollEvent{Events: socket.EPOLLIN, Data: 5}))
	c := e.s.EpollWait(ep, 4, 50)
	r, er := e.wait(c, time.Second)
	expect(t, "epoll_wait timeout", 0, 0)(r, er)
	if c.End()-c.Start() != 50*time.Millisecond {
		t.Fatalf("timed out after %v", c.End()-c.Start())
	}
	c = e.s.EpollWait(ep, 4, -1)
	e.run(20 * time.Millisecond)
	done(t, e.c.Write(cfd, []byte("x")))
	r, er = e.wait(c, time.Second)
	expect(t, "epoll_wait", 1, 0)(r, er)
	if c.Events[0] != ev(socket.EPOLLIN, 5) || c.End()-c.Start() != 25*time.Millisecond {
		t.Fatalf("events %v after %v", c.Events, c.End()-c.Start())
	}
	// The epoll descriptor itself polls readable when events are ready.
	wantRevents(t, "epoll fd", revents(t, e.s, ep, socket.POLLIN|socket.POLLOUT), socket.POLLIN)
}

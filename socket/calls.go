package socket

import (
	"net/netip"
	"syscall"
	"time"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// Socket is socket(2). Only TCP over AF_INET and AF_INET6 exists: other
// families fail with EAFNOSUPPORT, other types with ESOCKTNOSUPPORT or, for
// the datagram and raw types Linux has but synfin does not, with
// EPROTONOSUPPORT.
func (t *Table) Socket(domain, typ, proto int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	flags := typ &^ sockTypeMask
	typ &= sockTypeMask
	if flags&^(SOCK_CLOEXEC|SOCK_NONBLOCK) != 0 {
		return fail(syscall.EINVAL)
	}
	if domain < 0 || domain >= afMax {
		return fail(syscall.EAFNOSUPPORT)
	}
	if typ >= sockMax {
		return fail(syscall.EINVAL)
	}
	if domain != AF_INET && domain != AF_INET6 {
		return fail(syscall.EAFNOSUPPORT)
	}
	if proto < 0 || proto >= ipprotoMax {
		return fail(syscall.EINVAL)
	}
	switch typ {
	case SOCK_STREAM:
		if proto != IPPROTO_IP && proto != IPPROTO_TCP {
			return fail(syscall.EPROTONOSUPPORT)
		}
	case SOCK_DGRAM, SOCK_RAW:
		return fail(syscall.EPROTONOSUPPORT)
	default:
		return fail(syscall.ESOCKTNOSUPPORT)
	}
	f := &file{nonblock: flags&SOCK_NONBLOCK != 0, cloexec: flags&SOCK_CLOEXEC != 0}
	f.sock = newSock(t, domain)
	f.sock.f = f
	fd, e := t.alloc(f)
	if e != 0 {
		return fail(e)
	}
	f.sock.resync()
	return fd, 0
}

// Bind is bind(2). Port 0 picks a free port. See sock.sockaddr for how
// addresses stand for sockaddr_in and sockaddr_in6.
func (t *Table) Bind(fd int, addr netip.AddrPort) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return fail(e)
	}
	a, e := s.sockaddr(addr)
	if e != 0 {
		return fail(e)
	}
	if !a.Addr().IsUnspecified() && !t.st.IsLocal(a.Addr()) {
		return fail(syscall.EADDRNOTAVAIL)
	}
	if s.state != ssUnconnected || s.bound != nil {
		return fail(syscall.EINVAL)
	}
	r, err := t.st.Reserve(a, s.o.reuseAddr)
	if err != nil {
		return fail(toErrno(err))
	}
	s.bound, s.bindAddr, s.portLocked = r, r.Addr(), a.Port() != 0
	return 0, 0
}

// Listen is listen(2): an unbound socket is bound to an ephemeral port, and
// listen on a listening socket changes its backlog.
func (t *Table) Listen(fd, backlog int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return fail(e)
	}
	if som := t.st.SomaxConn(); uint(backlog) > uint(som) {
		backlog = som
	}
	// sk_acceptq_is_full is ack_backlog > max_ack_backlog: backlog+1 fit.
	qlen := backlog + 1
	switch s.state {
	case ssListening:
		s.ln.SetBacklog(qlen)
		return 0, 0
	case ssConnecting, ssConnected, ssDisconnecting:
		return fail(syscall.EINVAL)
	}
	s.publish()
	s.fastOpenListenBacklog(backlog)
	ln, err := t.st.ListenSocket(stack.ListenOptions{
		Addr:      netip.AddrPortFrom(s.anyAddr(), 0),
		Bound:     s.bound,
		ReuseAddr: s.o.reuseAddr,
		Backlog:   qlen,
		Inherit:   s.inherit,
		FastOpen:  s.fastOpenListen(),
	})
	if err != nil {
		return fail(toErrno(err))
	}
	s.ln, s.bound, s.state = ln, nil, ssListening
	s.resync()
	return 0, 0
}

// Accept is accept(2).
func (t *Table) Accept(fd int) *Call { return t.Accept4(fd, 0) }

// Accept4 is accept4(2) (flags SOCK_NONBLOCK, SOCK_CLOEXEC). The Call's
// Addr is the peer's address.
func (t *Table) Accept4(fd, flags int) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	if flags&^(SOCK_CLOEXEC|SOCK_NONBLOCK) != 0 {
		return t.doneCall("accept", -1, syscall.EINVAL)
	}
	f, s, e := t.getSock(fd)
	if e != 0 {
		return t.doneCall("accept", -1, e)
	}
	if len(t.files) >= t.Limit {
		return t.doneCall("accept", -1, syscall.EMFILE)
	}
	canWait := !f.nonblock && s.o.rcvtimeo != 0
	return t.start("accept", timeout(s.o.rcvtimeo), func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		if s.state != ssListening {
			return true, -1, syscall.EINVAL
		}
		tc, err := s.ln.TryAccept()
		if err != nil {
			if err != tcp.ErrWouldBlock {
				return true, -1, syscall.EINVAL
			}
			if !canWait || timedOut {
				return true, -1, syscall.EAGAIN
			}
			return false, 0, 0
		}
		s.accepted++
		nf := &file{nonblock: flags&SOCK_NONBLOCK != 0, cloexec: flags&SOCK_CLOEXEC != 0}
		ns := newSock(t, s.family)
		ns.f = nf
		ns.o = s.o.clone()
		ns.state, ns.conn = ssConnected, tc
		nf.sock = ns
		nfd, e := t.alloc(nf)
		if e != 0 {
			tc.Close()
			return true, -1, e
		}
		ns.resync()
		s.resync()
		c.Addr = s.mapAddr(tc.RemoteAddrPort())
		return true, nfd, 0
	})
}

// Connect is connect(2). The zero AddrPort is AF_UNSPEC: it dissolves the
// socket's association (tcp_disconnect).
func (t *Table) Connect(fd int, addr netip.AddrPort) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, s, e := t.getSock(fd)
	if e != 0 {
		return t.doneCall("connect", -1, e)
	}
	if !addr.IsValid() {
		s.disconnect()
		s.resync()
		return t.doneCall("connect", 0, 0)
	}
	blocking := !f.nonblock
	switch s.state {
	case ssConnected, ssListening:
		return t.doneCall("connect", -1, syscall.EISCONN)
	case ssConnecting:
		if s.foDeferred {
			// __inet_stream_connect with defer_connect, not from sendmsg.
			return t.doneCall("connect", -1, syscall.EISCONN)
		}
		return t.start("connect", timeout(s.o.sndtimeo), s.connectWait(blocking, syscall.EALREADY))
	case ssDisconnecting:
		return t.doneCall("connect", -1, syscall.EINVAL)
	}
	raddr, e := s.sockaddr(addr)
	if e != 0 {
		return t.doneCall("connect", -1, e)
	}
	fo := s.fastOpenConnect()
	conn, err := t.st.Connect(stack.ConnectOptions{
		Remote:    raddr,
		Bound:     s.bound,
		ReuseAddr: s.o.reuseAddr,
		MSS:       uint16(s.o.userMSS),
		Setup:     s.setup,
		FastOpen:  fo,
	})
	if err != nil {
		return t.doneCall("connect", -1, toErrno(err))
	}
	s.conn, s.bound, s.state, s.userShut = conn, nil, ssConnecting, 0
	s.resync()
	if fo != nil && fo.Deferred {
		// TCP_FASTOPEN_CONNECT with a cookie cached: the SYN waits for
		// the first write (RFC 7413 4.1.2; Linux's defer_connect).
		s.foDeferred = true
		return t.doneCall("connect", 0, 0)
	}
	if !blocking {
		return t.doneCall("connect", -1, syscall.EINPROGRESS)
	}
	return t.start("connect", timeout(s.o.sndtimeo), s.connectWait(true, syscall.EINPROGRESS))
}

// connectWait is the end of __inet_stream_connect: wait while the
// handshake runs (or report pending), then 0, or the error that closed the
// connection (after which the socket is unconnected again).
func (s *sock) connectWait(blocking bool, pending syscall.Errno) func(*Call, bool) (bool, int, syscall.Errno) {
	return func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		if s.state != ssConnecting {
			if s.state == ssConnected {
				return true, -1, syscall.EISCONN
			}
			return true, -1, syscall.ECONNABORTED
		}
		v := s.look()
		switch st := s.tcpState(&v); st {
		case TCP_SYN_SENT, TCP_SYN_RECV:
			if !blocking || timedOut || s.o.sndtimeo == 0 {
				return true, -1, pending
			}
			return false, 0, 0
		case TCP_CLOSE:
			return true, -1, s.connectFailed()
		}
		s.state = ssConnected
		s.resync()
		return true, 0, 0
	}
}

// connectFailed ends a connect that found the connection closed: the error
// it died of (ECONNABORTED if none was recorded), the socket disconnected
// and in step with its TCB again.
func (s *sock) connectFailed() syscall.Errno {
	e := s.takeError(false)
	if e == 0 {
		e = syscall.ECONNABORTED
	}
	s.disconnect()
	s.resync()
	return e
}

// disconnect is tcp_disconnect: the connection is aborted (RST where one
// is due), a listener stops, and the socket is unconnected again, still
// bound if bind(2) named its port.
func (s *sock) disconnect() {
	switch s.state {
	case ssListening:
		s.ln.Close()
		s.ln = nil
	case ssConnecting, ssConnected, ssDisconnecting:
		s.conn.Do(func(tb *tcp.TCB, now tcp.Time) { tb.Abort(now) })
		s.conn.Close()
		s.conn = nil
	}
	s.state, s.userShut, s.foDeferred = ssUnconnected, 0, false
	if s.portLocked && s.bound == nil {
		if r, err := s.t.st.Reserve(s.bindAddr, s.o.reuseAddr); err == nil {
			s.bound = r
		}
	}
}

// Msghdr is struct msghdr for Sendmsg and Recvmsg: the iovecs, and what
// recvmsg returns besides the count.
type Msghdr struct {
	// Name is msg_name (HasName: set), the address sendmsg with
	// MSG_FASTOPEN connects to.
	Name    netip.AddrPort
	HasName bool
	Iov     [][]byte
	// Flags is msg_flags as recvmsg sets it.
	Flags int
	// HasInq reports that recvmsg added the TCP_CM_INQ control message
	// (TCP_INQ is on), and Inq is its value: the bytes left to read, or 1
	// at EOF (tcp_inq_hint).
	HasInq bool
	Inq    int
}

// Read is read(2).
func (t *Table) Read(fd int, b []byte) *Call { return t.recv("read", fd, [][]byte{b}, 0, true, nil) }

// Readv is readv(2).
func (t *Table) Readv(fd int, iov [][]byte) *Call { return t.recv("readv", fd, iov, 0, true, nil) }

// Recv is recv(2): flags MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_TRUNC
// (the data is discarded), MSG_ERRQUEUE (always EAGAIN: no error queue);
// MSG_OOB fails with EINVAL (urgent data stays inline, as with
// SO_OOBINLINE).
func (t *Table) Recv(fd int, b []byte, flags int) *Call {
	return t.recv("recv", fd, [][]byte{b}, flags, false, nil)
}

// Recvfrom is recvfrom(2); TCP reports no source address.
func (t *Table) Recvfrom(fd int, b []byte, flags int) *Call {
	return t.recv("recvfrom", fd, [][]byte{b}, flags, false, nil)
}

// Recvmsg is recvmsg(2).
func (t *Table) Recvmsg(fd int, msg *Msghdr, flags int) *Call {
	return t.recv("recvmsg", fd, msg.Iov, flags, false, msg)
}

func iovLen(iov [][]byte) int {
	n := 0
	for _, b := range iov {
		n += len(b)
	}
	return n
}

// dataFile finds the socket file a data call (read, write, send*, recv*) works
// on, or returns the failed call: as in Linux, read(2) and write(2) on
// something that is not a socket give EINVAL where the socket calls give
// ENOTSOCK, and too many iovecs give EMSGSIZE to sendmsg/recvmsg and EINVAL
// to readv/writev.
func (t *Table) dataFile(name string, fd, niov int, plainIO, msgCall bool) (*file, *Call) {
	f, e := t.getFile(fd)
	if e != 0 {
		return nil, t.doneCall(name, -1, e)
	}
	if f.sock == nil {
		if plainIO {
			return nil, t.doneCall(name, -1, syscall.EINVAL)
		}
		return nil, t.doneCall(name, -1, syscall.ENOTSOCK)
	}
	if niov > uioMaxIOV {
		if msgCall {
			return nil, t.doneCall(name, -1, syscall.EMSGSIZE)
		}
		return nil, t.doneCall(name, -1, syscall.EINVAL)
	}
	return f, nil
}

func (t *Table) recv(name string, fd int, iov [][]byte, flags int, isRead bool, msg *Msghdr) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, c := t.dataFile(name, fd, len(iov), isRead, msg != nil)
	if c != nil {
		return c
	}
	s := f.sock
	if isRead && iovLen(iov) == 0 {
		return t.doneCall(name, 0, 0) // sock_read_iter: "Match SYS5 behaviour"
	}
	blocking := !f.nonblock && flags&MSG_DONTWAIT == 0
	canWait := blocking && s.o.rcvtimeo != 0
	to := time.Duration(-1)
	if canWait {
		to = timeout(s.o.rcvtimeo)
	}
	copied := 0
	return t.start(name, to, func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		done, n, e := s.recvStep(iov, flags, canWait && !timedOut, &copied)
		if done {
			s.resync()
			if msg != nil && e == 0 {
				msg.Flags = 0
				msg.HasInq = s.o.inq
				if s.o.inq {
					msg.Inq = s.inqHint()
				}
			}
		}
		return done, n, e
	})
}

// recvStep is one pass of tcp_recvmsg_locked: it copies what is there and
// decides whether the call is done.
func (s *sock) recvStep(iov [][]byte, flags int, canWait bool, copied *int) (bool, int, syscall.Errno) {
	if flags&MSG_ERRQUEUE != 0 {
		return true, -1, syscall.EAGAIN
	}
	if s.state == ssListening {
		return true, -1, syscall.ENOTCONN
	}
	if flags&MSG_OOB != 0 {
		return true, -1, syscall.EINVAL
	}
	total := iovLen(iov)
	target := 1
	if flags&MSG_WAITALL != 0 {
		target = total
	} else {
		target = min(s.o.rcvlowat, total)
	}
	target = max(target, 1)
	v := s.look()
	if v.readable > 0 && total > *copied {
		s.conn.Do(func(tb *tcp.TCB, now tcp.Time) {
			switch {
			case flags&MSG_PEEK != 0:
				buf := make([]byte, min(tb.Readable(), total))
				n := tb.Peek(buf)
				scatter(iov, 0, buf[:n])
				*copied = n
			case flags&MSG_TRUNC != 0:
				want := min(tb.Readable(), total-*copied)
				var scratch [4096]byte
				for want > 0 {
					n, _ := tb.Read(now, scratch[:min(want, len(scratch))])
					if n <= 0 {
						break
					}
					want -= n
					*copied += n
				}
			default:
				*copied += readInto(tb, now, iov, *copied)
			}
		})
		v = s.look()
	}
	n := *copied
	if n >= target && n > 0 {
		return true, n, 0
	}
	state := s.tcpState(&v)
	shut := s.shut(&v)
	if n > 0 {
		if !canWait || v.err || state == TCP_CLOSE || shut&rcvShutdown != 0 {
			return true, n, 0
		}
		return false, 0, 0
	}
	switch {
	case v.fin:
		return true, 0, 0
	case v.err:
		return true, -1, s.takeError(false)
	case shut&rcvShutdown != 0:
		return true, 0, 0
	case state == TCP_CLOSE:
		return true, -1, syscall.ENOTCONN
	case total == 0 && v.readable > 0:
		return true, 0, 0
	case !canWait:
		return true, -1, syscall.EAGAIN
	}
	return false, 0, 0
}

// readInto reads into the iovecs from offset off on.
func readInto(tb *tcp.TCB, now tcp.Time, iov [][]byte, off int) int {
	n := 0
	for _, b := range iov {
		if off >= len(b) {
			off -= len(b)
			continue
		}
		b = b[off:]
		off = 0
		got, _ := tb.Read(now, b)
		n += max(got, 0)
		if got < len(b) {
			break
		}
	}
	return n
}

// scatter copies p into the iovecs from offset off on.
func scatter(iov [][]byte, off int, p []byte) {
	for _, b := range iov {
		if len(p) == 0 {
			return
		}
		if off >= len(b) {
			off -= len(b)
			continue
		}
		k := copy(b[off:], p)
		p = p[k:]
		off = 0
	}
}

// inqHint is tcp_inq_hint: unread bytes, or 1 once the FIN is in.
func (s *sock) inqHint() int {
	v := s.look()
	n := v.readable
	if n == 0 && v.fin {
		n = 1
	}
	return n
}

// Write is write(2).
func (t *Table) Write(fd int, b []byte) *Call {
	return t.send("write", fd, [][]byte{b}, 0, true, netip.AddrPort{}, false)
}

// Writev is writev(2).
func (t *Table) Writev(fd int, iov [][]byte) *Call {
	return t.send("writev", fd, iov, 0, true, netip.AddrPort{}, false)
}

// Send is send(2): flags MSG_DONTWAIT; MSG_MORE (hold back a partial
// segment, as TCP_CORK for this call, and no PSH for it); MSG_OOB (urgent
// data); MSG_EOR (the call's data ends a record: no later data shares a
// segment with it); MSG_NOSIGNAL and MSG_ZEROCOPY are accepted (SIGPIPE
// does not exist here;
// zero-copy sends copy and queue no completion); MSG_FASTOPEN is TCP Fast
// Open (fastopen.go), which needs an address: see Sendto.
func (t *Table) Send(fd int, b []byte, flags int) *Call {
	return t.send("send", fd, [][]byte{b}, flags, false, netip.AddrPort{}, false)
}

// Sendto is sendto(2). TCP ignores the address, but for MSG_FASTOPEN on an
// unconnected socket, which connects to it (the zero AddrPort is
// AF_UNSPEC).
func (t *Table) Sendto(fd int, b []byte, flags int, to netip.AddrPort) *Call {
	return t.send("sendto", fd, [][]byte{b}, flags, false, to, true)
}

// Sendmsg is sendmsg(2); msg.Name is used as Sendto's address is.
func (t *Table) Sendmsg(fd int, msg *Msghdr, flags int) *Call {
	return t.send("sendmsg", fd, msg.Iov, flags, false, msg.Name, msg.HasName)
}

func (t *Table) send(name string, fd int, iov [][]byte, flags int, isWrite bool, to netip.AddrPort, hasTo bool) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, c := t.dataFile(name, fd, len(iov), isWrite, name == "sendmsg")
	if c != nil {
		return c
	}
	s := f.sock
	if flags&MSG_FASTOPEN != 0 || s.foDeferred {
		return t.fastOpenSend(name, f, s, iov, flags, to, hasTo)
	}
	blocking := !f.nonblock && flags&MSG_DONTWAIT == 0
	canWait := blocking && s.o.sndtimeo != 0
	wait := time.Duration(-1)
	if canWait {
		wait = timeout(s.o.sndtimeo)
	}
	st := &sendState{}
	return t.start(name, wait, func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		done, n, e := s.sendStep(iov, flags, canWait && !timedOut, st)
		if done {
			s.resync()
		}
		return done, n, e
	})
}

type sendState struct {
	copied  int
	waiting bool // blocked for space (sk_stream_wait_memory)
}

// sendStep is one pass of tcp_sendmsg_locked.
func (s *sock) sendStep(iov [][]byte, flags int, canWait bool, st *sendState) (bool, int, syscall.Errno) {
	total := iovLen(iov)
	v := s.look()
	state := s.tcpState(&v)
	if _, passive := s.fastOpenPoll(state); st.copied == 0 && state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT && !passive {
		// sk_stream_wait_connect (a passive Fast Open connection may
		// send in SYN_RCVD: RFC 7413 4.2.2).
		switch {
		case v.err:
			return true, -1, s.takeError(false)
		case state != TCP_SYN_SENT && state != TCP_SYN_RECV:
			return true, -1, syscall.EPIPE
		case !canWait:
			return true, -1, syscall.EAGAIN
		}
		return false, 0, 0
	}
	errOut := func() (bool, int, syscall.Errno) {
		if st.copied > 0 {
			return true, st.copied, 0
		}
		e := s.takeError(false)
		if e == 0 {
			e = syscall.EPIPE
		}
		return true, -1, e
	}
	if v.err || s.shut(&v)&sendShutdown != 0 {
		return errOut()
	}
	if st.waiting {
		if !(s.writable(&v) && s.memoryFree(&v)) {
			if !canWait {
				if st.copied > 0 {
					return true, st.copied, 0
				}
				return true, -1, syscall.EAGAIN
			}
			return false, 0, 0
		}
		st.waiting = false
	}
	for st.copied < total {
		goal := sizeGoal(&v)
		room := 0
		if tail := v.unsent % goal; v.unsent > 0 && tail != 0 {
			room = goal - tail // the tail skb still has room: no memory check
		} else if s.memoryFree(&v) {
			room = goal
		}
		want := min(room, total-st.copied)
		n := 0
		var werr error
		if want > 0 {
			chunk := gather(iov, st.copied, want)
			// MSG_EOR ends the record with the call's last byte.
			eor := flags&MSG_EOR != 0 && st.copied+want == total
			s.conn.Do(func(tb *tcp.TCB, now tcp.Time) {
				switch {
				case flags&MSG_OOB != 0:
					n, werr = tb.WriteUrgent(now, chunk)
				case flags&MSG_MORE != 0 || eor:
					n, werr = tb.WriteRecord(now, chunk, flags&MSG_MORE != 0, eor)
				default:
					n, werr = tb.Write(now, chunk)
				}
			})
		}
		if werr != nil {
			return errOut()
		}
		st.copied += n
		if n == 0 || n < want && st.copied < total {
			// wait_for_space.
			s.setNospace(true)
			if st.copied > 0 {
				s.forcePush()
			}
			if !canWait {
				if st.copied > 0 {
					return true, st.copied, 0
				}
				return true, -1, syscall.EAGAIN
			}
			st.waiting = true
			return false, 0, 0
		}
		v = s.look()
	}
	return true, st.copied, 0
}

// sizeGoal is tcp_xmit_size_goal: the size of the skbs a write builds, up
// to the GSO limit bounded by half the peer's window, in whole segments.
func sizeGoal(v *view) int {
	mss := v.mss
	if mss <= 0 {
		mss = 536
	}
	goal := gsoMaxSize
	if cut := int(v.sndWnd); cut > 0 {
		if cut > 536 {
			cut >>= 1
		}
		goal = min(goal, max(cut, 68-20))
	}
	return max(goal/mss*mss, mss)
}

// gather copies n bytes of the iovecs from offset off.
func gather(iov [][]byte, off, n int) []byte {
	out := make([]byte, 0, n)
	for _, b := range iov {
		if len(out) == n {
			break
		}
		if off >= len(b) {
			off -= len(b)
			continue
		}
		b = b[off:]
		off = 0
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

// forcePush sends what Nagle or cork hold back (tcp_push with
// TCP_NAGLE_PUSH), leaving the socket's setting as it was.
func (s *sock) forcePush() {
	s.do(func(tb *tcp.TCB, now tcp.Time) {
		nd := tb.NoDelay()
		tb.SetNoDelay(now, true)
		tb.SetNoDelay(now, nd)
	})
}

// Close is close(2). It blocks only on a socket with SO_LINGER and a
// non-zero linger time, until the FIN is acknowledged or the time is up;
// the descriptor is free at once.
func (t *Table) Close(fd int) *Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, e := t.getFile(fd)
	if e != 0 {
		return t.doneCall("close", -1, e)
	}
	delete(t.files, fd)
	t.detach(f)
	s := f.sock
	if s == nil {
		return t.doneCall("close", 0, 0)
	}
	switch s.state {
	case ssUnconnected:
		if s.bound != nil {
			s.bound.Release()
			s.bound = nil
		}
	case ssListening:
		s.ln.Close()
	default:
		s.conn.Close()
		if s.o.linger && s.o.lingerTime > 0 {
			return t.start("close", jiffies(s.o.lingerTime), func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
				v := s.look()
				switch v.state {
				case tcp.FinWait1, tcp.Closing, tcp.LastAck:
					if !timedOut {
						return false, 0, 0
					}
				}
				return true, 0, 0
			})
		}
	}
	return t.doneCall("close", 0, 0)
}

// CloseAll closes every descriptor but the standard streams (the process
// exits: no lingering).
func (t *Table) CloseAll() {
	for _, fd := range t.FDs() {
		if fd > 2 {
			t.Close(fd)
		}
	}
}

// Shutdown is shutdown(2).
func (t *Table) Shutdown(fd, how int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return fail(e)
	}
	if how < SHUT_RD || how > SHUT_RDWR {
		return fail(syscall.EINVAL)
	}
	bits := how + 1
	defer func() {
		s.resync()
		s.wake(wakeAll) // sk_state_change
	}()
	switch s.state {
	case ssListening:
		if bits&rcvShutdown != 0 {
			s.disconnect()
		}
		return 0, 0
	case ssUnconnected:
		s.userShut |= bits
		return fail(syscall.ENOTCONN)
	}
	v := s.look()
	st := s.tcpState(&v)
	if s.state == ssConnecting {
		// inet_shutdown settles a pending non-blocking connect.
		if st == TCP_SYN_SENT || st == TCP_SYN_RECV || st == TCP_CLOSE {
			s.state = ssDisconnecting
		} else {
			s.state = ssConnected
		}
	}
	switch st {
	case TCP_CLOSE:
		s.userShut |= bits
		return fail(syscall.ENOTCONN)
	case TCP_SYN_SENT:
		s.disconnect()
		return 0, 0
	}
	s.userShut |= bits
	if bits&sendShutdown != 0 {
		s.conn.Do(func(tb *tcp.TCB, now tcp.Time) { tb.Shutdown(now, tcp.ShutWrite) })
	}
	return 0, 0
}

// Getsockname is getsockname(2).
func (t *Table) Getsockname(fd int) (netip.AddrPort, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return netip.AddrPort{}, e
	}
	switch {
	case s.state == ssListening:
		return s.mapAddr(s.ln.AddrPort()), 0
	case s.conn != nil:
		return s.mapAddr(s.conn.LocalAddrPort()), 0
	case s.bound != nil:
		return s.mapAddr(s.bound.Addr()), 0
	}
	return netip.AddrPortFrom(s.anyAddr(), 0), 0
}

// Getpeername is getpeername(2).
func (t *Table) Getpeername(fd int) (netip.AddrPort, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return netip.AddrPort{}, e
	}
	if s.conn == nil {
		return netip.AddrPort{}, syscall.ENOTCONN
	}
	v := s.look()
	if st := s.tcpState(&v); st == TCP_CLOSE || st == TCP_SYN_SENT {
		return netip.AddrPort{}, syscall.ENOTCONN
	}
	return s.mapAddr(s.conn.RemoteAddrPort()), 0
}

// Fcntl is fcntl(2): F_GETFL (O_RDWR, O_NONBLOCK), F_SETFL (O_NONBLOCK
// counts), F_GETFD and F_SETFD (FD_CLOEXEC). F_DUPFD is not supported
// (EINVAL).
func (t *Table) Fcntl(fd, cmd, arg int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, e := t.getFile(fd)
	if e != 0 {
		return fail(e)
	}
	switch cmd {
	case F_GETFL:
		fl := O_RDWR
		if f.nonblock {
			fl |= O_NONBLOCK
		}
		return fl, 0
	case F_SETFL:
		f.nonblock = arg&O_NONBLOCK != 0
		return 0, 0
	case F_GETFD:
		return b2i(f.cloexec), 0
	case F_SETFD:
		f.cloexec = arg&FD_CLOEXEC != 0
		return 0, 0
	}
	return fail(syscall.EINVAL)
}

// Ioctl is ioctl(2) with an int argument: FIONREAD/SIOCINQ (readable
// bytes), TIOCOUTQ/SIOCOUTQ (unacknowledged and unsent bytes), SIOCOUTQNSD
// (unsent bytes), SIOCATMARK, FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC. Others
// fail with ENOTTY.
func (t *Table) Ioctl(fd, req int, arg *int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	f, e := t.getFile(fd)
	if e != 0 {
		return fail(e)
	}
	set := func(v int) {
		if arg != nil {
			*arg = v
		}
	}
	switch req {
	case FIONBIO:
		f.nonblock = arg != nil && *arg != 0
		return 0, 0
	case FIOCLEX, FIONCLEX:
		f.cloexec = req == FIOCLEX
		return 0, 0
	case FIOASYNC:
		return 0, 0
	}
	s := f.sock
	if s == nil {
		return fail(syscall.ENOTTY)
	}
	switch req {
	case SIOCINQ, SIOCOUTQ, SIOCOUTQNSD:
		if s.state == ssListening {
			return fail(syscall.EINVAL)
		}
		v := s.look()
		if st := s.tcpState(&v); st == TCP_SYN_SENT || st == TCP_SYN_RECV {
			set(0)
			return 0, 0
		}
		switch req {
		case SIOCINQ:
			set(v.readable)
		case SIOCOUTQ:
			set(v.queued)
		default:
			set(v.unsent)
		}
		return 0, 0
	case SIOCATMARK:
		at := false
		s.do(func(tb *tcp.TCB, now tcp.Time) {
			n, ok := tb.UrgentPending()
			at = ok && n == 1
		})
		set(b2i(at))
		return 0, 0
	}
	return fail(syscall.ENOTTY)
}

package socket

import (
	"net/netip"
	"syscall"
	"time"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// TCP Fast Open (RFC 7413) at the socket API, as Linux offers it: the
// client's sendto/sendmsg with MSG_FASTOPEN on an unconnected socket, and
// TCP_FASTOPEN_CONNECT, whose connect returns 0 at once when a cookie is
// cached and leaves the SYN to the first write; the server's TCP_FASTOPEN
// (the queue of a listener, or net.ipv4.tcp_fastopen's 0x400 for all),
// TCP_FASTOPEN_KEY and TCP_FASTOPEN_NO_COOKIE. Whether the stack's
// net.ipv4.tcp_fastopen allows it is read at each call, as Linux does.

// foOpts are a socket's Fast Open options.
type foOpts struct {
	qlen        int  // TCP_FASTOPEN (fastopenq.max_qlen)
	connect     bool // TCP_FASTOPEN_CONNECT
	noCookie    bool // TCP_FASTOPEN_NO_COOKIE
	key, backup *[16]byte
}

// fastOpenConfig is net.ipv4.tcp_fastopen.
func (s *sock) fastOpenConfig() int { return s.t.st.Config().FastOpen }

// setFastOpenOpt is setsockopt for the Fast Open options; handled is false
// for the others.
func (s *sock) setFastOpenOpt(name int, b []byte) (handled bool, e syscall.Errno) {
	o := &s.o.fo
	if name == TCP_FASTOPEN_KEY {
		// A key, or a key and a backup key (tcp_fastopen_reset_cipher).
		if len(b) != 16 && len(b) != 32 {
			return true, syscall.EINVAL
		}
		k := [16]byte(b[:16])
		o.key, o.backup = &k, nil
		if len(b) == 32 {
			bk := [16]byte(b[16:32])
			o.backup = &bk
		}
		s.fastOpenUpdateListener()
		return true, 0
	}
	switch name {
	case TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_FASTOPEN_NO_COOKIE:
	default:
		return false, 0
	}
	if len(b) < 4 {
		return true, syscall.EINVAL
	}
	val := ParseInt(b)
	v := s.look()
	closedOrListening := s.state == ssListening || s.tcpState(&v) == TCP_CLOSE
	switch name {
	case TCP_FASTOPEN:
		if val < 0 || !closedOrListening {
			return true, syscall.EINVAL
		}
		o.qlen = min(val, s.t.st.SomaxConn()) // fastopen_queue_tune
	case TCP_FASTOPEN_CONNECT:
		switch {
		case val < 0 || val > 1:
			return true, syscall.EINVAL
		case s.fastOpenConfig()&tcp.FastOpenClient == 0:
			return true, syscall.EOPNOTSUPP
		case s.tcpState(&v) != TCP_CLOSE || s.state == ssListening:
			return true, syscall.EINVAL
		}
		o.connect = val == 1
	case TCP_FASTOPEN_NO_COOKIE:
		if val < 0 || val > 1 || !closedOrListening {
			return true, syscall.EINVAL
		}
		o.noCookie = val == 1
	}
	s.fastOpenUpdateListener()
	return true, 0
}

// fastOpenUpdateListener passes the options to a listening socket's
// listener.
func (s *sock) fastOpenUpdateListener() {
	if s.state == ssListening {
		s.ln.SetFastOpen(s.fastOpenListen())
	}
}

// getFastOpenOpt is getsockopt for the Fast Open options (n: the buffer's
// length).
func (s *sock) getFastOpenOpt(name, n int) ([]byte, bool) {
	o := &s.o.fo
	switch name {
	case TCP_FASTOPEN_KEY:
		// The listener's key, or the stack's (tcp_fastopen_get_cipher).
		var key [16]byte
		var backup *[16]byte
		switch {
		case o.key != nil:
			key, backup = *o.key, o.backup
		default:
			key, backup = s.t.st.FastOpenKey()
		}
		b := append([]byte(nil), key[:]...)
		if backup != nil {
			b = append(b, backup[:]...)
		}
		if n >= 0 && n < len(b) {
			b = b[:n]
		}
		return b, true
	case TCP_FASTOPEN:
		return intOut(o.qlen, min(n, 4)), true
	case TCP_FASTOPEN_CONNECT:
		return intOut(b2i(o.connect), min(n, 4)), true
	case TCP_FASTOPEN_NO_COOKIE:
		return intOut(b2i(o.noCookie), min(n, 4)), true
	}
	return nil, false
}

// fastOpenListen is the listener's Fast Open setting at listen(2): the
// queue TCP_FASTOPEN set, or with net.ipv4.tcp_fastopen's 0x400 (and 0x2)
// one as long as the backlog (Linux's inet_listen).
func (s *sock) fastOpenListen() stack.ListenFastOpen {
	return stack.ListenFastOpen{Qlen: s.o.fo.qlen, Key: s.o.fo.key, Backup: s.o.fo.backup, NoCookie: s.o.fo.noCookie}
}

// fastOpenListenBacklog applies net.ipv4.tcp_fastopen's 0x400 at the
// first listen(2) with the given backlog.
func (s *sock) fastOpenListenBacklog(backlog int) {
	const all = tcp.FastOpenServer | tcp.FastOpenServerAll
	if s.o.fo.qlen == 0 && s.fastOpenConfig()&all == all {
		s.o.fo.qlen = min(backlog, s.t.st.SomaxConn())
	}
}

// fastOpenConnect is what connect(2) asks of the stack for Fast Open:
// TCP_FASTOPEN_CONNECT defers the SYN when a cookie is cached, and sends a
// cookie request otherwise (Linux's tcp_fastopen_defer_connect).
func (s *sock) fastOpenConnect() *stack.ConnectFastOpen {
	if !s.o.fo.connect || s.fastOpenConfig()&tcp.FastOpenClient == 0 {
		return nil
	}
	return &stack.ConnectFastOpen{Defer: true, NoCookie: s.o.fo.noCookie}
}

// fastOpenSend is sendto/sendmsg with MSG_FASTOPEN, and any write on a
// socket whose SYN TCP_FASTOPEN_CONNECT held back: Linux's
// tcp_sendmsg_fastopen and the __inet_stream_connect it calls, then the
// rest of tcp_sendmsg_locked. to is the address the call names (hasTo).
func (t *Table) fastOpenSend(name string, f *file, s *sock, iov [][]byte, flags int, to netip.AddrPort, hasTo bool) *Call {
	if s.fastOpenConfig()&tcp.FastOpenClient == 0 || hasTo && !to.IsValid() {
		return t.doneCall(name, -1, syscall.EOPNOTSUPP)
	}
	total := iovLen(iov)
	queued := 0
	var err syscall.Errno
	switch s.state {
	case ssConnected, ssListening:
		return t.doneCall(name, -1, syscall.EISCONN)
	case ssDisconnecting:
		return t.doneCall(name, -1, syscall.EINVAL)
	case ssUnconnected:
		if !hasTo {
			return t.doneCall(name, -1, syscall.EINVAL) // no sockaddr to connect to
		}
		raddr, e := s.sockaddr(to)
		if e != 0 {
			return t.doneCall(name, -1, e)
		}
		fo := &stack.ConnectFastOpen{Data: gather(iov, 0, total), NoCookie: s.o.fo.noCookie}
		conn, cerr := t.st.Connect(stack.ConnectOptions{
			Remote:    raddr,
			Bound:     s.bound,
			ReuseAddr: s.o.reuseAddr,
			MSS:       uint16(s.o.userMSS),
			Setup:     s.setup,
			FastOpen:  fo,
		})
		if cerr != nil {
			return t.doneCall(name, -1, toErrno(cerr))
		}
		s.conn, s.bound, s.state, s.userShut = conn, nil, ssConnecting, 0
		queued, err = fo.Queued, syscall.EINPROGRESS
	case ssConnecting:
		if s.foDeferred {
			// The SYN TCP_FASTOPEN_CONNECT held back goes now.
			s.foDeferred = false
			n, serr := s.conn.SendDeferredSYN(gather(iov, 0, total), s.o.fo.noCookie)
			if serr != nil {
				return t.doneCall(name, -1, toErrno(serr))
			}
			queued, err = n, syscall.EINPROGRESS
		} else {
			err = syscall.EALREADY
		}
	}
	s.resync()
	blocking := !f.nonblock && flags&MSG_DONTWAIT == 0
	canWait := blocking && s.o.sndtimeo != 0
	wait := time.Duration(-1)
	if canWait {
		wait = timeout(s.o.sndtimeo)
	}
	connected := false
	st := &sendState{}
	return t.start(name, wait, func(c *Call, timedOut bool) (bool, int, syscall.Errno) {
		if !connected {
			v := s.look()
			switch s.tcpState(&v) {
			case TCP_SYN_SENT, TCP_SYN_RECV:
				if !canWait || timedOut {
					s.setWritePending(false)
					if err == syscall.EINPROGRESS && queued > 0 {
						return true, queued, 0
					}
					return true, -1, err
				}
				// inet_wait_for_connect, with sk_write_pending counting
				// this writer while it has data left for after the SYN.
				s.setWritePending(queued < total)
				return false, 0, 0
			case TCP_CLOSE:
				s.setWritePending(false)
				return true, -1, s.connectFailed()
			}
			s.setWritePending(false)
			s.state = ssConnected
			connected = true
			st.copied = queued
			if queued == total {
				s.resync()
				return true, queued, 0
			}
		}
		done, n, e := s.sendStep(iov, flags, canWait && !timedOut, st)
		if done {
			s.resync()
		}
		return done, n, e
	})
}

func (s *sock) setWritePending(on bool) {
	s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetWritePending(on) })
}

// fastOpenPoll is tcp_poll's Fast Open cases: a socket whose SYN waits for
// the first write is writable, and a passive Fast Open connection in
// SYN_RCVD reads and writes like an established one.
func (s *sock) fastOpenPoll(state int) (deferred, passive bool) {
	if state == TCP_SYN_SENT && s.foDeferred {
		return true, false
	}
	if state == TCP_SYN_RECV && s.conn != nil {
		s.conn.Do(func(tb *tcp.TCB, now tcp.Time) { passive = tb.FastOpenPassive() })
	}
	return false, passive
}

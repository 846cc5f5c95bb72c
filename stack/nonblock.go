package stack

import (
	"io"
	"net"
	"net/netip"
	"syscall"

	"github.com/synfin/synfin/tcp"
)

// The non-blocking face of the API, for code that drives the stack from a
// single goroutine (the simulator, event loops): calls that would block
// return tcp.ErrWouldBlock (syscall.EAGAIN) instead.

// TryAccept returns a pending connection or tcp.ErrWouldBlock.
func (tl *TCPListener) TryAccept() (*TCPConn, error) {
	s := tl.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if tl.l.closed || s.closed {
		return nil, opError("accept", tl.l.addr, netip.AddrPort{}, net.ErrClosed)
	}
	for len(tl.l.acceptQ) > 0 {
		c := tl.l.acceptQ[0]
		tl.l.acceptQ = forgetAcceptQueueHead(tl.l.acceptQ)
		if c.removed && !c.closedInQueue {
			continue
		}
		c.accepted = true
		c.ln = nil
		return newTCPConn(s, c), nil
	}
	return nil, tcp.ErrWouldBlock
}

// DialAsync starts a connection and returns at once, in SYN_SENT; State
// tells when it is established (or closed, with Err saying why).
func (s *Stack) DialAsync(laddr netip.AddrPort, raddr netip.AddrPort) (*TCPConn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, opError("dial", netip.AddrPort{}, raddr, net.ErrClosed)
	}
	nic, src, ok := s.route(raddr.Addr())
	if !ok || s.badSource(raddr.Addr()) {
		s.mu.Unlock()
		return nil, opError("dial", netip.AddrPort{}, raddr, syscallErr("connect", syscall.ENETUNREACH))
	}
	if laddr.Addr().IsValid() && !laddr.Addr().IsUnspecified() {
		src = laddr.Addr()
	}
	port := laddr.Port()
	if port == 0 {
		if port, ok = s.ephemeralPort(src, raddr); !ok {
			s.mu.Unlock()
			return nil, opError("dial", netip.AddrPort{}, raddr, syscallErr("connect", syscall.EADDRNOTAVAIL))
		}
	}
	key := connKey{local: netip.AddrPortFrom(src, port), remote: raddr}
	if _, used := s.conns[key]; used {
		s.mu.Unlock()
		return nil, opError("dial", key.local, raddr, syscallErr("bind", syscall.EADDRINUSE))
	}
	c, err := s.newConn(key, nic)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	now := s.clock.Now()
	c.tcb.SetNoDelay(now, true)
	s.conns[key] = c
	s.holdPort(key.local, c)
	s.stats.ActiveOpens++
	if err := c.tcb.Connect(now, s.openOptions(key, nic, s.isn.ISN(now, key.local, key.remote))); err != nil {
		s.dropConn(c)
		s.mu.Unlock()
		return nil, opError("dial", key.local, raddr, syscallErr("connect", err))
	}
	s.afterEngine(c)
	tc := newTCPConn(s, c)
	s.unlockAndFlush()
	return tc, nil
}

// State returns the connection's TCP state (CLOSED once it is gone, or in
// TIME_WAIT after it left the connection table).
func (tc *TCPConn) State() tcp.State {
	s := tc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc.c.removed {
		if s.timeWait.get(tc.key) != nil {
			return tcp.TimeWait
		}
		return tcp.Closed
	}
	return tc.c.tcb.State()
}

// Err returns the error that ended the connection, if any.
func (tc *TCPConn) Err() error {
	s := tc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return tc.c.tcb.Err()
}

// TryRead reads what is waiting: (0, tcp.ErrWouldBlock) when nothing is,
// io.EOF after the peer's FIN.
func (tc *TCPConn) TryRead(b []byte) (int, error) {
	s := tc.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, opError("read", tc.key.local, tc.key.remote, net.ErrClosed)
	}
	n, err := tc.c.tcb.Read(s.clock.Now(), b)
	s.afterEngine(tc.c)
	s.unlockAndFlush()
	switch {
	case err == nil || err == tcp.ErrWouldBlock || err == io.EOF:
		return n, err
	case err == syscall.ENOTCONN && tc.c.removed:
		return 0, io.EOF
	}
	return n, opError("read", tc.key.local, tc.key.remote, syscallErr("read", err))
}

// TryWrite queues what fits in the send buffer: a short count (maybe 0, with
// tcp.ErrWouldBlock) when it is full.
func (tc *TCPConn) TryWrite(b []byte) (int, error) {
	s := tc.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, opError("write", tc.key.local, tc.key.remote, net.ErrClosed)
	}
	n, err := tc.c.tcb.Write(s.clock.Now(), b)
	s.afterEngine(tc.c)
	s.unlockAndFlush()
	if err != nil {
		return n, opError("write", tc.key.local, tc.key.remote, syscallErr("write", err))
	}
	if n == 0 && len(b) > 0 {
		return 0, tcp.ErrWouldBlock
	}
	return n, nil
}

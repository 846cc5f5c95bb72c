package stack

import (
	"net/netip"
	"syscall"

	"github.com/synfin/synfin/tcp"
)

// The socket face of the stack, for package socket (the Linux socket API in
// virtual time): port reservations for bind(2), connect(2) and listen(2)
// with the socket's options applied before the first segment, and access to
// a connection's TCB under the stack's lock. Errors are syscall.Errno values.

// Reservation is a local address and port held by bind(2) for a socket that
// neither listens nor is connected yet. Other binds and listens see it as
// Linux sees a bound socket: they conflict unless both sides set
// SO_REUSEADDR; Connect and ListenSocket take it over.
type Reservation struct {
	s         *Stack
	addr      netip.AddrPort
	reuseAddr bool
	released  bool
}

// Reserve binds addr: an unspecified address means any, port 0 picks a free
// port from the ephemeral range. It fails with EADDRNOTAVAIL when the
// address is not one of the stack's and EADDRINUSE when the port is taken.
func (s *Stack) Reserve(addr netip.AddrPort, reuseAddr bool) (*Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, syscall.EINVAL
	}
	a := addr.Addr()
	if !a.IsUnspecified() && !s.isLocal(a) {
		return nil, syscall.EADDRNOTAVAIL
	}
	port := addr.Port()
	if port == 0 {
		p, ok := s.freePort(a)
		if !ok {
			return nil, syscall.EADDRINUSE
		}
		port = p
	} else if s.bindConflict(addr, reuseAddr, false) {
		return nil, syscall.EADDRINUSE
	}
	r := &Reservation{s: s, addr: netip.AddrPortFrom(a, port), reuseAddr: reuseAddr}
	pu := s.portUse(port)
	pu.binds = append(pu.binds, r)
	return r, nil
}

// Addr returns the reserved address and port.
func (r *Reservation) Addr() netip.AddrPort { return r.addr }

// Release gives the port back (close(2) of a bound socket).
func (r *Reservation) Release() {
	r.s.mu.Lock()
	r.releaseLocked()
	r.s.mu.Unlock()
}

func (r *Reservation) releaseLocked() {
	if r.released {
		return
	}
	r.released = true
	p := r.s.ports[r.addr.Port()]
	if p == nil {
		return
	}
	for i, b := range p.binds {
		if b == r {
			p.binds = append(p.binds[:i], p.binds[i+1:]...)
			break
		}
	}
	if p.empty() {
		delete(r.s.ports, r.addr.Port())
		r.s.ports = shrinkAfterDelete(r.s.ports, &r.s.peaks.ports)
	}
}

// IsLocal reports whether a is one of the stack's addresses.
func (s *Stack) IsLocal(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isLocal(a)
}

// SomaxConn returns the cap on listen backlogs (net.core.somaxconn).
func (s *Stack) SomaxConn() int { return s.opts.SomaxConn }

// ConnectOptions configure Connect.
type ConnectOptions struct {
	// Remote is the peer.
	Remote netip.AddrPort
	// Bound is the socket's bind(2) reservation, or nil: the connection then
	// uses the route's source address and an ephemeral port. On success the
	// reservation is handed over to the connection (and released).
	Bound *Reservation
	// ReuseAddr is SO_REUSEADDR (inherited by the TIME_WAIT entry).
	ReuseAddr bool
	// MSS, if not 0, caps the MSS announced in the SYN and the send MSS
	// (TCP_MAXSEG set before connect).
	MSS uint16
	// Setup is called with the new TCB before the SYN is sent, to apply the
	// socket's options. It must not call back into the stack.
	Setup func(t *tcp.TCB, now tcp.Time)
	// FastOpen, if set, asks for TCP Fast Open (RFC 7413; fastopen.go) and
	// receives what became of the data.
	FastOpen *ConnectFastOpen
}

// Connect starts an active open for a socket (connect(2)) and returns at
// once, in SYN_SENT. Unlike DialAsync it sets no option of its own (no
// TCP_NODELAY). Errors: ENETUNREACH without a route, EADDRNOTAVAIL when no
// port is free or the bound 4-tuple is in use.
func (s *Stack) Connect(o ConnectOptions) (*TCPConn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, syscall.EINVAL
	}
	raddr := o.Remote
	nic, src, ok := s.route(raddr.Addr())
	if !ok {
		s.stats.NoRoute++
		s.mu.Unlock()
		return nil, syscall.ENETUNREACH
	}
	var port uint16
	if r := o.Bound; r != nil && !r.released {
		if a := r.addr.Addr(); !a.IsUnspecified() {
			if a.Is4() != raddr.Addr().Is4() {
				s.mu.Unlock()
				return nil, syscall.ENETUNREACH
			}
			src = a
		}
		port = r.addr.Port()
		k := connKey{local: netip.AddrPortFrom(src, port), remote: raddr}
		_, used := s.conns[k]
		tw := s.timeWait.get(k) != nil
		if used || tw {
			s.mu.Unlock()
			return nil, syscall.EADDRNOTAVAIL
		}
	} else {
		p, ok := s.ephemeralPort(src, raddr)
		if !ok {
			s.mu.Unlock()
			return nil, syscall.EADDRNOTAVAIL
		}
		port = p
	}
	key := connKey{local: netip.AddrPortFrom(src, port), remote: raddr}
	c, err := s.newConn(key, nic)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	c.reuseAddr = o.ReuseAddr
	now := s.clock.Now()
	if o.Setup != nil {
		o.Setup(c.tcb, now)
	}
	opts := s.openOptions(key, nic, s.isn.ISN(now, key.local, key.remote))
	if o.MSS != 0 && o.MSS < opts.MSS {
		opts.MSS = o.MSS
	}
	if o.Bound != nil {
		o.Bound.releaseLocked()
	}
	s.conns[key] = c
	s.holdPort(key.local, c)
	s.stats.ActiveOpens++
	connect := func() error { return c.tcb.Connect(now, opts) }
	if o.FastOpen != nil {
		connect = func() error { return s.connectFastOpen(c, now, opts, o.FastOpen) }
	}
	if err := connect(); err != nil {
		s.dropConn(c)
		s.mu.Unlock()
		return nil, err
	}
	s.afterEngine(c)
	tc := newTCPConn(s, c)
	s.unlockAndFlush()
	return tc, nil
}

// ListenOptions configure ListenSocket.
type ListenOptions struct {
	// Addr is the address to listen on when Bound is nil (unspecified: any;
	// port 0: an ephemeral port, as listen(2) on an unbound socket does).
	Addr netip.AddrPort
	// Bound is the socket's bind(2) reservation, taken over on success.
	Bound *Reservation
	// ReuseAddr is SO_REUSEADDR.
	ReuseAddr bool
	// Backlog is the most connections the accept queue holds (at least 1;
	// Linux's listen(fd, n) holds n+1, which the caller works out).
	Backlog int
	// Inherit is called with each passive open's TCB before it answers the
	// SYN, to apply the listening socket's options (Linux clones them into
	// the child). Nil means none (not even TCP_NODELAY).
	Inherit func(t *tcp.TCB, now tcp.Time)
	// FastOpen is the listener's TCP Fast Open setting (fastopen.go).
	FastOpen ListenFastOpen
}

// ListenSocket starts listening for a socket (listen(2)). Errors:
// EADDRNOTAVAIL, EADDRINUSE.
func (s *Stack) ListenSocket(o ListenOptions) (*TCPListener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, syscall.EINVAL
	}
	ap := o.Addr
	if o.Bound != nil && !o.Bound.released {
		ap = o.Bound.addr
		o.Bound.releaseLocked()
	}
	fail := func(err error) (*TCPListener, error) {
		if o.Bound != nil && o.Bound.released {
			// Put the reservation back: the socket stays bound.
			o.Bound.released = false
			pu := s.portUse(o.Bound.addr.Port())
			pu.binds = append(pu.binds, o.Bound)
		}
		return nil, err
	}
	if !ap.Addr().IsUnspecified() && !s.isLocal(ap.Addr()) {
		return fail(syscall.EADDRNOTAVAIL)
	}
	if ap.Port() == 0 {
		p, ok := s.freePort(ap.Addr())
		if !ok {
			return fail(syscall.EADDRINUSE)
		}
		ap = netip.AddrPortFrom(ap.Addr(), p)
	} else if s.bindConflict(ap, o.ReuseAddr, true) || s.listeners[ap] != nil {
		return fail(syscall.EADDRINUSE)
	}
	backlog := max(o.Backlog, 1)
	l := &listener{s: s, addr: ap, backlog: backlog}
	l.setFastOpen(o.FastOpen)
	inherit := o.Inherit
	if inherit == nil {
		inherit = func(*tcp.TCB, tcp.Time) {}
	}
	tl := &TCPListener{s: s, l: l, reuseAddr: o.ReuseAddr, inherit: inherit}
	l.user = tl
	s.listeners[ap] = l
	s.holdPort(ap, l)
	return tl, nil
}

// AddrPort returns the listening address.
func (tl *TCPListener) AddrPort() netip.AddrPort { return tl.l.addr }

// SetBacklog changes the accept queue's capacity (listen(2) again on a
// listening socket).
func (tl *TCPListener) SetBacklog(n int) {
	tl.s.mu.Lock()
	tl.l.backlog = max(n, 1)
	tl.s.mu.Unlock()
}

// Backlog returns the accept queue's capacity.
func (tl *TCPListener) Backlog() int {
	tl.s.mu.Lock()
	defer tl.s.mu.Unlock()
	return tl.l.backlog
}

// Pending returns the number of connections waiting in the accept queue.
func (tl *TCPListener) Pending() int {
	tl.s.mu.Lock()
	defer tl.s.mu.Unlock()
	n := 0
	for _, c := range tl.l.acceptQ {
		if !c.removed || c.closedInQueue {
			n++
		}
	}
	return n
}

// LocalAddrPort returns the connection's local address.
func (tc *TCPConn) LocalAddrPort() netip.AddrPort { return tc.key.local }

// RemoteAddrPort returns the peer's address.
func (tc *TCPConn) RemoteAddrPort() netip.AddrPort { return tc.key.remote }

// Do calls f with the connection's TCB and the stack's clock reading, under
// the stack's lock, then sends what the engine emitted and reschedules its
// timers: the way to reach engine calls the net.Conn API does not offer
// (TCP_CORK, MSG_MORE, MSG_PEEK, SIOCOUTQ...). f must not call back into
// the stack.
func (tc *TCPConn) Do(f func(t *tcp.TCB, now tcp.Time)) {
	tc.withTCB(f)
}

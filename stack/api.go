package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp"
)

// Errors carry the shapes package net uses: *net.OpError wrapping an
// *os.SyscallError wrapping a syscall.Errno, so errors.Is(err,
// syscall.ECONNRESET) and net.Error's Timeout work as with kernel sockets.

func opError(op string, local, remote netip.AddrPort, err error) error {
	oe := &net.OpError{Op: op, Net: "tcp", Err: err}
	if local.IsValid() {
		oe.Source = net.TCPAddrFromAddrPort(local)
	}
	if remote.IsValid() {
		oe.Addr = net.TCPAddrFromAddrPort(remote)
	}
	return oe
}

func syscallErr(call string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError(call, errno)
	}
	return err
}

// parseAddr resolves "host:port" where host is an IP literal or empty (any).
// synfin has no resolver: names other than "localhost" are an error.
func parseAddr(network, address string, listen bool) (netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return netip.AddrPort{}, net.UnknownNetworkError(network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: address}
	}
	var addr netip.Addr
	switch {
	case host == "" && listen:
		addr = netip.IPv6Unspecified()
		if network == "tcp4" {
			addr = netip.IPv4Unspecified()
		}
	case host == "":
		return netip.AddrPort{}, &net.AddrError{Err: "missing address", Addr: address}
	default:
		addr, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, &net.DNSError{Err: "synfin has no resolver; use an IP address", Name: host, IsNotFound: true}
		}
	}
	addr = addr.Unmap()
	if network == "tcp4" && !addr.Is4() || network == "tcp6" && addr.Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "address family mismatch for " + network, Addr: address}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// ListenConfig holds options for Listen, like net.ListenConfig.
type ListenConfig struct {
	// ReuseAddr sets SO_REUSEADDR (Go's net package sets it on listeners by
	// default, so the zero value here means on).
	NoReuseAddr bool
	// Backlog is the listen(2) backlog, capped at somaxconn (default 4096,
	// Go's default too).
	Backlog int
}

// Listen announces on the stack's address (network "tcp", "tcp4" or "tcp6";
// address "ip:port", ":port" for any), like net.Listen.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	ln, err := s.ListenConfig(ListenConfig{}, network, address)
	if err != nil {
		return nil, err // not a nil *TCPListener in a non-nil interface
	}
	return ln, nil
}

// netName makes an error name the network the caller asked for ("tcp4"),
// as package net's errors do.
func netName(err *error, network string) {
	if oe, ok := (*err).(*net.OpError); ok && network != "" {
		oe.Net = network
	}
}

// ListenConfig is Listen with options.
func (s *Stack) ListenConfig(lc ListenConfig, network, address string) (_ *TCPListener, err error) {
	defer netName(&err, network)
	ap, err := parseAddr(network, address, true)
	if err != nil {
		return nil, opError("listen", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, opError("listen", ap, netip.AddrPort{}, net.ErrClosed)
	}
	if !ap.Addr().IsUnspecified() && !s.isLocal(ap.Addr()) {
		return nil, opError("listen", ap, netip.AddrPort{}, syscallErr("bind", syscall.EADDRNOTAVAIL))
	}
	reuse := !lc.NoReuseAddr
	// Go sets IPV6_V6ONLY on "tcp6" sockets: the IPv6 wildcard then takes
	// IPv6 only.
	v6only := network == "tcp6" && ap.Addr().IsUnspecified()
	if ap.Port() == 0 {
		p, ok := s.freePort(ap.Addr())
		if !ok {
			return nil, opError("listen", ap, netip.AddrPort{}, syscallErr("bind", syscall.EADDRINUSE))
		}
		ap = netip.AddrPortFrom(ap.Addr(), p)
	} else if s.bindConflictV6Only(ap, reuse, true, v6only) {
		return nil, opError("listen", ap, netip.AddrPort{}, syscallErr("bind", syscall.EADDRINUSE))
	}
	backlog := lc.Backlog
	if backlog <= 0 || backlog > s.opts.SomaxConn {
		backlog = s.opts.SomaxConn
	}
	l := &listener{s: s, addr: ap, backlog: backlog, v6only: v6only}
	tl := &TCPListener{s: s, l: l, reuseAddr: reuse}
	l.user = tl
	s.listeners[ap] = l
	s.holdPort(ap, l)
	return tl, nil
}

// freePort picks an unused port from the ephemeral range for bind(port 0).
func (s *Stack) freePort(addr netip.Addr) (uint16, bool) {
	lo, hi := uint32(s.opts.EphemeralPorts[0]), uint32(s.opts.EphemeralPorts[1])
	n := hi - lo + 1
	start := s.nextEph
	for i := uint32(0); i < n; i++ {
		p := uint16(lo + (start+i)%n)
		if !s.bindConflict(netip.AddrPortFrom(addr, p), false, true) {
			s.nextEph += i + 1
			return p, true
		}
	}
	return 0, false
}

// TCPListener is a listening socket; it implements net.Listener.
type TCPListener struct {
	s         *Stack
	l         *listener
	reuseAddr bool
	mu        sync.Mutex
	dl        time.Time
	// inherit, when set (ListenSocket), replaces the default inheritance.
	inherit func(t *tcp.TCB, now tcp.Time)
}

// applyInherited sets what an accepted connection inherits: TCP_NODELAY,
// which Go's net package sets on every TCP connection.
func (tl *TCPListener) applyInherited(tcb *tcp.TCB) {
	if tl.inherit != nil {
		tl.inherit(tcb, tl.s.clock.Now())
		return
	}
	tcb.SetNoDelay(tcb.Now(), true)
}

// Accept waits for and returns the next connection.
func (tl *TCPListener) Accept() (net.Conn, error) { return tl.AcceptTCP() }

// AcceptTCP is Accept returning the concrete type.
func (tl *TCPListener) AcceptTCP() (*TCPConn, error) {
	s := tl.s
	for {
		s.mu.Lock()
		if tl.l.closed || s.closed {
			s.mu.Unlock()
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
			tc := newTCPConn(s, c)
			s.mu.Unlock()
			return tc, nil
		}
		ch := tl.l.wait()
		tl.mu.Lock()
		dl := tl.dl
		tl.mu.Unlock()
		s.mu.Unlock()
		if err := waitUntil(s, ch, dl, nil); err != nil {
			return nil, opError("accept", tl.l.addr, netip.AddrPort{}, err)
		}
	}
}

// Close stops listening. Connections not yet accepted are reset, as Linux
// does.
func (tl *TCPListener) Close() error {
	s := tl.s
	s.mu.Lock()
	if tl.l.closed {
		s.mu.Unlock()
		return opError("close", tl.l.addr, netip.AddrPort{}, net.ErrClosed)
	}
	tl.l.closed = true
	if s.listeners[tl.l.addr] == tl.l {
		delete(s.listeners, tl.l.addr)
	}
	s.releasePort(tl.l.addr, tl.l)
	now := s.clock.Now()
	for _, c := range s.connList() {
		if c.ln == tl.l && !c.accepted {
			c.tcb.Abort(now)
			s.dropConn(c)
		}
	}
	tl.l.acceptQ = nil
	tl.l.wakeAll()
	s.unlockAndFlush()
	return nil
}

// Addr returns the listening address.
func (tl *TCPListener) Addr() net.Addr { return net.TCPAddrFromAddrPort(tl.l.addr) }

// SetDeadline sets the deadline for Accept.
func (tl *TCPListener) SetDeadline(t time.Time) error {
	tl.mu.Lock()
	tl.dl = t
	tl.mu.Unlock()
	tl.s.mu.Lock()
	tl.l.wakeAll()
	tl.s.mu.Unlock()
	return nil
}

// waitUntil blocks until ch is closed, the deadline passes
// (os.ErrDeadlineExceeded) or ctx is done.
func waitUntil(s *Stack, ch <-chan struct{}, deadline time.Time, ctx context.Context) error {
	var timeout <-chan struct{}
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		tch := make(chan struct{})
		t := s.clock.AfterFunc(d, func() { close(tch) })
		defer t.Stop()
		timeout = tch
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-ch:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-done:
		return ctx.Err()
	}
}

// Dial connects to address ("ip:port"), like net.Dial.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext connects with a context, like net.Dialer.DialContext. The
// signature fits http.Transport.DialContext.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.DialTCP(ctx, network, netip.AddrPort{}, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCP connects from an optional local address.
func (s *Stack) DialTCP(ctx context.Context, network string, laddr netip.AddrPort, address string) (_ *TCPConn, err error) {
	defer netName(&err, network)
	if ctx == nil {
		ctx = context.Background()
	}
	// Like package net, dial errors name the local address only when the
	// caller chose one.
	raddr, err := parseAddr(network, address, false)
	if err != nil {
		return nil, opError("dial", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, opError("dial", netip.AddrPort{}, raddr, net.ErrClosed)
	}
	nic, src, ok := s.route(raddr.Addr())
	if !ok || s.badSource(raddr.Addr()) {
		// No route, or a broadcast or multicast destination, which TCP must
		// refuse (RFC 9293 MUST-46; Linux answers ENETUNREACH).
		s.stats.NoRoute++
		s.mu.Unlock()
		return nil, opError("dial", laddr, raddr, syscallErr("connect", syscall.ENETUNREACH))
	}
	if laddr.IsValid() && laddr.Addr().IsValid() && !laddr.Addr().IsUnspecified() {
		if !s.isLocal(laddr.Addr()) {
			s.mu.Unlock()
			return nil, opError("dial", laddr, raddr, syscallErr("bind", syscall.EADDRNOTAVAIL))
		}
		src = laddr.Addr()
	}
	var port uint16
	if laddr.IsValid() && laddr.Port() != 0 {
		port = laddr.Port()
		k := connKey{local: netip.AddrPortFrom(src, port), remote: raddr}
		if _, used := s.conns[k]; used || s.bindConflict(k.local, false, false) {
			s.mu.Unlock()
			return nil, opError("dial", laddr, raddr, syscallErr("bind", syscall.EADDRINUSE))
		}
	} else {
		p, ok := s.ephemeralPort(src, raddr)
		if !ok {
			s.mu.Unlock()
			return nil, opError("dial", netip.AddrPort{}, raddr, syscallErr("connect", syscall.EADDRNOTAVAIL))
		}
		port = p
	}
	key := connKey{local: netip.AddrPortFrom(src, port), remote: raddr}
	now := s.clock.Now()
	c, err := s.newConn(key, nic)
	if err != nil {
		s.mu.Unlock()
		return nil, opError("dial", laddr, raddr, err)
	}
	c.tcb.SetNoDelay(now, true) // Go's net sets TCP_NODELAY on every TCP conn
	s.conns[key] = c
	s.holdPort(key.local, c)
	s.stats.ActiveOpens++
	isn := s.isn.ISN(now, key.local, key.remote)
	if err := c.tcb.Connect(now, s.openOptions(key, nic, isn)); err != nil {
		s.dropConn(c)
		s.mu.Unlock()
		return nil, opError("dial", laddr, raddr, syscallErr("connect", err))
	}
	s.afterEngine(c)
	tc := newTCPConn(s, c)
	for {
		switch st := c.tcb.State(); {
		case st == tcp.Established || st == tcp.CloseWait:
			s.unlockAndFlush()
			return tc, nil
		case c.removed || st == tcp.Closed:
			err := c.tcb.Err()
			if err == nil {
				err = syscall.ECONNREFUSED
			}
			s.unlockAndFlush()
			return nil, opError("dial", laddr, raddr, syscallErr("connect", err))
		}
		ch := c.wait()
		s.unlockAndFlush()
		var dl time.Time
		if d, ok := ctx.Deadline(); ok {
			dl = d
		}
		werr := waitUntil(s, ch, dl, ctx)
		s.mu.Lock()
		if werr != nil {
			// Give up: drop the half-open connection (Linux sends nothing
			// from SYN_SENT).
			c.tcb.Abort(s.clock.Now())
			s.afterEngine(c)
			s.dropConn(c)
			s.unlockAndFlush()
			if errors.Is(werr, os.ErrDeadlineExceeded) || errors.Is(werr, context.DeadlineExceeded) {
				werr = os.ErrDeadlineExceeded
			}
			return nil, opError("dial", laddr, raddr, werr)
		}
	}
}

// TCPConn is a TCP connection on a synfin stack. It implements net.Conn and
// the optional methods of *net.TCPConn.
type TCPConn struct {
	s   *Stack
	c   *conn
	key connKey

	mu         sync.Mutex
	rdl, wdl   time.Time
	closed     bool
	reuseAddr  bool
	readClosed bool
}

func newTCPConn(s *Stack, c *conn) *TCPConn {
	tc := &TCPConn{s: s, c: c, key: c.key, reuseAddr: c.reuseAddr}
	c.user = tc
	return tc
}

// LocalAddr returns the local address.
func (tc *TCPConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(tc.key.local) }

// RemoteAddr returns the peer's address.
func (tc *TCPConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(tc.key.remote) }

func (tc *TCPConn) isClosed() bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.closed
}

// Read reads data, blocking until some arrives, like net.Conn.Read.
func (tc *TCPConn) Read(b []byte) (int, error) {
	s := tc.s
	for {
		if tc.isClosed() {
			return 0, opError("read", tc.key.local, tc.key.remote, net.ErrClosed)
		}
		if deadlinePassed(tc.readDeadline()) {
			// As in package net, a past deadline fails even with data waiting.
			return 0, opError("read", tc.key.local, tc.key.remote, os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		if s.closed {
			// Stack.Close aborted the connection: not an orderly EOF.
			s.mu.Unlock()
			return 0, opError("read", tc.key.local, tc.key.remote, net.ErrClosed)
		}
		n, err := tc.c.tcb.Read(s.clock.Now(), b)
		if err != tcp.ErrWouldBlock {
			s.afterEngine(tc.c)
			s.unlockAndFlush()
			switch {
			case err == nil:
				return n, nil
			case err == io.EOF:
				return 0, io.EOF
			case err == syscall.ENOTCONN && tc.c.removed:
				return 0, io.EOF
			default:
				return 0, opError("read", tc.key.local, tc.key.remote, syscallErr("read", err))
			}
		}
		// Nothing to read: lend b to the engine, which copies data that
		// arrives meanwhile straight into it (tcp/directread.go).
		lent := tc.c.tcb.LendRead(b)
		ch := tc.c.wait()
		s.mu.Unlock()
		tc.mu.Lock()
		dl := tc.rdl
		tc.mu.Unlock()
		werr := waitUntil(s, ch, dl, nil)
		if lent {
			// Take the buffer back whatever woke us: bytes placed in it
			// have left the stream and must be returned.
			s.mu.Lock()
			n := tc.c.tcb.ReturnRead()
			if !s.closed {
				s.afterEngine(tc.c)
			}
			s.unlockAndFlush()
			if n > 0 {
				return n, nil
			}
		}
		if werr != nil {
			return 0, opError("read", tc.key.local, tc.key.remote, werr)
		}
	}
}

// Write writes data, blocking until all of it is queued, like net.Conn.Write.
func (tc *TCPConn) Write(b []byte) (int, error) {
	s := tc.s
	written := 0
	for {
		if tc.isClosed() {
			return written, opError("write", tc.key.local, tc.key.remote, net.ErrClosed)
		}
		if deadlinePassed(tc.writeDeadline()) {
			return written, opError("write", tc.key.local, tc.key.remote, os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return written, opError("write", tc.key.local, tc.key.remote, net.ErrClosed)
		}
		st := tc.c.tcb.State()
		if st == tcp.SynSent || st == tcp.SynReceived {
			// Wait for the handshake, as a blocking socket does.
			ch := tc.c.wait()
			s.mu.Unlock()
			if werr := waitUntil(s, ch, tc.writeDeadline(), nil); werr != nil {
				return written, opError("write", tc.key.local, tc.key.remote, werr)
			}
			continue
		}
		n, err := tc.c.tcb.Write(s.clock.Now(), b[written:])
		written += n
		s.afterEngine(tc.c)
		if err != nil {
			s.unlockAndFlush()
			return written, opError("write", tc.key.local, tc.key.remote, syscallErr("write", err))
		}
		if written == len(b) {
			s.unlockAndFlush()
			return written, nil
		}
		ch := tc.c.wait()
		s.unlockAndFlush()
		if werr := waitUntil(s, ch, tc.writeDeadline(), nil); werr != nil {
			return written, opError("write", tc.key.local, tc.key.remote, werr)
		}
	}
}

func (tc *TCPConn) readDeadline() time.Time {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.rdl
}

// deadlinePassed reports whether a deadline is set and has passed.
func deadlinePassed(dl time.Time) bool { return !dl.IsZero() && !time.Now().Before(dl) }

func (tc *TCPConn) writeDeadline() time.Time {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.wdl
}

// Close closes the connection: FIN after the queued data, or RST when unread
// data is pending or SO_LINGER is 0 (Linux semantics).
func (tc *TCPConn) Close() error {
	tc.mu.Lock()
	if tc.closed {
		tc.mu.Unlock()
		return opError("close", tc.key.local, tc.key.remote, net.ErrClosed)
	}
	tc.closed = true
	tc.mu.Unlock()
	s := tc.s
	s.mu.Lock()
	tc.c.tcb.Close(s.clock.Now())
	s.afterEngine(tc.c)
	tc.c.wakeAll()
	s.unlockAndFlush()
	return nil
}

// CloseWrite shuts down the sending side (shutdown(SHUT_WR)): the peer reads
// EOF after the data, and this side can still read.
func (tc *TCPConn) CloseWrite() error { return tc.shutdown(tcp.ShutWrite, "close") }

// CloseRead shuts down the reading side (shutdown(SHUT_RD)).
func (tc *TCPConn) CloseRead() error { return tc.shutdown(tcp.ShutRead, "close") }

func (tc *TCPConn) shutdown(how tcp.ShutdownHow, op string) error {
	if tc.isClosed() {
		return opError(op, tc.key.local, tc.key.remote, net.ErrClosed)
	}
	s := tc.s
	s.mu.Lock()
	err := tc.c.tcb.Shutdown(s.clock.Now(), how)
	s.afterEngine(tc.c)
	tc.c.wakeAll()
	s.unlockAndFlush()
	if err != nil {
		return opError(op, tc.key.local, tc.key.remote, syscallErr("shutdown", err))
	}
	return nil
}

// SetDeadline sets both deadlines.
func (tc *TCPConn) SetDeadline(t time.Time) error {
	tc.mu.Lock()
	tc.rdl, tc.wdl = t, t
	tc.mu.Unlock()
	tc.poke()
	return nil
}

// SetReadDeadline sets the deadline for Read.
func (tc *TCPConn) SetReadDeadline(t time.Time) error {
	tc.mu.Lock()
	tc.rdl = t
	tc.mu.Unlock()
	tc.poke()
	return nil
}

// SetWriteDeadline sets the deadline for Write.
func (tc *TCPConn) SetWriteDeadline(t time.Time) error {
	tc.mu.Lock()
	tc.wdl = t
	tc.mu.Unlock()
	tc.poke()
	return nil
}

// poke wakes blocked calls so they re-read their deadlines.
func (tc *TCPConn) poke() {
	tc.s.mu.Lock()
	tc.c.wakeAll()
	tc.s.mu.Unlock()
}

func (tc *TCPConn) withTCB(f func(t *tcp.TCB, now time.Duration)) {
	s := tc.s
	s.mu.Lock()
	f(tc.c.tcb, s.clock.Now())
	s.afterEngine(tc.c)
	s.unlockAndFlush()
}

// SetNoDelay sets TCP_NODELAY (on by default, as in package net).
func (tc *TCPConn) SetNoDelay(noDelay bool) error {
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetNoDelay(now, noDelay) })
	return nil
}

// SetLinger sets SO_LINGER like (*net.TCPConn).SetLinger: sec < 0 is the
// default (close in the background), 0 discards unsent data and resets,
// sec > 0 is treated like the default (the data is still delivered).
func (tc *TCPConn) SetLinger(sec int) error {
	tc.withTCB(func(t *tcp.TCB, now time.Duration) {
		t.SetLinger(sec >= 0, time.Duration(max(sec, 0))*time.Second)
	})
	return nil
}

// SetKeepAlive enables keep-alive probes with the default timing (15 s, as
// package net uses, rather than the 2 h kernel default).
func (tc *TCPConn) SetKeepAlive(on bool) error {
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetKeepAlive(now, on, 15*time.Second, 15*time.Second, 9) })
	return nil
}

// SetKeepAlivePeriod sets the idle time and interval of keep-alive probes.
func (tc *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetKeepAlive(now, true, d, d, 9) })
	return nil
}

// SetKeepAliveConfig applies a net.KeepAliveConfig (Go 1.23+ semantics:
// zero fields take defaults, negative ones keep the current value off).
func (tc *TCPConn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	idle, intvl, cnt := cfg.Idle, cfg.Interval, cfg.Count
	if idle == 0 {
		idle = 15 * time.Second
	}
	if intvl == 0 {
		intvl = 15 * time.Second
	}
	if cnt == 0 {
		cnt = 9
	}
	if idle < 0 || intvl < 0 || cnt < 0 {
		if idle < 0 {
			idle = 0
		}
		if intvl < 0 {
			intvl = 0
		}
		if cnt < 0 {
			cnt = 0
		}
	}
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetKeepAlive(now, cfg.Enable, idle, intvl, cnt) })
	return nil
}

// SetReadBuffer sets SO_RCVBUF.
func (tc *TCPConn) SetReadBuffer(bytes int) error {
	if bytes < 0 {
		return opError("set", tc.key.local, tc.key.remote, syscallErr("setsockopt", syscall.EINVAL))
	}
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetReadBuffer(bytes) })
	return nil
}

// SetWriteBuffer sets SO_SNDBUF.
func (tc *TCPConn) SetWriteBuffer(bytes int) error {
	if bytes < 0 {
		return opError("set", tc.key.local, tc.key.remote, syscallErr("setsockopt", syscall.EINVAL))
	}
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetWriteBuffer(bytes) })
	return nil
}

// SetTOS sets the IPv4 TOS byte or IPv6 traffic class of the connection's
// packets (IP_TOS / IPV6_TCLASS; the Differentiated Services field, RFC 9293
// MUST-48).
func (tc *TCPConn) SetTOS(tos uint8) error {
	tc.s.mu.Lock()
	tc.c.ip.tos = tos
	tc.s.mu.Unlock()
	return nil
}

// SetTTL sets the IPv4 TTL or IPv6 hop limit of the connection's packets
// (IP_TTL / IPV6_UNICAST_HOPS; RFC 9293 MUST-49). 0 restores the default.
func (tc *TCPConn) SetTTL(ttl uint8) error {
	tc.s.mu.Lock()
	tc.c.ip.ttl = ttl
	tc.s.mu.Unlock()
	return nil
}

// SetUserTimeout sets TCP_USER_TIMEOUT.
func (tc *TCPConn) SetUserTimeout(d time.Duration) error {
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { t.SetUserTimeout(d) })
	return nil
}

// Info returns TCP_INFO.
func (tc *TCPConn) Info() tcp.Info {
	var info tcp.Info
	tc.withTCB(func(t *tcp.TCB, now time.Duration) { info = t.Info() })
	return info
}

// String describes the connection.
func (tc *TCPConn) String() string {
	return fmt.Sprintf("synfin tcp %v->%v", tc.key.local, tc.key.remote)
}

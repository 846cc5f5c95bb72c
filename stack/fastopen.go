package stack

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// TCP Fast Open (RFC 7413) in the host: the client's cookie cache and the
// server's cookie key and checks, as Linux keeps them (tcp_metrics,
// tcp_fastopen.c). The engine (tcp/fastopen.go) carries the decisions out.

// fastOpenCacheSize bounds the client's cookie cache (Linux keeps the
// cookies in the TCP metrics cache, which is bounded too).
const fastOpenCacheSize = 1024

// foCacheKey names a cache entry: the local and remote addresses, as
// Linux's tcp_metrics are keyed.
type foCacheKey struct{ local, remote netip.Addr }

// foCacheEntry is what the client remembers of a server (Linux's
// tcp_fastopen_metrics).
type foCacheEntry struct {
	mss    uint16
	cookie wire.FastOpen // Len 0: none
	// tryExp: 1 after a cookie request went unanswered (try the
	// experimental option), 2 after that one did too (back to RFC 7413).
	tryExp      uint8
	synLoss     int
	lastSynLoss time.Duration
}

// stackFastOpen is the stack's Fast Open state.
type stackFastOpen struct {
	cache map[foCacheKey]*foCacheEntry
	order []foCacheKey // insertion order, for eviction
	// key is the server key (net.ipv4.tcp_fastopen_key); backup, if set,
	// is still accepted (a cookie made with it is replaced by a fresh one).
	key    [16]byte
	backup *[16]byte
	// children are the passive Fast Open connections still counted in
	// their listener's queue (listenerFastOpen.pending), until their
	// handshake is over.
	children map[*conn]*listener
}

// listenerFastOpen is a listener's Fast Open setting.
type listenerFastOpen struct {
	// qlen is the most Fast Open connections whose handshake is not over
	// (TCP_FASTOPEN; Linux's fastopenq.max_qlen). 0: no Fast Open.
	qlen    int
	pending int
	// key is the listener's own key (TCP_FASTOPEN_KEY), if set.
	key      *[16]byte
	backup   *[16]byte
	noCookie bool // TCP_FASTOPEN_NO_COOKIE
}

// initFastOpen keys the server cookies with a key derived from the
// stack's secret until one is set (Linux picks a random one).
func (s *Stack) initFastOpen() {
	if s.fo.cache != nil {
		return
	}
	s.fo.cache = map[foCacheKey]*foCacheEntry{}
	for i := 0; i < 4; i++ {
		binary.LittleEndian.PutUint32(s.fo.key[4*i:], s.isn.Hash([]byte{'t', 'f', 'o', byte(i)}))
	}
}

// SetFastOpenKey sets the key of the server cookies
// (net.ipv4.tcp_fastopen_key, "primary[,backup]"): cookies made with
// backup are still accepted, and answered with a fresh one.
func (s *Stack) SetFastOpenKey(primary [16]byte, backup *[16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initFastOpen()
	s.fo.key = primary
	s.fo.backup = nil
	if backup != nil {
		b := *backup
		s.fo.backup = &b
	}
}

// FastOpenKey returns the server key and the backup key, if any.
func (s *Stack) FastOpenKey() ([16]byte, *[16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initFastOpen()
	return s.fo.key, s.fo.backup
}

// FlushFastOpenCache forgets every cached cookie (ip tcp_metrics flush).
func (s *Stack) FlushFastOpenCache() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fo.cache = nil
	s.fo.order = nil
	key, backup := s.fo.key, s.fo.backup
	s.initFastOpen()
	s.fo.key, s.fo.backup = key, backup
}

// ConnectFastOpen asks Connect for TCP Fast Open (RFC 7413 4.1): with
// sendto(MSG_FASTOPEN) or TCP_FASTOPEN_CONNECT.
type ConnectFastOpen struct {
	// Data is what the application wants to send; the SYN takes what
	// fits if a cookie is cached (or none is needed).
	Data []byte
	// Defer is TCP_FASTOPEN_CONNECT: with a cookie cached, send nothing
	// until the first write (SendDeferredSYN).
	Defer bool
	// NoCookie is TCP_FASTOPEN_NO_COOKIE: data goes without a cookie.
	NoCookie bool

	// Queued is set to how many bytes of Data the SYN carries.
	Queued int
	// Deferred is set when the SYN was held back.
	Deferred bool
}

// fastOpenPlan is Linux's tcp_fastopen_cookie_check: the cached cookie
// and MSS for the peer, and whether the SYN may carry data.
func (s *Stack) fastOpenPlan(key connKey, noCookie bool) tcp.FastOpenConnect {
	s.initFastOpen()
	var fo tcp.FastOpenConnect
	e := s.fo.cache[foCacheKey{key.local.Addr(), key.remote.Addr()}]
	if e != nil {
		fo.MSS = e.mss
	}
	switch {
	case noCookie || s.cfg.FastOpen&tcp.FastOpenClientNoCookie != 0:
		fo.Mode = tcp.FastOpenNoCookie
	case e != nil && e.cookie.Len > 0:
		fo.Mode, fo.Cookie = tcp.FastOpenWithCookie, e.cookie
	default:
		fo.Mode = tcp.FastOpenRequest
		fo.Cookie.Exp = e != nil && e.tryExp == 1
	}
	return fo
}

// connectFastOpen is the engine's active open for Connect when Fast Open
// is asked for.
func (s *Stack) connectFastOpen(c *conn, now time.Duration, opts tcp.OpenOptions, o *ConnectFastOpen) error {
	fo := s.fastOpenPlan(c.key, o.NoCookie)
	fo.Data = o.Data
	// tcp_fastopen_defer_connect: only when data could go in the SYN.
	fo.Defer = o.Defer && fo.Mode != tcp.FastOpenRequest
	n, err := c.tcb.ConnectFastOpen(now, opts, fo)
	o.Queued, o.Deferred = n, fo.Defer && err == nil
	return err
}

// SendDeferredSYN sends the SYN that TCP_FASTOPEN_CONNECT held back with as
// much of data as fits (the cookie cache is consulted again; noCookie is
// TCP_FASTOPEN_NO_COOKIE), and returns how many bytes it queued. EALREADY:
// no SYN was held back.
func (tc *TCPConn) SendDeferredSYN(data []byte, noCookie bool) (int, error) {
	var n int
	var err error
	tc.withTCB(func(t *tcp.TCB, now time.Duration) {
		fo := tc.s.fastOpenPlan(tc.c.key, noCookie)
		fo.Data = data
		n, err = t.SendDeferredSYN(now, fo)
	})
	return n, err
}

// fastOpenCacheSet records what a SYN-ACK taught (Linux's
// tcp_fastopen_cache_set).
func (s *Stack) fastOpenCacheSet(c *conn, r *tcp.FastOpenReport) {
	s.initFastOpen()
	k := foCacheKey{c.key.local.Addr(), c.key.remote.Addr()}
	e := s.fo.cache[k]
	if e == nil {
		if len(s.fo.order) >= fastOpenCacheSize {
			delete(s.fo.cache, s.fo.order[0])
			s.fo.order = append(s.fo.order[:0], s.fo.order[1:]...)
		}
		e = &foCacheEntry{}
		s.fo.cache[k] = e
		s.fo.order = append(s.fo.order, k)
	}
	if r.MSS != 0 {
		e.mss = r.MSS
	}
	switch {
	case r.Cookie.Present && r.Cookie.Len > 0:
		e.cookie = r.Cookie
	case r.TryExp > e.tryExp && e.cookie.Len == 0 && !e.cookie.Exp:
		e.tryExp = r.TryExp
	}
	if r.SynLost {
		e.synLoss++
		e.lastSynLoss = s.clock.Now()
	} else {
		e.synLoss = 0
	}
}

// ListenFastOpen is a listener's Fast Open setting (RFC 7413 4.2).
type ListenFastOpen struct {
	// Qlen is TCP_FASTOPEN: how many Fast Open connections may be waiting
	// for the end of their handshake at once (0: none, Fast Open off).
	Qlen int
	// Key, if set, is the listener's own cookie key (TCP_FASTOPEN_KEY),
	// and Backup a second key still accepted.
	Key, Backup *[16]byte
	// NoCookie is TCP_FASTOPEN_NO_COOKIE: data in SYNs is accepted
	// without a cookie.
	NoCookie bool
}

func (l *listener) setFastOpen(fo ListenFastOpen) {
	l.fo.qlen, l.fo.noCookie = fo.Qlen, fo.NoCookie
	l.fo.key, l.fo.backup = nil, nil
	if fo.Key != nil {
		k := *fo.Key
		l.fo.key = &k
	}
	if fo.Backup != nil {
		k := *fo.Backup
		l.fo.backup = &k
	}
}

// SetFastOpen changes the listener's Fast Open setting (setsockopt
// TCP_FASTOPEN, TCP_FASTOPEN_KEY or TCP_FASTOPEN_NO_COOKIE on a listening
// socket).
func (tl *TCPListener) SetFastOpen(fo ListenFastOpen) {
	tl.s.mu.Lock()
	tl.l.setFastOpen(fo)
	tl.s.mu.Unlock()
}

// FastOpenKey returns the key the listener's cookies are made with: its
// own, or the stack's.
func (tl *TCPListener) FastOpenKey() ([16]byte, *[16]byte) {
	if k := tl.fastOpenOwnKey(); k != nil {
		tl.s.mu.Lock()
		defer tl.s.mu.Unlock()
		return *k, tl.l.fo.backup
	}
	return tl.s.FastOpenKey()
}

func (tl *TCPListener) fastOpenOwnKey() *[16]byte {
	tl.s.mu.Lock()
	defer tl.s.mu.Unlock()
	return tl.l.fo.key
}

// fastOpenPassive decides what Fast Open does with a SYN to listener l
// before the engine sees it (Linux's tcp_try_fastopen, RFC 7413 4.2): a
// valid cookie (or none needed) makes c a Fast Open connection that takes
// the SYN's data; a cookie request or an invalid cookie gets a valid
// cookie in the SYN-ACK and the data is dropped.
func (s *Stack) fastOpenPassive(l *listener, c *conn, seg *tcp.Segment) {
	foc := seg.Options.FastOpen
	if len(seg.Payload) == 0 && !foc.Present {
		return
	}
	if s.cfg.FastOpen&tcp.FastOpenServer == 0 || l.fo.qlen == 0 || l.fo.pending >= l.fo.qlen {
		if l.fo.qlen != 0 && l.fo.pending >= l.fo.qlen {
			s.stats.FastOpenListenOverflows++
		}
		return
	}
	if l.fo.noCookie || s.cfg.FastOpen&tcp.FastOpenServerNoCookie != 0 {
		s.fastOpenChild(l, c, wire.FastOpen{})
		return
	}
	if !foc.Present {
		return
	}
	s.initFastOpen()
	key, backup := s.fo.key, s.fo.backup
	if l.fo.key != nil {
		key, backup = *l.fo.key, l.fo.backup
	}
	src, dst := c.key.remote.Addr(), c.key.local.Addr()
	valid := tcp.FastOpenCookie(key, src, dst)
	valid.Exp = foc.Exp
	switch {
	case foc.Len == 0:
		// A cookie request (RFC 7413 4.1.1).
		s.stats.FastOpenCookieRequests++
		c.tcb.SetSynAckCookie(valid)
	case foc == valid:
		s.fastOpenChild(l, c, wire.FastOpen{})
	case backup != nil && foc == withExp(tcp.FastOpenCookie(*backup, src, dst), foc.Exp):
		// A cookie made with the previous key: accepted, and replaced.
		s.fastOpenChild(l, c, valid)
	default:
		// RFC 7413 4.2.2: an invalid cookie; the data is dropped and a
		// valid cookie goes back.
		s.stats.FastOpenPassiveFails++
		c.tcb.SetSynAckCookie(valid)
	}
}

func withExp(c wire.FastOpen, exp bool) wire.FastOpen {
	c.Exp = exp
	return c
}

// fastOpenChild makes c a passive Fast Open connection.
func (s *Stack) fastOpenChild(l *listener, c *conn, cookie wire.FastOpen) {
	s.stats.FastOpenPassive++
	l.fo.pending++
	if s.fo.children == nil {
		s.fo.children = map[*conn]*listener{}
	}
	s.fo.children[c] = l
	c.tcb.AcceptFastOpen(cookie)
}

// fastOpenLeftSynRcvd stops counting a Fast Open connection in its
// listener's queue once its handshake is over or it died (Linux's
// reqsk_fastopen_remove).
func (s *Stack) fastOpenLeftSynRcvd(c *conn) {
	if l, ok := s.fo.children[c]; ok {
		delete(s.fo.children, c)
		if l.fo.pending > 0 {
			l.fo.pending--
		}
	}
}

// fastOpenEvent handles the engine's Fast Open events for c; it reports
// whether it did.
func (s *Stack) fastOpenEvent(c *conn, ev tcp.Event) bool {
	switch ev.Kind {
	case tcp.EventFastOpen:
		if ev.FastOpen != nil {
			s.fastOpenCacheSet(c, ev.FastOpen)
		}
		return true
	case tcp.EventStateChange:
		if ev.Old == tcp.SynReceived {
			s.fastOpenLeftSynRcvd(c)
		}
	}
	return false
}

package stack

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"

	"github.com/synfin/synfin/internal/wheel"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// connKey is a TCP 4-tuple as seen from this host.
type connKey struct {
	local, remote netip.AddrPort
}

func (k connKey) less(o connKey) bool {
	if c := k.local.Compare(o.local); c != 0 {
		return c < 0
	}
	return k.remote.Compare(o.remote) < 0
}

// conn is one connection: the engine's TCB plus what the host keeps for it.
// It is the TCB's Output, so segments and events come back to it.
type conn struct {
	s     *Stack
	key   connKey
	tcb   *tcp.TCB
	nic   *NIC
	timer wheel.Entry
	// ln is the listener a passive open belongs to until it is accepted.
	ln       *listener
	accepted bool
	// user is set once a TCPConn has been handed out; closed when the user
	// closed it.
	user   *TCPConn
	waitCh chan struct{}
	// mute suppresses output while a SYN cookie connection is rebuilt.
	mute bool
	// batched: the connection is holding its ACK until the end of the
	// current batch of arriving packets.
	batched bool
	// ip holds the IP header fields set on the connection (IP_TOS, IP_TTL).
	ip ipFields
	// capComment holds state changes not yet attached to a captured packet.
	capComment []byte
	// reuseAddr is SO_REUSEADDR, inherited by the TIME_WAIT entry.
	reuseAddr bool
	removed   bool
	// phantom: the throw-away TCB that builds a SYN cookie's SYN-ACK; it is
	// no connection, so its state changes are not reported.
	phantom bool
	// closedInQueue: the connection died while waiting in the accept
	// queue, and waits there still (dropConn).
	closedInQueue bool
	// pathMTU is the path MTU learned from ICMP (0: the link's MTU).
	pathMTU uint16
}

// Segment implements tcp.Output: serialise and queue for transmission.
// TxBlocked implements tcp.TxBlocker: the stack's transmit switch
// (SetTxBlocked).
func (c *conn) TxBlocked() bool { return c.s.txBlocked.Load() }

// ScratchSegment implements tcp.SegmentScratch: the stack's engines run
// under its lock and Segment serialises each segment before returning, so
// they share one scratch segment instead of carrying one each.
func (c *conn) ScratchSegment() *tcp.Segment { return &c.s.scratchSeg }

func (c *conn) Segment(seg *tcp.Segment) {
	if c.mute {
		return
	}
	c.s.outComment, c.capComment = c.capComment, c.capComment[:0]
	c.s.sendTCPWith(c.nic, c.key.local, c.key.remote, seg, c.ip)
	c.s.outComment = nil
}

// Event implements tcp.Output.
func (c *conn) Event(ev tcp.Event) {
	if c.phantom {
		return
	}
	s := c.s
	if s.fastOpenEvent(c, ev) {
		return
	}
	switch ev.Kind {
	case tcp.EventStateChange:
		s.noteStateChange(c.key, ev)
		switch ev.New {
		case tcp.Closed:
			s.pendingRemove(c)
		case tcp.TimeWait:
			s.pendingRemove(c)
		case tcp.Listen:
			// A passive open that got an RST in SYN_RCVD or gave up: forget it.
			if ev.Old == tcp.SynReceived {
				s.pendingRemove(c)
			}
		}
		c.wakeAll()
	case tcp.EventAccepted:
		if c.ln != nil && !c.ln.closed {
			c.ln.synQueue--
			c.ln.acceptQ = append(c.ln.acceptQ, c)
			c.ln.wakeAll()
		}
	default:
		c.wakeAll()
	}
}

// wakeAll wakes every goroutine waiting on this connection.
func (c *conn) wakeAll() {
	if c.waitCh != nil {
		close(c.waitCh)
		c.waitCh = nil
	}
}

// wait returns a channel closed at the next event (called with s.mu held).
func (c *conn) wait() <-chan struct{} {
	if c.waitCh == nil {
		c.waitCh = make(chan struct{})
	}
	return c.waitCh
}

// pendingRemove takes a finished connection out of the tables. Called from
// inside engine callbacks, so it only unlinks; afterEngine finishes the job.
func (s *Stack) pendingRemove(c *conn) {
	if c.removed {
		return
	}
	c.removed = true
}

// afterEngine is called after every engine call on c: it moves c to TIME_WAIT
// or removes it when it is done, and reschedules its timer.
func (s *Stack) afterEngine(c *conn) {
	if c.removed {
		// Only the first time: a TCB stays in TIME_WAIT after it left the
		// table, and later user calls on it must not create new entries.
		if s.conns[c.key] == c {
			if tw, ok := c.tcb.TimeWaitRecord(); ok && !s.closed {
				s.enterTimeWait(c, tw)
			}
		}
		s.dropConn(c)
		return
	}
	if at, ok := c.tcb.Deadline(); ok {
		s.wheel.Schedule(&c.timer, at)
	} else {
		s.wheel.Cancel(&c.timer)
	}
}

// dropConn unlinks c from every table.
func (s *Stack) dropConn(c *conn) {
	c.removed = true
	s.wheel.Cancel(&c.timer)
	if s.conns[c.key] == c {
		delete(s.conns, c.key)
		s.conns = shrinkAfterDelete(s.conns, &s.peaks.conns)
		s.releasePort(c.key.local, c)
	}
	if c.ln != nil {
		if !c.accepted {
			if c.tcb.State() == tcp.SynReceived || c.tcb.State() == tcp.Listen || !c.inAcceptQueue() {
				if !c.inAcceptQueue() {
					c.ln.synQueue--
					if c.ln.synQueue < 0 {
						c.ln.synQueue = 0
					}
				}
			}
			if c.inAcceptQueue() && !c.ln.closed && !s.closed {
				// Like Linux, a connection that dies (reset, ICMP error)
				// while in the accept queue stays there: accept returns
				// it, with its data still to read and then its error.
				c.closedInQueue = true
			} else {
				c.ln.removeFromQueue(c)
			}
		}
		c.ln = nil
	}
	c.wakeAll()
}

func (c *conn) inAcceptQueue() bool {
	if c.ln == nil {
		return false
	}
	for _, q := range c.ln.acceptQ {
		if q == c {
			return true
		}
	}
	return false
}

// twEntry is a connection in TIME_WAIT, kept compactly: no TCB, no buffers.
type twEntry struct {
	key       connKey
	tw        tcp.TimeWaitRecord
	timer     wheel.Entry
	nic       *NIC
	reuseAddr bool
}

func (s *Stack) enterTimeWait(c *conn, tw tcp.TimeWaitRecord) {
	e := &twEntry{key: c.key, tw: tw, nic: c.nic, reuseAddr: c.reuseAddr}
	e.timer.Value = e
	s.timeWait.put(e)
	s.holdPort(c.key.local, e)
	s.wheel.Schedule(&e.timer, tw.Expires)
}

func (s *Stack) expireTimeWait(e *twEntry, now time.Duration) {
	if now < e.tw.Expires {
		s.wheel.Schedule(&e.timer, e.tw.Expires)
		return
	}
	s.noteStateChange(e.key, tcp.Event{Kind: tcp.EventStateChange, Old: tcp.TimeWait, New: tcp.Closed, Cause: tcp.CauseTimeWaitExpired})
	s.removeTimeWait(e)
}

func (s *Stack) removeTimeWait(e *twEntry) {
	s.wheel.Cancel(&e.timer)
	if s.timeWait.remove(e) {
		s.releasePort(e.key.local, e)
	}
}

// listener is a passive OPEN on an address and port.
type listener struct {
	s        *Stack
	addr     netip.AddrPort // address may be unspecified (any)
	backlog  int
	synQueue int // connections in SYN_RCVD
	acceptQ  []*conn
	waitCh   chan struct{}
	closed   bool
	user     *TCPListener
	// v6only: an IPv6 wildcard listener that takes no IPv4 (IPV6_V6ONLY).
	v6only bool
	// fo is the listener's TCP Fast Open setting (fastopen.go).
	fo listenerFastOpen
}

func (l *listener) wakeAll() {
	if l.waitCh != nil {
		close(l.waitCh)
		l.waitCh = nil
	}
}

func (l *listener) wait() <-chan struct{} {
	if l.waitCh == nil {
		l.waitCh = make(chan struct{})
	}
	return l.waitCh
}

func (l *listener) removeFromQueue(c *conn) {
	for i, q := range l.acceptQ {
		if q == c {
			l.acceptQ = deleteFromAcceptQueue(l.acceptQ, i)
			return
		}
	}
}

// portUse records who holds a local port, for bind(2)'s rules: listeners
// individually (there are few), connections and TIME_WAIT entries as counts
// per local address (there may be millions, and each must stay small).
type portUse struct {
	listeners []*listener
	binds     []*Reservation // reserved by an explicit bind, not yet connected
	conns     []addrCount
	tws       []addrCount
}

type addrCount struct {
	addr    netip.Addr
	n       int32
	noReuse int32 // holders without SO_REUSEADDR
}

func (p *portUse) empty() bool {
	return len(p.listeners) == 0 && len(p.binds) == 0 && len(p.conns) == 0 && len(p.tws) == 0
}

func countAdd(list []addrCount, a netip.Addr, reuse bool, delta int32) []addrCount {
	for i := range list {
		if list[i].addr == a {
			list[i].n += delta
			if !reuse {
				list[i].noReuse += delta
			}
			if list[i].n <= 0 {
				return append(list[:i], list[i+1:]...)
			}
			return list
		}
	}
	if delta > 0 {
		c := addrCount{addr: a, n: delta}
		if !reuse {
			c.noReuse = delta
		}
		list = append(list, c)
	}
	return list
}

func (s *Stack) portUse(port uint16) *portUse {
	p := s.ports[port]
	if p == nil {
		p = &portUse{}
		s.ports[port] = p
	}
	return p
}

func (s *Stack) holdPort(ap netip.AddrPort, who any) {
	p := s.portUse(ap.Port())
	switch w := who.(type) {
	case *listener:
		p.listeners = append(p.listeners, w)
	case *conn:
		p.conns = countAdd(p.conns, ap.Addr(), w.reuseAddr, 1)
	case *twEntry:
		p.tws = countAdd(p.tws, ap.Addr(), w.reuseAddr, 1)
	}
}

func (s *Stack) releasePort(ap netip.AddrPort, who any) {
	p := s.ports[ap.Port()]
	if p == nil {
		return
	}
	switch w := who.(type) {
	case *listener:
		for i, l := range p.listeners {
			if l == w {
				p.listeners = append(p.listeners[:i], p.listeners[i+1:]...)
				break
			}
		}
	case *conn:
		p.conns = countAdd(p.conns, ap.Addr(), w.reuseAddr, -1)
	case *twEntry:
		p.tws = countAdd(p.tws, ap.Addr(), w.reuseAddr, -1)
	}
	if p.empty() {
		delete(s.ports, ap.Port())
		s.ports = shrinkAfterDelete(s.ports, &s.peaks.ports)
	}
}

func overlaps(a, b netip.Addr) bool {
	if a.IsUnspecified() || b.IsUnspecified() {
		return a.Is4() == b.Is4() || a.Is6() && a.IsUnspecified() || b.Is6() && b.IsUnspecified()
	}
	return a == b
}

// bindConflict applies Linux's bind rules: a port is taken when another
// socket holds it on the same or a wildcard address, unless both set
// SO_REUSEADDR and the other is not listening (TIME_WAIT entries and
// connections inherit SO_REUSEADDR from the socket they came from).
func (s *Stack) bindConflict(ap netip.AddrPort, reuseAddr, listening bool) bool {
	return s.bindConflictV6Only(ap, reuseAddr, listening, false)
}

// bindConflictV6Only is bindConflict for a socket that may be IPV6_V6ONLY
// on the IPv6 wildcard: it then shares the port with IPv4 holders, as a
// v6only listener does with IPv4 binds.
func (s *Stack) bindConflictV6Only(ap netip.AddrPort, reuseAddr, listening, v6only bool) bool {
	p := s.ports[ap.Port()]
	if p == nil {
		return false
	}
	a := ap.Addr()
	for _, l := range p.listeners {
		if l.v6only && a.Is4() || v6only && l.addr.Addr().Is4() {
			continue
		}
		if overlaps(l.addr.Addr(), a) {
			return true
		}
	}
	for _, list := range [][]addrCount{p.conns, p.tws} {
		for _, c := range list {
			if !overlaps(c.addr, a) || v6only && c.addr.Is4() {
				continue
			}
			if !reuseAddr || c.noReuse > 0 {
				return true
			}
		}
	}
	for _, b := range p.binds {
		if overlaps(b.addr.Addr(), a) && (!reuseAddr || !b.reuseAddr) {
			return true
		}
	}
	return false
}

// ephemeralPort picks a local port for a connection to remote from local, by
// RFC 6056 Algorithm 3 (a keyed hash of the addresses chooses where to start
// searching; a counter spreads successive connections).
func (s *Stack) ephemeralPort(local netip.Addr, remote netip.AddrPort) (uint16, bool) {
	lo, hi := uint32(s.opts.EphemeralPorts[0]), uint32(s.opts.EphemeralPorts[1])
	n := hi - lo + 1
	var buf [38]byte
	l16, r16 := local.As16(), remote.Addr().As16()
	copy(buf[0:16], l16[:])
	copy(buf[16:32], r16[:])
	binary.BigEndian.PutUint16(buf[32:], remote.Port())
	binary.BigEndian.PutUint32(buf[34:], 0x5eed)
	offset := s.isn.Hash(buf[:])
	for i := uint32(0); i < n; i++ {
		port := uint16(lo + (offset+s.nextEph+i)%n)
		k := connKey{local: netip.AddrPortFrom(local, port), remote: remote}
		if _, used := s.conns[k]; used {
			continue
		}
		if s.timeWait.get(k) != nil {
			continue
		}
		if p := s.ports[port]; p != nil && s.portHasListenerOrBind(p, local) {
			continue
		}
		s.nextEph += i + 1
		return port, true
	}
	return 0, false
}

func (s *Stack) portHasListenerOrBind(p *portUse, local netip.Addr) bool {
	for _, l := range p.listeners {
		if overlaps(l.addr.Addr(), local) {
			return true
		}
	}
	return len(p.binds) > 0
}

// newConn creates a connection record with a fresh TCB.
func (s *Stack) newConn(key connKey, nic *NIC) (*conn, error) {
	c := &conn{s: s, key: key, nic: nic}
	c.timer.Value = c
	tcb, err := tcp.New(s.cfg, c)
	if err != nil {
		return nil, err
	}
	tcb.SetChallengeLimiter(&s.challenge)
	c.tcb = tcb
	return c, nil
}

// openOptions are the per-connection values the stack chooses.
func (s *Stack) openOptions(key connKey, nic *NIC, isn uint32) tcp.OpenOptions {
	hdr := 40
	if key.local.Addr().Is6() {
		hdr = 60
	}
	mss := nic.mtu - hdr
	if mss > 65535 {
		mss = 65535
	}
	o := tcp.OpenOptions{
		ISN:      isn,
		MSS:      uint16(mss),
		TSOffset: s.isn.TSOffset(key.local.Addr(), key.remote.Addr()),
	}
	if hdr == 60 {
		// RFC 9293 MUST-15: without an MSS option, assume IPv6's minimum
		// MTU less headers.
		o.DefaultMSS = 1220
	}
	return o
}

// inputTCP demultiplexes one TCP segment (RFC 9293 3.10.7): to its
// connection, its TIME_WAIT entry, a listener, or an RST.
// inputTCP takes the TCP segment pkt, from src to dst. A segment that
// arrived in two pieces (inputSplit) has only its header in pkt and its
// payload in tail.
func (s *Stack) inputTCP(nic *NIC, src, dst netip.Addr, pkt, tail []byte, ecn wire.ECN, now time.Duration) {
	th, err := wire.ParseTCP(pkt)
	if err != nil {
		s.stats.BadTCPHeader++
		return
	}
	payload := th.Payload()
	if tail != nil {
		payload = tail
	}
	key := connKey{local: netip.AddrPortFrom(dst, th.DstPort()), remote: netip.AddrPortFrom(src, th.SrcPort())}
	c := s.conns[key]
	staged := false
	if !nic.off.RxChecksumValid {
		var ok bool
		if ok, staged = verifyTCP(c, th, payload, src, dst); !ok {
			s.stats.BadTCPChecksum++
			return
		}
	}
	var seg tcp.Segment
	if err := th.ParseOptions(&seg.Options); err != nil {
		// RFC 9293 MUST-68/69: a malformed option list is treated as a bad
		// segment and dropped.
		if staged {
			c.tcb.Unstage()
		}
		s.stats.BadTCPOptions++
		return
	}
	seg.Seq, seg.Ack, seg.Flags, seg.Window, seg.Urgent = th.Seq(), th.Ack(), th.Flags(), th.Window(), th.Urgent()
	seg.Payload = payload
	seg.ECN = ecn // the IP header's ECN field (RFC 3168 5), for the engine

	if c != nil {
		if !c.batched {
			// One ACK for all this connection's segments in the batch
			// (RFC 9293 MUST-59): released at the end of deliver.
			c.batched = true
			c.tcb.HoldAck()
			s.batch = append(s.batch, c)
		}
		c.tcb.Input(now, &seg)
		s.afterEngine(c)
		return
	}
	if e := s.timeWait.get(key); e != nil {
		reply, send, v := e.tw.Input(now, s.cfg, &seg)
		if send {
			s.sendTCP(e.nic, key.local, key.remote, &reply)
		}
		switch v {
		case tcp.TimeWaitClose:
			s.noteStateChange(key, tcp.Event{Kind: tcp.EventStateChange, Old: tcp.TimeWait, New: tcp.Closed, Cause: tcp.CauseResetReceived})
			s.removeTimeWait(e)
		case tcp.TimeWaitNewSYN:
			if l := s.findListener(key.local); l != nil {
				s.stats.TimeWaitReused++
				isn := e.tw.NextISN()
				s.removeTimeWait(e)
				s.passiveOpen(l, nic, key, &seg, now, isn)
				return
			}
			reply := e.tw
			r, _, _ := reply.Input(now, s.cfg, &tcp.Segment{Flags: wire.FlagACK, Seq: e.tw.RcvNxt + 1})
			s.sendTCP(e.nic, key.local, key.remote, &r)
		default:
			s.wheel.Schedule(&e.timer, e.tw.Expires)
		}
		return
	}
	if l := s.findListener(key.local); l != nil {
		s.inputListener(l, nic, key, &seg, now)
		return
	}
	s.sendReset(nic, key, &seg)
}

// stageMin is the smallest payload whose checksum check is done while
// copying it into the receive buffer (verifyTCP): below it the second pass
// costs less than arranging the first.
const stageMin = 512

// verifyTCP checks the checksum of the segment with header th (options
// included) and payload, from src to dst (RFC 9293 3.1); payload follows th
// or, for a segment in two pieces, is elsewhere. For a large payload of
// connection c it has the engine copy the payload into place while summing
// it (tcp.TCB.StagePayload), and reports staged: the segment must then be
// passed to c's Input, or the staging undone.
func verifyTCP(c *conn, th wire.TCP, payload []byte, src, dst netip.Addr) (ok, staged bool) {
	// The header is a multiple of four octets long, so its sum and the
	// payload's add up to the segment's.
	hdr := th[:len(th)-len(th.Payload())]
	sum := wire.Checksum(hdr, wire.PseudoHeaderSum(wire.ProtoTCP, src, dst, len(hdr)+len(payload)))
	if c != nil && len(payload) >= stageMin {
		if psum, staged := c.tcb.StagePayload(th.Seq(), payload, sum); staged {
			if wire.FoldChecksum(psum) != 0 {
				c.tcb.Unstage()
				return false, false
			}
			return true, true
		}
	}
	return wire.FoldChecksum(wire.Checksum(payload, sum)) == 0, false
}

func (s *Stack) findListener(local netip.AddrPort) *listener {
	if l := s.listeners[local]; l != nil && !l.closed {
		return l
	}
	any4 := netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())
	any6 := netip.AddrPortFrom(netip.IPv6Unspecified(), local.Port())
	if local.Addr().Is4() {
		if l := s.listeners[any4]; l != nil && !l.closed {
			return l
		}
	}
	// An IPv6 wildcard listener also accepts IPv4 (dual stack, like Linux
	// with net.ipv6.bindv6only=0), unless it is IPV6_V6ONLY.
	if l := s.listeners[any6]; l != nil && !l.closed && !(l.v6only && local.Addr().Is4()) {
		return l
	}
	return nil
}

// sendReset answers a segment that has no connection (RFC 9293 3.10.7.1).
func (s *Stack) sendReset(nic *NIC, key connKey, seg *tcp.Segment) {
	rst, ok := tcp.ResetFor(seg)
	if !ok {
		return
	}
	s.stats.ResetsSent++
	s.sendTCP(nic, key.local, key.remote, &rst)
}

// inputListener handles a segment for a listening port (RFC 9293 3.10.7.2),
// with Linux's queues and SYN cookies.
func (s *Stack) inputListener(l *listener, nic *NIC, key connKey, seg *tcp.Segment, now time.Duration) {
	f := seg.Flags
	switch {
	case f&wire.FlagRST != 0:
		return
	case f&wire.FlagACK != 0 && f&wire.FlagSYN == 0:
		// Possibly the ACK completing a SYN-cookie handshake.
		if s.opts.Syncookies != 0 && s.tryCookie(l, nic, key, seg, now) {
			return
		}
		s.sendReset(nic, key, seg)
		return
	case f&wire.FlagACK != 0:
		s.sendReset(nic, key, seg)
		return
	case f&wire.FlagSYN == 0:
		return
	}
	if len(l.acceptQ) >= l.backlog {
		// Linux drops SYNs while the accept queue is full.
		s.stats.ListenOverflows++
		s.stats.ListenDrops++
		return
	}
	if s.opts.Syncookies == 2 || (l.synQueue >= l.backlog && s.opts.Syncookies == 1) {
		s.sendCookie(l, nic, key, seg, now)
		return
	}
	if l.synQueue >= l.backlog {
		s.stats.ListenDrops++
		return
	}
	isn := s.isn.ISN(now, key.local, key.remote)
	s.passiveOpen(l, nic, key, seg, now, isn)
}

// passiveOpen creates a connection for a SYN to listener l.
func (s *Stack) passiveOpen(l *listener, nic *NIC, key connKey, seg *tcp.Segment, now time.Duration, isn uint32) {
	c, err := s.newConn(key, nic)
	if err != nil {
		return
	}
	if l.user != nil {
		c.reuseAddr = l.user.reuseAddr
		l.user.applyInherited(c.tcb)
	}
	if err := c.tcb.Listen(now, s.openOptions(key, nic, isn)); err != nil {
		return
	}
	c.ln = l
	l.synQueue++
	s.conns[key] = c
	s.holdPort(key.local, c)
	s.stats.PassiveOpen++
	s.fastOpenPassive(l, c, seg)
	c.tcb.Input(now, seg)
	s.afterEngine(c)
}

// ensure syscall is referenced for errors used by other files.
var _ = syscall.EADDRINUSE

package socket

import (
	"net/netip"
	"sort"
	"sync/atomic"
	"syscall"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// sstate is the BSD socket state (struct socket's state): what connect,
// listen and accept look at, separately from the TCP state.
type sstate uint8

const (
	ssUnconnected   sstate = iota // SS_UNCONNECTED, TCP_CLOSE: fresh, bound, or after a failed connect
	ssListening                   // SS_UNCONNECTED in TCP_LISTEN
	ssConnecting                  // SS_CONNECTING
	ssConnected                   // SS_CONNECTED (and accepted sockets)
	ssDisconnecting               // SS_DISCONNECTING: shutdown of a failed connect
)

// sk_shutdown bits.
const (
	rcvShutdown  = 1
	sendShutdown = 2
	shutdownMask = rcvShutdown | sendShutdown
)

// sock is a TCP socket.
type sock struct {
	t      *Table
	f      *file
	family int
	state  sstate
	// bound is the bind(2) reservation while the socket is unconnected.
	bound *stack.Reservation
	// bindAddr is the address bind(2) chose; portLocked is Linux's
	// SOCK_BINDPORT_LOCK: bind named the port, so it stays bound when a
	// connection attempt fails or shutdown stops a listener.
	bindAddr   netip.AddrPort
	portLocked bool
	ln         *stack.TCPListener
	conn       *stack.TCPConn
	// userShut are the sk_shutdown bits set by shutdown(2).
	userShut int
	o        opts
	// pub is a snapshot of o for the listener's inherit hook.
	pub atomic.Pointer[opts]
	// accepted counts the connections accept took off the listener, so
	// that pending+accepted only grows as connections are queued.
	accepted uint64
	// nospace is SOCK_NOSPACE: a write found no room, or poll found the
	// socket not writable. The next write-space wake-up needs it.
	nospace bool
	snap    snapshot
	// foDeferred: TCP_FASTOPEN_CONNECT's connect held the SYN back for the
	// first write (fastopen.go; Linux's defer_connect).
	foDeferred bool
}

func newSock(t *Table, family int) *sock {
	s := &sock{t: t, family: family}
	s.o.init()
	return s
}

// view is what the socket layer reads from the TCB in one go.
type view struct {
	conn     bool
	state    tcp.State
	readable int
	fin      bool // the peer's FIN has been received (SOCK_DONE)
	err      bool // a hard error is pending (sk_err)
	soft     bool
	queued   int // sk_wmem_queued, in bytes: unacknowledged + unsent
	unsent   int // write_seq - snd_nxt
	sndbuf   int
	rcvbuf   int
	mss      int
	sndWnd   uint32
	rcvNxt   uint32
	sndUna   uint32
	urgent   bool
}

func (s *sock) look() view {
	v := view{sndbuf: s.o.sndbufOr(s.t), rcvbuf: s.o.rcvbufOr(s.t)}
	if s.conn == nil {
		return v
	}
	v.conn = true
	s.conn.Do(func(tb *tcp.TCB, now tcp.Time) {
		v.state = tb.State()
		v.readable = tb.Readable()
		v.fin = tb.FinReceived()
		v.err = tb.Err() != nil
		v.soft = tb.SoftError() != nil
		v.queued = tb.Queued()
		v.unsent = tb.Unsent()
		// sk_sndbuf is the option's value (v.sndbuf above): the engine's
		// buffer is larger by sndbufSlack.
		v.rcvbuf = tb.ReadBuffer()
		info := tb.Info()
		v.mss = info.SndMSS
		v.sndWnd = info.SndWnd
		v.rcvNxt = info.RcvNxt
		v.sndUna = info.SndUna
		_, v.urgent = tb.UrgentPending()
	})
	return v
}

// tcpState is sk_state as Linux numbers it. An fd whose connection went
// into TIME_WAIT sees TCP_CLOSE: Linux hands TIME_WAIT to a mini-socket.
func (s *sock) tcpState(v *view) int {
	switch s.state {
	case ssUnconnected:
		return TCP_CLOSE
	case ssListening:
		return TCP_LISTEN
	}
	return linuxState(v.state)
}

func linuxState(st tcp.State) int {
	switch st {
	case tcp.Established:
		return TCP_ESTABLISHED
	case tcp.SynSent:
		return TCP_SYN_SENT
	case tcp.SynReceived:
		return TCP_SYN_RECV
	case tcp.FinWait1:
		return TCP_FIN_WAIT1
	case tcp.FinWait2:
		return TCP_FIN_WAIT2
	case tcp.CloseWait:
		return TCP_CLOSE_WAIT
	case tcp.LastAck:
		return TCP_LAST_ACK
	case tcp.Closing:
		return TCP_CLOSING
	}
	return TCP_CLOSE // Closed, TimeWait, Listen
}

// shut returns sk_shutdown: shutdown(2)'s bits, RCV_SHUTDOWN once the
// peer's FIN arrived, both once the connection is done (tcp_done).
func (s *sock) shut(v *view) int {
	b := s.userShut
	if v.conn {
		if v.fin {
			b |= rcvShutdown
		}
		if v.state == tcp.Closed || v.state == tcp.TimeWait {
			b = shutdownMask
		}
	}
	return b
}

// notsentLowat is tcp_notsent_lowat(): the option, or the sysctl
// (Config.NotsentLowat; UINT_MAX when 0).
func (s *sock) notsentLowat() uint64 {
	if s.o.notsentLowat != 0 {
		return uint64(s.o.notsentLowat)
	}
	if v := s.t.st.Config().NotsentLowat; v != 0 {
		return uint64(v)
	}
	return 0xffffffff
}

// writable is __sk_stream_is_writeable(sk, 1): free space at least half
// what is queued, and less than half of TCP_NOTSENT_LOWAT unsent.
func (s *sock) writable(v *view) bool {
	return v.sndbuf-v.queued >= v.queued/2 && uint64(v.unsent)*2 < s.notsentLowat()
}

// memoryFree is sk_stream_memory_free (wake 0): write may queue more.
func (s *sock) memoryFree(v *view) bool {
	return v.queued < v.sndbuf && uint64(v.unsent) < s.notsentLowat()
}

// readable is tcp_stream_is_readable with SO_RCVLOWAT as the target; the
// FIN counts as one byte, as rcv_nxt - copied_seq counts it.
func (s *sock) readable(v *view) bool {
	avail := v.readable
	if v.fin {
		avail++
	}
	return avail > 0 && avail >= s.o.rcvlowat
}

// pollMask is tcp_poll (and inet_csk_listen_poll for listeners). It sets
// SOCK_NOSPACE when the socket is not writable, as tcp_poll does.
func (s *sock) pollMask() uint32 {
	if s.state == ssListening {
		if s.ln.Pending() > 0 {
			return POLLIN | POLLRDNORM
		}
		return 0
	}
	v := s.look()
	state := s.tcpState(&v)
	shut := s.shut(&v)
	var mask uint32
	if shut == shutdownMask || state == TCP_CLOSE {
		mask |= POLLHUP
	}
	if shut&rcvShutdown != 0 {
		mask |= POLLIN | POLLRDNORM | POLLRDHUP
	}
	deferred, passive := s.fastOpenPoll(state)
	if state != TCP_SYN_SENT && (state != TCP_SYN_RECV || passive) {
		if s.readable(&v) {
			mask |= POLLIN | POLLRDNORM
		}
		if shut&sendShutdown == 0 {
			if s.writable(&v) {
				mask |= POLLOUT | POLLWRNORM
			} else {
				s.setNospace(true)
			}
		} else {
			mask |= POLLOUT | POLLWRNORM
		}
		if v.urgent && !s.o.oobInline {
			mask |= POLLPRI
		}
	} else if deferred {
		// The SYN waits for a write (TCP_FASTOPEN_CONNECT): let it come.
		mask |= POLLOUT | POLLWRNORM
	}
	if v.err {
		mask |= POLLERR
	}
	return mask
}

// ---------------------------------------------------------------------------
// Wake-ups, for epoll.
//
// Linux's epoll learns of changes through the socket's wait queue:
// sk_data_ready (EPOLLIN) when in-order data or a connection arrives,
// sk_write_space (EPOLLOUT) when an ACK makes a socket writable again after
// a write or poll found it full (SOCK_NOSPACE), sk_error_report (EPOLLERR),
// sk_state_change (every event) on state changes. Edge-triggered items are
// reported once per wake-up. The table finds the wake-ups by comparing each
// socket with the snapshot taken at the previous call (refresh), and the
// calls that wake sockets themselves (shutdown, some setsockopts) say so.

const (
	wakeIn  = 1
	wakeOut = 2
	wakeErr = 4
	wakeAll = 8
)

type snapshot struct {
	valid  bool
	sstate sstate
	state  tcp.State
	err    bool
	fin    bool
	rcvNxt uint32
	sndUna uint32
	queued uint64 // listener: connections ever queued
}

func (s *sock) snapshot(v *view) snapshot {
	sn := snapshot{valid: true, sstate: s.state}
	if s.state == ssListening {
		sn.queued = uint64(s.ln.Pending()) + s.accepted
		return sn
	}
	sn.state, sn.err, sn.fin = v.state, v.err, v.fin
	sn.rcvNxt, sn.sndUna = v.rcvNxt, v.sndUna
	return sn
}

// refresh turns what happened to every socket since the last call into
// wake-ups (called with t.mu held, at the start of each call).
func (t *Table) refresh() {
	fds := make([]int, 0, len(t.files))
	for fd, f := range t.files {
		if f.sock != nil {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	for _, fd := range fds {
		t.files[fd].sock.observe(true)
	}
}

// resync takes a new snapshot without waking anyone: after a call changed
// the socket itself (Linux's calls wake only where they say so).
func (s *sock) resync() { s.observe(false) }

func (s *sock) observe(wake bool) {
	var v view
	if s.state != ssListening {
		v = s.look()
	}
	cur := s.snapshot(&v)
	old := s.snap
	s.snap = cur
	if !old.valid || !wake {
		return
	}
	kinds := 0
	if cur.sstate != old.sstate || cur.state != old.state {
		kinds |= wakeAll
	}
	if cur.err && !old.err {
		kinds |= wakeErr
	}
	if cur.sstate == ssListening {
		if cur.queued != old.queued {
			kinds |= wakeIn
		}
	} else if v.conn {
		if cur.rcvNxt != old.rcvNxt && (s.readable(&v) || cur.fin) {
			kinds |= wakeIn
		}
		if cur.sndUna != old.sndUna && s.nospace && s.writable(&v) {
			// tcp_check_space -> sk_stream_write_space.
			s.setNospace(false)
			kinds |= wakeOut
		}
	}
	s.wake(kinds)
}

// wake delivers a wake-up to the epoll items watching the socket.
func (s *sock) wake(kinds int) {
	if kinds == 0 || s.f == nil {
		return
	}
	for _, it := range s.f.items {
		it.wake(kinds)
	}
}

// writeSpace is sk_stream_write_space called directly (setsockopt
// SO_SNDBUF, TCP_NOTSENT_LOWAT): a wake-up if the socket is writable.
func (s *sock) writeSpace() {
	if s.state == ssListening {
		return
	}
	v := s.look()
	if s.writable(&v) {
		s.setNospace(false)
		s.wake(wakeOut)
	}
}

// peer maps an address for the socket's family: AF_INET6 sockets see IPv4
// peers as IPv4-mapped addresses.
func (s *sock) mapAddr(ap netip.AddrPort) netip.AddrPort {
	if s.family == AF_INET6 && ap.Addr().Is4() {
		return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	return ap
}

// sockaddr checks an address given to bind or connect against the socket's
// family, as the kernel checks a sockaddr: for an AF_INET socket a 4-byte
// address is a sockaddr_in and anything else an AF_INET6 sockaddr
// (EAFNOSUPPORT); for an AF_INET6 socket a 4-byte address is a sockaddr_in,
// too short for a sockaddr_in6 (EINVAL), and an IPv4-mapped address means
// the IPv4 address. The zero AddrPort is AF_UNSPEC.
func (s *sock) sockaddr(ap netip.AddrPort) (netip.AddrPort, syscall.Errno) {
	a := ap.Addr()
	if !a.IsValid() {
		return ap, syscall.EAFNOSUPPORT
	}
	switch s.family {
	case AF_INET:
		if !a.Is4() {
			return ap, syscall.EAFNOSUPPORT
		}
	case AF_INET6:
		if a.Is4() {
			return ap, syscall.EINVAL
		}
		if a.Is4In6() {
			a = a.Unmap()
		}
	}
	return netip.AddrPortFrom(a.WithZone(""), ap.Port()), 0
}

// Addr turns a sockaddr of the given family into the AddrPort the calls
// take: an AF_INET6 sockaddr holding an IPv4 address becomes the IPv4-mapped
// address, AF_UNSPEC the zero AddrPort.
func Addr(family int, ap netip.AddrPort) netip.AddrPort {
	switch family {
	case AF_UNSPEC:
		return netip.AddrPort{}
	case AF_INET6:
		if ap.Addr().Is4() {
			return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}
	}
	return ap
}

// anyAddr is the wildcard address of the socket's family.
func (s *sock) anyAddr() netip.Addr {
	if s.family == AF_INET6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

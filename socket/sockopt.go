package socket

import (
	"encoding/binary"
	"math"
	"slices"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/tcp/cc"
)

// Option values are passed as the bytes user space would pass, in Linux's
// layout (little-endian): Int, Linger and Timeval build them, and ParseInt
// reads an int back. A short optlen is a short slice.

// Int encodes an int option value (4 bytes).
func Int(v int) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	return b
}

// ParseInt decodes an int option value; shorter values (getsockopt with a
// small optlen) are read as what was copied.
func ParseInt(b []byte) int {
	var buf [4]byte
	copy(buf[:], b)
	return int(int32(binary.LittleEndian.Uint32(buf[:])))
}

// Linger encodes struct linger {l_onoff, l_linger}.
func Linger(onoff, linger int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, uint32(int32(onoff)))
	binary.LittleEndian.PutUint32(b[4:], uint32(int32(linger)))
	return b
}

// Timeval encodes struct timeval {tv_sec, tv_usec} (SO_RCVTIMEO, SO_SNDTIMEO).
func Timeval(sec, usec int64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, uint64(sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(usec))
	return b
}

// maxTimeout is MAX_SCHEDULE_TIMEOUT, in jiffies.
const maxTimeout = math.MaxInt64

// opts are a socket's options: the values getsockopt reports and what is
// applied to the TCB when there is one (at connect, at the SYN of a passive
// open, or at once).
type opts struct {
	reuseAddr, reusePort bool
	keepAlive            bool
	oobInline            bool
	zerocopy             bool
	linger               bool
	lingerTime           int64 // sk_lingertime, jiffies
	sndbuf, rcvbuf       int   // set by SO_SNDBUF/SO_RCVBUF (Linux's doubled value); 0: default
	rcvlowat             int
	rcvtimeo, sndtimeo   int64       // jiffies; maxTimeout: none
	misc                 map[int]int // other SOL_SOCKET options, stored

	nodelay, cork bool
	userMSS       int
	keepIdle      int // seconds; 0: tcp_keepalive_time
	keepIntvl     int
	keepCnt       int
	userTimeout   int // ms
	notsentLowat  uint32
	pingpong      bool // TCP_QUICKACK off
	inq           bool
	deferAccept   uint8 // retransmissions, as Linux keeps it
	synCnt        int
	linger2       int // seconds; -1 off, 0 tcp_fin_timeout
	windowClamp   int
	congestion    string
	tcpMisc       map[int]int
	fo            foOpts // TCP Fast Open (fastopen.go)

	ip, ip6 map[int]int
}

func (o *opts) init() {
	o.rcvlowat = 1
	o.rcvtimeo, o.sndtimeo = maxTimeout, maxTimeout
}

// clone copies the options for an accepted socket (sk_clone_lock).
func (o *opts) clone() opts {
	c := *o
	c.misc = maps(o.misc)
	c.tcpMisc = maps(o.tcpMisc)
	c.ip = maps(o.ip)
	c.ip6 = maps(o.ip6)
	return c
}

func maps(m map[int]int) map[int]int {
	if m == nil {
		return nil
	}
	c := make(map[int]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func setMisc(m *map[int]int, k, v int) {
	if *m == nil {
		*m = map[int]int{}
	}
	(*m)[k] = v
}

func (o *opts) sndbufOr(t *Table) int {
	if o.sndbuf != 0 {
		return o.sndbuf
	}
	return t.st.Config().WMem[1]
}

func (o *opts) rcvbufOr(t *Table) int {
	if o.rcvbuf != 0 {
		return o.rcvbuf
	}
	return t.st.Config().RMem[1]
}

func jiffies(j int64) time.Duration {
	if j >= maxTimeout/int64(time.Second/hz) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(j) * (time.Second / hz)
}

// timeout converts SO_RCVTIMEO/SO_SNDTIMEO for a Call: -1 is none.
func timeout(j int64) time.Duration {
	if j == maxTimeout {
		return -1
	}
	return jiffies(j)
}

// setup applies the options to a TCB before the SYN of connect.
func (s *sock) setup(tb *tcp.TCB, now tcp.Time) { s.o.apply(tb, now) }

// inherit applies a listener's options to each passive open (Linux clones
// the listener). It runs under the stack's lock, maybe on another
// goroutine, so it reads the snapshot publish made.
func (s *sock) inherit(tb *tcp.TCB, now tcp.Time) {
	if o := s.pub.Load(); o != nil {
		o.apply(tb, now)
	}
}

// publish makes the options visible to inherit.
func (s *sock) publish() {
	o := s.o.clone()
	s.pub.Store(&o)
}

// sndbufSlack is how far the send queue may grow past sk_sndbuf: Linux
// checks the limit only before it allocates a new skb, and a write then
// fills that skb, or appends to the unsent tail of the last one, up to the
// size goal (at most gsoMaxSize). The socket layer enforces sk_sndbuf
// itself (memoryFree); the engine's buffer only needs room for the
// overshoot.
const sndbufSlack = gsoMaxSize

// apply sets the options on a new TCB; it runs once per connection.
func (o *opts) apply(tb *tcp.TCB, now tcp.Time) {
	if o.sndbuf != 0 {
		tb.SetSendBufferBytes(o.sndbuf + sndbufSlack)
	} else {
		tb.SetSendBufferBytes(tb.WriteBuffer() + sndbufSlack)
	}
	if o.rcvbuf != 0 {
		tb.SetRecvBufferBytes(o.rcvbuf)
	}
	tb.SetNoDelay(now, o.nodelay)
	tb.SetCork(now, o.cork)
	tb.SetLinger(o.linger, jiffies(o.lingerTime))
	o.applyKeepAlive(tb, now)
	tb.SetUserTimeout(time.Duration(o.userTimeout) * time.Millisecond)
	tb.SetSynRetries(o.synCnt)
	if o.congestion != "" {
		tb.SetCongestionControl(o.congestion)
	}
}

func (s *sock) applyKeepAlive(tb *tcp.TCB, now tcp.Time) { s.o.applyKeepAlive(tb, now) }

func (o *opts) applyKeepAlive(tb *tcp.TCB, now tcp.Time) {
	tb.SetKeepAlive(now, o.keepAlive, time.Duration(o.keepIdle)*time.Second, time.Duration(o.keepIntvl)*time.Second, o.keepCnt)
}

// do runs f on the socket's TCB, if it has one.
func (s *sock) do(f func(tb *tcp.TCB, now tcp.Time)) {
	if s.conn != nil {
		s.conn.Do(f)
	}
}

// Setsockopt is setsockopt(2). val holds the option's bytes (optlen is its
// length).
func (t *Table) Setsockopt(fd, level, name int, val []byte) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return fail(e)
	}
	switch level {
	case SOL_SOCKET:
		e = s.setSocketOpt(name, val)
	case SOL_TCP:
		e = s.setTCPOpt(name, val)
	case SOL_IP:
		e = s.setIPOpt(name, val)
	case SOL_IPV6:
		if s.family != AF_INET6 {
			e = syscall.ENOPROTOOPT
		} else {
			e = s.setIPv6Opt(name, val)
		}
	default:
		e = syscall.ENOPROTOOPT
	}
	s.resync()
	if s.state == ssListening {
		s.publish()
	}
	if e != 0 {
		return fail(e)
	}
	return 0, 0
}

// SetsockoptInt is Setsockopt with a 4-byte int value.
func (t *Table) SetsockoptInt(fd, level, name, v int) (int, syscall.Errno) {
	return t.Setsockopt(fd, level, name, Int(v))
}

func (s *sock) setSocketOpt(name int, b []byte) syscall.Errno {
	o := &s.o
	if name == SO_BINDTODEVICE {
		return 0 // accepted; synfin routes by address only
	}
	if len(b) < 4 {
		return syscall.EINVAL
	}
	val := ParseInt(b)
	on := val != 0
	switch name {
	case SO_REUSEADDR:
		o.reuseAddr = on
	case SO_REUSEPORT:
		o.reusePort = on
	case SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ERROR, SO_ACCEPTCONN:
		return syscall.ENOPROTOOPT
	case SO_SNDBUF, SO_SNDBUFFORCE:
		v := int64(uint32(val))
		if name == SO_SNDBUF {
			v = min(v, wmemMax)
		} else if val < 0 {
			v = 0
		}
		v = min(v, math.MaxInt32/2)
		o.sndbuf = int(max(v*2, sockMinSndbuf))
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetSendBufferBytes(o.sndbuf + sndbufSlack) })
		s.writeSpace()
	case SO_RCVBUF, SO_RCVBUFFORCE:
		v := int64(uint32(val))
		if name == SO_RCVBUF {
			v = min(v, rmemMax)
		} else if val < 0 {
			v = 0
		}
		v = min(v, math.MaxInt32/2)
		o.rcvbuf = int(max(v*2, sockMinRcvbuf))
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetRecvBufferBytes(o.rcvbuf) })
	case SO_KEEPALIVE:
		o.keepAlive = on
		s.do(s.applyKeepAlive)
	case SO_OOBINLINE:
		o.oobInline = on
	case SO_LINGER:
		if len(b) < 8 {
			return syscall.EINVAL
		}
		if ParseInt(b[:4]) == 0 {
			o.linger = false
		} else {
			sec := uint64(int64(ParseInt(b[4:8]))) // unsigned long t_sec = l_linger
			if sec >= maxTimeout/hz {
				o.lingerTime = maxTimeout
			} else {
				o.lingerTime = int64(sec) * hz
			}
			o.linger = true
		}
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetLinger(o.linger, jiffies(o.lingerTime)) })
	case SO_RCVLOWAT:
		if val < 0 {
			val = math.MaxInt32
		}
		// tcp_set_rcvlowat: at most half the receive buffer.
		lim := s.t.st.Config().RMem[2] >> 1
		if o.rcvbuf != 0 {
			lim = o.rcvbuf >> 1
		}
		o.rcvlowat = max(min(val, lim), 1)
		if s.state != ssListening {
			if v := s.look(); s.readable(&v) || v.fin {
				s.wake(wakeIn) // tcp_data_ready
			}
		}
	case SO_RCVTIMEO, SO_RCVTIMEO_NEW, SO_SNDTIMEO, SO_SNDTIMEO_NEW:
		j, e := parseTimeout(b)
		if e != 0 {
			return e
		}
		if name == SO_RCVTIMEO || name == SO_RCVTIMEO_NEW {
			o.rcvtimeo = j
		} else {
			o.sndtimeo = j
		}
	case SO_ZEROCOPY:
		if val < 0 || val > 1 {
			return syscall.EINVAL
		}
		o.zerocopy = on
	case SO_BSDCOMPAT:
	case SO_DEBUG, SO_DONTROUTE, SO_BROADCAST, SO_NO_CHECK, 16 /* SO_PASSCRED */, 29 /* SO_TIMESTAMP */, 35 /* SO_TIMESTAMPNS */, 34 /* SO_PASSSEC */, 49 /* SO_INCOMING_CPU */ :
		setMisc(&o.misc, name, b2i(on))
	case SO_PRIORITY, SO_MARK, 37 /* SO_TIMESTAMPING */, 47 /* SO_MAX_PACING_RATE */ :
		setMisc(&o.misc, name, val)
	case 46: // SO_BUSY_POLL
		if val < 0 {
			return syscall.EINVAL
		}
		setMisc(&o.misc, name, val)
	default:
		return syscall.ENOPROTOOPT
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseTimeout is sock_set_timeout, in jiffies.
func parseTimeout(b []byte) (int64, syscall.Errno) {
	if len(b) < 16 {
		return 0, syscall.EINVAL
	}
	sec := int64(binary.LittleEndian.Uint64(b))
	usec := int64(binary.LittleEndian.Uint64(b[8:]))
	if usec < 0 || usec >= 1e6 {
		return 0, syscall.EDOM
	}
	if sec < 0 {
		return 0, 0
	}
	if (sec == 0 && usec == 0) || sec >= maxTimeout/hz-1 {
		return maxTimeout, 0
	}
	per := int64(1e6 / hz)
	return sec*hz + (usec+per-1)/per, 0
}

func (s *sock) setTCPOpt(name int, b []byte) syscall.Errno {
	o := &s.o
	if handled, e := s.setFastOpenOpt(name, b); handled {
		return e
	}
	switch name {
	case TCP_CONGESTION:
		if len(b) < 1 {
			return syscall.EINVAL
		}
		n := b[:min(len(b), tcpCANameMax-1)]
		if i := slices.Index(n, 0); i >= 0 {
			n = n[:i]
		}
		algo := string(n)
		if !slices.Contains(cc.Available(), algo) {
			return syscall.ENOENT
		}
		o.congestion = algo
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetCongestionControl(algo) })
		return 0
	case TCP_ULP:
		if len(b) < 1 {
			return syscall.EINVAL
		}
		return syscall.ENOENT
	case TCP_MD5SIG:
		// As a kernel built without CONFIG_TCP_MD5SIG.
		return syscall.ENOPROTOOPT
	}
	if len(b) < 4 {
		return syscall.EINVAL
	}
	val := ParseInt(b)
	on := val != 0
	switch name {
	case TCP_SYNCNT:
		if val < 1 || val > maxSynCnt {
			return syscall.EINVAL
		}
		o.synCnt = val
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetSynRetries(val) })
	case TCP_USER_TIMEOUT:
		if val < 0 {
			return syscall.EINVAL
		}
		o.userTimeout = val
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetUserTimeout(time.Duration(val) * time.Millisecond) })
	case TCP_KEEPINTVL:
		if val < 1 || val > maxKeepIntvl {
			return syscall.EINVAL
		}
		o.keepIntvl = val
		s.do(s.applyKeepAlive)
	case TCP_KEEPCNT:
		if val < 1 || val > maxKeepCnt {
			return syscall.EINVAL
		}
		o.keepCnt = val
		s.do(s.applyKeepAlive)
	case TCP_KEEPIDLE:
		if val < 1 || val > maxKeepIdle {
			return syscall.EINVAL
		}
		o.keepIdle = val
		s.do(s.applyKeepAlive)
	case TCP_LINGER2:
		switch {
		case val < 0:
			o.linger2 = -1
		case val > finTimeoutMax:
			o.linger2 = finTimeoutMax
		default:
			o.linger2 = val
		}
	case TCP_NOTSENT_LOWAT:
		o.notsentLowat = uint32(val)
		s.writeSpace()
	case TCP_WINDOW_CLAMP:
		if val == 0 {
			if v := s.look(); s.tcpState(&v) != TCP_CLOSE {
				return syscall.EINVAL
			}
			o.windowClamp = 0
		} else {
			o.windowClamp = max(val, sockMinRcvbuf/2)
		}
	case TCP_MAXSEG:
		if val != 0 && (val < tcpMinMSS || val > maxTCPWindow) {
			return syscall.EINVAL
		}
		o.userMSS = val
	case TCP_NODELAY:
		o.nodelay = on
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetNoDelay(now, on) })
	case TCP_CORK:
		o.cork = on
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.SetCork(now, on) })
	case TCP_THIN_LINEAR_TIMEOUTS, TCP_THIN_DUPACK:
		if val < 0 || val > 1 {
			return syscall.EINVAL
		}
		setMisc(&o.tcpMisc, name, val)
	case TCP_SAVE_SYN:
		if val < 0 || val > 2 {
			return syscall.EINVAL
		}
		setMisc(&o.tcpMisc, name, val)
	case TCP_DEFER_ACCEPT:
		o.deferAccept = secsToRetrans(val, 1, 120)
	case TCP_TIMESTAMP, TCP_REPAIR:
		return syscall.EPERM
	case TCP_INQ:
		if val < 0 || val > 1 {
			return syscall.EINVAL
		}
		o.inq = on
	case TCP_TX_DELAY:
		setMisc(&o.tcpMisc, name, val)
	case TCP_QUICKACK:
		// __tcp_sock_set_quickack: leave pingpong mode and send a pending
		// ACK now; an even value re-enters pingpong mode afterwards.
		if val == 0 {
			o.pingpong = true
			break
		}
		o.pingpong = false
		s.do(func(tb *tcp.TCB, now tcp.Time) { tb.QuickAck(now) })
		if val&1 == 0 {
			o.pingpong = true
		}
	default:
		return syscall.ENOPROTOOPT
	}
	return 0
}

// secsToRetrans and retransToSecs convert TCP_DEFER_ACCEPT's seconds to
// SYN-ACK retransmissions and back, as Linux stores it.
func secsToRetrans(seconds, timeout, rtoMax int) uint8 {
	var res uint8
	if seconds > 0 {
		period := timeout
		res = 1
		for seconds > period && res < 255 {
			res++
			timeout <<= 1
			if timeout > rtoMax {
				timeout = rtoMax
			}
			period += timeout
		}
	}
	return res
}

func retransToSecs(retrans uint8, timeout, rtoMax int) int {
	period := 0
	if retrans > 0 {
		period = timeout
		for retrans--; retrans > 0; retrans-- {
			timeout <<= 1
			if timeout > rtoMax {
				timeout = rtoMax
			}
			period += timeout
		}
	}
	return period
}

// ipOpt describes a stored SOL_IP / SOL_IPV6 option: its default and
// allowed range.
type ipOpt struct {
	def, lo, hi int
	// tos: the ECN bits are the connection's, not the user's.
	tos bool
}

var ipOpts = map[int]ipOpt{
	IP_TOS:                  {0, math.MinInt32, math.MaxInt32, true},
	IP_TTL:                  {-1, -1, 255, false},
	IP_MTU_DISCOVER:         {1, 0, 5, false},
	IP_RECVERR:              {0, math.MinInt32, math.MaxInt32, false},
	IP_FREEBIND:             {0, math.MinInt32, math.MaxInt32, false},
	IP_TRANSPARENT:          {0, math.MinInt32, math.MaxInt32, false},
	IP_BIND_ADDRESS_NO_PORT: {0, math.MinInt32, math.MaxInt32, false},
	13 /* IP_RECVTOS */ :    {0, math.MinInt32, math.MaxInt32, false},
}

var ip6Opts = map[int]ipOpt{
	IPV6_UNICAST_HOPS: {-1, -1, 255, false},
	IPV6_MTU_DISCOVER: {1, 0, 5, false},
	IPV6_RECVERR:      {0, math.MinInt32, math.MaxInt32, false},
	IPV6_V6ONLY:       {0, math.MinInt32, math.MaxInt32, false},
	IPV6_TCLASS:       {0, -1, 255, true},
}

// boolIP lists the options stored as 0 or 1.
func boolIP(level, name int) bool {
	if level == SOL_IP {
		return name == IP_RECVERR || name == IP_FREEBIND || name == IP_TRANSPARENT || name == IP_BIND_ADDRESS_NO_PORT || name == 13
	}
	return name == IPV6_RECVERR || name == IPV6_V6ONLY
}

func (s *sock) setIPOpt(name int, b []byte) syscall.Errno {
	d, ok := ipOpts[name]
	if !ok {
		return syscall.ENOPROTOOPT
	}
	// do_ip_setsockopt reads an int, or a byte when optlen < 4; an empty
	// value is 0.
	val := 0
	if len(b) >= 4 {
		val = ParseInt(b)
	} else if len(b) >= 1 {
		val = int(b[0])
	}
	if name == IP_TTL && len(b) < 1 {
		return syscall.EINVAL
	}
	if val < d.lo || val > d.hi || (name == IP_TTL && val == 0) {
		return syscall.EINVAL
	}
	if boolIP(SOL_IP, name) {
		val = b2i(val != 0)
	}
	if d.tos {
		val &^= 3
	}
	setMisc(&s.o.ip, name, val)
	return 0
}

func (s *sock) setIPv6Opt(name int, b []byte) syscall.Errno {
	d, ok := ip6Opts[name]
	if !ok {
		return syscall.ENOPROTOOPT
	}
	if len(b) < 4 {
		return syscall.EINVAL
	}
	val := ParseInt(b)
	if val < d.lo || val > d.hi {
		return syscall.EINVAL
	}
	if name == IPV6_V6ONLY {
		if v := s.look(); s.tcpState(&v) != TCP_CLOSE || s.bound != nil || s.state != ssUnconnected {
			return syscall.EINVAL
		}
	}
	if name == IPV6_TCLASS && val == -1 {
		val = 0
	}
	if boolIP(SOL_IPV6, name) {
		val = b2i(val != 0)
	}
	if d.tos {
		val &^= 3
	}
	setMisc(&s.o.ip6, name, val)
	return 0
}

// Getsockopt is getsockopt(2): val is the caller's buffer (its length is
// the optlen passed in) and *optlen is set to the length written.
func (t *Table) Getsockopt(fd, level, name int, val []byte, optlen *int) (int, syscall.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	_, s, e := t.getSock(fd)
	if e != 0 {
		return fail(e)
	}
	in := len(val)
	if optlen != nil {
		in = min(*optlen, len(val))
		if *optlen < 0 {
			in = *optlen
		}
	}
	var out []byte
	switch level {
	case SOL_SOCKET:
		out, e = s.getSocketOpt(name, in)
	case SOL_TCP:
		out, e = s.getTCPOpt(name, in)
	case SOL_IP:
		out, e = s.getIPOpt(SOL_IP, name, in)
	case SOL_IPV6:
		if s.family != AF_INET6 {
			e = syscall.ENOPROTOOPT
		} else {
			out, e = s.getIPOpt(SOL_IPV6, name, in)
		}
	default:
		e = syscall.ENOPROTOOPT
	}
	s.resync()
	if e != 0 {
		return fail(e)
	}
	n := copy(val, out)
	if optlen != nil {
		*optlen = n
	}
	return 0, 0
}

// GetsockoptInt is Getsockopt for an int option, with a 4-byte buffer.
func (t *Table) GetsockoptInt(fd, level, name int) (int, syscall.Errno) {
	b := make([]byte, 4)
	n := 4
	if _, e := t.Getsockopt(fd, level, name, b, &n); e != 0 {
		return -1, e
	}
	return ParseInt(b[:n]), 0
}

// intOut truncates an int value to the caller's length.
func intOut(v int, n int) []byte {
	b := Int(v)
	return b[:max(0, min(n, 4))]
}

func (s *sock) getSocketOpt(name int, n int) ([]byte, syscall.Errno) {
	if n < 0 {
		return nil, syscall.EINVAL
	}
	o := &s.o
	switch name {
	case SO_REUSEADDR:
		return intOut(b2i(o.reuseAddr), n), 0
	case SO_REUSEPORT:
		return intOut(b2i(o.reusePort), n), 0
	case SO_KEEPALIVE:
		return intOut(b2i(o.keepAlive), n), 0
	case SO_OOBINLINE:
		return intOut(b2i(o.oobInline), n), 0
	case SO_ZEROCOPY:
		return intOut(b2i(o.zerocopy), n), 0
	case SO_TYPE:
		return intOut(SOCK_STREAM, n), 0
	case SO_PROTOCOL:
		return intOut(IPPROTO_TCP, n), 0
	case SO_DOMAIN:
		return intOut(s.family, n), 0
	case SO_ACCEPTCONN:
		return intOut(b2i(s.state == ssListening), n), 0
	case SO_SNDBUF:
		v := s.look()
		return intOut(v.sndbuf, n), 0
	case SO_RCVBUF:
		v := s.look()
		return intOut(v.rcvbuf, n), 0
	case SO_RCVLOWAT:
		return intOut(o.rcvlowat, n), 0
	case SO_SNDLOWAT:
		return intOut(1, n), 0
	case SO_ERROR:
		return intOut(int(s.takeError(true)), n), 0
	case SO_LINGER:
		b := Linger(b2i(o.linger), int(int32(o.lingerTime/hz)))
		return b[:min(n, 8)], 0
	case SO_RCVTIMEO, SO_RCVTIMEO_NEW, SO_SNDTIMEO, SO_SNDTIMEO_NEW:
		j := o.rcvtimeo
		if name == SO_SNDTIMEO || name == SO_SNDTIMEO_NEW {
			j = o.sndtimeo
		}
		var b []byte
		if j == maxTimeout {
			b = Timeval(0, 0)
		} else {
			b = Timeval(j/hz, (j%hz)*1e6/hz)
		}
		return b[:min(n, 16)], 0
	case SO_DEBUG, SO_DONTROUTE, SO_BROADCAST, SO_NO_CHECK, SO_PRIORITY, SO_MARK, 16, 29, 34, 35, 37, 46, 47, 49:
		v := o.misc[name]
		if name == 47 && v == 0 {
			v = -1 // SO_MAX_PACING_RATE: ~0 (unlimited) truncated to an int
		}
		return intOut(v, n), 0
	case SO_BINDTODEVICE:
		return nil, 0
	}
	return nil, syscall.ENOPROTOOPT
}

func (s *sock) getTCPOpt(name int, n int) ([]byte, syscall.Errno) {
	o := &s.o
	cfg := s.t.st.Config()
	full := n
	if n < 0 {
		full = math.MaxInt32 // min_t(unsigned int, len, size)
	}
	switch name {
	case TCP_INFO:
		info := s.tcpInfo()
		b := info.Marshal()
		return b[:min(full, len(b))], 0
	case TCP_CONGESTION:
		var b [tcpCANameMax]byte
		copy(b[:], s.congestion())
		return b[:min(full, tcpCANameMax)], 0
	case 26 /* TCP_CC_INFO */, TCP_ULP, 28 /* TCP_SAVED_SYN */ :
		return nil, 0
	}
	if b, ok := s.getFastOpenOpt(name, full); ok {
		return b, 0
	}
	n = min(full, 4)
	v := s.look()
	state := s.tcpState(&v)
	var val int
	switch name {
	case TCP_MAXSEG:
		val = 536 // TCP_MSS_DEFAULT, mss_cache before a connection
		if v.conn && v.mss > 0 && state != TCP_CLOSE {
			val = v.mss
		}
		if o.userMSS != 0 && (state == TCP_CLOSE || state == TCP_LISTEN) {
			val = o.userMSS
		}
	case TCP_NODELAY:
		val = b2i(o.nodelay)
	case TCP_CORK:
		val = b2i(o.cork)
	case TCP_KEEPIDLE:
		val = o.keepIdle
		if val == 0 {
			val = int(cfg.KeepaliveTime / time.Second)
		}
	case TCP_KEEPINTVL:
		val = o.keepIntvl
		if val == 0 {
			val = int(cfg.KeepaliveIntvl / time.Second)
		}
	case TCP_KEEPCNT:
		val = o.keepCnt
		if val == 0 {
			val = cfg.KeepaliveProbes
		}
	case TCP_SYNCNT:
		val = o.synCnt
		if val == 0 {
			val = cfg.SynRetries
		}
	case TCP_LINGER2:
		val = o.linger2
		if val == 0 {
			val = int(cfg.FinTimeout / time.Second)
		}
	case TCP_DEFER_ACCEPT:
		val = retransToSecs(o.deferAccept, 1, 120)
	case TCP_WINDOW_CLAMP:
		val = o.windowClamp
	case TCP_QUICKACK:
		val = b2i(!o.pingpong)
	case TCP_USER_TIMEOUT:
		val = o.userTimeout
	case TCP_NOTSENT_LOWAT:
		val = int(int32(o.notsentLowat))
	case TCP_INQ:
		val = b2i(o.inq)
	case TCP_THIN_LINEAR_TIMEOUTS, TCP_SAVE_SYN, TCP_TX_DELAY:
		val = o.tcpMisc[name]
	default:
		return nil, syscall.ENOPROTOOPT
	}
	return intOut(val, n), 0
}

func (s *sock) getIPOpt(level, name int, n int) ([]byte, syscall.Errno) {
	if n < 0 {
		return nil, syscall.EINVAL
	}
	table, stored := ipOpts, s.o.ip
	if level == SOL_IPV6 {
		table, stored = ip6Opts, s.o.ip6
	}
	if level == SOL_IP && name == 14 { // IP_MTU
		v := s.look()
		st := s.tcpState(&v)
		if !v.conn || st == TCP_CLOSE || st == TCP_SYN_SENT {
			return nil, syscall.ENOTCONN
		}
		return intOut(v.mss+40, n), 0
	}
	d, ok := table[name]
	if !ok {
		return nil, syscall.ENOPROTOOPT
	}
	val, set := stored[name]
	if !set {
		val = d.def
	}
	if (name == IP_TTL && level == SOL_IP || name == IPV6_UNICAST_HOPS && level == SOL_IPV6) && val == -1 {
		val = 64
	}
	if level == SOL_IP && n < 4 && n > 0 && val >= 0 && val <= 255 {
		return []byte{byte(val)}, 0
	}
	return intOut(val, n), 0
}

// congestion names the socket's congestion control.
func (s *sock) congestion() string {
	if s.o.congestion != "" {
		return s.o.congestion
	}
	return s.t.st.Config().CongestionControl
}

// takeError is sock_error: the pending error, cleared. With soft, the soft
// error (sk_err_soft) is reported and cleared when there is no hard one
// (SO_ERROR).
func (s *sock) takeError(soft bool) syscall.Errno {
	var e syscall.Errno
	s.do(func(tb *tcp.TCB, now tcp.Time) {
		if err := tb.TakeError(); err != nil {
			e = toErrno(err)
			return
		}
		if soft {
			if err := tb.SoftError(); err != nil {
				e = toErrno(err)
				tb.SetSoftError(nil)
			}
		}
	})
	return e
}

package socket

// Linux's values for the constants of the socket API (x86-64), so that the
// package means the same thing on every GOOS: a runner passes what a script
// names, whatever machine it runs on.

// Address families.
const (
	AF_UNSPEC = 0
	AF_UNIX   = 1
	AF_INET   = 2
	AF_INET6  = 10
	afMax     = 46 // AF_MAX: families at or above it are EAFNOSUPPORT
)

// Socket types and the flags socket(2) and accept4(2) take with them.
const (
	SOCK_STREAM    = 1
	SOCK_DGRAM     = 2
	SOCK_RAW       = 3
	SOCK_RDM       = 4
	SOCK_SEQPACKET = 5
	SOCK_DCCP      = 6
	SOCK_PACKET    = 10
	SOCK_NONBLOCK  = 0x800
	SOCK_CLOEXEC   = 0x80000
	sockTypeMask   = 0xf
	sockMax        = 11
)

// Protocols.
const (
	IPPROTO_IP      = 0
	IPPROTO_ICMP    = 1
	IPPROTO_TCP     = 6
	IPPROTO_UDP     = 17
	IPPROTO_IPV6    = 41
	IPPROTO_ICMPV6  = 58
	IPPROTO_SCTP    = 132
	IPPROTO_UDPLITE = 136
	IPPROTO_RAW     = 255
	IPPROTO_MPTCP   = 262
	ipprotoMax      = 263
)

// Option levels.
const (
	SOL_IP     = 0
	SOL_SOCKET = 1
	SOL_TCP    = 6
	SOL_IPV6   = 41
)

// SOL_SOCKET options.
const (
	SO_DEBUG        = 1
	SO_REUSEADDR    = 2
	SO_TYPE         = 3
	SO_ERROR        = 4
	SO_DONTROUTE    = 5
	SO_BROADCAST    = 6
	SO_SNDBUF       = 7
	SO_RCVBUF       = 8
	SO_KEEPALIVE    = 9
	SO_OOBINLINE    = 10
	SO_NO_CHECK     = 11
	SO_PRIORITY     = 12
	SO_LINGER       = 13
	SO_BSDCOMPAT    = 14
	SO_REUSEPORT    = 15
	SO_RCVLOWAT     = 18
	SO_SNDLOWAT     = 19
	SO_RCVTIMEO     = 20 // SO_RCVTIMEO_OLD: struct timeval
	SO_SNDTIMEO     = 21 // SO_SNDTIMEO_OLD
	SO_BINDTODEVICE = 25
	SO_ACCEPTCONN   = 30
	SO_SNDBUFFORCE  = 32
	SO_RCVBUFFORCE  = 33
	SO_MARK         = 36
	SO_PROTOCOL     = 38
	SO_DOMAIN       = 39
	SO_ZEROCOPY     = 60
	SO_RCVTIMEO_NEW = 66 // struct __kernel_sock_timeval
	SO_SNDTIMEO_NEW = 67
)

// SOL_TCP options.
const (
	TCP_NODELAY              = 1
	TCP_MAXSEG               = 2
	TCP_CORK                 = 3
	TCP_KEEPIDLE             = 4
	TCP_KEEPINTVL            = 5
	TCP_KEEPCNT              = 6
	TCP_SYNCNT               = 7
	TCP_LINGER2              = 8
	TCP_DEFER_ACCEPT         = 9
	TCP_WINDOW_CLAMP         = 10
	TCP_INFO                 = 11
	TCP_QUICKACK             = 12
	TCP_CONGESTION           = 13
	TCP_MD5SIG               = 14
	TCP_THIN_LINEAR_TIMEOUTS = 16
	TCP_THIN_DUPACK          = 17
	TCP_USER_TIMEOUT         = 18
	TCP_REPAIR               = 19
	TCP_FASTOPEN             = 23
	TCP_TIMESTAMP            = 24
	TCP_NOTSENT_LOWAT        = 25
	TCP_SAVE_SYN             = 27
	TCP_FASTOPEN_CONNECT     = 30
	TCP_ULP                  = 31
	TCP_FASTOPEN_KEY         = 33
	TCP_FASTOPEN_NO_COOKIE   = 34
	TCP_INQ                  = 36
	TCP_CM_INQ               = TCP_INQ
	TCP_TX_DELAY             = 37
)

// SOL_IP and SOL_IPV6 options that are stored and reported.
const (
	IP_TOS                  = 1
	IP_TTL                  = 2
	IP_MTU_DISCOVER         = 10
	IP_RECVERR              = 11
	IP_FREEBIND             = 15
	IP_TRANSPARENT          = 19
	IP_BIND_ADDRESS_NO_PORT = 24
	IPV6_UNICAST_HOPS       = 16
	IPV6_MTU_DISCOVER       = 23
	IPV6_RECVERR            = 25
	IPV6_V6ONLY             = 26
	IPV6_TCLASS             = 67
)

// Flags of send and recv.
const (
	MSG_OOB          = 0x1
	MSG_PEEK         = 0x2
	MSG_DONTROUTE    = 0x4
	MSG_CTRUNC       = 0x8
	MSG_TRUNC        = 0x20
	MSG_DONTWAIT     = 0x40
	MSG_EOR          = 0x80
	MSG_WAITALL      = 0x100
	MSG_CONFIRM      = 0x800
	MSG_ERRQUEUE     = 0x2000
	MSG_NOSIGNAL     = 0x4000
	MSG_MORE         = 0x8000
	MSG_ZEROCOPY     = 0x4000000
	MSG_FASTOPEN     = 0x20000000
	MSG_CMSG_CLOEXEC = 0x40000000
)

// shutdown(2)'s how.
const (
	SHUT_RD   = 0
	SHUT_WR   = 1
	SHUT_RDWR = 2
)

// fcntl(2).
const (
	F_DUPFD         = 0
	F_GETFD         = 1
	F_SETFD         = 2
	F_GETFL         = 3
	F_SETFL         = 4
	F_DUPFD_CLOEXEC = 1030
	FD_CLOEXEC      = 1
	O_RDONLY        = 0x0
	O_WRONLY        = 0x1
	O_RDWR          = 0x2
	O_APPEND        = 0x400
	O_NONBLOCK      = 0x800
	O_ASYNC         = 0x2000
	O_DIRECT        = 0x4000
	O_NOATIME       = 0x40000
	O_CLOEXEC       = 0x80000
)

// ioctl(2) requests.
const (
	TIOCOUTQ    = 0x5411
	FIONREAD    = 0x541B
	FIONBIO     = 0x5421
	FIONCLEX    = 0x5450
	FIOCLEX     = 0x5451
	FIOASYNC    = 0x5452
	SIOCATMARK  = 0x8905
	SIOCOUTQNSD = 0x894B
	SIOCINQ     = FIONREAD
	SIOCOUTQ    = TIOCOUTQ
)

// poll(2) events.
const (
	POLLIN     = 0x1
	POLLPRI    = 0x2
	POLLOUT    = 0x4
	POLLERR    = 0x8
	POLLHUP    = 0x10
	POLLNVAL   = 0x20
	POLLRDNORM = 0x40
	POLLRDBAND = 0x80
	POLLWRNORM = 0x100
	POLLWRBAND = 0x200
	POLLMSG    = 0x400
	POLLRDHUP  = 0x2000
)

// epoll(7) events, flags and operations.
const (
	EPOLLIN        = 0x1
	EPOLLPRI       = 0x2
	EPOLLOUT       = 0x4
	EPOLLERR       = 0x8
	EPOLLHUP       = 0x10
	EPOLLNVAL      = 0x20
	EPOLLRDNORM    = 0x40
	EPOLLRDBAND    = 0x80
	EPOLLWRNORM    = 0x100
	EPOLLWRBAND    = 0x200
	EPOLLMSG       = 0x400
	EPOLLRDHUP     = 0x2000
	EPOLLEXCLUSIVE = 1 << 28
	EPOLLWAKEUP    = 1 << 29
	EPOLLONESHOT   = 1 << 30
	EPOLLET        = 1 << 31
	EPOLL_CTL_ADD  = 1
	EPOLL_CTL_DEL  = 2
	EPOLL_CTL_MOD  = 3
	EPOLL_CLOEXEC  = 0x80000

	epPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
	epMaxEvents   = 0x7fffffff / 12 // INT_MAX / sizeof(struct epoll_event)
)

// Linux's TCP states (include/net/tcp_states.h), as TCP_INFO's tcpi_state
// reports them.
const (
	TCP_ESTABLISHED = 1
	TCP_SYN_SENT    = 2
	TCP_SYN_RECV    = 3
	TCP_FIN_WAIT1   = 4
	TCP_FIN_WAIT2   = 5
	TCP_TIME_WAIT   = 6
	TCP_CLOSE       = 7
	TCP_CLOSE_WAIT  = 8
	TCP_LAST_ACK    = 9
	TCP_LISTEN      = 10
	TCP_CLOSING     = 11
)

// tcpi_options bits and tcpi_ca_state values.
const (
	TCPI_OPT_TIMESTAMPS = 1
	TCPI_OPT_SACK       = 2
	TCPI_OPT_WSCALE     = 4
	TCPI_OPT_ECN        = 8
	TCPI_OPT_ECN_SEEN   = 16
	TCPI_OPT_SYN_DATA   = 32

	TCP_CA_Open     = 0
	TCP_CA_Disorder = 1
	TCP_CA_CWR      = 2
	TCP_CA_Recovery = 3
	TCP_CA_Loss     = 4
)

// Kernel limits the API reproduces.
const (
	uioMaxIOV     = 1024   // UIO_MAXIOV
	hz            = 250    // CONFIG_HZ of the reference kernel: timeouts are in jiffies
	rmemMax       = 212992 // net.core.rmem_max
	wmemMax       = 212992 // net.core.wmem_max
	sockMinRcvbuf = 2304   // SOCK_MIN_RCVBUF: 2048 + sizeof(struct sk_buff), rounded
	sockMinSndbuf = 2 * sockMinRcvbuf
	tcpMinMSS     = 88    // TCP_MIN_MSS
	maxTCPWindow  = 32767 // MAX_TCP_WINDOW, the TCP_MAXSEG ceiling
	maxKeepIdle   = 32767 // MAX_TCP_KEEPIDLE (seconds)
	maxKeepIntvl  = 32767 // MAX_TCP_KEEPINTVL
	maxKeepCnt    = 127   // MAX_TCP_KEEPCNT
	maxSynCnt     = 127   // MAX_TCP_SYNCNT
	tcpCANameMax  = 16    // TCP_CA_NAME_MAX
	finTimeoutMax = 120   // TCP_FIN_TIMEOUT_MAX in seconds
	gsoMaxSize    = 65536 // sk_gso_max_size of a TUN device
)

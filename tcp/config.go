package tcp

import (
	"fmt"
	"time"

	"github.com/synfin/synfin/tcp/cc"
)

// Config holds the engine's knobs. Field names follow the Linux sysctls
// (net.ipv4.tcp_*) or the kernel constants they stand for, and DefaultConfig
// returns Linux 6.x's defaults, so a synfin endpoint looks like a Linux one on
// the wire unless told otherwise. A Config is read, never written, by the
// engine; many TCBs may share one.
type Config struct {
	// Timestamps enables RFC 7323 timestamps (tcp_timestamps, default on).
	Timestamps bool
	// WindowScaling enables RFC 7323 window scaling (tcp_window_scaling).
	WindowScaling bool
	// SACK enables selective acknowledgements, RFC 2018 (tcp_sack).
	SACK bool
	// ECN is tcp_ecn (RFC 3168): ECNOff (0) never, ECNOn (1) request ECN
	// on active opens and accept it on passive ones, ECNPassive (2, Linux's
	// default) accept it only when the peer asks.
	ECN int
	// ECNFallback is tcp_ecn_fallback (default on): a retransmitted SYN
	// no longer asks for ECN (RFC 3168 6.1.1.1).
	ECNFallback bool

	// SynRetries bounds the retransmissions of an unanswered SYN before
	// connect fails with ETIMEDOUT (tcp_syn_retries, 6). As in Linux 6.5+,
	// SYN_SENT allows SynRetries + SynLinearTimeouts retransmissions, within
	// the time SynRetries exponentially backed-off ones would take (127 s):
	// with the defaults, 10 retransmissions and ETIMEDOUT after 131 s.
	SynRetries int
	// SynLinearTimeouts is how many of those retransmissions keep the initial
	// RTO instead of doubling it (tcp_syn_linear_timeouts, 4, Linux 6.5+).
	SynLinearTimeouts int
	// SynackRetries is how many times a SYN-ACK is retransmitted before a
	// passive open gives up (tcp_synack_retries, 5).
	SynackRetries int
	// Retries1 is the retransmission count after which the path is suspected
	// (tcp_retries1, 3; RFC 9293 R1, MUST-20).
	Retries1 int
	// Retries2 bounds the retransmissions of data before the connection fails
	// with ETIMEDOUT (tcp_retries2, 15; RFC 9293 R2). Like Linux it is turned
	// into a time budget: the time the retries would take with exponential
	// backoff from RTOMin, capped at RTOMax.
	Retries2 int
	// OrphanRetries bounds retransmissions on a connection that the user has
	// closed (tcp_orphan_retries; 0 means 8, as in Linux).
	OrphanRetries int

	// FinTimeout is how long an orphaned connection (closed by the user)
	// stays in FIN_WAIT_2 (tcp_fin_timeout, 60 s).
	FinTimeout time.Duration
	// TimeWaitLen is the TIME_WAIT period, 2*MSL (Linux TCP_TIMEWAIT_LEN, 60 s).
	TimeWaitLen time.Duration

	// RTOMin, RTOInitial and RTOMax bound the retransmission timeout
	// (Linux TCP_RTO_MIN 200 ms, TCP_TIMEOUT_INIT 1 s, TCP_RTO_MAX 120 s;
	// RFC 6298 allows a 1 s minimum, Linux uses 200 ms).
	RTOMin, RTOInitial, RTOMax time.Duration

	// DelAckMin and DelAckMax bound the delayed-ACK timer (Linux TCP_DELACK_MIN
	// 40 ms, TCP_DELACK_MAX 200 ms; RFC 9293 SHLD-18 requires < 0.5 s).
	DelAckMin, DelAckMax time.Duration
	// QuickAcks is the most segments acknowledged immediately at the start of
	// a connection and after an idle period (Linux TCP_MAX_QUICKACKS, 16).
	QuickAcks int

	// KeepaliveTime, KeepaliveIntvl and KeepaliveProbes are the keep-alive
	// defaults (tcp_keepalive_time 7200 s, _intvl 75 s, _probes 9).
	// Keep-alives are off until enabled per connection (RFC 9293 MUST-24).
	KeepaliveTime   time.Duration
	KeepaliveIntvl  time.Duration
	KeepaliveProbes int

	// RMem and WMem are the receive and send buffer sizes: minimum, default,
	// maximum (tcp_rmem 4096 131072 6291456, tcp_wmem 4096 16384 4194304).
	RMem, WMem [3]int
	// AdvWinScale is how the receive buffer is split between data and
	// overhead (tcp_adv_win_scale, 1: half of the buffer is window).
	AdvWinScale int
	// ModerateRcvbuf lets a connection whose user did not set SO_RCVBUF
	// grow its receive buffer from RMem[1] towards RMem[2] as the
	// application keeps up (tcp_moderate_rcvbuf, default on; rcvbuf.go).
	ModerateRcvbuf bool
	// SlowStartAfterIdle decays the congestion window after the sender was
	// idle for longer than the RTO: halved per RTO, down to the initial
	// window (tcp_slow_start_after_idle, default on; RFC 5681 4.1, RFC
	// 2861; ssai.go).
	SlowStartAfterIdle bool
	// MinTSOSegs is the fewest segments Linux puts in one TSO packet
	// (tcp_min_tso_segs, 2). The engine sends MSS-sized segments; the TSO
	// packets Linux would build decide where PSH falls (records.go).
	MinTSOSegs int

	// InitCwnd is the initial congestion window in segments (Linux
	// TCP_INIT_CWND, 10; RFC 6928).
	InitCwnd int
	// MinSndMSS is the smallest MSS the engine will use, whatever the peer
	// announces (tcp_min_snd_mss, 48).
	MinSndMSS int
	// DefaultMSS is the MSS assumed when the peer sends no MSS option
	// (RFC 9293 MUST-15: 536 for IPv4).
	DefaultMSS int

	// CongestionControl names the congestion-control algorithm
	// (tcp_congestion_control): "cubic" (RFC 9438 with Linux's HyStart, the
	// default, as in Linux) or "reno" (NewReno); see package cc.
	CongestionControl string
	// CongestionParams are the algorithms' module parameters (Linux
	// /sys/module/tcp_cubic/parameters/*, ...), read when a connection is
	// created.
	CongestionParams cc.Params

	// DSACK enables duplicate SACK reports (RFC 2883) by the receiver
	// (tcp_dsack, default on).
	DSACK bool
	// Recovery selects the loss detection (tcp_recovery, default 1):
	// RecoveryRACK for RACK (RFC 8985), otherwise RFC 6675's DupThresh rule;
	// RecoveryStaticReoWnd and RecoveryNoDupThresh tune RACK as in Linux.
	Recovery int
	// EarlyRetrans enables Tail Loss Probes (tcp_early_retrans: 3 or 4
	// enable TLP, Linux's default is 3; 0 disables it). RFC 8985 7.
	EarlyRetrans int
	// FRTO enables F-RTO detection of spurious retransmission timeouts
	// (tcp_frto, RFC 5682; Linux's default 2 is the SACK-enhanced form, which
	// synfin uses for any non-zero value).
	FRTO int
	// Reordering is the initial reordering degree in segments, RFC 6675's
	// DupThresh (tcp_reordering, 3); MaxReordering caps what reordering
	// detection may raise it to (tcp_max_reordering, 300).
	Reordering    int
	MaxReordering int

	// ChallengeAckLimit caps challenge ACKs per second for all connections
	// sharing this Config (tcp_challenge_ack_limit; Linux 6.x: effectively
	// unlimited, 0 here means no global cap).
	ChallengeAckLimit int
	// InvalidRateLimit is the minimum spacing of the per-connection challenge
	// ACKs and of ACKs sent in reply to out-of-window segments
	// (tcp_invalid_ratelimit, 500 ms; RFC 5961 10).
	InvalidRateLimit time.Duration

	// Stdurg selects RFC 1122's interpretation of the urgent pointer (the
	// pointer points at the last urgent byte) instead of BSD's (tcp_stdurg,
	// default off, as in Linux).
	Stdurg bool
	// RFC1337 makes TIME_WAIT ignore RSTs instead of closing on them
	// (tcp_rfc1337, default off, as in Linux).
	RFC1337 bool
	// AbortOnUnreadData sends RST instead of FIN when the user closes with
	// unread data (Linux behaviour, RFC 2525 2.17). Always on in Linux.
	AbortOnUnreadData bool
	// MaxOutOfOrder is the floor of the bound on separate out-of-order
	// ranges kept for reassembly: the bound is this or one range per 2 KiB
	// of the receive buffer, whichever is more (Linux bounds its
	// out-of-order queue by the receive buffer's memory alone). Data that
	// would create a range beyond it is dropped and counted
	// (OutOfOrderDropped).
	MaxOutOfOrder int
	// NotsentLowat is the default TCP_NOTSENT_LOWAT of sockets
	// (tcp_notsent_lowat): a socket is writable only while less unsent
	// data than this is queued. 0 means no limit (Linux's UINT_MAX). The
	// engine does not use it; the socket layer does.
	NotsentLowat uint32
	// FastOpen is tcp_fastopen, Linux's bit mask for TCP Fast Open (RFC
	// 7413): FastOpenClient (default), FastOpenServer,
	// FastOpenClientNoCookie, FastOpenServerNoCookie, FastOpenServerAll
	// (fastopen.go). The stack decides with it; the engine carries out.
	FastOpen int
}

// DefaultConfig returns Linux 6.x's defaults.
func DefaultConfig() Config {
	return Config{
		Timestamps:         true,
		WindowScaling:      true,
		SACK:               true,
		ECN:                ECNPassive,
		ECNFallback:        true,
		SynRetries:         6,
		SynLinearTimeouts:  4,
		SynackRetries:      5,
		Retries1:           3,
		Retries2:           15,
		OrphanRetries:      0,
		FinTimeout:         60 * time.Second,
		TimeWaitLen:        60 * time.Second,
		RTOMin:             200 * time.Millisecond,
		RTOInitial:         time.Second,
		RTOMax:             120 * time.Second,
		DelAckMin:          40 * time.Millisecond,
		DelAckMax:          200 * time.Millisecond,
		QuickAcks:          16,
		KeepaliveTime:      7200 * time.Second,
		KeepaliveIntvl:     75 * time.Second,
		KeepaliveProbes:    9,
		RMem:               [3]int{4096, 131072, 6291456},
		WMem:               [3]int{4096, 16384, 4194304},
		AdvWinScale:        1,
		ModerateRcvbuf:     true,
		SlowStartAfterIdle: true,
		MinTSOSegs:         2,
		InitCwnd:           10,
		MinSndMSS:          48,
		DefaultMSS:         536,
		CongestionControl:  "cubic",
		CongestionParams:   cc.DefaultParams(),
		DSACK:              true,
		Recovery:           RecoveryRACK,
		EarlyRetrans:       3,
		FRTO:               2,
		Reordering:         3,
		MaxReordering:      300,
		ChallengeAckLimit:  0,
		InvalidRateLimit:   500 * time.Millisecond,
		AbortOnUnreadData:  true,
		MaxOutOfOrder:      64,
		FastOpen:           FastOpenClient,
	}
}

// Validate reports the first knob whose value makes no sense.
func (c *Config) Validate() error {
	switch {
	case c.SynRetries < 0 || c.SynRetries > 127:
		return fmt.Errorf("tcp: tcp_syn_retries %d out of range 0..127", c.SynRetries)
	case c.SynackRetries < 0 || c.SynackRetries > 127:
		return fmt.Errorf("tcp: tcp_synack_retries %d out of range 0..127", c.SynackRetries)
	case c.Retries2 < 0 || c.Retries2 > 255:
		return fmt.Errorf("tcp: tcp_retries2 %d out of range 0..255", c.Retries2)
	case c.RTOMin <= 0 || c.RTOInitial < c.RTOMin || c.RTOMax < c.RTOInitial:
		return fmt.Errorf("tcp: need 0 < rto_min (%v) <= rto_initial (%v) <= rto_max (%v)", c.RTOMin, c.RTOInitial, c.RTOMax)
	case c.TimeWaitLen < 0 || c.FinTimeout < 0:
		return fmt.Errorf("tcp: negative TIME_WAIT or FIN timeout")
	case c.DelAckMin <= 0 || c.DelAckMax < c.DelAckMin || c.DelAckMax >= 500*time.Millisecond:
		return fmt.Errorf("tcp: delayed ACK bounds %v..%v must be positive and below 500ms (RFC 9293 SHLD-18)", c.DelAckMin, c.DelAckMax)
	case c.RMem[0] <= 0 || c.RMem[0] > c.RMem[1] || c.RMem[1] > c.RMem[2]:
		return fmt.Errorf("tcp: tcp_rmem %v must be 0 < min <= default <= max", c.RMem)
	case c.WMem[0] <= 0 || c.WMem[0] > c.WMem[1] || c.WMem[1] > c.WMem[2]:
		return fmt.Errorf("tcp: tcp_wmem %v must be 0 < min <= default <= max", c.WMem)
	case c.InitCwnd < 1:
		return fmt.Errorf("tcp: initial cwnd %d must be at least 1", c.InitCwnd)
	case c.MinSndMSS < 48 || c.DefaultMSS < c.MinSndMSS:
		return fmt.Errorf("tcp: tcp_min_snd_mss %d must be >= 48 and <= default MSS %d", c.MinSndMSS, c.DefaultMSS)
	case c.KeepaliveProbes < 1 || c.KeepaliveTime <= 0 || c.KeepaliveIntvl <= 0:
		return fmt.Errorf("tcp: keepalive time, interval and probes must be positive")
	case c.ECN < ECNOff || c.ECN > ECNPassive:
		return fmt.Errorf("tcp: tcp_ecn %d out of range 0..2", c.ECN)
	case c.MinTSOSegs < 1 || c.MinTSOSegs > 255:
		return fmt.Errorf("tcp: tcp_min_tso_segs %d out of range 1..255", c.MinTSOSegs)
	case c.MaxOutOfOrder < 1:
		return fmt.Errorf("tcp: MaxOutOfOrder must be at least 1")
	case c.CongestionParams.Validate() != nil:
		return c.CongestionParams.Validate()
	case c.Reordering < 0 || c.MaxReordering < 0 || c.MaxReordering > 0 && c.Reordering > c.MaxReordering:
		return fmt.Errorf("tcp: tcp_reordering %d must be between 1 and tcp_max_reordering %d", c.Reordering, c.MaxReordering)
	case c.Recovery < 0 || c.Recovery > 7 || c.EarlyRetrans < 0 || c.EarlyRetrans > 4 || c.FRTO < 0 || c.FRTO > 2:
		return fmt.Errorf("tcp: tcp_recovery %d (0..7), tcp_early_retrans %d (0..4) or tcp_frto %d (0..2) out of range", c.Recovery, c.EarlyRetrans, c.FRTO)
	}
	return nil
}

// dupThresh is Reordering, with 0 (a Config built without DefaultConfig)
// meaning RFC 6675's DupThresh of 3.
func (c *Config) dupThresh() int {
	if c.Reordering <= 0 {
		return 3
	}
	return c.Reordering
}

package tcp

import "time"

// Stats counts what a connection dropped or answered specially, and why.
// Every malformed, hostile or useless input increments one of them.
type Stats struct {
	SegmentsToClosed           uint64 // segments that arrived for a CLOSED TCB (answered with RST)
	BadAckInListen             uint64 // ACKs arriving in LISTEN (answered with RST)
	BadAck                     uint64 // unacceptable ACKs in SYN_SENT / SYN_RCVD (answered with RST)
	DroppedNoFlags             uint64 // segments without SYN/RST/ACK where one was required
	DroppedNoAck               uint64 // segments without ACK in a synchronized state
	PAWSRejected               uint64 // segments rejected by PAWS (RFC 7323 5)
	OutOfWindow                uint64 // unacceptable sequence numbers (RFC 9293 3.10.7.4 first check)
	OutOfWindowAcksRateLimited uint64 // ACKs for out-of-window segments suppressed (tcp_invalid_ratelimit)
	RSTsOutOfWindow            uint64 // RSTs outside the window (dropped)
	RSTsInWindow               uint64 // RSTs in the window but not at RCV.NXT (challenge ACK, RFC 5961 3.2)
	RSTsAccepted               uint64 // RSTs that closed the connection
	RSTsIgnored                uint64 // RSTs ignored by rule (SYN_SENT without ACK, RFC 1337)
	SYNInSynchronized          uint64 // SYNs in a synchronized state (challenge ACK, RFC 5961 4.2)
	SYNRetransmitted           uint64 // retransmitted SYNs in SYN_RCVD (SYN-ACK resent)
	ChallengeAcks              uint64 // challenge ACKs sent (RFC 5961)
	ChallengeAcksRateLimited   uint64 // challenge ACKs suppressed by the rate limits (RFC 5961 7)
	AckUnsentData              uint64 // ACKs for data never sent (RFC 9293 3.10.7.4, RFC 5961 5.2)
	AckTooOld                  uint64 // ACKs older than SND.UNA - MAX.SND.WND (RFC 5961 5.2)
	DupAcks                    uint64 // duplicate ACKs (RFC 5681 2)
	DuplicateData              uint64 // segments whose data had all been received already
	DataBeyondWindow           uint64 // segments with data beyond the offered window (trimmed)
	OutOfOrderSegments         uint64 // segments queued out of order
	OutOfOrderDropped          uint64 // out-of-order data dropped for lack of reassembly room
	DataAfterFin               uint64 // data after the peer's FIN (ignored)
	DataAfterClose             uint64 // data for a connection the user has closed (answered with RST)
	FinRetransmitted           uint64 // retransmitted FINs acknowledged in TIME_WAIT
	Retransmits                uint64 // retransmission timeouts
	WindowProbes               uint64 // zero-window probes sent
	KeepaliveProbes            uint64 // keep-alive probes sent
	WindowUpdates              uint64 // changes of the peer's window
	ResetsOnCloseWithUnread    uint64 // RSTs sent because the user closed with unread data
	SACKBlocksDiscarded        uint64 // SACK blocks outside what was sent (ignored, Linux tcp_is_sackblock_valid)
	SACKReneging               uint64 // timeouts that found the peer had reneged on SACKed data (RFC 2018 8)
	RetransmitQueueMismatch    uint64 // retransmissions refused because the queue and buffer disagreed (a bug if ever non-zero)
	TxBlocked                  uint64 // transmissions not made because the Output's queue refused them (TxBlocker)
	DSACKDups                  uint64 // segments the peer reported as received twice (RFC 2883, tcpi_dsack_dups)
	TLPProbes                  uint64 // tail loss probes sent (RFC 8985 7)
	TLPRecoveries              uint64 // losses repaired by a loss probe (RFC 8985 7.4): cwnd reduced
	SpuriousUndos              uint64 // recoveries undone as spurious (RFC 3522, RFC 5682, RFC 2883)
	// ECN (RFC 3168), on connections that negotiated it.
	ECEReceived   uint64 // ACKs carrying ECN-Echo
	CEReceived    uint64 // data segments that arrived marked CE
	CWRSent       uint64 // segments sent with CWR
	CWRReceived   uint64 // segments received with CWR
	ECNReductions uint64 // congestion window reductions caused by ECE (CWR state entered)
	DeliveredCE   uint64 // segments acknowledged by ACKs carrying ECE (tcpi_delivered_ce)
}

type infoCounters struct {
	bytesAcked    uint64
	bytesReceived uint64
	bytesSent     uint64
	bytesRetrans  uint64
	// Segment and event counts are 32-bit, as in Linux's struct tcp_info
	// (tcpi_segs_out, tcpi_total_retrans...): they wrap, the byte counts
	// do not.
	segsIn, segsOut         uint32
	dataSegsIn, dataSegsOut uint32
	totalRetrans            uint32
	fastRetrans             uint32
	timeouts                uint32
	// Routine events, kept here rather than in the lazily allocated Stats.
	windowUpdates, dupAcks, retransmits, windowProbes, keepaliveProbes uint32
}

// Info is a snapshot of the connection, with what Linux's struct tcp_info
// holds (TCP_INFO). Times are durations; sizes are bytes unless they say
// segments.
type Info struct {
	State         State
	CAState       string // "open", "disorder", "cwr", "recovery" or "loss"
	Retransmits   int    // consecutive retransmissions of the oldest segment
	Probes        int    // unanswered zero-window or keep-alive probes
	Backoff       int    // RTO backoff shift
	Timestamps    bool   // TCPI_OPT_TIMESTAMPS
	SACK          bool   // TCPI_OPT_SACK
	WindowScale   bool   // TCPI_OPT_WSCALE
	SndWscale     uint8
	RcvWscale     uint8
	RTO           time.Duration
	ATO           time.Duration
	SndMSS        int
	RcvMSS        int
	Unacked       uint32 // segments outstanding (tcpi_unacked, Linux packets_out)
	Sacked        uint32 // outstanding segments SACKed (tcpi_sacked)
	Lost          uint32 // outstanding segments deemed lost (tcpi_lost)
	Retrans       uint32
	LastDataSent  time.Duration // since the last data was sent
	LastDataRecv  time.Duration
	LastAckRecv   time.Duration
	PMTU          int
	RcvSsthresh   uint32
	RTT           time.Duration // smoothed RTT
	RTTVar        time.Duration
	MinRTT        time.Duration
	SndSsthresh   uint32 // segments
	SndCwnd       uint32 // segments
	AdvMSS        int
	Reordering    int    // reordering degree in segments (tcpi_reordering)
	ReordSeen     uint32 // reordering events detected (tcpi_reord_seen)
	DSACKDups     uint64 // segments reported by DSACKs (tcpi_dsack_dups)
	TLPProbes     uint64 // tail loss probes sent (RFC 8985 7)
	SpuriousUndos uint64 // recoveries undone as spurious (RFC 3522, RFC 5682, DSACK)
	RcvSpace      int    // bytes the application read in the last measured RTT (tcpi_rcv_space, rcvbuf.go)
	TotalRetrans  uint64
	BytesAcked    uint64
	BytesRecv     uint64
	BytesSent     uint64
	BytesRetrans  uint64
	SegsOut       uint64
	SegsIn        uint64
	DataSegsOut   uint64
	DataSegsIn    uint64
	NotSentBytes  int
	SndWnd        uint32 // the peer's window
	RcvWnd        uint32 // the window we offer
	SndUna        uint32 // sequence variables, for tools
	SndNxt        uint32
	RcvNxt        uint32
	RecvQ         int // bytes waiting for the reader (ss Recv-Q)
	SendQ         int // bytes not yet acknowledged (ss Send-Q)
	FastRetrans   uint64
	Timeouts      uint64
	ECN           bool   // ECN negotiated (TCPI_OPT_ECN)
	ECNSeen       bool   // an ECT or CE segment arrived (TCPI_OPT_ECN_SEEN)
	DeliveredCE   uint32 // segments acknowledged by ACKs carrying ECE (tcpi_delivered_ce)
	// Sending time, as Linux's chrono statistics (chrono.go): time with
	// data queued or unacknowledged (tcpi_busy_time), and the parts of it
	// when the peer's window (tcpi_rwnd_limited) or the send buffer
	// (tcpi_sndbuf_limited) held the sender back.
	BusyTime      time.Duration
	RwndLimited   time.Duration
	SndbufLimited time.Duration
	RcvRTT        time.Duration // the receiver's RTT estimate (tcpi_rcv_rtt, rcvbuf.go)
	RcvOOOPack    uint64        // out-of-order segments received (tcpi_rcv_ooopack)
}

// Info returns a snapshot of the connection (getsockopt TCP_INFO).
func (t *TCB) Info() Info {
	ca := t.ca.String()
	var st Stats // the loss counters, without allocating Stats
	if t.stats != nil {
		st = *t.stats
	}
	rcvWnd := uint32(0)
	if seqGT(t.rcvAdv, t.rcvNxt) {
		rcvWnd = t.rcvAdv - t.rcvNxt
	}
	mss := t.mss
	if mss == 0 {
		mss = int(t.advMSS)
	}
	busy, rwnd, sndbuf := t.chronoTimes()
	var ooo uint64
	if t.stats != nil {
		ooo = t.stats.OutOfOrderSegments
	}
	return Info{
		BusyTime:      busy,
		RwndLimited:   rwnd,
		SndbufLimited: sndbuf,
		RcvRTT:        t.rcvRTT(),
		RcvOOOPack:    ooo,
		State:         t.state,
		CAState:       ca,
		Retransmits:   t.retrans,
		Probes:        t.probesOut,
		Backoff:       t.backoff,
		Timestamps:    t.tsOK,
		SACK:          t.sackOK,
		WindowScale:   t.wsOK,
		SndWscale:     t.sndWscale,
		RcvWscale:     t.rcvWscale,
		RTO:           t.rtoBackedOff(),
		ATO:           t.ato,
		SndMSS:        mss,
		RcvMSS:        t.rcvMSS,
		Unacked:       t.packetsInFlightSafe(),
		Sacked:        t.sackedOut(),
		Lost:          t.rtxq.lost,
		Retrans:       t.rtxq.retrans,
		LastDataSent:  t.now - t.lastSend,
		LastDataRecv:  t.now - t.lastDataRecv,
		LastAckRecv:   t.now - t.lastRecv,
		PMTU:          int(t.pathMSS) + 40,
		RcvSsthresh:   t.rcvSsthresh,
		RTT:           t.rtt.srtt(),
		RTTVar:        t.rtt.rttvar(),
		MinRTT:        t.rtt.minRTT(),
		SndSsthresh:   t.ccs.Ssthresh,
		SndCwnd:       t.ccs.Cwnd,
		AdvMSS:        int(t.advMSS),
		Reordering:    int(t.rack.reordering),
		ReordSeen:     t.rack.reordSeen,
		DSACKDups:     st.DSACKDups,
		TLPProbes:     st.TLPProbes,
		SpuriousUndos: st.SpuriousUndos,
		RcvSpace:      int(t.tuning.space),
		TotalRetrans:  uint64(t.info.totalRetrans),
		BytesAcked:    t.info.bytesAcked,
		BytesRecv:     t.info.bytesReceived,
		BytesSent:     t.info.bytesSent,
		BytesRetrans:  t.info.bytesRetrans,
		SegsOut:       uint64(t.info.segsOut),
		SegsIn:        uint64(t.info.segsIn),
		DataSegsOut:   uint64(t.info.dataSegsOut),
		DataSegsIn:    uint64(t.info.dataSegsIn),
		NotSentBytes:  t.Unsent(),
		SndWnd:        t.sndWnd,
		RcvWnd:        rcvWnd,
		SndUna:        t.sndUna,
		SndNxt:        t.sndNxt,
		RcvNxt:        t.rcvNxt,
		RecvQ:         t.rcvBuf.readable(),
		SendQ:         t.sndBuf.Len(),
		FastRetrans:   uint64(t.info.fastRetrans),
		Timeouts:      uint64(t.info.timeouts),
		ECN:           t.ecnUsed(),
		ECNSeen:       t.ecnUsed() && t.ecnFlags&ecnSeen != 0,
		DeliveredCE:   t.ecnDeliveredCE(),
	}
}

func (t *TCB) packetsInFlightSafe() uint32 {
	if n := t.rtxq.packetsOut(); n > 0 {
		return n
	}
	if t.sndNxt != t.sndUna {
		return 1
	}
	return 0
}

// sackedOut is tcpi_sacked: SACKed segments (for a peer without SACK, the
// duplicate ACKs counted in their place).
func (t *TCB) sackedOut() uint32 { return t.rtxq.sacked }

// ChallengeLimiter is a budget of challenge ACKs per second shared by many
// connections (tcp_challenge_ack_limit, RFC 5961 7). It is not safe for
// concurrent use: share it only among TCBs driven by one goroutine at a time
// (the stack serialises its engine calls).
type ChallengeLimiter struct {
	// PerSecond is the budget; 0 means unlimited.
	PerSecond int
	window    Time
	used      int
}

func (l *ChallengeLimiter) allow(now Time) bool {
	if l.PerSecond <= 0 {
		return true
	}
	if now-l.window >= time.Second || now < l.window {
		l.window, l.used = now, 0
	}
	if l.used >= l.PerSecond {
		return false
	}
	l.used++
	return true
}

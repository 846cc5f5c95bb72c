package tcp

import (
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// timer is one of the TCB's deadlines.
type timer struct {
	// v is the deadline's bitwise complement, so that the zero timer is
	// off without a flag of its own (8 bytes instead of 16: a TCB has five
	// timers). Deadlines are never negative, so no deadline maps to 0.
	v Time
}

func (tm *timer) set(at Time)           { tm.v = ^max(at, 0) }
func (tm *timer) stop()                 { tm.v = 0 }
func (tm *timer) on() bool              { return tm.v != 0 }
func (tm *timer) at() Time              { return ^tm.v }
func (tm *timer) expired(now Time) bool { return tm.on() && tm.at() <= now }
func (tm *timer) earlier(at Time, ok bool) (Time, bool) {
	if tm.on() && (!ok || tm.at() < at) {
		return tm.at(), true
	}
	return at, ok
}

// OpenOptions are the per-connection values that the owner of a TCB (the
// stack) chooses when it opens it.
type OpenOptions struct {
	// ISN is the initial send sequence number (RFC 9293 3.4.1; compute it
	// with an ISNGenerator for RFC 6528).
	ISN uint32
	// MSS is the maximum segment size this end can receive, announced in the
	// MSS option: the interface MTU minus the IP and TCP headers (RFC 9293
	// 3.7.1). 0 means 1460.
	MSS uint16
	// PathMSS is the largest segment the path to the peer carries (the
	// interface MTU minus headers); the send MSS never exceeds it. 0 means MSS.
	PathMSS uint16
	// TSOffset is added to the timestamp clock so that TSvals do not reveal
	// uptime (Linux randomises it per address pair; see ISNGenerator.TSOffset).
	TSOffset uint32
	// DefaultMSS is the send MSS assumed when the peer's SYN carries no MSS
	// option (RFC 9293 3.7.1, MUST-15): 536 for IPv4, 1220 for IPv6. 0 means
	// Config.DefaultMSS.
	DefaultMSS uint16
}

// ErrWouldBlock is returned by Read when no data is waiting. It is
// syscall.EAGAIN, as a non-blocking socket would report.
var ErrWouldBlock error = syscall.EAGAIN

// TCB is one connection's transmission control block (RFC 9293 3.3.1): its
// state, its sequence variables, its buffers and timers. It is not safe for
// concurrent use; the owner serialises calls.
type TCB struct {
	cfg *Config
	out Output
	now Time

	state State

	rxECN     wire.ECN
	tsRecentT Time // when TS.Recent was set, for the 24-day rule (RFC 7323 5.5)
	mss       int  // effective send MSS: data bytes per segment (options excluded)
	rcvMSS    int  // estimate of the peer's segment size, for delayed ACK

	sndBuf sendBuffer
	rcvBuf recvBuffer
	// lent is a blocked reader's buffer, lentN the bytes placed in it
	// (directread.go).
	lent []byte
	// stagedFor is the first byte of a payload StagePayload copied into
	// the receive buffer, stagedN how many bytes (rxstage.go); valid until
	// Input returns.
	stagedFor *byte
	lentN     int32
	stagedN   int32
	// stagedLent: the staged bytes are in the lent buffer, not the ring.
	stagedLent bool

	// Errors: err is reported once to the next user call, then dead tells
	// later calls the connection is gone.
	err     error
	softErr error

	// Timers (the retransmission timer doubles as SYN, persist and probe
	// timer, as in Linux; the keepalive timer doubles as FIN_WAIT_2 timer).
	rtxTimer   timer
	delAck     timer
	keepTimer  timer
	closeTimer timer // TIME_WAIT 2MSL and orphaned FIN_WAIT_2
	// reclaim releases the buffers' arrays once neither has drained for
	// reclaimDelay. A buffer that drains again soon after it last did
	// (sndDrained, rcvDrained: when it last became empty) keeps its array
	// so that a busy connection does not allocate per segment; an isolated
	// drain releases it at once.
	reclaim    timer
	sndDrained Time
	rcvDrained Time
	backoff    int // exponential backoff shift
	retrans    int // consecutive retransmissions of the oldest segment
	// retransStart is when the oldest unacknowledged data was first
	// retransmitted (for tcp_retries2 and TCP_USER_TIMEOUT).
	retransStart Time
	probesOut    int
	probeStart   Time
	lastRecv     Time // last segment received (keep-alive idle time)
	lastSend     Time // last data sent (for the congestion window restart)
	lastDataRecv Time // last in-order data received (tcpi_last_data_recv)

	rtt      rttEstimator
	rttStart Time

	// Congestion control and loss recovery (recovery.go, rack.go,
	// scoreboard.go).
	cc  cc.Algorithm
	ccs cc.Sender
	// rtxq is the retransmission queue and SACK scoreboard.
	rtxq         rtxQueue
	rack         rackState
	undoRetrans  int
	retransStamp Time

	// Delayed ACK.
	quickAcks int
	ato       time.Duration // the delayed-ACK timeout (icsk_ack.ato, quickack.go); 0 before data
	segsUnAck int           // full-sized segments received since the last ACK

	// Rate limiting of out-of-window ACKs and challenge ACKs (RFC 5961 7).
	lastOOWAck Time
	limiter    *ChallengeLimiter

	lingerTime  time.Duration
	keepIdle    time.Duration
	keepIntvl   time.Duration
	keepCnt     int
	userTimeout time.Duration

	// stats is allocated on the first anomaly: most connections never
	// count anything, and an idle connection's memory matters.
	stats *Stats
	info  infoCounters

	// dsack is the duplicate range the next ACK reports (RFC 2883).
	dsack wire.SACKBlock

	// seg is scratch space for outgoing segments, so sending allocates
	// nothing: the Output's (SegmentScratch), shared by the connections of
	// one stack, or the TCB's own.
	seg *Segment

	// records are the ends of the writes still in the send buffer
	// (records.go): PSH and MSG_EOR boundaries.
	records []sendRecord
	// fo is the Fast Open state (fastopen.go), nil unless the connection
	// uses RFC 7413.
	fo *fastOpen
	// chrono accounts the time spent busy, rwnd- and sndbuf-limited
	// (chrono.go); tuning is receive-buffer auto-tuning (rcvbuf.go).
	chrono chronoStats
	tuning rcvTuning

	// 32-bit fields, kept together for the same reason as the small ones
	// below.
	// Send sequence variables (RFC 9293 3.3.1).
	iss    uint32
	sndUna uint32 // oldest unacknowledged sequence number
	sndNxt uint32 // next sequence number to send
	sndMax uint32 // highest sequence number sent + 1 (sndNxt rewinds on RTO)
	sndWnd uint32 // peer's window, scaled, in bytes
	sndWl1 uint32 // SEG.SEQ of the last window update
	sndWl2 uint32 // SEG.ACK of the last window update
	sndUp  uint32 // send urgent pointer (first byte after urgent data)
	// maxSndWnd is the largest window the peer has offered (RFC 9293 3.8.6.2.1
	// and RFC 5961 5.2's MAX.SND.WND).
	maxSndWnd uint32
	// sndSml is the end of the last short segment sent (Minshall's Nagle
	// variant, as Linux uses).
	sndSml uint32
	// Receive sequence variables.
	irs    uint32
	rcvNxt uint32
	// rcvAdv is the right edge of the window last advertised (RCV.NXT +
	// RCV.WND at that time); it never moves left (RFC 9293 SHLD-14).
	rcvAdv uint32
	rcvUp  uint32 // receive urgent pointer
	// rcvSsthresh limits the advertised window while it grows, as Linux's
	// rcv_ssthresh does.
	rcvSsthresh uint32
	// lastAckSent is RCV.NXT as carried by the last ACK (RFC 7323 4.3).
	lastAckSent uint32
	tsRecent    uint32 // TS.Recent (RFC 7323 4.3)
	tsOffset    uint32
	// sndBufSeq is the sequence number of the first byte in sndBuf.
	sndBufSeq  uint32
	finSeq     uint32 // sequence number of our FIN
	peerFinSeq uint32
	// RTT timing without timestamps: one segment at a time (RFC 6298 3, Karn).
	rttSeq uint32
	// rtxTSVal is the TSval of the last timeout retransmission: echoes older
	// than it give no RTT sample.
	rtxTSVal uint32
	// highSeq is SND.NXT when the current episode began: RFC 6675's
	// RecoveryPoint, RFC 6582's "recover".
	highSeq uint32
	// PRR (RFC 6937): RecoverFS is priorCwnd.
	priorCwnd    uint32
	prrDelivered uint32
	prrOut       uint32
	// Undo of spurious episodes: the ssthresh to restore, where the
	// episode began, retransmissions not yet reported as duplicates (-1:
	// none made) and when the first retransmission went out.
	priorSsthresh uint32
	undoMarker    uint32
	// lastOOO is the start of the most recent out-of-order segment, so that
	// its SACK block is reported first (RFC 2018 4).
	lastOOO uint32
	// burstStart is where the current transmit burst began (records.go).
	burstStart uint32
	// pushedOff is Linux's pushed_seq (write_seq at the last push mark) as
	// an offset from ISS+1 (records.go).
	pushedOff uint32
	// Linux's cwnd validation (tcp_cwnd_validate): the most segments in
	// flight during the current window, where that window ends, and
	// whether the congestion window limited the sender in it.
	maxPacketsOut uint32
	cwndUsageSeq  uint32
	// synTSVal is the TSval of our first SYN (Linux's retrans_stamp): a
	// SYN-ACK must echo one between it and now.
	synTSVal uint32

	// Small fields, kept together so that alignment wastes no space (an
	// idle connection's memory matters).
	// passive is set when the connection came from LISTEN, so that an RST in
	// SYN_RCVD returns it to LISTEN (RFC 9293 3.10.7.4, second check).
	passive bool
	sndUrg  bool // urgent data pending
	rcvUrg  bool
	// Negotiated options.
	sndWscale uint8 // shift applied to windows the peer sends
	rcvWscale uint8 // shift applied to windows we send
	wsOK      bool
	tsOK      bool
	sackOK    bool
	// ecnFlags are ECN's state bits (ecn.go, RFC 3168), rxECN the ECN
	// field of the segment being processed (its counters are in Stats).
	ecnFlags uint8
	advMSS   uint16 // MSS we announced
	pathMSS  uint16
	peerMSS  uint16 // MSS the peer announced (or the default)
	defMSS   uint16 // OpenOptions.DefaultMSS
	// Closing.
	finQueued bool // the user has closed the sending side
	finSent   bool // our FIN has been sent (it is at finSeq)
	rcvFin    bool // the peer's FIN has been received (and is in rcvNxt)
	peerFin   bool // a FIN beyond RCV.NXT is waiting for the gap to fill
	readShut  bool // shutdown(SHUT_RD)
	orphan    bool // the user has closed the connection (no more reads)
	dead      bool
	persist   bool // rtxTimer is the zero-window probe timer
	rttTiming bool
	ca        caState
	// rtxKind says what the retransmission timer is running for: the RTO,
	// a loss probe or RACK's reordering timer.
	rtxKind   uint8
	undoValid bool
	// frto: F-RTO (RFC 5682) is judging the last timeout.
	frto bool
	// probeNewData: a loss probe may send one new segment beyond cwnd.
	probeNewData bool
	ackPending   bool // an ACK is owed
	holdAck      bool // InputBatch: ACKs wait for the end of the batch
	oowAckValid  bool
	// User options.
	noDelay      bool
	cork         bool
	lingerOn     bool
	keepAlive    bool
	lastOOOValid bool
	// sackHeld: an out-of-order segment arrived since the last ACK sent,
	// so the owed ACK carries a SACK block not yet reported (sackflush.go).
	sackHeld     bool
	dsackPending bool
	// sndBufLocked: the user set SO_SNDBUF, so the send buffer does not
	// grow by itself (expandSndBuf).
	sndBufLocked bool
	// wakeup is set while the probe timer sends data (PSH, as Linux's
	// tcp_write_wakeup).
	wakeup bool
	// pushOne: output sends one packet (Linux's tcp_push_one, records.go).
	pushOne       bool
	isCwndLimited bool
	// pingpong is Linux's interactive mode, entered when the peer's FIN
	// moves us to CLOSE_WAIT: quick ACKs stop, ACKs are delayed.
	pingpong bool
	// writePending: a writer waits for the handshake (SetWritePending).
	writePending bool
	// synRetries is TCP_SYNCNT (SetSynRetries; 0: Config.SynRetries).
	synRetries uint8
}

// New returns a TCB in the CLOSED state that will hand its segments and
// events to out. cfg must stay unchanged while the TCB lives.
func New(cfg *Config, out Output) (*TCB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("tcp: nil Output")
	}
	alg, err := cc.NewWithParams(cfg.CongestionControl, &cfg.CongestionParams)
	if err != nil {
		return nil, err
	}
	t := &TCB{cfg: cfg, out: out, cc: alg}
	if sc, ok := out.(SegmentScratch); ok {
		t.seg = sc.ScratchSegment()
	}
	if t.seg == nil {
		t.seg = new(Segment)
	}
	t.sndBuf.setLimit(cfg.WMem[1])
	t.rcvBuf.setLimit(cfg.RMem[1])
	t.rcvBuf.setMaxRanges(cfg.MaxOutOfOrder)
	t.rtt.init(cfg)
	t.rack.reordering = uint32(cfg.dupThresh())
	t.rack.reoWndMult = 1
	return t, nil
}

// State returns the connection's current state.
func (t *TCB) State() State { return t.state }

// Stats returns the counters of what this connection dropped and why.
func (t *TCB) Stats() Stats {
	var st Stats
	if t.stats != nil {
		st = *t.stats
	}
	st.WindowUpdates = uint64(t.info.windowUpdates)
	st.DupAcks = uint64(t.info.dupAcks)
	st.Retransmits = uint64(t.info.retransmits)
	st.WindowProbes = uint64(t.info.windowProbes)
	st.KeepaliveProbes = uint64(t.info.keepaliveProbes)
	return st
}

// st returns the counters, allocating them on first use.
func (t *TCB) st() *Stats {
	if t.stats == nil {
		t.stats = new(Stats)
	}
	return t.stats
}

// SetChallengeLimiter makes the TCB share a global challenge-ACK budget
// (tcp_challenge_ack_limit) with other connections. nil means no global cap.
func (t *TCB) SetChallengeLimiter(l *ChallengeLimiter) { t.limiter = l }

func (t *TCB) setState(s State, cause Cause) {
	old := t.state
	if old == s {
		return
	}
	t.state = s
	t.out.Event(Event{Kind: EventStateChange, Old: old, New: s, Cause: cause})
	switch s {
	case Established:
		// Linux starts tcpi_last_data_recv's clock (icsk_ack.lrcvtime)
		// when the connection is established.
		t.lastDataRecv = t.now
	case Closed:
		t.stopAllTimers()
		t.sndBuf.shrink()
		t.rtxq.reset()
		t.rtxq.release()
	case TimeWait:
		t.stopAllTimers()
		t.closeTimer.set(t.now + t.cfg.TimeWaitLen)
		// Nothing more will be sent or received: give the memory back.
		t.sndBuf.consume(t.sndBuf.Len())
		t.sndBuf.shrink()
		t.rtxq.reset()
		t.rtxq.release()
	}
}

func (t *TCB) stopAllTimers() {
	t.rtxTimer.stop()
	t.delAck.stop()
	t.keepTimer.stop()
	t.closeTimer.stop()
	t.reclaim.stop()
	t.persist = false
}

func (t *TCB) raise(kind EventKind) { t.out.Event(Event{Kind: kind}) }

// fail ends the connection with err (ECONNRESET, ETIMEDOUT, ECONNREFUSED...),
// reported to the user's next call.
func (t *TCB) fail(err error, cause Cause) {
	t.err = err
	t.dead = true
	t.out.Event(Event{Kind: EventError, Err: err})
	t.setState(Closed, cause)
	t.raise(EventReadable)
	t.raise(EventWritable)
}

// takeError returns the pending error once (as Linux's sock_error does).
func (t *TCB) takeError() error {
	err := t.err
	t.err = nil
	return err
}

func (t *TCB) initWindowsAndMSS(o OpenOptions) {
	t.iss = o.ISN
	t.sndUna = o.ISN
	t.sndNxt = o.ISN
	t.sndMax = o.ISN
	t.sndBufSeq = o.ISN + 1
	t.advMSS = o.MSS
	if t.advMSS == 0 {
		t.advMSS = 1460
	}
	t.pathMSS = o.PathMSS
	if t.pathMSS == 0 || t.pathMSS > t.advMSS {
		t.pathMSS = t.advMSS
	}
	t.tsOffset = o.TSOffset
	t.defMSS = o.DefaultMSS
	t.rcvWscale = 0
	if t.cfg.WindowScaling {
		t.rcvWscale = initialWscale(t.cfg.RMem[2])
	}
	t.ccs = cc.Sender{
		Cwnd:      uint32(t.cfg.InitCwnd),
		Ssthresh:  cc.InfiniteSSThresh,
		CwndClamp: 1 << 30,
	}
	t.cc.Init(&t.ccs)
}

// initialWscale picks the window scale that lets the largest receive buffer
// be advertised, as Linux's tcp_select_initial_window does.
func initialWscale(maxSpace int) uint8 {
	var ws uint8
	for maxSpace > 65535 && ws < 14 {
		maxSpace >>= 1
		ws++
	}
	return ws
}

// Connect performs an active OPEN (RFC 9293 3.10.1): it sends a SYN and
// enters SYN_SENT.
func (t *TCB) Connect(now Time, o OpenOptions) error {
	t.now = now
	switch t.state {
	case Closed:
	case SynSent, SynReceived:
		return syscall.EALREADY
	case Listen:
		return syscall.EINVAL
	default:
		return syscall.EISCONN
	}
	if t.dead {
		return syscall.EINVAL
	}
	t.initWindowsAndMSS(o)
	t.rcvSsthresh = t.initialRcvWnd(int(t.advMSS))
	t.setState(SynSent, CauseActiveOpen)
	if t.fastOpenDeferred() {
		// TCP_FASTOPEN_CONNECT with a cookie: the SYN waits for the
		// first write's data (SendDeferredSYN).
		return nil
	}
	t.synTSVal = t.tsNow()
	t.sendSYN(false)
	return nil
}

// Listen performs a passive OPEN (RFC 9293 3.10.1): the TCB waits in LISTEN
// for a SYN. The stack creates one such TCB for each arriving SYN (with the
// ISN for that 4-tuple) and feeds it the SYN; the TCB itself becomes the
// connection.
func (t *TCB) Listen(now Time, o OpenOptions) error {
	t.now = now
	if t.state != Closed || t.dead {
		return syscall.EINVAL
	}
	t.initWindowsAndMSS(o)
	t.passive = true
	t.setState(Listen, CausePassiveOpen)
	return nil
}

// Write queues p for transmission (SEND, RFC 9293 3.10.2) and sends what the
// windows allow. It returns how many bytes were queued: fewer than len(p)
// when the send buffer is full (wait for EventWritable). Errors are
// syscall.Errno values: EPIPE after the sending side was shut down,
// ECONNRESET (once) after a reset, ENOTCONN before a connection exists.
func (t *TCB) Write(now Time, p []byte) (int, error) {
	return t.writeWith(now, p, false, true, false)
}

// WriteUrgent queues p as urgent data (send with MSG_OOB): the urgent pointer
// is set to the end of p (RFC 9293 3.8.5, MUST-30).
func (t *TCB) WriteUrgent(now Time, p []byte) (int, error) {
	return t.writeWith(now, p, true, true, false)
}

// writeWith queues p; push and eor describe the write for the send
// records (records.go): MSG_MORE is !push, MSG_EOR is eor.
func (t *TCB) writeWith(now Time, p []byte, urgent, push, eor bool) (int, error) {
	t.now = now
	if err := t.takeError(); err != nil {
		return 0, err
	}
	if t.dead || t.finQueued {
		return 0, syscall.EPIPE
	}
	switch t.state {
	case Closed, Listen:
		return 0, syscall.ENOTCONN
	case SynSent, SynReceived, Established, CloseWait:
	default:
		return 0, syscall.EPIPE
	}
	n := t.queueWrite(p, push, eor, !urgent && (t.state.synchronized() || t.fastOpenChild()))
	if n > 0 && t.state.synchronized() {
		t.slowStartAfterIdleCheck() // Linux: as the data is queued (tcp_skb_entail)
	}
	t.chronoWrite(n, len(p))
	if urgent && n > 0 {
		t.sndUp = t.sndBufSeq + uint32(t.sndBuf.Len())
		t.sndUrg = true
	}
	if t.state.synchronized() || t.fastOpenChild() {
		t.output()
	}
	return n, nil
}

// Read copies received in-order data into p (RECEIVE, RFC 9293 3.10.3). It
// returns io.EOF once the peer's FIN has been reached, ErrWouldBlock
// (EAGAIN) when nothing is waiting, and ECONNRESET (once) after a reset.
func (t *TCB) Read(now Time, p []byte) (int, error) {
	t.now = now
	if t.rcvBuf.readable() > 0 && !t.readShut {
		before := t.rcvWindowToAdvertise()
		n := t.rcvBuf.read(p)
		t.rcvSpaceAdjust()
		t.afterRead(before)
		return n, nil
	}
	if err := t.takeError(); err != nil {
		return 0, err
	}
	if t.readShut || t.rcvFin || t.dead {
		return 0, io.EOF
	}
	switch t.state {
	case Closed:
		return 0, syscall.ENOTCONN
	case Listen:
		return 0, syscall.ENOTCONN
	}
	if len(p) == 0 {
		return 0, nil
	}
	return 0, ErrWouldBlock
}

// Peek copies waiting in-order data into p without consuming it (MSG_PEEK).
func (t *TCB) Peek(p []byte) int { return t.rcvBuf.peek(p) }

// Readable returns the number of in-order bytes waiting for Read (FIONREAD).
func (t *TCB) Readable() int { return t.rcvBuf.readable() }

// UrgentPending reports whether the peer's urgent pointer lies ahead of the
// reader, and how many bytes of the stream, from the next one Read returns,
// are urgent (RFC 9293 3.8.5, MUST-33; SIOCATMARK tells the same). Urgent
// data stays in the stream, as with Linux's SO_OOBINLINE; the count may
// include bytes not received yet, since the pointer may run ahead of the data.
func (t *TCB) UrgentPending() (int, bool) {
	if !t.rcvUrg {
		return 0, false
	}
	readSeq := t.rcvNxt - uint32(t.rcvBuf.readable())
	if t.rcvFin {
		readSeq--
	}
	if !seqGT(t.rcvUp, readSeq) {
		return 0, false
	}
	return int(t.rcvUp - readSeq), true
}

// Unsent returns the bytes queued but not yet sent (SIOCOUTQNSD), and
// Unacked those sent but not acknowledged.
func (t *TCB) Unsent() int { return t.sndBuf.Len() - t.dataInFlight() }

// Queued returns all bytes in the send buffer, unacknowledged or unsent
// (SIOCOUTQ / TIOCOUTQ).
func (t *TCB) Queued() int { return t.sndBuf.Len() }

// WriteSpace returns how many bytes Write would accept now.
func (t *TCB) WriteSpace() int { return t.sndBuf.Free() }

// EOF reports whether the peer's FIN has been reached by the reader.
func (t *TCB) EOF() bool { return t.rcvFin && t.rcvBuf.readable() == 0 }

// afterRead sends a window update if reading opened the window enough to be
// worth telling the peer (RFC 9293 3.8.6.2.2: receiver-side SWS avoidance,
// Linux's tcp_cleanup_rbuf rule).
func (t *TCB) afterRead(before uint32) {
	if !t.state.synchronized() || t.rcvFin || t.state == TimeWait {
		t.rcvBuf.shrink()
		return
	}
	// Linux's tcp_cleanup_rbuf: when the window offered has fallen to half
	// the clamp or less, and reading at least doubled it, tell the peer now.
	cur := uint32(0)
	if seqGT(t.rcvAdv, t.rcvNxt) {
		cur = t.rcvAdv - t.rcvNxt
	}
	clamp := uint32(winFromSpace(t.rcvBuf.limit(), t.cfg.AdvWinScale))
	if 2*cur <= clamp {
		if after := t.rcvWindowToAdvertise(); after > before && after != 0 && after >= 2*cur {
			t.sendAck()
		}
	}
	if t.rcvBuf.readable() == 0 && t.rcvBuf.oooBytes() == 0 {
		t.bufferDrained(false)
	}
}

// Close performs the CLOSE call (RFC 9293 3.10.4) with Linux's semantics:
// unread data or SO_LINGER with a zero timeout abort the connection with RST;
// otherwise a FIN follows the queued data and the connection is orphaned
// (no more reads).
func (t *TCB) Close(now Time) error {
	t.now = now
	t.orphan = true
	switch t.state {
	case Closed:
		t.dead = true
		return nil
	case Listen:
		t.setState(Closed, CauseCloseInListen)
		t.dead = true
		return nil
	case SynSent:
		t.setState(Closed, CauseCloseInSynSent)
		t.dead = true
		return nil
	}
	if t.lingerOn && t.lingerTime == 0 {
		t.abortWith(CauseLingerZero)
		return nil
	}
	if t.rcvBuf.readable() > 0 && t.cfg.AbortOnUnreadData {
		// Linux (RFC 2525 2.17): unread data would be lost silently; an RST
		// tells the peer so.
		t.st().ResetsOnCloseWithUnread++
		t.abortWith(CauseCloseUnreadData)
		return nil
	}
	t.shutdownWrite(CauseClose)
	if t.state == FinWait2 {
		t.startFinWait2Timer()
	}
	return nil
}

// Shutdown closes one or both directions (shutdown(2)). SHUT_WR sends a FIN
// after the queued data (half-close); SHUT_RD makes later reads return EOF.
func (t *TCB) Shutdown(now Time, how ShutdownHow) error {
	t.now = now
	switch t.state {
	case Closed, Listen, SynSent:
		if t.state == SynSent && how&ShutWrite != 0 {
			// Linux: shutdown(SHUT_WR) in SYN_SENT closes the connection.
			t.setState(Closed, CauseCloseInSynSent)
			t.dead = true
			return nil
		}
		return syscall.ENOTCONN
	}
	if how&ShutRead != 0 {
		t.readShut = true
		t.raise(EventReadable)
	}
	if how&ShutWrite != 0 {
		t.shutdownWrite(CauseShutdownWrite)
	}
	return nil
}

func (t *TCB) shutdownWrite(cause Cause) {
	if t.finQueued {
		return
	}
	switch t.state {
	case SynReceived:
		t.finQueued = true
		if t.sndBuf.Len() > 0 {
			// RFC 9293 3.10.4: with data queued, the FIN waits for the
			// handshake (processAck then enters FIN_WAIT_1 and sends both).
			return
		}
		// With nothing to send, send the FIN now and enter FIN_WAIT_1, as
		// RFC 9293 3.10.4 and Linux's tcp_close_state do. Our SYN stays
		// unacknowledged until the peer's ACK: the SYN-ACK is still
		// retransmitted (retransmitHead).
		t.setState(FinWait1, cause)
	case Established:
		t.finQueued = true
		t.setState(FinWait1, cause)
	case CloseWait:
		t.finQueued = true
		t.setState(LastAck, cause)
	default:
		return
	}
	t.output()
}

// Abort performs the ABORT call (RFC 9293 3.10.5): an RST is sent in the
// synchronized states and the connection is deleted.
func (t *TCB) Abort(now Time) {
	t.now = now
	t.orphan = true
	switch t.state {
	case Closed:
		return
	case Listen, SynSent:
		t.setState(Closed, CauseAbort)
		t.dead = true
		return
	}
	t.abortWith(CauseAbort)
}

// abortWith sends RST (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, as Linux's
// active reset) and deletes the connection. In CLOSING and LAST_ACK our FIN
// has normally gone out and nothing is sent (RFC 9293 3.10.5); like Linux's
// tcp_disconnect, an RST is still sent there while the FIN is unsent.
func (t *TCB) abortWith(cause Cause) {
	switch t.state {
	case SynReceived, Established, FinWait1, FinWait2, CloseWait:
		t.emit(wire.FlagRST|wire.FlagACK, t.sndNxtForReset(), nil, false)
	case Closing, LastAck:
		if !t.finSent {
			t.emit(wire.FlagRST|wire.FlagACK, t.sndNxtForReset(), nil, false)
		}
	}
	t.dead = true
	t.setState(Closed, cause)
}

// sndNxtForReset is the sequence number an active reset carries: SND.NXT,
// or past the FIN when it was queued but not sent.
func (t *TCB) sndNxtForReset() uint32 {
	return t.sndMax
}

// SetNoDelay disables Nagle's algorithm (TCP_NODELAY, RFC 9293 SHLD-7/MAY-10)
// and sends anything it was holding back.
func (t *TCB) SetNoDelay(now Time, on bool) {
	t.now = now
	t.noDelay = on
	if on && t.state.synchronized() {
		t.output()
	}
}

// SetCork holds back partial segments while on (TCP_CORK); turning it off
// sends them.
func (t *TCB) SetCork(now Time, on bool) {
	t.now = now
	t.cork = on
	if !on && t.state.synchronized() {
		t.output()
	}
}

// SetLinger sets SO_LINGER. With on and a zero timeout, Close aborts with RST.
func (t *TCB) SetLinger(on bool, d time.Duration) { t.lingerOn, t.lingerTime = on, d }

// SetKeepAlive enables or disables keep-alive probes (SO_KEEPALIVE, RFC 9293
// MUST-24: off by default). Zero idle, interval or count take the Config's
// defaults (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
func (t *TCB) SetKeepAlive(now Time, on bool, idle, intvl time.Duration, cnt int) {
	t.now = now
	t.keepAlive = on
	t.keepIdle, t.keepIntvl, t.keepCnt = idle, intvl, cnt
	t.armKeepalive()
}

func (t *TCB) keepaliveIdle() time.Duration {
	if t.keepIdle > 0 {
		return t.keepIdle
	}
	return t.cfg.KeepaliveTime
}

func (t *TCB) keepaliveIntvl() time.Duration {
	if t.keepIntvl > 0 {
		return t.keepIntvl
	}
	return t.cfg.KeepaliveIntvl
}

func (t *TCB) keepaliveCnt() int {
	if t.keepCnt > 0 {
		return t.keepCnt
	}
	return t.cfg.KeepaliveProbes
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482, RFC 9293 3.8.3): how long
// transmitted data may stay unacknowledged, or zero-window probes unanswered
// by an open window, before the connection fails with ETIMEDOUT. 0 restores
// the tcp_retries2 budget.
func (t *TCB) SetUserTimeout(d time.Duration) { t.userTimeout = d }

// SetReadBuffer and SetWriteBuffer set SO_RCVBUF and SO_SNDBUF. Like Linux,
// the value is doubled to leave room for bookkeeping and clamped to the
// configured minimum; the window never shrinks below what was advertised.
func (t *TCB) SetReadBuffer(n int) {
	n = clampBuf(2*n, t.cfg.RMem[0], 1<<30)
	t.rcvBuf.setLimit(n)
	t.tuning.locked = true // SOCK_RCVBUF_LOCK: no auto-tuning (rcvbuf.go)
}

// SetWriteBuffer sets SO_SNDBUF; see SetReadBuffer.
func (t *TCB) SetWriteBuffer(n int) {
	n = clampBuf(2*n, t.cfg.WMem[0], 1<<30)
	t.sndBuf.setLimit(n)
	t.sndBufLocked = true // SOCK_SNDBUF_LOCK: no automatic growth
}

// ReadBuffer and WriteBuffer return the buffer sizes (getsockopt SO_RCVBUF
// and SO_SNDBUF).
func (t *TCB) ReadBuffer() int  { return t.rcvBuf.limit() }
func (t *TCB) WriteBuffer() int { return t.sndBuf.limit() }

func clampBuf(n, lo, hi int) int {
	if n < lo {
		return lo
	}
	if n > hi {
		return hi
	}
	return n
}

// NoDelay reports TCP_NODELAY.
func (t *TCB) NoDelay() bool { return t.noDelay }

// SoftError returns the last soft error (an ICMP error or a suspected path
// failure, RFC 9293 MUST-20 R1) without clearing it.
func (t *TCB) SoftError() error { return t.softErr }

// SetSoftError records a soft error reported by the stack, such as an ICMP
// destination unreachable (RFC 9293 MUST-56/SHLD-26); the connection goes on.
func (t *TCB) SetSoftError(err error) { t.softErr = err }

// HardError ends the connection with err, as the stack does for an ICMP
// error that TCP must treat as hard (for example port unreachable during
// SYN_SENT, RFC 9293 3.9.4 / RFC 1122 4.2.3.9).
func (t *TCB) HardError(now Time, err error) {
	t.now = now
	if t.state == Closed {
		return
	}
	t.fail(err, Cause("hard ICMP error"))
}

// Deadline returns when the TCB next wants Tick to be called, and false when
// no timer is pending.
func (t *TCB) Deadline() (Time, bool) {
	var at Time
	var ok bool
	at, ok = t.rtxTimer.earlier(at, ok)
	at, ok = t.delAck.earlier(at, ok)
	at, ok = t.keepTimer.earlier(at, ok)
	at, ok = t.closeTimer.earlier(at, ok)
	at, ok = t.reclaim.earlier(at, ok)
	return at, ok
}

// Now returns the time of the last call.
func (t *TCB) Now() Time { return t.now }

package tcp

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/synfin/synfin/wire"
)

// TCP Fast Open (RFC 7413), as Linux 6.x does it.
//
// The engine carries out the decisions; the owner makes them. An active
// open that may use Fast Open is ConnectFastOpen with a FastOpenConnect the
// stack filled from its cookie cache (RFC 7413 4.1): a cookie request, a
// cookie and data, or data without a cookie. The SYN-ACK's lesson (the new
// cookie, the peer's MSS) comes back in an EventFastOpen. A passive open
// that accepts the data of a SYN is a TCB in LISTEN told so with
// AcceptFastOpen before the SYN is fed to it (RFC 7413 4.2.2): the data is
// delivered at once and the connection is handed to accept in SYN_RCVD.
//
// Data carried by our SYN is sent sequence space: what the SYN-ACK leaves
// unacknowledged is deemed lost and retransmitted right after the
// handshake, without the congestion response, as Linux's
// tcp_rcv_fastopen_synack does (RFC 7413 4.1.3: the server may acknowledge
// only the SYN). A retransmitted SYN carries neither data nor the option,
// as in Linux.

// The bits of Linux's net.ipv4.tcp_fastopen (Config.FastOpen).
const (
	// FastOpenClient (TFO_CLIENT_ENABLE) lets active opens use Fast Open:
	// MSG_FASTOPEN and TCP_FASTOPEN_CONNECT.
	FastOpenClient = 0x1
	// FastOpenServer (TFO_SERVER_ENABLE) lets listeners accept data in
	// SYNs; each listener still needs a queue (TCP_FASTOPEN), or
	// FastOpenServerAll.
	FastOpenServer = 0x2
	// FastOpenClientNoCookie (TFO_CLIENT_NO_COOKIE): send data in the SYN
	// without a cookie and without the option.
	FastOpenClientNoCookie = 0x4
	// FastOpenServerNoCookie (TFO_SERVER_COOKIE_NOT_REQD): accept data in
	// a SYN without checking any cookie.
	FastOpenServerNoCookie = 0x200
	// FastOpenServerAll (TFO_SERVER_WO_SOCKOPT1): every listener accepts
	// Fast Open with a queue as long as its backlog.
	FastOpenServerAll = 0x400
)

// fastOpenMaxOptionSpace is Linux's MAX_TCP_OPTION_SPACE: a SYN with data
// leaves room for 40 octets of options whatever it carries, so that
// middleboxes that add options do not push it beyond the MTU.
const fastOpenMaxOptionSpace = 40

// FastOpenMode is what an active open does about Fast Open (Linux's
// tcp_fastopen_cookie_check).
type FastOpenMode uint8

// The modes of FastOpenConnect.
const (
	// FastOpenRequest: the SYN carries an empty option, asking for a
	// cookie (RFC 7413 4.1.1), and no data.
	FastOpenRequest FastOpenMode = iota + 1
	// FastOpenWithCookie: the SYN carries the cookie and data (RFC 7413
	// 4.1.2).
	FastOpenWithCookie
	// FastOpenNoCookie: the SYN carries data and no option
	// (FastOpenClientNoCookie, TCP_FASTOPEN_NO_COOKIE).
	FastOpenNoCookie
)

// FastOpenConnect is the Fast Open part of an active open.
type FastOpenConnect struct {
	Mode FastOpenMode
	// Cookie is the option to send: the cached cookie (FastOpenWithCookie),
	// or an empty one whose Exp selects the form of the request.
	Cookie wire.FastOpen
	// MSS is the peer's MSS cached with the cookie (0: none). The data a
	// SYN carries is bounded by it, the path MTU and the MSS we announce,
	// less fastOpenMaxOptionSpace (Linux's tcp_send_syn_data).
	MSS uint16
	// Data is what the application offers; the SYN takes what fits.
	Data []byte
	// Defer is TCP_FASTOPEN_CONNECT with a cookie: the connection enters
	// SYN_SENT without sending anything, and the SYN leaves with the data
	// of the first write (SendDeferredSYN).
	Defer bool
}

// FastOpenReport is what a SYN-ACK taught an active opener that used Fast
// Open (Linux's tcp_fastopen_cache_set), for the cookie cache.
type FastOpenReport struct {
	// Cookie is the cookie the SYN-ACK carried (Len 0 or not Present:
	// none). A cookie nobody asked for is not reported.
	Cookie wire.FastOpen
	// MSS is the MSS the SYN-ACK announced (0: none).
	MSS uint16
	// SynLost: the SYN was retransmitted, and the SYN-ACK neither carried
	// a cookie nor acknowledged the data: the SYN with data or its SYN-ACK
	// was presumably dropped.
	SynLost bool
	// TryExp: a cookie request went unanswered; 1 asks for the
	// experimental option next time, 2 for the RFC one again.
	TryExp uint8
}

// fastOpen is a TCB's Fast Open state, allocated only for connections that
// use it.
type fastOpen struct {
	// Active open.
	mode     FastOpenMode
	opt      wire.FastOpen // the option the next SYN carries
	mss      uint16
	data     []byte // offered for the SYN, until the SYN is built
	deferred bool   // SYN_SENT, nothing sent yet (TCP_FASTOPEN_CONNECT)
	sentSYN  bool
	// synRetransmitted: the SYN had to be sent again (Linux total_retrans).
	synRetransmitted bool
	// synOption: the SYN carried a Fast Open option (Linux syn_fastopen);
	// exp: in the experimental form.
	synOption, exp bool
	// synData is the data the first SYN carried; synDataEnd is the
	// sequence number after it.
	synData    uint32
	synDataEnd uint32
	// retransmitData: the SYN-ACK did not acknowledge all of it.
	retransmitData bool
	report         FastOpenReport

	// Passive open: child is a connection created by a SYN whose data was
	// accepted (Linux's fastopen_rsk).
	child bool

	// synDataAcked is TCPI_OPT_SYN_DATA: all of our SYN's data was
	// acknowledged, or (passive) the SYN's data was accepted.
	synDataAcked bool
}

// ConnectFastOpen is Connect with Fast Open (RFC 7413 4.1): the SYN carries
// what fo says and as much of fo.Data as fits. It returns how many bytes of
// fo.Data were queued for the SYN (none when fo.Defer holds the SYN back).
func (t *TCB) ConnectFastOpen(now Time, o OpenOptions, fo FastOpenConnect) (int, error) {
	if t.state != Closed || t.dead {
		return 0, t.Connect(now, o)
	}
	t.fo = &fastOpen{}
	t.fo.prepare(fo)
	if err := t.Connect(now, o); err != nil {
		t.fo = nil
		return 0, err
	}
	return int(t.fo.synData), nil
}

// prepare sets up the next SYN.
func (f *fastOpen) prepare(fo FastOpenConnect) {
	f.mode, f.mss, f.deferred = fo.Mode, fo.MSS, fo.Defer
	f.opt = wire.FastOpen{}
	switch fo.Mode {
	case FastOpenRequest:
		f.opt = wire.FastOpen{Present: true, Exp: fo.Cookie.Exp}
	case FastOpenWithCookie:
		f.opt = fo.Cookie
		f.opt.Present = true
		f.data = fo.Data
	case FastOpenNoCookie:
		f.data = fo.Data
	}
}

// FastOpenDeferred reports whether the connection is in SYN_SENT with its
// SYN held back for the first write (TCP_FASTOPEN_CONNECT with a cookie).
func (t *TCB) FastOpenDeferred() bool { return t.fo != nil && t.fo.deferred && t.state == SynSent }

// SendDeferredSYN sends the SYN that TCP_FASTOPEN_CONNECT held back, with
// what fo says (the cookie cache may have changed since connect) and as
// much of fo.Data as fits, and returns how many bytes it queued. It fails
// with EALREADY when no SYN is held back.
func (t *TCB) SendDeferredSYN(now Time, fo FastOpenConnect) (int, error) {
	t.now = now
	if !t.FastOpenDeferred() {
		return 0, syscall.EALREADY
	}
	fo.Defer = false
	t.fo.prepare(fo)
	t.synTSVal = t.tsNow()
	t.sendSYN(false)
	return int(t.fo.synData), nil
}

// fastOpenDeferred is Connect's question: hold the SYN back?
func (t *TCB) fastOpenDeferred() bool { return t.fo != nil && t.fo.deferred }

// fastOpenSYNPayload is called for every SYN or SYN-ACK sendSYN sends: it
// returns the data the first SYN of an active Fast Open carries, queued in
// the send buffer, and notes retransmissions.
func (t *TCB) fastOpenSYNPayload() []byte {
	f := t.fo
	if f == nil || f.child {
		return nil
	}
	if f.sentSYN {
		f.synRetransmitted = true
		return nil
	}
	f.sentSYN = true
	data := f.data
	f.data = nil
	if f.mode != FastOpenWithCookie && f.mode != FastOpenNoCookie || len(data) == 0 {
		return nil
	}
	// Linux's tcp_send_syn_data: the MSS cached with the cookie (or the
	// one we announce), within the path MTU and TCP_MAXSEG, less the
	// room kept for options.
	clamp := int(t.advMSS)
	if f.mss != 0 && int(f.mss) < clamp {
		clamp = int(f.mss)
	}
	if int(t.pathMSS) < clamp {
		clamp = int(t.pathMSS)
	}
	space := clamp - fastOpenMaxOptionSpace
	if space <= 0 {
		return nil
	}
	if space > len(data) {
		space = len(data)
	}
	n := t.sndBuf.write(data[:space])
	t.noteWrite(n, true, false)
	f.synData = uint32(n)
	f.synDataEnd = t.iss + 1 + uint32(n)
	// The data is sent with the SYN (sendSYN takes SND.NXT from here).
	t.sndNxt = f.synDataEnd
	t.info.bytesSent += uint64(n)
	t.info.dataSegsOut++
	return t.sndBuf.peek(0, n)
}

// fastOpenOption puts the Fast Open option on the SYN or SYN-ACK being
// built, the first time only: retransmissions go without it.
func (t *TCB) fastOpenOption(o *wire.TCPOptions) {
	if t.fo == nil || !t.fo.opt.Present {
		return
	}
	o.FastOpen = t.fo.opt
	t.fo.opt = wire.FastOpen{}
	if !t.fo.child {
		t.fo.synOption, t.fo.exp = true, o.FastOpen.Exp
	}
}

// fastOpenSynAcked handles the SYN-ACK of an active Fast Open (RFC 7413
// 4.1.3 and Linux's tcp_rcv_fastopen_synack), once ackedSYN has run: the
// data it acknowledges leaves the send buffer, what it does not is
// retransmitted once the connection is established (fastOpenHoldAck), and
// the owner learns the cookie and MSS.
func (t *TCB) fastOpenSynAcked(seg *Segment) {
	f := t.fo
	if f == nil || f.child {
		return
	}
	if acked := seg.Ack - (t.iss + 1); f.synData > 0 && acked > 0 {
		n := int(min(acked, f.synData))
		t.sndBuf.consume(n)
		t.sndBufSeq += uint32(n)
		t.trimRecords()
		t.info.bytesAcked += uint64(n)
		if t.sndBuf.Len() == 0 {
			t.bufferDrained(true)
		}
	}
	unacked := f.synData > 0 && seqLT(seg.Ack, f.synDataEnd)
	f.synDataAcked = f.synData > 0 && !unacked
	f.retransmitData = unacked
	if !f.synOption && f.synData == 0 {
		return
	}
	r := FastOpenReport{}
	if seg.Options.HasMSS {
		r.MSS = seg.Options.MSS
	}
	cookie := seg.Options.FastOpen
	if !f.synOption {
		// Linux ignores a cookie it did not ask for.
		cookie = wire.FastOpen{}
	}
	switch {
	case f.synRetransmitted:
		r.SynLost = !cookie.Present && unacked
	case !cookie.Present && f.synData == 0:
		// The cookie request went unanswered: the peer may only know the
		// experimental option, or neither.
		r.TryExp = 1
		if f.exp {
			r.TryExp = 2
		}
	}
	if cookie.Present && cookie.Len > 0 {
		r.Cookie = cookie
	}
	f.report = r
	t.out.Event(Event{Kind: EventFastOpen, FastOpen: &f.report})
}

// fastOpenHoldAck is called once a SYN-ACK established the connection,
// before its ACK: it reports whether the ACK is left to the data about to
// follow. The data our SYN carried and the peer did not take is
// retransmitted at once and carries the ACK (Linux's
// tcp_rcv_fastopen_synack), and a writer waiting for the handshake with
// more data delays it (Linux's sk_write_pending: a delayed ACK in
// quick-ACK mode).
func (t *TCB) fastOpenHoldAck() bool {
	if t.fo != nil && t.fo.retransmitData {
		t.fo.retransmitData = false
		t.fastOpenRetransmit()
		return true
	}
	if t.writePending {
		t.ackPending = true
		t.delAck.set(t.now + t.cfg.DelAckMax)
		// Only the timer or the data sends it: nothing counts as
		// received beyond what this ACK will cover.
		t.lastAckSent = t.rcvNxt
		// Linux's tcp_enter_quickack_mode starts the delayed-ACK clock
		// here, so the data the writer sends at once is a reply within
		// it: the connection turns interactive (tcp_event_data_sent's
		// pingpong), and later ACKs are delayed.
		t.pingpong = true
		return true
	}
	return false
}

// fastOpenRetransmit retransmits what the SYN carried and the SYN-ACK did
// not acknowledge: the packets were not lost to congestion, so cwnd stays
// (Linux's tcp_non_congestion_loss_retransmit: the Loss state only makes
// the scoreboard resend them).
func (t *TCB) fastOpenRetransmit() {
	t.rtxqCover()
	q := &t.rtxq
	for i := q.head; i < len(q.segs); i++ {
		q.markLost(&q.segs[i])
	}
	if t.ca != caLoss {
		t.highSeq = t.sndNxt
		t.priorSsthresh = 0
		t.undoValid = false
		t.ca = caLoss
	}
	t.xmitRetransmitQueue()
}

// fastOpenPathMSS is SetPathMSS for a SYN that carried data: the path MTU
// shrank under it, so the SYN and its data were dropped. As Linux's
// tcp_simple_retransmit does for a SYN with data, the SYN is sent again at
// once, alone, announcing the smaller MSS; the data follows the handshake
// (fastOpenSynAcked).
func (t *TCB) fastOpenPathMSS() {
	if t.state != SynSent || t.fo == nil || t.fo.synData == 0 || t.FastOpenDeferred() {
		return
	}
	if t.pathMSS < t.advMSS {
		t.advMSS = t.pathMSS
	}
	t.info.totalRetrans++
	t.sendSYN(false)
}

// SetWritePending tells the TCB that a writer waits for the handshake to
// finish with data to send (Linux's sk_write_pending): the ACK of the
// SYN-ACK is then delayed so that the data carries it.
func (t *TCB) SetWritePending(on bool) { t.writePending = on }

// FastOpenSynData reports TCPI_OPT_SYN_DATA: the SYN's data was all
// acknowledged (active open) or accepted (passive open).
func (t *TCB) FastOpenSynData() bool { return t.fo != nil && t.fo.synDataAcked }

// AcceptFastOpen tells a TCB in LISTEN that the SYN about to arrive passed
// the Fast Open checks (RFC 7413 4.2.2: a valid cookie, or none needed):
// its data is delivered at once, the SYN-ACK acknowledges it and carries
// cookie if cookie.Present (a new cookie for a client whose cookie came
// from an older key), and the connection is handed to accept (an
// EventAccepted) as soon as the SYN-ACK is sent, in SYN_RCVD, where it may
// read and send data.
func (t *TCB) AcceptFastOpen(cookie wire.FastOpen) {
	t.fo = &fastOpen{child: true, opt: cookie}
}

// SetSynAckCookie makes the SYN-ACK that answers the coming SYN carry a
// Fast Open cookie (RFC 7413 4.1.2: the answer to a cookie request, or a
// valid cookie for a client that sent an invalid one) without accepting
// the SYN's data.
func (t *TCB) SetSynAckCookie(cookie wire.FastOpen) {
	if cookie.Present {
		t.fo = &fastOpen{opt: cookie}
	}
}

// fastOpenChild reports whether the connection is a passive Fast Open one
// (RFC 7413 4.2.2).
func (t *TCB) fastOpenChild() bool { return t.fo != nil && t.fo.child }

// FastOpenPassive reports whether the connection is a passive Fast Open
// one (RFC 7413 4.2.2): in SYN_RCVD it may already read and write.
func (t *TCB) FastOpenPassive() bool { return t.fastOpenChild() }

// windowBase is where the peer's window starts: SND.UNA, or, for a passive
// Fast Open connection whose SYN-ACK is not acknowledged yet, the byte
// after the SYN (the peer's window covers data, as Linux's child socket
// starts with snd_una past the SYN-ACK, which the request socket
// retransmits).
func (t *TCB) windowBase() uint32 {
	if t.state == SynReceived && t.fastOpenChild() && t.sndUna == t.iss {
		return t.iss + 1
	}
	return t.sndUna
}

// fastOpenTakeSYNData delivers the data of a SYN that Fast Open accepted,
// in LISTEN, before the SYN-ACK is built (Linux's tcp_fastopen_add_skb).
func (t *TCB) fastOpenTakeSYNData(seg *Segment) {
	if !t.fastOpenChild() {
		return
	}
	// A full connection from its SYN on (Linux's child socket), not a
	// request: it is accepted once, now, and an RST or a timeout in
	// SYN_RCVD ends it with an error instead of forgetting it.
	t.passive = false
	if len(seg.Payload) == 0 {
		return
	}
	t.fo.synDataAcked = true
	advanced, _ := t.rcvBuf.write(0, seg.Payload)
	t.rcvNxt += uint32(advanced)
	t.info.bytesReceived += uint64(advanced)
	t.lastDataRecv = t.now
}

// fastOpenChildReady hands a passive Fast Open connection to accept once
// its SYN-ACK is sent, as Linux queues the child right after it.
func (t *TCB) fastOpenChildReady() {
	if !t.fastOpenChild() {
		return
	}
	t.out.Event(Event{Kind: EventAccepted})
	if t.rcvBuf.readable() > 0 {
		t.raise(EventReadable)
	}
	t.raise(EventWritable)
}

// fastOpenChildAcked is called when the ACK of our SYN arrives in
// SYN_RCVD (ackedSYN): for a passive Fast Open connection, and for an
// active one in a simultaneous open, SND.UNA stays after the SYN, so that
// the data the ACK also covers (sent in SYN_RCVD, RFC 7413 4.2.2, or in
// our SYN) is acknowledged like any other.
func (t *TCB) fastOpenChildAcked() {
	if t.fo != nil && t.state == SynReceived {
		t.sndUna = t.iss + 1
		if t.sndMax != t.sndUna {
			// Data sent in SYN_RCVD is still outstanding: keep it timed.
			t.armRTO()
		}
	}
}

// FastOpenCookie is the cookie a Fast Open server gives the client at src
// when it is reached at dst (RFC 7413 4.1.2: a MAC of the client's address
// under a server secret; the server's address is mixed in too). Like
// Linux's __tcp_fastopen_cookie_gen_cipher it is SipHash-2-4, keyed with
// the 16 key bytes (two little-endian 64-bit words), of the source and
// destination addresses as the SYN's IP header carries them (4 octets
// each for IPv4, 16 for IPv6), stored little-endian: 8 octets. So Linux
// and synfin servers with the same key give the same cookies
// (net.ipv4.tcp_fastopen_key, TCP_FASTOPEN_KEY).
func FastOpenCookie(key [16]byte, src, dst netip.Addr) wire.FastOpen {
	var in [32]byte
	var msg []byte
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		copy(in[0:4], s[:])
		copy(in[4:8], d[:])
		msg = in[:8]
	} else {
		s, d := src.As16(), dst.As16()
		copy(in[0:16], s[:])
		copy(in[16:32], d[:])
		msg = in[:32]
	}
	h := sipHash24(binary.LittleEndian.Uint64(key[0:8]), binary.LittleEndian.Uint64(key[8:16]), msg)
	c := wire.FastOpen{Present: true, Len: 8}
	binary.LittleEndian.PutUint64(c.Cookie[:8], h)
	return c
}

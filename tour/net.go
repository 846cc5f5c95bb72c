package tour

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// DefaultDelay is the one-way delay of each direction of a Net.
const DefaultDelay = 10 * time.Millisecond

// Net is a deterministic in-memory network joining two synfin engines in
// virtual time. Each direction delivers segments after a fixed delay, in the
// order they were sent; chosen segments can be lost. Fill in the exported
// fields (NewNet sets defaults) and call Run.
type Net struct {
	// Addrs are the ends' addresses (IPv4 documentation addresses by default).
	Addrs [2]netip.AddrPort
	// ISN is each end's initial sequence number.
	ISN [2]uint32
	// MSS is the MSS both ends announce (an Ethernet path: 1460).
	MSS uint16
	// Delay is the one-way delay of what each end sends.
	Delay [2]time.Duration
	// Config is the engines' configuration (Linux defaults).
	Config tcp.Config
	// Limit bounds the virtual time a scenario may take.
	Limit time.Duration

	now    time.Duration
	ends   [2]*end
	flight []*Segment // sent, neither lost nor delivered yet
	losses []*lossRule
	nextID int
	trace  *Trace
	err    error

	// The step being recorded, and what it produced.
	cur       *Step
	curRetx   bool             // the step retransmitted something
	curAck    bool             // the step sent a pure ACK
	curOp     Op               // the call a CallStep makes
	curSegs   []*Segment       // the segments sent during the step
	deadlines [2]time.Duration // the ends' deadlines when the step began
	before    [2]probe         // the ends as the step began
}

type lossRule struct {
	Loss
	used bool
}

// end is one side of the network: an engine (or no socket at all) and the
// application that uses it.
type end struct {
	n     *Net
	side  Side
	name  string
	app   App
	tcb   *tcp.TCB // nil when App.NoSocket
	state tcp.State
	ipID  uint16

	readable bool // the engine said data or EOF is waiting
	appDone  bool // the application has closed, or has read EOF or an error
	closed   bool // the application has called close()

	sentAny bool   // has sent a segment that uses sequence space
	hiSeq   uint32 // highest sequence number sent + 1
}

// NewNet returns a network with the tour's defaults: client 192.0.2.1:49152,
// server 192.0.2.2:80 (RFC 5737 documentation addresses), ISNs 1000 and 5000,
// 10 ms each way, Linux's default engine configuration.
func NewNet() *Net {
	return &Net{
		Addrs: [2]netip.AddrPort{
			netip.MustParseAddrPort("192.0.2.1:49152"),
			netip.MustParseAddrPort("192.0.2.2:80"),
		},
		ISN:    [2]uint32{1000, 5000},
		MSS:    1460,
		Delay:  [2]time.Duration{DefaultDelay, DefaultDelay},
		Config: tcp.DefaultConfig(),
		Limit:  10 * time.Minute,
	}
}

// Run runs a scenario on a network with the defaults of NewNet.
func Run(sc *Scenario) (*Trace, error) { return NewNet().Run(sc) }

// maxSteps bounds the events of one run, so that an engine that never goes
// quiet cannot hang the tour.
const maxSteps = 100000

// Run plays the scenario from virtual time 0 until nothing is left to
// happen: no call pending, no segment in flight, no timer armed. A Net runs
// one scenario.
func (n *Net) Run(sc *Scenario) (*Trace, error) {
	if n.trace != nil {
		return nil, errors.New("tour: a Net runs one scenario")
	}
	names := sc.names()
	n.trace = &Trace{
		Name:        sc.Name,
		Title:       sc.Title,
		Description: sc.Description,
		Names:       names,
		Addrs:       n.Addrs,
		ISN:         n.ISN,
		Delay:       n.Delay,
	}
	for _, l := range sc.Losses {
		n.losses = append(n.losses, &lossRule{Loss: l})
		n.trace.Losses = append(n.trace.Losses, l.What)
	}
	for _, s := range []Side{Client, Server} {
		e := &end{n: n, side: s, name: names[s], app: sc.Apps[s]}
		if !e.app.NoSocket {
			tcb, err := tcp.New(&n.Config, e)
			if err != nil {
				return nil, err
			}
			e.tcb = tcb
		}
		n.ends[s] = e
	}
	actions := slices.Clone(sc.Actions)
	slices.SortStableFunc(actions, func(a, b Action) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})

	for steps := 0; ; steps++ {
		if n.err != nil {
			return n.trace, n.err
		}
		if steps > maxSteps {
			return n.trace, fmt.Errorf("tour: %s: still busy after %d steps", sc.Name, maxSteps)
		}
		next, ok := n.nextEvent(actions)
		if !ok {
			break
		}
		if next > n.Limit {
			return n.trace, fmt.Errorf("tour: %s: still busy after %v of virtual time", sc.Name, n.Limit)
		}
		if next > n.now {
			n.now = next
		}
		// At one instant: the calls due, then the segments due (in the
		// order they were sent), then the timers due; the applications
		// react after each.
		for len(actions) > 0 && actions[0].At <= n.now {
			if err := n.do(actions[0]); err != nil {
				return n.trace, err
			}
			actions = actions[1:]
			n.react()
		}
		for {
			seg := n.popDue()
			if seg == nil {
				break
			}
			n.deliver(seg)
			n.react()
		}
		for _, e := range n.ends {
			if e.tcb == nil {
				continue
			}
			if d, ok := e.tcb.Deadline(); ok && d <= n.now {
				n.tick(e)
				if d2, ok := e.tcb.Deadline(); ok && d2 <= n.now {
					return n.trace, fmt.Errorf("tour: %s: engine bug: %s's deadline %v did not move past now (%v) after Tick",
						sc.Name, e.name, d2, n.now)
				}
				n.react()
			}
		}
	}
	return n.trace, n.err
}

// nextEvent returns the time of the next call, arrival or timer.
func (n *Net) nextEvent(actions []Action) (time.Duration, bool) {
	var t time.Duration
	ok := false
	consider := func(x time.Duration) {
		if !ok || x < t {
			t, ok = x, true
		}
	}
	if len(actions) > 0 {
		consider(actions[0].At)
	}
	for _, s := range n.flight {
		consider(s.ArrivesAt)
	}
	for _, e := range n.ends {
		if e.tcb != nil {
			if d, dok := e.tcb.Deadline(); dok {
				consider(d)
			}
		}
	}
	return t, ok
}

// popDue removes and returns the first segment due by now: the earliest
// arrival, then the earliest sent.
func (n *Net) popDue() *Segment {
	best := -1
	for i, s := range n.flight {
		if s.ArrivesAt > n.now {
			continue
		}
		if best < 0 || s.ArrivesAt < n.flight[best].ArrivesAt ||
			s.ArrivesAt == n.flight[best].ArrivesAt && s.ID < n.flight[best].ID {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	s := n.flight[best]
	n.flight = slices.Delete(n.flight, best, best+1)
	return s
}

func (n *Net) states() [2]tcp.State {
	return [2]tcp.State{n.ends[Client].state, n.ends[Server].state}
}

// begin starts recording a step.
func (n *Net) begin(kind StepKind, side Side) {
	n.cur = &Step{Kind: kind, At: n.now, Side: side, Before: n.states()}
	n.curRetx, n.curAck, n.curSegs = false, false, nil
	for _, e := range n.ends {
		n.before[e.side] = e.probe()
		n.deadlines[e.side] = -1
		if e.tcb != nil {
			if d, ok := e.tcb.Deadline(); ok {
				n.deadlines[e.side] = d
			}
		}
	}
}

// finish ends the step and adds it to the trace, unless it is a step that
// may be dropped (a timer or a read) and nothing happened.
func (n *Net) finish(optional bool) {
	st := n.cur
	n.cur = nil
	st.After = n.states()
	for _, e := range n.ends {
		if e.tcb == nil || st.Before[e.side] != tcp.TimeWait || st.After[e.side] != tcp.TimeWait {
			continue
		}
		if d, ok := e.tcb.Deadline(); ok && d != n.deadlines[e.side] {
			st.Notes = append(st.Notes, fmt.Sprintf("%s: 2MSL timer restarted: TIME_WAIT now ends at %s",
				e.name, FormatTime(d)))
		}
	}
	var after [2]probe
	for _, e := range n.ends {
		after[e.side] = e.probe()
		st.Vars[e.side] = after[e.side].vars()
	}
	if st.Kind == TimerStep {
		name, rule := timerRule(n.before[st.Side], after[st.Side], sentDuring(n.curSegs, st.Side), st.Changes, st.Side)
		st.Text, st.Rule = name, rule
		if name == "" {
			st.Text = n.timerText(st)
		}
	}
	// A segment's cwnd is its sender's once the step is over: the engine
	// updates cwnd (an ACK arriving, a timeout) before it sends.
	for _, s := range n.curSegs {
		b, a := n.before[s.From], after[s.From]
		if a.tcb && (hasVars(b.state) || hasVars(a.state)) {
			s.Cwnd, s.CwndKnown = a.info.SndCwnd, true
		}
	}
	switch st.Kind {
	case SegmentStep:
		to := st.Seg.To
		st.Rule = segmentRule(st.Seg, n.before[to], after[to], sentDuring(n.curSegs, to), st.Changes)
	case CallStep:
		st.Rule = callRule(n.curOp, st.Side, sentDuring(n.curSegs, st.Side), st.Changes)
	}
	if !optional || len(st.Changes) > 0 || len(st.Sent) > 0 || len(st.Notes) > 0 {
		n.trace.Steps = append(n.trace.Steps, *st)
	}
}

// timerText says which timer fired, judging by what it did.
func (n *Net) timerText(st *Step) string {
	for _, c := range st.Changes {
		switch c.Cause {
		case tcp.CauseTimeWaitExpired:
			return "TIME_WAIT timer (2MSL) expired"
		case tcp.CauseFinWait2Timeout:
			return "FIN_WAIT_2 timer expired"
		case tcp.CauseSynTimeout, tcp.CauseSynAckTimeout, tcp.CauseRetransmitTimeout:
			return "retransmission timer expired: giving up"
		}
	}
	switch {
	case n.curRetx:
		return "retransmission timer expired"
	case n.curAck:
		return "delayed-ACK timer expired"
	}
	return "timer expired"
}

// Segment is the engines' tcp.Output: it puts a segment on the wire.
func (e *end) Segment(s *tcp.Segment) { e.n.transmit(e, s) }

// Event is the engines' tcp.Output: it records state changes and errors.
func (e *end) Event(ev tcp.Event) {
	n := e.n
	switch ev.Kind {
	case tcp.EventStateChange:
		e.state = ev.New
		if n.cur != nil {
			n.cur.Changes = append(n.cur.Changes, Change{Side: e.side, Old: ev.Old, New: ev.New, Cause: ev.Cause})
		}
	case tcp.EventReadable:
		e.readable = true
	case tcp.EventError:
		if n.cur != nil {
			n.cur.Notes = append(n.cur.Notes, fmt.Sprintf("%s: connection failed: %s", e.name, errText(ev.Err)))
		}
	}
}

// transmit serialises a segment sent by e into an IPv4 packet, parses it
// back, and puts what was parsed on the wire (or loses it).
func (n *Net) transmit(e *end, s *tcp.Segment) {
	if n.err != nil {
		return
	}
	peer := n.ends[e.side.Peer()]
	pkt, err := n.encode(e, peer, s)
	if err != nil {
		n.err = err
		return
	}
	seg, parsed, err := decode(pkt)
	if err != nil {
		n.err = fmt.Errorf("tour: %s's segment %v does not parse back: %w", e.name, s, err)
		return
	}
	if err := sameSegment(s, &parsed); err != nil {
		n.err = fmt.Errorf("tour: %s's segment %v does not survive the wire: %w", e.name, s, err)
		return
	}
	n.nextID++
	seg.ID = n.nextID
	seg.From, seg.To = e.side, peer.side
	seg.SentAt = n.now
	seg.ArrivesAt = n.now + n.Delay[e.side]

	if l := s.Len(); l > 0 {
		end := s.Seq + l
		if e.sentAny && int32(s.Seq-e.hiSeq) < 0 {
			n.curRetx = true
		}
		if !e.sentAny || int32(end-e.hiSeq) > 0 {
			e.hiSeq, e.sentAny = end, true
		}
	} else if s.Flags == wire.FlagACK {
		n.curAck = true
	}
	if n.cur != nil {
		n.cur.Sent = append(n.cur.Sent, seg.ID)
		n.curSegs = append(n.curSegs, seg)
	}
	for _, l := range n.losses {
		if !l.used && l.Side == e.side && l.Match(s, e.state) {
			// Lost on the way: it travels like the others, so that the
			// trace shows it where it would have arrived, but its
			// receiver never sees it.
			l.used = true
			seg.Lost = true
			break
		}
	}
	n.flight = append(n.flight, seg)
}

// encode builds the IPv4 packet that carries s from e to peer: IPv4 header,
// TCP header and options, payload, with both checksums.
func (n *Net) encode(e, peer *end, s *tcp.Segment) ([]byte, error) {
	src, dst := n.Addrs[e.side], n.Addrs[peer.side]
	h := wire.TCPHeader{
		SrcPort: src.Port(),
		DstPort: dst.Port(),
		Seq:     s.Seq,
		Ack:     s.Ack,
		Flags:   s.Flags,
		Window:  s.Window,
		Urgent:  s.Urgent,
	}
	seg := wire.BuildTCP(nil, &h, &s.Options, s.Payload)
	wire.TCP(seg).FillChecksum(src.Addr(), dst.Addr())
	e.ipID++
	ip := wire.IPv4Header{
		ID:       e.ipID,
		Flags:    wire.IPv4DontFragment,
		TTL:      64,
		Protocol: wire.ProtoTCP,
		Src:      src.Addr(),
		Dst:      dst.Addr(),
	}
	pkt, err := wire.BuildIPv4(make([]byte, 0, wire.IPv4MinHeaderLen+len(seg)), &ip, len(seg))
	if err != nil {
		return nil, fmt.Errorf("tour: building the IPv4 header: %w", err)
	}
	return append(pkt, seg...), nil
}

// decode parses an IPv4 packet carrying TCP, checking both checksums, into
// the tour's record of it and the segment the receiving engine gets.
func decode(pkt []byte) (*Segment, tcp.Segment, error) {
	ip, err := wire.ParseIPv4(pkt)
	if err != nil {
		return nil, tcp.Segment{}, err
	}
	if !ip.ChecksumValid() {
		return nil, tcp.Segment{}, errors.New("bad IPv4 header checksum")
	}
	if ip.Protocol() != wire.ProtoTCP {
		return nil, tcp.Segment{}, fmt.Errorf("IP protocol %d is not TCP", ip.Protocol())
	}
	th, err := wire.ParseTCP(ip.Payload())
	if err != nil {
		return nil, tcp.Segment{}, err
	}
	if !th.VerifyChecksum(ip.Src(), ip.Dst()) {
		return nil, tcp.Segment{}, errors.New("bad TCP checksum")
	}
	var opts wire.TCPOptions
	if err := th.ParseOptions(&opts); err != nil {
		return nil, tcp.Segment{}, err
	}
	payload := slices.Clone(th.Payload())
	seg := &Segment{
		Src:      netip.AddrPortFrom(ip.Src(), th.SrcPort()),
		Dst:      netip.AddrPortFrom(ip.Dst(), th.DstPort()),
		Flags:    th.Flags(),
		Seq:      th.Seq(),
		Ack:      th.Ack(),
		Window:   th.Window(),
		Urgent:   th.Urgent(),
		Options:  opts,
		Checksum: th.Checksum(),
		Payload:  payload,
		Packet:   slices.Clone(pkt),
	}
	ts := tcp.Segment{
		Seq:     seg.Seq,
		Ack:     seg.Ack,
		Flags:   seg.Flags,
		Window:  seg.Window,
		Urgent:  seg.Urgent,
		Options: opts,
		Payload: slices.Clone(payload),
	}
	return seg, ts, nil
}

// sameSegment checks that the wire carried everything the engine meant to
// send.
func sameSegment(want, got *tcp.Segment) error {
	switch {
	case want.Seq != got.Seq, want.Ack != got.Ack, want.Flags != got.Flags,
		want.Window != got.Window, want.Urgent != got.Urgent:
		return fmt.Errorf("header came back as %v", got)
	case string(want.Payload) != string(got.Payload):
		return errors.New("payload changed")
	}
	w, g := &want.Options, &got.Options
	if w.HasMSS != g.HasMSS || w.HasMSS && w.MSS != g.MSS ||
		w.HasWScale != g.HasWScale || w.HasWScale && w.WScale != g.WScale ||
		w.SACKPermitted != g.SACKPermitted ||
		w.HasTimestamps != g.HasTimestamps || w.HasTimestamps && (w.TSVal != g.TSVal || w.TSEcr != g.TSEcr) ||
		!slices.Equal(w.SACK(), g.SACK()) {
		return fmt.Errorf("options came back as %v", got)
	}
	return nil
}

// deliver hands an arriving segment, parsed afresh from its packet, to its
// receiver; a lost one is only recorded.
func (n *Net) deliver(seg *Segment) {
	to := n.ends[seg.To]
	if seg.Lost {
		st := n.states()
		var vars [2]Vars
		for _, e := range n.ends {
			vars[e.side] = e.probe().vars()
		}
		n.trace.Steps = append(n.trace.Steps, Step{Kind: LostStep, At: n.now, Side: seg.From, Seg: seg, Before: st, After: st,
			Vars: vars, Rule: "lost in the network: its receiver never sees it"})
		return
	}
	_, ts, err := decode(seg.Packet)
	if err != nil {
		n.err = fmt.Errorf("tour: segment %d does not parse on arrival: %w", seg.ID, err)
		return
	}
	n.begin(SegmentStep, seg.From)
	n.cur.Seg = seg
	if to.tcb == nil {
		// No socket: RFC 9293 3.10.7.1, what a host does for a segment to
		// a connection that does not exist.
		if rst, ok := tcp.ResetFor(&ts); ok {
			n.transmit(to, &rst)
		}
	} else {
		to.tcb.Input(n.now, &ts)
	}
	n.finish(false)
}

// tick runs one end's expired timers.
func (n *Net) tick(e *end) {
	n.begin(TimerStep, e.side)
	e.tcb.Tick(n.now)
	n.finish(true)
}

// call records one application call; f makes it and returns its text, or
// "" for a call that did nothing worth showing.
func (n *Net) call(e *end, op Op, f func() string) {
	n.begin(CallStep, e.side)
	n.curOp = op
	n.cur.Text = f()
	n.finish(n.cur.Text == "")
}

// do makes a scripted call.
func (n *Net) do(a Action) error {
	e := n.ends[a.Side]
	if e.tcb == nil {
		return fmt.Errorf("tour: %s has no socket to call %v on", e.name, a.Op)
	}
	t := e.tcb
	opts := tcp.OpenOptions{ISN: n.ISN[a.Side], MSS: n.MSS}
	switch a.Op {
	case Listen:
		n.call(e, Listen, func() string { return "listen()" + result(t.Listen(n.now, opts)) })
	case Connect:
		n.call(e, Connect, func() string { return "connect()" + result(t.Connect(n.now, opts)) })
	case Write:
		n.call(e, Write, func() string {
			k, err := t.Write(n.now, []byte(a.Data))
			n.cur.Data = []byte(a.Data[:k])
			if err != nil {
				return fmt.Sprintf("write(%s)%s", preview([]byte(a.Data)), result(err))
			}
			return fmt.Sprintf("write(%s) = %d", preview([]byte(a.Data)), k)
		})
	case Read:
		n.read(e)
	case Close:
		n.close(e)
	case ShutdownWrite:
		n.call(e, ShutdownWrite, func() string { return "shutdown(SHUT_WR)" + result(t.Shutdown(n.now, tcp.ShutWrite)) })
	case LingerZero:
		n.call(e, LingerZero, func() string {
			t.SetLinger(true, 0)
			return "setsockopt(SO_LINGER, on, 0 s)"
		})
	default:
		return fmt.Errorf("tour: unknown call %d", a.Op)
	}
	return nil
}

func (n *Net) close(e *end) {
	e.closed, e.appDone = true, true
	n.call(e, Close, func() string { return "close()" + result(e.tcb.Close(n.now)) })
}

// read makes one read call and reports whether the application should read
// again.
func (n *Net) read(e *end) bool {
	again := false
	n.call(e, Read, func() string {
		var buf [65536]byte
		k, err := e.tcb.Read(n.now, buf[:])
		switch {
		case k > 0:
			again = true
			n.cur.Data = slices.Clone(buf[:k])
			return fmt.Sprintf("read() = %d %s", k, preview(buf[:k]))
		case err == io.EOF:
			e.appDone = true
			return "read() = 0: end of file"
		case errors.Is(err, tcp.ErrWouldBlock) || err == nil:
			return ""
		}
		e.appDone = true
		return "read() fails: " + errText(err)
	})
	return again
}

// react lets the applications do what they do between scripted calls: read
// what arrived, close on end of file.
func (n *Net) react() {
	for _, e := range n.ends {
		if e.tcb == nil || !e.app.Read || !e.readable || e.appDone {
			continue
		}
		e.readable = false
		for n.read(e) {
		}
		if e.appDone && e.app.CloseOnEOF && !e.closed {
			n.close(e)
		}
	}
}

// result renders a call's error as " = ERRNO", nothing for success.
func result(err error) string {
	if err == nil {
		return ""
	}
	return " fails: " + errText(err)
}

// errText names an error as a C programmer would see it: "ECONNRESET
// (connection reset by peer)".
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			return name + " (" + errno.Error() + ")"
		}
	}
	return err.Error()
}

var errnoNames = map[syscall.Errno]string{
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ETIMEDOUT:    "ETIMEDOUT",
	syscall.EPIPE:        "EPIPE",
	syscall.ENOTCONN:     "ENOTCONN",
	syscall.EISCONN:      "EISCONN",
	syscall.EALREADY:     "EALREADY",
	syscall.EINVAL:       "EINVAL",
	syscall.EAGAIN:       "EAGAIN",
}

// preview quotes short data, and only counts long data.
func preview(p []byte) string {
	if len(p) <= 24 {
		return strconv.Quote(string(p))
	}
	return fmt.Sprintf("<%d bytes>", len(p))
}

// FormatTime renders a virtual time as seconds with millisecond precision,
// or microsecond precision when it has to.
func FormatTime(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%s%d.%03d", neg, d/time.Second, d%time.Second/time.Millisecond)
	}
	return fmt.Sprintf("%s%d.%06d", neg, d/time.Second, d%time.Second/time.Microsecond)
}

func (o Op) String() string {
	switch o {
	case Listen:
		return "listen"
	case Connect:
		return "connect"
	case Write:
		return "write"
	case Read:
		return "read"
	case Close:
		return "close"
	case ShutdownWrite:
		return "shutdown"
	case LingerZero:
		return "setsockopt(SO_LINGER)"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

package tcp

// A packetdrill-style harness for the state-machine tests in states_*_test.go.
//
// One TCB is under test. A script is a list of steps, each with a time in
// packetdrill notation ("0.100" absolute, "+0.1" relative to the previous
// step). Steps inject segments ("<"), expect the segments the TCB emits
// (">"), call the user API, and expect the events it raises. Segments are
// written in the notation Segment.String prints:
//
//	S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>
//
// Inbound payloads are filler bytes of the length given in parentheses
// (stFill returns them). Every segment the TCB emits must be expected, at the
// exact virtual time it was emitted, and so must every state change, error
// and accept event (readiness notifications are not tracked): before
// each injection or call, and at the end of the script, nothing may be left
// unexpected. Timers fire while the clock advances from one step to the next,
// at their own deadlines.

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// Our ISN and the peer's, used throughout the scripts.
const (
	stOurISN  = 1000
	stPeerISN = 5000
)

// stCfg is the configuration most scripts use: Linux defaults without
// timestamps, so that segments are short to write.
func stCfg() *Config {
	c := DefaultConfig()
	c.Timestamps = false
	return &c
}

// stTSCfg is the Linux default configuration (timestamps on).
func stTSCfg() *Config {
	c := DefaultConfig()
	return &c
}

// stOpen are the open options of the TCB under test. TSOffset makes TSvals
// large enough to be obviously not zero; with virtual time starting at 0, a
// TSval is 100000 + the script time in milliseconds.
var stOpen = OpenOptions{ISN: stOurISN, MSS: 1460, TSOffset: 100000}

// stEdge is a pair of states, for TestState_DiagramCoverage.
type stEdge struct{ from, to State }

// ---- the runner ----

// stRun is a running script: the TCB under test, the virtual clock and what
// the TCB emitted that no step has expected yet.
type stRun struct {
	t     *testing.T
	tcb   *TCB
	now   Time
	segs  []stStampedSeg
	evs   []stStampedEv
	trace []string
	// last is the segment most recently matched by an expect step.
	last Segment
}

type stStampedSeg struct {
	at  Time
	seg Segment
}

type stStampedEv struct {
	at Time
	ev Event
}

// Segment implements Output.
func (r *stRun) Segment(s *Segment) {
	c := *s
	c.Payload = append([]byte(nil), s.Payload...)
	r.segs = append(r.segs, stStampedSeg{r.now, c})
	r.trace = append(r.trace, fmt.Sprintf("%8s > %v", stFmtTime(r.now), &c))
}

// Event implements Output.
func (r *stRun) Event(e Event) {
	if e.Kind == EventStateChange {
		stNoteCauseEdge(e)
	}
	switch e.Kind {
	case EventStateChange, EventError, EventAccepted, EventFastOpen:
	default:
		return // readiness notifications are not tracked
	}
	r.evs = append(r.evs, stStampedEv{r.now, e})
	r.trace = append(r.trace, fmt.Sprintf("%8s   event %v", stFmtTime(r.now), e))
}

func stFmtTime(d Time) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// step is one line of a script.
type stStep struct {
	when string // "0.100", "+0.1", "+0"
	line int    // for messages: index in the script
	run  func(r *stRun, s *stStep)
	desc string
	// checkQuiet: everything emitted so far must have been expected before
	// this step runs.
	checkQuiet bool
}

// script is a sequence of steps run against a fresh TCB.
type stScript struct {
	cfg   *Config // nil: stCfg()
	steps []stStep
}

// steps concatenates script fragments.
func stSteps(parts ...[]stStep) []stStep {
	var out []stStep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// run executes the script; it fails the test at the first mismatch and
// prints the trace so far.
func (sc stScript) run(t *testing.T) *stRun {
	t.Helper()
	cfg := sc.cfg
	if cfg == nil {
		cfg = stCfg()
	}
	r := &stRun{t: t}
	tcb, err := New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	r.tcb = tcb
	var prev Time
	for i := range sc.steps {
		s := &sc.steps[i]
		s.line = i + 1
		at := stParseWhen(t, s.when, prev)
		prev = at
		r.advance(at)
		if s.checkQuiet {
			r.expectQuiet(s)
		}
		s.run(r, s)
		if t.Failed() {
			r.dump()
			t.FailNow()
		}
	}
	r.expectQuiet(&stStep{desc: "end of script", line: len(sc.steps) + 1})
	if t.Failed() {
		r.dump()
		t.FailNow()
	}
	return r
}

func stParseWhen(t *testing.T, when string, prev Time) Time {
	t.Helper()
	rel := strings.HasPrefix(when, "+")
	f, err := strconv.ParseFloat(strings.TrimPrefix(when, "+"), 64)
	if err != nil {
		t.Fatalf("bad step time %q", when)
	}
	d := Time(f*1e6+0.5) * time.Microsecond
	if rel {
		return prev + d
	}
	if d < prev {
		t.Fatalf("step time %q goes backwards from %s", when, stFmtTime(prev))
	}
	return d
}

// advance moves the clock to at, running every timer that falls due on the
// way at its own deadline.
func (r *stRun) advance(at Time) {
	for {
		d, ok := r.tcb.Deadline()
		if !ok || d > at {
			break
		}
		if d < r.now {
			r.t.Errorf("deadline %s is in the past (now %s)", stFmtTime(d), stFmtTime(r.now))
			d = r.now
		}
		r.now = d
		before := len(r.trace)
		r.tcb.Tick(d)
		if d2, ok2 := r.tcb.Deadline(); ok2 && d2 <= d && len(r.trace) == before {
			r.t.Fatalf("Tick(%s) left a deadline at %s and did nothing", stFmtTime(d), stFmtTime(d2))
		}
	}
	r.now = at
}

func (r *stRun) expectQuiet(s *stStep) {
	for _, x := range r.segs {
		r.t.Errorf("line %d (%s): unexpected segment at %s: %v", s.line, s.desc, stFmtTime(x.at), &x.seg)
	}
	for _, x := range r.evs {
		r.t.Errorf("line %d (%s): unexpected event at %s: %v", s.line, s.desc, stFmtTime(x.at), x.ev)
	}
	r.segs, r.evs = nil, nil
}

func (r *stRun) dump() {
	r.t.Logf("trace (TCB under test, ours ISN %d, peer ISN %d):\n%s", stOurISN, stPeerISN, strings.Join(r.trace, "\n"))
}

// ---- steps ----

// in injects a segment written in packetdrill notation.
func stIn(when, line string) stStep {
	return stStep{when: when, desc: "< " + line, checkQuiet: true, run: func(r *stRun, s *stStep) {
		seg := stParseSeg(r.t, line, true)
		r.trace = append(r.trace, fmt.Sprintf("%8s < %v", stFmtTime(r.now), seg))
		r.tcb.Input(r.now, seg)
	}}
}

// inSeg injects a segment built in Go, for what the notation cannot say.
func stInSeg(when string, seg *Segment) stStep {
	return stStep{when: when, desc: "< " + seg.String(), checkQuiet: true, run: func(r *stRun, s *stStep) {
		c := *seg
		r.trace = append(r.trace, fmt.Sprintf("%8s < %v", stFmtTime(r.now), &c))
		r.tcb.Input(r.now, &c)
	}}
}

// out expects the next segment the TCB emitted: emitted exactly at when,
// and equal to line (flags, seq, ack, window, payload length and options).
func stOut(when, line string) stStep {
	return stStep{when: when, desc: "> " + line, run: func(r *stRun, s *stStep) {
		want := stParseSeg(r.t, line, false)
		if len(r.segs) == 0 {
			r.t.Errorf("line %d: want segment at %s\n\twant %v\n\tgot  nothing", s.line, stFmtTime(r.now), want)
			return
		}
		got := r.segs[0]
		r.segs = r.segs[1:]
		r.last = got.seg
		if diff := stSegDiff(want, &got.seg); diff != "" || got.at != r.now {
			r.t.Errorf("line %d: segment mismatch\n\twant %s > %v\n\tgot  %s > %v%s",
				s.line, stFmtTime(r.now), want, stFmtTime(got.at), &got.seg, diff)
		}
	}}
}

// outPayload is out with a check of the payload bytes.
func stOutPayload(when, line, payload string) stStep {
	o := stOut(when, line)
	check := o.run
	o.run = func(r *stRun, s *stStep) {
		check(r, s)
		if string(r.last.Payload) != payload {
			r.t.Errorf("line %d: payload %q, want %q", s.line, r.last.Payload, payload)
		}
	}
	return o
}

// ev expects the next events raised (state changes, errors, accepts), in
// order. Build them with st, errEv and accepted.
func stEv(want ...Event) stStep {
	return stStep{when: "+0", desc: "events", run: func(r *stRun, s *stStep) {
		for _, w := range want {
			if len(r.evs) == 0 {
				r.t.Errorf("line %d: want event %v, got nothing", s.line, w)
				return
			}
			got := r.evs[0]
			r.evs = r.evs[1:]
			if got.ev.String() != w.String() || got.ev.Kind != w.Kind {
				r.t.Errorf("line %d: event mismatch\n\twant %v\n\tgot  %v", s.line, w, got.ev)
			}
		}
	}}
}

func stChange(old, new State, c Cause) Event {
	return Event{Kind: EventStateChange, Old: old, New: new, Cause: c}
}

func stErr(err syscall.Errno) Event { return Event{Kind: EventError, Err: err} }

var stAccepted = Event{Kind: EventAccepted}

// state asserts the TCB's state.
func stState(want State) stStep {
	return stStep{when: "+0", desc: "state " + want.String(), run: func(r *stRun, s *stStep) {
		if got := r.tcb.State(); got != want {
			r.t.Errorf("line %d: state %v, want %v", s.line, got, want)
		}
	}}
}

// wait advances the clock to when; whatever timers emit must be expected by
// the following steps.
func stWait(when string) stStep {
	return stStep{when: when, desc: "wait", run: func(*stRun, *stStep) {}}
}

// quiet advances the clock to when and asserts that nothing at all was
// emitted before it.
func stQuiet(when string) stStep {
	return stStep{when: when, desc: "quiet", checkQuiet: true, run: func(*stRun, *stStep) {}}
}

// deadline asserts the TCB's next deadline (absolute script time), or that
// it has none when when is "none".
func stDeadline(when string) stStep {
	return stStep{when: "+0", desc: "deadline " + when, run: func(r *stRun, s *stStep) {
		d, ok := r.tcb.Deadline()
		if when == "none" {
			if ok {
				r.t.Errorf("line %d: deadline %s, want none", s.line, stFmtTime(d))
			}
			return
		}
		want := stParseWhen(r.t, when, r.now)
		if !ok || d != want {
			r.t.Errorf("line %d: deadline %s (set %v), want %s", s.line, stFmtTime(d), ok, stFmtTime(want))
		}
	}}
}

// call runs a user call; f reports its own mismatches.
func stCall(when, desc string, f func(r *stRun) error, wantErr error) stStep {
	return stStep{when: when, desc: desc, checkQuiet: true, run: func(r *stRun, s *stStep) {
		r.trace = append(r.trace, fmt.Sprintf("%8s   %s", stFmtTime(r.now), desc))
		if err := f(r); err != wantErr {
			r.t.Errorf("line %d: %s = %v, want %v", s.line, desc, err, wantErr)
		}
	}}
}

func stConnect(when string) stStep {
	return stCall(when, "connect()", func(r *stRun) error { return r.tcb.Connect(r.now, stOpen) }, nil)
}

func stListen(when string) stStep {
	return stCall(when, "listen()", func(r *stRun) error { return r.tcb.Listen(r.now, stOpen) }, nil)
}

func stClose(when string) stStep {
	return stCall(when, "close()", func(r *stRun) error { return r.tcb.Close(r.now) }, nil)
}

func stAbort(when string) stStep {
	return stCall(when, "abort()", func(r *stRun) error { r.tcb.Abort(r.now); return nil }, nil)
}

func stShutdown(when string, how ShutdownHow) stStep {
	name := map[ShutdownHow]string{ShutRead: "SHUT_RD", ShutWrite: "SHUT_WR", ShutBoth: "SHUT_RDWR"}[how]
	return stCall(when, "shutdown("+name+")", func(r *stRun) error { return r.tcb.Shutdown(r.now, how) }, nil)
}

// write queues data and expects all of it to be accepted.
func stWrite(when, data string) stStep {
	return stCall(when, fmt.Sprintf("write(%q)", data), func(r *stRun) error {
		n, err := r.tcb.Write(r.now, []byte(data))
		if err == nil && n != len(data) {
			return fmt.Errorf("wrote %d of %d bytes", n, len(data))
		}
		return err
	}, nil)
}

// read expects a Read with a large buffer to return data and err.
func stRead(when, data string, wantErr error) stStep {
	desc := fmt.Sprintf("read() = %q, %v", data, wantErr)
	return stCall(when, desc, func(r *stRun) error {
		buf := make([]byte, 65536)
		n, err := r.tcb.Read(r.now, buf)
		if string(buf[:n]) != data {
			r.t.Errorf("read returned %q, want %q", buf[:n], data)
		}
		return err
	}, wantErr)
}

// fill is the payload of an injected segment of n bytes starting at
// sequence number seq: a letter per byte, so that reads can be checked.
func stFill(seq uint32, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (seq+uint32(i))%26)
	}
	return string(b)
}

// ---- the segment notation ----

var stFlagLetters = map[byte]wire.TCPFlags{
	'F': wire.FlagFIN, 'S': wire.FlagSYN, 'R': wire.FlagRST, 'P': wire.FlagPSH,
	'U': wire.FlagURG, 'E': wire.FlagECE, 'W': wire.FlagCWR, '.': wire.FlagACK,
}

// stParseSeg reads "FLAGS SEQ:END(LEN) [ack N] [win N] [urg N] [<options>]".
// Options: mss N, sackOK, TS val N ecr N, wscale N, sack L:R ..., nop (ignored).
// Inbound segments get filler payload; expected ones a zero payload of the
// right length (only its length is compared).
func stParseSeg(t *testing.T, line string, inbound bool) *Segment {
	t.Helper()
	bad := func(why string) *Segment {
		t.Fatalf("bad segment %q: %s", line, why)
		return nil
	}
	opts := ""
	if i := strings.IndexByte(line, '<'); i >= 0 {
		j := strings.LastIndexByte(line, '>')
		if j < i {
			return bad("unterminated options")
		}
		opts = line[i+1 : j]
		line = strings.TrimSpace(line[:i])
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return bad("too short")
	}
	s := &Segment{}
	for i := 0; i < len(f[0]); i++ {
		fl, ok := stFlagLetters[f[0][i]]
		if !ok {
			return bad("flag " + string(f[0][i]))
		}
		s.Flags |= fl
	}
	var seq, end, n uint64
	if _, err := fmt.Sscanf(f[1], "%d:%d(%d)", &seq, &end, &n); err != nil || uint32(end-seq) != uint32(n) {
		return bad("sequence range")
	}
	s.Seq = uint32(seq)
	for i := 2; i < len(f); i += 2 {
		if i+1 >= len(f) {
			return bad("missing value after " + f[i])
		}
		v, err := strconv.ParseUint(f[i+1], 10, 32)
		if err != nil {
			return bad(f[i] + " value")
		}
		switch f[i] {
		case "ack":
			s.Ack = uint32(v)
		case "win":
			s.Window = uint16(v)
		case "urg":
			s.Urgent = uint16(v)
		default:
			return bad("field " + f[i])
		}
	}
	for _, o := range strings.Split(opts, ",") {
		w := strings.Fields(o)
		if len(w) == 0 {
			continue
		}
		num := func(k int) uint64 {
			if k >= len(w) {
				bad("option " + o)
			}
			v, err := strconv.ParseUint(w[k], 10, 32)
			if err != nil {
				bad("option " + o)
			}
			return v
		}
		switch w[0] {
		case "nop", "eol":
		case "mss":
			s.Options.HasMSS, s.Options.MSS = true, uint16(num(1))
		case "sackOK":
			s.Options.SACKPermitted = true
		case "wscale":
			s.Options.HasWScale, s.Options.WScale = true, uint8(num(1))
		case "TS":
			if len(w) != 5 || w[1] != "val" || w[3] != "ecr" {
				return bad("option " + o)
			}
			s.Options.HasTimestamps = true
			s.Options.TSVal, s.Options.TSEcr = uint32(num(2)), uint32(num(4))
		case "sack":
			for _, b := range w[1:] {
				var l, rr uint64
				if _, err := fmt.Sscanf(b, "%d:%d", &l, &rr); err != nil || s.Options.NumSACK == wire.MaxSACKBlocks {
					return bad("sack block " + b)
				}
				s.Options.SACKBlocks[s.Options.NumSACK] = wire.SACKBlock{Left: uint32(l), Right: uint32(rr)}
				s.Options.NumSACK++
			}
		case "FO", "FOEXP":
			// TCP Fast Open (RFC 7413 4.1.1): "FO" asks for a cookie,
			// "FO 3021b9d8" carries one; FOEXP is the experimental kind.
			f := wire.FastOpen{Present: true, Exp: w[0] == "FOEXP"}
			if len(w) > 1 {
				c, err := hex.DecodeString(w[1])
				if err != nil || len(c) > wire.MaxFastOpenCookie {
					return bad("option " + o)
				}
				f.Len = uint8(copy(f.Cookie[:], c))
			}
			s.Options.FastOpen = f
		default:
			return bad("option " + o)
		}
	}
	if inbound {
		s.Payload = []byte(stFill(s.Seq, int(n)))
	} else {
		s.Payload = make([]byte, n)
	}
	return s
}

// stSegDiff lists the fields in which got differs from want, "" if none. The
// rendered forms cover flags, seq, payload length, ack (when ACK is set),
// window, urgent pointer and options; the raw ack and urgent fields of
// segments without ACK/URG must be zero as well.
func stSegDiff(want, got *Segment) string {
	var d []string
	if want.Flags != got.Flags {
		d = append(d, fmt.Sprintf("flags %v want %v", got.Flags, want.Flags))
	}
	if want.Seq != got.Seq {
		d = append(d, fmt.Sprintf("seq %d want %d", got.Seq, want.Seq))
	}
	if len(want.Payload) != len(got.Payload) {
		d = append(d, fmt.Sprintf("len %d want %d", len(got.Payload), len(want.Payload)))
	}
	if want.Ack != got.Ack {
		d = append(d, fmt.Sprintf("ack %d want %d", got.Ack, want.Ack))
	}
	if want.Window != got.Window {
		d = append(d, fmt.Sprintf("win %d want %d", got.Window, want.Window))
	}
	if want.Urgent != got.Urgent {
		d = append(d, fmt.Sprintf("urg %d want %d", got.Urgent, want.Urgent))
	}
	if wo, gotO := formatOptions(&want.Options), formatOptions(&got.Options); wo != gotO {
		d = append(d, fmt.Sprintf("options <%s> want <%s>", gotO, wo))
	}
	if len(d) == 0 {
		return ""
	}
	return "\n\t(" + strings.Join(d, "; ") + ")"
}

// ---- script fragments shared by many tests ----

// Peer SYN options used by the scripts: Linux's own, without timestamps.
const stPeerSynOpts = "<mss 1460,sackOK,wscale 7>"

// stPassiveOpen: LISTEN, the peer's SYN at 0, our SYN-ACK, the peer's ACK at
// 0.100: ESTABLISHED with an RTT sample of 100 ms (RTO 300 ms).
func stPassiveOpen() []stStep {
	return []stStep{
		stListen("0"),
		stEv(stChange(Closed, Listen, CausePassiveOpen)),
		stIn("0", "S 5000:5000(0) win 65535 "+stPeerSynOpts),
		stOut("+0", "S. 1000:1000(0) ack 5001 win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Listen, SynReceived, CauseSynReceived)),
		stIn("0.100", ". 5001:5001(0) ack 1001 win 502"),
		stEv(stChange(SynReceived, Established, CauseHandshakeAck), stAccepted),
		stState(Established),
	}
}

// stActiveOpen: SYN at 0, the peer's SYN-ACK at 0.100, our ACK: ESTABLISHED.
func stActiveOpen() []stStep {
	return []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		stState(Established),
	}
}

// stActiveOpenNoSACK is stActiveOpen with a peer that does not offer SACK, for
// scripts that time retransmissions: Linux schedules a tail loss probe
// (2*SRTT) on SACK connections, which synfin does not implement, so the RTO
// schedules are compared on connections where Linux would not probe either.
func stActiveOpenNoSACK() []stStep {
	return []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 <mss 1460,wscale 7>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
	}
}

// stToFinWait1 closes an ESTABLISHED connection (ours 1001, peer 5001) at 1.0.
func stToFinWait1() []stStep {
	return []stStep{
		stClose("1.0"),
		stOut("+0", "F. 1001:1001(0) ack 5001 win 502"),
		stEv(stChange(Established, FinWait1, CauseClose)),
	}
}

// stToFinWait2 follows stToFinWait1 with the ACK of our FIN at 1.1.
func stToFinWait2() []stStep {
	return stSteps(stToFinWait1(), []stStep{
		stIn("1.1", ". 5001:5001(0) ack 1002 win 502"),
		stEv(stChange(FinWait1, FinWait2, CauseFinAcked)),
	})
}

// stToTimeWait follows stToFinWait2 with the peer's FIN at 1.2 (TIME_WAIT until 61.2).
func stToTimeWait() []stStep {
	return stSteps(stToFinWait2(), []stStep{
		stIn("1.2", "F. 5001:5001(0) ack 1002 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5002 win 502"),
		stEv(stChange(FinWait2, TimeWait, CauseFinReceived)),
	})
}

// stToCloseWait: the peer's FIN at 1.0 on an ESTABLISHED connection.
func stToCloseWait() []stStep {
	return []stStep{
		stIn("1.0", "F. 5001:5001(0) ack 1001 win 502"),
		stOut("+0", ". 1001:1001(0) ack 5002 win 502"),
		stEv(stChange(Established, CloseWait, CauseFinReceived)),
	}
}

// stToLastAck follows stToCloseWait with close() at 1.1.
func stToLastAck() []stStep {
	return stSteps(stToCloseWait(), []stStep{
		stClose("1.1"),
		stOut("+0", "F. 1001:1001(0) ack 5002 win 502"),
		stEv(stChange(CloseWait, LastAck, CauseClose)),
	})
}

// stToClosing: close() at 1.0, then the peer's own FIN, not acknowledging ours.
func stToClosing() []stStep {
	return stSteps(stToFinWait1(), []stStep{
		stIn("1.1", "F. 5001:5001(0) ack 1001 win 502"),
		stOut("+0", ". 1002:1002(0) ack 5002 win 502"),
		stEv(stChange(FinWait1, Closing, CauseFinReceived)),
	})
}

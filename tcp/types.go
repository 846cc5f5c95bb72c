// Package tcp is synfin's TCP engine: one transmission control block (TCB) per
// connection, implementing RFC 9293 with Linux 6.x behaviour where the RFC
// leaves a choice.
//
// The engine is sans-I/O. It has no goroutines, no locks, no clock and no
// sockets. Every call takes the current time as an argument; the engine hands
// the segments it wants sent and the events it raises to an Output that the
// caller supplies, and tells the caller when it next wants to be woken
// (Deadline). This keeps virtual time, scripts, fuzzing and simulation cheap:
// the caller decides what "now" is.
package tcp

import (
	"fmt"
	"time"

	"github.com/synfin/synfin/wire"
)

// State is a connection state of RFC 9293 3.3.2.
type State uint8

// The eleven states of RFC 9293 3.3.2.
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

var stateNames = [...]string{
	Closed:      "CLOSED",
	Listen:      "LISTEN",
	SynSent:     "SYN_SENT",
	SynReceived: "SYN_RCVD",
	Established: "ESTABLISHED",
	FinWait1:    "FIN_WAIT_1",
	FinWait2:    "FIN_WAIT_2",
	CloseWait:   "CLOSE_WAIT",
	Closing:     "CLOSING",
	LastAck:     "LAST_ACK",
	TimeWait:    "TIME_WAIT",
}

// States lists every state, in RFC order.
var States = [...]State{Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait}

// String returns the state's name as netstat prints it ("SYN_RCVD", "TIME_WAIT").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState accepts the names String returns and the RFC's hyphenated
// spellings ("SYN-RECEIVED", "fin-wait-1"), case-insensitively.
func ParseState(name string) (State, bool) {
	norm := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == ' ':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		norm = append(norm, c)
	}
	n := string(norm)
	if n == "SYN_RECEIVED" || n == "SYN_RECV" {
		return SynReceived, true
	}
	for s, sn := range stateNames {
		if sn == n {
			return State(s), true
		}
	}
	return Closed, false
}

// synchronized reports whether the state is one of RFC 9293's synchronized
// states (ESTABLISHED and later).
func (s State) synchronized() bool { return s >= Established }

// Segment is a TCP segment as the engine sees it: the header fields that
// matter to a connection and the payload. Ports and addresses are the stack's
// business. Payload of an outgoing segment aliases the engine's send buffer
// and is valid only during the Output.Segment call.
type Segment struct {
	Seq     uint32
	Ack     uint32
	Flags   wire.TCPFlags
	Window  uint16 // the raw header field, before window scaling
	Urgent  uint16
	Options wire.TCPOptions
	Payload []byte
	// ECN is the IP header's ECN field (RFC 3168 5): as received for an
	// arriving segment, the codepoint to send for an outgoing one.
	ECN wire.ECN
	// Pinned is set on an outgoing segment whose Payload is the send
	// buffer's own memory, sent for the first time. The engine does not
	// modify those bytes before the peer acknowledges them, so an Output
	// may keep referring to them after the call instead of copying them,
	// provided the path cannot deliver the segment after the peer has
	// acknowledged its bytes: in order and at most once, which rules out
	// retransmissions (never pinned) overtaking it.
	Pinned bool
}

// Len is the segment's length in sequence space: payload bytes plus one
// for SYN and one for FIN (RFC 9293 3.4, SEG.LEN).
func (s *Segment) Len() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&wire.FlagSYN != 0 {
		n++
	}
	if s.Flags&wire.FlagFIN != 0 {
		n++
	}
	return n
}

// String renders the segment in packetdrill's notation:
// "S. 0:0(0) ack 1 win 65535 <mss 1460,...>" with absolute sequence numbers.
func (s *Segment) String() string {
	str := fmt.Sprintf("%s %d:%d(%d)", s.Flags, s.Seq, s.Seq+uint32(len(s.Payload)), len(s.Payload))
	if s.Flags&wire.FlagACK != 0 {
		str += fmt.Sprintf(" ack %d", s.Ack)
	}
	str += fmt.Sprintf(" win %d", s.Window)
	if s.Flags&wire.FlagURG != 0 {
		str += fmt.Sprintf(" urg %d", s.Urgent)
	}
	if o := formatOptions(&s.Options); o != "" {
		str += " <" + o + ">"
	}
	return str
}

func formatOptions(o *wire.TCPOptions) string {
	var parts []string
	if o.HasMSS {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		parts = append(parts, "sackOK")
	}
	if o.HasTimestamps {
		parts = append(parts, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		parts = append(parts, fmt.Sprintf("wscale %d", o.WScale))
	}
	if o.NumSACK > 0 {
		s := "sack"
		for _, b := range o.SACK() {
			s += fmt.Sprintf(" %d:%d", b.Left, b.Right)
		}
		parts = append(parts, s)
	}
	if f := &o.FastOpen; f.Present {
		s := "FO"
		if f.Exp {
			s = "FOEXP"
		}
		if f.Len > 0 {
			s += fmt.Sprintf(" %x", f.Bytes())
		}
		parts = append(parts, s)
	}
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of event a TCB raises.
const (
	// EventStateChange: the connection moved from Old to New because of Cause.
	EventStateChange EventKind = iota + 1
	// EventReadable: received data (or the peer's FIN) is waiting for Read.
	EventReadable
	// EventWritable: the send buffer has room again.
	EventWritable
	// EventError: the connection failed with Err (ECONNRESET, ETIMEDOUT, ...).
	EventError
	// EventAccepted: a passive open completed the handshake (SYN_RCVD ->
	// ESTABLISHED), so a listener can hand the connection to accept().
	EventAccepted
	// EventUrgent: the peer's urgent pointer arrived or advanced (RFC 9293
	// 3.8.5, MUST-32; Linux's SIGURG). UrgentPending says how much is left.
	EventUrgent
	// EventFastOpen: the SYN-ACK of an active Fast Open arrived; FastOpen
	// says what it taught about the peer, for the cookie cache (RFC 7413
	// 4.1.3).
	EventFastOpen
)

func (k EventKind) String() string {
	switch k {
	case EventStateChange:
		return "state"
	case EventReadable:
		return "readable"
	case EventWritable:
		return "writable"
	case EventError:
		return "error"
	case EventAccepted:
		return "accepted"
	case EventUrgent:
		return "urgent"
	case EventFastOpen:
		return "fastopen"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is a notification from the engine to its owner.
type Event struct {
	Kind     EventKind
	Old, New State // EventStateChange
	Cause    Cause // EventStateChange: why
	Err      error // EventError: a syscall.Errno
	// FastOpen is EventFastOpen's report, valid during the call.
	FastOpen *FastOpenReport
}

func (e Event) String() string {
	switch e.Kind {
	case EventStateChange:
		return fmt.Sprintf("%s -> %s (%s)", e.Old, e.New, e.Cause)
	case EventError:
		return fmt.Sprintf("error: %v", e.Err)
	}
	return e.Kind.String()
}

// Output receives what the engine produces. The engine calls it synchronously
// from inside its methods; an Output must not call back into the same TCB.
type Output interface {
	// Segment is called for each segment to transmit. seg and its Payload are
	// only valid during the call: serialise or copy them before returning.
	Segment(seg *Segment)
	// Event is called for state changes and readiness.
	Event(ev Event)
}

// SegmentScratch is implemented by an Output that lends the engine the
// Segment it builds outgoing segments in, so that the connections one
// goroutine drives share one instead of each carrying its own (an idle
// connection's memory matters). Such an Output must finish with a segment
// before any TCB sharing the scratch emits another, which holds when
// Segment serialises it at once.
type SegmentScratch interface {
	ScratchSegment() *Segment
}

// Shutdown directions (shutdown(2)'s SHUT_RD, SHUT_WR, SHUT_RDWR).
type ShutdownHow uint8

// The directions of Shutdown.
const (
	ShutRead ShutdownHow = 1 << iota
	ShutWrite
	ShutBoth = ShutRead | ShutWrite
)

// Time is the engine's notion of now: a monotonic duration since an arbitrary
// epoch chosen by the caller (virtual or real).
type Time = time.Duration

// Package tour runs synfin's TCP engine through the connection lifecycle of
// RFC 9293 3.3.2 and records what happens.
//
// Two engines ("client" and "server", or "A" and "B" when the scenario is
// symmetric) are joined by a small in-memory network that runs in virtual
// time: no sockets, no root, no goroutines, and the same output on every run.
// Every segment an engine sends is serialised with package wire into an IPv4
// packet (TCP header, options, payload, checksums over the pseudo-header of
// two documentation addresses), parsed back with package wire and only then
// fed to the peer, so what a Trace records is what a capture would show.
//
// Running (Run) and rendering (WriteText) are separate: a Trace is plain data
// that other renderers (SVG, HTML) can draw from.
package tour

import (
	"net/netip"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// Side names one of the two ends of the simulated connection.
type Side int

// The two ends. In symmetric scenarios they are called A and B.
const (
	Client Side = 0
	Server Side = 1

	A = Client
	B = Server
)

// Peer returns the other end.
func (s Side) Peer() Side { return 1 - s }

// StepKind says what a Step records.
type StepKind uint8

// The kinds of step.
const (
	// CallStep: the application on one end made a call (connect, write,
	// close...).
	CallStep StepKind = iota + 1
	// SegmentStep: a segment arrived and its receiver processed it.
	SegmentStep
	// LostStep: a segment was lost on the way; At is when it would have
	// arrived.
	LostStep
	// TimerStep: one of an end's timers expired and made it send something
	// or change state.
	TimerStep
)

func (k StepKind) String() string {
	switch k {
	case CallStep:
		return "call"
	case SegmentStep:
		return "segment"
	case LostStep:
		return "lost"
	case TimerStep:
		return "timer"
	}
	return "StepKind(?)"
}

// Step is one line of a Trace: something that happened at one instant of
// virtual time, with the states of both ends before and after it.
type Step struct {
	Kind StepKind
	// At is the virtual time since the scenario started: when the call was
	// made, the timer fired, or the segment arrived (LostStep: would have).
	At time.Duration
	// Side is the end that made the call, whose timer fired, or that sent
	// the segment.
	Side Side
	// Text describes a call ("close()", `write("hello") = 5`) or a timer
	// ("retransmission timer expired").
	Text string
	// Data is what a write call queued or a read call returned.
	Data []byte
	// Seg is the segment of a SegmentStep or LostStep, as parsed from the
	// bytes that went over the wire.
	Seg *Segment
	// Before and After are both ends' states around the step.
	Before, After [2]tcp.State
	// Changes lists the state changes the step caused, in order, with the
	// rule that made each one.
	Changes []Change
	// Notes are other things worth telling: errors reported to an
	// application, a TIME_WAIT timer restarted.
	Notes []string
	// Sent lists the IDs of the segments sent while the step was processed
	// (the SYN sent by connect(), the ACK of an arriving FIN...).
	Sent []int
	// Rule names the rule that fired: for a segment, the one its receiver
	// applied to it (RFC 9293 3.10.7, with the check of 3.10.7.4 that
	// decided); for a timer, which one expired and what it did (RFC 6298
	// 5.4 for a retransmission); for a call, RFC 9293 3.10. When the step
	// changed the end's state, the rule includes the change's Cause.
	Rule string
	// Vars are both ends' sequence and congestion variables after the step.
	Vars [2]Vars
}

// Change is one state change of one end.
type Change struct {
	Side     Side
	Old, New tcp.State
	Cause    tcp.Cause
}

// Segment is a segment as it travelled: the fields parsed back from the
// IPv4 packet that carried it.
type Segment struct {
	// ID numbers the segments of a trace in the order they were sent, from 1.
	ID       int
	From, To Side
	// SentAt and ArrivesAt are virtual times; a lost segment never arrives
	// (ArrivesAt is when it would have).
	SentAt, ArrivesAt time.Duration
	Lost              bool
	Src, Dst          netip.AddrPort
	Flags             wire.TCPFlags
	Seq, Ack          uint32
	Window            uint16 // the raw header field
	Urgent            uint16
	Options           wire.TCPOptions
	Checksum          uint16
	// Cwnd is the sender's congestion window in segments when it sent the
	// segment; CwndKnown is false for a sender without a connection (an RST
	// from a port where nothing listens).
	Cwnd      uint32
	CwndKnown bool
	// Payload is the segment's data.
	Payload []byte
	// Packet is the whole IPv4 packet (header, TCP header, options, data).
	Packet []byte
}

// Len is the number of payload octets.
func (s *Segment) Len() int { return len(s.Payload) }

// SeqLen is the segment's length in sequence space: payload plus one for
// SYN and one for FIN (RFC 9293 3.4).
func (s *Segment) SeqLen() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&wire.FlagSYN != 0 {
		n++
	}
	if s.Flags&wire.FlagFIN != 0 {
		n++
	}
	return n
}

// Trace is the record of one scenario run.
type Trace struct {
	Name, Title, Description string
	// Names are what the ends are called ("client", "server" or "A", "B").
	Names [2]string
	// Addrs are the ends' addresses and ports.
	Addrs [2]netip.AddrPort
	// ISN is each end's initial sequence number.
	ISN [2]uint32
	// Delay is the one-way delay of each direction: Delay[Client] is the
	// delay of what the client sends.
	Delay [2]time.Duration
	// Losses describe the segments the network was told to lose.
	Losses []string
	Steps  []Step
}

// Path returns the states one end went through, starting with CLOSED.
func (t *Trace) Path(s Side) []tcp.State {
	path := []tcp.State{tcp.Closed}
	for _, st := range t.Steps {
		for _, c := range st.Changes {
			if c.Side == s {
				path = append(path, c.New)
			}
		}
	}
	return path
}

// Visits reports whether either end was ever in state st.
func (t *Trace) Visits(st tcp.State) bool {
	for _, s := range []Side{Client, Server} {
		for _, p := range t.Path(s) {
			if p == st {
				return true
			}
		}
	}
	return false
}

// Segments returns the segments of the trace in the order they were sent,
// lost ones included.
func (t *Trace) Segments() []*Segment {
	var segs []*Segment
	for i := range t.Steps {
		if s := t.Steps[i].Seg; s != nil {
			segs = append(segs, s)
		}
	}
	// Steps list segments by arrival; put them back in sending order.
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && segs[j].ID < segs[j-1].ID; j-- {
			segs[j], segs[j-1] = segs[j-1], segs[j]
		}
	}
	return segs
}

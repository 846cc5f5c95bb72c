// Package viz draws TCP's connection lifecycle: the RFC 9293 state diagram
// (Figure 5) with the paths ends took through it highlighted, and packet
// ladders (two timelines with the segments between them). Output is
// self-contained SVG, Graphviz DOT or plain text; the layout is fixed in
// Go, so nothing outside the standard library is needed to render.
//
// The model (Step, Message, Ladder, Path) is plain data: the tour converts
// its traces into it, and captures can be converted into it too.
package viz

import (
	"fmt"
	"strings"
	"time"

	"github.com/synfin/synfin/tcp"
)

// Side is one of the two ends of a ladder.
type Side int

// The two ends: Left is drawn on the left timeline, Right on the right one.
const (
	Left Side = iota
	Right
)

// Step is one state change of one end.
type Step struct {
	Time     time.Duration
	From, To tcp.State
	// Cause is the rule that made the change (a tcp.Cause, or free text).
	Cause string
}

// Message is one segment on a ladder.
type Message struct {
	// Time is when it was sent, Arrive when it arrived (for a lost segment:
	// when it would have arrived).
	Time, Arrive time.Duration
	From         Side
	// Label, when set, is drawn instead of the text built from the fields
	// below (see MessageText).
	Label string
	// Flags are tcpdump's ("S", "S.", "F.", "P.", "R", "."); a '.' means
	// the ACK flag is set, so Ack is shown.
	Flags    string
	Seq, Ack uint32
	Len      int
	Win      uint16
	Lost     bool
	// Cwnd is the sender's congestion window in segments when it sent the
	// message, shown only when CwndKnown (an engine's record has it; a
	// capture does not).
	Cwnd      uint32
	CwndKnown bool
	// Rule is what the receiver made of the message (the RFC rule that
	// fired), shown in the message's tooltip.
	Rule string
}

// Ladder is a packet ladder: two ends, their state changes and the segments
// between them.
type Ladder struct {
	Title                 string
	Left, Right           string
	LeftSteps, RightSteps []Step
	Messages              []Message
}

// Path is the way one end went through the state diagram.
type Path struct {
	Name  string
	Steps []Step
	// Color is a CSS colour ("#d62728", "teal"); empty picks one from a
	// palette by the path's position.
	Color string
}

// MessageText is a message's label in tcpdump's notation, as packetdrill
// writes it: "S. 0:0(0) ack 1 win 65535", followed by the sender's
// congestion window when it is known ("cwnd 10"). A message's Label wins
// when set.
func MessageText(m Message) string {
	if m.Label != "" {
		return m.Label
	}
	s := fmt.Sprintf("%s %d:%d(%d)", m.Flags, m.Seq, m.Seq+uint32(m.Len), m.Len)
	if strings.Contains(m.Flags, ".") {
		s += fmt.Sprintf(" ack %d", m.Ack)
	}
	s += fmt.Sprintf(" win %d", m.Win)
	if m.CwndKnown {
		s += fmt.Sprintf(" cwnd %d", m.Cwnd)
	}
	return s
}

// palette holds the colours of paths without one: red, blue, green, purple.
var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"}

func pathColor(p Path, i int) string {
	if p.Color != "" {
		return p.Color
	}
	return palette[i%len(palette)]
}

// formatTime writes a duration as seconds with milliseconds: "0.010", "60.120".
func formatTime(d time.Duration) string {
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		return fmt.Sprintf("%.6f", d.Seconds())
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

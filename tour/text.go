package tour

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// The widths WriteText keeps to: prose (descriptions, paths, the summary) and
// the lines under a table row that give the causes of state changes and the
// rules applied. Table rows are as wide as their columns, at most
// TableWidth for the tour.
const (
	TextWidth  = 100
	CauseWidth = 120
	TableWidth = 124
)

// WriteText renders a trace as text: a header saying what the scenario
// shows, then one row per step in an aligned table (virtual time, what
// happened, the segment's header fields and its sender's cwnd, both ends'
// states after the step), each state change on a line of its own under its
// row with the rule that caused it, the rule the receiver of a segment (or
// an expired timer) applied when no state changed, and the path each end
// took.
func WriteText(w io.Writer, t *Trace) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "=== %s: %s ===\n\n", t.Name, t.Title)
	for _, l := range wrap(t.Description, TextWidth, "", "") {
		fmt.Fprintln(bw, l)
	}
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "%s %v (ISN %d) and %s %v (ISN %d), %s one way\n",
		t.Names[Client], t.Addrs[Client], t.ISN[Client], t.Names[Server], t.Addrs[Server], t.ISN[Server], delayText(t))
	for _, l := range t.Losses {
		fmt.Fprintf(bw, "lost on purpose: %s\n", l)
	}
	fmt.Fprintln(bw)
	writeTable(bw, t)
	fmt.Fprintln(bw)
	for _, s := range []Side{Client, Server} {
		var names []string
		for _, st := range t.Path(s) {
			names = append(names, st.String())
		}
		prefix := fmt.Sprintf("%s path: ", t.Names[s])
		for _, l := range wrap(strings.Join(names, " > "), TextWidth, prefix, strings.Repeat(" ", len(prefix))) {
			fmt.Fprintln(bw, l)
		}
	}
	return bw.Flush()
}

func delayText(t *Trace) string {
	if t.Delay[Client] == t.Delay[Server] {
		return formatDuration(t.Delay[Client])
	}
	return fmt.Sprintf("%s from %s to %s and %s back", formatDuration(t.Delay[Client]), t.Names[Client], t.Names[Server],
		formatDuration(t.Delay[Server]))
}

// formatDuration writes round durations the way prose does: "10 ms", "1 s".
func formatDuration(d time.Duration) string {
	switch {
	case d != 0 && d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	}
	return d.String()
}

// Legend explains how to read what WriteText writes.
const Legend = `How to read the tour: each row is one event at a virtual time (seconds): an application's call,
a timer, or a segment as it arrives (a lost one when it would have), with its header fields parsed
from the bytes that went over the wire: flags as tcpdump writes them ("S." is SYN+ACK, "F." FIN+ACK,
"P." PSH+ACK, "R." RST+ACK, "." ACK alone), absolute seq and ack, payload length, the raw window
field, the sender's congestion window when it sent the segment (cwnd, in segments, from the
engine's tcp_info) and the options (TS is TSval/TSecr). The last two columns are both ends' states
after the event; under a row, "> end OLD -> NEW [rule]" is a state change and the rule that made it,
and "= end: rule" the rule an end applied to a segment (or the timer that expired) when its state
stayed the same.
`

// columns of the table, in order.
const (
	colTime = iota
	colEvent
	colFlags
	colSeq
	colAck
	colLen
	colWin
	colCwnd
	colOptions
	colA
	colB
	numCols
)

var rightAligned = [numCols]bool{colTime: true, colSeq: true, colAck: true, colLen: true, colWin: true, colCwnd: true}

func writeTable(w io.Writer, t *Trace) {
	header := [numCols]string{"time", "event", "flags", "seq", "ack", "len", "win", "cwnd", "options", t.Names[Client], t.Names[Server]}
	rows := make([][numCols]string, len(t.Steps))
	var width [numCols]int
	for i, h := range header {
		width[i] = len(h)
	}
	longest := 0 // the longest call or timer text, which spans colEvent..colOptions
	for i := range t.Steps {
		st := &t.Steps[i]
		r := &rows[i]
		r[colTime] = FormatTime(st.At)
		r[colA] = st.After[Client].String()
		r[colB] = st.After[Server].String()
		if s := st.Seg; s != nil {
			r[colEvent] = t.Names[s.From] + " -> " + t.Names[s.To]
			r[colFlags] = s.Flags.String()
			r[colSeq] = strconv.FormatUint(uint64(s.Seq), 10)
			r[colAck] = strconv.FormatUint(uint64(s.Ack), 10)
			r[colLen] = strconv.Itoa(s.Len())
			r[colWin] = strconv.Itoa(int(s.Window))
			r[colCwnd] = "-"
			if s.CwndKnown {
				r[colCwnd] = strconv.FormatUint(uint64(s.Cwnd), 10)
			}
			r[colOptions] = ShortOptions(&s.Options, s.Flags)
			if st.Kind == LostStep {
				if s.To == Client {
					r[colA] = "(lost)"
				} else {
					r[colB] = "(lost)"
				}
			}
		} else {
			r[colEvent] = t.Names[st.Side] + ": " + st.Text
			longest = max(longest, len(r[colEvent]))
		}
		for c := range numCols {
			if c == colEvent && st.Seg == nil {
				continue
			}
			width[c] = max(width[c], len(r[c]))
		}
	}
	span := 0
	for c := colEvent; c <= colOptions; c++ {
		span += width[c]
	}
	span += 2 * (colOptions - colEvent)
	if longest > span {
		width[colOptions] += longest - span
		span = longest
	}
	indent := strings.Repeat(" ", width[colTime]+2)

	line := func(r [numCols]string, spanEvent bool) {
		var b strings.Builder
		for c := 0; c < numCols; c++ {
			if c > 0 {
				b.WriteString("  ")
			}
			if spanEvent && c == colEvent {
				pad(&b, r[c], span, false)
				c = colOptions
				continue
			}
			pad(&b, r[c], width[c], rightAligned[c])
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header, false)
	for i := range t.Steps {
		st := &t.Steps[i]
		line(rows[i], st.Seg == nil)
		for _, c := range st.Changes {
			prefix := fmt.Sprintf("%s> %s %v -> %v  [", indent, t.Names[c.Side], c.Old, c.New)
			for _, l := range wrap(string(c.Cause)+"]", CauseWidth, prefix, strings.Repeat(" ", len(prefix))) {
				fmt.Fprintln(w, l)
			}
		}
		if st.Rule != "" && len(st.Changes) == 0 && (st.Kind == SegmentStep || st.Kind == TimerStep) {
			who := st.Side
			if st.Kind == SegmentStep {
				who = st.Seg.To
			}
			prefix := fmt.Sprintf("%s= %s: ", indent, t.Names[who])
			for _, l := range wrap(st.Rule, CauseWidth, prefix, strings.Repeat(" ", len(prefix))) {
				fmt.Fprintln(w, l)
			}
		}
		for _, n := range st.Notes {
			for _, l := range wrap(n, CauseWidth, indent+"! ", indent+"  ") {
				fmt.Fprintln(w, l)
			}
		}
	}
}

// pad writes s into b padded to width, on the left when right is set.
func pad(b *strings.Builder, s string, width int, right bool) {
	fill := strings.Repeat(" ", max(0, width-len(s)))
	if right {
		b.WriteString(fill)
		b.WriteString(s)
		return
	}
	b.WriteString(s)
	b.WriteString(fill)
}

// ShortOptions renders a segment's options briefly: "mss 1460,sackOK,TS
// 10/0,ws 7" on a SYN, "TS 30/20,sack 2449-4449" on others (TS is TSval and
// TSecr, a SACK block is left-right).
func ShortOptions(o *wire.TCPOptions, flags wire.TCPFlags) string {
	var parts []string
	if o.HasMSS {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		parts = append(parts, "sackOK")
	}
	if o.HasTimestamps {
		parts = append(parts, fmt.Sprintf("TS %d/%d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		parts = append(parts, fmt.Sprintf("ws %d", o.WScale))
	}
	if blocks := o.SACK(); len(blocks) > 0 {
		s := "sack"
		for _, b := range blocks {
			s += fmt.Sprintf(" %d-%d", b.Left, b.Right)
		}
		parts = append(parts, s)
	}
	if o.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown", o.Unknown))
	}
	return strings.Join(parts, ",")
}

// wrap breaks text into lines of at most width columns (a word longer than
// that gets a line of its own), the first starting with first and the
// others with cont.
func wrap(text string, width int, first, cont string) []string {
	var lines []string
	cur := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(cur)+1+len(word) > width {
			lines = append(lines, cur)
			cur, empty = cont, true
		}
		if !empty {
			cur += " "
		}
		cur += word
		empty = false
	}
	return append(lines, cur)
}

// Coverage maps each of the eleven states to the names of the traces that
// visit it (at either end), in the order of traces.
func Coverage(traces []*Trace) map[tcp.State][]string {
	cov := make(map[tcp.State][]string)
	for _, st := range tcp.States {
		for _, t := range traces {
			if t.Visits(st) {
				cov[st] = append(cov[st], t.Name)
			}
		}
	}
	return cov
}

// WriteSummary writes which traces visited each of the eleven states and
// returns the states that none visited.
func WriteSummary(w io.Writer, traces []*Trace) ([]tcp.State, error) {
	bw := bufio.NewWriter(w)
	cov := Coverage(traces)
	var missing []tcp.State
	for _, st := range tcp.States {
		if len(cov[st]) == 0 {
			missing = append(missing, st)
		}
	}
	fmt.Fprintf(bw, "=== states visited: %d of %d, by %d scenarios ===\n\n", len(tcp.States)-len(missing), len(tcp.States), len(traces))
	wState := 0
	for _, st := range tcp.States {
		wState = max(wState, len(st.String()))
	}
	for _, st := range tcp.States {
		prefix := fmt.Sprintf("  %-*s  ", wState, st)
		var text string
		switch n := len(cov[st]); {
		case n == 0:
			text = "NEVER VISITED"
		case n == len(traces) && n > 1:
			text = fmt.Sprintf("all %d scenarios", n)
		default:
			text = strings.Join(cov[st], ", ")
		}
		for _, l := range wrap(text, TextWidth, prefix, strings.Repeat(" ", len(prefix))) {
			fmt.Fprintln(bw, l)
		}
	}
	return missing, bw.Flush()
}

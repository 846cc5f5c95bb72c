package trace

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synfin/synfin/viz"
	"github.com/synfin/synfin/wire"
)

// TextOptions choose what WriteTextWith adds to the report.
type TextOptions struct {
	// Segments lists every segment of each connection after its timeline:
	// packet number, time, direction, flags, relative seq and ack, length,
	// window, and what an observer makes of it (Segment.Rule). cwnd is not
	// listed: packets do not carry it.
	Segments bool
}

// WriteText writes a summary table per connection (endpoints, duration,
// bytes each way, states, where the capture seems to be, anomalies) and
// then its timeline of state changes.
func WriteText(w io.Writer, a *Analysis) error { return WriteTextWith(w, a, TextOptions{}) }

// WriteTextWith writes what WriteText does, and what opts add.
func WriteTextWith(w io.Writer, a *Analysis, opts TextOptions) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "capture: %s, %d packets (%d TCP, %d other), %d connection(s), %s\n",
		a.Format, a.Packets, a.TCP, a.Skipped, len(a.Conns), fmtDur(a.Duration))
	for _, wn := range a.Warnings {
		fmt.Fprintf(b, "warning: %s\n", wn)
	}
	for _, c := range a.Conns {
		fmt.Fprintf(b, "\nconnection %d: %v -> %v\n", c.Index, c.Left, c.Right)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  \tleft %v\tright %v\n", c.Left, c.Right)
		fmt.Fprintf(tw, "  packets\t%d\t%d\n", c.Packets[Left], c.Packets[Right])
		fmt.Fprintf(tw, "  bytes sent\t%d (%d unique)\t%d (%d unique)\n", c.Bytes[Left], c.Unique[Left], c.Bytes[Right], c.Unique[Right])
		fmt.Fprintf(tw, "  initial state\t%v\t%v\n", c.Initial[Left], c.Initial[Right])
		fmt.Fprintf(tw, "  final state\t%s\t%s\n", finalText(c, Left), finalText(c, Right))
		tw.Flush()
		fmt.Fprintf(b, "  duration   %s (+%s to +%s)\n", fmtDur(c.End-c.Start), fmtDur(c.Start), fmtDur(c.End))
		fmt.Fprintf(b, "  vantage    near %s: %s\n", c.Vantage.Near, c.Vantage.Reason)
		if len(c.Anomalies) == 0 {
			fmt.Fprintf(b, "  anomalies  none\n")
		} else {
			fmt.Fprintf(b, "  anomalies\n")
			for _, an := range c.Anomalies {
				fmt.Fprintf(b, "    +%-10s %-16s %s\n", fmtDur(an.Time), an.Kind, an.Detail)
			}
		}
		fmt.Fprintf(b, "  timeline\n")
		for _, st := range c.Steps {
			pkt := "   -"
			if st.Packet > 0 {
				pkt = fmt.Sprintf("#%-3d", st.Packet)
			}
			fmt.Fprintf(b, "    +%-10s %s %-5s %-11s -> %-11s [%s] %s\n", fmtDur(st.Time), pkt, st.Side, st.From, st.To, st.Confidence, st.Cause)
			if st.Note != "" {
				fmt.Fprintf(b, "    %42s%s\n", "", st.Note)
			}
		}
		if opts.Segments {
			writeSegments(b, c)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSegments lists a connection's segments with what an observer makes
// of each.
func writeSegments(b *strings.Builder, c *Conn) {
	fmt.Fprintf(b, "  segments: seq and ack relative to each end's first sequence number; the rule at the receiver\n"+
		"  is inferred from the packets; cwnd is unknown (packets do not carry it)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    pkt\ttime\tfrom\tflags\tseq\tack\tlen\twin\trule\n")
	for i := range c.Segments {
		g := &c.Segments[i]
		ack := "-"
		if g.Flags&wire.FlagACK != 0 {
			ack = fmt.Sprint(g.RelAck)
		}
		fmt.Fprintf(tw, "    #%d\t+%s\t%v\t%s\t%d\t%s\t%d\t%d\t%s\n", g.Packet, fmtDur(g.Time), g.From, tcpdumpFlags(g.Flags), g.RelSeq, ack, g.Len, g.Window, g.Rule)
	}
	tw.Flush()
}

func finalText(c *Conn, s Side) string {
	t := c.Final[s].String()
	if exp := c.TimeWaitExpiry[s]; exp != 0 {
		t += fmt.Sprintf(" (held at end, expires +%s)", fmtDur(exp))
	}
	return t
}

// SchemaVersion names the JSON schema WriteJSON writes.
const SchemaVersion = "synfin-trace/1"

type jsonDoc struct {
	Schema      string     `json:"schema"`
	Format      string     `json:"format"`
	Start       time.Time  `json:"start"`
	DurationNS  int64      `json:"duration_ns"`
	Packets     int        `json:"packets"`
	TCP         int        `json:"tcp_packets"`
	Skipped     int        `json:"skipped_packets"`
	Warnings    []string   `json:"warnings"`
	Connections []jsonConn `json:"connections"`
}

type jsonEnd struct {
	Endpoint       string     `json:"endpoint"`
	Packets        int        `json:"packets"`
	Bytes          int64      `json:"bytes"`
	UniqueBytes    int64      `json:"unique_bytes"`
	Initial        string     `json:"initial_state"`
	Final          string     `json:"final_state"`
	TimeWaitExpiry *int64     `json:"time_wait_expiry_ns,omitempty"`
	Steps          []jsonStep `json:"steps"`
}

type jsonStep struct {
	TimeNS     int64  `json:"time_ns"`
	From       string `json:"from"`
	To         string `json:"to"`
	Cause      string `json:"cause"`
	Confidence string `json:"confidence"`
	Note       string `json:"note,omitempty"`
	Packet     int    `json:"packet,omitempty"`
	Receipt    bool   `json:"receipt"`
}

type jsonAnomaly struct {
	Kind       string `json:"kind"`
	TimeNS     int64  `json:"time_ns"`
	DurationNS int64  `json:"duration_ns,omitempty"`
	Side       string `json:"side"`
	Packet     int    `json:"packet,omitempty"`
	Count      int    `json:"count,omitempty"`
	Detail     string `json:"detail"`
}

type jsonConn struct {
	Index     int           `json:"index"`
	StartNS   int64         `json:"start_ns"`
	EndNS     int64         `json:"end_ns"`
	Left      jsonEnd       `json:"left"`
	Right     jsonEnd       `json:"right"`
	Vantage   jsonVantage   `json:"vantage"`
	Anomalies []jsonAnomaly `json:"anomalies"`
	Ladder    jsonLadder    `json:"ladder"`
}

type jsonVantage struct {
	Near   string `json:"near"`
	RTTNS  int64  `json:"rtt_ns"`
	Reason string `json:"reason"`
}

// jsonLadder is viz.Ladder with stable JSON names.
type jsonLadder struct {
	Title      string        `json:"title"`
	Left       string        `json:"left"`
	Right      string        `json:"right"`
	LeftSteps  []jsonVizStep `json:"left_steps"`
	RightSteps []jsonVizStep `json:"right_steps"`
	Messages   []jsonMessage `json:"messages"`
}

type jsonVizStep struct {
	TimeNS int64  `json:"time_ns"`
	From   string `json:"from"`
	To     string `json:"to"`
	Cause  string `json:"cause"`
}

type jsonMessage struct {
	TimeNS   int64  `json:"time_ns"`
	ArriveNS int64  `json:"arrive_ns"`
	From     string `json:"from"`
	Label    string `json:"label,omitempty"`
	Flags    string `json:"flags"`
	Seq      uint32 `json:"seq"`
	Ack      uint32 `json:"ack"`
	Len      int    `json:"len"`
	Win      uint16 `json:"win"`
	Lost     bool   `json:"lost"`
	// Rule is what an observer makes of the segment (trace.Segment.Rule).
	// There is no cwnd: packets do not carry it.
	Rule string `json:"rule,omitempty"`
}

func vizSteps(in []viz.Step) []jsonVizStep {
	out := []jsonVizStep{}
	for _, s := range in {
		out = append(out, jsonVizStep{int64(s.Time), s.From.String(), s.To.String(), s.Cause})
	}
	return out
}

func toJSONLadder(l viz.Ladder) jsonLadder {
	j := jsonLadder{Title: l.Title, Left: l.Left, Right: l.Right, LeftSteps: vizSteps(l.LeftSteps), RightSteps: vizSteps(l.RightSteps), Messages: []jsonMessage{}}
	for _, m := range l.Messages {
		from := "left"
		if m.From == viz.Right {
			from = "right"
		}
		j.Messages = append(j.Messages, jsonMessage{int64(m.Time), int64(m.Arrive), from, m.Label, m.Flags, m.Seq, m.Ack, m.Len, m.Win, m.Lost, m.Rule})
	}
	return j
}

func jsonSide(c *Conn, s Side) jsonEnd {
	e := jsonEnd{Endpoint: c.Endpoint(s).String(), Packets: c.Packets[s], Bytes: c.Bytes[s], UniqueBytes: c.Unique[s],
		Initial: c.Initial[s].String(), Final: c.Final[s].String(), Steps: []jsonStep{}}
	if exp := c.TimeWaitExpiry[s]; exp != 0 {
		v := int64(exp)
		e.TimeWaitExpiry = &v
	}
	for _, st := range c.SideSteps(s) {
		e.Steps = append(e.Steps, jsonStep{int64(st.Time), st.From.String(), st.To.String(), st.Cause, string(st.Confidence), st.Note, st.Packet, st.Receipt})
	}
	return e
}

// WriteJSON writes the analysis as one JSON document (schema
// SchemaVersion): times are nanoseconds from the capture's first packet,
// states their netstat names, and each connection carries both ends'
// steps, its anomalies and its viz.Ladder.
func WriteJSON(w io.Writer, a *Analysis) error {
	d := jsonDoc{Schema: SchemaVersion, Format: a.Format, Start: a.Start.UTC(), DurationNS: int64(a.Duration),
		Packets: a.Packets, TCP: a.TCP, Skipped: a.Skipped, Warnings: append([]string{}, a.Warnings...), Connections: []jsonConn{}}
	for _, c := range a.Conns {
		jc := jsonConn{Index: c.Index, StartNS: int64(c.Start), EndNS: int64(c.End),
			Left: jsonSide(c, Left), Right: jsonSide(c, Right),
			Vantage:   jsonVantage{c.Vantage.Near, int64(c.Vantage.RTT), c.Vantage.Reason},
			Anomalies: []jsonAnomaly{}, Ladder: toJSONLadder(c.Ladder())}
		for _, an := range c.Anomalies {
			jc.Anomalies = append(jc.Anomalies, jsonAnomaly{an.Kind, int64(an.Time), int64(an.Duration), an.Side.String(), an.Packet, an.Count, an.Detail})
		}
		d.Connections = append(d.Connections, jc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// MaxLadderMessages bounds the segments drawn on one ladder in SVG and
// HTML output: a longer connection shows its first and last segments and
// every state change.
const MaxLadderMessages = 200

func drawnLadder(c *Conn) viz.Ladder {
	l := c.Ladder()
	if n := len(l.Messages); n > MaxLadderMessages {
		h := MaxLadderMessages / 2
		l.Messages = append(l.Messages[:h:h], l.Messages[n-h:]...)
		l.Title += fmt.Sprintf(" (first and last %d of %d segments)", h, n)
	}
	return l
}

// SVG renders every connection's ladder and both ends' paths through the
// state diagram, one connection under the other, as one SVG document.
func SVG(a *Analysis) string {
	var parts []string
	for _, c := range a.Conns {
		parts = append(parts, viz.Row("", viz.LadderSVG(drawnLadder(c)), viz.StateDiagram(c.Paths()...).SVG()))
	}
	return viz.Column(fmt.Sprintf("synfin trace: %d connection(s)", len(a.Conns)), parts...)
}

// WriteSVG writes SVG(a).
func WriteSVG(w io.Writer, a *Analysis) error {
	_, err := io.WriteString(w, SVG(a))
	return err
}

// WriteHTML writes a self-contained page: per connection the text summary,
// the ladder and the state diagram.
func WriteHTML(w io.Writer, a *Analysis) error {
	b := &strings.Builder{}
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>synfin trace</title>\n<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}</style></head><body>\n")
	fmt.Fprintf(b, "<h1>synfin trace</h1>\n<p>%s, %d packets (%d TCP), %d connection(s), %s</p>\n",
		html.EscapeString(a.Format), a.Packets, a.TCP, len(a.Conns), html.EscapeString(fmtDur(a.Duration)))
	for _, wn := range a.Warnings {
		fmt.Fprintf(b, "<p><b>warning:</b> %s</p>\n", html.EscapeString(wn))
	}
	for _, c := range a.Conns {
		one := &Analysis{Format: a.Format, Packets: a.Packets, TCP: a.TCP, Skipped: a.Skipped, Duration: a.Duration, Conns: []*Conn{c}}
		var t strings.Builder
		if err := WriteText(&t, one); err != nil {
			return err
		}
		txt := t.String()
		if i := strings.Index(txt, "\n\n"); i >= 0 {
			txt = txt[i+2:]
		}
		fmt.Fprintf(b, "<section id=\"conn-%d\">\n<h2>connection %d: %s &rarr; %s</h2>\n<pre>%s</pre>\n<div class=\"figs\">\n%s\n%s\n</div>\n</section>\n",
			c.Index, c.Index, html.EscapeString(c.Left.String()), html.EscapeString(c.Right.String()), html.EscapeString(txt),
			viz.LadderSVG(drawnLadder(c)), viz.StateDiagram(c.Paths()...).SVG())
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

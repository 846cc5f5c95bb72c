package tour

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/synfin/synfin/viz"
)

// VizSteps returns one end's state changes as viz steps.
func (t *Trace) VizSteps(s Side) []viz.Step {
	var steps []viz.Step
	for _, st := range t.Steps {
		for _, c := range st.Changes {
			if c.Side == s {
				steps = append(steps, viz.Step{Time: st.At, From: c.Old, To: c.New, Cause: string(c.Cause)})
			}
		}
	}
	return steps
}

// Paths returns both ends' paths through the state diagram, the client's
// (or A's) first.
func (t *Trace) Paths() []viz.Path {
	return []viz.Path{
		{Name: t.Names[Client], Steps: t.VizSteps(Client)},
		{Name: t.Names[Server], Steps: t.VizSteps(Server)},
	}
}

// Ladder returns the trace as a packet ladder: the client (or A) on the
// left, every segment in the order it was sent, lost ones included.
func (t *Trace) Ladder() viz.Ladder {
	l := viz.Ladder{
		Title:      t.Name + ": " + t.Title,
		Left:       t.Names[Client],
		Right:      t.Names[Server],
		LeftSteps:  t.VizSteps(Client),
		RightSteps: t.VizSteps(Server),
	}
	rules := map[int]string{}
	for _, st := range t.Steps {
		if st.Seg != nil {
			rules[st.Seg.ID] = st.Rule
		}
	}
	for _, s := range t.Segments() {
		l.Messages = append(l.Messages, viz.Message{
			Time: s.SentAt, Arrive: s.ArrivesAt,
			From:  viz.Side(s.From),
			Flags: s.Flags.String(),
			Seq:   s.Seq, Ack: s.Ack, Len: s.Len(), Win: s.Window,
			Lost: s.Lost,
			Cwnd: s.Cwnd, CwndKnown: s.CwndKnown,
			Rule: rules[s.ID],
		})
	}
	return l
}

// SVG draws a trace as one SVG document: the ladder and, beside it, the
// state diagram with both ends' paths.
func SVG(t *Trace) string {
	return viz.Row("", viz.LadderSVG(t.Ladder()), viz.StateDiagram(t.Paths()...).SVG())
}

// WriteSVG writes the traces as one SVG document, one row (ladder, state
// diagram) per trace.
func WriteSVG(w io.Writer, traces []*Trace) error {
	var rows []string
	for _, t := range traces {
		rows = append(rows, SVG(t))
	}
	title := ""
	if len(traces) > 1 {
		title = "synfin tour"
	}
	_, err := io.WriteString(w, viz.Column(title, rows...))
	return err
}

const htmlStyle = `body{font-family:Helvetica,Arial,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{margin-top:2.5em;border-bottom:1px solid #ccc}
.figures{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.figures svg{max-width:100%;height:auto;border:1px solid #eee}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px;line-height:1.3}
dl.states dt{font-weight:bold;margin-top:1em}dl.states dd{margin-left:1.5em}
dl.states dd p{margin:.2em 0}dl.states b{display:inline-block;min-width:6em}
nav ul{columns:2}`

// WriteHTML writes the traces as one self-contained HTML page: per trace
// the description, the ladder and state diagram as inline SVG, what each
// state visited means, and the text trace with the rule behind every state
// change.
func WriteHTML(w io.Writer, traces []*Trace) error {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>synfin tour</title>\n")
	b.WriteString("<style>\n" + htmlStyle + "\n</style>\n</head>\n<body>\n<h1>synfin tour: TCP's connection lifecycle</h1>\n")
	b.WriteString("<p>" + html.EscapeString(strings.ReplaceAll(Legend, "\n", " ")) + "</p>\n")
	if len(traces) > 1 {
		b.WriteString("<nav><ul>\n")
		for _, t := range traces {
			fmt.Fprintf(&b, "<li><a href=\"#%s\">%s</a>: %s</li>\n", t.Name, html.EscapeString(t.Name), html.EscapeString(t.Title))
		}
		b.WriteString("</ul></nav>\n")
	}
	for _, t := range traces {
		fmt.Fprintf(&b, "<section id=\"%s\">\n<h2>%s: %s</h2>\n<p>%s</p>\n", t.Name, html.EscapeString(t.Name),
			html.EscapeString(t.Title), html.EscapeString(t.Description))
		b.WriteString("<div class=\"figures\">\n")
		b.WriteString(viz.LadderSVG(t.Ladder()))
		b.WriteString(viz.StateDiagram(t.Paths()...).SVG())
		b.WriteString("</div>\n<h3>The states visited</h3>\n<dl class=\"states\">\n")
		for _, st := range VisitedStates(t) {
			g := Guide[st]
			fmt.Fprintf(&b, "<dt>%s <small>(ss: %s)</small></dt>\n<dd>\n", st, html.EscapeString(g.SS))
			for _, part := range []struct{ head, text string }{
				{"means", g.Meaning}, {"entered", g.Enter}, {"left", g.Leave}, {"ss", g.InSS}, {"trouble", g.Trouble},
			} {
				fmt.Fprintf(&b, "<p><b>%s</b> %s</p>\n", part.head, html.EscapeString(part.text))
			}
			b.WriteString("</dd>\n")
		}
		b.WriteString("</dl>\n<h3>The run, segment by segment: seq, ack, window and cwnd, and the rule behind each segment and state change</h3>\n<pre>")
		var text bytes.Buffer
		if err := WriteText(&text, t); err != nil {
			return err
		}
		b.WriteString(html.EscapeString(text.String()))
		b.WriteString("</pre>\n</section>\n")
	}
	b.WriteString("</body>\n</html>\n")
	_, err := w.Write(b.Bytes())
	return err
}

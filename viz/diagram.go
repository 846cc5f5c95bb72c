package viz

import (
	"fmt"
	"math"
	"strings"

	"github.com/synfin/synfin/tcp"
)

// Diagram is the RFC 9293 state diagram (section 3.3.2, Figure 5) with
// some ends' paths through it. Render it with SVG or DOT.
type Diagram struct {
	Paths []Path
}

// StateDiagram returns the state diagram with the given paths highlighted:
// each path's transitions are drawn over the diagram's arrows in the path's
// colour and numbered in order (1, 2, 3...).
func StateDiagram(paths ...Path) *Diagram { return &Diagram{Paths: paths} }

type pt struct{ x, y float64 }

// node is a state box. The figure, like the RFC's, draws CLOSED twice: at
// the top, where connections start, and at the bottom right, where the
// orderly closes end.
type node struct {
	id    string
	state tcp.State
	pt
}

const (
	boxW, boxH     = 124, 44
	diagramW       = 860
	diagramH       = 1010
	labelSize      = 11.0
	closedEnd      = "CLOSED_2"
	diagramTitle   = "TCP connection states (RFC 9293, Figure 5)"
	diagramSubtext = "event / action on each arrow; x: no action"
)

var nodes = []node{
	{"CLOSED", tcp.Closed, pt{450, 70}},
	{"LISTEN", tcp.Listen, pt{450, 190}},
	{"SYN_RCVD", tcp.SynReceived, pt{150, 330}},
	{"SYN_SENT", tcp.SynSent, pt{760, 330}},
	{"ESTABLISHED", tcp.Established, pt{450, 470}},
	{"FIN_WAIT_1", tcp.FinWait1, pt{150, 610}},
	{"CLOSE_WAIT", tcp.CloseWait, pt{760, 610}},
	{"FIN_WAIT_2", tcp.FinWait2, pt{150, 750}},
	{"CLOSING", tcp.Closing, pt{450, 750}},
	{"LAST_ACK", tcp.LastAck, pt{760, 750}},
	{"TIME_WAIT", tcp.TimeWait, pt{450, 890}},
	{closedEnd, tcp.Closed, pt{760, 890}},
}

func nodeByID(id string) *node {
	for i := range nodes {
		if nodes[i].id == id {
			return &nodes[i]
		}
	}
	return nil
}

// anchor says where an edge's label sits relative to its point: centred on
// it, or ending or starting there (labels beside vertical arrows).
type anchor uint8

const (
	middle anchor = iota
	end
	start
)

// edge is a transition of the figure: an orthogonal polyline from box to
// box and the event/action label the RFC writes beside it.
type edge struct {
	from, to      string
	pts           []pt
	event, action string
	label         pt
	anchor        anchor
	// note marks the transition the RFC's figure leaves out (its note 2),
	// drawn dashed.
	note bool
}

var edges = []edge{
	{from: "CLOSED", to: "LISTEN", pts: []pt{{430, 92}, {430, 168}}, event: "passive OPEN", action: "create TCB", label: pt{422, 130}, anchor: end},
	{from: "LISTEN", to: "CLOSED", pts: []pt{{470, 168}, {470, 92}}, event: "CLOSE", action: "delete TCB", label: pt{478, 130}, anchor: start},
	{from: "CLOSED", to: "SYN_SENT", pts: []pt{{512, 58}, {805, 58}, {805, 308}}, event: "active OPEN", action: "create TCB, snd SYN", label: pt{590, 38}},
	{from: "SYN_SENT", to: "CLOSED", pts: []pt{{775, 308}, {775, 82}, {512, 82}}, event: "CLOSE", action: "delete TCB", label: pt{645, 104}},
	{from: "LISTEN", to: "SYN_SENT", pts: []pt{{512, 200}, {725, 200}, {725, 308}}, event: "SEND", action: "snd SYN", label: pt{618, 222}},
	{from: "LISTEN", to: "SYN_RCVD", pts: []pt{{388, 200}, {180, 200}, {180, 308}}, event: "rcv SYN", action: "snd SYN,ACK", label: pt{284, 222}},
	{from: "SYN_RCVD", to: "LISTEN", pts: []pt{{120, 308}, {120, 180}, {388, 180}}, event: "rcv RST (note 1)", label: pt{254, 168}},
	{from: "SYN_SENT", to: "SYN_RCVD", pts: []pt{{698, 330}, {212, 330}}, event: "rcv SYN", action: "snd SYN,ACK", label: pt{455, 310}},
	{from: "SYN_RCVD", to: "ESTABLISHED", pts: []pt{{180, 352}, {180, 400}, {420, 400}, {420, 448}}, event: "rcv ACK of SYN", action: "x", label: pt{300, 420}},
	{from: "SYN_SENT", to: "ESTABLISHED", pts: []pt{{730, 352}, {730, 400}, {480, 400}, {480, 448}}, event: "rcv SYN,ACK", action: "snd ACK", label: pt{605, 420}},
	{from: "SYN_RCVD", to: "FIN_WAIT_1", pts: []pt{{120, 352}, {120, 588}}, event: "CLOSE", action: "snd FIN", label: pt{112, 470}, anchor: end},
	{from: "ESTABLISHED", to: "FIN_WAIT_1", pts: []pt{{388, 480}, {180, 480}, {180, 588}}, event: "CLOSE", action: "snd FIN", label: pt{284, 500}},
	{from: "ESTABLISHED", to: "CLOSE_WAIT", pts: []pt{{512, 480}, {760, 480}, {760, 588}}, event: "rcv FIN", action: "snd ACK", label: pt{636, 500}},
	{from: "FIN_WAIT_1", to: "FIN_WAIT_2", pts: []pt{{150, 632}, {150, 728}}, event: "rcv ACK of FIN", action: "x", label: pt{142, 680}, anchor: end},
	{from: "FIN_WAIT_1", to: "CLOSING", pts: []pt{{212, 620}, {440, 620}, {440, 728}}, event: "rcv FIN", action: "snd ACK", label: pt{326, 640}},
	{from: "FIN_WAIT_1", to: "TIME_WAIT", pts: []pt{{190, 632}, {405, 868}}, event: "rcv FIN, ACK of FIN", action: "snd ACK (note 2)", label: pt{297, 752}, note: true},
	{from: "CLOSE_WAIT", to: "LAST_ACK", pts: []pt{{760, 632}, {760, 728}}, event: "CLOSE", action: "snd FIN", label: pt{752, 680}, anchor: end},
	{from: "FIN_WAIT_2", to: "TIME_WAIT", pts: []pt{{150, 772}, {150, 890}, {388, 890}}, event: "rcv FIN", action: "snd ACK", label: pt{270, 866}},
	{from: "CLOSING", to: "TIME_WAIT", pts: []pt{{450, 772}, {450, 868}}, event: "rcv ACK of FIN", action: "x", label: pt{458, 820}, anchor: start},
	{from: "LAST_ACK", to: closedEnd, pts: []pt{{760, 772}, {760, 868}}, event: "rcv ACK of FIN", action: "x", label: pt{752, 820}, anchor: end},
	{from: "TIME_WAIT", to: closedEnd, pts: []pt{{512, 890}, {698, 890}}, event: "Timeout=2MSL", action: "delete TCB", label: pt{605, 864}},
}

// Notes are the figure's footnotes, in the RFC's numbering.
var notes = []string{
	"note 1: an RST takes SYN_RCVD back to LISTEN only if SYN_RCVD was reached by a passive OPEN.",
	"note 2: a FIN that also acknowledges ours takes FIN_WAIT_1 straight to TIME_WAIT (not drawn in the RFC; dashed here).",
	"note 3: RSTs are left out: receiving one leads to CLOSED from any state, sending one can lead to TIME_WAIT. A path that",
	"takes such a transition, or a timeout, is drawn as a dashed arrow.",
}

// Transitions returns the transitions the figure draws, as (from, to) state
// pairs, in the order of the figure.
func Transitions() [][2]tcp.State {
	var out [][2]tcp.State
	for _, e := range edges {
		out = append(out, [2]tcp.State{nodeByID(e.from).state, nodeByID(e.to).state})
	}
	return out
}

// nodesFor picks the boxes a state change goes between: a change to CLOSED
// from LISTEN or SYN_SENT returns to the top box, any other to the bottom
// one, as in the RFC's figure.
func nodesFor(s Step) (from, to string) {
	from = s.From.String()
	to = s.To.String()
	if s.To == tcp.Closed && s.From != tcp.Listen && s.From != tcp.SynSent {
		to = closedEnd
	}
	return from, to
}

func findEdge(from, to string) *edge {
	for i := range edges {
		if edges[i].from == from && edges[i].to == to {
			return &edges[i]
		}
	}
	return nil
}

// route returns the polyline a step is drawn along and whether the figure
// has that transition (otherwise it is a straight line between the boxes).
func route(s Step) ([]pt, bool) {
	from, to := nodesFor(s)
	if e := findEdge(from, to); e != nil {
		return e.pts, true
	}
	a, b := nodeByID(from), nodeByID(to)
	if a == nil || b == nil {
		return nil, false
	}
	return []pt{clipToBox(a.pt, b.pt), clipToBox(b.pt, a.pt)}, false
}

// clipToBox returns where the segment from the centre c towards p leaves
// the state box around c.
func clipToBox(c, p pt) pt {
	dx, dy := p.x-c.x, p.y-c.y
	if dx == 0 && dy == 0 {
		return c
	}
	t := math.Inf(1)
	if dx != 0 {
		t = math.Min(t, (boxW/2)/math.Abs(dx))
	}
	if dy != 0 {
		t = math.Min(t, (boxH/2)/math.Abs(dy))
	}
	return pt{c.x + dx*t, c.y + dy*t}
}

// pointAlong returns the point at fraction f of a polyline's length.
func pointAlong(pts []pt, f float64) pt {
	total := 0.0
	for i := 1; i < len(pts); i++ {
		total += math.Hypot(pts[i].x-pts[i-1].x, pts[i].y-pts[i-1].y)
	}
	want := total * f
	for i := 1; i < len(pts); i++ {
		l := math.Hypot(pts[i].x-pts[i-1].x, pts[i].y-pts[i-1].y)
		if want <= l && l > 0 {
			r := want / l
			return pt{pts[i-1].x + (pts[i].x-pts[i-1].x)*r, pts[i-1].y + (pts[i].y-pts[i-1].y)*r}
		}
		want -= l
	}
	return pts[len(pts)-1]
}

func pathData(pts []pt, d float64) string {
	var b strings.Builder
	for i, p := range pts {
		if i == 0 {
			b.WriteString("M")
		} else {
			b.WriteString(" L")
		}
		fmt.Fprintf(&b, "%s,%s", num(p.x+d), num(p.y+d))
	}
	return b.String()
}

// labelCentre returns the x of the centre of a label block of width w.
func labelCentre(e *edge, w float64) float64 {
	switch e.anchor {
	case end:
		return e.label.x - w/2
	case start:
		return e.label.x + w/2
	}
	return e.label.x
}

// visited returns, for each state, whether some path goes through it.
func (d *Diagram) visited() map[tcp.State]bool {
	v := make(map[tcp.State]bool)
	for _, p := range d.Paths {
		for _, s := range p.Steps {
			v[s.From], v[s.To] = true, true
		}
	}
	return v
}

const svgStyle = `.viz-state rect{fill:#fff;stroke:#222;stroke-width:1.5}
.viz-state.visited rect{fill:#fff4cc}
.viz-state text{font:bold 13px Helvetica,Arial,sans-serif;text-anchor:middle}
.viz-edge path{fill:none;stroke:#555;stroke-width:1.2}
.viz-edge.note path{stroke-dasharray:5 4}
.viz-label{font:11px Helvetica,Arial,sans-serif;fill:#222;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.viz-rule{stroke:#222;stroke-width:0.8}
.hl path{fill:none;stroke-width:3.5;stroke-opacity:0.85;stroke-linejoin:round}
.hl.extra path{stroke-dasharray:7 4}
.hl text{font:bold 13px Helvetica,Arial,sans-serif;fill:#fff;text-anchor:middle}
.viz-note{font:11px Helvetica,Arial,sans-serif;fill:#444}
.viz-title{font:bold 15px Helvetica,Arial,sans-serif}
.viz-legend{font:12px Helvetica,Arial,sans-serif}`

// SVG renders the diagram as a self-contained SVG document. Each
// highlighted transition is a <g class="hl"> with data-path, data-step
// (1, 2, 3... along its path), data-from and data-to.
func (d *Diagram) SVG() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" class="viz-diagram">`+"\n",
		diagramW, diagramH, diagramW, diagramH)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(diagramTitle))
	b.WriteString("<defs>\n<style>\n" + svgStyle + "\n</style>\n")
	colors := []string{"#555"}
	for i, p := range d.Paths {
		colors = append(colors, pathColor(p, i))
	}
	seen := map[string]bool{}
	for _, c := range colors {
		if !seen[c] {
			seen[c] = true
			b.WriteString(arrowMarker(c) + "\n")
		}
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", diagramW, diagramH)
	fmt.Fprintf(&b, `<text class="viz-title" x="20" y="26">%s</text>`+"\n", esc(diagramTitle))
	fmt.Fprintf(&b, `<text class="viz-note" x="20" y="44">%s</text>`+"\n", esc(diagramSubtext))

	// The figure's transitions.
	b.WriteString(`<g class="viz-edges">` + "\n")
	for i := range edges {
		e := &edges[i]
		class := "viz-edge"
		if e.note {
			class += " note"
		}
		fmt.Fprintf(&b, `<g class="%s" data-from="%s" data-to="%s"><path d="%s" marker-end="url(#%s)"/>`,
			class, nodeByID(e.from).state, nodeByID(e.to).state, pathData(e.pts, 0), markerID("#555"))
		w := max(textWidth(e.event, labelSize), textWidth(e.action, labelSize))
		cx := labelCentre(e, w)
		fmt.Fprintf(&b, `<text class="viz-label" x="%s" y="%s">%s</text>`, num(cx), num(e.label.y-4), esc(e.event))
		fmt.Fprintf(&b, `<line class="viz-rule" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(cx-w/2), num(e.label.y), num(cx+w/2), num(e.label.y))
		if e.action != "" {
			fmt.Fprintf(&b, `<text class="viz-label" x="%s" y="%s">%s</text>`, num(cx), num(e.label.y+12), esc(e.action))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")

	// The states.
	visited := d.visited()
	b.WriteString(`<g class="viz-states">` + "\n")
	for _, n := range nodes {
		class := "viz-state"
		if visited[n.state] {
			class += " visited"
		}
		fmt.Fprintf(&b, `<g class="%s" id="viz-state-%s" data-state="%s"><rect x="%s" y="%s" width="%d" height="%d" rx="5"/><text x="%s" y="%s">%s</text></g>`+"\n",
			class, n.id, n.state, num(n.x-boxW/2), num(n.y-boxH/2), boxW, boxH, num(n.x), num(n.y+4.5), n.state)
	}
	b.WriteString("</g>\n")

	// The paths, over everything else.
	n := len(d.Paths)
	for i, p := range d.Paths {
		color := pathColor(p, i)
		off := 0.0
		if n > 1 {
			off = (float64(i) - float64(n-1)/2) * 5
		}
		frac := 0.5
		if n > 1 {
			frac = 0.3 + 0.4*float64(i)/float64(n-1)
		}
		fmt.Fprintf(&b, `<g class="viz-path" data-path="%s" stroke="%s">`+"\n", esc(p.Name), esc(color))
		k := 0
		for _, s := range p.Steps {
			if s.From == s.To {
				continue
			}
			pts, drawn := route(s)
			if pts == nil {
				continue
			}
			k++
			class := "hl"
			if !drawn {
				class += " extra"
			}
			c := pointAlong(pts, frac)
			fmt.Fprintf(&b, `<g class="%s" data-path="%s" data-step="%d" data-from="%s" data-to="%s">`,
				class, esc(p.Name), k, s.From, s.To)
			fmt.Fprintf(&b, `<title>%s %d: %s → %s at %s s: %s</title>`, esc(p.Name), k, s.From, s.To, formatTime(s.Time), esc(s.Cause))
			fmt.Fprintf(&b, `<path d="%s" stroke="%s" marker-end="url(#%s)"/>`, pathData(pts, off), esc(color), markerID(color))
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="10" fill="%s" stroke="#fff" stroke-width="1.5"/>`, fmtf(c.x+off), fmtf(c.y+off), esc(color))
			fmt.Fprintf(&b, `<text x="%s" y="%s">%d</text></g>`+"\n", fmtf(c.x+off), fmtf(c.y+off+4.5), k)
		}
		b.WriteString("</g>\n")
	}

	// Legend and notes.
	y := 70.0
	for i, p := range d.Paths {
		color := pathColor(p, i)
		fmt.Fprintf(&b, `<g class="viz-legend"><rect x="20" y="%s" width="22" height="8" fill="%s"/><text x="50" y="%s">%s</text></g>`+"\n",
			num(y-8), esc(color), num(y), esc(p.Name))
		y += 18
	}
	y = 940
	for _, n := range notes {
		fmt.Fprintf(&b, `<text class="viz-note" x="20" y="%s">%s</text>`+"\n", num(y), esc(n))
		y += 15
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtf(f float64) string { return num(math.Round(f*10) / 10) }

// DOT renders the diagram as a Graphviz graph. Nodes carry the fixed layout
// as pinned positions (render with `neato -n2 -Tsvg`, or let `dot` lay it
// out afresh); each highlighted transition is an extra edge with
// class="hl" and its step number as label.
func (d *Diagram) DOT() string {
	var b strings.Builder
	b.WriteString("// " + diagramTitle + ", drawn by synfin.\n")
	b.WriteString("// Pinned layout: neato -n2 -Tsvg; or dot -Tsvg for Graphviz's own.\n")
	b.WriteString("digraph tcp_states {\n")
	fmt.Fprintf(&b, "  graph [label=%q, labelloc=t, fontname=\"Helvetica-Bold\", fontsize=16, outputorder=edgesfirst];\n", diagramTitle)
	fmt.Fprintf(&b, "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica-Bold\", fontsize=12, width=%.2f, height=%.2f, fixedsize=true];\n",
		float64(boxW)/72, float64(boxH)/72)
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=10, color=\"#555555\"];\n")
	visited := d.visited()
	for _, n := range nodes {
		fill := ""
		if visited[n.state] {
			fill = `, fillcolor="#fff4cc"`
		}
		fmt.Fprintf(&b, "  %s [label=%q, pos=\"%s,%s!\"%s];\n", n.id, n.state.String(), num(n.x), num(diagramH-n.y), fill)
	}
	for _, e := range edges {
		label := e.event + `\n` + strings.Repeat("-", max(len(e.event), len(e.action))) + `\n` + e.action
		style := ""
		if e.note {
			style = ", style=dashed"
		}
		fmt.Fprintf(&b, "  %s -> %s [label=\"%s\"%s];\n", e.from, e.to, label, style)
	}
	for i, p := range d.Paths {
		color := pathColor(p, i)
		fmt.Fprintf(&b, "  // path %q\n", p.Name)
		k := 0
		for _, s := range p.Steps {
			if s.From == s.To {
				continue
			}
			k++
			from, to := nodesFor(s)
			style := ""
			if _, drawn := route(s); !drawn {
				style = ", style=dashed"
			}
			fmt.Fprintf(&b, "  %s -> %s [class=\"hl\", id=\"%s-%d\", color=%q, fontcolor=%q, penwidth=3, label=\"%d\", tooltip=%q%s];\n",
				from, to, dotID(p.Name), k, color, color, k, fmt.Sprintf("%s %d: %s -> %s: %s", p.Name, k, s.From, s.To, s.Cause), style)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func dotID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

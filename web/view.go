package web

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/tour"
	"github.com/synfin/synfin/trace"
	"github.com/synfin/synfin/viz"
)

// View is one connection ready to be played: its two figures, drawn by
// package viz, and the steps that walk through them. It is what the
// page's script receives as JSON.
type View struct {
	// ID names the view in the page's URL fragment: "scenario=NAME" or
	// "capture=ID&conn=N".
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Names       [2]string `json:"names"`
	// Colors are the ends' colours in the state diagram.
	Colors [2]string `json:"colors"`
	// Initial are the ends' states before the first step; InitialNodes the
	// diagram boxes that show them.
	Initial      [2]string `json:"initial"`
	InitialNodes [2]string `json:"initial_nodes"`
	LadderSVG    string    `json:"ladder_svg"`
	DiagramSVG   string    `json:"diagram_svg"`
	Steps        []Step    `json:"steps"`
	// Guide explains, in a sentence, each state the ends visit.
	Guide map[string]string `json:"guide"`
	// Notes are things worth knowing about the whole view (capture
	// warnings, a packetdrill failure).
	Notes []string `json:"notes,omitempty"`
	// CwndSource says where the congestion windows come from: "engine"
	// (a tour scenario: synfin's tcp_info) or "capture" (unknown: packets
	// do not carry cwnd); CwndNote says it in words.
	CwndSource string `json:"cwnd_source"`
	CwndNote   string `json:"cwnd_note"`
	// InitialEnds are the ends' variables before the first step.
	InitialEnds [2]EndVars `json:"initial_ends"`
}

// EndVars is what is known of one end's variables after a step.
type EndVars struct {
	// Cwnd is the congestion window in segments, nil when unknown (a
	// capture, or an end without a connection).
	Cwnd *uint32 `json:"cwnd"`
	// Text is the line the page shows: "cwnd 10, ssthresh ∞, in flight 0
	// (segments); SND.UNA ...", or what a capture shows.
	Text string `json:"text"`
}

// Step is one instant of the ladder: what was sent, what arrived, which
// states changed, and both ends' states after it. Steps are the ladder's
// distinct instants in time order, so step i is drawn at the height of the
// ladder's i-th time mark.
type Step struct {
	N      int    `json:"n"` // 1-based
	TimeNS int64  `json:"time_ns"`
	Time   string `json:"time"` // seconds, "0.010"
	// Events describe the step in words, one line each.
	Events   []string  `json:"events"`
	Segments []Segment `json:"segments"`
	Changes  []Change  `json:"changes"`
	// States are both ends' states after the step; Nodes the diagram
	// boxes that show them (CLOSED has two: the top one and CLOSED_2).
	States [2]string `json:"states"`
	Nodes  [2]string `json:"nodes"`
	// Ends are both ends' variables after the step.
	Ends [2]EndVars `json:"ends"`
}

// Segment is a segment sent, arriving or lost at a step.
type Segment struct {
	// Index is the segment's place in the ladder (its data-index).
	Index int `json:"index"`
	// Event is "sent", "arrived" or "lost".
	Event string `json:"event"`
	From  int    `json:"from"` // 0 left, 1 right
	Flags string `json:"flags"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack"`
	Len   int    `json:"len"`
	Win   uint16 `json:"win"`
	// Cwnd is the sender's congestion window in segments when the source
	// knows it (null from a capture).
	Cwnd *uint32 `json:"cwnd"`
	Text string  `json:"text"`
	// Rule is what the receiver made of the segment (RFC 9293 3.10.7...).
	Rule string `json:"rule,omitempty"`
}

// Change is a state change of one end.
type Change struct {
	Side  int    `json:"side"`
	From  string `json:"from"`
	To    string `json:"to"`
	Cause string `json:"cause"`
	// Node is the diagram box entered.
	Node string `json:"node"`
	// PathStep is the transition's number along the end's path in the
	// state diagram (its data-step), 0 when the diagram does not draw it.
	PathStep int `json:"path_step"`
	// LadderIndex is the change's place among the end's state changes on
	// the ladder.
	LadderIndex int `json:"ladder_index"`
}

// colors are viz's colours for the first two paths of a diagram.
var colors = [2]string{"#d62728", "#1f77b4"}

// nodeFor returns the diagram box a change enters: as in the RFC's figure,
// a change to CLOSED from anywhere but LISTEN and SYN_SENT ends in the
// bottom box.
func nodeFor(from, to tcp.State) string {
	if to == tcp.Closed && from != tcp.Listen && from != tcp.SynSent {
		return "CLOSED_2"
	}
	return to.String()
}

// source is what a view is built from: a ladder and the paths through
// the diagram, with optional words for instants (calls, timers).
type source struct {
	id, title, desc string
	ladder          viz.Ladder
	paths           []viz.Path
	// initial are the ends' states before their first change.
	initial [2]tcp.State
	// words are extra event lines per instant.
	words map[time.Duration][]string
	// causeNotes are appended to each side's change causes, in order.
	causeNotes [2][]string
	notes      []string
	// vars are both ends' variables after each instant, from an engine;
	// nil for a capture, whose ends' variables are worked out from the
	// packets (capture).
	vars    map[time.Duration][2]tour.Vars
	capture bool
}

// engineVars describes an end's variables as its engine reported them.
func engineVars(v tour.Vars) EndVars {
	if !v.Known {
		return EndVars{Text: "cwnd –: no connection"}
	}
	cw := v.Cwnd
	ss := "∞"
	if v.Ssthresh < tour.InfiniteSsthresh {
		ss = fmt.Sprint(v.Ssthresh)
	}
	return EndVars{Cwnd: &cw, Text: fmt.Sprintf("cwnd %d, ssthresh %s, in flight %d (segments); SND.UNA %d, SND.NXT %d, RCV.NXT %d; SND.WND %d, RCV.WND %d",
		v.Cwnd, ss, v.InFlight, v.SndUna, v.SndNxt, v.RcvNxt, v.SndWnd, v.RcvWnd)}
}

// seqLen is a message's length in sequence space.
func seqLen(m viz.Message) uint32 {
	n := uint32(m.Len)
	if strings.Contains(m.Flags, "S") {
		n++
	}
	if strings.Contains(m.Flags, "F") {
		n++
	}
	return n
}

// observer follows what a capture shows of each end: the highest
// sequence number it sent and the highest ACK that reached it.
type observer struct {
	sent, acked [2]uint32
	has         [2]bool
}

func (o *observer) send(m viz.Message) {
	s := int(m.From)
	if end := m.Seq + seqLen(m); !o.has[s] || int32(end-o.sent[s]) > 0 {
		o.sent[s], o.has[s] = end, true
	}
}

func (o *observer) arrive(m viz.Message) {
	s := 1 - int(m.From)
	if !strings.Contains(m.Flags, ".") || m.Lost {
		return
	}
	if int32(m.Ack-o.acked[s]) > 0 {
		o.acked[s] = m.Ack
	}
}

func (o *observer) vars(s int) EndVars {
	t := "cwnd unknown: packets do not carry it"
	if o.has[s] {
		fl := int32(o.sent[s] - o.acked[s])
		t += fmt.Sprintf("; %d bytes sent and not yet acknowledged, as the packets show", max(fl, 0))
	}
	return EndVars{Text: t}
}

func secs(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return fmt.Sprintf("%.6f", d.Seconds())
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func build(src source) *View {
	l := src.ladder
	v := &View{
		ID: src.id, Title: src.title, Description: src.desc,
		Names:  [2]string{l.Left, l.Right},
		Colors: colors,
		Guide:  map[string]string{},
	}
	sideSteps := [2][]viz.Step{l.LeftSteps, l.RightSteps}
	state := src.initial
	for s := 0; s < 2; s++ {
		if len(sideSteps[s]) > 0 {
			state[s] = sideSteps[s][0].From
		}
		v.Initial[s] = state[s].String()
		v.InitialNodes[s] = state[s].String()
	}
	if src.capture {
		v.CwndSource = "capture"
		v.CwndNote = "cwnd (the congestion window) lives inside each end: packets do not carry it, so a capture cannot show it. " +
			"Seq, ack and window are the packets' own fields (relative sequence numbers)."
		var o observer
		v.InitialEnds = [2]EndVars{o.vars(0), o.vars(1)}
	} else {
		v.CwndSource = "engine"
		v.CwndNote = "cwnd is each end's congestion window in segments, from synfin's engine (tcp_info) as it ran; " +
			"a segment's cwnd is its sender's when it sent it."
		v.InitialEnds = [2]EndVars{engineVars(tour.Vars{}), engineVars(tour.Vars{})}
	}
	v.LadderSVG = viz.LadderSVG(l)
	v.DiagramSVG = viz.StateDiagram(src.paths...).SVG()

	// The instants, as the ladder lays them out.
	seen := map[time.Duration]bool{}
	var times []time.Duration
	add := func(t time.Duration) {
		if !seen[t] {
			seen[t] = true
			times = append(times, t)
		}
	}
	for _, m := range l.Messages {
		add(m.Time)
		add(m.Arrive)
	}
	for s := 0; s < 2; s++ {
		for _, st := range sideSteps[s] {
			add(st.Time)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })

	guide := func(st tcp.State) {
		if g, ok := tour.Guide[st]; ok {
			v.Guide[st.String()] = g.Meaning
		}
	}
	guide(state[0])
	guide(state[1])
	node := [2]string{v.InitialNodes[0], v.InitialNodes[1]}
	// Each side's changes in time order (a capture's inferred times need
	// not be), with their number along the side's path in the diagram.
	var order, pathK [2][]int
	for s := 0; s < 2; s++ {
		k := 0
		for i, vs := range sideSteps[s] {
			order[s] = append(order[s], i)
			if vs.From != vs.To {
				k++
				pathK[s] = append(pathK[s], k)
			} else {
				pathK[s] = append(pathK[s], 0)
			}
		}
		steps := sideSteps[s]
		sort.SliceStable(order[s], func(a, b int) bool { return steps[order[s][a]].Time < steps[order[s][b]].Time })
	}
	next := [2]int{} // next change of each side, in order[side]
	changesAt := func(s int, t time.Duration) bool {
		for _, vs := range sideSteps[s] {
			if vs.Time == t {
				return true
			}
		}
		return false
	}
	var obs observer
	var ends [2]EndVars = v.InitialEnds
	for i, t := range times {
		st := Step{N: i + 1, TimeNS: int64(t), Time: secs(t)}
		st.Events = append(st.Events, src.words[t]...)
		for mi, m := range l.Messages {
			seg := func(ev string) Segment {
				g := Segment{Index: mi, Event: ev, From: int(m.From), Flags: m.Flags, Seq: m.Seq, Ack: m.Ack,
					Len: m.Len, Win: m.Win, Text: viz.MessageText(m), Rule: m.Rule}
				if m.CwndKnown {
					cw := m.Cwnd
					g.Cwnd = &cw
				}
				return g
			}
			if m.Time == t {
				st.Segments = append(st.Segments, seg("sent"))
				st.Events = append(st.Events, fmt.Sprintf("%s sends %s", v.Names[m.From], viz.MessageText(m)))
				obs.send(m)
			}
			if m.Arrive == t {
				if m.Lost {
					st.Segments = append(st.Segments, seg("lost"))
					st.Events = append(st.Events, fmt.Sprintf("%s's %s is lost", v.Names[m.From], viz.MessageText(m)))
				} else {
					st.Segments = append(st.Segments, seg("arrived"))
					ev := fmt.Sprintf("%s receives %s", v.Names[1-m.From], viz.MessageText(m))
					// A state change names its own rule below.
					if m.Rule != "" && !changesAt(1-int(m.From), t) {
						ev += ": " + m.Rule
					}
					st.Events = append(st.Events, ev)
					obs.arrive(m)
				}
			}
		}
		if src.capture {
			ends = [2]EndVars{obs.vars(0), obs.vars(1)}
		} else if vs, ok := src.vars[t]; ok {
			ends = [2]EndVars{engineVars(vs[0]), engineVars(vs[1])}
		}
		st.Ends = ends
		for s := 0; s < 2; s++ {
			for next[s] < len(order[s]) && sideSteps[s][order[s][next[s]]].Time == t {
				idx := order[s][next[s]]
				vs := sideSteps[s][idx]
				c := Change{Side: s, From: vs.From.String(), To: vs.To.String(), Cause: vs.Cause,
					Node: nodeFor(vs.From, vs.To), LadderIndex: idx, PathStep: pathK[s][idx]}
				if idx < len(src.causeNotes[s]) && src.causeNotes[s][idx] != "" {
					c.Cause += " [" + src.causeNotes[s][idx] + "]"
				}
				next[s]++
				st.Changes = append(st.Changes, c)
				st.Events = append(st.Events, fmt.Sprintf("%s: %s → %s (%s)", v.Names[s], c.From, c.To, c.Cause))
				state[s], node[s] = vs.To, c.Node
				guide(vs.To)
			}
		}
		st.States = [2]string{state[0].String(), state[1].String()}
		st.Nodes = node
		v.Steps = append(v.Steps, st)
	}
	v.Notes = src.notes
	return v
}

// ScenarioView runs a tour scenario and builds its view.
func ScenarioView(name string) (*View, error) {
	sc, ok := tour.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", name)
	}
	tr, err := tour.Run(sc)
	if err != nil {
		return nil, err
	}
	words := map[time.Duration][]string{}
	vars := map[time.Duration][2]tour.Vars{}
	for _, st := range tr.Steps {
		vars[st.At] = st.Vars
		if st.Kind == tour.CallStep || st.Kind == tour.TimerStep {
			text := st.Text
			if st.Kind == tour.TimerStep && st.Rule != "" && len(st.Changes) == 0 {
				text = st.Rule // names the timer, and says what it did
			}
			if text != "" {
				words[st.At] = append(words[st.At], tr.Names[st.Side]+": "+text)
			}
		}
		for _, n := range st.Notes {
			words[st.At] = append(words[st.At], tr.Names[st.Side]+": "+n)
		}
	}
	return build(source{
		id: "scenario=" + tr.Name, title: tr.Name + ": " + tr.Title, desc: tr.Description,
		ladder: tr.Ladder(), paths: tr.Paths(), words: words, vars: vars,
	}), nil
}

// ConnView builds the view of one connection of an analysed capture.
func ConnView(id string, c *trace.Conn, warnings []string) *View {
	var notes [2][]string
	for _, st := range c.Steps {
		n := string(st.Confidence)
		if st.Note != "" {
			n += ": " + st.Note
		}
		notes[st.Side] = append(notes[st.Side], n)
	}
	l := c.Ladder()
	var vnotes []string
	vnotes = append(vnotes, warnings...)
	for _, an := range c.Anomalies {
		vnotes = append(vnotes, fmt.Sprintf("%s (%v): %s", an.Kind, an.Side, an.Detail))
	}
	vnotes = append(vnotes, fmt.Sprintf("final states: %v %v, %v %v", c.Left, c.Final[0], c.Right, c.Final[1]))
	return build(source{
		id: id, title: l.Title,
		desc: fmt.Sprintf("Reconstructed from a capture taken near %s: states caused by sending are observed, "+
			"those caused by receiving are inferred.", c.Vantage.Near),
		ladder: l, paths: c.Paths(), initial: c.Initial, causeNotes: notes, notes: vnotes, capture: true,
	})
}

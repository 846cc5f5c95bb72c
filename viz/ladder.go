package viz

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/synfin/synfin/tcp"
)

// The ladder's vertical scale: 3 px per millisecond, so that a 10 ms
// one-way delay slopes by 30 px, with distinct instants at least minGap
// apart and long waits (TIME_WAIT's 60 s) cut down to a break of breakGap.
const (
	pxPerMs   = 4.0
	minGap    = 30.0
	maxGap    = 90.0
	breakGap  = 46.0
	breakAt   = 500 * time.Millisecond
	stackGap  = 18.0 // between segments sent (or states entered) at one instant
	ladderTop = 84.0
	leftX     = 190.0
	msgFont   = 11.0
)

// timeline maps instants to heights.
type timeline struct {
	ys     map[time.Duration]float64
	times  []time.Duration
	breaks []gap // long waits cut short
	bottom float64
}

type gap struct {
	from, to time.Duration
	y0, y1   float64
}

// stacking counts, per instant, how many things must be drawn one under
// the other there: segments leaving or arriving at one end, states entered
// by one end.
func stacking(l *Ladder) map[time.Duration]int {
	count := map[string]int{}
	most := map[time.Duration]int{}
	bump := func(kind string, t time.Duration, side Side) {
		k := fmt.Sprintf("%s/%d/%d", kind, t, side)
		count[k]++
		most[t] = max(most[t], count[k])
	}
	for _, m := range l.Messages {
		bump("send", m.Time, m.From)
		bump("arrive", m.Arrive, 1-m.From)
	}
	for _, s := range l.LeftSteps {
		bump("state", s.Time, Left)
	}
	for _, s := range l.RightSteps {
		bump("state", s.Time, Right)
	}
	return most
}

func newTimeline(l *Ladder) *timeline {
	stack := stacking(l)
	tl := &timeline{ys: map[time.Duration]float64{}}
	for t := range stack {
		tl.times = append(tl.times, t)
	}
	sort.Slice(tl.times, func(i, j int) bool { return tl.times[i] < tl.times[j] })
	y := ladderTop
	for i, t := range tl.times {
		if i > 0 {
			prev := tl.times[i-1]
			y += float64(stack[prev]-1) * stackGap
			dt := t - prev
			if dt >= breakAt {
				tl.breaks = append(tl.breaks, gap{prev, t, y, y + breakGap})
				y += breakGap
			} else {
				y += min(maxGap, max(minGap, float64(dt)/float64(time.Millisecond)*pxPerMs))
			}
		}
		tl.ys[t] = y
	}
	if n := len(tl.times); n > 0 {
		y += float64(stack[tl.times[n-1]]-1) * stackGap
	}
	tl.bottom = y + 30
	return tl
}

// messageRanks gives each message its place among those sent by the same
// end at the same instant, so that they are drawn one under the other.
func messageRanks(l *Ladder) []int {
	ranks := make([]int, len(l.Messages))
	seen := map[string]int{}
	for i, m := range l.Messages {
		k := fmt.Sprintf("%d/%d", m.Time, m.From)
		ranks[i] = seen[k]
		seen[k]++
	}
	return ranks
}

func initialState(steps []Step) (tcp.State, bool) {
	if len(steps) == 0 {
		return tcp.Closed, false
	}
	return steps[0].From, true
}

const ladderStyle = `.viz-ladder text{font-family:Helvetica,Arial,sans-serif}
.viz-ladder .end{font-size:15px;font-weight:bold;text-anchor:middle}
.viz-ladder .time{font-size:10px;fill:#777}
.viz-ladder .axis{stroke:#222;stroke-width:2}
.viz-ladder .msg line,.viz-ladder .msg path{stroke:#1f4e9c;stroke-width:1.4;fill:none}
.viz-ladder .msg.lost line,.viz-ladder .msg.lost path{stroke:#c62828;stroke-dasharray:5 3}
.viz-ladder .msg.lost path.x{stroke-dasharray:none;stroke-width:2.2}
.viz-ladder .msg text{font-family:Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:11px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px}
.viz-ladder .msg.lost text{fill:#c62828}
.viz-ladder .state-change text{font-size:12px;font-weight:bold;fill:#8a4b00}
.viz-ladder .state-change line{stroke:#8a4b00;stroke-width:2}
.viz-ladder .initial{font-size:12px;fill:#555;text-anchor:middle}
.viz-ladder .break{font-size:11px;fill:#777;font-style:italic;text-anchor:middle}`

// LadderSVG draws a packet ladder as a self-contained SVG document: the
// two ends' timelines, time running down; each segment an arrow from
// sender to receiver that slopes with its one-way delay and is labelled in
// tcpdump's notation; a lost segment an arrow that stops short in an X; and
// each end's state written beside its timeline where it changes. Waits of
// half a second or more are cut short and marked with their length.
//
// Segments are <g class="msg"> with data-index (their place in
// l.Messages); state changes <g class="state-change"> with data-side,
// data-from and data-to.
func LadderSVG(l Ladder) string {
	tl := newTimeline(&l)
	ranks := messageRanks(&l)
	longest := 0.0
	for _, m := range l.Messages {
		longest = max(longest, monoWidth(MessageText(m), msgFont))
	}
	span := max(420, longest*1.5+60)
	x := [2]float64{leftX, leftX + span}
	width := x[Right] + 150
	height := tl.bottom + 10

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" class="viz-ladder">`+"\n",
		num(width), num(height), num(width), num(height))
	title := l.Title
	if title == "" {
		title = l.Left + " and " + l.Right
	}
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	b.WriteString("<defs>\n<style>\n" + ladderStyle + "\n</style>\n")
	b.WriteString(arrowMarker("#1f4e9c") + "\n</defs>\n")
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#fff"/>`+"\n", num(width), num(height))
	if l.Title != "" {
		fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", esc(l.Title))
	}

	// The ends and their timelines.
	names := [2]string{l.Left, l.Right}
	steps := [2][]Step{l.LeftSteps, l.RightSteps}
	for s := Left; s <= Right; s++ {
		fmt.Fprintf(&b, `<text class="end" x="%s" y="46">%s</text>`+"\n", num(x[s]), esc(names[s]))
		if st, ok := initialState(steps[s]); ok {
			fmt.Fprintf(&b, `<text class="initial" x="%s" y="64">%s</text>`+"\n", num(x[s]), st)
		}
		fmt.Fprintf(&b, `<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(x[s]), num(ladderTop-12), num(x[s]), num(tl.bottom))
	}
	for _, g := range tl.breaks {
		mid := (g.y0 + g.y1) / 2
		for s := Left; s <= Right; s++ {
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="12" height="%s" fill="#fff"/>`, num(x[s]-6), num(mid-7), "14")
			fmt.Fprintf(&b, `<path d="M%s,%s l12,-4 M%s,%s l12,-4" stroke="#222" stroke-width="1.5"/>`+"\n",
				num(x[s]-6), num(mid-3), num(x[s]-6), num(mid+5))
		}
		fmt.Fprintf(&b, `<text class="break" x="%s" y="%s">%s s later</text>`+"\n", num((x[0]+x[1])/2), num(mid+4), formatTime(g.to-g.from))
	}

	// Times down the left margin.
	for _, t := range tl.times {
		fmt.Fprintf(&b, `<text class="time" x="8" y="%s">%s</text>`+"\n", num(tl.ys[t]+3), formatTime(t))
	}

	// Segments.
	for i, m := range l.Messages {
		from, to := m.From, 1-m.From
		off := float64(ranks[i]) * stackGap
		p0 := pt{x[from], tl.ys[m.Time] + off}
		p1 := pt{x[to], tl.ys[m.Arrive] + off}
		class := "msg"
		if m.Lost {
			class += " lost"
		}
		tip := names[from] + " → " + names[to] + " at " + formatTime(m.Time) + " s, "
		if m.Lost {
			tip += "lost"
		} else {
			tip += "arrives at " + formatTime(m.Arrive) + " s"
		}
		if m.Rule != "" {
			tip += ": " + m.Rule
		}
		fmt.Fprintf(&b, `<g class="%s" data-index="%d"><title>%s</title>`, class, i, esc(tip))
		angle := math.Atan2(p1.y-p0.y, p1.x-p0.x) * 180 / math.Pi
		if from == Right {
			angle = math.Atan2(p0.y-p1.y, p0.x-p1.x) * 180 / math.Pi
		}
		if m.Lost {
			// The arrow stops two thirds of the way, where an X marks the loss.
			e := pt{p0.x + (p1.x-p0.x)*0.66, p0.y + (p1.y-p0.y)*0.66}
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, fmtf(p0.x), fmtf(p0.y), fmtf(e.x), fmtf(e.y))
			fmt.Fprintf(&b, `<path class="x" d="M%s,%s l12,12 M%s,%s l-12,12"/>`, fmtf(e.x-6), fmtf(e.y-6), fmtf(e.x+6), fmtf(e.y-6))
		} else {
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" marker-end="url(#%s)"/>`, fmtf(p0.x), fmtf(p0.y), fmtf(p1.x), fmtf(p1.y), markerID("#1f4e9c"))
		}
		// The label starts near the sender, so that segments crossing in
		// flight keep their labels apart.
		at, anchor := pt{p0.x + (p1.x-p0.x)*0.06, p0.y + (p1.y-p0.y)*0.06}, "start"
		if from == Right {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text transform="translate(%s,%s) rotate(%s)" y="-5" text-anchor="%s">%s</text></g>`+"\n",
			fmtf(at.x), fmtf(at.y), fmtf(angle), anchor, esc(MessageText(m)))
	}

	// States, beside their timelines: outside the ladder, to the left of
	// the left one and to the right of the right one.
	for s := Left; s <= Right; s++ {
		seen := map[time.Duration]int{}
		for _, st := range steps[s] {
			y := tl.ys[st.Time] + float64(seen[st.Time])*stackGap
			seen[st.Time]++
			tx, anchor, tick := x[s]-12, "end", x[s]-6
			if s == Right {
				tx, anchor, tick = x[s]+12, "start", x[s]+6
			}
			side := "left"
			if s == Right {
				side = "right"
			}
			fmt.Fprintf(&b, `<g class="state-change" data-side="%s" data-from="%s" data-to="%s"><title>%s → %s at %s s: %s</title>`,
				side, st.From, st.To, st.From, st.To, formatTime(st.Time), esc(st.Cause))
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(x[s]), fmtf(y), num(tick), fmtf(y))
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="%s">%s</text></g>`+"\n", num(tx), fmtf(y+4), anchor, st.To)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// ladderEvent is one line of LadderText.
type ladderEvent struct {
	t    time.Duration
	kind int // 0 state, 1 message: states first at one instant
	i    int
	side Side
	step Step
}

// LadderText draws a packet ladder as text, one line per segment sent and
// per state entered, in time order:
//
//	 time  client       |                                     |  server
//	                    |                                     |  LISTEN
//	0.000  SYN_SENT     |                                     |
//	0.000               |-- S 1000:1000(0) win 64240 -------->|         (arrives 0.010)
//	0.010               |                                     |  SYN_RCVD
//
// A lost segment's arrow ends in an X short of the other timeline.
func LadderText(l Ladder) string {
	var evs []ladderEvent
	for i, m := range l.Messages {
		evs = append(evs, ladderEvent{t: m.Time, kind: 1, i: i, side: m.From})
	}
	for _, s := range l.LeftSteps {
		evs = append(evs, ladderEvent{t: s.Time, side: Left, step: s})
	}
	for _, s := range l.RightSteps {
		evs = append(evs, ladderEvent{t: s.Time, side: Right, step: s})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].kind < evs[j].kind
	})

	stateW := max(len(l.Left), len(l.Right), len("ESTABLISHED"))
	arrowW := 30
	for _, m := range l.Messages {
		arrowW = max(arrowW, len(MessageText(m))+10)
	}
	timeW := len("time")
	for _, e := range evs {
		timeW = max(timeW, len(formatTime(e.t)))
	}
	var b strings.Builder
	line := func(t, left, mid, right, tail string) {
		s := fmt.Sprintf("%*s  %-*s  |%s|  %s", timeW, t, stateW, left, mid, right)
		if tail != "" {
			s = fmt.Sprintf("%-*s  %s", timeW+2*stateW+arrowW+8, s, tail)
		}
		b.WriteString(strings.TrimRight(s, " ") + "\n")
	}
	blank := strings.Repeat(" ", arrowW)
	if l.Title != "" {
		b.WriteString(l.Title + "\n\n")
	}
	line("time", l.Left, blank, l.Right, "")
	li, lok := initialState(l.LeftSteps)
	ri, rok := initialState(l.RightSteps)
	if lok || rok {
		line("", map[bool]string{true: li.String()}[lok], blank, map[bool]string{true: ri.String()}[rok], "")
	}
	for _, e := range evs {
		if e.kind == 0 {
			if e.side == Left {
				line(formatTime(e.t), e.step.To.String(), blank, "", "")
			} else {
				line(formatTime(e.t), "", blank, e.step.To.String(), "")
			}
			continue
		}
		m := l.Messages[e.i]
		label := " " + MessageText(m) + " "
		fill := arrowW - len(label) - 3
		var mid, tail string
		switch {
		case m.Lost && m.From == Left:
			mid = "--" + label + strings.Repeat("-", fill-3) + "X" + "   "
			tail = "(lost)"
		case m.Lost:
			mid = "   " + "X" + strings.Repeat("-", fill-3) + label + "--"
			tail = "(lost)"
		case m.From == Left:
			mid = "--" + label + strings.Repeat("-", fill) + ">"
			tail = "(arrives " + formatTime(m.Arrive) + ")"
		default:
			mid = "<" + strings.Repeat("-", fill) + label + "--"
			tail = "(arrives " + formatTime(m.Arrive) + ")"
		}
		line(formatTime(e.t), "", mid, "", tail)
	}
	return b.String()
}

package viz

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/internal/svgtest"
	"github.com/synfin/synfin/tcp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func parseSVG(t *testing.T, svg string) *svgtest.Node { return svgtest.Parse(t, svg) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./viz -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./viz -update rewrites it)", path)
	}
}

func steps(states ...tcp.State) []Step {
	var s []Step
	for i := 1; i < len(states); i++ {
		s = append(s, Step{Time: time.Duration(i) * time.Millisecond, From: states[i-1], To: states[i], Cause: "because <&>"})
	}
	return s
}

var (
	simClient = steps(tcp.Closed, tcp.SynSent, tcp.Established, tcp.FinWait1, tcp.Closing, tcp.TimeWait, tcp.Closed)
	simServer = steps(tcp.Closed, tcp.Listen, tcp.SynReceived, tcp.Established, tcp.FinWait1, tcp.Closing, tcp.TimeWait, tcp.Closed)
	// An abort: ESTABLISHED to CLOSED on an RST, a transition the figure
	// does not draw.
	aborted = steps(tcp.Closed, tcp.SynSent, tcp.Established, tcp.Closed)
)

// highlighted returns the numbered steps of each path in an SVG diagram,
// as "1 CLOSED>SYN_SENT" strings.
func highlighted(t *testing.T, root *svgtest.Node) map[string][]string {
	out := map[string][]string{}
	root.Walk(func(n *svgtest.Node) {
		if !n.HasClass("hl") {
			return
		}
		out[n.Attr("data-path")] = append(out[n.Attr("data-path")],
			fmt.Sprintf("%s %s>%s", n.Attr("data-step"), n.Attr("data-from"), n.Attr("data-to")))
	})
	return out
}

func want(s []Step) []string {
	var out []string
	for i, st := range s {
		out = append(out, fmt.Sprintf("%d %s>%s", i+1, st.From, st.To))
	}
	return out
}

func TestDiagramSVG(t *testing.T) {
	svg := StateDiagram(Path{Name: "client", Steps: simClient}, Path{Name: "server", Steps: simServer, Color: "teal"},
		Path{Name: "aborted", Steps: aborted}).SVG()
	root := parseSVG(t, svg)
	states := map[string]bool{}
	root.Walk(func(n *svgtest.Node) {
		if n.HasClass("viz-state") {
			states[n.Attr("data-state")] = true
		}
	})
	for _, st := range tcp.States {
		if !states[st.String()] {
			t.Errorf("no box for %v", st)
		}
	}
	if len(states) != 11 {
		t.Errorf("%d distinct states, want 11", len(states))
	}
	hl := highlighted(t, root)
	for name, s := range map[string][]Step{"client": simClient, "server": simServer, "aborted": aborted} {
		if g, w := strings.Join(hl[name], ", "), strings.Join(want(s), ", "); g != w {
			t.Errorf("%s: highlighted %s\nwant %s", name, g, w)
		}
	}
	if !strings.Contains(svg, `class="hl extra" data-path="aborted" data-step="3"`) {
		t.Error("the undrawn ESTABLISHED -> CLOSED transition is not marked extra")
	}
	if !strings.Contains(svg, `stroke="teal"`) {
		t.Error("the given colour is not used")
	}
}

func TestDiagramHasEveryTransition(t *testing.T) {
	root := parseSVG(t, StateDiagram().SVG())
	var got []string
	root.Walk(func(n *svgtest.Node) {
		if n.HasClass("viz-edge") {
			var texts []string
			for _, c := range n.Nodes {
				if c.XMLName.Local == "text" {
					texts = append(texts, c.Text)
				}
			}
			got = append(got, n.Attr("data-from")+">"+n.Attr("data-to")+": "+strings.Join(texts, " / "))
		}
	})
	// Figure 5 has twenty transitions; note 2's is the twenty-first.
	if len(got) != 21 {
		t.Errorf("%d transitions: %q", len(got), got)
	}
	for _, w := range []string{
		"CLOSED>LISTEN: passive OPEN / create TCB",
		"CLOSED>SYN_SENT: active OPEN / create TCB, snd SYN",
		"SYN_SENT>SYN_RCVD: rcv SYN / snd SYN,ACK",
		"SYN_RCVD>ESTABLISHED: rcv ACK of SYN / x",
		"ESTABLISHED>CLOSE_WAIT: rcv FIN / snd ACK",
		"FIN_WAIT_1>CLOSING: rcv FIN / snd ACK",
		"TIME_WAIT>CLOSED: Timeout=2MSL / delete TCB",
		"SYN_RCVD>LISTEN: rcv RST (note 1)",
	} {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no transition %q", w)
		}
	}
	if n := len(highlighted(t, root)); n != 0 {
		t.Errorf("plain diagram highlights %d paths", n)
	}
	if len(Transitions()) != 21 {
		t.Error("Transitions")
	}
}

var dotEdge = regexp.MustCompile(`(?m)^\s*(\w+) -> (\w+) \[(.*)\];$`)
var dotNode = regexp.MustCompile(`(?m)^\s*(\w+) \[label="([A-Z_0-9]+)"`)

func TestDiagramDOT(t *testing.T) {
	dot := StateDiagram(Path{Name: "client", Steps: simClient}, Path{Name: "server", Steps: simServer}).DOT()
	if !strings.HasPrefix(strings.SplitN(dot, "digraph", 2)[1], " tcp_states {") || !strings.HasSuffix(dot, "}\n") {
		t.Fatalf("not a digraph:\n%s", dot)
	}
	if strings.Count(dot, "{") != strings.Count(dot, "}") {
		t.Error("unbalanced braces")
	}
	labels := map[string]bool{}
	for _, m := range dotNode.FindAllStringSubmatch(dot, -1) {
		labels[m[2]] = true
	}
	for _, st := range tcp.States {
		if !labels[st.String()] {
			t.Errorf("no node for %v", st)
		}
	}
	hl := map[string][]string{}
	for _, m := range dotEdge.FindAllStringSubmatch(dot, -1) {
		if strings.Contains(m[3], `class="hl"`) {
			id := regexp.MustCompile(`id="(\w+)-(\d+)"`).FindStringSubmatch(m[3])
			hl[id[1]] = append(hl[id[1]], fmt.Sprintf("%s %s>%s", id[2], m[1], strings.TrimSuffix(m[2], "_2")))
		}
	}
	for name, s := range map[string][]Step{"client": simClient, "server": simServer} {
		if g, w := strings.Join(hl[name], ", "), strings.Join(want(s), ", "); g != w {
			t.Errorf("%s: highlighted %s\nwant %s", name, g, w)
		}
	}
}

func TestDiagramGolden(t *testing.T) {
	golden(t, "plain.svg.golden", []byte(StateDiagram().SVG()))
	golden(t, "plain.dot.golden", []byte(StateDiagram().DOT()))
}

func testLadder() Ladder {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return Ladder{
		Title: "handshake & a lost ACK", Left: "client", Right: "server",
		LeftSteps:  []Step{{0, tcp.Closed, tcp.SynSent, "connect"}, {ms(20), tcp.SynSent, tcp.Established, "SYN-ACK"}},
		RightSteps: []Step{{0, tcp.Closed, tcp.Listen, "listen"}, {ms(10), tcp.Listen, tcp.SynReceived, "SYN"}, {ms(1010), tcp.SynReceived, tcp.Established, "ACK"}},
		Messages: []Message{
			{Time: 0, Arrive: ms(10), From: Left, Flags: "S", Seq: 0, Win: 65535},
			{Time: ms(10), Arrive: ms(20), From: Right, Flags: "S.", Seq: 0, Ack: 1, Win: 65535},
			{Time: ms(20), Arrive: ms(30), From: Left, Flags: ".", Seq: 1, Ack: 1, Win: 502, Lost: true},
			{Time: ms(1010), Arrive: ms(1020), From: Right, Flags: "S.", Seq: 0, Ack: 1, Win: 65535},
			{Time: ms(1020), Arrive: ms(1030), From: Left, Label: "ACK again"},
		},
	}
}

func TestMessageText(t *testing.T) {
	l := testLadder()
	if g := MessageText(l.Messages[1]); g != "S. 0:0(0) ack 1 win 65535" {
		t.Errorf("%q", g)
	}
	if g := MessageText(l.Messages[0]); g != "S 0:0(0) win 65535" {
		t.Errorf("%q", g)
	}
	if g := MessageText(Message{Flags: "P.", Seq: 1, Ack: 1, Len: 15, Win: 502}); g != "P. 1:16(15) ack 1 win 502" {
		t.Errorf("%q", g)
	}
	// The sender's cwnd follows when it is known, even when it is 0 segments.
	if g := MessageText(Message{Flags: "P.", Seq: 1, Ack: 1, Len: 15, Win: 502, Cwnd: 10, CwndKnown: true}); g != "P. 1:16(15) ack 1 win 502 cwnd 10" {
		t.Errorf("%q", g)
	}
	if g := MessageText(Message{Flags: ".", Seq: 1, Ack: 1, Win: 502, Cwnd: 0, CwndKnown: true}); g != ". 1:1(0) ack 1 win 502 cwnd 0" {
		t.Errorf("%q", g)
	}
	if g := MessageText(Message{Flags: ".", Seq: 1, Ack: 1, Win: 502, Cwnd: 7}); g != ". 1:1(0) ack 1 win 502" {
		t.Errorf("an unknown cwnd is shown: %q", g)
	}
}

func TestLadderRuleTooltip(t *testing.T) {
	l := testLadder()
	l.Messages[1].Rule = "RFC 9293 3.10.7.3 <fifth> & check"
	root := parseSVG(t, LadderSVG(l))
	var titles []string
	root.Walk(func(n *svgtest.Node) {
		if n.HasClass("msg") {
			for _, c := range n.Nodes {
				if c.XMLName.Local == "title" {
					titles = append(titles, c.Text)
				}
			}
		}
	})
	if len(titles) != len(l.Messages) || !strings.HasSuffix(titles[1], ": RFC 9293 3.10.7.3 <fifth> & check") || strings.Contains(titles[0], "RFC") {
		t.Errorf("message titles %q", titles)
	}
}

func TestLadderSVG(t *testing.T) {
	l := testLadder()
	svg := LadderSVG(l)
	root := parseSVG(t, svg)
	var msgs, lost, xs, changes int
	var texts []string
	root.Walk(func(n *svgtest.Node) {
		if n.HasClass("msg") {
			msgs++
			if n.HasClass("lost") {
				lost++
				for _, c := range n.Nodes {
					if c.HasClass("x") {
						xs++
					}
				}
			}
		}
		if n.HasClass("state-change") {
			changes++
		}
		if n.XMLName.Local == "text" {
			texts = append(texts, n.Text)
		}
	})
	if msgs != 5 || lost != 1 || xs != 1 || changes != 5 {
		t.Errorf("%d messages, %d lost, %d X, %d state changes", msgs, lost, xs, changes)
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{"S. 0:0(0) ack 1 win 65535", "ACK again", "SYN_RCVD", "ESTABLISHED", "client", "server", "handshake & a lost ACK", "0.980 s later"} {
		if !strings.Contains(all, w) {
			t.Errorf("no text %q", w)
		}
	}
	if _, _, ok := svgSize(svg); !ok {
		t.Error("no size")
	}
	parseSVG(t, Row("two", svg, StateDiagram().SVG()))
	parseSVG(t, Column("", svg, svg))
}

func TestLadderText(t *testing.T) {
	text := LadderText(testLadder())
	golden(t, "ladder.txt.golden", []byte(text))
	for _, w := range []string{"|-- S 0:0(0) win 65535 ---", "<-", " S. 0:0(0) ack 1 win 65535 --|", "X   |", "(lost)", "(arrives 0.010)", "SYN_RCVD", "LISTEN"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %q in\n%s", w, text)
		}
	}
}

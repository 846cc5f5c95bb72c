package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/internal/svgtest"
	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/tour"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkSVG parses an SVG document, checks that it is self-contained and
// has all eleven states, and returns each path's numbered steps.
func checkSVG(t *testing.T, svg string) map[string][]string {
	t.Helper()
	root := svgtest.Parse(t, svg)
	states := map[string]bool{}
	hl := map[string][]string{}
	root.Walk(func(n *svgtest.Node) {
		if n.HasClass("viz-state") {
			states[n.Attr("data-state")] = true
		}
		if n.HasClass("hl") {
			hl[n.Attr("data-path")] = append(hl[n.Attr("data-path")], fmt.Sprintf("%s %s>%s", n.Attr("data-step"), n.Attr("data-from"), n.Attr("data-to")))
		}
	})
	for _, st := range tcp.States {
		if !states[st.String()] {
			t.Errorf("no state box for %v", st)
		}
	}
	return hl
}

// transitions returns one end's state changes in a trace, numbered.
func transitions(tr *tour.Trace, s tour.Side) []string {
	var out []string
	for _, st := range tr.Steps {
		for _, c := range st.Changes {
			if c.Side == s {
				out = append(out, fmt.Sprintf("%d %s>%s", len(out)+1, c.Old, c.New))
			}
		}
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/synfin -update creates it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("output differs from %s (go test ./cmd/synfin -update rewrites it)", path)
	}
}

func simultaneousClose(t *testing.T) *tour.Trace {
	sc, _ := tour.Lookup("simultaneous-close")
	tr, err := tour.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func checkPaths(t *testing.T, hl map[string][]string, tr *tour.Trace) {
	t.Helper()
	for _, s := range []tour.Side{tour.Client, tour.Server} {
		want := transitions(tr, s)
		if len(want) < 6 {
			t.Fatalf("%s: only %d transitions", tr.Names[s], len(want))
		}
		if g, w := strings.Join(hl[tr.Names[s]], ", "), strings.Join(want, ", "); g != w {
			t.Errorf("%s highlighted: %s\nwant %s", tr.Names[s], g, w)
		}
	}
}

func TestDiagramPlain(t *testing.T) {
	code, out, errOut := runCLI("diagram")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if hl := checkSVG(t, out); len(hl) != 0 {
		t.Errorf("plain diagram highlights %v", hl)
	}
	golden(t, "diagram.svg.golden", out)
}

func TestDiagramScenario(t *testing.T) {
	code, out, errOut := runCLI("diagram", "--scenario", "simultaneous-close")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	checkPaths(t, checkSVG(t, out), simultaneousClose(t))
	golden(t, "diagram-simultaneous-close.svg.golden", out)
}

func TestDiagramFiles(t *testing.T) {
	dir := t.TempDir()
	tr := simultaneousClose(t)

	// DOT, from the -o extension.
	dot := filepath.Join(dir, "d.dot")
	if code, out, errOut := runCLI("diagram", "--scenario", "simultaneous-close", "-o", dot); code != 0 || out != "" || errOut != "" {
		t.Fatalf("-o d.dot: exit %d %q %q", code, out, errOut)
	}
	b, err := os.ReadFile(dot)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.Contains(text, "digraph tcp_states {") {
		t.Fatalf("not DOT:\n%s", text)
	}
	for _, st := range tcp.States {
		if !regexp.MustCompile(`(?m)^\s*\w+ \[label="` + st.String() + `"`).MatchString(text) {
			t.Errorf("no node for %v", st)
		}
	}
	hl := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+) -> (\w+) \[class="hl", id="(\w+)-(\d+)"`).FindAllStringSubmatch(text, -1) {
		hl[m[3]] = append(hl[m[3]], fmt.Sprintf("%s %s>%s", m[4], m[1], strings.TrimSuffix(m[2], "_2")))
	}
	checkPaths(t, hl, tr)

	// A viz.Ladder in JSON, written as other tools would.
	js := filepath.Join(dir, "ladder.json")
	data, err := json.Marshal(tr.Ladder())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, data, 0o644); err != nil {
		t.Fatal(err)
	}
	svgFile := filepath.Join(dir, "d.svg")
	if code, _, errOut := runCLI("diagram", "--trace", js, "-o", svgFile); code != 0 {
		t.Fatalf("--trace: exit %d %s", code, errOut)
	}
	b, _ = os.ReadFile(svgFile)
	checkPaths(t, checkSVG(t, string(b)), tr)
}

func TestDiagramBadCommandLines(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diagram", "--scenario", "nope"}, 2, `unknown scenario "nope"`},
		{[]string{"diagram", "--scenario", "half-close", "--trace", "x.json"}, 2, "cannot be used together"},
		{[]string{"diagram", "-o", "out.png"}, 2, `cannot tell the format of "out.png"`},
		{[]string{"diagram", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"diagram", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"diagram", "--trace", filepath.Join(t.TempDir(), "missing.json")}, 1, "no such file"},
		{[]string{"diagram", "--trace", bad}, 1, "neither a capture nor a JSON viz.Ladder"},
		{[]string{"tour", "--format", "pdf"}, 2, `unknown format "pdf"`},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.args, code, tc.code, out, errOut, tc.want)
		}
	}
	code, out, _ := runCLI("help", "diagram")
	if code != 0 || !strings.Contains(out, "--scenario NAME") || !strings.Contains(out, "-o FILE") {
		t.Errorf("help diagram: exit %d\n%s", code, out)
	}
}

func TestTourFormats(t *testing.T) {
	tr := simultaneousClose(t)

	code, text, errOut := runCLI("tour", "--scenario", "simultaneous-close", "--format", "text")
	if code != 0 || errOut != "" {
		t.Fatalf("text: exit %d %s", code, errOut)
	}
	for _, w := range []string{"FIN_WAIT_1 -> CLOSING  [FIN arrived: ACK sent (RFC 9293 3.10.7.4, eighth check)]",
		"--- the states simultaneous-close visits ---", "CLOSING (ss: CLOSING)", "TIME_WAIT (ss: TIME-WAIT)", "EADDRNOTAVAIL",
		"  win  cwnd  options", "  502    10  TS 100/10"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q", w)
		}
	}
	if strings.Contains(text, "CLOSE_WAIT (ss:") {
		t.Error("text explains a state the scenario does not visit")
	}
	golden(t, "tour-simultaneous-close.txt.golden", text)

	code, svg, errOut := runCLI("tour", "--scenario", "simultaneous-close", "--format", "svg")
	if code != 0 || errOut != "" {
		t.Fatalf("svg: exit %d %s", code, errOut)
	}
	checkPaths(t, checkSVG(t, svg), tr)
	if n := strings.Count(svg, `class="msg"`); n != 7 {
		t.Errorf("ladder has %d segments, want 7", n)
	}
	// Segments are labelled with seq, ack, window and their sender's cwnd,
	// and their tooltips name the rule their receiver applied.
	for _, w := range []string{">F. 1001:1001(0) ack 5001 win 502 cwnd 10</text>",
		"arrives at 0.110 s: FIN arrived: ACK sent (RFC 9293 3.10.7.4, eighth check)</title>"} {
		if !strings.Contains(svg, w) {
			t.Errorf("svg lacks %q", w)
		}
	}
	golden(t, "tour-simultaneous-close.svg.golden", svg)

	code, page, errOut := runCLI("tour", "--state", "CLOSE_WAIT", "--format", "html")
	if code != 0 || errOut != "" {
		t.Fatalf("html: exit %d %s", code, errOut)
	}
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || strings.Contains(page, "<script") || strings.Contains(page, "<link") {
		t.Error("not a self-contained page")
	}
	for _, w := range []string{`<section id="handshake-data-close">`, "<svg ", "CLOSE-WAIT", "application bug", "<pre>",
		"= server: RFC 9293 3.10.7.4 seventh check: 15 bytes in order", " cwnd 10</text>", "seq, ack, window and cwnd"} {
		if !strings.Contains(page, w) {
			t.Errorf("html lacks %q", w)
		}
	}
	if strings.Contains(page, `id="simultaneous-close"`) {
		t.Error("--state CLOSE_WAIT selected simultaneous-close")
	}
	// Every inline SVG is well-formed on its own.
	for _, m := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1) {
		var root svgtest.Node
		if err := xml.Unmarshal([]byte(m), &root); err != nil {
			t.Errorf("inline SVG: %v", err)
		}
	}
}

// TestDiagramFromCapture: --trace also takes a pcapng; the paths are those
// the trace package reconstructs from the packets of its first connection.
func TestDiagramFromCapture(t *testing.T) {
	n := sim.New(7)
	a, _ := n.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	b, _ := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	if _, err := n.Connect(a, b, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	var capture bytes.Buffer
	if err := a.CaptureTo(&capture); err != nil {
		t.Fatal(err)
	}
	b.Sink(netip.MustParseAddrPort("10.0.0.2:80"), sim.SinkConfig{})
	a.BulkSend(netip.MustParseAddrPort("10.0.0.2:80"), sim.BulkConfig{Size: 1000})
	n.RunFor(2 * time.Minute)
	file := filepath.Join(t.TempDir(), "c.pcapng")
	if err := os.WriteFile(file, capture.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("diagram", "--trace", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `class="hl`) || !strings.Contains(out, "TIME_WAIT") {
		t.Errorf("no highlighted path in the diagram of a capture")
	}
}

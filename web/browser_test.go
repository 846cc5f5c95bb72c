package web

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the page's screenshot to ../docs/web.png for the README")

const chromiumPath = "/usr/bin/chromium"

// browser starts Debian's headless chromium on a fresh profile, talking
// to nothing but 127.0.0.1. Under CI=true a missing chromium fails the
// test (scripts/deps.sh installs it); elsewhere it skips.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (scripts/deps.sh installs the chromium package): %v", chromiumPath, err)
		}
		t.Skipf("no %s: install Debian's chromium package to run the browser tests", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("metrics-recording-only", true),
		// No name resolves: the page is at 127.0.0.1, and nothing else is reached.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1700, 1150),
	}
	// The deadline bounds the whole browser, which lives as long as ctx.
	tctx, cancelT := context.WithTimeout(context.Background(), 2*time.Minute)
	actx, cancelA := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelC(); cancelA(); cancelT() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// pageState is what the page shows at a step, read from its DOM.
type pageState struct {
	Step    int       `json:"step"`
	Steps   int       `json:"steps"`
	Diagram [2]string `json:"diagram"` // the diagram box lit for each end
	Panel   [2]string `json:"panel"`   // the state written in each end's card
	Now     int       `json:"now"`     // ladder segments highlighted
	Counter string    `json:"counter"`
	// Cwnd are the cwnd cells of the segments table; EndCwnd the cwnd in
	// each end's card (data-cwnd), Vars its text.
	Cwnd     []string  `json:"cwnd"`
	EndCwnd  [2]string `json:"end_cwnd"`
	Vars     [2]string `json:"vars"`
	CwndNote string    `json:"cwnd_note"`
}

const readState = `(() => {
  const lit = s => { const g = document.querySelector('#diagram .viz-state.cur-' + s); return g ? g.dataset.state : ''; };
  return {
    step: +document.body.dataset.step, steps: +document.body.dataset.steps,
    diagram: [lit(0), lit(1)],
    panel: [document.querySelector('#end-0 .state').textContent, document.querySelector('#end-1 .state').textContent],
    now: document.querySelectorAll('#ladder .msg.now').length,
    counter: document.querySelector('#counter').textContent,
    cwnd: Array.from(document.querySelectorAll('#segments td.cwnd')).map(td => td.textContent),
    end_cwnd: [0, 1].map(s => document.querySelector('#end-' + s + ' .vars').dataset.cwnd || ''),
    vars: [0, 1].map(s => document.querySelector('#end-' + s + ' .vars').textContent),
    cwnd_note: document.querySelector('#cwnd-note').textContent,
  };
})()`

func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if dir := os.Getenv("SYNFIN_WEB_SHOTS"); dir != "" { // to look at them after the test
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// Shorthands for the page's elements and attributes.
var (
	css     = func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	click   = func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(css(sel)) }
	waitFor = func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitReady(css(sel)) }
)

func read(t *testing.T, ctx context.Context) pageState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readState))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestBrowserSimultaneousClose(t *testing.T) {
	ctx := browser(t)
	ts := httptest.NewServer(New(Options{}))
	defer ts.Close()
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s", ts.URL)
	}

	// Open another scenario, then choose simultaneous-close in the list.
	do(t, ctx, "choosing the scenario",
		chromedp.Navigate(ts.URL+"/?scenario=handshake-data-close"),
		waitFor(`body[data-ready="1"][data-view="scenario=handshake-data-close"]`),
		chromedp.SetValue(css("#scenario"), "simultaneous-close"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('#scenario').dispatchEvent(new Event('change'))`)(ctx, tg)
			return err
		}),
		waitFor(`body[data-view="scenario=simultaneous-close"][data-step="0"]`),
	)
	st := read(t, ctx)
	if st.Steps < 5 || st.Diagram != [2]string{"CLOSED", "CLOSED"} {
		t.Fatalf("start: %+v", st)
	}

	// Play a little, then pause and go back to the start.
	do(t, ctx, "playing",
		click("#play"),
		waitFor(`body[data-step="2"]`),
		click("#play"),
		click("#first"),
		waitFor(`body[data-step="0"]`),
	)

	// Step to the end, recording the states lit at every step.
	paths := [2][]string{{"CLOSED"}, {"CLOSED"}}
	closing := 0
	for i := 1; i <= st.Steps; i++ {
		do(t, ctx, fmt.Sprintf("step %d", i), click("#next"), waitFor(fmt.Sprintf(`body[data-step="%d"]`, i)))
		cur := read(t, ctx)
		if cur.Diagram != cur.Panel {
			t.Errorf("step %d: diagram lights %v, panel says %v", i, cur.Diagram, cur.Panel)
		}
		for s := 0; s < 2; s++ {
			if p := paths[s]; p[len(p)-1] != cur.Diagram[s] {
				paths[s] = append(p, cur.Diagram[s])
			}
		}
		if cur.Diagram == [2]string{"CLOSING", "CLOSING"} && closing == 0 {
			closing = i
		}
	}
	t.Logf("paths lit: %v", paths)
	for s := 0; s < 2; s++ {
		for _, want := range []string{"FIN_WAIT_1", "CLOSING", "TIME_WAIT"} {
			if !slices.Contains(paths[s], want) {
				t.Errorf("end %d never lit %s: %v", s, want, paths[s])
			}
		}
	}
	if closing == 0 {
		t.Fatal("both ends never in CLOSING at once")
	}

	// A step's link opens that step; show the moment both ends are CLOSING.
	do(t, ctx, "opening a step's link",
		chromedp.Navigate(ts.URL+"/"),
		waitFor(`body[data-ready="1"]`),
		chromedp.Navigate(fmt.Sprintf("%s/#scenario=simultaneous-close&step=%d", ts.URL, closing)),
		waitFor(fmt.Sprintf(`body[data-ready="1"][data-step="%d"]`, closing)),
	)
	cur := read(t, ctx)
	if cur.Diagram != [2]string{"CLOSING", "CLOSING"} || !strings.HasPrefix(cur.Counter, fmt.Sprintf("step %d /", closing)) || cur.Now == 0 {
		t.Errorf("link to step %d: %+v", closing, cur)
	}
	// Beside the ladder: each segment's seq, ack, window and its sender's
	// cwnd, a number from the engine; each end's cwnd in its card.
	numeric := regexp.MustCompile(`^[1-9][0-9]*$`)
	if len(cur.Cwnd) == 0 {
		t.Errorf("step %d shows no segment", closing)
	}
	for _, c := range cur.Cwnd {
		if !numeric.MatchString(c) {
			t.Errorf("step %d: cwnd cell %q is not a number", closing, c)
		}
	}
	for s := 0; s < 2; s++ {
		if !numeric.MatchString(cur.EndCwnd[s]) || !strings.HasPrefix(cur.Vars[s], "cwnd "+cur.EndCwnd[s]+",") {
			t.Errorf("step %d: end %d shows cwnd %q: %q", closing, s, cur.EndCwnd[s], cur.Vars[s])
		}
	}
	if !strings.Contains(cur.CwndNote, "congestion window in segments") {
		t.Errorf("cwnd note %q", cur.CwndNote)
	}
	path := screenshot(t, ctx, "simultaneous-close.png")
	if *updateScreenshot {
		data, _ := os.ReadFile(path)
		if err := os.WriteFile("../docs/web.png", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrowserCaptureUpload(t *testing.T) {
	ctx := browser(t)
	ts := httptest.NewServer(New(Options{}))
	defer ts.Close()
	file := filepath.Join(t.TempDir(), "transfer.pcapng")
	if err := os.WriteFile(file, simCapture(t, 30000), 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "uploading",
		chromedp.Navigate(ts.URL+"/"),
		waitFor(`body[data-ready="1"]`),
		chromedp.SetUploadFiles(css("#file"), []string{file}),
		waitFor(`body[data-view^="capture="][data-step="0"]`),
		click("#last"),
		waitFor(`body:not([data-step="0"])`),
	)
	st := read(t, ctx)
	title, err := chromedp.Run(ctx, chromedp.Text(css("#title")))
	if err != nil {
		t.Fatal(err)
	}
	notes, err := chromedp.Run(ctx, chromedp.Text(css("#notes")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "10.0.0.1") || !strings.Contains(title, "10.0.0.2:80") {
		t.Errorf("title %q", title)
	}
	if st.Step != st.Steps || st.Diagram != [2]string{"TIME_WAIT", "CLOSED"} || st.Panel != st.Diagram {
		t.Errorf("final: %+v", st)
	}
	if !strings.Contains(notes, "TIME_WAIT") {
		t.Errorf("notes %q", notes)
	}
	// A capture cannot show cwnd: the page says so rather than invent one.
	if len(st.Cwnd) == 0 {
		t.Error("the last step shows no segment")
	}
	for _, c := range st.Cwnd {
		if c != "?" {
			t.Errorf("a capture's cwnd cell shows %q", c)
		}
	}
	if st.EndCwnd != [2]string{"", ""} || !strings.HasPrefix(st.Vars[0], "cwnd unknown") || !strings.Contains(st.CwndNote, "cannot show it") {
		t.Errorf("capture's cwnd: %q %q %q", st.EndCwnd, st.Vars, st.CwndNote)
	}
	screenshot(t, ctx, "capture.png")
}

package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
)

func newTestServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(New(opts))
	t.Cleanup(ts.Close)
	return ts
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	decode(t, resp, want, v)
}

func decode(t *testing.T, resp *http.Response, want int, v any) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

func upload(t *testing.T, url, name string, data []byte) *http.Response {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// visits returns the states one end of a view goes through.
func visits(v *View, side int) []string {
	out := []string{v.Initial[side]}
	for _, st := range v.Steps {
		if st.States[side] != out[len(out)-1] {
			out = append(out, st.States[side])
		}
	}
	return out
}

func TestScenarioList(t *testing.T) {
	ts := newTestServer(t, Options{})
	var list []ScenarioInfo
	getJSON(t, ts.URL+"/api/scenarios", 200, &list)
	var names []string
	for _, s := range list {
		if s.Title == "" {
			t.Errorf("scenario %s has no title", s.Name)
		}
		names = append(names, s.Name)
	}
	if !slices.Contains(names, "simultaneous-close") || !slices.Contains(names, "handshake-data-close") {
		t.Fatalf("scenarios: %v", names)
	}
}

func TestScenarioJSON(t *testing.T) {
	ts := newTestServer(t, Options{})
	var v View
	getJSON(t, ts.URL+"/api/scenarios/simultaneous-close", 200, &v)
	if v.ID != "scenario=simultaneous-close" || len(v.Steps) < 5 {
		t.Fatalf("view %q with %d steps", v.ID, len(v.Steps))
	}
	if !strings.HasPrefix(v.LadderSVG, "<svg") || !strings.Contains(v.DiagramSVG, `id="viz-state-CLOSING"`) {
		t.Fatal("figures missing")
	}
	for side := 0; side < 2; side++ {
		path := visits(&v, side)
		for _, want := range []string{"FIN_WAIT_1", "CLOSING", "TIME_WAIT"} {
			if !slices.Contains(path, want) {
				t.Errorf("side %d path %v lacks %s", side, path, want)
			}
		}
	}
	// Steps are in time order, numbered from 1; segments carry their fields.
	segs := 0
	for i, st := range v.Steps {
		if st.N != i+1 || (i > 0 && st.TimeNS <= v.Steps[i-1].TimeNS) {
			t.Fatalf("step %d: n %d time %d", i, st.N, st.TimeNS)
		}
		for _, g := range st.Segments {
			segs++
			if g.Flags == "" || g.Text == "" {
				t.Errorf("step %d: segment %+v", st.N, g)
			}
		}
		for _, c := range st.Changes {
			if c.PathStep == 0 || c.Cause == "" {
				t.Errorf("step %d: change %+v", st.N, c)
			}
		}
	}
	if segs == 0 {
		t.Fatal("no segments")
	}
	checkEngineCwnd(t, &v)
	// Changes to CLOSED after a close end in the diagram's bottom box.
	last := v.Steps[len(v.Steps)-1]
	if last.States != [2]string{"CLOSED", "CLOSED"} || last.Nodes != [2]string{"CLOSED_2", "CLOSED_2"} {
		t.Errorf("last step %v %v", last.States, last.Nodes)
	}

	var e apiError
	getJSON(t, ts.URL+"/api/scenarios/no-such", 404, &e)
	if !strings.Contains(e.Error, "unknown scenario") {
		t.Errorf("error %q", e.Error)
	}
}

// checkEngineCwnd: a scenario's view carries each segment's cwnd and both
// ends' variables from the engine, and the rule each arriving segment met.
func checkEngineCwnd(t *testing.T, v *View) {
	t.Helper()
	if v.CwndSource != "engine" || !strings.Contains(v.CwndNote, "engine") {
		t.Errorf("cwnd source %q: %q", v.CwndSource, v.CwndNote)
	}
	rules := 0
	for _, st := range v.Steps {
		for _, g := range st.Segments {
			if g.Cwnd == nil || *g.Cwnd == 0 || !strings.Contains(g.Text, fmt.Sprintf(" cwnd %d", *g.Cwnd)) {
				t.Errorf("step %d: segment %q without a cwnd", st.N, g.Text)
			}
			if g.Event == "arrived" {
				if g.Rule == "" {
					t.Errorf("step %d: segment %q arrived without a rule", st.N, g.Text)
				}
				rules++
			}
		}
		for s, e := range st.Ends {
			synchronized := st.States[s] != "CLOSED" && st.States[s] != "LISTEN"
			if (e.Cwnd != nil) != synchronized || !strings.Contains(e.Text, "cwnd") {
				t.Errorf("step %d: end %d in %s: %+v", st.N, s, st.States[s], e)
			}
		}
	}
	if rules == 0 {
		t.Error("no segment arrived")
	}
	if v.InitialEnds[0].Cwnd != nil || v.InitialEnds[0].Text == "" {
		t.Errorf("initial ends %+v", v.InitialEnds)
	}
}

// checkCaptureCwnd: a capture's view says cwnd is unknown and shows none.
func checkCaptureCwnd(t *testing.T, v *View) {
	t.Helper()
	if v.CwndSource != "capture" || !strings.Contains(v.CwndNote, "cannot show it") {
		t.Errorf("cwnd source %q: %q", v.CwndSource, v.CwndNote)
	}
	inFlight := false
	for _, st := range v.Steps {
		for _, g := range st.Segments {
			if g.Cwnd != nil || strings.Contains(g.Text, "cwnd") {
				t.Errorf("step %d: a capture's segment %q has a cwnd", st.N, g.Text)
			}
		}
		for _, e := range st.Ends {
			if e.Cwnd != nil || !strings.HasPrefix(e.Text, "cwnd unknown") {
				t.Errorf("step %d: end %+v", st.N, e)
			}
			if strings.Contains(e.Text, "bytes sent and not yet acknowledged") && !strings.Contains(e.Text, "; 0 bytes") {
				inFlight = true
			}
		}
	}
	if !inFlight {
		t.Error("the capture never shows bytes in flight")
	}
}

func TestCaptureUpload(t *testing.T) {
	ts := newTestServer(t, Options{})
	data := simCapture(t, 20000)
	var c Capture
	decode(t, upload(t, ts.URL+"/api/captures", "transfer.pcapng", data), 200, &c)
	if len(c.Conns) != 1 || c.Name != "transfer.pcapng" {
		t.Fatalf("capture %+v", c)
	}
	v := c.Conns[0]
	if v.ID != "capture="+c.ID+"&conn=1" || len(v.Steps) < 6 {
		t.Fatalf("view %s, %d steps", v.ID, len(v.Steps))
	}
	last := v.Steps[len(v.Steps)-1].States
	if last != [2]string{"TIME_WAIT", "CLOSED"} {
		t.Errorf("final states %v", last)
	}
	if p := visits(v, 0); !slices.Contains(p, "ESTABLISHED") || !slices.Contains(p, "FIN_WAIT_1") {
		t.Errorf("left path %v", p)
	}
	checkCaptureCwnd(t, v)
	// Kept for its link.
	var again Capture
	getJSON(t, ts.URL+"/api/captures/"+c.ID, 200, &again)
	if again.ID != c.ID || len(again.Conns) != 1 {
		t.Errorf("kept capture %+v", again)
	}
	var e apiError
	getJSON(t, ts.URL+"/api/captures/999", 404, &e)

	// A raw body works too.
	resp, err := http.Post(ts.URL+"/api/captures", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	decode(t, resp, 200, &c)
}

func TestBadUploads(t *testing.T) {
	ts := newTestServer(t, Options{MaxUpload: 4096})
	for _, tc := range []struct {
		name   string
		data   []byte
		status int
		msg    string
	}{
		{"empty.pcap", nil, 400, "empty"},
		{"junk.pcap", []byte("this is not a capture at all"), 400, "not a readable pcap"},
		{"big.pcap", bytes.Repeat([]byte{0xd4}, 5000), 413, "limit of 4096 bytes"},
	} {
		var e apiError
		decode(t, upload(t, ts.URL+"/api/captures", tc.name, tc.data), tc.status, &e)
		if !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: error %q, want %q", tc.name, e.Error, tc.msg)
		}
	}
	// No file field.
	resp, err := http.Post(ts.URL+"/api/captures", "multipart/form-data; boundary=x", strings.NewReader("--x--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	decode(t, resp, 400, &e)
	if !strings.Contains(e.Error, "no file") {
		t.Errorf("error %q", e.Error)
	}
	// A raw body past the limit.
	resp2, err := http.Post(ts.URL+"/api/captures", "application/octet-stream", bytes.NewReader(make([]byte, 100000)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	decode(t, resp2, 413, &e)
}

func TestPktScript(t *testing.T) {
	src, err := os.ReadFile("../examples/states/passive-open.pkt")
	if err != nil {
		t.Fatal(err) // the example is part of the repository
	}
	ts := newTestServer(t, Options{})
	var c Capture
	decode(t, upload(t, ts.URL+"/api/pkt", "passive-open.pkt", src), 200, &c)
	if c.Script == nil || len(c.Conns) == 0 {
		t.Fatalf("capture %+v", c)
	}
	if p := visits(c.Conns[0], 1); !slices.Contains(p, "ESTABLISHED") {
		t.Errorf("script %+v: right path %v", c.Script, p)
	}
	if c.Conns[0].CwndSource != "capture" || c.Conns[0].Steps[0].Segments[0].Cwnd != nil {
		t.Errorf("a script's run is shown from its capture, without cwnd: %q", c.Conns[0].CwndSource)
	}
	var e apiError
	decode(t, upload(t, ts.URL+"/api/pkt", "bad.pkt", []byte("0 bogus(")), 400, &e)
	if e.Error == "" {
		t.Error("no error message")
	}
}

func TestPageWithoutJS(t *testing.T) {
	ts := newTestServer(t, Options{})
	resp, err := http.Get(ts.URL + "/?scenario=half-close")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<svg`, `class="viz-ladder"`, `class="viz-diagram"`, `value="half-close" selected`, `/static/app.js`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, asset := range []string{"/static/app.js", "/static/style.css"} {
		resp, err := http.Get(ts.URL + asset)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", asset, resp.StatusCode)
		}
	}
	// The form upload renders the capture's figures.
	resp = upload(t, ts.URL+"/upload", "transfer.pcap", simCapture(t, 5000))
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`class="viz-ladder"`)) || !bytes.Contains(body, []byte(`data-view="capture=`)) {
		t.Errorf("upload page: %d", resp.StatusCode)
	}
	// Only loopback host names.
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Host = "evil.example:80"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d", resp.StatusCode)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true},
		{"127.0.0.1:0", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"192.0.2.1:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{"127.0.0.1", false, false},
	} {
		if err := CheckListen(tc.addr, tc.remote); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %v) = %v", tc.addr, tc.remote, err)
		}
	}
}

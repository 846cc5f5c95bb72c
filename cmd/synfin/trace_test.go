package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/internal/progress"
	"github.com/synfin/synfin/sim"
)

// simCapture writes a capture of one transfer of size bytes, taken at the
// client.
func simCapture(t *testing.T, size int64) string {
	t.Helper()
	n := sim.New(1)
	defer n.Close()
	a, _ := n.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	b, _ := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	if _, err := n.Connect(a, b, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.CaptureTo(&buf); err != nil {
		t.Fatal(err)
	}
	sink, _ := b.Sink(b.AddrPort(80), sim.SinkConfig{Accept: 1})
	snd, err := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: size, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Minute); err != nil {
		t.Fatal(err)
	}
	n.RunFor(time.Second)
	if err := n.Flush(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a.pcapng")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestTraceCommand(t *testing.T) {
	file := simCapture(t, 3000)
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{file}, exitOK, "TIME_WAIT (held at end, expires", ""},
		{[]string{"--format", "json", file}, exitOK, `"schema": "synfin-trace/1"`, ""},
		{[]string{file, "--format=svg"}, exitOK, "<svg", ""},
		{[]string{file, "--format", "html"}, exitOK, "<!DOCTYPE html>", ""},
		{[]string{file, "--segments"}, exitOK, "cwnd is unknown (packets do not carry it)", ""},
		{[]string{file, "--format", "xml"}, exitUsage, "", "unknown format"},
		{[]string{}, exitUsage, "", "no capture file"},
		{[]string{file, file}, exitUsage, "", "unexpected argument"},
		{[]string{filepath.Join(t.TempDir(), "missing.pcap")}, exitFail, "", "no such file"},
		{[]string{"main.go"}, exitFail, "", "not a readable pcap"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"trace"}, tc.args...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) {
			t.Errorf("synfin trace %q: exit %d, want %d\nstdout: %.400s\nstderr: %s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
	}
}

// fakeTerminal is a writer that says it is a terminal.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) IsTerminal() bool { return true }

// TestTraceProgress: on a terminal, standard error gets a progress bar by
// bytes read, then the analysis, and is cleared at the end; the report on
// standard output is the same as without it. Elsewhere nothing is drawn.
func TestTraceProgress(t *testing.T) {
	file := simCapture(t, 1<<20) // read in many pieces
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// A clock that moves a second per reading, so that every update draws.
	now := time.Unix(0, 0)
	traceClock = func() time.Time { now = now.Add(time.Second); return now }
	defer func() { traceClock = nil }()

	var plainOut, plainErr bytes.Buffer
	if code := run([]string{"trace", file}, &plainOut, &plainErr); code != exitOK || plainErr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, plainErr.String())
	}
	var out bytes.Buffer
	var errTerm fakeTerminal
	if code := run([]string{"trace", file}, &out, &errTerm); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if out.String() != plainOut.String() || strings.Contains(out.String(), "\033") {
		t.Error("the report differs when standard error is a terminal")
	}
	e := errTerm.String()
	total := progress.Size(fi.Size())
	for _, w := range []string{"\r\033[Kreading a.pcapng [", "\r\033[Kanalysing a.pcapng [==============================] 100%  " + total + " / " + total} {
		if !strings.Contains(e, w) {
			t.Errorf("progress lacks %q:\n%q", w, e)
		}
	}
	if !strings.HasSuffix(e, "\r\033[K") {
		t.Errorf("the bar is not cleared at the end: %q", e)
	}
}

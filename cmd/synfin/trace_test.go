package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
)

// simCapture writes a capture of one short transfer, taken at the client.
func simCapture(t *testing.T) string {
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
	snd, err := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: 3000, Seed: 1})
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
	file := simCapture(t)
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

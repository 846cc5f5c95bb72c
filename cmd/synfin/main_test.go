package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/tour"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTourRunsEverythingAndProvesCoverage(t *testing.T) {
	code, out, errOut := runCLI("tour")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, name := range tour.Names() {
		if !strings.Contains(out, "=== "+name+": ") {
			t.Errorf("scenario %s missing from the output", name)
		}
	}
	summary := out[strings.Index(out, "=== states visited"):]
	if !strings.Contains(summary, "states visited: 11 of 11, by 12 scenarios") || strings.Contains(summary, "NEVER") {
		t.Errorf("summary:\n%s", summary)
	}
	for _, st := range tcp.States {
		if !strings.Contains(summary, "\n  "+st.String()+" ") {
			t.Errorf("summary has no line for %v", st)
		}
	}
	if _, again, _ := runCLI("tour"); again != out {
		t.Error("two runs of synfin tour differ")
	}
}

func TestTourSelection(t *testing.T) {
	for _, spelling := range []string{"TIME_WAIT", "time-wait", "Time_Wait", "TIME-WAIT"} {
		code, out, errOut := runCLI("tour", "--state", spelling)
		if code != 0 || errOut != "" {
			t.Fatalf("--state %s: exit %d, %s", spelling, code, errOut)
		}
		if !strings.Contains(out, "=== simultaneous-close:") || strings.Contains(out, "=== connection-refused:") ||
			strings.Contains(out, "=== linger-abort:") {
			t.Errorf("--state %s selected the wrong scenarios", spelling)
		}
		if !strings.Contains(out, "scenarios visit TIME_WAIT:") {
			t.Errorf("--state %s: no footer", spelling)
		}
	}
	code, out, _ := runCLI("tour", "--state", "SYN-RECEIVED", "--list")
	if code != 0 || !strings.Contains(out, "simultaneous-open") || strings.Contains(out, "connection-refused") {
		t.Errorf("--state SYN-RECEIVED --list: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("tour", "-state=closing", "-list")
	if code != 0 || strings.TrimSpace(out) != "simultaneous-close  simultaneous close: both ends pass through CLOSING" {
		t.Errorf("-state=closing -list: exit %d %q", code, out)
	}
	code, out, _ = runCLI("tour", "--scenario", "simultaneous-close")
	if code != 0 || strings.Count(out, "=== ") != 1 || !strings.Contains(out, "FIN_WAIT_1 -> CLOSING") {
		t.Errorf("--scenario: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("tour", "--list")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != len(tour.Names()) {
		t.Errorf("--list: exit %d\n%s", code, out)
	}
	code, _, errOut := runCLI("tour", "--scenario", "connection-refused", "--state", "TIME_WAIT")
	if code != 1 || !strings.Contains(errOut, "does not visit TIME_WAIT") {
		t.Errorf("scenario without the state: exit %d, %q", code, errOut)
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // in stderr
	}{
		{nil, []string{"Usage:", "tour"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "tour"}},
		{[]string{"tour", "--state", "SYN_WAIT"}, []string{`unknown state "SYN_WAIT"`, "CLOSING", "TIME_WAIT", "SYN_RCVD"}},
		{[]string{"tour", "--scenario", "nope"}, []string{`unknown scenario "nope"`, "simultaneous-close", "data-retransmit"}},
		{[]string{"tour", "--bogus"}, []string{"flag provided but not defined"}},
		{[]string{"tour", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"help", "nope"}, []string{`unknown command "nope"`}},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if out != "" {
			t.Errorf("%q: wrote to stdout: %q", tc.args, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, w, errOut)
			}
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := runCLI(args...)
		if code != 0 || !strings.Contains(out, "tour") || !strings.Contains(out, "Commands:") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
		// Only what exists is listed.
		for _, cmd := range []string{"tour", "serve", "get", "ss", "diagram", "web"} {
			if !strings.Contains(out, "  "+cmd+" ") {
				t.Errorf("help does not list %s", cmd)
			}
		}
		for _, later := range []string{"bench"} {
			if strings.Contains(out, "  "+later) {
				t.Errorf("help lists %s, which does not exist yet", later)
			}
		}
	}
	code, out, _ := runCLI("help", "tour")
	if code != 0 || !strings.Contains(out, "--state STATE") || !strings.Contains(out, "half-close") {
		t.Errorf("help tour: exit %d\n%s", code, out)
	}
	code, _, errOut := runCLI("tour", "-h")
	if code != 0 || !strings.Contains(errOut, "--scenario NAME") {
		t.Errorf("tour -h: exit %d\n%s", code, errOut)
	}
}

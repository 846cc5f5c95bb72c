package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/synfin/synfin/internal/progress"
)

// fakeTerminal is a writer that says it is a terminal.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) IsTerminal() bool { return true }

// TestProgress: on a terminal the workload running is shown on one line,
// notes print above it, and the count goes up per workload; elsewhere only
// the notes are printed.
func TestProgress(t *testing.T) {
	defer func(s *progress.Line, d int) { status, workloadsDone = s, d }(status, workloadsDone)
	if workloadsTotal != 25 {
		t.Errorf("%d workloads, want 25 (7 bulk, two of them with checksum offload, 6 conn/s, 3 latency, 4 memory, 3 lossy, 2 reordering)", workloadsTotal)
	}
	var term fakeTerminal
	status, workloadsDone = progress.NewLine(&term), 0
	running("bulk1500/synfin", 1, 3)
	note("bulk1500/synfin: stalled")
	finished()
	running("bulk1500/gvisor", 2, 3)
	status.Clear()
	out := term.String()
	for _, w := range []string{"\r\033[Kbench [1/25] bulk1500/synfin, run 1 of 3  (",
		"\r\033[Knote: bulk1500/synfin: stalled\n\r\033[Kbench [1/25] bulk1500/synfin, run 1 of 3",
		"\r\033[Kbench [2/25] bulk1500/gvisor, run 2 of 3"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%q", w, out)
		}
	}
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("not cleared: %q", out)
	}

	var plain bytes.Buffer
	status, workloadsDone = progress.NewLine(&plain), 0
	running("cps1/synfin", 1, 1)
	note("cps1/synfin: 2 failed connections")
	finished()
	if plain.String() != "note: cps1/synfin: 2 failed connections\n" {
		t.Errorf("on a pipe: %q", plain.String())
	}
}

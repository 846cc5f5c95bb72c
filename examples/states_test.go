// Package examples_test runs the example scripts of examples/: a commented
// packetdrill script for each TCP state and transition (examples/states),
// on synfin's stack always and on the Linux kernel when the test runs as
// root. Each script must pass on both.
package examples_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synfin/synfin/pktdrill/runner"
)

// stateScripts lists examples/states/*.pkt.
func stateScripts(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("states", "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 14 {
		t.Fatalf("found %d example scripts in examples/states, want at least 14", len(files))
	}
	return files
}

// runScript runs one script on a target and fails the test unless it
// passes. A real-time target may miss a 4 ms tolerance on a loaded machine:
// a timing error gets up to tries attempts in all.
func runScript(t *testing.T, file string, target runner.Target, tries int) {
	t.Helper()
	var res *runner.Result
	for i := 0; i < tries; i++ {
		res = runner.RunFile(context.Background(), file, &runner.Options{Target: target, Defines: runner.DefaultDefines})
		if res.Status == runner.Pass || !strings.Contains(res.Message, "timing error") {
			break
		}
		t.Logf("attempt %d: %s", i+1, res.Message)
	}
	if res.Status != runner.Pass {
		t.Fatalf("%s on %s: %v: %s", file, target.Name(), res.Status, res.Message)
	}
}

// TestStatesSynfin runs every state example on synfin (virtual time).
func TestStatesSynfin(t *testing.T) {
	for _, f := range stateScripts(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			runScript(t, f, runner.Synfin(), 1)
		})
	}
}

// TestStatesKernel runs every state example on the Linux kernel, each in a
// network namespace of its own (real time: the TIME_WAIT example takes a
// minute). It needs root; under CI=true it must run and is never skipped.
func TestStatesKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the kernel target needs root, and CI must run it")
		}
		t.Skip("the kernel target needs root")
	}
	for _, f := range stateScripts(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// One at a time, for the timing: only the minute-long
			// TIME_WAIT example runs alongside the others.
			if filepath.Base(f) == "time-wait.pkt" {
				t.Parallel()
			}
			runScript(t, f, runner.Kernel(), 3)
		})
	}
}

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunProgress: with a terminal on standard output, synfin run keeps a
// status line up to date and prints lines only for failures; the status is
// gone at the end.
func TestRunProgress(t *testing.T) {
	dir := writeScripts(t)
	var out fakeTerminal
	var errOut bytes.Buffer
	if code := run([]string{"run", "--target", "cli-fake", "-D", "FD=3", dir}, &out, &errOut); code != exitFail {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	o := out.String()
	for _, w := range []string{"\r\033[K[0/3] 0 passed, 0 failed, 0 skipped  " + filepath.Join(dir, "a/fail.pkt"),
		"\r\033[K[3/3] 1 passed, 1 failed, 1 skipped",
		"\r\033[KFAIL " + filepath.Join(dir, "a/fail.pkt") + ": ",
		"\r\033[K1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(o, w) {
			t.Errorf("output lacks %q:\n%q", w, o)
		}
	}
	if strings.Contains(o, "PASS ") || strings.Contains(o, "SKIP ") {
		t.Errorf("passes and skips got lines of their own on a terminal:\n%q", o)
	}
	if !strings.HasSuffix(o, "\r\033[K1 passed, 1 failed, 1 skipped\n") {
		t.Errorf("the status line is not cleared before the summary: %q", o)
	}
}

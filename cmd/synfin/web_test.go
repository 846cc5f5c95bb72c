package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWebRefusesRemoteListen(t *testing.T) {
	for _, addr := range []string{":8080", "0.0.0.0:8080", "192.0.2.10:8080"} {
		var out, errb bytes.Buffer
		if code := run([]string{"web", "--listen", addr}, &out, &errb); code != exitUsage {
			t.Errorf("web --listen %s: exit %d, want %d", addr, code, exitUsage)
		}
		if !strings.Contains(errb.String(), "--allow-remote") {
			t.Errorf("web --listen %s: message %q", addr, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"web", "--listen", "127.0.0.1:8080", "extra"}, &out, &errb); code != exitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
}

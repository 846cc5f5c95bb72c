package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/pktdrill/runner"
)

// cliFake is a target whose calls all succeed: socket-like calls return
// the script's descriptor, others 0. It sends no packets.
type cliFake struct{ now time.Duration }

func (*cliFake) Name() string                                   { return "cli-fake" }
func (f *cliFake) Open(*runner.Config) (runner.Instance, error) { return &cliFake{}, nil }
func (f *cliFake) Now() time.Duration                           { return f.now }
func (f *cliFake) Inject([]byte) error                          { return nil }
func (f *cliFake) Shell(string) error                           { return nil }
func (f *cliFake) Close() error                                 { return nil }
func (f *cliFake) TCPInfo(int) (map[string]int64, error)        { return map[string]int64{}, nil }

func (f *cliFake) Advance(t time.Duration) error {
	f.now = max(f.now, t)
	return nil
}

func (f *cliFake) NextPacket(deadline time.Duration) ([]byte, time.Duration, bool, error) {
	f.now = max(f.now, deadline)
	return nil, 0, false, nil
}

func (f *cliFake) Syscall(req *runner.SyscallRequest) (runner.PendingCall, error) {
	if req.NewFD >= 0 {
		return &runner.Done{Ret: int64(req.NewFD), End: f.now}, nil
	}
	return &runner.Done{End: f.now}, nil
}

func init() { runner.RegisterTarget("cli-fake", func() runner.Target { return &cliFake{} }) }

func writeScripts(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"a/pass.pkt":  "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = FD\n+0 close(FD) = 0\n",
		"a/fail.pkt":  "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 read(3, ..., 10) = 10\n",
		"b/skip.pkt":  "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
		"b/notes.txt": "not a script",
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunCommand(t *testing.T) {
	dir := writeScripts(t)
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	pcapDir := filepath.Join(t.TempDir(), "pcap")
	code, out, errOut := runCLI("run", "--target", "cli-fake", "-D", "FD=3", "--json", jsonPath, "--pcap", pcapDir, dir)
	if code != 1 {
		t.Errorf("exit %d, want 1 (a script failed); stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 1 failed, 1 skipped" {
		t.Errorf("last line %q, want %q", last, "1 passed, 1 failed, 1 skipped")
	}
	for _, want := range []string{
		"PASS " + filepath.Join(dir, "a/pass.pkt"),
		"FAIL " + filepath.Join(dir, "a/fail.pkt"),
		"fail.pkt:2: runtime error in read call: Expected result 10 but got 0 with errno 0 (Success)",
		"SKIP " + filepath.Join(dir, "b/skip.pkt") + ": IPv6",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notes.txt") {
		t.Error("ran a file that is not a .pkt script")
	}
	var sum runSummaryJSON
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Target != "cli-fake" || sum.Passed != 1 || sum.Failed != 1 || sum.Skipped != 1 || len(sum.Results) != 3 {
		t.Errorf("JSON summary %+v", sum)
	}
	if ents, _ := os.ReadDir(pcapDir); len(ents) == 0 {
		t.Error("no pcap written")
	}

	// Only passing scripts: exit 0.
	code, out, _ = runCLI("run", "--target", "cli-fake", "-D", "FD=3", filepath.Join(dir, "a/pass.pkt"))
	if code != 0 || !strings.HasSuffix(out, "1 passed, 0 failed, 0 skipped\n") {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestRunUsage(t *testing.T) {
	if code, _, errOut := runCLI("run"); code != exitUsage || !strings.Contains(errOut, "no scripts given") {
		t.Errorf("no scripts: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("run", "--target", "nosuch", "x.pkt"); code != exitUsage || !strings.Contains(errOut, `unknown target "nosuch"`) {
		t.Errorf("unknown target: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("run", "--target", "cli-fake", "/no/such/dir"); code != exitUsage || errOut == "" {
		t.Errorf("missing path: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("run", "-D", "bad define", "x.pkt"); code != exitUsage || errOut == "" {
		t.Errorf("bad define: exit %d, %q", code, errOut)
	}
}

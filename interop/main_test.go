package interop

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// synfinBin is the synfin binary TestMain builds.
var synfinBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	// The build directory is named after this process, so that a later
	// run can remove the directories of processes killed before their
	// cleanup.
	sweepBuildDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", buildDirPrefix, os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildSynfin(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: building synfin:", err)
		return 1
	}
	synfinBin = bin
	if os.Geteuid() == 0 {
		sweepNamespaces()
	}
	return m.Run()
}

// buildDirPrefix starts the name of TestMain's temporary directory:
// synfin-interop-<pid>-<random>.
const buildDirPrefix = "synfin-interop-"

// sweepBuildDirs removes the build directories of dead test processes.
func sweepBuildDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*-*"))
	for _, d := range dirs {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), buildDirPrefix), "-")
		if pid, err := strconv.Atoi(pidStr); ok && err == nil && pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// buildSynfin builds ./cmd/synfin from the module root into dir.
func buildSynfin(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	bin := filepath.Join(dir, "synfin")
	cmd := exec.CommandContext(ctx, goTool, "build", "-buildvcs=false", "-o", bin, "./cmd/synfin")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
}

// requireKernel checks that the test can create namespaces and TUN devices
// and that the tools it names are installed. When not, it skips the test,
// or fails it under CI (CI=true), where the suite must run.
func requireKernel(t *testing.T, tools ...string) {
	t.Helper()
	var reason string
	switch {
	case os.Geteuid() != 0:
		reason = "not running as root"
	default:
		if _, err := os.Stat("/dev/net/tun"); err != nil {
			reason = "no /dev/net/tun"
		}
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if reason != "" {
			break
		}
		if _, err := exec.LookPath(tool); err != nil {
			reason = fmt.Sprintf("no %s command (scripts/deps.sh installs it)", tool)
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop test cannot run under CI: %s", reason)
	}
	t.Skipf("needs root, /dev/net/tun and %s: %s", strings.Join(append([]string{"ip"}, tools...), ", "), reason)
}

// cmdTimeout bounds the short commands (ip, ss, synfin ss, ping).
const cmdTimeout = 20 * time.Second

// run runs a command to completion within timeout and returns its combined
// output.
func run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%v (timed out after %v)", err, timeout)
	}
	return string(out), err
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := run(timeout, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// nsArgs prefixes args with `ip netns exec ns`.
func nsArgs(ns string, args ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, args...)
}

// nsPrefix starts the name of every namespace the suite creates:
// synfin-it-<pid of the test process>-<random>.
const nsPrefix = "synfin-it-"

// sweepNamespaces deletes the namespaces of earlier test processes that
// died before their cleanup ran (killed by a timeout, say): those named
// with a pid no longer alive. Those of live processes (other runs of the
// suite, in parallel) are left alone.
func sweepNamespaces() {
	out, err := run(cmdTimeout, "ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(f[0], nsPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		pids, _ := run(cmdTimeout, "ip", "netns", "pids", f[0])
		if strings.TrimSpace(pids) != "" {
			continue // something runs in it: not ours to stop
		}
		if _, err := run(cmdTimeout, "ip", "netns", "del", f[0]); err == nil {
			fmt.Fprintf(os.Stderr, "interop: deleted %s, left by dead test process %d\n", f[0], pid)
		}
	}
}

// newNamespace creates a network namespace for the test, with its loopback
// up, and deletes it at cleanup after killing whatever still runs in it.
func newNamespace(t *testing.T) string {
	t.Helper()
	var b [3]byte
	crand.Read(b[:])
	ns := fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), hex.EncodeToString(b[:]))
	mustRun(t, cmdTimeout, "ip", "netns", "add", ns)
	t.Cleanup(func() { deleteNamespace(t, ns) })
	mustRun(t, cmdTimeout, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// deleteNamespace kills the processes inside ns (SIGTERM, then SIGKILL for
// those still there after two seconds) and deletes it.
func deleteNamespace(t *testing.T, ns string) {
	pids := func() []int {
		out, _ := run(cmdTimeout, "ip", "netns", "pids", ns)
		var ps []int
		for _, f := range strings.Fields(out) {
			// Never this process: link/tun's Open with a Namespace can leave
			// the process's main thread inside the namespace (see
			// TestHalfCloseSynfinFirst), and ip netns pids then lists us.
			if p, err := strconv.Atoi(f); err == nil && p > 1 && p != os.Getpid() {
				ps = append(ps, p)
			}
		}
		return ps
	}
	sig := syscall.SIGTERM
	for deadline := time.Now().Add(2 * time.Second); ; {
		ps := pids()
		if len(ps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if sig == syscall.SIGKILL {
				t.Errorf("processes %v still in namespace %s", ps, ns)
				break
			}
			sig, deadline = syscall.SIGKILL, time.Now().Add(2*time.Second)
		}
		for _, p := range ps {
			syscall.Kill(p, sig)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := run(cmdTimeout, "ip", "netns", "del", ns); err != nil {
		t.Errorf("ip netns del %s: %v: %s", ns, err, out)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's output and the test
// reading it at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a background process inside a namespace.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // set when done is closed
}

// start starts args inside ns (`ip netns exec`, which execs the command,
// so the process is the command itself). It is killed after timeout, and
// at the test's end if still running; its output is logged if the test
// failed.
func start(t *testing.T, ns string, timeout time.Duration, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &proc{name: filepath.Base(args[0]), done: make(chan struct{})}
	if len(args) > 1 {
		p.name += " " + args[1]
	}
	p.cmd = exec.CommandContext(ctx, "ip", nsArgs(ns, args...)[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %s (%v):\n%s", p.name, p.err, p.out.String())
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to five seconds, then kills the process; it
// returns the process's exit error.
func (p *proc) stop() error {
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.err
}

// wait waits up to timeout for the process to end by itself.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v", p.name, timeout)
		return nil
	}
}

// eventually polls cond every 50 ms until it returns true, failing the
// test after timeout with cond's last description of what it saw.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not the case after %v; last seen:\n%s", what, timeout, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ssRow is one row of `ss -tan` or of `synfin ss`: both print State,
// Recv-Q, Send-Q, Local Address:Port, Peer Address:Port first.
type ssRow struct {
	State, Local, Peer string
}

// parseSS parses ss-style output, skipping the header.
func parseSS(out string) []ssRow {
	var rows []ssRow
	for i, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 5 {
			continue
		}
		rows = append(rows, ssRow{State: f[0], Local: f[3], Peer: f[4]})
	}
	return rows
}

// kernelSockets is the kernel's TCP sockets table in ns (`ss -tan`).
func kernelSockets(t *testing.T, ns string) ([]ssRow, string) {
	t.Helper()
	out := mustRun(t, cmdTimeout, nsArgs(ns, "ss", "-tan")...)
	return parseSS(out), out
}

// synfinSockets is synfin's sockets table as `synfin ss --from debug`
// prints it, run inside ns where the debug endpoint listens.
func synfinSockets(ns, debug string) ([]ssRow, string, error) {
	out, err := run(cmdTimeout, nsArgs(ns, synfinBin, "ss", "--from", debug)...)
	if err != nil {
		return nil, out, err
	}
	return parseSS(out), out, nil
}

// startServe runs `synfin serve` with args inside ns and a debug endpoint
// on the namespace's loopback at debug, and waits until synfin listens on
// every port in ports.
func startServe(t *testing.T, ns, debug string, ports []int, args ...string) *proc {
	t.Helper()
	p := start(t, ns, 10*time.Minute, append([]string{synfinBin, "serve", "--debug", debug}, args...)...)
	eventually(t, 60*time.Second, "synfin serve listening", func() (bool, string) {
		if p.exited() {
			t.Fatalf("synfin serve exited: %v\n%s", p.err, p.out.String())
		}
		rows, out, err := synfinSockets(ns, debug)
		if err != nil {
			return false, out
		}
		for _, port := range ports {
			if !hasRow(rows, "LISTEN", fmt.Sprintf("*:%d", port), "") {
				return false, out
			}
		}
		return true, out
	})
	return p
}

// waitKernelListen waits until a kernel socket in ns listens on local.
func waitKernelListen(t *testing.T, ns, local string, p *proc) {
	t.Helper()
	eventually(t, 60*time.Second, "kernel listening on "+local, func() (bool, string) {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.out.String())
		}
		rows, out := kernelSockets(t, ns)
		return hasRow(rows, "LISTEN", local, ""), out
	})
}

// hasRow reports whether rows has one in state (any if "") with the given
// local and peer (any if "").
func hasRow(rows []ssRow, state, local, peer string) bool {
	for _, r := range rows {
		if (state == "" || r.State == state) && r.Local == local && (peer == "" || r.Peer == peer) {
			return true
		}
	}
	return false
}

// rowsWithPort returns the rows whose local or peer address has port.
func rowsWithPort(rows []ssRow, port int) []ssRow {
	suffix := ":" + strconv.Itoa(port)
	var out []ssRow
	for _, r := range rows {
		if strings.HasSuffix(r.Local, suffix) || strings.HasSuffix(r.Peer, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// writeRandomFile writes size pseudo-random bytes (ChaCha8 with a seed
// made from seed, so the same every run) to path and returns their sha256.
func writeRandomFile(t *testing.T, path string, size int, seed byte) []byte {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var key [32]byte
	copy(key[:], "synfin interop test data seed  ")
	key[31] = seed
	r := rand.NewChaCha8(key)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		b := buf[:min(left, len(buf))]
		r.Read(b)
		h.Write(b)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		left -= len(b)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(n int, seed byte) []byte {
	var key [32]byte
	copy(key[:], "synfin interop test bytes seed ")
	key[31] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func sha256File(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// mbits is a rate in Mbit/s.
func mbits(bytes int64, d time.Duration) float64 {
	return float64(bytes) * 8 / d.Seconds() / 1e6
}

// writeScript writes a python script into the test's temporary directory.
func writeScript(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dialInNS connects a kernel socket created inside ns (a socket stays in
// the namespace it was created in, wherever it is used afterwards). The
// dial runs on a locked OS thread that enters ns and goes back to the
// original namespace before it is unlocked; if it cannot go back, it stays
// locked and exits with its goroutine.
func dialInNS(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// getInNS fetches url from a server inside ns (such as synfin's debug
// endpoint on the namespace's loopback).
func getInNS(t *testing.T, ns, url string) []byte {
	t.Helper()
	client := &http.Client{
		Timeout: cmdTimeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialInNS(ctx, ns, network, addr)
			},
		},
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return body
}

// addrPort formats an address and port as ss prints them.
func addrPort(addr string, port int) string {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(port)).String()
}

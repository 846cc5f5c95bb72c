package trace

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/tcp"
)

// needKernel skips (or, under CI=true, fails) when the kernel tests cannot
// run: they need root, ip, tcpdump and python3.
func needKernel(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "not root"
	}
	for _, tool := range []string{"ip", "tcpdump", "python3", "ss"} {
		if _, err := exec.LookPath(tool); err != nil && reason == "" {
			reason = tool + " not installed (scripts/deps.sh installs it)"
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("kernel capture test must run under CI: %s", reason)
	}
	t.Skip(reason)
}

// netns makes a network namespace with loopback up and deletes it when the
// test ends.
func netns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("synfin-tr-%08x", rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("loopback up: %v: %s", err, out)
	}
	return name
}

// tcpdumpIn starts tcpdump in the namespace and returns a function that
// stops it and returns the capture's path.
func tcpdumpIn(t *testing.T, ns, file string, args ...string) func() string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "tcpdump", "-U", "--immediate-mode", "-n", "-w", file}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("tcpdump did not start")
	}
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			// --immediate-mode hands every packet to tcpdump at once,
			// and -U writes it out at once; a pause still lets the last
			// ones through before the interrupt.
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Signal(os.Interrupt)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		return file
	}
	t.Cleanup(func() { stop() })
	return stop
}

type kernelRun struct {
	ports map[string][2]uint16 // scenario -> client port, server port
	tw    map[uint16]bool      // local ports in TIME_WAIT per ss
	caps  map[string]string    // capture name -> file
}

// runScenarios captures testdata/scenarios.py on loopback in a fresh
// namespace, with tcpdump on lo (Ethernet) and on any (SLL2 and SLL).
func runScenarios(t *testing.T, addr string, base int) kernelRun {
	needKernel(t)
	ns := netns(t)
	dir := t.TempDir()
	run := kernelRun{ports: map[string][2]uint16{}, tw: map[uint16]bool{}, caps: map[string]string{}}
	stops := map[string]func() string{
		"lo":       tcpdumpIn(t, ns, filepath.Join(dir, "lo.pcap"), "-i", "lo", "tcp"),
		"any-sll2": tcpdumpIn(t, ns, filepath.Join(dir, "any2.pcap"), "-i", "any", "tcp"),
		"any-sll":  tcpdumpIn(t, ns, filepath.Join(dir, "any1.pcap"), "-i", "any", "-y", "LINUX_SLL", "tcp"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "python3", "testdata/scenarios.py", addr, strconv.Itoa(base)).CombinedOutput()
	if err != nil {
		t.Fatalf("scenarios: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("scenario output %q", line)
		}
		cp, _ := strconv.Atoi(f[1])
		sp, _ := strconv.Atoi(f[2])
		run.ports[f[0]] = [2]uint16{uint16(cp), uint16(sp)}
	}
	// The kernel's own word on who holds TIME_WAIT.
	ssOut, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htan", "state", "time-wait").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, ssOut)
	}
	for _, line := range strings.Split(string(ssOut), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		local := f[len(f)-2]
		if i := strings.LastIndex(local, ":"); i >= 0 {
			p, _ := strconv.Atoi(local[i+1:])
			run.tw[uint16(p)] = true
		}
	}
	for name, stop := range stops {
		run.caps[name] = stop()
	}
	return run
}

func readFile(t *testing.T, file string, opts Options) *Analysis {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Read(f, opts)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return a
}

func connByPorts(t *testing.T, a *Analysis, client, server uint16) *Conn {
	t.Helper()
	for _, c := range a.Conns {
		if c.Left.Port() == client && c.Right.Port() == server {
			return c
		}
	}
	t.Fatalf("no connection %d -> %d", client, server)
	return nil
}

func path(c *Conn, s Side) string {
	steps := c.SideSteps(s)
	p := []string{c.Initial[s].String()}
	for _, st := range steps {
		p = append(p, st.To.String())
	}
	return strings.Join(p, " ")
}

func wantPath(t *testing.T, name string, c *Conn, s Side, want string) {
	t.Helper()
	if got := path(c, s); got != want {
		t.Errorf("%s: %v path\n got %s\nwant %s", name, s, got, want)
	}
}

func hasAnomaly(c *Conn, kind string, s Side) *Anomaly {
	for i, an := range c.Anomalies {
		if an.Kind == kind && an.Side == s {
			return &c.Anomalies[i]
		}
	}
	return nil
}

func checkKernel(t *testing.T, run kernelRun, capName string, wantLink pcap.LinkType) {
	file := run.caps[capName]
	// The link type tcpdump wrote.
	f, _ := os.Open(file)
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rd.Next()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if p.LinkType != wantLink {
		t.Errorf("%s: link type %v, want %v", capName, p.LinkType, wantLink)
	}

	a := readFile(t, file, Options{HalfClose: 150 * time.Millisecond})
	if len(a.Conns) != 4 {
		var b strings.Builder
		WriteText(&b, a)
		t.Fatalf("%s: %d connections, want 4\n%s", capName, len(a.Conns), b.String())
	}
	var text strings.Builder
	WriteText(&text, a)
	defer func() {
		if t.Failed() {
			t.Logf("%s:\n%s", capName, text.String())
		}
	}()
	get := func(name string) *Conn {
		pp := run.ports[name]
		c := connByPorts(t, a, pp[0], pp[1])
		if capName != "lo" && (hasAnomaly(c, KindMissed, Left) != nil || hasAnomaly(c, KindMissed, Right) != nil) {
			// tcpdump -i any on loopback occasionally loses a packet
			// (more often under the race detector). The analysis must
			// say so, and then its states cannot be held to the
			// kernel's; the lo capture is checked strictly.
			t.Logf("%s: %s: the capture missed packets, as the analysis reports; not checked", capName, name)
			return nil
		}
		return c
	}
	// TIME_WAIT as the kernel reports it.
	for _, name := range []string{"normal", "halfclose", "rst", "simultaneous"} {
		c := get(name)
		if c == nil {
			continue
		}
		for _, s := range []Side{Left, Right} {
			inTW := c.Final[s] == tcp.TimeWait
			if kernel := run.tw[c.Endpoint(s).Port()]; kernel != inTW {
				t.Errorf("%s: %v %v: reconstructed %v, kernel TIME_WAIT %v", name, s, c.Endpoint(s), c.Final[s], kernel)
			}
		}
		if c.Vantage.Near != "both" {
			t.Errorf("%s: vantage %q on loopback (%s)", name, c.Vantage.Near, c.Vantage.Reason)
		}
	}

	var c *Conn
	c = get("normal")
	if c != nil {
		wantPath(t, "normal", c, Left, "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT")
		wantPath(t, "normal", c, Right, "LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED")
		if c.TimeWaitExpiry[Left] == 0 || hasAnomaly(c, KindTimeWait, Left) == nil {
			t.Errorf("normal: TIME_WAIT held by the left end not reported")
		}
		if c.Unique[Left] != int64(len("GET / HTTP/1.0\r\n\r\n")) || c.Unique[Right] != int64(len("HTTP/1.0 200 OK\r\n\r\nhello")) {
			t.Errorf("normal: bytes %v", c.Unique)
		}
	}

	c = get("halfclose")
	if c != nil {
		wantPath(t, "halfclose", c, Left, "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT")
		wantPath(t, "halfclose", c, Right, "LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED")
		if an := hasAnomaly(c, KindHalfClose, Right); an == nil || an.Duration < 250*time.Millisecond {
			t.Errorf("halfclose: long half-close not reported: %+v", an)
		}
	}

	c = get("rst")
	if c != nil {
		wantPath(t, "rst", c, Left, "CLOSED SYN_SENT ESTABLISHED CLOSED")
		wantPath(t, "rst", c, Right, "LISTEN SYN_RCVD ESTABLISHED CLOSED")
		if an := hasAnomaly(c, KindReset, Right); an == nil || !strings.Contains(an.Detail, "unread data") || !strings.Contains(an.Detail, "ESTABLISHED") {
			t.Errorf("rst: reset anomaly %+v", an)
		}
	}

	c = get("simultaneous")
	if c == nil {
		return
	}
	// Who closed "first" on loopback is a race; whichever way it went, the
	// paths must be one of RFC 9293's and agree with the kernel (above).
	valid := map[string]bool{
		"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT":    true,
		"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT":            true,
		"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT": true,
		"CLOSED SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED":      true,
	}
	lp, rp := path(c, Left), strings.Replace(path(c, Right), "LISTEN SYN_RCVD", "CLOSED SYN_SENT", 1)
	if !valid[lp] || !valid[rp] {
		t.Errorf("simultaneous: paths\n%s\n%s", path(c, Left), path(c, Right))
	}
	t.Logf("%s: simultaneous close went: left %s; right %s", capName, path(c, Left), path(c, Right))
}

func TestKernelCaptures(t *testing.T) {
	for _, fam := range []struct{ name, addr string }{{"ipv4", "127.0.0.1"}, {"ipv6", "::1"}} {
		t.Run(fam.name, func(t *testing.T) {
			run := runScenarios(t, fam.addr, 5000)
			for _, c := range []struct {
				name string
				lt   pcap.LinkType
			}{{"lo", pcap.LinkTypeEthernet}, {"any-sll2", pcap.LinkTypeLinuxSLL2}, {"any-sll", pcap.LinkTypeLinuxSLL}} {
				t.Run(c.name, func(t *testing.T) { checkKernel(t, run, c.name, c.lt) })
			}
		})
	}
}

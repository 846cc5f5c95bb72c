package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/link/tun"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// The addresses of the serve tests: the kernel's side of the TUN and
// synfin's.
const (
	kernelAddr = "10.99.1.1"
	synfinAddr = "10.99.1.2"
	debugAddr  = "127.0.0.1:6060" // on the namespace's own loopback
)

// The big transfers: 100 MiB of pseudo-random bytes.
const bigSize = 100 << 20

// onlyListeners reports whether synfin's sockets table holds listeners
// and nothing else.
func onlyListeners(ns string) (bool, string) {
	rows, out, err := synfinSockets(ns, debugAddr)
	if err != nil {
		return false, out
	}
	for _, r := range rows {
		if r.State != "LISTEN" {
			return false, out
		}
	}
	return true, out
}

// The kernel's curl downloads 100 MiB from synfin's HTTP server; curl (the
// kernel) closes first and sits in TIME-WAIT, and synfin's side goes
// through LAST_ACK to nothing.
func TestKernelCurlDownloadsFromSynfin(t *testing.T) {
	requireKernel(t, "curl", "ss")
	ns := newNamespace(t)
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	want := writeRandomFile(t, filepath.Join(www, "big"), bigSize, 1)
	startServe(t, ns, debugAddr, []int{80}, "--tun", "sf0", "--addr", synfinAddr+"/24", "--host-addr", kernelAddr+"/24",
		"--http", ":80", "--dir", www)

	out := filepath.Join(dir, "big.out")
	began := time.Now()
	res := mustRun(t, 5*time.Minute, nsArgs(ns, "curl", "-sS", "--fail", "--max-time", "280", "-o", out,
		"-w", "%{size_download} %{speed_download} %{local_port}", "http://"+synfinAddr+"/big")...)
	took := time.Since(began)
	var size int64
	var speed float64
	var localPort int
	if _, err := fmt.Sscan(res, &size, &speed, &localPort); err != nil {
		t.Fatalf("parsing curl's -w output %q: %v", res, err)
	}
	if size != bigSize {
		t.Fatalf("curl downloaded %d bytes, want %d", size, bigSize)
	}
	if got := sha256File(t, out); !bytes.Equal(got, want) {
		t.Fatalf("sha256 of the download %x, want %x", got, want)
	}
	t.Logf("curl downloaded %d MiB from synfin in %v: %.1f Mbit/s (curl's own average %.1f Mbit/s), sha256 equal",
		size>>20, took.Round(time.Millisecond), mbits(size, took), speed*8/1e6)

	// curl closes first: its side waits in TIME-WAIT...
	kernelTimeWait(t, ns, addrPort(kernelAddr, localPort), addrPort(synfinAddr, 80))
	// ...and synfin's, after CLOSE_WAIT and LAST_ACK, is gone.
	eventually(t, 30*time.Second, "synfin has no connection left", func() (bool, string) { return onlyListeners(ns) })
}

// kernelTimeWait waits for the kernel's side of a connection it closed
// first to be in TIME-WAIT. One other ending is right too: when the
// kernel's ACK of synfin's FIN is late, synfin retransmits the FIN, the
// kernel acknowledges it again from TIME-WAIT, synfin, CLOSED by the first
// ACK, answers with RST, and the RST ends TIME-WAIT (Linux's default,
// tcp_rfc1337=0). That is accepted, and logged, when the connection is
// gone and synfin counts a RST sent.
func kernelTimeWait(t *testing.T, ns, local, peer string) {
	t.Helper()
	var assassinated bool
	eventually(t, 30*time.Second, "kernel ("+local+") in TIME-WAIT", func() (bool, string) {
		rows, out := kernelSockets(t, ns)
		if hasRow(rows, "TIME-WAIT", local, peer) {
			return true, out
		}
		if !hasRow(rows, "", local, peer) {
			var stats struct{ ResetsSent uint64 }
			if json.Unmarshal(getInNS(t, ns, "http://"+debugAddr+"/stats"), &stats) == nil && stats.ResetsSent > 0 {
				assassinated = true
				return true, out
			}
		}
		return false, out
	})
	if assassinated {
		t.Logf("the kernel's TIME-WAIT (%s) was ended by synfin's RST to a duplicate ACK (TIME-WAIT assassination)", local)
	}
}

// getRate matches synfin get's summary line.
var getRate = regexp.MustCompile(`(\d+) bytes in (\S+) \(([\d.]+) Mbit/s\) sha256 ([0-9a-f]{64})`)

// synfin get downloads 100 MiB from python's http.server on the kernel's
// TCP, attaching to a TUN device created beforehand with `ip tuntap add`.
func TestSynfinGetDownloadsFromKernel(t *testing.T) {
	requireKernel(t, "python3", "ss")
	ns := newNamespace(t)
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	want := writeRandomFile(t, filepath.Join(www, "big"), bigSize, 2)

	// The kernel's address must exist before python binds to it, so the
	// device is created (persistent) and configured first; synfin get
	// then opens the existing device.
	mustRun(t, cmdTimeout, "ip", "-n", ns, "tuntap", "add", "dev", "sf1", "mode", "tun")
	mustRun(t, cmdTimeout, "ip", "-n", ns, "addr", "add", kernelAddr+"/24", "dev", "sf1")
	mustRun(t, cmdTimeout, "ip", "-n", ns, "link", "set", "sf1", "up")
	py := start(t, ns, 10*time.Minute, "python3", "-m", "http.server", "8000", "--bind", kernelAddr, "--directory", www)
	server := addrPort(kernelAddr, 8000)
	waitKernelListen(t, ns, server, py)

	out := filepath.Join(dir, "big.out")
	began := time.Now()
	res := mustRun(t, 6*time.Minute, nsArgs(ns, synfinBin, "get", "http://"+server+"/big",
		"--tun", "sf1", "--addr", synfinAddr+"/24", "--timeout", "5m", "-o", out)...)
	took := time.Since(began)
	m := getRate.FindStringSubmatch(res)
	if m == nil {
		t.Fatalf("no summary line in synfin get's output:\n%s", res)
	}
	if m[1] != strconv.Itoa(bigSize) {
		t.Fatalf("synfin get downloaded %s bytes, want %d", m[1], bigSize)
	}
	if m[4] != hex.EncodeToString(want) {
		t.Fatalf("synfin get reports sha256 %s, want %x", m[4], want)
	}
	if got := sha256File(t, out); !bytes.Equal(got, want) {
		t.Fatalf("sha256 of the file written %x, want %x", got, want)
	}
	t.Logf("synfin get downloaded %d MiB from the kernel in %s: %s Mbit/s (%.1f Mbit/s including start-up), sha256 equal",
		bigSize>>20, m[2], m[3], mbits(bigSize, took))

	// http.server speaks HTTP/1.0 and closes first: the kernel ends in
	// TIME-WAIT, having had synfin's FIN in answer to its own.
	eventually(t, 30*time.Second, "kernel (http.server's side) in TIME-WAIT", func() (bool, string) {
		rows, out := kernelSockets(t, ns)
		for _, r := range rows {
			if r.Local == server && r.State != "LISTEN" && r.State != "TIME-WAIT" {
				return false, out
			}
		}
		return hasRow(rows, "TIME-WAIT", server, ""), out
	})
}

// echoClient is the kernel side of TestHalfCloseKernelFirst: it sends the
// file's bytes to the echo service, shuts down its sending side, reads
// until EOF and writes what came back to a file.
const echoClient = `import socket, sys, threading
host, port, infile, outfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(infile, 'rb').read()
s = socket.create_connection((host, port), timeout=60)
print("local_port", s.getsockname()[1], flush=True)
errs = []
def send():
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        errs.append(e)
sender = threading.Thread(target=send)
sender.start()
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sender.join()
if errs:
    raise errs[0]
with open(outfile, 'wb') as f:
    f.write(got)
s.close()
print("received", len(got), flush=True)
`

// The kernel half-closes first: synfin keeps sending after the kernel's
// FIN until the echo is complete, then closes; the kernel ends in
// TIME-WAIT and synfin with no connection.
func TestHalfCloseKernelFirst(t *testing.T) {
	requireKernel(t, "python3", "ss")
	ns := newNamespace(t)
	dir := t.TempDir()
	capture := filepath.Join(dir, "echo.pcapng")
	srv := startServe(t, ns, debugAddr, []int{7}, "--tun", "sf0", "--addr", synfinAddr+"/24", "--host-addr", kernelAddr+"/24",
		"--echo", ":7", "--pcap", capture)

	data := randomBytes(1<<20, 3)
	in, out := filepath.Join(dir, "sent"), filepath.Join(dir, "received")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "echo_client.py", echoClient)
	res := mustRun(t, 2*time.Minute, nsArgs(ns, "python3", script, synfinAddr, "7", in, out)...)
	var localPort int
	if _, err := fmt.Sscanf(res, "local_port %d", &localPort); err != nil {
		t.Fatalf("parsing the client's output %q: %v", res, err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("the echo differs: %d bytes back for %d sent", len(got), len(data))
	}

	kernelTimeWait(t, ns, addrPort(kernelAddr, localPort), addrPort(synfinAddr, 7))
	eventually(t, 30*time.Second, "synfin has no connection left", func() (bool, string) { return onlyListeners(ns) })

	// Stopping synfin flushes its capture, which shows the data it sent
	// after the kernel's FIN.
	if err := srv.stop(); err != nil {
		t.Fatalf("synfin serve did not exit cleanly: %v", err)
	}
	tr := readCapture(t, capture, 7)
	if !tr.peerFIN {
		t.Fatal("no FIN from the kernel in synfin's capture")
	}
	if tr.afterPeerFIN == 0 {
		t.Fatal("synfin sent no data after the kernel's FIN")
	}
	t.Logf("synfin sent %d of the %d echoed bytes after receiving the kernel's FIN; state changes: %s",
		tr.afterPeerFIN, tr.sent, strings.Join(tr.comments, "; "))
	for _, c := range []string{"ESTABLISHED -> CLOSE_WAIT", "CLOSE_WAIT -> LAST_ACK", "LAST_ACK -> CLOSED"} {
		if !tr.hasComment(c) {
			t.Errorf("synfin's capture has no %q state change", c)
		}
	}
}

// captureSummary is what readCapture finds about one port's TCP traffic in
// a capture of synfin's.
type captureSummary struct {
	packets      int
	peerFIN      bool     // synfin received a FIN
	sent         int      // payload bytes synfin sent
	afterPeerFIN int      // of which after the first FIN it received
	comments     []string // synfin's state-change comments, in order
}

func (s captureSummary) hasComment(c string) bool {
	for _, x := range s.comments {
		if strings.Contains(x, c) {
			return true
		}
	}
	return false
}

// readCapture reads synfin's pcapng file with link/pcap and summarises the
// IPv4 TCP traffic of synfin's port.
func readCapture(t *testing.T, path string, port uint16) captureSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcap.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var s captureSummary
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		b, err := p.IP()
		if err != nil || len(b) == 0 || b[0]>>4 != 4 {
			continue
		}
		ip, err := wire.ParseIPv4(b)
		if err != nil || ip.Protocol() != wire.ProtoTCP {
			continue
		}
		seg, err := wire.ParseTCP(ip.Payload())
		if err != nil {
			continue
		}
		switch {
		case p.Direction == pcap.In && seg.DstPort() == port:
			if seg.Flags().Has(wire.FlagFIN) {
				s.peerFIN = true
			}
		case p.Direction == pcap.Out && seg.SrcPort() == port:
			n := len(seg.Payload())
			s.sent += n
			if s.peerFIN {
				s.afterPeerFIN += n
			}
		default:
			continue
		}
		s.packets++
		if p.Comment != "" {
			s.comments = append(s.comments, p.Comment)
		}
	}
	return s
}

// closeWaitServer is the kernel side of TestHalfCloseSynfinFirst: it reads
// until EOF (synfin's FIN) and saves what it read, then waits for the
// release file (CLOSE-WAIT, for the test to observe), sends the payload
// and closes.
const closeWaitServer = `import os, socket, sys, time
host, port, upload_out, payload_in, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
payload = open(payload_in, 'rb').read()
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(1)
ls.settimeout(60)
c, peer = ls.accept()
ls.close()
c.settimeout(60)
got = bytearray()
while True:
    b = c.recv(65536)
    if not b:
        break
    got += b
with open(upload_out, 'wb') as f:
    f.write(got)
print("eof after", len(got), "bytes from", peer, flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(release):
    if time.monotonic() > deadline:
        sys.exit("never released")
    time.sleep(0.01)
c.sendall(payload)
c.close()
print("sent", len(payload), flush=True)
`

// segmentLog is a stack.Capture that keeps a line per packet, with the
// state changes it caused, for the checks and the failure message.
type segmentLog struct {
	mu      sync.Mutex
	entries []segmentEntry
}

type segmentEntry struct {
	out     bool
	flags   wire.TCPFlags
	comment string
	line    string
}

func (l *segmentLog) CapturePacket(ts time.Duration, out bool, pkt []byte, comment string) {
	e := segmentEntry{out: out, comment: comment}
	e.line = fmt.Sprintf("%10.6f ", ts.Seconds())
	if out {
		e.line += "out "
	} else {
		e.line += "in  "
	}
	if ip, err := wire.ParseIPv4(pkt); err == nil && ip.Protocol() == wire.ProtoTCP {
		if seg, err := wire.ParseTCP(ip.Payload()); err == nil {
			e.flags = seg.Flags()
			e.line += fmt.Sprintf("%d > %d [%v] seq %d ack %d win %d len %d", seg.SrcPort(), seg.DstPort(), seg.Flags(),
				seg.Seq(), seg.Ack(), seg.Window(), len(seg.Payload()))
		}
	} else {
		e.line += fmt.Sprintf("%d bytes, not IPv4 TCP", len(pkt))
	}
	if comment != "" {
		e.line += "  # " + comment
	}
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// changed reports whether a packet caused the state change c
// ("FIN_WAIT_2 -> TIME_WAIT").
func (l *segmentLog) changed(c string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if strings.Contains(e.comment, c) {
			return true
		}
	}
	return false
}

// resetInTimeWait reports whether a RST from the peer ended TIME_WAIT.
func (l *segmentLog) resetInTimeWait() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if !e.out && e.flags.Has(wire.FlagRST) && strings.Contains(e.comment, "TIME_WAIT -> CLOSED") {
			return true
		}
	}
	return false
}

// tail returns the last n lines of the log.
func (l *segmentLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for _, e := range l.entries[max(0, len(l.entries)-n):] {
		lines = append(lines, e.line)
	}
	return strings.Join(lines, "\n")
}

// String returns the log, eliding the middle of a long one.
func (l *segmentLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for i, e := range l.entries {
		if n := len(l.entries); n > 120 && i >= 20 && i < n-100 {
			if i == 20 {
				lines = append(lines, fmt.Sprintf("... %d packets ...", n-120))
			}
			continue
		}
		lines = append(lines, e.line)
	}
	return strings.Join(lines, "\n")
}

// synfinRow finds a connection in the stack's sockets table.
func synfinRow(st *stack.Stack, local, remote netip.AddrPort) (stack.Socket, bool, string) {
	rows := st.Sockets()
	for _, r := range rows {
		if r.Local == local && r.Remote == remote {
			return r, true, stack.FormatSS(rows)
		}
	}
	return stack.Socket{}, false, stack.FormatSS(rows)
}

// synfin, in-process on a TUN device in the namespace, half-closes first:
// the kernel is seen in CLOSE-WAIT and synfin in FIN_WAIT_2, the kernel
// then sends 1 MiB and closes; synfin ends in TIME_WAIT and the kernel's
// socket goes from LAST-ACK to nothing.
func TestHalfCloseSynfinFirst(t *testing.T) {
	requireKernel(t, "python3", "ss")
	ns := newNamespace(t)
	const dev, port = "sf2", 8002
	kernel := netip.MustParseAddrPort("10.99.2.1:8002")
	ep, err := tun.Open(dev, tun.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	mustRun(t, cmdTimeout, "ip", "-n", ns, "addr", "add", "10.99.2.1/24", "dev", dev)
	mustRun(t, cmdTimeout, "ip", "-n", ns, "link", "set", dev, "up")
	trace := &segmentLog{}
	st, err := stack.New(stack.Options{Capture: trace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("synfin's segments and state changes:\n%s\nstats %+v", trace, st.Stats())
		}
		st.Close()
	})
	nic, err := st.AddInterface(dev, ep, netip.MustParsePrefix("10.99.2.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddRoute(stack.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), NIC: nic}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	upload, payload := randomBytes(256<<10, 4), randomBytes(1<<20, 5)
	uploadOut, payloadIn, release := filepath.Join(dir, "upload"), filepath.Join(dir, "payload"), filepath.Join(dir, "release")
	if err := os.WriteFile(payloadIn, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "close_wait_server.py", closeWaitServer)
	py := start(t, ns, 2*time.Minute, "python3", script, kernel.Addr().String(), strconv.Itoa(port), uploadOut, payloadIn, release)
	waitKernelListen(t, ns, kernel.String(), py)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := st.DialContext(ctx, "tcp", kernel.String())
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*stack.TCPConn)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(time.Minute))
	local := netip.MustParseAddrPort(tc.LocalAddr().String())
	if n, err := tc.Write(upload); err != nil || n != len(upload) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}

	// Between the two FINs: the kernel has read synfin's FIN and waits for
	// its application (CLOSE-WAIT); synfin's FIN is acknowledged and it
	// waits for the kernel's (FIN_WAIT_2).
	eventually(t, 30*time.Second, "kernel in CLOSE-WAIT", func() (bool, string) {
		rows, out := kernelSockets(t, ns)
		return hasRow(rows, "CLOSE-WAIT", kernel.String(), local.String()), out
	})
	eventually(t, 30*time.Second, "synfin in FIN_WAIT_2", func() (bool, string) {
		r, ok, table := synfinRow(st, local, kernel)
		return ok && r.State == tcp.FinWait2, table
	})
	t.Logf("half-closed by synfin: kernel in CLOSE-WAIT, synfin in FIN_WAIT_2")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := io.ReadAll(tc)
	if err != nil {
		t.Fatalf("reading the kernel's data in FIN_WAIT_2: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, not the %d sent", len(got), len(payload))
	}
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := py.wait(t, 30*time.Second); err != nil {
		t.Fatalf("the python server failed: %v\n%s", err, py.out.String())
	}
	if b, err := os.ReadFile(uploadOut); err != nil || !bytes.Equal(b, upload) {
		t.Fatalf("the kernel received %d bytes (%v), not synfin's %d", len(b), err, len(upload))
	}

	// synfin closed first: TIME_WAIT on its side; the kernel's LAST-ACK
	// socket is closed by synfin's ACK of its FIN.
	if !trace.changed("FIN_WAIT_2 -> TIME_WAIT") {
		t.Fatalf("the kernel's FIN did not take synfin from FIN_WAIT_2 to TIME_WAIT:\n%s", trace)
	}
	eventually(t, 30*time.Second, "synfin in TIME_WAIT", func() (bool, string) {
		r, ok, table := synfinRow(st, local, kernel)
		return ok && r.State == tcp.TimeWait || trace.resetInTimeWait(), table
	})
	if trace.resetInTimeWait() {
		// When synfin's ACK of the kernel's FIN is late (a loaded
		// machine), the kernel retransmits the FIN; synfin acknowledges
		// it again from TIME_WAIT, the kernel, CLOSED by the first ACK,
		// answers that with RST, and the RST ends TIME_WAIT (RFC 9293;
		// Linux too, with the default tcp_rfc1337=0).
		t.Logf("the kernel reset synfin's TIME_WAIT after a retransmitted FIN (TIME-WAIT assassination); the last segments:\n%s", trace.tail(8))
	}
	eventually(t, 30*time.Second, "kernel has no socket left on port 8002", func() (bool, string) {
		rows, out := kernelSockets(t, ns)
		return len(rowsWithPort(rows, port)) == 0, out
	})
	_, _, table := synfinRow(st, local, kernel)
	t.Logf("synfin's sockets at the end:\n%s", table)
}

// pingCounts matches ping's summary.
var pingCounts = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// The kernel's ping, IPv4 and IPv6, is answered by synfin.
func TestPingSynfin(t *testing.T) {
	requireKernel(t, "ping")
	ns := newNamespace(t)
	const debug6 = "127.0.0.1:6061"
	startServe(t, ns, debugAddr, []int{7}, "--tun", "sf0", "--addr", synfinAddr+"/24", "--host-addr", kernelAddr+"/24", "--echo", ":7")
	startServe(t, ns, debug6, []int{7}, "--tun", "sf6", "--addr", "fd99::2/64", "--host-addr", "fd99::1/64", "--echo", ":7")
	for _, c := range []struct {
		name, debug string
		args        []string
	}{
		// -w: ping waits (up to 20 s) until 3 echoes are answered rather
		// than giving up on a reply slower than its 1 s interval, which a
		// machine loaded by parallel tests can cause; the loss, if any, is
		// logged.
		{"IPv4", debugAddr, []string{"ping", "-c", "3", "-W", "2", "-w", "20", synfinAddr}},
		{"IPv6", debug6, []string{"ping", "-6", "-c", "3", "-W", "2", "-w", "20", "fd99::2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(30*time.Second, nsArgs(ns, c.args...)...)
			var sent, received int
			if m := pingCounts.FindStringSubmatch(out); m != nil {
				sent, _ = strconv.Atoi(m[1])
				received, _ = strconv.Atoi(m[2])
			}
			if err != nil || received < 3 {
				t.Fatalf("ping: %v; %d of %d echoes answered:\n%s", err, received, sent, out)
			}
			if sent > received {
				t.Logf("%d echo requests for %d replies: some reply was late or lost:\n%s", sent, received, out)
			}
			var stats struct{ ICMPEchoReplies uint64 }
			if err := json.Unmarshal(getInNS(t, ns, "http://"+c.debug+"/stats"), &stats); err != nil {
				t.Fatal(err)
			}
			if stats.ICMPEchoReplies < 3 {
				t.Fatalf("synfin counts %d echo replies, want 3", stats.ICMPEchoReplies)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			t.Logf("%s; synfin sent %d echo replies", lines[len(lines)-1], stats.ICMPEchoReplies)
		})
	}
}

// The capture of synfin serve --pcap opens in tshark: no malformed packet,
// no bad checksum, and synfin's state changes as packet comments.
func TestSynfinPcapOpensInTshark(t *testing.T) {
	requireKernel(t, "curl", "tshark")
	ns := newNamespace(t)
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	want := writeRandomFile(t, filepath.Join(www, "small"), 1<<20, 6)
	capture := filepath.Join(dir, "serve.pcapng")
	srv := startServe(t, ns, debugAddr, []int{80}, "--tun", "sf0", "--addr", synfinAddr+"/24", "--host-addr", kernelAddr+"/24",
		"--http", ":80", "--dir", www, "--pcap", capture)
	out := filepath.Join(dir, "small.out")
	mustRun(t, time.Minute, nsArgs(ns, "curl", "-sS", "--fail", "--max-time", "50", "-o", out, "http://"+synfinAddr+"/small")...)
	if got := sha256File(t, out); !bytes.Equal(got, want) {
		t.Fatalf("sha256 of the download %x, want %x", got, want)
	}
	eventually(t, 30*time.Second, "synfin has no connection left", func() (bool, string) { return onlyListeners(ns) })
	if err := srv.stop(); err != nil {
		t.Fatalf("synfin serve did not exit cleanly: %v", err)
	}
	ours := readCapture(t, capture, 80)

	// tshark reads the file itself: the host namespace is not involved.
	tshark := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", capture}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	fields := strings.Split(strings.TrimSpace(tshark("-T", "fields", "-e", "frame.number", "-e", "tcp.srcport", "-e", "frame.comment")), "\n")
	var tcpPackets int
	var comments []string
	for _, line := range fields {
		f := strings.SplitN(line, "\t", 3)
		if len(f) == 3 && f[1] != "" {
			tcpPackets++
		}
		if len(f) == 3 && f[2] != "" {
			comments = append(comments, f[2])
		}
	}
	if tcpPackets != ours.packets {
		t.Errorf("tshark sees %d TCP packets, link/pcap %d", tcpPackets, ours.packets)
	}
	joined := strings.Join(comments, "; ")
	for _, c := range []string{"LISTEN -> SYN_RCVD", "SYN_RCVD -> ESTABLISHED", "ESTABLISHED -> CLOSE_WAIT", "CLOSE_WAIT -> LAST_ACK", "LAST_ACK -> CLOSED"} {
		if !strings.Contains(joined, c) {
			t.Errorf("tshark shows no %q comment; comments: %s", c, joined)
		}
	}
	bad := strings.TrimSpace(tshark("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-Y", `_ws.malformed || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad"`))
	if bad != "" {
		t.Errorf("tshark finds malformed packets or bad checksums:\n%s", bad)
	}
	t.Logf("tshark read %d packets (%d TCP) with %d state-change comments: %s", len(fields), tcpPackets, len(comments), joined)
}

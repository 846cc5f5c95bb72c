//go:build linux

package tun

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/wire"
)

// Every goroutine of the endpoint and of the wireguard device is gone after
// Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Addresses: the kernel's side of the TUN and the side the test plays.
var (
	kernelAddr = netip.MustParseAddr("10.99.0.1")
	peerAddr   = netip.MustParseAddr("10.99.0.2")
)

const devName = "synfin0"

// requireTUN skips the test outside CI when it cannot create TUN devices
// and network namespaces; under CI=true it fails instead, so that the TUN
// tests cannot silently stop running.
func requireTUN(t *testing.T) {
	t.Helper()
	var reason string
	if os.Geteuid() != 0 {
		reason = "not running as root"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		reason = "no /dev/net/tun"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "no ip command (iproute2)"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("TUN test cannot run under CI: %s", reason)
	}
	t.Skipf("needs root, /dev/net/tun and iproute2: %s", reason)
}

var nsCount atomic.Int32

// netns creates a network namespace for the test and deletes it at cleanup.
// Everything the test configures lives in it; the host namespace is never
// touched.
func netns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("synfin-linktest-%d-%d", os.Getpid(), nsCount.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNS runs f on an OS thread inside the namespace, for creating sockets
// there (a socket belongs to the namespace it was created in, wherever it
// is used afterwards).
func inNS(t *testing.T, ns string, f func() error) {
	t.Helper()
	if err := inNamespace(ns, f); err != nil {
		t.Fatal(err)
	}
}

// openInNS creates the TUN device in a fresh namespace, gives the kernel's
// side 10.99.0.1/24 and brings it up.
func openInNS(t *testing.T, mtu int) (*Endpoint, string) {
	t.Helper()
	requireTUN(t)
	ns := netns(t)
	ep, err := Open(devName, Options{MTU: mtu, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	if ep.Name() != devName || ep.MTU() != mtu {
		t.Fatalf("Name %q MTU %d", ep.Name(), ep.MTU())
	}
	run(t, "ip", "-n", ns, "addr", "add", kernelAddr.String()+"/24", "dev", devName)
	run(t, "ip", "-n", ns, "link", "set", devName, "up")
	t.Logf("batch size %d", ep.BatchSize())
	return ep, ns
}

// packets is a Dispatcher that passes copies of the IPv4 packets it gets to
// a channel, ignoring the rest (IPv6 router solicitations and the like).
type packets chan []byte

func (c packets) DeliverPackets(pkts [][]byte) {
	for _, p := range pkts {
		if len(p) > 0 && p[0]>>4 == 4 {
			c <- bytes.Clone(p)
		}
	}
}

// next returns the next IPv4 packet for which keep is true.
func (c packets) next(t *testing.T, keep func(wire.IPv4) bool) wire.IPv4 {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-c:
			ip, err := wire.ParseIPv4(p)
			if err != nil {
				t.Fatalf("the kernel sent a malformed IPv4 packet: %v: %x", err, p)
			}
			if keep(ip) {
				return ip
			}
		case <-deadline:
			t.Fatal("timed out waiting for a packet from the kernel")
		}
	}
}

func icmpChecksum(b []byte) uint16 { return wire.FoldChecksum(wire.Checksum(b, 0)) }

// echo builds an ICMP echo message (type 8 request, 0 reply).
func echo(typ byte, id, seq uint16, data []byte) []byte {
	m := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}
	m = append(m, data...)
	binary.BigEndian.PutUint16(m[2:], icmpChecksum(m))
	return m
}

// The kernel pings an address routed to the TUN; the test reads the echo
// request from the Endpoint and writes back an echo reply, which the
// kernel's ICMP socket then receives: both directions work.
func TestPing(t *testing.T) {
	ep, ns := openInNS(t, 1400)
	in := make(packets, 100)
	ep.Attach(in)

	// Kernel side: a raw ICMP socket in the namespace (no ping binary
	// needed), sending an echo request to 10.99.0.2, routed to the TUN.
	var sock int
	inNS(t, ns, func() (err error) {
		sock, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	defer unix.Close(sock)
	if err := unix.SetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
		t.Fatal(err)
	}
	payload := []byte("synfin link/tun ping")
	dst := &unix.SockaddrInet4{Addr: peerAddr.As4()}
	if err := unix.Sendto(sock, echo(8, 0x5f5f, 1, payload), 0, dst); err != nil {
		t.Fatal(err)
	}

	// Our side: the request comes out of the TUN.
	req := in.next(t, func(ip wire.IPv4) bool { return ip.Protocol() == wire.ProtoICMP && ip.Dst() == peerAddr })
	if req.Src() != kernelAddr || !req.ChecksumValid() {
		t.Fatalf("echo request from %v, header checksum valid %v", req.Src(), req.ChecksumValid())
	}
	msg := req.Payload()
	if len(msg) < 8 || msg[0] != 8 || icmpChecksum(msg) != 0 || !bytes.Equal(msg[8:], payload) {
		t.Fatalf("not our echo request: %x", msg)
	}
	id, seq := binary.BigEndian.Uint16(msg[4:]), binary.BigEndian.Uint16(msg[6:])

	// The reply, built by hand, goes back in.
	reply := echo(0, id, seq, msg[8:])
	pkt, err := wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtoICMP, Src: peerAddr, Dst: kernelAddr}, len(reply))
	if err != nil {
		t.Fatal(err)
	}
	pkt = append(pkt, reply...)
	if n, err := ep.WritePackets([][]byte{pkt}); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}

	// The kernel takes it as the answer to its ping.
	buf := make([]byte, 1500)
	for {
		n, _, err := unix.Recvfrom(sock, buf, 0)
		if err != nil {
			t.Fatalf("no echo reply reached the kernel's socket: %v", err)
		}
		ip, err := wire.ParseIPv4(buf[:n])
		if err != nil {
			continue
		}
		m := ip.Payload()
		if ip.Src() == peerAddr && len(m) >= 8 && m[0] == 0 && binary.BigEndian.Uint16(m[4:]) == id {
			if !bytes.Equal(m[8:], payload) {
				t.Fatalf("echo reply payload %q", m[8:])
			}
			break
		}
	}
	s := ep.Stats()
	if s.TxPackets != 1 || s.RxPackets < 1 || s.TxErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// The device is created in the namespace, not in the host's.
func TestDeviceLivesInNamespace(t *testing.T) {
	_, ns := openInNS(t, 1500)
	run(t, "ip", "-n", ns, "link", "show", devName)
	if _, err := net.InterfaceByName(devName); err == nil {
		t.Errorf("a link named %s appeared in the host namespace", devName)
	}
}

func TestCloseSemantics(t *testing.T) {
	ep, ns := openInNS(t, 1500)
	in := make(packets, 100)
	ep.Attach(in)
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ep.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, err := ep.WritePackets([][]byte{{0x45}}); n != 0 || !errors.Is(err, link.ErrClosed) {
		t.Fatalf("WritePackets after Close = %d, %v; want link.ErrClosed", n, err)
	}
	// The device went with its file descriptor.
	if out, err := exec.Command("ip", "-n", ns, "link", "show", devName).CombinedOutput(); err == nil {
		t.Errorf("device still there after Close:\n%s", out)
	}
	ep.Attach(in) // after Close: nothing happens
}

func TestDrops(t *testing.T) {
	ep, _ := openInNS(t, 1280)
	ep.Attach(make(packets, 100))
	big := make([]byte, 1281)
	big[0] = 0x45
	if n, err := ep.WritePackets([][]byte{big, nil}); n != 2 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	if s := ep.Stats(); s.DropTooBig != 1 || s.DropEmpty != 1 || s.TxPackets != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("x", Options{MTU: 20}); err == nil {
		t.Error("MTU 20 accepted")
	}
	if _, err := Open("x", Options{Namespace: "synfin-linktest-does-not-exist"}); err == nil {
		t.Error("a missing namespace accepted")
	}
}

// tcpPeer plays a minimal TCP peer at 10.99.0.2 by hand, against a kernel
// socket in the namespace.
type tcpPeer struct {
	t          *testing.T
	ep         *Endpoint
	in         packets
	sport      uint16
	dport      uint16
	sndNxt     uint32
	rcvNxt     uint32
	kernelPort uint16
}

func (p *tcpPeer) segment(flags wire.TCPFlags, seq uint32, opts *wire.TCPOptions, payload []byte) []byte {
	h := wire.TCPHeader{SrcPort: p.sport, DstPort: p.dport, Seq: seq, Ack: p.rcvNxt, Flags: flags, Window: 65535}
	seg := wire.BuildTCP(nil, &h, opts, payload)
	wire.TCP(seg).FillChecksum(peerAddr, kernelAddr)
	pkt, err := wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtoTCP, Flags: wire.IPv4DontFragment, Src: peerAddr, Dst: kernelAddr}, len(seg))
	if err != nil {
		p.t.Fatal(err)
	}
	return append(pkt, seg...)
}

func (p *tcpPeer) write(pkts ...[]byte) {
	p.t.Helper()
	if n, err := p.ep.WritePackets(pkts); n != len(pkts) || err != nil {
		p.t.Fatalf("WritePackets = %d, %v", n, err)
	}
}

// next returns the next segment of the connection, checking what the
// offload path must guarantee: within the MTU, checksums right.
func (p *tcpPeer) next() wire.TCP {
	p.t.Helper()
	ip := p.in.next(p.t, func(ip wire.IPv4) bool {
		if ip.Protocol() != wire.ProtoTCP || ip.Dst() != peerAddr {
			return false
		}
		seg, err := wire.ParseTCP(ip.Payload())
		return err == nil && seg.DstPort() == p.sport
	})
	if len(ip) > p.ep.MTU() {
		p.t.Fatalf("a %d-byte packet came through a %d MTU link", len(ip), p.ep.MTU())
	}
	if !ip.ChecksumValid() {
		p.t.Fatalf("bad IPv4 header checksum")
	}
	seg, _ := wire.ParseTCP(ip.Payload())
	if !seg.VerifyChecksum(ip.Src(), ip.Dst()) {
		p.t.Fatalf("bad TCP checksum on a segment of %d bytes", len(seg.Payload()))
	}
	return seg
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251 + seed)
	}
	return b
}

// TCP between a kernel socket and a hand-played peer through the TUN: the
// kernel's TSO super-packets arrive split into valid MTU-sized segments,
// and a burst of segments written in one batch (which the device coalesces
// when it can) reaches the kernel socket intact.
func TestTCPThroughOffloads(t *testing.T) {
	ep, ns := openInNS(t, 1500)
	in := make(packets, 4096)
	ep.Attach(in)

	var ln net.Listener
	inNS(t, ns, func() (err error) {
		ln, err = net.Listen("tcp4", kernelAddr.String()+":5001")
		return err
	})
	defer ln.Close()
	type result struct {
		got []byte
		err error
	}
	const upload, download = 40 * 1000, 300 * 1000
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		got := make([]byte, upload)
		if _, err := io.ReadFull(c, got); err != nil {
			done <- result{err: err}
			return
		}
		_, err = c.Write(pattern(download, 3))
		done <- result{got: got, err: err}
	}()

	p := &tcpPeer{t: t, ep: ep, in: in, sport: 40000, dport: 5001, sndNxt: 1000}
	p.write(p.segment(wire.FlagSYN, p.sndNxt, &wire.TCPOptions{HasMSS: true, MSS: 1460}, nil))
	synack := p.next()
	if synack.Flags() != wire.FlagSYN|wire.FlagACK || synack.Ack() != p.sndNxt+1 {
		t.Fatalf("expected SYN-ACK, got %v ack %d", synack.Flags(), synack.Ack())
	}
	p.sndNxt++
	p.rcvNxt = synack.Seq() + 1
	before := kernelRxPackets(t, ns)

	// The ACK and 40 data segments of 1000 bytes, in one WritePackets.
	data := pattern(upload, 1)
	batch := [][]byte{p.segment(wire.FlagACK, p.sndNxt, nil, nil)}
	for off := 0; off < upload; off += 1000 {
		flags := wire.FlagACK
		if off+1000 == upload {
			flags |= wire.FlagPSH
		}
		batch = append(batch, p.segment(flags, p.sndNxt+uint32(off), nil, data[off:off+1000]))
	}
	p.write(batch...)
	p.sndNxt += upload
	if ep.BatchSize() > 1 {
		// The kernel counts a coalesced write as one packet received.
		if got := kernelRxPackets(t, ns) - before; got >= uint64(len(batch)) {
			t.Errorf("the kernel received %d packets for the %d written: no coalescing", got, len(batch))
		} else {
			t.Logf("%d segments written, the kernel received %d packets", len(batch), got)
		}
	}

	// Receive the download, acknowledging as it comes.
	var got []byte
	for len(got) < download {
		seg := p.next()
		payload := seg.Payload()
		if d := int32(p.rcvNxt - seg.Seq()); d > 0 {
			// A retransmission of what we have: keep only what is new.
			payload = payload[min(int(d), len(payload)):]
		} else if d < 0 {
			t.Fatalf("segment at %d, expected %d: reordered or lost", seg.Seq(), p.rcvNxt)
		}
		got = append(got, payload...)
		p.rcvNxt += uint32(len(payload))
		if len(in) == 0 { // acknowledge at the end of what is queued
			p.write(p.segment(wire.FlagACK, p.sndNxt, nil, nil))
		}
	}
	p.write(p.segment(wire.FlagACK, p.sndNxt, nil, nil))
	if !bytes.Equal(got, pattern(download, 3)) {
		t.Fatal("downloaded bytes differ")
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !bytes.Equal(r.got, data) {
		t.Fatal("uploaded bytes differ")
	}
	s := ep.Stats()
	t.Logf("stats %+v", s)
	if ep.BatchSize() > 1 && s.RxPackets <= s.RxReads {
		t.Errorf("%d packets in %d reads: the kernel sent no TSO super-packet", s.RxPackets, s.RxReads)
	}
	// RST the connection so that the kernel does not retransmit into a
	// closed device.
	p.write(p.segment(wire.FlagRST|wire.FlagACK, p.sndNxt, nil, nil))
}

// kernelRxPackets reads the device's received-packets counter.
func kernelRxPackets(t *testing.T, ns string) uint64 {
	t.Helper()
	out := run(t, "ip", "-n", ns, "-s", "-j", "link", "show", "dev", devName)
	var links []struct {
		Stats64 struct {
			Rx struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("parsing ip -j output: %v: %s", err, out)
	}
	return links[0].Stats64.Rx.Packets
}

// Writers on several goroutines and the reader run while Close happens
// (run with -race): writes end with link.ErrClosed, and nothing is
// delivered once Close has returned.
func TestCloseWhileBusy(t *testing.T) {
	ep, _ := openInNS(t, 1500)
	var closed atomic.Bool
	var late atomic.Int32
	ep.Attach(dispatchFunc(func([][]byte) {
		if closed.Load() {
			late.Add(1)
		}
	}))
	// Echo requests to the kernel's own address: it answers each into
	// the TUN, so the reader is busy too.
	req := echo(8, 1, 1, make([]byte, 100))
	pkt, _ := wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: wire.ProtoICMP, Src: peerAddr, Dst: kernelAddr}, len(req))
	pkt = append(pkt, req...)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			batch := [][]byte{pkt, pkt, pkt, pkt}
			for {
				if _, err := ep.WritePackets(batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	for range 4 {
		if err := <-errs; !errors.Is(err, link.ErrClosed) {
			t.Errorf("a writer stopped with %v, want link.ErrClosed", err)
		}
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d deliveries after Close returned", n)
	}
	s := ep.Stats()
	t.Logf("stats %+v", s)
	if s.TxPackets == 0 || s.RxPackets == 0 {
		t.Errorf("no traffic before Close: %+v", s)
	}
}

type dispatchFunc func([][]byte)

func (f dispatchFunc) DeliverPackets(p [][]byte) { f(p) }

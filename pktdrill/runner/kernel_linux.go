//go:build linux

package runner

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/synfin/synfin/pktdrill"
	"github.com/synfin/synfin/wire"
)

// Kernel returns the target that runs scripts against the Linux kernel, in
// real time, as packetdrill does: each run gets a network namespace of its
// own (ip netns add synfin-pd-<random>), deleted afterwards with every
// process left in it, holding a TUN device tun0 (IFF_VNET_HDR with TSO
// offloads, so the kernel hands over TSO super-packets as it does to
// packetdrill) with the local address (192.168.0.1/16), loopback up and a
// route for the remote prefix (192.0.2.0/24 via 192.168.0.1). Timing is
// packetdrill's: outbound packets are sniffed by a packet socket on tun0,
// which stamps each with the time the kernel sent it and wakes the
// runner's thread directly (tun0 itself is only drained), and waits for an
// event sleep until 20 µs before it and spin the rest. Scripts time the
// packets they inject from what they sniffed, and the kernel's RTT samples
// follow: wake-up latencies of a few hundred microseconds were enough to
// make RACK treat the ACK of a retransmission differently from run to run
// (eor/no-coalesce-retrans.pkt failed a third of its runs). System calls
// run for real on OS threads that have entered the namespace; blocking ones
// are detected as packetdrill does (the thread sleeps in the call). Shell
// commands run with sh inside the namespace, from the script's directory,
// with ${PPID} and PACKETDRILL_PID giving a per-run identifier;
// references to common/defaults.sh run an equivalent script
// (PacketdrillDefaults, the TCP metrics flush and the pfifo qdisc).
//
// Nothing is done in the host's namespace: this matters on machines whose
// own interface is in the remote prefix. Needs root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN) and /dev/net/tun.
//
// Two deviations make the namespace the configuration the scripts expect:
// when the namespace refuses net.ipv4.tcp_congestion_control=cubic (a child
// namespace may only pick an algorithm the host's
// tcp_allowed_congestion_control lists), every socket the script creates
// gets the wanted algorithm with setsockopt(TCP_CONGESTION), which root may
// do; and when ethtool is not installed, `ethtool -K tun0 tso off ...` is
// done on the TUN device directly (TUNSETOFFLOAD). Writes to
// /sys/module/*/parameters (global to the machine) are only accepted when
// they do not change the value.
func Kernel() Target { return kernelTarget{} }

func init() { RegisterTarget("kernel", Kernel) }

type kernelTarget struct{}

func (kernelTarget) Name() string { return "kernel" }

// virtio_net_hdr and TUN constants.
const (
	vnetHdrLen         = 10
	vnetFlagNeedsCsum  = 1
	vnetGSOTCPv4       = 1
	tunFCSUM           = 0x01
	tunFTSO4           = 0x02
	tunFTSO6           = 0x04
	tunFTSOECN         = 0x08
	kernelMaxPacket    = 65536 + vnetHdrLen
	kernelReadInterval = 50 // ms between checks for Close in the reader
	// kernelSpin is how long before an event the runner stops sleeping
	// and spins (packetdrill's MAX_SPIN_USECS).
	kernelSpin = 20 * time.Microsecond
)

type kernelPacket struct {
	data []byte
	at   time.Duration
}

type kernelInstance struct {
	cfg   *Config
	log   io.Writer
	ns    string
	nsFD  int
	tunFD int
	dir   string    // scratch directory: defaults.sh, nstat history
	id    string    // per-run identifier for ${PPID} and PACKETDRILL_PID
	mono0 int64     // CLOCK_MONOTONIC at time 0, ns
	wall0 time.Time // the wall clock at time 0 (for SO_TIMESTAMPING)

	// pktFD is a packet socket on tun0 that sniffs what the kernel sends,
	// as packetdrill's does: each packet comes with the time the kernel
	// handed it to the device, not the later time the runner got to it
	// (-1: no packet socket; packets are then read from tunFD and stamped
	// when read). Only the runner's thread reads it (NextPacket), into
	// snifBuf and snifOOB.
	pktFD            int
	pktIfindex       int
	snifBuf, snifOOB []byte

	restoreSched func() // undoes the real-time priority of the caller's thread
	hostNS       int    // the caller's thread's own namespace, to go back to

	mu     sync.Mutex
	queue  []kernelPacket
	evfd   int // eventfd: written when a packet arrives or a call returns
	evMu   sync.Mutex
	stop   chan struct{}
	readWG sync.WaitGroup
	rerr   error

	fdMu     sync.Mutex
	fds      map[int]int // script fd -> live fd
	shadowed []int       // live fds whose script number was reused
	wantCC   string      // congestion control the script wants, if the namespace refused it
	calls    sync.WaitGroup
	closed   bool
	hostIno  uint64
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (kernelTarget) Open(cfg *Config) (Instance, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the kernel target needs root (network namespaces and TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("the kernel target needs iproute2's ip: %w", err)
	}
	k := &kernelInstance{
		cfg:   cfg,
		log:   cfg.Log,
		nsFD:  -1,
		tunFD: -1,
		pktFD: -1,
		id:    randomHex(4),
		fds:   map[int]int{},
		evfd:  -1,
		stop:  make(chan struct{}),
	}
	if k.log == nil {
		k.log = io.Discard
	}
	k.ns = "synfin-pd-" + k.id
	// Like packetdrill, run at a (low) real-time priority for precise
	// timing on a busy machine: the runner's goroutine, which makes every
	// Instance call, is locked to its thread until Close.
	// With more Ps than busy threads, a goroutine started for a blocking
	// call, or one woken from a system call, finds an idle P at once
	// instead of waiting for the runtime's monitor (up to 10 ms).
	if runtime.GOMAXPROCS(0) < 8 {
		runtime.GOMAXPROCS(8)
	}
	runtime.LockOSThread()
	k.restoreSched = setRealtime()
	hostNS, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		k.restoreSched()
		runtime.UnlockOSThread()
		return nil, err
	}
	k.hostNS = hostNS
	if err := k.setup(); err != nil {
		k.teardown()
		k.leave()
		return nil, err
	}
	// The runner's thread works inside the namespace from now on: calls
	// the script does not expect to block run on it directly.
	if err := k.enter(); err != nil {
		k.teardown()
		k.leave()
		return nil, err
	}
	k.mono0 = monotonic()
	k.wall0 = time.Now()
	k.readWG.Add(1)
	go k.reader()
	return k, nil
}

// monotonic reads CLOCK_MONOTONIC in nanoseconds.
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// setRealtime gives the calling thread the lowest SCHED_RR priority, as
// packetdrill does for its threads when the machine has more than one CPU
// (children it forks go back to the normal policy). It returns a function
// that restores the thread's policy.
func setRealtime() func() {
	noop := func() {}
	if runtime.NumCPU() <= 1 {
		return noop
	}
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return noop
	}
	const resetOnFork = 0x01 // SCHED_FLAG_RESET_ON_FORK
	if err := unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_RR, Priority: 1, Flags: resetOnFork}, 0); err != nil {
		return noop
	}
	return func() { unix.SchedSetAttr(0, old, 0) }
}

func nsIno(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func (k *kernelInstance) ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (k *kernelInstance) setup() error {
	var err error
	if k.hostIno, err = nsIno("/proc/self/ns/net"); err != nil {
		return err
	}
	if k.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if err := k.ipCmd("netns", "add", k.ns); err != nil {
		return err
	}
	k.nsFD, err = unix.Open("/var/run/netns/"+k.ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", k.ns, err)
	}
	if ino, err := nsIno("/var/run/netns/" + k.ns); err != nil || ino == k.hostIno {
		return fmt.Errorf("namespace %s is not a new network namespace", k.ns)
	}
	if k.dir, err = os.MkdirTemp("", "synfin-pd-"+k.id+"-"); err != nil {
		return err
	}
	// The TUN device is created by a thread inside the namespace.
	err = k.inNamespace(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("opening /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq("tun0")
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF tun0: %w", err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCSUM|tunFTSO4|tunFTSO6|tunFTSOECN); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETOFFLOAD: %w", err)
		}
		k.tunFD = fd
		return nil
	})
	if err != nil {
		return err
	}
	c := k.cfg
	steps := [][]string{
		{"-n", k.ns, "link", "set", "lo", "up"},
		{"-n", k.ns, "link", "set", "tun0", "mtu", strconv.Itoa(c.MTU)},
		{"-n", k.ns, "addr", "add", fmt.Sprintf("%s/%d", c.LocalIP, c.LocalPrefix.Bits()), "dev", "tun0"},
		{"-n", k.ns, "link", "set", "tun0", "up"},
	}
	for _, s := range steps {
		if err := k.ipCmd(s...); err != nil {
			return err
		}
	}
	// packetdrill routes the remote prefix via the gateway (which is the
	// local address itself by default); fall back to a device route.
	if err := k.ipCmd("-n", k.ns, "route", "add", c.RemotePrefix.String(), "dev", "tun0", "via", c.Gateway.String()); err != nil {
		if err2 := k.ipCmd("-n", k.ns, "route", "add", c.RemotePrefix.String(), "dev", "tun0"); err2 != nil {
			return err
		}
	}
	if err := k.inNamespace(k.openSniffer); err != nil {
		fmt.Fprintf(k.log, "kernel target: no packet socket on tun0 (%v); outbound packets are timed when read\n", err)
	}
	return k.writeDefaults()
}

// inNamespace runs f on a new OS thread that has entered the namespace; the
// thread is discarded afterwards.
func (k *kernelInstance) inNamespace(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with the goroutine.
		if err := k.enter(); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// enter moves the calling (locked) thread into the namespace and checks
// that it is there.
func (k *kernelInstance) enter() error {
	if err := unix.Setns(k.nsFD, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering namespace %s: %w", k.ns, err)
	}
	ino, err := nsIno("/proc/thread-self/ns/net")
	if err != nil || ino == k.hostIno {
		return fmt.Errorf("thread did not enter namespace %s", k.ns)
	}
	return nil
}

func (k *kernelInstance) writeDefaults() error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# packetdrill's common/defaults.sh, as synfin's kernel target runs it.\n")
	b.WriteString("ip tcp_metrics flush all > /dev/null 2>&1\n")
	for _, s := range PacketdrillDefaults {
		redirect := ""
		if s.Name == "net.ipv4.tcp_notsent_lowat" || s.Name == "net.ipv4.tcp_fack" || s.Name == "net.mptcp.enabled" || s.Name == "net.ipv4.tcp_congestion_control" {
			redirect = " > /dev/null 2>&1"
		}
		fmt.Fprintf(&b, "sysctl -q %s=%q%s\n", s.Name, s.Value, redirect)
	}
	b.WriteString("tc qdisc add dev tun0 root pfifo\n")
	return os.WriteFile(filepath.Join(k.dir, "defaults.sh"), []byte(b.String()), 0o755)
}

func (k *kernelInstance) teardown() {
	if k.tunFD >= 0 {
		unix.Close(k.tunFD)
		k.tunFD = -1
	}
	if k.pktFD >= 0 {
		unix.Close(k.pktFD)
		k.pktFD = -1
	}
	if k.ns != "" {
		// Kill what the script's commands left running in the namespace.
		if out, err := exec.Command("ip", "netns", "pids", k.ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if k.nsFD >= 0 {
			unix.Close(k.nsFD)
			k.nsFD = -1
		}
		var err error
		for i := 0; i < 20; i++ {
			if err = k.ipCmd("netns", "del", k.ns); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintf(k.log, "kernel target: %v\n", err)
		}
	}
	if k.dir != "" {
		os.RemoveAll(k.dir)
	}
	// What the corpus's set_sysctls.py leaves behind.
	os.Remove("/tmp/sysctl_restore_" + k.id + ".sh")
	k.evMu.Lock()
	if k.evfd >= 0 {
		unix.Close(k.evfd)
		k.evfd = -1
	}
	k.evMu.Unlock()
}

// openSniffer opens the packet socket that times outbound packets (run
// inside the namespace). Like packetdrill, the runner takes the time of an
// outbound packet from the kernel (the packet socket's timestamp, taken
// when the packet is handed to tun0), because scripts time what they
// inject relative to it: a packet stamped when a reader woke up and read
// it is late by that latency, which the kernel then sees in its RTT
// samples. (This made eor/no-coalesce-retrans.pkt flaky: RACK ignores the
// ACK of a retransmission that comes back faster than the minimum RTT,
// and whether it did depended on the reader's wake-up latency.)
func (k *kernelInstance) openSniffer() error {
	ifi, err := net.InterfaceByName("tun0")
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	fail := func(what string, err error) error {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("SO_TIMESTAMPNS", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("PACKET_AUXDATA", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind to tun0", err)
	}
	// Anything queued before the bind may come from another device.
	var b [1]byte
	for {
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_TRUNC); err != nil {
			break
		}
	}
	k.pktFD, k.pktIfindex = fd, ifi.Index
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// reader reads the packets the kernel sends to tun0 and, when there is no
// packet socket, queues them with the time they were read. With a packet
// socket it only drains tun0, as packetdrill does, so that the device's
// queue never fills: the runner's thread reads the packet socket itself
// (NextPacket), so that a packet it waits for wakes one thread, not two.
func (k *kernelInstance) reader() {
	defer k.readWG.Done()
	// A thread of its own; never unlocked, it ends with the goroutine.
	// When it stamps packets it runs at real-time priority, so that they
	// are stamped when they arrive; when it only drains tun0 it must not
	// compete with the runner's thread, which the same packet wakes.
	runtime.LockOSThread()
	if k.pktFD < 0 {
		setRealtime()
	}
	buf := make([]byte, kernelMaxPacket)
	fds := []unix.PollFd{{Fd: int32(k.tunFD), Events: unix.POLLIN}}
	for {
		select {
		case <-k.stop:
			return
		default:
		}
		n, err := unix.Poll(fds, kernelReadInterval)
		if err != nil && err != unix.EINTR {
			k.setReadErr(err)
			return
		}
		if n <= 0 {
			continue
		}
		for {
			m, err := unix.Read(k.tunFD, buf)
			at := k.Now()
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				k.setReadErr(err)
				return
			}
			if m <= vnetHdrLen || k.pktFD >= 0 {
				continue
			}
			pkt := append([]byte(nil), buf[vnetHdrLen:m]...)
			completeChecksum(buf[:vnetHdrLen], pkt)
			k.push(pkt, at)
		}
	}
}

func (k *kernelInstance) push(pkt []byte, at time.Duration) {
	k.mu.Lock()
	k.queue = append(k.queue, kernelPacket{pkt, at})
	k.mu.Unlock()
	k.signal()
}

// readSniffer queues what the packet socket holds: outbound packets on
// tun0, each with the kernel's timestamp turned into instance time.
func (k *kernelInstance) readSniffer() error {
	if k.snifBuf == nil {
		k.snifBuf, k.snifOOB = make([]byte, kernelMaxPacket), make([]byte, 256)
	}
	buf, oob := k.snifBuf, k.snifOOB
	for {
		n, oobn, flags, from, err := unix.Recvmsg(k.pktFD, buf, oob, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			return nil
		}
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		readAt := k.Now()
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Ifindex != k.pktIfindex || ll.Pkttype != unix.PACKET_OUTGOING || flags&unix.MSG_TRUNC != 0 || n == 0 {
			continue
		}
		at, csumPending := readAt, false
		if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, c := range cmsgs {
				switch {
				case c.Header.Level == unix.SOL_SOCKET && c.Header.Type == unix.SO_TIMESTAMPNS && len(c.Data) >= 16:
					sec := int64(binary.NativeEndian.Uint64(c.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(c.Data[8:16]))
					at = k.fromRealtime(sec*1e9+nsec, readAt)
				case c.Header.Level == unix.SOL_PACKET && c.Header.Type == unix.PACKET_AUXDATA && len(c.Data) >= 4:
					csumPending = binary.NativeEndian.Uint32(c.Data[0:4])&unix.TP_STATUS_CSUMNOTREADY != 0
				}
			}
		}
		pkt := append([]byte(nil), buf[:n]...)
		if csumPending {
			completeL4Checksum(pkt)
		}
		k.push(pkt, at)
	}
}

// fromRealtime converts a CLOCK_REALTIME timestamp (ns) to instance time,
// through the current offset between the real-time and monotonic clocks.
// A timestamp that does not fit (after readAt, or over a second before it:
// the clock was stepped) gives readAt.
func (k *kernelInstance) fromRealtime(real int64, readAt time.Duration) time.Duration {
	var rt, mt unix.Timespec
	unix.ClockGettime(unix.CLOCK_REALTIME, &rt)
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mt)
	at := time.Duration(real - (rt.Nano() - mt.Nano()) - k.mono0)
	if at > readAt || at < readAt-time.Second {
		return readAt
	}
	return at
}

// completeL4Checksum fills in the TCP or UDP checksum of a packet whose
// checksum the kernel left to the device (CHECKSUM_PARTIAL: the field
// holds the pseudo-header sum).
func completeL4Checksum(pkt []byte) {
	var start, proto int
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		start, proto = int(pkt[0]&0x0f)*4, int(pkt[9])
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		start, proto = 40, int(pkt[6])
	default:
		return
	}
	off := 0
	switch proto {
	case 6:
		off = 16
	case 17:
		off = 6
	default:
		return
	}
	if start+off+2 > len(pkt) {
		return
	}
	sum := wire.Checksum(pkt[start:], 0)
	binary.BigEndian.PutUint16(pkt[start+off:], wire.FoldChecksum(sum))
}

// completeChecksum fills in a checksum the kernel left to the device
// (VIRTIO_NET_HDR_F_NEEDS_CSUM), so captures show valid packets.
func completeChecksum(hdr, pkt []byte) {
	if hdr[0]&vnetFlagNeedsCsum == 0 {
		return
	}
	start := int(binary.LittleEndian.Uint16(hdr[6:]))
	off := int(binary.LittleEndian.Uint16(hdr[8:]))
	if start+off+2 > len(pkt) || start > len(pkt) {
		return
	}
	// The field holds the pseudo-header sum; summing from csum_start
	// over the rest completes it.
	sum := wire.Checksum(pkt[start:], 0)
	binary.BigEndian.PutUint16(pkt[start+off:], wire.FoldChecksum(sum))
}

func (k *kernelInstance) setReadErr(err error) {
	k.mu.Lock()
	k.rerr = err
	k.mu.Unlock()
	k.signal()
}

// signal wakes the runner's thread if it waits in waitEvent. The runner
// waits in the kernel (ppoll on an eventfd) rather than on a channel, so
// that its real-time thread wakes at once, without going through the Go
// scheduler (which may take milliseconds on an idle process).
func (k *kernelInstance) signal() {
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	k.evMu.Lock()
	if k.evfd >= 0 {
		unix.Write(k.evfd, one[:])
	}
	k.evMu.Unlock()
}

// waitEvent waits until signal is called or until deadline (instance
// time), whichever is first; with packets set, also until the packet
// socket has something to read.
func (k *kernelInstance) waitEvent(deadline time.Duration, packets bool) {
	d := deadline - k.Now()
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	fds := []unix.PollFd{{Fd: int32(k.evfd), Events: unix.POLLIN}}
	if packets && k.pktFD >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(k.pktFD), Events: unix.POLLIN})
	}
	unix.Ppoll(fds, &ts, nil)
	var buf [8]byte
	unix.Read(k.evfd, buf[:])
}

func (k *kernelInstance) Now() time.Duration { return time.Duration(monotonic() - k.mono0) }

// sleepUntil sleeps until t (instance time) in clock_nanosleep, on the
// caller's (real-time, locked) thread, for precise event times. Like
// packetdrill's wait_for_event, it sleeps until shortly before t and spins
// the rest, since a sleeping thread wakes up late by a varying amount.
func (k *kernelInstance) sleepUntil(t time.Duration) {
	abs := unix.NsecToTimespec(k.mono0 + int64(t-kernelSpin))
	for {
		now := k.Now()
		if now >= t {
			return
		}
		if t-now <= kernelSpin {
			continue
		}
		if err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &abs, nil); err != nil && err != unix.EINTR {
			time.Sleep(t - kernelSpin - k.Now())
		}
	}
}

func (k *kernelInstance) Advance(t time.Duration) error {
	k.sleepUntil(t)
	return nil
}

func (k *kernelInstance) NextPacket(deadline time.Duration) ([]byte, time.Duration, bool, error) {
	for {
		if k.pktFD >= 0 {
			if err := k.readSniffer(); err != nil {
				return nil, 0, false, err
			}
		}
		k.mu.Lock()
		if len(k.queue) > 0 {
			p := k.queue[0]
			k.queue = k.queue[1:]
			k.mu.Unlock()
			return p.data, p.at, true, nil
		}
		rerr := k.rerr
		k.mu.Unlock()
		if rerr != nil {
			return nil, 0, false, fmt.Errorf("reading tun0: %w", rerr)
		}
		if k.Now() >= deadline {
			return nil, 0, false, nil
		}
		k.waitEvent(deadline, true)
	}
}

func (k *kernelInstance) Inject(pkt []byte) error {
	hdr := make([]byte, vnetHdrLen, vnetHdrLen+len(pkt))
	if mss := k.cfg.Options["mss"]; mss != "" && len(pkt) > 20 && pkt[9] == 6 {
		if m, err := strconv.Atoi(mss); err == nil && m > 0 {
			hdr[1] = vnetGSOTCPv4
			binary.LittleEndian.PutUint16(hdr[4:], uint16(m))
		}
	}
	_, err := unix.Write(k.tunFD, append(hdr, pkt...))
	return err
}

var (
	sysModuleRE  = regexp.MustCompile(`^\s*echo\s+"?([^"\s>]+)"?\s*>\s*(/sys/module/\S+)\s*$`)
	ccSysctlRE   = regexp.MustCompile(`tcp_congestion_control\s*=\s*"?([A-Za-z0-9_]+)`)
	ethtoolOffRE = regexp.MustCompile(`^\s*ethtool\s+-K\s+tun0((?:\s+[a-z-]+\s+(?:on|off))+)\s*$`)
)

// Shell runs a command of the script with sh inside the namespace.
func (k *kernelInstance) Shell(cmd string) error {
	cmd = ReplaceDefaults(cmd, filepath.Join(k.dir, "defaults.sh"))
	cmd = strings.ReplaceAll(cmd, "${PPID}", k.id)
	cmd = strings.ReplaceAll(cmd, "$PPID", k.id)
	// Lines the target does itself, or refuses.
	var kept []string
	_, noEthtool := exec.LookPath("ethtool")
	for _, line := range strings.Split(cmd, "\n") {
		if m := sysModuleRE.FindStringSubmatch(line); m != nil {
			cur, err := os.ReadFile(m[2])
			if err == nil && strings.TrimSpace(string(cur)) == m[1] {
				fmt.Fprintf(k.log, "kernel target: %s already is %s; not writing it (global to the machine)\n", m[2], m[1])
				continue
			}
			return &UnsupportedError{Feature: "changing a kernel module parameter (global to the machine)", Detail: strings.TrimSpace(line)}
		}
		if strings.Contains(line, "/sys/module/") {
			return &UnsupportedError{Feature: "changing a kernel module parameter (global to the machine)", Detail: strings.TrimSpace(line)}
		}
		if noEthtool != nil && strings.HasPrefix(strings.TrimSpace(line), "ethtool") {
			m := ethtoolOffRE.FindStringSubmatch(line)
			if m == nil {
				return &UnsupportedError{Feature: "ethtool (not installed)", Detail: strings.TrimSpace(line)}
			}
			if err := k.ethtoolFeatures(strings.Fields(m[1])); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, line)
	}
	cmd = strings.Join(kept, "\n")
	if strings.TrimSpace(cmd) != "" {
		c := exec.Command("ip", "netns", "exec", k.ns, "sh", "-c", cmd)
		if k.cfg.File != "" {
			c.Dir = filepath.Dir(k.cfg.File)
		}
		c.Env = append(os.Environ(), "PACKETDRILL_PID="+k.id, "NSTAT_HISTORY="+filepath.Join(k.dir, "nstat.history"))
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		if out.Len() > 0 {
			fmt.Fprintf(k.log, "kernel target: %s: %s", strings.TrimSpace(cmd), out.String())
		}
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				msg := fmt.Sprintf("non-zero status %d", ee.ExitCode())
				if s := strings.TrimSpace(out.String()); s != "" {
					msg += ": " + s
				}
				return errors.New(msg)
			}
			return err
		}
	}
	k.checkCongestionControl(cmd)
	return nil
}

// ethtoolFeatures does `ethtool -K tun0 tso off ...` on the TUN device.
func (k *kernelInstance) ethtoolFeatures(words []string) error {
	tso := true
	for i := 0; i+1 < len(words); i += 2 {
		switch words[i] {
		case "tso":
			tso = words[i+1] == "on"
		case "gso", "gro", "lro", "sg", "tx", "rx":
		default:
			return &UnsupportedError{Feature: "ethtool (not installed)", Detail: "feature " + words[i]}
		}
	}
	flags := tunFCSUM
	if tso {
		flags |= tunFTSO4 | tunFTSO6 | tunFTSOECN
	}
	fmt.Fprintf(k.log, "kernel target: ethtool not installed; TUNSETOFFLOAD %#x instead\n", flags)
	return unix.IoctlSetInt(k.tunFD, unix.TUNSETOFFLOAD, flags)
}

// checkCongestionControl notes the algorithm a command asked for and
// whether the namespace took it.
func (k *kernelInstance) checkCongestionControl(cmd string) {
	want := ""
	if strings.Contains(cmd, filepath.Join(k.dir, "defaults.sh")) {
		want = "cubic"
	}
	if m := ccSysctlRE.FindAllStringSubmatch(cmd, -1); m != nil {
		want = m[len(m)-1][1]
	}
	if want == "" {
		return
	}
	var cur string
	k.inNamespace(func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		cur = strings.TrimSpace(string(b))
		return err
	})
	k.fdMu.Lock()
	defer k.fdMu.Unlock()
	if cur == want {
		k.wantCC = ""
		return
	}
	if k.wantCC != want {
		fmt.Fprintf(k.log, "kernel target: the namespace refused tcp_congestion_control=%s (it has %s); setting it on each socket instead\n", want, cur)
	}
	k.wantCC = want
}

// ---- system calls ----

// kernelCall is a system call running on a namespace thread.
type kernelCall struct {
	k        *kernelInstance
	done     chan struct{}
	finished atomic.Bool
	res      *SyscallResult
	err      error
	tid      atomic.Int32
	entering atomic.Bool
}

func (c *kernelCall) Wait(deadline time.Duration) (*SyscallResult, error) {
	for {
		if c.finished.Load() {
			<-c.done
			return c.res, c.err
		}
		if c.k.Now() >= deadline {
			return nil, nil
		}
		c.k.waitEvent(deadline, false)
	}
}

// threadBlocked reports whether a thread sleeps in a system call other
// than futex (a thread waiting for the Go scheduler is not blocked in the
// script's call).
func threadBlocked(tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+2] != 'S' {
		return false
	}
	s, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil || nr < 0 {
		return false
	}
	return nr != unix.SYS_FUTEX
}

// kctx is what a call's implementation uses on its namespace thread.
type kctx struct {
	k     *kernelInstance
	c     *kernelCall
	req   *SyscallRequest
	out   map[int]Value
	ended time.Duration
}

// sys makes the system call f, marking the thread as in the call for the
// blocking detection and recording when it returned.
func (x *kctx) sys(f func() (uintptr, unix.Errno)) (int64, syscall.Errno) {
	x.c.entering.Store(true)
	r, e := f()
	x.ended = x.k.Now()
	x.c.entering.Store(false)
	if e != 0 {
		return -1, syscall.Errno(e)
	}
	return int64(r), 0
}

func (k *kernelInstance) Syscall(req *SyscallRequest) (PendingCall, error) {
	impl, ok := kernelCalls[req.Name]
	if !ok {
		return nil, &UnsupportedError{Feature: "system call " + req.Name}
	}
	c := &kernelCall{k: k, done: make(chan struct{})}
	x := &kctx{k: k, c: c, req: req, out: map[int]Value{}}
	run := func() {
		defer func() {
			close(c.done)
			c.finished.Store(true)
			k.signal()
		}()
		c.tid.Store(int32(unix.Gettid()))
		ret, errno, err := impl(x)
		if err != nil {
			c.err = err
			return
		}
		if x.ended == 0 {
			x.ended = k.Now()
		}
		c.res = &SyscallResult{Ret: ret, Errno: errno, End: x.ended, Out: x.out}
	}
	if req.Syscall == nil || req.Syscall.End == nil {
		// A call the script does not expect to block runs right here, on
		// the runner's thread (which is in the namespace), as packetdrill
		// runs it on its main thread: no thread handoff delays it. A
		// watchdog shuts the sockets down if it never returns.
		w := time.AfterFunc(kernelCallLimit, k.shutdownAll)
		run()
		w.Stop()
		if c.err != nil && errors.Is(c.err, ErrUnsupported) {
			return nil, c.err
		}
		return c, nil
	}
	// A blocking call (written with ...END) runs on a thread of its own
	// that enters the namespace, as on packetdrill's syscall thread.
	k.calls.Add(1)
	go func() {
		defer k.calls.Done()
		runtime.LockOSThread()
		// Never unlocked: the thread, which is in the namespace, ends
		// with the goroutine.
		if err := k.enter(); err != nil {
			c.err = err
			close(c.done)
			c.finished.Store(true)
			k.signal()
			return
		}
		setRealtime()
		run()
	}()
	// Return once the call has finished or sleeps in the kernel.
	for {
		if c.finished.Load() {
			<-c.done
			if c.err != nil && errors.Is(c.err, ErrUnsupported) {
				return nil, c.err
			}
			return c, nil
		}
		if c.entering.Load() {
			if tid := int(c.tid.Load()); tid > 0 && threadBlocked(tid) {
				return c, nil
			}
		}
		pause := unix.Timespec{Nsec: 20000}
		unix.Nanosleep(&pause, nil)
	}
}

// kernelCallLimit bounds a call the script does not expect to block.
const kernelCallLimit = time.Minute

// shutdownAll shuts every socket down, to unblock a call stuck forever.
func (k *kernelInstance) shutdownAll() {
	k.fdMu.Lock()
	defer k.fdMu.Unlock()
	fmt.Fprintf(k.log, "kernel target: a call did not return in %v; shutting the sockets down\n", kernelCallLimit)
	for _, fd := range k.fds {
		unix.Shutdown(fd, unix.SHUT_RDWR)
	}
}

// ---- descriptors and arguments ----

func (x *kctx) liveFD(script int64) (int, error) {
	x.k.fdMu.Lock()
	defer x.k.fdMu.Unlock()
	fd, ok := x.k.fds[int(script)]
	if !ok {
		return -1, fmt.Errorf("unable to find fd with script fd %d", script)
	}
	return fd, nil
}

func (x *kctx) scriptFD(live int) int64 {
	x.k.fdMu.Lock()
	defer x.k.fdMu.Unlock()
	for s, l := range x.k.fds {
		if l == live {
			return int64(s)
		}
	}
	return int64(live)
}

func (x *kctx) addFD(script, live int) error {
	x.k.fdMu.Lock()
	defer x.k.fdMu.Unlock()
	if script < 0 {
		unix.Close(live)
		return fmt.Errorf("invalid fd %d in script", script)
	}
	if old, dup := x.k.fds[script]; dup {
		if x.req.Name != "accept" && x.req.Name != "accept4" {
			unix.Close(live)
			return fmt.Errorf("duplicate fd %d in script", script)
		}
		// packetdrill lets accept reuse a number still open: the new
		// socket takes it, the old one stays open unnamed.
		x.k.shadowed = append(x.k.shadowed, old)
	}
	x.k.fds[script] = live
	return nil
}

func (x *kctx) fdArg(i int) (int, error) {
	s, err := x.req.IntArg(i)
	if err != nil {
		return -1, err
	}
	return x.liveFD(s)
}

func (x *kctx) intArg(i int) (int64, error) { return x.req.IntArg(i) }

// bufArg is a buffer argument: "..." (a zeroed buffer of n bytes), NULL
// (0), or a string.
func (x *kctx) bufArg(i int, n int64) (unsafe.Pointer, []byte, error) {
	if i >= len(x.req.Args) {
		return nil, nil, fmt.Errorf("Argument list too short")
	}
	switch v := x.req.Args[i].(type) {
	case Any:
		if n < 0 || n > 1<<30 {
			return nil, nil, fmt.Errorf("bad buffer length %d", n)
		}
		b := make([]byte, n+1)
		return unsafe.Pointer(&b[0]), b, nil
	case Int:
		if v == 0 {
			return nil, nil, nil
		}
	case Bytes:
		b := make([]byte, max(n, int64(len(v.Data)))+1)
		copy(b, v.Data)
		return unsafe.Pointer(&b[0]), b, nil
	}
	return nil, nil, fmt.Errorf("Expected ... or NULL for buffer")
}

func rawSockaddr(sa *Sockaddr) []byte {
	switch sa.Family {
	case unix.AF_INET:
		b := make([]byte, 16)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], sa.Addr.Port())
		a := sa.Addr.Addr().Unmap().As4()
		copy(b[4:8], a[:])
		return b
	case unix.AF_INET6:
		b := make([]byte, 28)
		binary.LittleEndian.PutUint16(b, unix.AF_INET6)
		binary.BigEndian.PutUint16(b[2:], sa.Addr.Port())
		a := sa.Addr.Addr().As16()
		copy(b[8:24], a[:])
		return b
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, uint16(sa.Family))
	return b
}

// addrArg is a sockaddr argument and its length argument.
func (x *kctx) addrArg(i int) (unsafe.Pointer, uintptr, error) {
	if i >= len(x.req.Args) {
		return nil, 0, nil
	}
	switch v := x.req.Args[i].(type) {
	case *Sockaddr:
		b := rawSockaddr(v)
		n := uintptr(len(b))
		if i+1 < len(x.req.Args) {
			if l, ok := x.req.Args[i+1].(Int); ok {
				n = uintptr(l)
				if int(n) > len(b) {
					b = append(b, make([]byte, int(n)-len(b))...)
				}
			}
		}
		return unsafe.Pointer(&b[0]), n, nil
	case Any:
		return nil, 0, nil
	case Int:
		if v == 0 {
			return nil, 0, nil
		}
	}
	return nil, 0, fmt.Errorf("bad address argument %s", x.req.Args[i])
}

type kernelImpl func(x *kctx) (int64, syscall.Errno, error)

var kernelCalls map[string]kernelImpl

func init() {
	kernelCalls = map[string]kernelImpl{
		"socket":        kSocket,
		"bind":          kAddrCall(unix.SYS_BIND),
		"connect":       kAddrCall(unix.SYS_CONNECT),
		"listen":        kListen,
		"accept":        kAccept,
		"accept4":       kAccept,
		"read":          kRead,
		"recv":          kRecv,
		"recvfrom":      kRecv,
		"write":         kWrite,
		"send":          kSend,
		"sendto":        kSend,
		"readv":         kVec(unix.SYS_READV),
		"writev":        kVec(unix.SYS_WRITEV),
		"recvmsg":       kRecvmsg,
		"sendmsg":       kSendmsg,
		"close":         kClose,
		"shutdown":      kShutdown,
		"fcntl":         kFcntl,
		"ioctl":         kIoctl,
		"getsockopt":    kGetsockopt,
		"setsockopt":    kSetsockopt,
		"poll":          kPoll,
		"epoll_create":  kEpollCreate,
		"epoll_create1": kEpollCreate,
		"epoll_ctl":     kEpollCtl,
		"epoll_wait":    kEpollWait,
		"pipe":          kPipe,
		"splice":        kSplice,
		"sendfile":      kSendfile,
		"open":          kOpen,
	}
}

func checkArgs(x *kctx, n ...int) error {
	for _, want := range n {
		if len(x.req.Args) == want {
			return nil
		}
	}
	return fmt.Errorf("Expected %d args but got %d", n[0], len(x.req.Args))
}

func kSocket(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3); err != nil {
		return 0, 0, err
	}
	dom, err := x.intArg(0)
	if err != nil {
		return 0, 0, err
	}
	typ, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	proto, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(dom), uintptr(typ), uintptr(proto))
		return r, e
	})
	if ret < 0 {
		return ret, e, nil
	}
	x.k.fdMu.Lock()
	cc := x.k.wantCC
	x.k.fdMu.Unlock()
	if cc != "" && typ&0xf == unix.SOCK_STREAM {
		if err := unix.SetsockoptString(int(ret), unix.SOL_TCP, unix.TCP_CONGESTION, cc); err != nil {
			fmt.Fprintf(x.k.log, "kernel target: setsockopt(TCP_CONGESTION, %s): %v\n", cc, err)
		}
	}
	if err := x.addFD(x.req.NewFD, int(ret)); err != nil {
		return 0, 0, err
	}
	return int64(x.req.NewFD), 0, nil
}

func kAddrCall(nr uintptr) kernelImpl {
	return func(x *kctx) (int64, syscall.Errno, error) {
		if err := checkArgs(x, 3); err != nil {
			return 0, 0, err
		}
		fd, err := x.fdArg(0)
		if err != nil {
			return 0, 0, err
		}
		p, n, err := x.addrArg(1)
		if err != nil {
			return 0, 0, err
		}
		ret, e := x.sys(func() (uintptr, unix.Errno) {
			r, _, e := unix.Syscall(nr, uintptr(fd), uintptr(p), n)
			return r, e
		})
		runtime.KeepAlive(p)
		return ret, e, nil
	}
}

func kListen(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 2); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	backlog, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_LISTEN, uintptr(fd), uintptr(backlog), 0)
		return r, e
	})
	return ret, e, nil
}

func kAccept(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3, 4); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	var flags int64
	if len(x.req.Args) == 4 {
		if flags, err = x.intArg(3); err != nil {
			return 0, 0, err
		}
	}
	addr := make([]byte, 128)
	alen := uint32(len(addr))
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&addr[0])), uintptr(unsafe.Pointer(&alen)), uintptr(flags), 0, 0)
		return r, e
	})
	if ret < 0 {
		return ret, e, nil
	}
	if err := x.addFD(x.req.NewFD, int(ret)); err != nil {
		return 0, 0, err
	}
	return int64(x.req.NewFD), 0, nil
}

func kRead(x *kctx) (int64, syscall.Errno, error)  { return kFdBufLen(x, unix.SYS_READ) }
func kWrite(x *kctx) (int64, syscall.Errno, error) { return kFdBufLen(x, unix.SYS_WRITE) }

// kFdBufLen runs a call of the form (fd, buf, len): read or write.
func kFdBufLen(x *kctx, nr uintptr) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	n, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	p, buf, err := x.bufArg(1, n)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(nr, uintptr(fd), uintptr(p), uintptr(n))
		return r, e
	})
	runtime.KeepAlive(buf)
	return ret, e, nil
}

// kRecv is recv(fd, buf, len, flags) and recvfrom(..., addr, addrlen).
func kRecv(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 4, 6); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	n, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	flags, err := x.intArg(3)
	if err != nil {
		return 0, 0, err
	}
	p, buf, err := x.bufArg(1, n)
	if err != nil {
		return 0, 0, err
	}
	var addr unsafe.Pointer
	var alenp unsafe.Pointer
	abuf := make([]byte, 128)
	alen := uint32(len(abuf))
	if len(x.req.Args) == 6 {
		addr, alenp = unsafe.Pointer(&abuf[0]), unsafe.Pointer(&alen)
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(p), uintptr(n), uintptr(flags), uintptr(addr), uintptr(alenp))
		return r, e
	})
	runtime.KeepAlive(buf)
	runtime.KeepAlive(abuf)
	return ret, e, nil
}

// kSend is send(fd, buf, len, flags) and sendto(..., addr, addrlen).
func kSend(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 4, 6); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	n, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	flags, err := x.intArg(3)
	if err != nil {
		return 0, 0, err
	}
	p, buf, err := x.bufArg(1, n)
	if err != nil {
		return 0, 0, err
	}
	var ap unsafe.Pointer
	var alen uintptr
	if len(x.req.Args) == 6 {
		if ap, alen, err = x.addrArg(4); err != nil {
			return 0, 0, err
		}
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(n), uintptr(flags), uintptr(ap), alen)
		return r, e
	})
	runtime.KeepAlive(buf)
	runtime.KeepAlive(ap)
	return ret, e, nil
}

// iovecs builds an iovec array from [{..., N}, ...].
func iovecs(v Value) ([]unix.Iovec, [][]byte, error) {
	a, ok := v.(Array)
	if !ok {
		return nil, nil, fmt.Errorf("Bad type; actual: %s expected: list", valueKind(v))
	}
	iov := make([]unix.Iovec, len(a))
	bufs := make([][]byte, len(a))
	for i, el := range a {
		s, ok := el.(*Struct)
		if !ok || len(s.Fields) != 2 {
			return nil, nil, fmt.Errorf("Bad type; actual: %s expected: iovec", valueKind(el))
		}
		n, ok := s.Fields[1].Value.(Int)
		if !ok || n < 0 {
			return nil, nil, fmt.Errorf("bad iovec length %s", s.Fields[1].Value)
		}
		b := make([]byte, n+1)
		if d, ok := s.Fields[0].Value.(Bytes); ok {
			copy(b, d.Data)
		}
		bufs[i] = b
		iov[i].Base = &b[0]
		iov[i].SetLen(int(n))
	}
	return iov, bufs, nil
}

func kVec(nr uintptr) kernelImpl {
	return func(x *kctx) (int64, syscall.Errno, error) {
		if err := checkArgs(x, 3); err != nil {
			return 0, 0, err
		}
		fd, err := x.fdArg(0)
		if err != nil {
			return 0, 0, err
		}
		iov, bufs, err := iovecs(x.req.Args[1])
		if err != nil {
			return 0, 0, err
		}
		cnt, err := x.intArg(2)
		if err != nil {
			return 0, 0, err
		}
		if int(cnt) != len(iov) {
			return 0, 0, fmt.Errorf("iov_count %d does not match %d-element iovec array", cnt, len(iov))
		}
		var p unsafe.Pointer
		if len(iov) > 0 {
			p = unsafe.Pointer(&iov[0])
		}
		ret, e := x.sys(func() (uintptr, unix.Errno) {
			r, _, e := unix.Syscall(nr, uintptr(fd), uintptr(p), uintptr(cnt))
			return r, e
		})
		runtime.KeepAlive(bufs)
		runtime.KeepAlive(iov)
		return ret, e, nil
	}
}

const msghdrMaxControl = 4096

// msghdr builds a struct msghdr from the script's {msg_name(...)=...,
// msg_iov(N)=[...], msg_flags=F, msg_control=[...]}.
func (x *kctx) msghdr(v Value, send bool) (*unix.Msghdr, []any, error) {
	s, ok := v.(*Struct)
	if !ok {
		return nil, nil, fmt.Errorf("Bad type; actual: %s expected: msghdr", valueKind(v))
	}
	var keep []any
	m := &unix.Msghdr{}
	for _, f := range s.Fields {
		switch f.Name {
		case "msg_name":
			var b []byte
			if sa, ok := f.Value.(*Sockaddr); ok && send {
				b = rawSockaddr(sa)
			} else {
				b = make([]byte, 128)
			}
			m.Name = &b[0]
			m.Namelen = uint32(len(b))
			keep = append(keep, b)
		case "msg_iov":
			iov, bufs, err := iovecs(f.Value)
			if err != nil {
				return nil, nil, err
			}
			if n, ok := f.Arg.(Int); ok && int(n) != len(iov) {
				return nil, nil, fmt.Errorf("msg_iovlen %d does not match %d-element iovec array", n, len(iov))
			}
			if len(iov) > 0 {
				m.Iov = &iov[0]
			}
			m.SetIovlen(len(iov))
			keep = append(keep, iov, bufs)
		case "msg_flags":
			if n, ok := f.Value.(Int); ok {
				m.Flags = int32(n)
			}
		case "msg_control":
			var b []byte
			if send {
				var err error
				if b, err = encodeCmsgs(f.Value); err != nil {
					return nil, nil, err
				}
			} else {
				b = make([]byte, msghdrMaxControl)
			}
			if len(b) > 0 {
				m.Control = &b[0]
				m.SetControllen(len(b))
			}
			keep = append(keep, b)
		}
	}
	return m, keep, nil
}

func encodeCmsgs(v Value) ([]byte, error) {
	a, ok := v.(Array)
	if !ok {
		return nil, fmt.Errorf("bad msg_control %s", v)
	}
	var out []byte
	for _, el := range a {
		s, ok := el.(*Struct)
		if !ok {
			return nil, fmt.Errorf("bad cmsg %s", el)
		}
		d, ok := s.Get("cmsg_data").(Int)
		if !ok {
			return nil, &UnsupportedError{Feature: "sendmsg control message data", Detail: s.String()}
		}
		data := binary.LittleEndian.AppendUint32(nil, uint32(d))
		h := make([]byte, unix.CmsgSpace(len(data)))
		hdr := (*unix.Cmsghdr)(unsafe.Pointer(&h[0]))
		hdr.Level = int32(intField(s, "cmsg_level"))
		hdr.Type = int32(intField(s, "cmsg_type"))
		hdr.SetLen(unix.CmsgLen(len(data)))
		copy(h[unix.CmsgLen(0):], data)
		out = append(out, h...)
	}
	return out, nil
}

func (x *kctx) decodeCmsgs(b []byte) Array {
	msgs, err := unix.ParseSocketControlMessage(b)
	if err != nil {
		return nil
	}
	out := Array{}
	for _, m := range msgs {
		s := &Struct{Kind: pktdrill.StructCmsg}
		s.Set("cmsg_level", Int(m.Header.Level))
		s.Set("cmsg_type", Int(m.Header.Type))
		d := m.Data
		switch {
		case (m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR) ||
			(m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR):
			ee := &Struct{}
			if len(d) >= 16 {
				ee.Set("ee_errno", Int(binary.LittleEndian.Uint32(d)))
				ee.Set("ee_origin", Int(d[4]))
				ee.Set("ee_type", Int(d[5]))
				ee.Set("ee_code", Int(d[6]))
				ee.Set("ee_info", Int(binary.LittleEndian.Uint32(d[8:])))
				ee.Set("ee_data", Int(binary.LittleEndian.Uint32(d[12:])))
			}
			s.Set("cmsg_data", ee)
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPING:
			ts := &Struct{}
			if len(d) >= 16 {
				sec := int64(binary.LittleEndian.Uint64(d))
				nsec := int64(binary.LittleEndian.Uint64(d[8:]))
				// Into the instance's clock.
				t := time.Unix(sec, nsec).Sub(x.k.wall0)
				ts.Set("scm_sec", Int(int64(t/time.Second)))
				ts.Set("scm_nsec", Int(int64(t%time.Second)))
			}
			s.Set("cmsg_data", ts)
		default:
			if len(d) >= 4 {
				s.Set("cmsg_data", Int(int32(binary.LittleEndian.Uint32(d))))
			} else {
				s.Set("cmsg_data", Bytes{Data: d})
			}
		}
		out = append(out, s)
	}
	return out
}

func kRecvmsg(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	m, keep, err := x.msghdr(x.req.Args[1], false)
	if err != nil {
		return 0, 0, err
	}
	flags, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(m)), uintptr(flags))
		return r, e
	})
	res := &Struct{Kind: pktdrill.StructMsghdr}
	res.Set("msg_flags", Int(m.Flags))
	var ctl Array
	if m.Control != nil && m.Controllen > 0 {
		b := unsafe.Slice(m.Control, int(m.Controllen))
		ctl = x.decodeCmsgs(b)
	}
	res.Set("msg_control", ctl)
	x.out[1] = res
	runtime.KeepAlive(keep)
	return ret, e, nil
}

func kSendmsg(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	m, keep, err := x.msghdr(x.req.Args[1], true)
	if err != nil {
		return 0, 0, err
	}
	if m.Flags != 0 {
		return 0, 0, fmt.Errorf("sendmsg ignores msg_flags field in msghdr")
	}
	flags, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(m)), uintptr(flags))
		return r, e
	})
	runtime.KeepAlive(keep)
	return ret, e, nil
}

func kClose(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 1); err != nil {
		return 0, 0, err
	}
	script, err := x.intArg(0)
	if err != nil {
		return 0, 0, err
	}
	fd, err := x.liveFD(script)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
		return r, e
	})
	if ret == 0 {
		x.k.fdMu.Lock()
		delete(x.k.fds, int(script))
		x.k.fdMu.Unlock()
	}
	return ret, e, nil
}

func kShutdown(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 2); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	how, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
		return r, e
	})
	return ret, e, nil
}

func kFcntl(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 2, 3); err != nil {
		return 0, 0, fmt.Errorf("fcntl expected 2-3 args but got %d", len(x.req.Args))
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	cmd, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	var arg int64
	if len(x.req.Args) == 3 {
		if arg, err = x.intArg(2); err != nil {
			return 0, 0, err
		}
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
		return r, e
	})
	return ret, e, nil
}

func kIoctl(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 2, 3); err != nil {
		return 0, 0, fmt.Errorf("ioctl expected 2-3 args but got %d", len(x.req.Args))
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	cmd, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	if len(x.req.Args) == 2 {
		ret, e := x.sys(func() (uintptr, unix.Errno) {
			r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), 0)
			return r, e
		})
		return ret, e, nil
	}
	if _, err := x.req.BracketedIntArg(2); err != nil {
		return 0, 0, err
	}
	var val int32
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(unsafe.Pointer(&val)))
		return r, e
	})
	x.out[2] = Array{Int(val)}
	return ret, e, nil
}

func kGetsockopt(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 5); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	level, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	name, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	optlen, err := x.req.BracketedIntArg(4)
	if err != nil {
		return 0, 0, err
	}
	if optlen < 0 || optlen > 1<<20 {
		return 0, 0, fmt.Errorf("bad optlen %d", optlen)
	}
	buf := make([]byte, optlen+1)
	l := uint32(optlen)
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
		return r, e
	})
	x.out[4] = Array{Int(l)}
	switch x.req.Args[3].(type) {
	case Bytes:
		x.out[3] = Bytes{Data: append([]byte(nil), buf[:min(int(l), len(buf))]...)}
	default:
		var w [4]byte
		copy(w[:], buf)
		x.out[3] = Array{Int(int32(binary.LittleEndian.Uint32(w[:])))}
	}
	return ret, e, nil
}

func kSetsockopt(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 5); err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	level, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	name, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	optlen, err := x.intArg(4)
	if err != nil {
		return 0, 0, err
	}
	var val []byte
	switch v := x.req.Args[3].(type) {
	case Array:
		n, err := x.req.BracketedIntArg(3)
		if err != nil {
			return 0, 0, err
		}
		val = binary.LittleEndian.AppendUint32(nil, uint32(n))
	case Bytes:
		val = append([]byte(nil), v.Data...)
	case *Struct:
		if v.Get("onoff") != nil {
			val = binary.LittleEndian.AppendUint32(nil, uint32(intField(v, "onoff")))
			val = binary.LittleEndian.AppendUint32(val, uint32(intField(v, "linger")))
		} else {
			return 0, 0, &UnsupportedError{Feature: "setsockopt value " + v.String()}
		}
	case Int:
		if v != 0 {
			return 0, 0, fmt.Errorf("unsupported setsockopt value type: integer")
		}
	default:
		return 0, 0, fmt.Errorf("unsupported setsockopt value type: %s", valueKind(v))
	}
	if int(optlen) > len(val) {
		val = append(val, make([]byte, int(optlen)-len(val))...)
	}
	var p unsafe.Pointer
	if len(val) > 0 {
		p = unsafe.Pointer(&val[0])
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), uintptr(optlen), 0)
		return r, e
	})
	runtime.KeepAlive(val)
	return ret, e, nil
}

func kPoll(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 3); err != nil {
		return 0, 0, err
	}
	a, ok := x.req.Args[0].(Array)
	if !ok {
		return 0, 0, fmt.Errorf("Bad type; actual: %s expected: list", valueKind(x.req.Args[0]))
	}
	pfds := make([]unix.PollFd, len(a))
	scripts := make([]int64, len(a))
	for i, el := range a {
		s, ok := el.(*Struct)
		if !ok {
			return 0, 0, fmt.Errorf("Bad type; actual: %s expected: pollfd", valueKind(el))
		}
		sfd := intField(s, "fd")
		fd, err := x.liveFD(sfd)
		if err != nil {
			return 0, 0, err
		}
		scripts[i] = sfd
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: int16(intField(s, "events")), Revents: int16(intField(s, "revents"))}
	}
	nfds, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	if int(nfds) != len(pfds) {
		return 0, 0, fmt.Errorf("nfds %d does not match %d-element pollfd array", nfds, len(pfds))
	}
	timeout, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	var p unsafe.Pointer
	if len(pfds) > 0 {
		p = unsafe.Pointer(&pfds[0])
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		var ts *unix.Timespec
		if timeout >= 0 {
			t := unix.NsecToTimespec(timeout * int64(time.Millisecond))
			ts = &t
		}
		r, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(pfds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
		return r, e
	})
	out := make(Array, len(pfds))
	for i, pf := range pfds {
		s := &Struct{Kind: pktdrill.StructPollfd}
		s.Set("fd", Int(scripts[i]))
		s.Set("events", Int(uint16(pf.Events)))
		s.Set("revents", Int(uint16(pf.Revents)))
		out[i] = s
	}
	x.out[0] = out
	return ret, e, nil
}

func kEpollCreate(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 1); err != nil {
		return 0, 0, err
	}
	arg, err := x.intArg(0)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		if x.req.Name == "epoll_create1" {
			r, _, e := unix.RawSyscall(unix.SYS_EPOLL_CREATE1, uintptr(arg), 0, 0)
			return r, e
		}
		if arg <= 0 {
			return 0, unix.EINVAL
		}
		r, _, e := unix.RawSyscall(unix.SYS_EPOLL_CREATE1, 0, 0, 0)
		return r, e
	})
	if ret < 0 {
		return ret, e, nil
	}
	if err := x.addFD(x.req.NewFD, int(ret)); err != nil {
		return 0, 0, err
	}
	return int64(x.req.NewFD), 0, nil
}

// epollData reads the data member of {events=.., fd=..|ptr=..|u32=..|u64=..}.
func (x *kctx) epollEvent(v Value) (unix.EpollEvent, string, error) {
	var ev unix.EpollEvent
	s, ok := v.(*Struct)
	if !ok {
		return ev, "", fmt.Errorf("Bad type; actual: %s expected: epoll_event", valueKind(v))
	}
	ev.Events = uint32(intField(s, "events"))
	for _, name := range []string{"fd", "ptr", "u32", "u64"} {
		d, ok := s.Get(name).(Int)
		if !ok {
			continue
		}
		u := uint64(d)
		if name == "fd" {
			live, err := x.liveFD(int64(d))
			if err != nil {
				return ev, "", err
			}
			u = uint64(uint32(live))
		}
		ev.Fd, ev.Pad = int32(uint32(u)), int32(uint32(u>>32))
		return ev, name, nil
	}
	return ev, "", fmt.Errorf("epoll_event specified incorrectly")
}

func kEpollCtl(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 4); err != nil {
		return 0, 0, err
	}
	epfd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	op, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	fd, err := x.fdArg(2)
	if err != nil {
		return 0, 0, err
	}
	ev, _, err := x.epollEvent(x.req.Args[3])
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
		return r, e
	})
	return ret, e, nil
}

func kEpollWait(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 4); err != nil {
		return 0, 0, err
	}
	epfd, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	s, ok := x.req.Args[1].(*Struct)
	if !ok {
		return 0, 0, fmt.Errorf("Bad type; actual: %s expected: epoll_event", valueKind(x.req.Args[1]))
	}
	dataName := ""
	for _, name := range []string{"fd", "ptr", "u32", "u64"} {
		if s.Get(name) != nil {
			dataName = name
			break
		}
	}
	if dataName == "" {
		return 0, 0, fmt.Errorf("epoll_event specified incorrectly")
	}
	maxEvents, err := x.intArg(2)
	if err != nil {
		return 0, 0, err
	}
	timeout, err := x.intArg(3)
	if err != nil {
		return 0, 0, err
	}
	evs := make([]unix.EpollEvent, max(maxEvents, 1))
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(maxEvents), uintptr(timeout), 0, 0)
		return r, e
	})
	ev := evs[0]
	out := &Struct{Kind: pktdrill.StructEpollEvent}
	out.Set("events", Int(ev.Events))
	u := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	if dataName == "fd" {
		if ret > 0 {
			out.Set("fd", Int(x.scriptFD(int(int32(uint32(u))))))
		} else {
			out.Set("fd", Int(intField(s, "fd")))
		}
	} else {
		out.Set(dataName, Int(int64(u)))
	}
	x.out[1] = out
	return ret, e, nil
}

func kPipe(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 1); err != nil {
		return 0, 0, err
	}
	a, ok := x.req.Args[0].(Array)
	if !ok || len(a) != 2 {
		return 0, 0, fmt.Errorf("pipe takes [fd, fd]")
	}
	var script [2]int64
	for i := range 2 {
		n, ok := a[i].(Int)
		if !ok {
			return 0, 0, fmt.Errorf("Bad type; actual: %s expected: integer", valueKind(a[i]))
		}
		script[i] = int64(n)
	}
	var p [2]int32
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.RawSyscall(unix.SYS_PIPE2, uintptr(unsafe.Pointer(&p)), 0, 0)
		return r, e
	})
	if ret == 0 {
		for i := range 2 {
			if err := x.addFD(int(script[i]), int(p[i])); err != nil {
				return 0, 0, err
			}
		}
	}
	return ret, e, nil
}

func kSplice(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 6); err != nil {
		return 0, 0, err
	}
	in, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	out, err := x.fdArg(2)
	if err != nil {
		return 0, 0, err
	}
	var v [6]int64
	for _, i := range []int{1, 3, 4, 5} {
		if v[i], err = x.intArg(i); err != nil {
			return 0, 0, err
		}
	}
	if v[1] != 0 || v[3] != 0 {
		return 0, 0, &UnsupportedError{Feature: "splice with offsets"}
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(v[4]), uintptr(v[5]))
		return r, e
	})
	return ret, e, nil
}

func kSendfile(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 4); err != nil {
		return 0, 0, err
	}
	out, err := x.fdArg(0)
	if err != nil {
		return 0, 0, err
	}
	in, err := x.fdArg(1)
	if err != nil {
		return 0, 0, err
	}
	off, err := x.req.BracketedIntArg(2)
	if err != nil {
		return 0, 0, err
	}
	n, err := x.intArg(3)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(&off)), uintptr(n), 0, 0)
		return r, e
	})
	return ret, e, nil
}

func kOpen(x *kctx) (int64, syscall.Errno, error) {
	if err := checkArgs(x, 2); err != nil {
		return 0, 0, err
	}
	name, ok := x.req.Args[0].(Bytes)
	if !ok {
		return 0, 0, fmt.Errorf("Bad type; actual: %s expected: string", valueKind(x.req.Args[0]))
	}
	flags, err := x.intArg(1)
	if err != nil {
		return 0, 0, err
	}
	path := string(name.Data)
	if !filepath.IsAbs(path) && x.k.cfg.File != "" {
		path = filepath.Join(filepath.Dir(x.k.cfg.File), path)
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	ret, e := x.sys(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), uintptr(flags|unix.O_CLOEXEC), 0o644, 0, 0)
		return r, e
	})
	if ret < 0 {
		return ret, e, nil
	}
	if err := x.addFD(x.req.NewFD, int(ret)); err != nil {
		return 0, 0, err
	}
	return int64(x.req.NewFD), 0, nil
}

// ---- TCP_INFO ----

func (k *kernelInstance) TCPInfo(fd int) (map[string]int64, error) {
	k.fdMu.Lock()
	live, ok := k.fds[fd]
	k.fdMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unable to find fd with script fd %d", fd)
	}
	buf := make([]byte, 512)
	l := uint32(len(buf))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(live), unix.SOL_TCP, unix.TCP_INFO, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		return nil, e
	}
	if l < 224 {
		return nil, fmt.Errorf("short TCP_INFO (%d bytes)", l)
	}
	b := buf[:l]
	u8 := func(off int) int64 { return int64(b[off]) }
	u32 := func(off int) int64 { return int64(binary.LittleEndian.Uint32(b[off:])) }
	u64 := func(off int) int64 { return int64(binary.LittleEndian.Uint64(b[off:])) }
	m := map[string]int64{
		"tcpi_state": u8(0), "tcpi_ca_state": u8(1), "tcpi_retransmits": u8(2), "tcpi_probes": u8(3),
		"tcpi_backoff": u8(4), "tcpi_options": u8(5), "tcpi_snd_wscale": u8(6) & 0xf, "tcpi_rcv_wscale": u8(6) >> 4,
		"tcpi_delivery_rate_app_limited": u8(7) & 1,
	}
	for i, name := range []string{"tcpi_rto", "tcpi_ato", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_unacked", "tcpi_sacked",
		"tcpi_lost", "tcpi_retrans", "tcpi_fackets", "tcpi_last_data_sent", "tcpi_last_ack_sent", "tcpi_last_data_recv",
		"tcpi_last_ack_recv", "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt", "tcpi_rttvar", "tcpi_snd_ssthresh",
		"tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering", "tcpi_rcv_rtt", "tcpi_rcv_space", "tcpi_total_retrans"} {
		m[name] = u32(8 + 4*i)
	}
	for name, off := range map[string]int{
		"tcpi_pacing_rate": 104, "tcpi_max_pacing_rate": 112, "tcpi_bytes_acked": 120, "tcpi_bytes_received": 128,
		"tcpi_delivery_rate": 160, "tcpi_busy_time": 168, "tcpi_rwnd_limited": 176, "tcpi_sndbuf_limited": 184,
		"tcpi_bytes_sent": 200, "tcpi_bytes_retrans": 208,
	} {
		m[name] = u64(off)
	}
	for name, off := range map[string]int{
		"tcpi_segs_out": 136, "tcpi_segs_in": 140, "tcpi_notsent_bytes": 144, "tcpi_min_rtt": 148,
		"tcpi_data_segs_in": 152, "tcpi_data_segs_out": 156, "tcpi_delivered": 192, "tcpi_delivered_ce": 196,
		"tcpi_dsack_dups": 216, "tcpi_reord_seen": 220,
	} {
		m[name] = u32(off)
	}
	// SO_MEMINFO, as packetdrill adds it.
	mem := make([]uint32, 9)
	ml := uint32(4 * len(mem))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(live), unix.SOL_SOCKET, unix.SO_MEMINFO, uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&ml)), 0); e == 0 {
		for i, name := range []string{"SK_MEMINFO_RMEM_ALLOC", "SK_MEMINFO_RCVBUF", "SK_MEMINFO_WMEM_ALLOC", "SK_MEMINFO_SNDBUF",
			"SK_MEMINFO_FWD_ALLOC", "SK_MEMINFO_WMEM_QUEUED", "SK_MEMINFO_OPTMEM", "SK_MEMINFO_BACKLOG", "SK_MEMINFO_DROPS"} {
			m[name] = int64(mem[i])
		}
	}
	// TCP_CC_INFO: BBR's fields when BBR runs.
	cc := make([]byte, 64)
	cl := uint32(len(cc))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(live), unix.SOL_TCP, unix.TCP_CC_INFO, uintptr(unsafe.Pointer(&cc[0])), uintptr(unsafe.Pointer(&cl)), 0); e == 0 && cl >= 20 {
		if name, err := unix.GetsockoptString(live, unix.SOL_TCP, unix.TCP_CONGESTION); err == nil && strings.HasPrefix(name, "bbr") {
			lo, hi := binary.LittleEndian.Uint32(cc), binary.LittleEndian.Uint32(cc[4:])
			m["bbr_bw_lo"], m["bbr_bw_hi"] = int64(lo), int64(hi)
			m["bbr_bw"] = int64(uint64(hi)<<32 | uint64(lo))
			m["bbr_min_rtt"] = int64(binary.LittleEndian.Uint32(cc[8:]))
			m["bbr_pacing_gain"] = int64(binary.LittleEndian.Uint32(cc[12:]))
			m["bbr_cwnd_gain"] = int64(binary.LittleEndian.Uint32(cc[16:]))
		}
	}
	return m, nil
}

// Close ends the run: the reader stops, blocked calls are cut short by
// closing their descriptors, the namespace and everything in it goes.
func (k *kernelInstance) Close() error {
	k.fdMu.Lock()
	if k.closed {
		k.fdMu.Unlock()
		return nil
	}
	k.closed = true
	for s, fd := range k.fds {
		unix.Shutdown(fd, unix.SHUT_RDWR) // wakes calls blocked on it
		unix.Close(fd)
		delete(k.fds, s)
	}
	for _, fd := range k.shadowed {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
	}
	k.shadowed = nil
	k.fdMu.Unlock()
	close(k.stop)
	k.readWG.Wait()
	// Calls still blocked (shutdown and close have woken most) are left
	// to finish on their own threads; their descriptors are gone.
	done := make(chan struct{})
	go func() { k.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(100 * time.Millisecond):
	}
	k.teardown()
	k.leave()
	return nil
}

// leave takes the runner's thread back to its namespace and priority and
// unlocks it. Should going back fail, the thread stays locked, and Go ends
// it with its goroutine, so it never runs anything else.
func (k *kernelInstance) leave() {
	err := unix.Setns(k.hostNS, unix.CLONE_NEWNET)
	if err == nil {
		if ino, ierr := nsIno("/proc/thread-self/ns/net"); ierr != nil || ino != k.hostIno {
			err = fmt.Errorf("still not in the original namespace")
		}
	}
	unix.Close(k.hostNS)
	k.restoreSched()
	if err != nil {
		fmt.Fprintf(k.log, "kernel target: returning to the original network namespace: %v\n", err)
		return
	}
	runtime.UnlockOSThread()
}

var atFDCWD = unix.AT_FDCWD

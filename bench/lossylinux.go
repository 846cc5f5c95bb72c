//go:build linux

package main

// The Linux reference for the lossy path: two kernels, each in its own
// network namespace with a TUN device, joined by the same emulated path
// (emu.go) that synfin and gVisor use. The kernel this runs on has no
// netem qdisc, and going through the one emulator also removes a source of
// difference between the three figures. scripts/lossy-linux.sh creates and
// deletes the namespaces; this file only uses them.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	linuxTunName = "lossy0"
	linuxClient  = "10.201.0.1"
	linuxServer  = "10.201.0.2"
	// linuxLossyDur is the full run's length, whatever -quick says.
	linuxLossyDur = 10 * time.Second
)

// kernelEmu is a kernel in namespace nsA (the client) and one in nsB (the
// server), their TUN devices joined by two emuPaths.
type kernelEmu struct {
	nsA, nsB string
	fA, fB   *os.File
	paths    []*emuPath
	wg       sync.WaitGroup
	once     sync.Once
}

func (k *kernelEmu) emuPaths() []*emuPath { return k.paths }

// inNetns runs f on an OS thread that has entered the named network
// namespace. The thread is never given back to the scheduler: it ends with
// the goroutine, so no other code runs in the namespace by accident.
// Sockets and devices created by f stay in the namespace.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread exits with us
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// openTun creates a TUN device (no packet information header, no
// offloads: the kernel segments before handing packets over) in ns and
// gives it addr/24.
func openTun(ns, addr string) (*os.File, error) {
	var fd int
	err := inNetns(ns, func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var ifr [unix.IFNAMSIZ + 64]byte
		copy(ifr[:], linuxTunName)
		*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", linuxTunName},
		{"-n", ns, "link", "set", linuxTunName, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// Non-blocking, so that the runtime's poller serves it and Close ends
	// a pending Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), ns+"/"+linuxTunName), nil
}

func newKernelEmu(cfg pathConfig, nsA, nsB string, run int) (env, error) {
	fA, err := openTun(nsA, linuxClient)
	if err != nil {
		return nil, err
	}
	fB, err := openTun(nsB, linuxServer)
	if err != nil {
		fA.Close()
		return nil, err
	}
	k := &kernelEmu{nsA: nsA, nsB: nsB, fA: fA, fB: fB}
	write := func(f *os.File) func([][]byte) {
		return func(pkts [][]byte) {
			for _, p := range pkts {
				f.Write(p) // a failed write is a lost packet
			}
		}
	}
	// The loss patterns of the bench's run number run (newSynfinEmu).
	pa := newEmuPath(cfg, uint64(2*run+1), write(fB))
	pb := newEmuPath(cfg, uint64(2*run+2), write(fA))
	k.paths = []*emuPath{pa, pb}
	pump := func(f *os.File, p *emuPath) {
		defer k.wg.Done()
		defer p.close()
		buf := make([]byte, 65536)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			if n <= 1500 {
				p.send(buf[:n])
			}
		}
	}
	k.wg.Add(2)
	go pump(fA, pa)
	go pump(fB, pb)
	return k, nil
}

func (k *kernelEmu) Listen(p uint16) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(k.nsB, func() error {
		var err error
		lc := net.ListenConfig{Control: useCubic}
		ln, err = lc.Listen(context.Background(), "tcp4", fmt.Sprintf("%s:%d", linuxServer, p))
		return err
	})
	return ln, err
}

func (k *kernelEmu) Dial(ctx context.Context, p uint16) (net.Conn, error) {
	var c net.Conn
	err := inNetns(k.nsA, func() error {
		d := net.Dialer{Control: useCubic}
		var err error
		c, err = d.DialContext(ctx, "tcp4", fmt.Sprintf("%s:%d", linuxServer, p))
		return err
	})
	if err != nil {
		return nil, err
	}
	// Check what the sender really runs.
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var cc string
	var gerr error
	rc.Control(func(fd uintptr) { cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION) })
	if gerr != nil || strings.TrimRight(cc, "\x00") != "cubic" {
		c.Close()
		return nil, fmt.Errorf("sender's congestion control is %q (%v), not cubic", cc, gerr)
	}
	// The run ends with data still queued: close with a RST, or the
	// connection would go on draining its send buffer through the next
	// run's path.
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// useCubic sets CUBIC, Linux's default congestion control, on a socket:
// the namespaces cannot make it their default when the host restricts it.
func useCubic(_, _ string, rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "cubic")
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("TCP_CONGESTION cubic: %w", err)
	}
	return nil
}

// Close removes the devices (closing a non-persistent TUN deletes it),
// which ends the pumps' reads.
func (k *kernelEmu) Close() {
	k.once.Do(func() {
		k.fA.Close()
		k.fB.Close()
		k.wg.Wait()
	})
}

// runLinuxLossy measures the kernel's goodput over the lossy path n times
// in namespaces "A,B" and prints each run and the median.
func runLinuxLossy(spec string, n int) int {
	nsA, nsB, ok := strings.Cut(spec, ",")
	if !ok || nsA == "" || nsB == "" || nsA == nsB {
		fmt.Fprintln(os.Stderr, "-lossy-linux wants two namespace names: A,B")
		return 2
	}
	var xs []float64
	for i := 0; i < n; i++ {
		e, err := newKernelEmu(lossyPath, nsA, nsB, i)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lossy-linux:", err)
			return 1
		}
		g, err := goodput(e, linuxLossyDur)
		sp, _ := spuriousShare(e)
		pa := e.(*kernelEmu).paths[0]
		pa.mu.Lock()
		lost, dropped, segs := pa.lost, pa.dropped, pa.dataSegs
		pa.mu.Unlock()
		e.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "lossy-linux:", err)
			return 1
		}
		fmt.Printf("run %d: %.3f Mbit/s (client path: %d data segments, %d lost at random, %d tail-dropped, %.2f %% spurious)\n",
			i+1, g, segs, lost, dropped, sp)
		xs = append(xs, g)
	}
	fmt.Printf("median of %d: %.3f Mbit/s\n", len(xs), median(xs))
	return 0
}

//go:build linux

// Package tun is a link.Endpoint on a Linux TUN device, through
// golang.zx2c4.com/wireguard/tun.
//
// # Offloads
//
// When the kernel accepts virtio-net headers on the device (IFF_VNET_HDR,
// every kernel since 2.6 does), the wireguard package turns on the
// device's TSO and checksum offloads and does the segmentation work in user
// space, in both directions:
//
//   - kernel to stack: the kernel hands over TCP super-packets of up to 64
//     KiB (TSO), which one Read splits into MTU-sized segments with their
//     checksums filled in. The Endpoint delivers those segments in one
//     batch, so the stack still sees only packets within the MTU.
//   - stack to kernel: consecutive TCP segments of one flow in one
//     WritePackets call are coalesced (GRO) into one write, which the
//     kernel takes as one large received packet.
//
// Both are invisible to the stack, so Offloads reports none of the
// link.Offloads features: the stack must fill in checksums and keep packets
// within the MTU. BatchSize reports whether the batching path is on (more
// than 1) or the device does one packet per system call (1).
package tun

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/synfin/synfin/link"
)

// DefaultMTU is the MTU set when Options.MTU is 0.
const DefaultMTU = 1500

// headroom is what each written packet keeps in front of it for the
// virtio-net header the wireguard package writes there (10 bytes; 16 keeps
// the packet 8-byte aligned).
const headroom = 16

// maxPacket is the largest packet a read may produce, and the room each
// write buffer has for coalescing segments into.
const maxPacket = 65535

// Options configures Open.
type Options struct {
	// MTU of the device, set when it is opened. 0 means DefaultMTU.
	MTU int
	// Namespace, if not empty, is the network namespace to create the
	// device in: a name as `ip netns` uses (a file in /var/run/netns) or a
	// path such as /proc/PID/ns/net. Only the creation happens there; the
	// calling goroutine's thread is left alone. Empty means the caller's
	// namespace.
	Namespace string
}

// Stats are an Endpoint's counters.
type Stats struct {
	// RxPackets and RxBytes count packets delivered to the Dispatcher;
	// RxReads counts the reads that produced them. RxPackets > RxReads
	// means the kernel sent TSO super-packets that were split.
	RxPackets, RxBytes, RxReads uint64
	// RxErrors counts failed reads (other than at Close).
	RxErrors uint64
	// TxPackets and TxBytes count packets handed to the device; TxWrites
	// counts the batches handed over.
	TxPackets, TxBytes, TxWrites uint64
	// TxErrors counts packets the device refused (the link down, a packet
	// that is not IP); they are dropped.
	TxErrors uint64
	// DropTooBig counts packets longer than the MTU, DropEmpty empty ones;
	// neither is written.
	DropTooBig, DropEmpty uint64
}

// Endpoint is a TUN device. It implements link.Endpoint.
type Endpoint struct {
	dev   wgtun.Device
	name  string
	mtu   int
	batch int

	attachOnce sync.Once
	closeOnce  sync.Once
	closed     atomic.Bool
	readerDone chan struct{} // closed when the reader goroutine returns; nil before Attach
	mu         sync.Mutex    // guards readerDone against Attach racing Close
	eventsDone chan struct{}

	writers sync.Pool // *writeBatch

	rxPackets, rxBytes, rxReads, rxErrors atomic.Uint64
	txPackets, txBytes, txWrites          atomic.Uint64
	txErrors, dropTooBig, dropEmpty       atomic.Uint64
}

var _ link.Endpoint = (*Endpoint)(nil)

// Open creates the TUN device name (or opens it if a persistent device of
// that name exists) with the options' MTU. The device is not brought up
// and has no address: configuring it (`ip link set NAME up`, `ip addr
// add`) is the caller's business. An empty name lets the kernel choose
// (tun0, tun1, ...); Name tells which.
func Open(name string, opts Options) (*Endpoint, error) {
	mtu := opts.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > maxPacket {
		return nil, fmt.Errorf("tun: MTU %d out of range [68, %d]", mtu, maxPacket)
	}
	if name == "" {
		name = "tun%d"
	}
	var dev wgtun.Device
	create := func() error {
		var err error
		dev, err = wgtun.CreateTUN(name, mtu)
		return err
	}
	var err error
	if opts.Namespace != "" {
		err = inNamespace(opts.Namespace, create)
	} else {
		err = create()
	}
	if err != nil {
		return nil, fmt.Errorf("tun: creating %q: %w", name, err)
	}
	actual, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	e := &Endpoint{
		dev:        dev,
		name:       actual,
		mtu:        mtu,
		batch:      max(dev.BatchSize(), 1),
		eventsDone: make(chan struct{}),
	}
	e.writers.New = func() any { return &writeBatch{} }
	// The wireguard device reports link events on a channel that must be
	// drained, or its monitoring goroutines block and outlive Close. It is
	// closed once they have stopped.
	go func() {
		defer close(e.eventsDone)
		for range dev.Events() {
		}
	}()
	return e, nil
}

// inNamespace runs f on an OS thread that has entered the network namespace
// ns, then returns the thread to its own namespace before giving it back to
// the Go scheduler, so no other code ever runs in ns by accident. If the
// return fails the thread stays locked and ends with the goroutine.
func inNamespace(ns string, f func() error) error {
	path := ns
	if !strings.Contains(ns, "/") {
		path = "/var/run/netns/" + ns
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Remember this thread's namespace and go back to it afterwards. If
		// going back fails the thread stays locked, and Go ends it when the
		// goroutine exits; but it may be the main thread, which Go cannot
		// end, so returning to the original namespace is the normal path.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("saving the current network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		ferr := f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// Name returns the device's name.
func (e *Endpoint) Name() string { return e.name }

// MTU returns the MTU the device was opened with.
func (e *Endpoint) MTU() int { return e.mtu }

// Offloads reports none: see the package documentation for the offloads
// done inside the endpoint.
func (e *Endpoint) Offloads() link.Offloads { return link.Offloads{} }

// BatchSize is the most packets one read can produce and one write
// system call can take: more than 1 when the device uses virtio-net
// headers (TSO splitting and GRO coalescing on), 1 when it does not.
func (e *Endpoint) BatchSize() int { return e.batch }

// Device returns the underlying wireguard device, for what the Endpoint
// does not expose. Reading from it would steal the Endpoint's packets.
func (e *Endpoint) Device() wgtun.Device { return e.dev }

// Attach starts the goroutine that reads batches from the device and hands
// them to d. Packets that arrive before Attach wait in the kernel's queue
// (and are dropped by it when that is full). A second Attach, or one after
// Close, does nothing.
func (e *Endpoint) Attach(d link.Dispatcher) {
	e.attachOnce.Do(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed.Load() {
			return
		}
		e.readerDone = make(chan struct{})
		go e.read(d)
	})
}

// read is the reader goroutine: it reads batches until the device closes.
func (e *Endpoint) read(d link.Dispatcher) {
	defer close(e.readerDone)
	bufs := make([][]byte, e.batch)
	sizes := make([]int, e.batch)
	views := make([][]byte, 0, e.batch)
	// The first buffer takes a whole packet as the kernel sent it, the
	// others the MTU-sized segments a super-packet is split into.
	bufs[0] = make([]byte, maxPacket)
	for i := 1; i < len(bufs); i++ {
		bufs[i] = make([]byte, e.mtu)
	}
	for {
		n, err := e.dev.Read(bufs, sizes, 0)
		if n > 0 {
			views = views[:0]
			var bytes uint64
			for i := range min(n, len(bufs)) {
				if sizes[i] < 0 || sizes[i] > len(bufs[i]) {
					// A segment larger than the MTU the endpoint was
					// opened with (someone raised the device's MTU).
					e.dropTooBig.Add(1)
					continue
				}
				views = append(views, bufs[i][:sizes[i]])
				bytes += uint64(sizes[i])
			}
			e.rxReads.Add(1)
			e.rxPackets.Add(uint64(len(views)))
			e.rxBytes.Add(bytes)
			if len(views) > 0 {
				d.DeliverPackets(views)
			}
		}
		if err != nil {
			if e.closed.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			// A netlink hiccup or a super-packet that did not fit: the
			// next read is independent.
			e.rxErrors.Add(1)
		}
	}
}

// writeBatch is the scratch space of one WritePackets call: buffers with
// headroom for the virtio-net header and room to grow to 64 KiB, which the
// wireguard package needs to coalesce segments into.
type writeBatch struct {
	store [][]byte // backing buffers, each of capacity headroom+maxPacket
	bufs  [][]byte // views handed to Device.Write, which may reorder them
}

// WritePackets writes pkts to the device, in batches of BatchSize, and
// returns len(pkts): packets longer than the MTU, empty ones, and ones the
// kernel refuses are dropped and counted in Stats. After Close it returns
// link.ErrClosed. The packets are copied; the caller keeps its buffers.
func (e *Endpoint) WritePackets(pkts [][]byte) (int, error) {
	if e.closed.Load() {
		return 0, link.ErrClosed
	}
	wb := e.writers.Get().(*writeBatch)
	defer e.writers.Put(wb)
	done := 0
	for done < len(pkts) {
		k := 0
		wb.bufs = wb.bufs[:0]
		var bytes uint64
		for done < len(pkts) && k < e.batch {
			p := pkts[done]
			done++
			switch {
			case len(p) == 0:
				e.dropEmpty.Add(1)
				continue
			case len(p) > e.mtu:
				e.dropTooBig.Add(1)
				continue
			}
			if k == len(wb.store) {
				wb.store = append(wb.store, make([]byte, headroom+maxPacket))
			}
			b := wb.store[k][:headroom+len(p)]
			copy(b[headroom:], p)
			wb.bufs = append(wb.bufs, b)
			bytes += uint64(len(p))
			k++
		}
		if k == 0 {
			continue
		}
		_, err := e.dev.Write(wb.bufs, headroom)
		e.txWrites.Add(1)
		if err != nil {
			if e.closed.Load() || errors.Is(err, os.ErrClosed) {
				return done - k, link.ErrClosed
			}
			failed := uint64(1)
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				failed = uint64(len(j.Unwrap()))
			}
			failed = min(failed, uint64(k))
			e.txErrors.Add(failed)
			e.txPackets.Add(uint64(k) - failed)
		} else {
			e.txPackets.Add(uint64(k))
			e.txBytes.Add(bytes)
		}
	}
	clear(wb.bufs)
	return len(pkts), nil
}

// Close closes the device (a non-persistent device disappears with it) and
// waits for the reader goroutine: once Close returns the Dispatcher is not
// called again. Close must not be called from inside DeliverPackets.
// Closing twice returns nil.
func (e *Endpoint) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed.Store(true)
		done := e.readerDone
		e.mu.Unlock()
		err = e.dev.Close()
		if done != nil {
			<-done
		}
		<-e.eventsDone
	})
	return err
}

// Stats returns a snapshot of the counters.
func (e *Endpoint) Stats() Stats {
	return Stats{
		RxPackets:  e.rxPackets.Load(),
		RxBytes:    e.rxBytes.Load(),
		RxReads:    e.rxReads.Load(),
		RxErrors:   e.rxErrors.Load(),
		TxPackets:  e.txPackets.Load(),
		TxBytes:    e.txBytes.Load(),
		TxWrites:   e.txWrites.Load(),
		TxErrors:   e.txErrors.Load(),
		DropTooBig: e.dropTooBig.Load(),
		DropEmpty:  e.dropEmpty.Load(),
	}
}

// Package sim is a deterministic network of synfin hosts in virtual time.
//
// A Network owns a virtual clock and one event queue. Hosts are synfin
// stacks (package stack) whose Clock is the network's; links join two hosts
// and model latency, jitter, bandwidth with a FIFO queue, random and bursty
// loss, reordering, duplication, corruption, an MTU and partitions. Nothing
// runs by itself: Run, RunFor and RunUntil execute the queued events (link
// deliveries, the stacks' timers, the callbacks of AfterFunc and Every, and
// the applications' polls) one after another on the caller's goroutine, in
// the order of their virtual time and, for equal times, of their scheduling.
// No goroutine is started and no real clock is read, so a run depends only
// on the seed and the calls made: the same seed gives the same packets, the
// same counters and byte-identical captures.
//
// Everything random (links, the hosts' secrets that key ISNs, timestamps
// offsets and ephemeral ports) derives from the seed given to New: a link
// direction draws from its own PCG generator seeded by the network seed, the
// link's index and the direction, so adding a link or a host never changes
// what existing ones do.
//
// Applications use the stack's non-blocking API (TryAccept, DialAsync,
// TryRead, TryWrite) from callbacks: OnStep hooks and Apps (Start) are polled
// after each batch of events that share a virtual time. BulkSender and Sink
// are ready-made Apps that move a pseudo-random byte stream and check it
// with SHA-256.
//
// A Network and everything in it (hosts, stacks, links, connections) must
// be used from one goroutine: the one calling the Run methods. The blocking
// net.Conn API of the stacks does not work inside a simulation, since
// nothing advances while a call blocks.
package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/stack"
)

// Network is a simulated network: a virtual clock, an event queue, hosts
// and links. It implements stack.Clock.
type Network struct {
	seed  uint64
	now   time.Duration
	seq   uint64
	queue eventHeap

	hosts []*Host
	links []*Link
	names map[string]*Host

	steps []func()
	apps  []*appState

	watchdog     time.Duration
	waiting      bool // some App is waiting
	lastProgress time.Duration

	capture  *pcap.Writer // network-wide capture, or nil
	captures []*pcap.Writer
	capErr   error

	bufs    [][]byte // free packet buffers
	bufsLow int      // fewest free buffers since the last trim
	trimAt  time.Duration
	lastRan time.Duration // when the last event ran
	stopped bool
}

var _ stack.Clock = (*Network)(nil)

// New returns an empty network whose randomness all derives from seed. Its
// clock reads 0.
func New(seed uint64) *Network {
	return &Network{seed: seed, names: map[string]*Host{}}
}

// Seed returns the seed the network was created with.
func (n *Network) Seed() uint64 { return n.seed }

// Now returns the virtual time since the start of the simulation.
func (n *Network) Now() time.Duration { return n.now }

// ---------------------------------------------------------------------------
// Event queue and clock.

// event is one scheduled call. It is the Timer that AfterFunc returns.
type event struct {
	n   *Network
	at  time.Duration
	seq uint64
	idx int // position in the heap, -1 once run or stopped
	f   func()
}

// Stop implements stack.Timer: it removes the event from the queue and
// reports whether it was still pending.
func (e *event) Stop() bool {
	if e.idx < 0 {
		return false
	}
	e.n.queue.remove(e.idx)
	return true
}

// Timer is a pending call scheduled by AfterFunc or Every.
type Timer = stack.Timer

// AfterFunc schedules f to run d from now (d < 0 counts as 0), after every
// event already scheduled for that time. It implements stack.Clock.
func (n *Network) AfterFunc(d time.Duration, f func()) stack.Timer {
	return n.schedule(n.now+max(d, 0), f)
}

func (n *Network) schedule(at time.Duration, f func()) *event {
	n.seq++
	e := &event{n: n, at: at, seq: n.seq, f: f}
	n.queue.push(e)
	return e
}

// Every calls f every d of virtual time, the first time d from now, until
// the returned Timer is stopped. It panics if d is not positive.
func (n *Network) Every(d time.Duration, f func()) Timer {
	if d <= 0 {
		panic("sim: Every needs a positive period")
	}
	t := &ticker{n: n, d: d, f: f}
	t.arm()
	return t
}

type ticker struct {
	n       *Network
	d       time.Duration
	f       func()
	cur     *event
	stopped bool
}

func (t *ticker) arm() {
	t.cur = t.n.schedule(t.n.now+t.d, func() {
		t.arm()
		t.f()
	})
}

func (t *ticker) Stop() bool {
	if t.stopped {
		return false
	}
	t.stopped = true
	return t.cur.Stop()
}

// eventHeap is a binary min-heap ordered by (at, seq).
type eventHeap []*event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h eventHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *eventHeap) push(e *event) {
	e.idx = len(*h)
	*h = append(*h, e)
	h.up(e.idx)
}

func (h *eventHeap) pop() *event {
	return h.remove(0)
}

func (h *eventHeap) remove(i int) *event {
	old := *h
	last := len(old) - 1
	e := old[i]
	if i != last {
		old.swap(i, last)
	}
	old[last] = nil
	*h = old[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	e.idx = -1
	return e
}

func (h eventHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h eventHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// Pending returns the number of scheduled events.
func (n *Network) Pending() int { return len(n.queue) }

// ---------------------------------------------------------------------------
// Running.

// ErrTimeLimit is returned by RunUntil when the limit passed before the
// condition held.
var ErrTimeLimit = errors.New("sim: time limit reached")

// ErrIdle is returned by RunUntil when no event is left to run and the
// condition does not hold: nothing can change any more.
var ErrIdle = errors.New("sim: no event pending")

// StallError is returned when the watchdog fires: an App was waiting and
// no App made progress for the watchdog's period, or nothing at all was
// left to run while an App was waiting.
type StallError struct {
	// At is the virtual time of the stall; Since the last progress.
	At, Since time.Duration
	// Idle: the event queue was empty.
	Idle bool
	// Sockets is every host's sockets table at the stall, for diagnosis.
	Sockets string
}

func (e *StallError) Error() string {
	why := "no progress"
	if e.Idle {
		why = "no event pending"
	}
	return fmt.Sprintf("sim: stalled at %v: %s since %v\n%s", e.At, why, e.Since, e.Sockets)
}

// SetWatchdog makes the Run methods fail with a *StallError when some App
// (see Start) is waiting and none has made progress for d of virtual time,
// or at once when no event is left while an App is waiting. 0 turns the
// watchdog off.
func (n *Network) SetWatchdog(d time.Duration) {
	n.watchdog = d
	n.lastProgress = n.now
}

// OnStep registers f to be called after each batch of events that share a
// virtual time (and once at the start of each Run call). Hooks run in the
// order they were registered, before the Apps.
func (n *Network) OnStep(f func()) { n.steps = append(n.steps, f) }

// Run runs events until none is left. It returns a *StallError if the
// watchdog fires, and otherwise the first capture write error, if any. A
// Network with an Every ticker never runs out of events: use RunFor or
// RunUntil then.
func (n *Network) Run() error {
	err := n.run(nil, -1)
	if err == ErrIdle {
		err = nil
	}
	return n.finish(err)
}

// RunFor runs the events of the next d of virtual time and leaves the clock
// d later. It returns a *StallError if the watchdog fires (the clock then
// reads the time of the stall), and otherwise the first capture write
// error, if any.
func (n *Network) RunFor(d time.Duration) error {
	end := n.now + max(d, 0)
	err := n.run(nil, end)
	if err == ErrIdle || err == ErrTimeLimit {
		n.now = end
		err = nil
	}
	n.maybeTrimBufs(n.now)
	return n.finish(err)
}

// RunUntil runs events until cond holds (checked first, then after each
// batch of same-time events and its polls: it returns nil), or limit of
// virtual time has passed (ErrTimeLimit, with the clock at the limit; a
// limit <= 0 means none), or no event is left (ErrIdle), or the watchdog
// fires (*StallError).
func (n *Network) RunUntil(cond func() bool, limit time.Duration) error {
	end := time.Duration(-1)
	if limit > 0 {
		end = n.now + limit
	}
	return n.finish(n.run(cond, end))
}

// finish flushes the captures after a run.
func (n *Network) finish(err error) error {
	if ferr := n.Flush(); err == nil {
		err = ferr
	}
	return err
}

// run is the event loop. end < 0 means no time limit.
func (n *Network) run(cond func() bool, end time.Duration) error {
	if n.stopped {
		return errors.New("sim: network closed")
	}
	n.poll()
	for {
		if cond != nil && cond() {
			return nil
		}
		active := n.waiting
		if len(n.queue) == 0 {
			if active && n.watchdog > 0 {
				return n.stall(true)
			}
			return ErrIdle
		}
		next := n.queue[0].at
		if active && n.watchdog > 0 {
			if at := n.lastProgress + n.watchdog; next > at && (end < 0 || at <= end) {
				n.now = max(n.now, at)
				return n.stall(false)
			}
		}
		if end >= 0 && next > end {
			n.now = end
			return ErrTimeLimit
		}
		n.maybeTrimBufs(next)
		n.now, n.lastRan = next, next
		for len(n.queue) > 0 && n.queue[0].at == next {
			e := n.queue.pop()
			e.f()
		}
		n.poll()
	}
}

func (n *Network) stall(idle bool) error {
	var b strings.Builder
	for _, h := range n.hosts {
		fmt.Fprintf(&b, "%s:\n%s", h.name, stack.FormatSS(h.s.Sockets()))
	}
	return &StallError{At: n.now, Since: n.lastProgress, Idle: idle, Sockets: b.String()}
}

// poll runs the step hooks and the Apps, and tracks progress.
func (n *Network) poll() {
	for _, f := range n.steps {
		f()
	}
	progressed, waiting := false, false
	for _, a := range n.apps {
		a.app.Poll()
		if p := a.app.Progress(); p != a.progress {
			a.progress = p
			progressed = true
		}
		if a.app.Waiting() {
			waiting = true
		}
	}
	n.waiting = waiting
	if progressed || !waiting {
		n.lastProgress = n.now
	}
}

// App is an application polled by the network (see Start).
type App interface {
	// Poll does what the app can without blocking. It is called after
	// each batch of same-time events.
	Poll()
	// Progress is a counter that changes whenever the app gets something
	// done (bytes moved, a state reached); the watchdog watches it.
	Progress() int64
	// Waiting reports that the app expects something to happen (a
	// connection, data, a close). The watchdog fires when an app is
	// waiting and no app has made progress for its period.
	Waiting() bool
}

type appState struct {
	app      App
	progress int64
}

// Start registers an app: it is polled after each batch of same-time
// events (and at the start of each Run call), after the OnStep hooks, in
// the order of registration.
func (n *Network) Start(a App) {
	n.apps = append(n.apps, &appState{app: a, progress: a.Progress()})
	n.lastProgress = n.now
	n.waiting = n.waiting || a.Waiting()
}

// Close closes every host's stack and flushes the captures; the network
// cannot run afterwards.
func (n *Network) Close() error {
	if n.stopped {
		return nil
	}
	var first error
	for _, h := range n.hosts {
		if err := h.s.Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := n.Flush(); err != nil && first == nil {
		first = err
	}
	n.stopped = true
	n.queue = nil
	return first
}

// ---------------------------------------------------------------------------
// Randomness.

// mix is SplitMix64's finaliser: a bijection that spreads every input bit.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hostSecret derives a host's stack secret from the seed and its name.
func hostSecret(seed uint64, name string) *[16]byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write([]byte("synfin/sim host secret\x00"))
	h.Write(b[:])
	h.Write([]byte(name))
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return &out
}

// ---------------------------------------------------------------------------
// Hosts.

// Host is a synfin stack in the network.
type Host struct {
	n     *Network
	name  string
	addrs []netip.Prefix
	s     *stack.Stack
	nics  int

	captures []*pcap.Writer
}

// AddHost creates a host with the default stack options and the given
// addresses (which Connect puts on each of its interfaces).
func (n *Network) AddHost(name string, addrs ...netip.Prefix) (*Host, error) {
	return n.AddHostWith(name, stack.Options{}, addrs...)
}

// AddHostWith creates a host with stack options (a TCP configuration,
// SYN cookie policy, ...). The network sets Clock and Capture; Secret, when
// nil, is derived from the network seed and the host's name, so that ISNs,
// timestamp offsets and ephemeral ports are reproducible.
func (n *Network) AddHostWith(name string, opts stack.Options, addrs ...netip.Prefix) (*Host, error) {
	if name == "" {
		return nil, errors.New("sim: host needs a name")
	}
	if _, dup := n.names[name]; dup {
		return nil, fmt.Errorf("sim: duplicate host name %q", name)
	}
	for _, a := range addrs {
		if !a.IsValid() {
			return nil, fmt.Errorf("sim: host %s: invalid address %v", name, a)
		}
	}
	h := &Host{n: n, name: name, addrs: append([]netip.Prefix(nil), addrs...)}
	opts.Clock = n
	opts.Capture = hostCapture{h}
	if opts.Secret == nil {
		opts.Secret = hostSecret(n.seed, name)
	}
	s, err := stack.New(opts)
	if err != nil {
		return nil, fmt.Errorf("sim: host %s: %w", name, err)
	}
	h.s = s
	n.hosts = append(n.hosts, h)
	n.names[name] = h
	return h, nil
}

// Host returns the host with that name, or nil.
func (n *Network) Host(name string) *Host { return n.names[name] }

// Hosts returns the hosts in the order they were added.
func (n *Network) Hosts() []*Host { return append([]*Host(nil), n.hosts...) }

// Links returns the links in the order they were made.
func (n *Network) Links() []*Link { return append([]*Link(nil), n.links...) }

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// Stack returns the host's stack.
func (h *Host) Stack() *stack.Stack { return h.s }

// Network returns the network the host belongs to.
func (h *Host) Network() *Network { return h.n }

// Prefixes returns the host's addresses with their prefix lengths.
func (h *Host) Prefixes() []netip.Prefix { return append([]netip.Prefix(nil), h.addrs...) }

// Addr returns the host's first address (the zero Addr if it has none).
func (h *Host) Addr() netip.Addr {
	if len(h.addrs) == 0 {
		return netip.Addr{}
	}
	return h.addrs[0].Addr()
}

// AddrPort returns the host's first address with port.
func (h *Host) AddrPort(port uint16) netip.AddrPort { return netip.AddrPortFrom(h.Addr(), port) }

// ---------------------------------------------------------------------------
// Captures.

// CaptureTo records everything the host's stack sends and receives, as
// pcapng (LINKTYPE_RAW, one interface named after the host), to w. Packet
// comments name the state changes a packet caused; timestamps are virtual
// time counted from the Unix epoch. Output is flushed when a Run call
// returns and by Flush and Close; w is never closed.
func (h *Host) CaptureTo(w io.Writer) error {
	pw, err := pcap.NewWriter(w, pcap.WriterOptions{InterfaceName: h.name, Application: "synfin sim"})
	if err != nil {
		return err
	}
	h.captures = append(h.captures, pw)
	h.n.captures = append(h.n.captures, pw)
	return nil
}

// Capture records what every host (present and future) sends and receives
// into one pcapng stream: a packet appears once as sent ("out") by one host
// and once as received ("in") by the other, with the host's name at the
// start of its comment ("b: SYN_RCVD -> ESTABLISHED"). Only one
// network-wide capture can be active.
func (n *Network) Capture(w io.Writer) error {
	if n.capture != nil {
		return errors.New("sim: network capture already set")
	}
	pw, err := pcap.NewWriter(w, pcap.WriterOptions{InterfaceName: "sim", Application: "synfin sim"})
	if err != nil {
		return err
	}
	n.capture = pw
	n.captures = append(n.captures, pw)
	return nil
}

// Flush pushes buffered capture output to the writers and returns the first
// write error met so far.
func (n *Network) Flush() error {
	for _, w := range n.captures {
		if err := w.Flush(); err != nil && n.capErr == nil {
			n.capErr = err
		}
	}
	return n.capErr
}

type hostCapture struct{ h *Host }

func (c hostCapture) CapturePacket(ts time.Duration, out bool, pkt []byte, comment string) {
	h := c.h
	dir := pcap.In
	if out {
		dir = pcap.Out
	}
	for _, w := range h.captures {
		if err := w.WritePacket(ts, dir, pkt, comment); err != nil && h.n.capErr == nil {
			h.n.capErr = err
		}
	}
	if w := h.n.capture; w != nil {
		cm := h.name
		if comment != "" {
			cm += ": " + comment
		}
		if err := w.WritePacket(ts, dir, pkt, cm); err != nil && h.n.capErr == nil {
			h.n.capErr = err
		}
	}
}

// ---------------------------------------------------------------------------
// Packet buffers.

const bufSize = 2048

// bufTrimPeriod is how often (in virtual time) the free list gives back the
// buffers it did not need: a burst of packets in flight (10k handshakes at
// once) fills the list up to maxFreeBufs, and an idle network should not
// keep that memory.
const (
	bufTrimPeriod = time.Second
	maxFreeBufs   = 4096
	minFreeBufs   = 64 // never trimmed: enough for light traffic
)

func (n *Network) getBuf(size int) []byte {
	if size <= bufSize {
		if k := len(n.bufs); k > 0 {
			b := n.bufs[k-1]
			n.bufs[k-1] = nil
			n.bufs = n.bufs[:k-1]
			n.bufsLow = min(n.bufsLow, k-1)
			return b[:size]
		}
		n.bufsLow = 0
		return make([]byte, size, bufSize)
	}
	return make([]byte, size)
}

func (n *Network) putBuf(b []byte) {
	if cap(b) == bufSize && len(n.bufs) < maxFreeBufs {
		n.bufs = append(n.bufs, b[:0])
	}
}

// maybeTrimBufs is called as the clock reaches t. Once per bufTrimPeriod it
// releases the free buffers that were not needed since the last trim: at
// every moment since, at least bufsLow of them sat unused in the free list.
// If no event ran for a whole period, none was needed: all go but
// minFreeBufs.
func (n *Network) maybeTrimBufs(t time.Duration) {
	if t < n.trimAt {
		return
	}
	if t-n.lastRan >= bufTrimPeriod {
		n.bufsLow = len(n.bufs)
	}
	if surplus := min(n.bufsLow, len(n.bufs)-minFreeBufs); surplus > 0 {
		keep := len(n.bufs) - surplus
		clear(n.bufs[keep:])
		n.bufs = n.bufs[:keep]
		if cap(n.bufs) > 4*keep+64 {
			n.bufs = append([][]byte(nil), n.bufs...)
		}
	}
	n.bufsLow = len(n.bufs)
	n.trimAt = t + bufTrimPeriod
}

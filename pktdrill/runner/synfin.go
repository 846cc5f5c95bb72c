package runner

import (
	"container/heap"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/socket"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// Synfin returns the target that runs scripts on synfin's own stack, in
// process and in virtual time.
//
// Each run gets a fresh stack (package stack) with a fixed secret, so that
// a script always sees the same initial sequence numbers, timestamps and
// ports, and a virtual clock that starts at 0 and moves only when the runner
// lets time pass (Advance, NextPacket, PendingCall.Wait): then the timers
// that fall due (retransmissions, delayed ACKs, TIME_WAIT...) run one after
// another at their own virtual times, and the clock stops exactly at the
// requested time. The stack has the address 192.168.0.1/16 (Config.LocalIP
// and LocalPrefix) on one interface whose link is a capture, with the
// default route through it: every packet the stack sends is queued with
// the virtual time it was sent for NextPacket, and Inject hands a packet to
// the stack at the current time. The stack sends MSS-sized segments (the
// engine marks where Linux's TSO packets would end with PSH); the runner
// joins consecutive segments when a script expects one TSO packet.
//
// System calls go to a socket.Table (package socket), Linux's socket API
// on the stack: the script's descriptor numbers are mapped to the table's
// (which also start at 3), evaluated arguments are converted to the
// table's types (sockaddrs, option bytes in Linux's layouts, iovecs,
// msghdrs, pollfd arrays, epoll events) and out-parameters are reported in
// SyscallResult.Out. A call that blocks is a PendingCall whose Wait runs
// virtual time until the call returns.
//
// Shell commands are interpreted, not run: packetdrill's defaults.sh sets
// its sysctls on the stack's tcp.Config (the stack is created at the first
// system call or packet, so that the script's leading commands apply to
// it; later ones go through stack.SetConfig), sysctl -q/-w, set_sysctls.py
// (and its /tmp/sysctl_restore_*.sh) and echo V > /proc/sys/net/ipv4/X set
// single ones, and tc, ip tcp_metrics, nstat, ethtool and sleep are
// accepted (and noted in the log). A sysctl synfin has no equivalent for,
// when the script gives it a value that changes behaviour, and any other
// command, is an *UnsupportedError: the script is skipped, naming what is
// missing.
//
// Before the run starts, Open looks through the script for features synfin
// lacks (TCP MD5 signatures, ECN, SACK-based recovery for
// inbound SACK blocks, SO_TIMESTAMPING, the error queue, UDP, splice,
// sendfile, tcp_info fields it does not keep...) and reports the first as
// an *UnsupportedError, so such scripts are skipped rather than failed.
func Synfin() Target { return synfinTarget{} }

type synfinTarget struct{}

func (synfinTarget) Name() string { return "synfin" }

// synfinSecret keys the stack's ISNs, timestamp offsets and ephemeral
// ports: fixed, so that every run of a script is the same.
var synfinSecret = [16]byte{'s', 'y', 'n', 'f', 'i', 'n', '-', 'p', 'k', 't', 'd', 'r', 'i', 'l', 'l', 0}

func (synfinTarget) Open(cfg *Config) (Instance, error) {
	if cfg.IPVersion != 0 && cfg.IPVersion != 4 {
		return nil, &UnsupportedError{Feature: "IPv6 scripts", Detail: fmt.Sprintf("ip_version %d", cfg.IPVersion)}
	}
	if cfg.Script != nil {
		if err := synfinScan(cfg.Script); err != nil {
			return nil, err
		}
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	in := &synfinInstance{
		cfg:      cfg,
		log:      log,
		clk:      &vclock{},
		tcpCfg:   tcp.DefaultConfig(),
		gso:      true,
		fds:      map[int]int{0: 0, 1: 1, 2: 2},
		bindPort: 8080,
		connPort: 8080,
	}
	in.link = &captureLink{in: in, mtu: cfg.MTU}
	if in.link.mtu <= 0 {
		in.link.mtu = 1500
	}
	if v, ok := cfg.Options["bind_port"]; ok {
		if p, err := strconv.ParseUint(v, 10, 16); err == nil {
			in.bindPort = uint16(p)
		}
	}
	if v, ok := cfg.Options["connect_port"]; ok {
		if p, err := strconv.ParseUint(v, 10, 16); err == nil {
			in.connPort = uint16(p)
		}
	}
	return in, nil
}

// synfinInstance is one run of a script on a fresh synfin stack.
type synfinInstance struct {
	cfg *Config
	log io.Writer
	clk *vclock

	// Configuration set by shell commands before the stack exists; tcpCfg
	// is also pushed to the stack by later sysctls.
	tcpCfg     tcp.Config
	syncookies int
	gso        bool
	foKeys     *fastOpenKeys // net.ipv4.tcp_fastopen_key (synfin_fastopen.go)
	restore    []sysctlSaved // what set_sysctls.py changed, for the restore script

	st   *stack.Stack
	nic  *stack.NIC
	link *captureLink
	tbl  *socket.Table

	// fds maps the script's descriptor numbers to the table's.
	fds map[int]int

	bindPort, connPort uint16

	// pending are the calls still blocked, polled whenever time passes.
	pending []*synfinCall

	closed bool
}

// ---------------------------------------------------------------------------
// Virtual clock.

// vclock is a virtual clock and its event queue. It implements
// stack.Clock: the stack's timers are AfterFunc events that run when the
// instance lets time pass, in the order of their time and, for equal
// times, of their scheduling.
type vclock struct {
	now time.Duration
	seq uint64
	q   vqueue
}

type vevent struct {
	c   *vclock
	at  time.Duration
	seq uint64
	idx int
	f   func()
}

// Stop implements stack.Timer.
func (e *vevent) Stop() bool {
	if e.idx < 0 {
		return false
	}
	heap.Remove(&e.c.q, e.idx)
	return true
}

type vqueue []*vevent

func (q vqueue) Len() int { return len(q) }
func (q vqueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q vqueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx, q[j].idx = i, j
}
func (q *vqueue) Push(x any) {
	e := x.(*vevent)
	e.idx = len(*q)
	*q = append(*q, e)
}
func (q *vqueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.idx = -1
	return e
}

func (c *vclock) Now() time.Duration { return c.now }

func (c *vclock) AfterFunc(d time.Duration, f func()) stack.Timer {
	c.seq++
	e := &vevent{c: c, at: c.now + max(d, 0), seq: c.seq, f: f}
	heap.Push(&c.q, e)
	return e
}

// next returns the time of the earliest event.
func (c *vclock) next() (time.Duration, bool) {
	if len(c.q) == 0 {
		return 0, false
	}
	return c.q[0].at, true
}

// runDue runs every event due at or before now, including those the
// events schedule for now.
func (c *vclock) runDue() {
	for len(c.q) > 0 && c.q[0].at <= c.now {
		e := heap.Pop(&c.q).(*vevent)
		e.f()
	}
}

// ---------------------------------------------------------------------------
// The link: a capture of what the stack sends.

type capturedPacket struct {
	at  time.Duration
	pkt []byte
}

// captureLink is the stack's only interface. Outbound packets are queued
// with their send time; inbound ones are delivered by Inject.
type captureLink struct {
	in  *synfinInstance
	mtu int
	d   link.Dispatcher
	out []capturedPacket
}

func (l *captureLink) MTU() int { return l.mtu }

func (l *captureLink) Offloads() link.Offloads {
	if l.in.gso {
		// packetdrill's TUN device takes TSO/GSO packets (the kernel's
		// sk_gso_max_size for it is 64 KiB).
		return link.Offloads{GSOMaxSize: 65536}
	}
	return link.Offloads{}
}

func (l *captureLink) Attach(d link.Dispatcher) { l.d = d }

func (l *captureLink) WritePackets(pkts [][]byte) (int, error) {
	for _, p := range pkts {
		l.out = append(l.out, capturedPacket{at: l.in.clk.now, pkt: append([]byte(nil), p...)})
	}
	return len(pkts), nil
}

func (l *captureLink) Close() error { return nil }

// ---------------------------------------------------------------------------
// Instance.

// ensureStack creates the stack at first use, with the configuration the
// script's commands have set so far.
func (in *synfinInstance) ensureStack() error {
	if in.closed {
		return fmt.Errorf("synfin: instance closed")
	}
	if in.st != nil {
		return nil
	}
	secret := synfinSecret
	cfg := in.tcpCfg
	st, err := stack.New(stack.Options{
		TCP:        &cfg,
		Clock:      in.clk,
		Secret:     &secret,
		Syncookies: in.syncookies,
		// Linux ends a handshake on a net or host unreachable, and drops a
		// passive open's request on one.
		AbortHandshakeOnUnreachable: true,
	})
	if err != nil {
		return fmt.Errorf("synfin: %v", err)
	}
	if in.foKeys != nil {
		st.SetFastOpenKey(in.foKeys.primary, in.foKeys.backup)
	}
	local := in.cfg.LocalIP
	if !local.IsValid() {
		local = netip.MustParseAddr("192.168.0.1")
	}
	prefix := in.cfg.LocalPrefix
	if !prefix.IsValid() {
		prefix = netip.PrefixFrom(local, 16)
	}
	nic, err := st.AddInterface("tun0", in.link, netip.PrefixFrom(local, prefix.Bits()))
	if err != nil {
		st.Close()
		return fmt.Errorf("synfin: %v", err)
	}
	if err := st.AddRoute(stack.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: in.cfg.Gateway, NIC: nic}); err != nil {
		st.Close()
		return fmt.Errorf("synfin: %v", err)
	}
	in.st, in.nic = st, nic
	in.tbl = socket.New(st)
	return nil
}

func (in *synfinInstance) Now() time.Duration { return in.clk.now }

// run lets virtual time pass until t, running each event at its time and
// polling the blocked calls after each step; it stops early, at the time of
// the step after which stop reports true.
func (in *synfinInstance) run(t time.Duration, stop func() bool) {
	for {
		if stop != nil && stop() {
			return
		}
		next, ok := in.clk.next()
		if d, has := in.nextCallDeadline(); has && (!ok || d < next) {
			next, ok = d, true
		}
		if !ok || next > t {
			if t > in.clk.now {
				in.clk.now = t
			}
			in.pollPending()
			return
		}
		if next > in.clk.now {
			in.clk.now = next
		}
		in.clk.runDue()
		in.pollPending()
	}
}

func (in *synfinInstance) Advance(t time.Duration) error {
	if in.closed {
		return fmt.Errorf("synfin: instance closed")
	}
	in.run(t, nil)
	return nil
}

func (in *synfinInstance) NextPacket(deadline time.Duration) ([]byte, time.Duration, bool, error) {
	if in.closed {
		return nil, 0, false, fmt.Errorf("synfin: instance closed")
	}
	if len(in.link.out) == 0 {
		in.run(deadline, func() bool { return len(in.link.out) > 0 })
	}
	if len(in.link.out) == 0 {
		return nil, 0, false, nil
	}
	p := in.link.out[0]
	in.link.out[0] = capturedPacket{}
	in.link.out = in.link.out[1:]
	return p.pkt, p.at, true, nil
}

func (in *synfinInstance) Inject(pkt []byte) error {
	if err := in.ensureStack(); err != nil {
		return err
	}
	in.clk.runDue()
	in.nic.DeliverPackets([][]byte{pkt})
	in.pollPending()
	return nil
}

func (in *synfinInstance) TCPInfo(fd int) (map[string]int64, error) {
	if err := in.ensureStack(); err != nil {
		return nil, err
	}
	info, e := in.tbl.TCPInfo(in.fd(fd))
	if e != 0 {
		return nil, fmt.Errorf("getsockopt(%d, SOL_TCP, TCP_INFO): %s", fd, ErrnoName(e))
	}
	out := map[string]int64{}
	for k, v := range info.Fields() {
		out[k] = int64(v)
	}
	return out, nil
}

func (in *synfinInstance) Close() error {
	if in.closed {
		return nil
	}
	in.closed = true
	in.pending = nil
	if in.st != nil {
		in.tbl.CloseAll()
		return in.st.Close()
	}
	return nil
}

// note records a diagnostic in the run's log.
func (in *synfinInstance) note(format string, args ...any) {
	fmt.Fprintf(in.log, "synfin: "+format+"\n", args...)
}

// fd maps a script descriptor to the table's. Numbers the script never
// opened map to a number the table never uses, so the call fails with
// EBADF as it would on Linux.
func (in *synfinInstance) fd(scriptFD int) int {
	if f, ok := in.fds[scriptFD]; ok {
		return f
	}
	if scriptFD < 0 {
		return scriptFD
	}
	return 1<<24 + scriptFD
}

// scriptFD maps a table descriptor back to the script's number.
func (in *synfinInstance) scriptFD(fd int) int {
	for s, f := range in.fds {
		if f == fd {
			return s
		}
	}
	return fd
}

// ---------------------------------------------------------------------------
// Blocking calls.

// synfinCall is a system call that may block: a socket.Call and how to
// turn its result into the runner's.
type synfinCall struct {
	in     *synfinInstance
	c      *socket.Call
	finish func(ret int, e syscall.Errno) *SyscallResult
	res    *SyscallResult
}

func (c *synfinCall) result() *SyscallResult {
	if c.res == nil && c.c.Done() {
		ret, e := c.c.Result()
		c.res = c.finish(ret, e)
		c.res.End = c.c.End()
	}
	return c.res
}

func (c *synfinCall) Wait(deadline time.Duration) (*SyscallResult, error) {
	if r := c.result(); r != nil {
		return r, nil
	}
	if c.in.closed {
		return nil, fmt.Errorf("synfin: instance closed")
	}
	c.in.run(deadline, func() bool { return c.c.Done() })
	return c.result(), nil
}

// pollPending retries the blocked calls, as the kernel wakes a blocked
// thread as soon as its call can complete.
func (in *synfinInstance) pollPending() {
	if len(in.pending) == 0 {
		return
	}
	keep := in.pending[:0]
	for _, c := range in.pending {
		if done, _, _ := c.c.Poll(); done {
			c.result()
			continue
		}
		keep = append(keep, c)
	}
	for i := len(keep); i < len(in.pending); i++ {
		in.pending[i] = nil
	}
	in.pending = keep
}

// nextCallDeadline is the earliest time a blocked call times out by
// itself (SO_RCVTIMEO, poll's timeout...): time must stop there.
func (in *synfinInstance) nextCallDeadline() (time.Duration, bool) {
	var best time.Duration
	has := false
	for _, c := range in.pending {
		// A call due now has been polled at this time already.
		if d, ok := c.c.Deadline(); ok && d > in.clk.now && (!has || d < best) {
			best, has = d, true
		}
	}
	return best, has
}

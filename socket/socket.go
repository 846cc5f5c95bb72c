// Package socket is Linux's socket API for TCP on a synfin stack: a
// per-process file-descriptor table whose calls (socket, bind, listen,
// accept4, connect, read, recvmsg, write, sendmsg, shutdown, close,
// setsockopt, getsockopt, fcntl, ioctl, poll, epoll_*) return what the
// Linux kernel returns for the same sequence of calls — the same values,
// the same errnos, the same option semantics — so that a packetdrill script
// can drive synfin and be compared with the kernel running it.
//
// # Calling
//
// A call returns (ret int, errno syscall.Errno): errno is 0 on success and
// ret is -1 on failure, as with the C library's wrappers. Calls that never
// block (socket, bind, listen, setsockopt, fcntl, ioctl, epoll_ctl...)
// return that pair directly.
//
// Calls that can block on a blocking socket (accept, connect, read, recv,
// recvmsg, write, send, sendmsg, close with SO_LINGER) and poll/epoll_wait
// with a timeout return a *Call instead. It has been attempted once: if it
// could complete (always the case for O_NONBLOCK sockets, MSG_DONTWAIT and
// zero timeouts) it is Done and Result gives (ret, errno), Linux's EAGAIN,
// EINPROGRESS and EALREADY included. Otherwise it is pending, as the
// blocking system call in packetdrill's syscall thread would be: the caller
// advances virtual time (runs the simulator, injects packets) and calls
// Poll after each step; Poll retries the call and reports when it finished,
// with Result and End telling how and when. Deadline tells when a pending
// call will time out by itself (SO_RCVTIMEO, SO_SNDTIMEO, SO_LINGER, the
// timeout of poll and epoll_wait), so that a runner can make sure virtual
// time stops there. A pending Call's Result is (-1, Pending).
//
//	tbl := socket.New(st)
//	fd, _ := tbl.Socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
//	c := tbl.Connect(fd, netip.MustParseAddrPort("192.0.2.1:8080"))
//	for !c.Done() {
//		net.RunFor(time.Millisecond) // advance virtual time
//		c.Poll()
//	}
//	ret, errno := c.Result()
//
// Buffers are Go slices; a NULL pointer (EFAULT) cannot be expressed, and
// the runner reports those cases itself. Addresses are netip.AddrPorts: a
// 4-byte address is a sockaddr_in, a 16-byte one a sockaddr_in6, the zero
// value AF_UNSPEC (Addr converts a sockaddr with an explicit family).
// Option values are the bytes user space passes (Int, Linger, Timeval).
//
// # Readiness
//
// poll and epoll compute tcp_poll's mask (POLLHUP when both directions are
// shut or the socket is closed, POLLIN|POLLRDHUP after a FIN, POLLOUT while
// a third of the send buffer is free and less than half of
// TCP_NOTSENT_LOWAT is unsent, POLLERR while an error is pending).
// Edge-triggered and one-shot epoll items are reported once per wake-up,
// and the wake-ups are Linux's: new in-order data, a queued connection,
// a state change, an error, and write space only after a write or a poll
// found the socket full (SOCK_NOSPACE).
//
// # Not (yet) Linux
//
// Only TCP exists (UDP and raw sockets fail with EPROTONOSUPPORT, AF_UNIX
// with EAFNOSUPPORT). There is no TCP MD5
// (ENOPROTOOPT), no error queue (MSG_ERRQUEUE is EAGAIN, so MSG_ZEROCOPY and
// SO_TIMESTAMPING completions never arrive), no out-of-band byte (urgent
// data stays inline; recv(MSG_OOB) is EINVAL), no dup. SO_REUSEPORT, SO_BINDTODEVICE,
// TCP_DEFER_ACCEPT, TCP_LINGER2, TCP_WINDOW_CLAMP, TCP_MAXSEG
// on listeners and the IP-level options are stored and reported, not acted
// on.
//
// # Concurrency
//
// A Table is safe for use by several goroutines, but it is meant to be
// driven from the goroutine that runs the simulation: the stack only moves
// between calls, when virtual time advances.
package socket

import (
	"errors"
	"net/netip"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/synfin/synfin/stack"
)

// Pending is the errno a Call's Result reports while the call is still
// blocked. It is not a Linux errno; a runner never compares it with a
// script's expectation.
const Pending syscall.Errno = 0x10000

// DefaultFileLimit is RLIMIT_NOFILE's usual soft limit: calls that would
// create a descriptor at or above it fail with EMFILE.
const DefaultFileLimit = 1024

// Table is a process's file-descriptor table on one stack.
type Table struct {
	mu    sync.Mutex
	st    *stack.Stack
	files map[int]*file
	// Limit is RLIMIT_NOFILE (DefaultFileLimit).
	Limit int
}

// file is an open file description: a socket, an epoll instance, or one of
// the standard streams 0-2.
type file struct {
	cloexec  bool // FD_CLOEXEC (a descriptor flag, kept here: no dup)
	nonblock bool // O_NONBLOCK
	sock     *sock
	ep       *epoll
	// items are the epoll registrations watching this file.
	items []*epitem
}

// New returns an empty descriptor table for st, with 0, 1 and 2 taken by
// the standard streams.
func New(st *stack.Stack) *Table {
	t := &Table{st: st, files: map[int]*file{}, Limit: DefaultFileLimit}
	for fd := 0; fd < 3; fd++ {
		t.files[fd] = &file{}
	}
	return t
}

// Stack returns the table's stack.
func (t *Table) Stack() *stack.Stack { return t.st }

// Now returns the stack's clock reading (virtual time under the simulator).
func (t *Table) Now() time.Duration { return t.st.Now() }

// FDs returns the open descriptors, sorted.
func (t *Table) FDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int, 0, len(t.files))
	for fd := range t.files {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

// alloc installs f at the lowest free descriptor, as Linux does.
func (t *Table) alloc(f *file) (int, syscall.Errno) {
	for fd := 0; ; fd++ {
		if fd >= t.Limit {
			return -1, syscall.EMFILE
		}
		if _, used := t.files[fd]; !used {
			t.files[fd] = f
			return fd, 0
		}
	}
}

// getFile returns the file open at fd, or EBADF.
func (t *Table) getFile(fd int) (*file, syscall.Errno) {
	f := t.files[fd]
	if f == nil || fd < 0 {
		return nil, syscall.EBADF
	}
	return f, 0
}

// getSock returns the socket open at fd: EBADF when fd is not open,
// ENOTSOCK when it is not a socket.
func (t *Table) getSock(fd int) (*file, *sock, syscall.Errno) {
	f, e := t.getFile(fd)
	if e != 0 {
		return nil, nil, e
	}
	if f.sock == nil {
		return nil, nil, syscall.ENOTSOCK
	}
	return f, f.sock, 0
}

// fail is the (-1, errno) pair.
func fail(e syscall.Errno) (int, syscall.Errno) { return -1, e }

// toErrno extracts the errno of a stack error (EINVAL when there is none).
func toErrno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EINVAL
}

// ---------------------------------------------------------------------------
// Calls that may block.

// Call is a system call that may have to wait. See the package comment.
type Call struct {
	t     *Table
	name  string
	start time.Duration
	end   time.Duration
	// deadline, when hasDeadline, is when the call gives up by itself.
	deadline    time.Duration
	hasDeadline bool
	done        bool
	ret         int
	err         syscall.Errno
	// step tries to complete the call: done reports whether it did.
	step func(c *Call, timedOut bool) (done bool, ret int, err syscall.Errno)

	// Addr is the peer's address that accept returned (AF_INET6 sockets
	// see IPv4 peers as IPv4-mapped addresses).
	Addr netip.AddrPort
	// Events are the events epoll_wait returned.
	Events []EpollEvent
}

// start makes a Call and attempts it once (with t.mu held).
func (t *Table) start(name string, timeout time.Duration, step func(c *Call, timedOut bool) (bool, int, syscall.Errno)) *Call {
	now := t.Now()
	c := &Call{t: t, name: name, start: now, step: step}
	if timeout >= 0 {
		c.deadline, c.hasDeadline = now+timeout, true
	}
	c.attempt(now)
	return c
}

// done returns a finished Call.
func (t *Table) doneCall(name string, ret int, err syscall.Errno) *Call {
	now := t.Now()
	return &Call{t: t, name: name, start: now, end: now, done: true, ret: ret, err: err}
}

func (c *Call) attempt(now time.Duration) {
	timedOut := c.hasDeadline && now >= c.deadline
	done, ret, err := c.step(c, timedOut)
	if !done && timedOut {
		// A step that ignores its timeout must not leave the call stuck.
		done, ret, err = true, -1, syscall.EAGAIN
	}
	if done {
		c.done, c.ret, c.err, c.end = true, ret, err, now
		c.step = nil
		if err != 0 {
			c.ret = -1
		}
	}
}

// Name returns the system call's name ("accept", "read", ...).
func (c *Call) Name() string { return c.name }

// Poll retries a pending call and reports whether it has finished, with its
// result. A finished call just reports its result again.
func (c *Call) Poll() (done bool, ret int, err syscall.Errno) {
	if c.done {
		return true, c.ret, c.err
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if !c.done {
		c.t.refresh()
		c.attempt(c.t.Now())
	}
	if !c.done {
		return false, -1, Pending
	}
	return true, c.ret, c.err
}

// Done reports whether the call has finished (without retrying it).
func (c *Call) Done() bool { return c.done }

// Result returns the call's return value and errno: (-1, Pending) while it
// is pending.
func (c *Call) Result() (ret int, err syscall.Errno) {
	if !c.done {
		return -1, Pending
	}
	return c.ret, c.err
}

// Start and End are the stack-clock times when the call was made and when
// it finished (End is 0 while pending).
func (c *Call) Start() time.Duration { return c.start }

// End is when the call finished.
func (c *Call) End() time.Duration { return c.end }

// Deadline reports when a pending call times out by itself, if it does.
func (c *Call) Deadline() (time.Duration, bool) {
	if c.done {
		return 0, false
	}
	return c.deadline, c.hasDeadline
}

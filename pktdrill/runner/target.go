package runner

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"syscall"
	"time"

	"github.com/synfin/synfin/pktdrill"
)

// A Target is a TCP implementation scripts can run against: the Linux kernel
// (real time, a network namespace and a TUN device) or synfin (virtual
// time). The runner core is target-independent: it evaluates the script,
// builds the inbound packets, matches the outbound ones and checks the
// results of system calls; a target only moves packets, time and calls.
type Target interface {
	// Name is the target's name as given to --target ("kernel", "synfin").
	Name() string
	// Open prepares a fresh stack for one script run. The instance's clock
	// starts at 0 when Open returns; the runner runs the script's init
	// command (`../common/defaults.sh`) first and takes the instance time
	// after it as the script's time 0. Open may fail with an
	// *UnsupportedError (the script is skipped). Open, every method of the
	// Instance and its Close are called from one goroutine, which a
	// real-time target may lock to its OS thread in between.
	Open(cfg *Config) (Instance, error)
}

// Config describes one script run to a target.
type Config struct {
	// File is the script's path; Script its parsed tree (read-only).
	File   string
	Script *pktdrill.Script
	// IPVersion is 4 (the only version the runner supports for now).
	IPVersion int
	// LocalIP is the address of the stack under test (192.168.0.1),
	// Gateway its gateway (192.168.0.1) and LocalPrefix its subnet
	// (192.168.0.0/16). RemoteIP is the scripted peer (192.0.2.1), reached
	// through RemotePrefix (192.0.2.0/24) on the test device.
	LocalIP      netip.Addr
	Gateway      netip.Addr
	LocalPrefix  netip.Prefix
	RemoteIP     netip.Addr
	RemotePrefix netip.Prefix
	// MTU of the test device (1500).
	MTU int
	// Options are the effective --name=value options (DefaultOptions, the
	// script's option lines, the command line's, each overwriting the
	// previous). Names have no dashes; options without a value map to "".
	Options map[string]string
	// Defines are the effective -D NAME=VALUE definitions.
	Defines map[string]string
	// Log receives target diagnostics (notes about ignored shell commands,
	// kernel sysctl failures); never nil.
	Log io.Writer
}

// An Instance is one run of one script on a target. Times are durations
// since the instance's clock origin (Open): virtual time for a simulated
// stack, wall-clock (monotonic) time for a real one. The runner calls an
// Instance from a single goroutine.
//
// The runner drives time forward itself: it calls Advance to wait for the
// time of an inbound packet, a system call or a shell command, NextPacket
// to wait for an expected outbound packet and PendingCall.Wait to wait for a
// blocking call. A virtual-time target processes everything that is due
// (timers, retransmissions) while time passes in any of these; a real-time
// target sleeps or blocks. Outbound packets the stack sends at any time are
// queued, with the time they were sent, until NextPacket returns them: the
// runner compares each with the next expected packet of the script, so an
// unexpected packet is an error even when it was sent while the runner
// waited for something else.
type Instance interface {
	// Now is the current time since the script's start.
	Now() time.Duration
	// Advance lets time pass until t (no-op when t <= Now()).
	Advance(t time.Duration) error
	// NextPacket returns the oldest outbound packet not yet returned: an IP
	// datagram as the stack sent it, and when it was sent. If none is
	// queued it lets time pass until one is sent or until deadline;
	// ok=false means none by then (Now() >= deadline).
	NextPacket(deadline time.Duration) (pkt []byte, at time.Duration, ok bool, err error)
	// Inject delivers an IP datagram from the remote to the stack, now.
	Inject(pkt []byte) error
	// Syscall starts a system call now and returns once the call has
	// either completed or blocked (a blocking read waiting for data, a
	// blocking accept or connect, poll with a timeout...), without letting
	// time pass beyond what the call itself takes. File descriptors in
	// call.Args and in results are the script's numbers (the first socket
	// is 3); a target maps them to its own. An unknown call, argument or
	// option is an *UnsupportedError naming it; an argument the call
	// cannot take is an error (a script error, reported as packetdrill's
	// "runtime error in X call: ..."). A call the script does not expect
	// to block (call.Syscall.End == nil) may be run to completion before
	// Syscall returns, as packetdrill runs it on its main thread; the
	// runner waits for it anyway. Calls written with ...END are the ones
	// the runner lets block while the script goes on.
	Syscall(call *SyscallRequest) (PendingCall, error)
	// Shell runs a backquoted command of the script, with ${NAME} defines
	// already expanded. The kernel target runs it with sh inside the test
	// namespace; a simulated target interprets what it can (sysctl -q
	// net.ipv4.X=Y, sysctl -w) and returns an *UnsupportedError naming any
	// other command it cannot emulate. A command failing is an error.
	Shell(cmd string) error
	// TCPInfo returns the struct tcp_info of a socket (script fd) with
	// packetdrill's Python names: "tcpi_state", "tcpi_rtt", "tcpi_snd_cwnd",
	// ... (see TCPInfoFields). It is a snapshot taken now.
	TCPInfo(fd int) (map[string]int64, error)
	// Close ends the run and releases everything (sockets, devices,
	// namespaces, processes), whatever state the run is in.
	Close() error
}

// SyscallRequest is a system call of the script with its arguments
// evaluated: named constants resolved (SOCK_STREAM, O_NONBLOCK|O_RDWR),
// htons/inet_addr applied, structures turned into Values. As in
// packetdrill, the "..." addresses are filled in: socket's domain is
// AF_INET; bind's address is LocalIP:bind_port (8080) and connect's,
// sendto's and sendmsg's msg_name RemoteIP:connect_port (8080), as
// *Sockaddr with the length argument 16; an integer in connect's address
// position is a *Sockaddr with only that family (AF_UNSPEC disconnects).
// Buffers written "..." are zeros of the given length (the runner checks
// that outbound payloads are zeros); NULL is Int(0).
type SyscallRequest struct {
	Name string
	Args []Value
	// NewFD is, for a call that creates a descriptor (socket, accept,
	// accept4, epoll_create, epoll_create1, open), the number the script
	// expects the new descriptor to have: its expected result, by which
	// later calls name it (-1 when the script expects the call to fail). A
	// target whose own numbering differs maps one to the other; the runner
	// only checks that such a call returns a descriptor (>= 0). pipe's
	// two script numbers are in Args[0].
	NewFD int
	// Syscall is the script's call, for messages and for targets that want
	// the original expressions.
	Syscall *pktdrill.Syscall
}

// SyscallResult is how a system call returned.
type SyscallResult struct {
	// Ret is the return value (-1 on failure) and Errno the error (0 on
	// success), with Linux's numbers on every platform.
	Ret   int64
	Errno syscall.Errno
	// End is when the call returned (instance time).
	End time.Duration
	// Out holds the values the call wrote into its arguments, by argument
	// index, in the shape of the script's argument so the runner can
	// compare them: Array{Int} for getsockopt's [optval] and [optlen] and
	// ioctl's [N]; the pollfd array with revents for poll; the epoll_event
	// array for epoll_wait (only the events returned); the msghdr with
	// msg_flags and msg_control for recvmsg; an Array of two fds for pipe;
	// Bytes for getsockopt's optval when the script gave a string.
	// recvmsg's control messages are *Struct{cmsg_level, cmsg_type,
	// cmsg_data}; cmsg_data is an Int, a sock_extended_err *Struct
	// (ee_errno, ee_origin, ee_type, ee_code, ee_info, ee_data) or, for
	// SCM_TIMESTAMPING, *Struct{scm_sec, scm_nsec} holding the first
	// timestamp in instance time. Script descriptor numbers appear as the
	// script's (a pollfd's fd, an epoll_event's fd=). Out-parameters are
	// only checked when the call succeeded, and those a target does not
	// report are not checked.
	Out map[int]Value
}

// PendingCall is a system call that has started.
type PendingCall interface {
	// Wait lets time pass until the call has returned or until deadline,
	// whichever is first, and returns its result, or nil if it is still
	// blocked at the deadline. Wait(Now()) only checks.
	Wait(deadline time.Duration) (*SyscallResult, error)
}

// Done is a PendingCall that has already completed.
type Done SyscallResult

// Wait returns the result.
func (d *Done) Wait(time.Duration) (*SyscallResult, error) { return (*SyscallResult)(d), nil }

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupported = errors.New("unsupported")

// UnsupportedError says a target lacks a feature the script needs: the run
// is reported as skipped, naming Feature ("TCP fast open", "MSG_ZEROCOPY",
// "TCP_MD5SIG", "SO_TIMESTAMPING", "syscall splice", "shell command tc").
type UnsupportedError struct {
	Feature string
	Detail  string // optional
}

func (e *UnsupportedError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("unsupported: %s (%s)", e.Feature, e.Detail)
	}
	return "unsupported: " + e.Feature
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Unsupported returns an *UnsupportedError for feature.
func Unsupported(feature string) error { return &UnsupportedError{Feature: feature} }

// Value is an evaluated system call argument or result: Int, Any, Bytes,
// *Sockaddr, Array or *Struct.
type Value interface {
	String() string
	value()
}

// Int is an integer (also a resolved constant, a bit-or of constants, an
// htons() value in host order).
type Int int64

// Any is "...": the script does not care. As an argument a target passes
// something reasonable (a buffer of the call's length, NULL for an optional
// address); as an expected out-parameter it matches anything.
type Any struct{}

// Bytes is a string literal. Prefix is set for "..."... (the expected data
// starts with Data).
type Bytes struct {
	Data   []byte
	Prefix bool
}

// Sockaddr is {sa_family=AF_INET, sin_port=htons(P), sin_addr=inet_addr(A)}
// (or the sin6 form). Family is the sa_family value (AF_INET=2, AF_INET6=10).
type Sockaddr struct {
	Family int
	Addr   netip.AddrPort
}

// Array is [a, b, ...].
type Array []Value

// Struct is {..}: Fields in script order; positional members have Name "".
// Kind is the parser's guess (pollfd, epoll_event, linger, msghdr, iovec,
// cmsg, scm_timestamping, sock_extended_err, generic).
type Struct struct {
	Kind   pktdrill.StructKind
	Fields []Field
}

// Field is one member of a Struct. Arg is the N of msg_iov(N)=... (nil when
// not written).
type Field struct {
	Name  string
	Arg   Value
	Value Value
}

// Get returns the value of the member named name, or nil.
func (s *Struct) Get(name string) Value {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// Set replaces the value of the member named name, appending it if absent.
func (s *Struct) Set(name string, v Value) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			s.Fields[i].Value = v
			return
		}
	}
	s.Fields = append(s.Fields, Field{Name: name, Value: v})
}

func (Int) value()       {}
func (Any) value()       {}
func (Bytes) value()     {}
func (*Sockaddr) value() {}
func (Array) value()     {}
func (*Struct) value()   {}

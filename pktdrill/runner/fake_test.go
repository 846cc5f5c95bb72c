package runner

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// fake is a scripted Target for the runner's tests: a virtual clock, a
// queue of outbound packets with the times they are "sent", and hooks that
// react to injected packets and system calls.
type fake struct {
	t        *testing.T
	cfg      *Config
	now      time.Duration
	sched    []fakePkt
	injected []fakePkt
	calls    []*SyscallRequest
	shells   []string
	closed   bool

	// onInject reacts to an injected packet (already parsed).
	onInject func(f *fake, p *livePacket)
	// onCall handles a call; nil or a nil return means the default
	// (socket/accept return NewFD, others 0).
	onCall func(f *fake, req *SyscallRequest) PendingCall
	// shellErr, if set, is the result of Shell.
	shellErr func(cmd string) error
	tcpinfo  map[string]int64
	openErr  error
}

type fakePkt struct {
	at   time.Duration
	data []byte
}

func (f *fake) Name() string { return "fake" }

func (f *fake) Open(cfg *Config) (Instance, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	f.cfg = cfg
	return f, nil
}

func (f *fake) Now() time.Duration { return f.now }

func (f *fake) Advance(t time.Duration) error {
	if t > f.now {
		f.now = t
	}
	return nil
}

// send schedules an outbound packet at time at.
func (f *fake) send(at time.Duration, pkt []byte) {
	f.sched = append(f.sched, fakePkt{at, pkt})
	sort.SliceStable(f.sched, func(i, j int) bool { return f.sched[i].at < f.sched[j].at })
}

func (f *fake) NextPacket(deadline time.Duration) ([]byte, time.Duration, bool, error) {
	if len(f.sched) > 0 && f.sched[0].at <= deadline {
		p := f.sched[0]
		f.sched = f.sched[1:]
		if p.at > f.now {
			f.now = p.at
		}
		return p.data, p.at, true, nil
	}
	if deadline > f.now {
		f.now = deadline
	}
	return nil, 0, false, nil
}

func (f *fake) Inject(pkt []byte) error {
	f.injected = append(f.injected, fakePkt{f.now, pkt})
	if f.onInject != nil {
		lp := parseLive(pkt)
		if lp == nil {
			f.t.Errorf("injected an unparsable packet % x", pkt)
			return nil
		}
		f.onInject(f, lp)
	}
	return nil
}

func (f *fake) Syscall(req *SyscallRequest) (PendingCall, error) {
	f.calls = append(f.calls, req)
	if f.onCall != nil {
		if pc := f.onCall(f, req); pc != nil {
			return pc, nil
		}
	}
	switch req.Name {
	case "socket", "accept", "accept4", "epoll_create", "open":
		return &Done{Ret: int64(req.NewFD), End: f.now}, nil
	case "write":
		n, _ := req.IntArg(2)
		return &Done{Ret: n, End: f.now}, nil
	}
	return &Done{Ret: 0, End: f.now}, nil
}

func (f *fake) Shell(cmd string) error {
	f.shells = append(f.shells, cmd)
	if f.shellErr != nil {
		return f.shellErr(cmd)
	}
	return nil
}

func (f *fake) TCPInfo(fd int) (map[string]int64, error) {
	if f.tcpinfo == nil {
		return nil, fmt.Errorf("no tcp_info for fd %d", fd)
	}
	return f.tcpinfo, nil
}

func (f *fake) Close() error {
	f.closed = true
	return nil
}

// fakeCall is a call that returns at a time, or when ready says so.
type fakeCall struct {
	f     *fake
	res   SyscallResult
	at    time.Duration // returns at this time (if ready is nil)
	ready func() (time.Duration, bool)
}

func (c *fakeCall) Wait(deadline time.Duration) (*SyscallResult, error) {
	if c.ready != nil {
		if at, ok := c.ready(); ok {
			c.res.End = at
			return &c.res, nil
		}
		if deadline > c.f.now {
			c.f.now = deadline
		}
		return nil, nil
	}
	if c.at <= deadline {
		if c.at > c.f.now {
			c.f.now = c.at
		}
		c.res.End = c.at
		return &c.res, nil
	}
	if deadline > c.f.now {
		c.f.now = deadline
	}
	return nil, nil
}

// Addresses and a TCP packet builder for the fake's outbound packets.
var (
	testLocal  = netip.MustParseAddr("192.168.0.1")
	testRemote = netip.MustParseAddr("192.0.2.1")
)

type tcpSpec struct {
	src, dst netip.AddrPort
	flags    uint8
	seq, ack uint32
	win      uint16
	opts     []byte
	payload  int
	tos      uint8
}

func tcpPacket(s tcpSpec) []byte {
	opts := append([]byte(nil), s.opts...)
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	tcp := make([]byte, 20+len(opts)+s.payload)
	binary.BigEndian.PutUint16(tcp[0:], s.src.Port())
	binary.BigEndian.PutUint16(tcp[2:], s.dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12] = byte((20+len(opts))/4) << 4
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], s.win)
	copy(tcp[20:], opts)
	sum := wire.PseudoHeaderSum(wire.ProtoTCP, s.src.Addr(), s.dst.Addr(), len(tcp))
	binary.BigEndian.PutUint16(tcp[16:], wire.FoldChecksum(wire.Checksum(tcp, sum)))
	return buildIPv4(s.tos, 64, wire.ProtoTCP, s.src.Addr(), s.dst.Addr(), tcp)
}

func tsOpt(val, ecr uint32) []byte {
	b := []byte{1, 1, 8, 10}
	b = binary.BigEndian.AppendUint32(b, val)
	return binary.BigEndian.AppendUint32(b, ecr)
}

// runScript runs src (named f.pkt) on the fake.
func runScript(t *testing.T, f *fake, src string, opts ...func(*Options)) *Result {
	t.Helper()
	return runScriptOn(t, f, f, src, opts...)
}

func runScriptOn(t *testing.T, tgt Target, f *fake, src string, opts ...func(*Options)) *Result {
	t.Helper()
	f.t = t
	o := &Options{Target: tgt, Defines: map[string]string{}, Python: "python3"}
	for _, fn := range opts {
		fn(o)
	}
	res := Run(context.Background(), "f.pkt", []byte(src), o)
	if f.cfg != nil && !f.closed {
		t.Errorf("the instance was not closed")
	}
	return res
}

func wantPass(t *testing.T, res *Result) {
	t.Helper()
	if res.Status != Pass {
		t.Fatalf("status %v, want pass: %s", res.Status, res.Message)
	}
}

func wantFail(t *testing.T, res *Result, want ...string) {
	t.Helper()
	if res.Status != Fail {
		t.Fatalf("status %v (%s), want fail", res.Status, res.Message)
	}
	for _, w := range want {
		if !strings.Contains(res.Message, w) {
			t.Errorf("message\n%s\ndoes not contain\n%s", res.Message, w)
		}
	}
}

// serverFake answers a SYN to 8080 with a SYN-ACK (ISN 5000000, window
// 65535, options mss 1460,nop,wscale 8) and records the peer.
type serverFake struct {
	*fake
	peer netip.AddrPort
	isn  uint32
}

func newServerFake() *serverFake {
	s := &serverFake{fake: &fake{}, isn: 5000000}
	s.onInject = func(f *fake, p *livePacket) {
		if p.flags&0x02 != 0 && p.flags&0x10 == 0 { // SYN
			s.peer = netip.AddrPortFrom(p.src.ip, p.src.port)
			f.send(f.now, tcpPacket(tcpSpec{
				src: netip.AddrPortFrom(testLocal, 8080), dst: s.peer, flags: 0x12,
				seq: s.isn, ack: p.seq + 1, win: 65535, opts: []byte{2, 4, 5, 0xb4, 1, 3, 3, 8},
			}))
		}
	}
	return s
}

func (s *serverFake) local() netip.AddrPort { return netip.AddrPortFrom(testLocal, 8080) }

const passiveOpen = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
`

func TestPassiveOpenMapsSequenceNumbers(t *testing.T) {
	s := newServerFake()
	res := runScript(t, s.fake, passiveOpen)
	wantPass(t, res)
	if len(s.injected) != 2 {
		t.Fatalf("%d packets injected, want 2", len(s.injected))
	}
	syn, ack := parseLive(s.injected[0].data), parseLive(s.injected[1].data)
	if syn.dst.port != 8080 || syn.dst.ip != testLocal || syn.src.ip != testRemote {
		t.Errorf("SYN %v:%d > %v:%d, want remote > 192.168.0.1:8080", syn.src.ip, syn.src.port, syn.dst.ip, syn.dst.port)
	}
	if syn.seq != 0 || syn.tcp.Window() != 32792 {
		t.Errorf("SYN seq %d win %d, want 0 and 32792", syn.seq, syn.tcp.Window())
	}
	if ack.src != syn.src {
		t.Errorf("ACK from %v, want the SYN's source %v", ack.src, syn.src)
	}
	if ack.seq != 1 || ack.ack != s.isn+1 {
		t.Errorf("ACK seq %d ack %d, want 1 and %d (the local ISN learned from the SYN-ACK)", ack.seq, ack.ack, s.isn+1)
	}
	if got := s.injected[1].at; got != 100*time.Millisecond {
		t.Errorf("ACK injected at %v, want 100ms", got)
	}
	// bind's "..." is the configured local address.
	var bind *SyscallRequest
	for _, c := range s.calls {
		if c.Name == "bind" {
			bind = c
		}
	}
	if sa, ok := bind.Args[1].(*Sockaddr); !ok || sa.Addr != netip.MustParseAddrPort("192.168.0.1:8080") || sa.Family != 2 {
		t.Errorf("bind address %v, want AF_INET 192.168.0.1:8080", bind.Args[1])
	}
	if s.calls[len(s.calls)-1].NewFD != 4 {
		t.Errorf("accept NewFD %d, want 4", s.calls[len(s.calls)-1].NewFD)
	}
}

// A data exchange after the handshake, with the fake answering a write
// with a data packet after a delay.
func dataFake(delay time.Duration, ack uint32) *serverFake {
	s := newServerFake()
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "write" {
			n, _ := req.IntArg(2)
			f.send(f.now+delay, tcpPacket(tcpSpec{src: s.local(), dst: s.peer, flags: 0x18,
				seq: s.isn + 1, ack: ack, win: 257, payload: int(n)}))
			return &Done{Ret: n, End: f.now}
		}
		return nil
	}
	return s
}

func TestFieldMismatchMessage(t *testing.T) {
	s := dataFake(0, 1) // acks 0 bytes of the peer's (ack 1 = remote ISN+1)
	res := runScript(t, s.fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 2
`)
	wantFail(t, res,
		"f.pkt:12: error handling packet: live packet field tcp_ack_seq: expected: 2 (0x2) vs actual: 1 (0x1)\n"+
			"script packet:  0.200000 P. 1:1001(1000) ack 2\n"+
			"actual packet:  0.200000 P. 1:1001(1000) ack 1 win 257")
}

func TestTimingErrorMessage(t *testing.T) {
	s := dataFake(200*time.Millisecond, 1)
	res := runScript(t, s.fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`)
	wantFail(t, res,
		"f.pkt:12: error handling packet: timing error: expected outbound packet at 0.200000 sec but happened at 0.400000 sec; tolerance 0.004000 sec",
		"script packet:  0.200000 P. 1:1001(1000) ack 1",
		"actual packet:  0.400000 P. 1:1001(1000) ack 1 win 257")
}

func TestTolerance(t *testing.T) {
	// 3 ms late: within the default 4 ms.
	wantPass(t, runScript(t, dataFake(3*time.Millisecond, 1).fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`))
	// 40 ms late but expected 1 s after the previous event: 12.5% of 1 s.
	wantPass(t, runScript(t, dataFake(1040*time.Millisecond, 1).fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+1 > P. 1:1001(1000) ack 1
`))
	// 10 ms late: fails with the default, passes with --tolerance_usecs.
	src := passiveOpen + `
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`
	wantFail(t, runScript(t, dataFake(10*time.Millisecond, 1).fake, src), "tolerance 0.004000 sec")
	wantPass(t, runScript(t, dataFake(10*time.Millisecond, 1).fake, "--tolerance_usecs=20000\n"+src))
	wantPass(t, runScript(t, dataFake(10*time.Millisecond, 1).fake, src, func(o *Options) {
		o.Options = map[string]string{"tolerance_usecs": "11000"}
	}))
	// A range, and any time.
	wantPass(t, runScript(t, dataFake(150*time.Millisecond, 1).fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+.1~+.2 > P. 1:1001(1000) ack 1
`))
	wantFail(t, runScript(t, dataFake(250*time.Millisecond, 1).fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+.1~+.2 > P. 1:1001(1000) ack 1
`), "timing error: expected outbound packet in relative time range +0.100000~+0.200000 sec but happened at +0.250000 sec")
	wantPass(t, runScript(t, dataFake(3*time.Second, 1).fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
* > P. 1:1001(1000) ack 1
`))
}

func TestUnexpectedPacket(t *testing.T) {
	// The stack sends a data packet before the ACK the script expects: the
	// script's next outbound line sees it first.
	s := newServerFake()
	prev := s.onInject
	s.onInject = func(f *fake, p *livePacket) {
		prev(f, p)
		if p.payload > 0 {
			f.send(f.now, tcpPacket(tcpSpec{src: s.local(), dst: s.peer, flags: 0x18, seq: s.isn + 1, ack: 1001, win: 257, payload: 10}))
			f.send(f.now, tcpPacket(tcpSpec{src: s.local(), dst: s.peer, flags: 0x10, seq: s.isn + 11, ack: 1001, win: 257}))
		}
	}
	res := runScript(t, s.fake, passiveOpen+`
+.1 < P. 1:1001(1000) ack 1 win 257
+0 > . 1:1(0) ack 1001
`)
	wantFail(t, res, "f.pkt:12: error handling packet: live packet payload: expected 0 bytes vs actual 10 bytes",
		"actual packet:  0.200000 P. 1:11(10) ack 1001 win 257")
	// An aggregate of incompatible packets is refused too.
	s = dataFake(0, 1)
	inner := s.onCall
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "write" {
			f.send(f.now, tcpPacket(tcpSpec{src: s.local(), dst: s.peer, flags: 0x10, seq: s.isn + 1, ack: 7, win: 257}))
		}
		return inner(f, req)
	}
	res = runScript(t, s.fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`)
	wantFail(t, res, "f.pkt:12: error handling packet: aggregate candidate packet field tcp_ack_seq: expected: 7 (0x7) vs actual: 1 (0x1)")
}

func TestPacketsOfOtherConnectionsIgnored(t *testing.T) {
	s := dataFake(0, 1)
	inner := s.onCall
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "write" {
			other := netip.MustParseAddrPort("192.0.2.1:9999")
			f.send(f.now, tcpPacket(tcpSpec{src: s.local(), dst: other, flags: 0x04, seq: 7}))
		}
		return inner(f, req)
	}
	wantPass(t, runScript(t, s.fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`))
}

func TestMissingPacket(t *testing.T) {
	s := newServerFake()
	res := runScript(t, s.fake, passiveOpen+`
+.1 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
`)
	wantFail(t, res, "f.pkt:12: error handling packet: timed out waiting for outbound packet: none sent by 1.204000 sec", "script packet:  0.200000 P. 1:1001(1000) ack 1")
}

func TestAggregation(t *testing.T) {
	s := newServerFake()
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "write" {
			for i := uint32(0); i < 2; i++ {
				f.send(f.now, tcpPacket(tcpSpec{src: s.local(), dst: s.peer, flags: 0x10 | uint8(i)*0x08,
					seq: s.isn + 1 + 1000*i, ack: 1, win: 257, payload: 1000}))
			}
			return &Done{Ret: 2000, End: f.now}
		}
		return nil
	}
	src := passiveOpen + `
+.1 write(4, ..., 2000) = 2000
+0 > P. 1:2001(2000) ack 1
`
	wantPass(t, runScript(t, s.fake, src))
	wantFail(t, runScript(t, newServerFakeWith(s.onCall, s), "--strict_segments\n"+src), "live packet payload: expected 2000 bytes vs actual 1000 bytes")
}

func newServerFakeWith(onCall func(*fake, *SyscallRequest) PendingCall, s *serverFake) *fake {
	n := newServerFake()
	n.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		s.peer = n.peer
		return onCall(f, req)
	}
	return n.fake
}

// clientFake answers connect with a SYN (ISN 7000000, TS val 90000) and,
// once it receives a SYN-ACK, with an ACK carrying TS val 90010.
func clientFake() *fake {
	f := &fake{}
	port := uint16(41000)
	local := netip.AddrPortFrom(testLocal, port)
	remote := netip.MustParseAddrPort("192.0.2.1:8080")
	f.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "connect" {
			f.send(f.now, tcpPacket(tcpSpec{src: local, dst: remote, flags: 0x02, seq: 7000000, win: 65535,
				opts: append([]byte{2, 4, 5, 0xb4, 4, 2}, append(tsOpt(90000, 0)[2:], 1, 3, 3, 8)...)}))
			return &Done{Ret: -1, Errno: syscall.EINPROGRESS, End: f.now}
		}
		return nil
	}
	f.onInject = func(f *fake, p *livePacket) {
		if p.flags == 0x12 {
			f.send(f.now, tcpPacket(tcpSpec{src: local, dst: remote, flags: 0x10, seq: 7000001, ack: p.seq + 1, win: 502,
				opts: tsOpt(90010, 700)}))
		}
	}
	return f
}

func TestActiveOpenTimestampMapping(t *testing.T) {
	f := clientFake()
	res := runScript(t, f, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+.01 < S. 123:123(0) ack 1 win 5792 <mss 1460,nop,nop,sackOK,nop,wscale 7,nop,nop,TS val 700 ecr 100>
+0 > . 1:1(0) ack 1 <nop,nop,TS val 110 ecr 700>
+.01 < . 1:1(0) ack 1 win 257 <nop,nop,TS val 710 ecr 110>
`)
	wantPass(t, res)
	var connect *SyscallRequest
	for _, c := range f.calls {
		if c.Name == "connect" {
			connect = c
		}
	}
	if sa, ok := connect.Args[1].(*Sockaddr); !ok || sa.Addr != netip.MustParseAddrPort("192.0.2.1:8080") {
		t.Errorf("connect address %v, want 192.0.2.1:8080", connect.Args[1])
	}
	synack, ack := parseLive(f.injected[0].data), parseLive(f.injected[1].data)
	if synack.seq != 123 || synack.ack != 7000001 || synack.dst.port != 41000 {
		t.Errorf("SYN-ACK seq %d ack %d port %d, want 123, 7000001 (local ISN+1), 41000 (learned from the SYN)", synack.seq, synack.ack, synack.dst.port)
	}
	if got := tsEcr(synack); got != 90000 {
		t.Errorf("SYN-ACK TS ecr %d, want 90000: script val 100 maps to the live val", got)
	}
	if ack.seq != 124 || ack.ack != 7000001 {
		t.Errorf("ACK seq %d ack %d, want 124 (remote ISN 123 + 1) and 7000001", ack.seq, ack.ack)
	}
	if got := tsEcr(ack); got != 90010 {
		t.Errorf("ACK TS ecr %d, want 90010", got)
	}
}

func tsEcr(p *livePacket) uint32 {
	for _, o := range p.opts {
		if o.kind == 8 {
			return binary.BigEndian.Uint32(o.data[4:])
		}
	}
	return 0
}

func TestUnmappedEcr(t *testing.T) {
	res := runScript(t, clientFake(), `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+.01 < S. 0:0(0) ack 1 win 5792 <nop,nop,TS val 700 ecr 100>
`)
	wantFail(t, res, "f.pkt:5: error handling packet: unable to infer live TS ecr for script TS ecr 100;  no matching or preceding outbound TS val")
}

func TestTimestampTick(t *testing.T) {
	src := `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+.01 < S. 123:123(0) ack 1 win 5792 <mss 1460,nop,nop,sackOK,nop,wscale 7,nop,nop,TS val 700 ecr 100>
+0 > . 1:1(0) ack 1 <nop,nop,TS val 200 ecr 700>
`
	// TS val is not checked by default...
	wantPass(t, runScript(t, clientFake(), src))
	// ...but is with --tcp_ts_tick_usecs: 110 vs 200 ticks of 1 ms.
	wantFail(t, runScript(t, clientFake(), "--tcp_ts_tick_usecs=1000\n"+src), "bad outbound TCP timestamp value, tolerance 4000")
}

func TestOptionMismatch(t *testing.T) {
	s := newServerFake()
	res := runScript(t, s.fake, strings.Replace(passiveOpen, "<mss 1460,nop,wscale 8>", "<mss 1400,nop,wscale 8>", 1))
	wantFail(t, res, "f.pkt:7: error handling packet: bad value outbound TCP option 2",
		"actual packet:  0.000000 S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 8>")
	s = newServerFake()
	res = runScript(t, s.fake, strings.Replace(passiveOpen, "<mss 1460,nop,wscale 8>", "<mss 1460,wscale 8,nop>", 1))
	wantFail(t, res, "bad outbound TCP options")
	s = newServerFake()
	wantPass(t, runScript(t, s.fake, strings.Replace(passiveOpen, "<mss 1460,nop,wscale 8>", "<...>", 1)))
}

func TestSyscallErrors(t *testing.T) {
	f := &fake{onCall: func(f *fake, req *SyscallRequest) PendingCall {
		switch req.Name {
		case "read":
			return &Done{Ret: -1, Errno: syscall.EAGAIN, End: f.now}
		case "connect":
			return &Done{Ret: -1, Errno: syscall.EINPROGRESS, End: f.now}
		case "getsockopt":
			return &Done{Ret: 0, End: f.now, Out: map[int]Value{3: Array{Int(111)}, 4: Array{Int(4)}}}
		}
		return nil
	}}
	res := runScript(t, f, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 read(3, ..., 2000) = 2000
`)
	wantFail(t, res, "f.pkt:3: runtime error in read call: Expected result 2000 but got -1 with errno 11 (Resource temporarily unavailable)")
	res = runScript(t, &fake{onCall: f.onCall}, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 connect(3, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)
`)
	wantFail(t, res, "f.pkt:3: runtime error in connect call: Expected errno 11 (Resource temporarily unavailable) but got 115 (Operation now in progress)")
	res = runScript(t, &fake{onCall: f.onCall}, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 read(3, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
`)
	wantFail(t, res, "f.pkt:4: runtime error in getsockopt call: Bad getsockopt optval: expected: 0 actual: 111")
	res = runScript(t, &fake{}, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, NO_SUCH_OPTION, [1], 4) = 0
`)
	wantFail(t, res, "f.pkt:3: runtime error in setsockopt call: bad symbol: 'NO_SUCH_OPTION'")
	// A failing socket() is reported with CHECK_FD's message.
	res = runScript(t, &fake{onCall: func(f *fake, req *SyscallRequest) PendingCall {
		return &Done{Ret: -1, Errno: syscall.EMFILE, End: f.now}
	}}, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
	wantFail(t, res, "f.pkt:1: runtime error in socket call: Expected non-negative result but got -1 with errno 24 (Too many open files)")
}

func TestSyscallArguments(t *testing.T) {
	f := &fake{}
	wantPass(t, runScript(t, f, `
0 socket(..., SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=0}], 1, 0) = 0
+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, 0) = 0
`))
	if got := f.calls[0].Args[0]; got != Int(2) {
		t.Errorf("socket domain %v, want AF_INET (2)", got)
	}
	if got := f.calls[0].Args[1]; got != Int(1|0x800) {
		t.Errorf("socket type %v, want SOCK_STREAM|SOCK_NONBLOCK", got)
	}
	if got := f.calls[1].Args[2]; got != Int(0x802) {
		t.Errorf("fcntl arg %v, want O_RDWR|O_NONBLOCK", got)
	}
	linger := f.calls[2].Args[3].(*Struct)
	if linger.Get("onoff") != Int(1) || linger.Get("linger") != Int(0) {
		t.Errorf("linger %v", linger)
	}
	pfd := f.calls[3].Args[0].(Array)[0].(*Struct)
	if pfd.Get("events") != Int(5) {
		t.Errorf("pollfd %v", pfd)
	}
	msg := f.calls[4].Args[1].(*Struct)
	if sa, ok := msg.Get("msg_name").(*Sockaddr); !ok || sa.Addr.Port() != 8080 {
		t.Errorf("sendmsg msg_name %v, want the remote address", msg.Get("msg_name"))
	}
}

func TestPollAndEpollResults(t *testing.T) {
	f := &fake{onCall: func(f *fake, req *SyscallRequest) PendingCall {
		switch req.Name {
		case "poll":
			return &Done{Ret: 1, End: f.now, Out: map[int]Value{0: Array{&Struct{Fields: []Field{
				{Name: "fd", Value: Int(3)}, {Name: "events", Value: Int(1)}, {Name: "revents", Value: Int(4)}}}}}}
		case "epoll_wait":
			return &Done{Ret: 1, End: f.now, Out: map[int]Value{1: &Struct{Fields: []Field{
				{Name: "events", Value: Int(4)}, {Name: "fd", Value: Int(3)}}}}}
		}
		return nil
	}}
	wantFail(t, runScript(t, f, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 0) = 1
`), "f.pkt:3: runtime error in poll call: Expected revents of POLLIN but got POLLOUT for pollfd 0")
	wantFail(t, runScript(t, &fake{onCall: f.onCall}, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 epoll_create(1) = 4
+0 epoll_wait(4, {events=EPOLLIN, fd=3}, 1, 0) = 1
`), "f.pkt:4: runtime error in epoll_wait call: epoll_event->events does not match script: expected: 0x1 actual: 0x4")
}

// A blocking read returns when data is injected.
func blockingReadFake() *serverFake {
	s := newServerFake()
	var readyAt time.Duration
	got := false
	prev := s.onInject
	s.onInject = func(f *fake, p *livePacket) {
		prev(f, p)
		if p.payload > 0 && !got {
			got, readyAt = true, f.now
		}
	}
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "read" {
			n, _ := req.IntArg(2)
			return &fakeCall{f: f, res: SyscallResult{Ret: n}, ready: func() (time.Duration, bool) { return readyAt, got }}
		}
		return nil
	}
	return s
}

func TestBlockingCall(t *testing.T) {
	wantPass(t, runScript(t, blockingReadFake().fake, passiveOpen+`
+0...0.100 read(4, ..., 1000) = 1000
+.1 < P. 1:1001(1000) ack 1 win 257
`))
	wantFail(t, runScript(t, blockingReadFake().fake, passiveOpen+`
+0...0.100 read(4, ..., 1000) = 1000
+.3 < P. 1:1001(1000) ack 1 win 257
`), "f.pkt:11: timing error: expected system call return at 0.200000 sec but happened at 0.400000 sec; tolerance 0.012500 sec")
	// Still blocked at the end of the script.
	wantFail(t, runScript(t, blockingReadFake().fake, passiveOpen+`
+0...0.100 read(4, ..., 1000) = 1000
`), "f.pkt:11: runtime error: exiting while a blocking system call is in progress")
	// Another blocking call while the first is in progress.
	wantFail(t, runScript(t, blockingReadFake().fake, passiveOpen+`
+0...0.100 read(4, ..., 1000) = 1000
+0...0.100 read(4, ..., 1000) = 1000
`), "f.pkt:12: runtime error in read call: blocking system call while another blocking system call is already in progress")
	// A blocking accept gives the socket under test its descriptor for a
	// code block right after it returns.
	s := newServerFake()
	acceptAt := time.Duration(-1)
	s.onCall = func(f *fake, req *SyscallRequest) PendingCall {
		if req.Name == "accept" {
			return &fakeCall{f: f, res: SyscallResult{Ret: int64(req.NewFD)}, ready: func() (time.Duration, bool) {
				return acceptAt, acceptAt >= 0
			}}
		}
		return nil
	}
	prev := s.onInject
	s.onInject = func(f *fake, p *livePacket) {
		prev(f, p)
		if p.flags == 0x10 {
			acceptAt = f.now
		}
	}
	s.tcpinfo = map[string]int64{"tcpi_state": 1}
	wantPass(t, runScript(t, s.fake, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.100 accept(3, ..., ...) = 4
+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 257
+.001 %{ assert tcpi_state == TCP_ESTABLISHED }%
`))
}

func TestCodeBlocks(t *testing.T) {
	s := newServerFake()
	s.tcpinfo = map[string]int64{"tcpi_rtt": 5000, "tcpi_snd_cwnd": 10}
	wantPass(t, runScript(t, s.fake, passiveOpen+`
+0 %{ assert tcpi_rtt == 5000, tcpi_rtt }%
+0 %{
assert tcpi_snd_cwnd == 10
}%
`))
	s = newServerFake()
	s.tcpinfo = map[string]int64{"tcpi_rtt": 6000}
	wantFail(t, runScript(t, s.fake, passiveOpen+`
+0 %{ assert tcpi_rtt == 5000, tcpi_rtt }%
`), "f.pkt:11: error in Python code", "AssertionError: 6000", "f.pkt: error executing code: 'python3' returned non-zero status 1")
	// No socket yet.
	wantFail(t, runScript(t, &fake{}, "0 %{ pass }%\n"), "f.pkt:1: runtime error in code: no socket to use for code")
}

func TestCommandsAndDefines(t *testing.T) {
	f := &fake{}
	wantPass(t, runScript(t, f, "`../common/defaults.sh`\n0 `echo ${X} ${PPID}`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n`cleanup`\n",
		func(o *Options) { o.Defines = map[string]string{"X": "hello"} }))
	want := []string{"../common/defaults.sh", "echo hello ${PPID}", "cleanup"}
	if strings.Join(f.shells, "|") != strings.Join(want, "|") {
		t.Errorf("shell commands %q, want %q", f.shells, want)
	}
	f = &fake{shellErr: func(cmd string) error {
		if strings.HasPrefix(cmd, "tc") {
			return &UnsupportedError{Feature: "shell command tc"}
		}
		return fmt.Errorf("exit status 1")
	}}
	res := runScript(t, f, "0 `tc qdisc replace dev tun0 root fq`\n")
	if res.Status != Skip || res.Message != "shell command tc" {
		t.Errorf("got %v %q, want skip naming the command", res.Status, res.Message)
	}
	wantFail(t, runScript(t, &fake{shellErr: f.shellErr}, "0 `false`\n"), "f.pkt:1: error executing `false` command: exit status 1")
	wantFail(t, runScript(t, &fake{shellErr: f.shellErr}, "`false`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"), "f.pkt: error executing init command: exit status 1")
}

func TestSkipsAndScriptErrors(t *testing.T) {
	res := runScript(t, &fake{openErr: &UnsupportedError{Feature: "TCP fast open"}}, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
	if res.Status != Skip || res.Message != "TCP fast open" {
		t.Errorf("got %v %q, want skip naming TCP fast open", res.Status, res.Message)
	}
	res = runScript(t, &fake{onCall: func(f *fake, req *SyscallRequest) PendingCall { return nil }}, "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
	if res.Status != Skip || !strings.Contains(res.Message, "IPv6") {
		t.Errorf("got %v %q, want an IPv6 skip", res.Status, res.Message)
	}
	wantFail(t, runScript(t, &fake{}, "+1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"), "f.pkt:1: first event should be at time 0")
	wantFail(t, runScript(t, &fake{}, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.2 close(3) = 0\n0.1 close(3) = 0\n"),
		"f.pkt:3: time goes backward in script from 200000 usec to 100000 usec")
	wantFail(t, runScript(t, &fake{}, "0 socket(..., SOCK_STREAM IPPROTO_TCP) = 3\n"), "f.pkt:1:")
	wantFail(t, runScript(t, &fake{}, "--no_such_option=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"), "unrecognized option --no_such_option")
}

func TestInboundLate(t *testing.T) {
	// A target whose Advance overshoots: the inbound packet is late.
	f := &fake{}
	res := runScriptOn(t, &lateFake{fake: f}, f, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
`)
	wantFail(t, res, "f.pkt:5: timing error: expected inbound packet at 0.100000 sec but happened at 0.120000 sec; tolerance 0.012500 sec")
}

type lateFake struct{ *fake }

func (l *lateFake) Open(cfg *Config) (Instance, error) {
	l.cfg = cfg
	return l, nil
}

func (l *lateFake) Advance(t time.Duration) error {
	if t > l.now {
		l.now = t + 20*time.Millisecond
	}
	return nil
}

func TestICMPInbound(t *testing.T) {
	s := newServerFake()
	wantPass(t, runScript(t, s.fake, passiveOpen+`
+0 < icmp unreachable frag_needed mtu 1200 [1:1001(1000)]
`))
	p := s.injected[len(s.injected)-1].data
	ip, _ := wire.ParseIPv4(p)
	icmp := ip.Payload()
	if ip.Protocol() != 1 || icmp[0] != 3 || icmp[1] != 4 || binary.BigEndian.Uint16(icmp[6:]) != 1200 {
		t.Fatalf("ICMP % x", icmp[:8])
	}
	echoed := icmp[8:]
	if binary.BigEndian.Uint16(echoed[20:]) != 8080 || binary.BigEndian.Uint32(echoed[24:]) != s.isn+1 {
		t.Errorf("echoed TCP header % x: want port 8080 and seq %d", echoed[20:28], s.isn+1)
	}
	if wire.FoldChecksum(wire.Checksum(icmp, 0)) != 0 {
		t.Errorf("bad ICMP checksum")
	}
}

func TestPcap(t *testing.T) {
	dir := t.TempDir()
	s := newServerFake()
	res := runScript(t, s.fake, passiveOpen, func(o *Options) { o.PcapDir = dir })
	wantPass(t, res)
	if res.Pcap == "" {
		t.Fatal("no capture written")
	}
}

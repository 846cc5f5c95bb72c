package runner

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/tcp"
)

// synfinRun runs a script given as text on the synfin target.
func synfinRun(t *testing.T, name, src string) *Result {
	t.Helper()
	return Run(context.Background(), name, []byte(src), &Options{Target: Synfin(), Defines: DefaultDefines})
}

func wantStatus(t *testing.T, res *Result, want Status) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s: %v, want %v: %s", res.File, res.Status, want, res.Message)
	}
}

// openSynfin opens a bare instance, as the runner would.
func openSynfin(t *testing.T) *synfinInstance {
	t.Helper()
	inst, err := Synfin().Open(&Config{
		IPVersion: 4, MTU: 1500,
		LocalIP: netip.MustParseAddr("192.168.0.1"), Gateway: netip.MustParseAddr("192.168.0.1"),
		LocalPrefix: netip.MustParsePrefix("192.168.0.0/16"),
		RemoteIP:    netip.MustParseAddr("192.0.2.1"), RemotePrefix: netip.MustParsePrefix("192.0.2.0/24"),
		Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(*synfinInstance)
}

// TestSynfinVirtualClock: events run in time order (ties in scheduling
// order), the clock stops exactly where it is asked to, and stopped events
// never run.
func TestSynfinVirtualClock(t *testing.T) {
	c := &vclock{}
	var got []string
	c.AfterFunc(30*time.Millisecond, func() { got = append(got, "c") })
	c.AfterFunc(10*time.Millisecond, func() {
		got = append(got, "a")
		c.AfterFunc(0, func() { got = append(got, "a0") })
	})
	c.AfterFunc(10*time.Millisecond, func() { got = append(got, "b") })
	stop := c.AfterFunc(20*time.Millisecond, func() { got = append(got, "stopped") })
	if !stop.Stop() || stop.Stop() {
		t.Fatal("Stop should report true once")
	}
	c.now = 10 * time.Millisecond
	c.runDue()
	if strings.Join(got, ",") != "a,b,a0" {
		t.Fatalf("at 10ms ran %v", got)
	}
	if next, ok := c.next(); !ok || next != 30*time.Millisecond {
		t.Fatalf("next = %v, %v", next, ok)
	}
}

// TestSynfinAdvanceStopsAtDeadline: Advance and NextPacket let time pass
// to the requested time and no further, running timers on the way (here
// the SYN retransmissions of a connect that nobody answers).
func TestSynfinAdvanceStopsAtDeadline(t *testing.T) {
	in := openSynfin(t)
	req := func(name string, args ...Value) *SyscallRequest {
		return &SyscallRequest{Name: name, Args: args, NewFD: -1}
	}
	s := req("socket", Int(2), Int(1), Int(6))
	s.NewFD = 3
	pc, err := in.Syscall(s)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := pc.Wait(0); r.Ret != 3 {
		t.Fatalf("socket = %d", r.Ret)
	}
	in.Syscall(req("fcntl", Int(3), Int(4), Int(0x802)))
	pc, _ = in.Syscall(req("connect", Int(3), &Sockaddr{Family: 2, Addr: netip.MustParseAddrPort("192.0.2.1:8080")}, Int(16)))
	if r, _ := pc.Wait(0); r.Errno != syscall.EINPROGRESS {
		t.Fatalf("connect: %+v", r)
	}
	var times []time.Duration
	for {
		_, at, ok, err := in.NextPacket(2500 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		times = append(times, at)
	}
	want := []time.Duration{0, time.Second, 2 * time.Second}
	if len(times) != len(want) {
		t.Fatalf("SYNs at %v, want %v", times, want)
	}
	for i := range want {
		if times[i] != want[i] {
			t.Fatalf("SYNs at %v, want %v", times, want)
		}
	}
	if in.Now() != 2500*time.Millisecond {
		t.Fatalf("Now = %v after NextPacket(2.5s)", in.Now())
	}
	in.Advance(2 * time.Second) // the past: no-op
	if in.Now() != 2500*time.Millisecond {
		t.Fatalf("Advance went back to %v", in.Now())
	}
	info, err := in.TCPInfo(3)
	if err != nil || info["tcpi_state"] != 2 {
		t.Fatalf("TCPInfo: %v %v", info["tcpi_state"], err)
	}
}

// TestSynfinDefaultsSh: packetdrill's defaults.sh, however it is
// referenced, sets the corpus's configuration, and the window scale the
// corpus's SYN-ACKs announce (8) follows from its 15 MiB tcp_rmem maximum.
func TestSynfinDefaultsSh(t *testing.T) {
	for _, cmd := range []string{"../common/defaults.sh", "../../common/defaults.sh\n", "  ../../../common/defaults.sh  "} {
		in := openSynfin(t)
		if err := in.Shell(cmd); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		c := in.tcpCfg
		if c.RMem != [3]int{4096, 540000, 15728640} || c.WMem != [3]int{4096, 262144, 4194304} || !c.Timestamps || !c.SACK || c.SynRetries != 5 || c.SynackRetries != 5 {
			t.Fatalf("%q: config %+v", cmd, c)
		}
	}
	res := synfinRun(t, "wscale.pkt", "`../common/defaults.sh`\n"+
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"+
		"+0 bind(3, ..., ...) = 0\n"+
		"+0 listen(3, 1) = 0\n"+
		"+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"+
		"+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n")
	wantStatus(t, res, Pass)
}

// TestSynfinShell: sysctl commands in their several spellings map to the
// stack's configuration; set_sysctls.py's restore script undoes its
// changes; harmless commands are accepted; the rest is unsupported.
func TestSynfinShell(t *testing.T) {
	in := openSynfin(t)
	for _, cmd := range []string{
		"sysctl -q net.ipv4.tcp_timestamps=0",
		"sysctl -w net/ipv4/tcp_sack=0",
		"echo 3 > /proc/sys/net/ipv4/tcp_syn_retries",
		`../common/set_sysctls.py /proc/sys/net/ipv4/tcp_wmem="4096 50000 4194304" \
		   /proc/sys/net/ipv4/tcp_synack_retries=2`,
		"tc qdisc replace dev tun0 root fq",
		"ip tcp_metrics flush all > /dev/null 2>&1",
		"sysctl -q net.ipv4.tcp_min_tso_segs=10",
		"sysctl -q net.ipv4.tcp_fastopen=0",
	} {
		if err := in.Shell(cmd); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	c := in.tcpCfg
	if c.Timestamps || c.SACK || c.SynRetries != 3 || c.WMem[1] != 50000 || c.SynackRetries != 2 {
		t.Fatalf("config %+v", c)
	}
	if err := in.Shell("/tmp/sysctl_restore_${PPID}.sh"); err != nil {
		t.Fatal(err)
	}
	def := tcp.DefaultConfig()
	if in.tcpCfg.WMem != def.WMem || in.tcpCfg.SynackRetries != def.SynackRetries {
		t.Fatalf("restore: %+v", in.tcpCfg)
	}
	if err := in.Shell("ethtool -K tun0 tso off gso off"); err != nil || in.gso {
		t.Fatalf("ethtool: %v, gso %v", err, in.gso)
	}
	for cmd, feature := range map[string]string{
		"sysctl -q net.ipv4.tcp_ecn=3":                                     "AccECN (tcp_ecn 3..5)",
		"sysctl -q net.ipv4.tcp_fastopen_blackhole_timeout_sec=3600":       "TCP Fast Open blackhole detection",
		"sysctl -q net.ipv4.tcp_congestion_control=bbr":                    "congestion control bbr",
		"sysctl -q net.ipv4.tcp_mtu_probing=2":                             "MTU probing",
		"nstat | grep TcpExtOutOfWindowIcmps":                              "SNMP/netstat counters (nstat)",
		"ip route change 192.0.2.1 via 192.168.0.2 dev tun0 mtu lock 1500": "route attributes (ip route)",
		"dd if=/dev/zero of=/tmp/x":                                        "shell command dd",
		"sysctl -q net.ipv4.tcp_no_such_thing=1":                           "sysctl net.ipv4.tcp_no_such_thing",
	} {
		err := openSynfin(t).Shell(cmd)
		var u *UnsupportedError
		if !errors.As(err, &u) || u.Feature != feature {
			t.Errorf("%q: %v, want unsupported %q", cmd, err, feature)
		}
	}
	if err := openSynfin(t).Shell("false"); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("false: %v", err)
	}
}

// TestSynfinScan: scripts that need a feature synfin lacks are skipped
// before they run, naming the feature.
func TestSynfinScan(t *testing.T) {
	base := "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
	for line, feature := range map[string]string{
		"+0 setsockopt(3, SOL_SOCKET, SO_TIMESTAMPING, [1], 4) = 0\n":  "SO_TIMESTAMPING",
		"+0 recvmsg(3, {msg_iov(1)=[{..., 10}]}, MSG_ERRQUEUE) = -1\n": "socket error queue",
		"+0 splice(3, NULL, 4, NULL, 10, 0) = 10\n":                    "splice(2)",
	} {
		res := synfinRun(t, "scan.pkt", base+line)
		if res.Status != Skip || !strings.HasPrefix(res.Message, feature) {
			t.Errorf("%q: %v %q, want skip for %q", line, res.Status, res.Message, feature)
		}
	}
}

// TestSynfinSyscalls drives the argument and result conversions: fd
// numbering as the script writes it, a blocking read in virtual time,
// getsockopt's out-parameters, ioctl, poll, epoll, recvmsg's TCP_INQ
// control message, NULL buffers and SO_LINGER.
func TestSynfinSyscalls(t *testing.T) {
	res := synfinRun(t, "syscalls.pkt", "`../common/defaults.sh`\n"+`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
   +0 setsockopt(5, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 getsockopt(5, SOL_SOCKET, SO_REUSEADDR, [1], [4]) = 0
   +0 getsockopt(5, SOL_SOCKET, SO_TYPE, [SOCK_STREAM], [4]) = 0
   +0 bind(5, ..., ...) = 0
   +0 listen(5, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(5, ..., ...) = 9
   +0 %{ assert tcpi_state == TCP_ESTABLISHED }%
   +0 setsockopt(9, SOL_TCP, TCP_INQ, [1], 4) = 0
   +0 epoll_create(1) = 7
   +0 epoll_ctl(7, EPOLL_CTL_ADD, 9, {events=EPOLLIN, fd=9}) = 0
   +0 epoll_wait(7, {events=0, ptr=0}, 1, 0) = 0
   +0...0.200 read(9, ..., 1000) = 10
  +.2 < P. 1:11(10) ack 1 win 257
   +0 > . 1:1(0) ack 11
   +0 < P. 11:31(20) ack 1 win 257
   +0 epoll_wait(7, {events=EPOLLIN, fd=9}, 1, 0) = 1
   +0 poll([{fd=9, events=POLLIN|POLLOUT, revents=POLLIN|POLLOUT}], 1, 0) = 1
   +0 ioctl(9, SIOCINQ, [20]) = 0
   +0 read(9, NULL, 10) = -1 EFAULT (Bad address)
   +0 recvmsg(9, {msg_name(...)=..., msg_iov(1)=[{..., 5}], msg_flags=0,
                  msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=15}]}, 0) = 5
   +0 readv(9, [{..., 5}, {..., 10}], 2) = 15
   +0 write(9, NULL, 10) = -1 EFAULT (Bad address)
   +0 writev(9, [{..., 3}, {..., 7}], 2) = 10
   +0 > P. 1:11(10) ack 31
   +0 setsockopt(9, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
   +0 getsockopt(9, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, [8]) = 0
   +0 close(9) = 0
   +0 > R. 11:11(0) ack 31
   +0 close(7) = 0
   +0 close(5) = 0
`)
	wantStatus(t, res, Pass)
}

// TestSynfinUnsupportedCalls: calls and options synfin cannot emulate
// skip the script with the feature's name.
func TestSynfinUnsupportedCalls(t *testing.T) {
	in := openSynfin(t)
	for req, feature := range map[*SyscallRequest]string{
		{Name: "socket", Args: []Value{Int(2), Int(2), Int(17)}, NewFD: 3}: "UDP sockets",
		{Name: "sendfile", Args: []Value{Int(3), Int(4), Int(0), Int(10)}}: "sendfile(2)",
		{Name: "frobnicate"}: "syscall frobnicate",
		{Name: "setsockopt", Args: []Value{Int(3), Int(6), Int(14), Array{Int(1)}, Int(4)}}: "TCP MD5 signatures",
	} {
		_, err := in.Syscall(req)
		var u *UnsupportedError
		if !errors.As(err, &u) || u.Feature != feature {
			t.Errorf("%s: %v, want unsupported %q", req.Name, err, feature)
		}
	}
}

// TestSynfinDeterministic: a run depends only on the script (fixed
// secret): the same script gives the same packets, ISNs included.
func TestSynfinDeterministic(t *testing.T) {
	var first []byte
	for i := 0; i < 2; i++ {
		in := openSynfin(t)
		in.Shell("../common/defaults.sh")
		r := &SyscallRequest{Name: "socket", Args: []Value{Int(2), Int(1), Int(6)}, NewFD: 3}
		in.Syscall(r)
		in.Syscall(&SyscallRequest{Name: "connect", Args: []Value{Int(3), &Sockaddr{Family: 2, Addr: netip.MustParseAddrPort("192.0.2.1:8080")}, Int(16)}})
		pkt, _, ok, _ := in.NextPacket(time.Second / 2)
		if !ok {
			t.Fatal("no SYN")
		}
		if first == nil {
			first = pkt
		} else if string(first) != string(pkt) {
			t.Fatal("two runs sent different SYNs")
		}
	}
}

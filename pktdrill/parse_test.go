package pktdrill

import (
	"reflect"
	"strings"
	"testing"
)

func TestTimes(t *testing.T) {
	tests := []struct {
		src  string
		want Time
	}{
		{"0 close(3) = 0", Time{Kind: TimeAbsolute, Start: 0, End: 0}},
		{"0.100 close(3) = 0", Time{Kind: TimeAbsolute, Start: 100000, End: 100000}},
		{".1 close(3) = 0", Time{Kind: TimeAbsolute, Start: 100000, End: 100000}},
		{"2 close(3) = 0", Time{Kind: TimeAbsolute, Start: 2000000, End: 2000000}},
		{"+0 close(3) = 0", Time{Kind: TimeRelative, Relative: true}},
		{"+.01 close(3) = 0", Time{Kind: TimeRelative, Relative: true, Start: 10000, End: 10000}},
		{"+0.1 close(3) = 0", Time{Kind: TimeRelative, Relative: true, Start: 100000, End: 100000}},
		{"+1.000001 close(3) = 0", Time{Kind: TimeRelative, Relative: true, Start: 1000001, End: 1000001}},
		{"+0.0000015 close(3) = 0", Time{Kind: TimeRelative, Relative: true, Start: 2, End: 2}},
		{"* close(3) = 0", Time{Kind: TimeAny}},
		{"0.100~0.200 close(3) = 0", Time{Kind: TimeRange, Start: 100000, End: 200000}},
		{"+0~+0.1 close(3) = 0", Time{Kind: TimeRange, Relative: true, Start: 0, End: 100000}},
		{"+.1~+.105 > P. 3001:4001(1000) ack 1", Time{Kind: TimeRange, Relative: true, Start: 100000, End: 105000}},
		{"+1.5 ~ +2 close(3) = 0", Time{Kind: TimeRange, Relative: true, Start: 1500000, End: 2000000}},
	}
	for _, tt := range tests {
		ev := parseOne(t, tt.src, nil)
		mustEqual(t, tt.src, *ev.Time, tt.want)
	}
}

func TestPackets(t *testing.T) {
	opts := func(list ...*TCPOption) *TCPOptions { return &TCPOptions{List: list} }
	tests := []struct {
		src  string
		want *Packet
	}{
		{"+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>", &Packet{Direction: Inbound, TCP: &TCPHeader{
			Flags: FlagSYN, HasWin: true, Win: 32792,
			Options: opts(&TCPOption{Kind: OptMSS, MSS: 1000}, &TCPOption{Kind: OptNOP}, &TCPOption{Kind: OptWScale, WScale: 7}),
		}}},
		{"+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>", &Packet{Direction: Outbound, TCP: &TCPHeader{
			Flags: FlagSYN | FlagACK, HasAck: true, Ack: 1,
			Options: opts(&TCPOption{Kind: OptMSS, MSS: 1460}, &TCPOption{Kind: OptSACKOK},
				&TCPOption{Kind: OptTimestamp, TSVal: 100, TSEcr: 0}, &TCPOption{Kind: OptNOP}, &TCPOption{Kind: OptWScale, WScale: 8}),
		}}},
		{"+0 > P. 1:1001(1000) ack 1", &Packet{Direction: Outbound, TCP: &TCPHeader{
			Flags: FlagPSH | FlagACK, Seq: SeqRange{Start: 1, End: 1001, Len: 1000}, HasAck: true, Ack: 1}}},
		{"+0 > S. 0:0(0) ack 1 <...>", &Packet{Direction: Outbound, TCP: &TCPHeader{
			Flags: FlagSYN | FlagACK, HasAck: true, Ack: 1, Options: &TCPOptions{Any: true}}}},
		{"+.1 < F. 1:1(0) ack 2 win 257", &Packet{TCP: &TCPHeader{
			Flags: FlagFIN | FlagACK, Seq: SeqRange{Start: 1, End: 1, Len: 0}, HasAck: true, Ack: 2, HasWin: true, Win: 257}}},
		{"+0 > R 1:1(0)", &Packet{Direction: Outbound, TCP: &TCPHeader{Flags: FlagRST, Seq: SeqRange{Start: 1, End: 1}}}},
		{"+0 < R. 1:1(0) win 0", &Packet{TCP: &TCPHeader{Flags: FlagRST | FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasWin: true}}},
		{"+0 < U. 1:101(100) ack 1 win 257 urg 100", &Packet{TCP: &TCPHeader{
			Flags: FlagURG | FlagACK, Seq: SeqRange{Start: 1, End: 101, Len: 100}, HasAck: true, Ack: 1, HasWin: true, Win: 257, HasUrg: true, Urg: 100}}},
		{"+.1 < SEW 0:0(0) win 32792 <mss 1000>", &Packet{TCP: &TCPHeader{
			Flags: FlagSYN | FlagECE | FlagCWR, HasWin: true, Win: 32792, Options: opts(&TCPOption{Kind: OptMSS, MSS: 1000})}}},
		{"+0 > SE. 0:0(0) ack 1", &Packet{Direction: Outbound, TCP: &TCPHeader{Flags: FlagSYN | FlagECE | FlagACK, HasAck: true, Ack: 1}}},
		{"+0 < FP. 1:11(10) ack 1 win 257", &Packet{TCP: &TCPHeader{
			Flags: FlagFIN | FlagPSH | FlagACK, Seq: SeqRange{Start: 1, End: 11, Len: 10}, HasAck: true, Ack: 1, HasWin: true, Win: 257}}},
		{"+0 < - 0:0(0) win 10", &Packet{TCP: &TCPHeader{HasWin: true, Win: 10}}},
		{"+0 < . 4294967295:9(10) ack 4294967295 win 65535", &Packet{TCP: &TCPHeader{
			Flags: FlagACK, Seq: SeqRange{Start: 4294967295, End: 9, Len: 10}, HasAck: true, Ack: 4294967295, HasWin: true, Win: 65535}}},
		{"+0 > [ect0] P. 1:1001(1000) ack 1", &Packet{Direction: Outbound, IP: &IPInfo{ECN: ECNECT0}, TCP: &TCPHeader{
			Flags: FlagPSH | FlagACK, Seq: SeqRange{Start: 1, End: 1001, Len: 1000}, HasAck: true, Ack: 1}}},
		{"+.095 < [noecn] E. 1:1(0) ack 1001 win 320", &Packet{IP: &IPInfo{ECN: ECNNotECT}, TCP: &TCPHeader{
			Flags: FlagECE | FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasAck: true, Ack: 1001, HasWin: true, Win: 320}}},
		{"+0 < [ect1] . 1:1(0) ack 1 win 320", &Packet{IP: &IPInfo{ECN: ECNECT1}, TCP: &TCPHeader{
			Flags: FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasAck: true, Ack: 1, HasWin: true, Win: 320}}},
		{"+0 > [ce] . 1:1(0)", &Packet{Direction: Outbound, IP: &IPInfo{ECN: ECNCE}, TCP: &TCPHeader{Flags: FlagACK, Seq: SeqRange{Start: 1, End: 1}}}},
		{"+0 > (ect01) . 1:1(0)", &Packet{Direction: Outbound, IP: &IPInfo{ECN: ECNECT01}, TCP: &TCPHeader{Flags: FlagACK, Seq: SeqRange{Start: 1, End: 1}}}},
		{"+0 < [tos 0x10] S 0:0(0) win 1000", &Packet{IP: &IPInfo{HasTOS: true, TOS: 0x10}, TCP: &TCPHeader{Flags: FlagSYN, HasWin: true, Win: 1000}}},
		{"+0 < [ect0,flowlabel 0x12345] S 0:0(0) win 1000", &Packet{IP: &IPInfo{ECN: ECNECT0, HasFlowLabel: true, FlowLabel: 0x12345},
			TCP: &TCPHeader{Flags: FlagSYN, HasWin: true, Win: 1000}}},
		{"+0 > (ttl 64) S 0:0(0)", &Packet{Direction: Outbound, IP: &IPInfo{HasTTL: true, TTL: 64}, TCP: &TCPHeader{Flags: FlagSYN}}},
		{"+0 < 8080>80 S 0:0(0) win 1000", &Packet{TCP: &TCPHeader{Ports: &Ports{Src: 8080, Dst: 80}, Flags: FlagSYN, HasWin: true, Win: 1000}}},
		{"+0 < . 1:1(0) ack 1 win 257 <sack 1:1001 2001:3001,nop,nop>", &Packet{TCP: &TCPHeader{
			Flags: FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasAck: true, Ack: 1, HasWin: true, Win: 257,
			Options: opts(&TCPOption{Kind: OptSACK, SACK: []SACKBlock{{Left: 1, Right: 1001}, {Left: 2001, Right: 3001}}},
				&TCPOption{Kind: OptNOP}, &TCPOption{Kind: OptNOP})}}},
		{"+0 < S 0:0(0) win 1000 <mss 1012,FO,nop,FO 00abaaabe8e954c2, FOEXP, FOEXP abcd,eol>", &Packet{TCP: &TCPHeader{
			Flags: FlagSYN, HasWin: true, Win: 1000,
			Options: opts(&TCPOption{Kind: OptMSS, MSS: 1012}, &TCPOption{Kind: OptFastOpen}, &TCPOption{Kind: OptNOP},
				&TCPOption{Kind: OptFastOpen, Cookie: "00abaaabe8e954c2"}, &TCPOption{Kind: OptFastOpenExp},
				&TCPOption{Kind: OptFastOpenExp, Cookie: "abcd"}, &TCPOption{Kind: OptEOL})}}},
		{"+0 < S 0:0(0) win 1000 <FO 1234,FOEXP TFO_COOKIE>", &Packet{TCP: &TCPHeader{
			Flags: FlagSYN, HasWin: true, Win: 1000,
			Options: opts(&TCPOption{Kind: OptFastOpen, Cookie: "1234"}, &TCPOption{Kind: OptFastOpenExp, Cookie: "TFO_COOKIE"})}}},
		{"+0 < . 1:1(0) ack 1 win 514 <md5 000102030405060708090a0b0c0d0e0f,nop,nop>", &Packet{TCP: &TCPHeader{
			Flags: FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasAck: true, Ack: 1, HasWin: true, Win: 514,
			Options: opts(&TCPOption{Kind: OptMD5, Digest: "000102030405060708090a0b0c0d0e0f"}, &TCPOption{Kind: OptNOP}, &TCPOption{Kind: OptNOP})}}},
		{"+0 < udp (100)", &Packet{UDP: &UDPHeader{Len: 100}}},
		{"+0 > udp 1234>53 (10)", &Packet{Direction: Outbound, UDP: &UDPHeader{Ports: &Ports{Src: 1234, Dst: 53}, Len: 10}}},
		{"+.01 < icmp unreachable frag_needed mtu 1480 [1:1461(1460)]", &Packet{ICMP: &ICMPHeader{
			Type: "unreachable", Code: "frag_needed", HasMTU: true, MTU: 1480,
			Echoed: &ICMPEchoed{Kind: EchoedTCP, Seq: SeqRange{Start: 1, End: 1461, Len: 1460}}}}},
		{"+.01 < icmp unreachable frag_needed mtu 800", &Packet{ICMP: &ICMPHeader{Type: "unreachable", Code: "frag_needed", HasMTU: true, MTU: 800}}},
		{"+0 < icmp unreachable [5000:6000(1000)]", &Packet{ICMP: &ICMPHeader{Type: "unreachable",
			Echoed: &ICMPEchoed{Kind: EchoedTCP, Seq: SeqRange{Start: 5000, End: 6000, Len: 1000}}}}},
		{"+.01 < icmp packet_too_big mtu 1400 [0:1440(1440)]", &Packet{ICMP: &ICMPHeader{Type: "packet_too_big", HasMTU: true, MTU: 1400,
			Echoed: &ICMPEchoed{Kind: EchoedTCP, Seq: SeqRange{Start: 0, End: 1440, Len: 1440}}}}},
		{"+0 < icmp unreachable CODE", &Packet{ICMP: &ICMPHeader{Type: "unreachable", Code: "CODE"}}},
		{"+0 > icmp echo_reply id 7 [udp (100)]", &Packet{Direction: Outbound, ICMP: &ICMPHeader{Type: "echo_reply", HasID: true, ID: 7,
			Echoed: &ICMPEchoed{Kind: EchoedUDP, Len: 100}}}},
		{"+0 < [tos 0x4] icmp time_exceeded [raw (20)]", &Packet{IP: &IPInfo{HasTOS: true, TOS: 4}, ICMP: &ICMPHeader{Type: "time_exceeded",
			Echoed: &ICMPEchoed{Kind: EchoedRaw, Len: 20}}}},
		{"* > F. 1:1(0) ack 12", &Packet{Direction: Outbound, TCP: &TCPHeader{Flags: FlagFIN | FlagACK, Seq: SeqRange{Start: 1, End: 1}, HasAck: true, Ack: 12}}},
	}
	for _, tt := range tests {
		ev := parseOne(t, tt.src, nil)
		mustEqual(t, tt.src, ev.Action, Action(tt.want))
	}
}

func TestSyscalls(t *testing.T) {
	id := func(s string) *Ident { return &Ident{Name: s} }
	num := func(v int64, text string) *Int { return &Int{Value: v, Text: text} }
	ell := &Ellipsis{}
	tests := []struct {
		src  string
		want *Syscall
	}{
		{"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", &Syscall{Name: "socket",
			Args: []Expr{ell, id("SOCK_STREAM"), id("IPPROTO_TCP")}, Result: num(3, "3")}},
		{"+0 close(3) = 0", &Syscall{Name: "close", Args: []Expr{num(3, "3")}, Result: num(0, "0")}},
		{"+0 epoll_create(1) = 5", &Syscall{Name: "epoll_create", Args: []Expr{num(1, "1")}, Result: num(5, "5")}},
		{"+0 foo() = 0", &Syscall{Name: "foo", Result: num(0, "0")}},
		{"+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)", &Syscall{Name: "fcntl",
			Args: []Expr{num(3, "3"), id("F_GETFL")}, Result: num(2, "0x2"), Note: "flags O_RDWR"}},
		{"+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0", &Syscall{Name: "fcntl",
			Args: []Expr{num(3, "3"), id("F_SETFL"), &Or{Terms: []Expr{id("O_RDWR"), id("O_NONBLOCK")}}}, Result: num(0, "0")}},
		{"+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)", &Syscall{Name: "connect",
			Args: []Expr{num(3, "3"), ell, ell}, Result: num(-1, "-1"), Errno: "EINPROGRESS", Note: "Operation now in progress"}},
		{"+0 write(4, ..., 100) = -1 ECONNRESET(Connection reset by peer)", &Syscall{Name: "write",
			Args: []Expr{num(4, "4"), ell, num(100, "100")}, Result: num(-1, "-1"), Errno: "ECONNRESET", Note: "Connection reset by peer"}},
		{"+0 accept(3, ..., ...) = -1 EAGAIN", &Syscall{Name: "accept",
			Args: []Expr{num(3, "3"), ell, ell}, Result: num(-1, "-1"), Errno: "EAGAIN"}},
		{"+0 connect(3, ..., ...) = -1", &Syscall{Name: "connect", Args: []Expr{num(3, "3"), ell, ell}, Result: num(-1, "-1")}},
		{"+0 write(4, ..., 1000) = 1000", &Syscall{Name: "write", Args: []Expr{num(4, "4"), ell, num(1000, "1000")}, Result: num(1000, "1000")}},
		{"+0...0.100 read(4, ..., 2000) = 2000", &Syscall{Name: "read", End: &BlockEnd{Usecs: 100000},
			Args: []Expr{num(4, "4"), ell, num(2000, "2000")}, Result: num(2000, "2000")}},
		{"+0 ... .02 sendto(4, ..., 6000, MSG_FASTOPEN, ..., ...) = 6000", &Syscall{Name: "sendto", End: &BlockEnd{Usecs: 20000},
			Args: []Expr{num(4, "4"), ell, num(6000, "6000"), id("MSG_FASTOPEN"), ell, ell}, Result: num(6000, "6000")}},
		{"+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0", &Syscall{Name: "setsockopt",
			Args: []Expr{num(3, "3"), id("SOL_SOCKET"), id("SO_REUSEADDR"), &Array{Elems: []Expr{num(1, "1")}}, num(4, "4")}, Result: num(0, "0")}},
		{"+0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0xffffffff], [4]) = 0", &Syscall{Name: "getsockopt",
			Args: []Expr{num(4, "4"), id("SOL_TCP"), id("TCP_NOTSENT_LOWAT"), &Array{Elems: []Expr{num(0xffffffff, "0xffffffff")}},
				&Array{Elems: []Expr{num(4, "4")}}}, Result: num(0, "0")}},
		{"+0 pipe([5, 6]) = 0", &Syscall{Name: "pipe", Args: []Expr{&Array{Elems: []Expr{num(5, "5"), num(6, "6")}}}, Result: num(0, "0")}},
		{"+0 foo([]) = 0", &Syscall{Name: "foo", Args: []Expr{&Array{}}, Result: num(0, "0")}},
		{"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0", &Syscall{Name: "setsockopt",
			Args: []Expr{num(3, "3"), id("SOL_SOCKET"), id("SO_LINGER"), &Struct{Kind: StructLinger, Elems: []Expr{
				&Field{Name: "onoff", Value: num(1, "1")}, &Field{Name: "linger", Value: num(0, "0")}}}, num(8, "8")}, Result: num(0, "0")}},
		{"+0 open(\"/tmp/testfile\", O_RDONLY) = 5", &Syscall{Name: "open",
			Args: []Expr{&String{Value: "/tmp/testfile", Raw: `"/tmp/testfile"`}, id("O_RDONLY")}, Result: num(5, "5")}},
		{`+0 write(4, "GET /\r\n\x41"..., 9) = 9`, &Syscall{Name: "write",
			Args: []Expr{num(4, "4"), &String{Value: "GET /\r\nA", Raw: `"GET /\r\n\x41"`, Prefix: true}, num(9, "9")}, Result: num(9, "9")}},
		{"+0 recv(4, NULL, 1000, 0) = -1 EFAULT (Bad address)", &Syscall{Name: "recv",
			Args: []Expr{num(4, "4"), id("NULL"), num(1000, "1000"), num(0, "0")}, Result: num(-1, "-1"), Errno: "EFAULT", Note: "Bad address"}},
		{"+0 getsockopt(3, SOL_SOCKET, SO_ERROR, &err, &len) = 0", &Syscall{Name: "getsockopt",
			Args: []Expr{num(3, "3"), id("SOL_SOCKET"), id("SO_ERROR"), &AddrOf{X: id("err")}, &AddrOf{X: id("len")}}, Result: num(0, "0")}},
		{"+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = 0", &Syscall{Name: "bind",
			Args: []Expr{num(3, "3"), &Struct{Kind: StructSockaddr, Elems: []Expr{
				&Field{Name: "sa_family", Value: id("AF_INET")},
				&Field{Name: "sin_port", Value: &Call{Name: "htons", Args: []Expr{num(8080, "8080")}}},
				&Field{Name: "sin_addr", Value: &Call{Name: "inet_addr", Args: []Expr{&String{Value: "192.0.2.1", Raw: `"192.0.2.1"`}}}},
			}}, num(16, "16")}, Result: num(0, "0")}},
		{"+0...0.010 poll([{fd=3,\n events=POLLIN|POLLOUT|POLLERR,\n revents=POLLOUT}], 1, 100) = 1", &Syscall{Name: "poll",
			End: &BlockEnd{Usecs: 10000},
			Args: []Expr{&Array{Elems: []Expr{&Struct{Kind: StructPollfd, Elems: []Expr{
				&Field{Name: "fd", Value: num(3, "3")},
				&Field{Name: "events", Value: &Or{Terms: []Expr{id("POLLIN"), id("POLLOUT"), id("POLLERR")}}},
				&Field{Name: "revents", Value: id("POLLOUT")},
			}}}}, num(1, "1"), num(100, "100")}, Result: num(1, "1")}},
		{"+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLOUT|EPOLLET, fd=4}) = 0", &Syscall{Name: "epoll_ctl",
			Args: []Expr{num(5, "5"), id("EPOLL_CTL_ADD"), num(4, "4"), &Struct{Kind: StructEpollEvent, Elems: []Expr{
				&Field{Name: "events", Value: &Or{Terms: []Expr{id("EPOLLOUT"), id("EPOLLET")}}},
				&Field{Name: "fd", Value: num(4, "4")},
			}}}, Result: num(0, "0")}},
		{"+0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 600}, {..., 400}], msg_flags=0}, MSG_DONTWAIT|MSG_FASTOPEN) = 1000", &Syscall{Name: "sendmsg",
			Args: []Expr{num(4, "4"), &Struct{Kind: StructMsghdr, Elems: []Expr{
				&Field{Name: "msg_name", Arg: ell, Value: ell},
				&Field{Name: "msg_iov", Arg: num(2, "2"), Value: &Array{Elems: []Expr{
					&Struct{Kind: StructIovec, Elems: []Expr{ell, num(600, "600")}},
					&Struct{Kind: StructIovec, Elems: []Expr{ell, num(400, "400")}},
				}}},
				&Field{Name: "msg_flags", Value: num(0, "0")},
			}}, &Or{Terms: []Expr{id("MSG_DONTWAIT"), id("MSG_FASTOPEN")}}}, Result: num(1000, "1000")}},
		{`+0 recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{...,0}], msg_flags=MSG_ERRQUEUE,
		    msg_control=[{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING, cmsg_data={scm_sec=0,scm_nsec=20000000}},
		                 {cmsg_level=CMSG_LEVEL_IP, cmsg_type=CMSG_TYPE_RECVERR,
		                  cmsg_data={ee_errno=ENOMSG, ee_origin=SO_EE_ORIGIN_TIMESTAMPING, ee_type=0, ee_code=0,
		                             ee_info=SCM_TSTAMP_SCHED, ee_data=10999}}]}, MSG_ERRQUEUE) = 0`, &Syscall{Name: "recvmsg",
			Args: []Expr{num(3, "3"), &Struct{Kind: StructMsghdr, Elems: []Expr{
				&Field{Name: "msg_name", Arg: ell, Value: ell},
				&Field{Name: "msg_iov", Arg: num(1, "1"), Value: &Array{Elems: []Expr{&Struct{Kind: StructIovec, Elems: []Expr{ell, num(0, "0")}}}}},
				&Field{Name: "msg_flags", Value: id("MSG_ERRQUEUE")},
				&Field{Name: "msg_control", Value: &Array{Elems: []Expr{
					&Struct{Kind: StructCmsg, Elems: []Expr{
						&Field{Name: "cmsg_level", Value: id("SOL_SOCKET")},
						&Field{Name: "cmsg_type", Value: id("SCM_TIMESTAMPING")},
						&Field{Name: "cmsg_data", Value: &Struct{Kind: StructScmTimestamping, Elems: []Expr{
							&Field{Name: "scm_sec", Value: num(0, "0")}, &Field{Name: "scm_nsec", Value: num(20000000, "20000000")}}}},
					}},
					&Struct{Kind: StructCmsg, Elems: []Expr{
						&Field{Name: "cmsg_level", Value: id("CMSG_LEVEL_IP")},
						&Field{Name: "cmsg_type", Value: id("CMSG_TYPE_RECVERR")},
						&Field{Name: "cmsg_data", Value: &Struct{Kind: StructSockExtendedErr, Elems: []Expr{
							&Field{Name: "ee_errno", Value: id("ENOMSG")},
							&Field{Name: "ee_origin", Value: id("SO_EE_ORIGIN_TIMESTAMPING")},
							&Field{Name: "ee_type", Value: num(0, "0")},
							&Field{Name: "ee_code", Value: num(0, "0")},
							&Field{Name: "ee_info", Value: id("SCM_TSTAMP_SCHED")},
							&Field{Name: "ee_data", Value: num(10999, "10999")},
						}}},
					}},
				}}},
			}}, id("MSG_ERRQUEUE")}, Result: num(0, "0")}},
	}
	for _, tt := range tests {
		ev := parseOne(t, tt.src, nil)
		mustEqual(t, tt.src, ev.Action, Action(tt.want))
	}
}

func TestScriptStructure(t *testing.T) {
	src := `// A comment at the top.
--tolerance_usecs=1000000
--mss=1000
--strict_segments
--tcp_ts_ecr_scaled // used in TEST 5
--local_ip=192.168.0.1
--define=WIN=257

/* A block
   comment. */
` + "`../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=2    # server agrees to ECN`" + `

    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 ` + "`sysctl -q net.ipv4.tcp_timestamps=1`" + `
+.005 %{
assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd
}%
   +0 %{ assert tcpi_rtt > 0 }%  // inline
  +.1 < . 1:1(0) ack 1 win WIN
` + "`/tmp/sysctl_restore_${PPID}.sh`\n"
	s, err := Parse("s.pkt", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Script{
		Pos: Pos{File: "s.pkt", Line: 1, Col: 1},
		Options: []*Option{
			{Pos: Pos{"s.pkt", 2, 1}, Name: "tolerance_usecs", Value: "1000000", HasValue: true},
			{Pos: Pos{"s.pkt", 3, 1}, Name: "mss", Value: "1000", HasValue: true},
			{Pos: Pos{"s.pkt", 4, 1}, Name: "strict_segments"},
			{Pos: Pos{"s.pkt", 5, 1}, Name: "tcp_ts_ecr_scaled"},
			{Pos: Pos{"s.pkt", 6, 1}, Name: "local_ip", Value: "192.168.0.1", HasValue: true},
			{Pos: Pos{"s.pkt", 7, 1}, Name: "define", Value: "WIN=257", HasValue: true},
		},
		Defines: []*Define{{Pos: Pos{"s.pkt", 7, 1}, Name: "WIN", Value: "257"}},
		Init:    &Command{Pos: Pos{"s.pkt", 11, 1}, Text: "../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=2    # server agrees to ECN"},
		Events: []*Event{
			{Pos: Pos{"s.pkt", 14, 5}, Time: &Time{Pos: Pos{"s.pkt", 14, 5}, Kind: TimeAbsolute},
				Action: &Syscall{Pos: Pos{"s.pkt", 14, 7}, Name: "socket", Args: []Expr{
					&Ellipsis{Pos: Pos{"s.pkt", 14, 14}},
					&Ident{Pos: Pos{"s.pkt", 14, 19}, Name: "SOCK_STREAM"},
					&Ident{Pos: Pos{"s.pkt", 14, 32}, Name: "IPPROTO_TCP"},
				}, Result: &Int{Pos: Pos{"s.pkt", 14, 47}, Value: 3, Text: "3"}}},
			{Pos: Pos{"s.pkt", 15, 4}, Time: &Time{Pos: Pos{"s.pkt", 15, 4}, Kind: TimeRelative, Relative: true},
				Action: &Command{Pos: Pos{"s.pkt", 15, 7}, Text: "sysctl -q net.ipv4.tcp_timestamps=1"}},
			{Pos: Pos{"s.pkt", 16, 1}, Time: &Time{Pos: Pos{"s.pkt", 16, 1}, Kind: TimeRelative, Relative: true, Start: 5000, End: 5000},
				Action: &Code{Pos: Pos{"s.pkt", 16, 7}, Text: "\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\n"}},
			{Pos: Pos{"s.pkt", 19, 4}, Time: &Time{Pos: Pos{"s.pkt", 19, 4}, Kind: TimeRelative, Relative: true},
				Action: &Code{Pos: Pos{"s.pkt", 19, 7}, Text: " assert tcpi_rtt > 0 "}},
			{Pos: Pos{"s.pkt", 20, 3}, Time: &Time{Pos: Pos{"s.pkt", 20, 3}, Kind: TimeRelative, Relative: true, Start: 100000, End: 100000},
				Action: &Packet{Pos: Pos{"s.pkt", 20, 7}, Direction: Inbound, TCP: &TCPHeader{
					Pos: Pos{"s.pkt", 20, 9}, Flags: FlagACK, Seq: SeqRange{Pos: Pos{"s.pkt", 20, 11}, Start: 1, End: 1},
					HasAck: true, Ack: 1, HasWin: true, Win: 257}}},
		},
		Cleanup: &Command{Pos: Pos{"s.pkt", 21, 1}, Text: "/tmp/sysctl_restore_${PPID}.sh"},
	}
	mustEqual(t, "script", s, want)
	if v, ok := s.Option("mss"); !ok || v != "1000" {
		t.Errorf("Option(mss) = %q, %v", v, ok)
	}
	if _, ok := s.Option("nope"); ok {
		t.Errorf("Option(nope) found")
	}
}

func TestDefines(t *testing.T) {
	cfg := &Config{Defines: map[string]string{
		"TFO_COOKIE":        "3021b9d889017eeb",
		"CODE":              "host_unreachable",
		"CMSG_LEVEL_IP":     "SOL_IP",
		"FLAGS":             "O_RDWR|O_NONBLOCK",
		"W":                 "1000",
		"CMSG_TYPE_RECVERR": "IP_RECVERR",
	}}
	ev := parseOne(t, "+0 < S 0:0(0) win W <FO TFO_COOKIE>", cfg)
	mustEqual(t, "cookie", ev.Action.(*Packet).TCP.Options.List[0].Cookie, "3021b9d889017eeb")
	mustEqual(t, "win", ev.Action.(*Packet).TCP.Win, uint16(1000))
	ev = parseOne(t, "+0 < S 0:0(0) win ${W}", cfg)
	mustEqual(t, "win via ${W}", ev.Action.(*Packet).TCP.Win, uint16(1000))
	ev = parseOne(t, "+0 < icmp unreachable CODE [0:10(10)]", cfg)
	mustEqual(t, "icmp code", ev.Action.(*Packet).ICMP.Code, "host_unreachable")
	ev = parseOne(t, "+0 fcntl(3, F_SETFL, FLAGS) = 0", cfg)
	mustEqual(t, "multi-token define", ev.Action.(*Syscall).Args[2], Expr(&Or{Terms: []Expr{&Ident{Name: "O_RDWR"}, &Ident{Name: "O_NONBLOCK"}}}))

	// Without defines the names stay as written.
	ev = parseOne(t, "+0 < icmp unreachable CODE", nil)
	mustEqual(t, "unresolved icmp code", ev.Action.(*Packet).ICMP.Code, "CODE")
	ev = parseOne(t, "+0 foo(CMSG_LEVEL_IP, ${X}) = 0", nil)
	mustEqual(t, "unresolved idents", ev.Action.(*Syscall).Args, []Expr{&Ident{Name: "CMSG_LEVEL_IP"}, &Ident{Name: "${X}"}})

	// Substituted tokens take the position of the name.
	s, err := Parse("d.pkt", []byte("\n +0 foo(1,\n   FLAGS) = 0"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	or := s.Events[0].Action.(*Syscall).Args[1].(*Or)
	mustEqual(t, "define position", or.Terms[1].Position(), Pos{"d.pkt", 3, 4})

	// The script's --define wins over the runner's.
	s, err = Parse("d.pkt", []byte("--define=W=2000\n+0 < S 0:0(0) win W"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "script define", s.Events[0].Action.(*Packet).TCP.Win, uint16(2000))
	s, err = Parse("d.pkt", []byte(`--define=MSG="hello world"`+"\n+0 write(3, MSG, 11) = 11"), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "quoted define", s.Defines[0].Value, `"hello world"`)
	mustEqual(t, "quoted define use", s.Events[0].Action.(*Syscall).Args[1].(*String).Value, "hello world")

	// -D NAME=VALUE lines in the header are --define options.
	for _, src := range []string{"-D W=3000\n+0 < S 0:0(0) win W", "-DW=3000\n+0 < S 0:0(0) win W"} {
		s, err = Parse("d.pkt", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		stripPos(s)
		mustEqual(t, "-D option", s.Options, []*Option{{Name: "define", Value: "W=3000", HasValue: true}})
		mustEqual(t, "-D define", s.Defines, []*Define{{Name: "W", Value: "3000"}})
		mustEqual(t, "-D use", s.Events[0].Action.(*Packet).TCP.Win, uint16(3000))
	}

	name, value, err := ParseDefine("TFO_COOKIE=3021b9d889017eeb")
	if err != nil || name != "TFO_COOKIE" || value != "3021b9d889017eeb" {
		t.Errorf("ParseDefine = %q, %q, %v", name, value, err)
	}
	if _, _, err := ParseDefine("=x"); err == nil {
		t.Error("ParseDefine(=x) succeeded")
	}

	got := Expand("rm /tmp/x_${PPID}_${A}.sh ${B", func(n string) (string, bool) {
		if n == "A" {
			return "aa", true
		}
		return "", false
	})
	mustEqual(t, "Expand", got, "rm /tmp/x_${PPID}_aa.sh ${B")
}

// TestPositions checks that every node of a script has a position inside the
// script.
func TestPositions(t *testing.T) {
	src := "--mss=1000\n`init`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
		"+0 recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{...,0}], msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=1000}]}, &x) = 1000\n" +
		"+0...0.1 poll([{fd=4, events=POLLIN}], 1, 0) = 1\n" +
		"+0 > [ect0] S. 0:0(0) ack 1 <mss 1460,sack 1:2 3:4,TS val 1 ecr 0,FO abcd>\n" +
		"+0 < icmp unreachable frag_needed mtu 1480 [1:1461(1460)]\n+0 < udp 1>2 (10)\n+0 `cmd`\n+0 %{ x }%\n`cleanup`\n"
	s, err := Parse("p.pkt", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(src, "\n")
	n := 0
	Inspect(s, func(nd Node) bool {
		n++
		p := nd.Position()
		if p.File != "p.pkt" || p.Line < 1 || p.Line > lines || p.Col < 1 {
			t.Errorf("%T %s: bad position", nd, p)
		}
		return true
	})
	if n < 60 {
		t.Errorf("Inspect visited only %d nodes", n)
	}
	checkAllPositions(t, s, "p.pkt")
}

// checkAllPositions uses reflection to check every Pos in the tree, including
// those Inspect does not reach.
func checkAllPositions(t *testing.T, s *Script, file string) {
	t.Helper()
	walkPos(reflect.ValueOf(s), func(p reflect.Value) {
		pos := p.Interface().(Pos)
		if pos.File != file || pos.Line < 1 || pos.Col < 1 {
			t.Errorf("node without a position: %+v", pos)
		}
	})
}

package pktdrill

import "testing"

func formatFirst(t *testing.T, src string) string {
	t.Helper()
	s, err := Parse("f.pkt", []byte(src), nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return Format(s.Events[0])
}

// TestRoundTrip: Format(Parse(line)) gives the line back for lines already in
// normal form.
func TestRoundTrip(t *testing.T) {
	lines := []string{
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
		"+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>",
		"+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>",
		"+0 > S. 0:0(0) ack 1 <...>",
		"+0.100 < . 1:1(0) ack 1 win 257",
		"+0 > P. 1:1001(1000) ack 1",
		"+0 > F. 1:1(0) ack 1 <nop,nop,TS val 10001 ecr 2>",
		"+0.100 < F. 1:1(0) ack 2 win 257 <nop,nop,TS val 3 ecr 10001>",
		"+0 > R 1:1(0)",
		"+0 > R. 1:1(0) ack 1",
		"+0 < R. 1:1(0) win 0",
		"+0 < U. 1:101(100) ack 1 win 257 urg 100",
		"+0.100 < SEW 0:0(0) win 32792 <mss 1000,nop,nop,sackOK,nop,wscale 7>",
		"+0 > SE. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>",
		"+0 < FP. 1:11(10) ack 1 win 257",
		"+0 < - 0:0(0) win 10",
		"+0 > [ect0] P. 1:1001(1000) ack 1",
		"+0.095 < [noecn] E. 1:1(0) ack 1001 win 320",
		"+0 < [ect1] . 1:1(0) ack 1 win 320",
		"+0 < [tos 0x10] S 0:0(0) win 1000",
		"+0 < [ect0,flowlabel 0x12345] S 0:0(0) win 1000",
		"+0 > [ttl 64] S 0:0(0)",
		"+0 < 8080>80 S 0:0(0) win 1000",
		"+0 < . 1:1(0) ack 1 win 257 <sack 1:1001 2001:3001,nop,nop>",
		"+0 < S 1428932:1428932(0) win 10000 <mss 1012,FO,nop,nop,sackOK,TS val 1 ecr 0,nop,wscale 7>",
		"+0 > S. 0:0(0) ack 1428933 <mss 1460,sackOK,TS val 10000 ecr 1,nop,wscale 8,FO 00abaaabe8e954c2,nop,nop>",
		"+0.100 < S 0:10(10) win 32792 <mss 1460,sackOK,nop,nop,FOEXP TFO_COOKIE>",
		"+0 < . 1:1(0) ack 1 win 514 <md5 000102030405060708090a0b0c0d0e0f,nop,nop,eol>",
		"+0 < udp (100)",
		"+0 > udp 1234>53 (10)",
		"+0.010 < icmp unreachable frag_needed mtu 1480 [1:1461(1460)]",
		"+0 < icmp unreachable [5000:6000(1000)]",
		"+0 < icmp unreachable CODE",
		"+0.010 < icmp packet_too_big mtu 1400 [0:1440(1440)]",
		"+0 > icmp echo_reply id 7 [udp (100)]",
		"* > F. 1:1(0) ack 12",
		"0.100~0.200 > P. 1:1001(1000) ack 1",
		"+0.100~+0.105 > P. 3001:4001(1000) ack 1",
		"1.500 < . 1:1(0) ack 1 win 257",
		"+0.0015 < . 1:1(0) ack 1 win 257",
		"+0...0.100 read(4, ..., 2000) = 2000",
		"+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)",
		"+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
		"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
		"+0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 600}, {..., 400}], msg_flags=0}, MSG_DONTWAIT|MSG_FASTOPEN) = 1000",
		`+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0`,
		`+0 write(4, "GET /\r\n"..., 7) = 7`,
		"+0 getsockopt(3, SOL_SOCKET, SO_ERROR, &err, [4]) = 0",
		"+0 `sysctl -q net.ipv4.tcp_timestamps=1`",
		"+0 %{ assert tcpi_rtt > 0 }%",
	}
	for _, line := range lines {
		if got := formatFirst(t, line); got != line {
			t.Errorf("round trip:\n  in %q\n out %q", line, got)
		}
	}
}

// TestNormalise: input in other spellings formats to the normal form.
func TestNormalise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  +.1 < S 0:0(0) win 32792 <mss 1000, nop,wscale 7>", "+0.100 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>"},
		{"+.01\t< S.  0:0(0)  ack 1 win 20000\t<mss 1000,nop,nop,sackOK>", "+0.010 < S. 0:0(0) ack 1 win 20000 <mss 1000,nop,nop,sackOK>"},
		{".1 < . 1:1(0) ack 1 win 65535", "0.100 < . 1:1(0) ack 1 win 65535"},
		{"+0 < (ect0) . 1:1(0) win 5", "+0 < [ect0] . 1:1(0) win 5"},
		{"+0 < [tos 16] . 1:1(0) win 5", "+0 < [tos 0x10] . 1:1(0) win 5"},
		{"+0 > . 1:1(0) win 5 ack 2", "+0 > . 1:1(0) ack 2 win 5"},
		{"+0 > WES 0:0(0)", "+0 > SEW 0:0(0)"},
		{"+0 > PF. 1:2(1) ack 1", "+0 > FP. 1:2(1) ack 1"},
		{"+.1~+.105 > P. 3001:4001(1000) ack 1", "+0.100~+0.105 > P. 3001:4001(1000) ack 1"},
		{"+0 ... .02 sendto(4, ..., 6000, MSG_FASTOPEN, ..., ...) = 6000", "+0...0.020 sendto(4, ..., 6000, MSG_FASTOPEN, ..., ...) = 6000"},
		{"+0 write(4, ..., 100) = -1 ECONNRESET(Connection  reset\n by peer)", "+0 write(4, ..., 100) = -1 ECONNRESET (Connection reset by peer)"},
		{"+0 poll([{fd=4,\n   events=POLLIN | POLLOUT,\n   revents=POLLOUT}], 1, 100) = 1", "+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1"},
		{"+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 10000 ecr 1,nop,wscale 8, FO 00abaa,nop,nop> // comment",
			"+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 10000 ecr 1,nop,wscale 8,FO 00abaa,nop,nop>"},
		{"+0 < /* inline */ S 0:0(0) win 1", "+0 < S 0:0(0) win 1"},
	}
	for _, tt := range tests {
		if got := formatFirst(t, tt.in); got != tt.want {
			t.Errorf("normalise %q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatPieces(t *testing.T) {
	s, err := Parse("f.pkt", []byte("+0.1 > S. 0:0(0) ack 1 <...>\n+0...0.5 read(3, ..., 1) = 1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Events[0].Action.(*Packet)
	if got, want := "script packet: "+FormatUsecs(100000)+" "+FormatPacketBody(p), "script packet: 0.100 S. 0:0(0) ack 1 <...>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	checks := []struct {
		n    Node
		want string
	}{
		{p, "> S. 0:0(0) ack 1 <...>"},
		{p.TCP, "S. 0:0(0) ack 1 <...>"},
		{p.TCP.Options, "<...>"},
		{&p.TCP.Seq, "0:0(0)"},
		{s.Events[0].Time, "+0.100"},
		{s.Events[1].Action, "...0.500 read(3, ..., 1) = 1"},
		{s.Events[1].Action.(*Syscall).Args[1], "..."},
		{&String{Value: "a\"b\\\n\x01"}, `"a\"b\\\n\x01"`},
		{&Int{Value: 42}, "42"},
	}
	for _, c := range checks {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%T) = %q, want %q", c.n, got, c.want)
		}
	}
	for us, want := range map[int64]string{0: "0", 1: "0.000001", 1500: "0.0015", 100000: "0.100", 1000000: "1", 2250000: "2.250", -250000: "-0.250"} {
		if got := FormatUsecs(us); got != want {
			t.Errorf("FormatUsecs(%d) = %q, want %q", us, got, want)
		}
	}
	if got := FlagsString(0); got != "-" {
		t.Errorf("FlagsString(0) = %q", got)
	}
	// A whole script formats to something that parses to the same thing.
	src := "--mss=1000\n`init`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win 1\n`cleanup`\n"
	s, err = Parse("f.pkt", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Format(s); got != src {
		t.Errorf("Format(script):\n got %q\nwant %q", got, src)
	}
}

package pktdrill

import (
	"fmt"
	"testing"
)

func TestZZErr(t *testing.T) {
	for _, src := range []string{
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win",
		"+0 < X 0:0(0) win 1",
		"+0 < SS 0:0(0) win 1",
		"+0 < S. 1:10(5) win 1",
		"+0 < S 0:0(0) win 70000",
		"+0 < S 0:0(0) win 1 <foo 1>",
		"+0 < S 0:0(0) win 1 <mss 1460",
		"+0 < S 0:0(0) win 1 <TS val 1>",
		"+0 < S 0:0(0) win 1 <sack>",
		"+0 < S 0:0(0) win 1 <md5>",
		"+0 < S 0:0(0) win 1 ack 1 ack 2",
		"+0 < S 0:0(0) mss 1",
		"+0 < [ect2] S 0:0(0)",
		"+0 < [ect0,ce] S 0:0(0)",
		"+0 < [tos 0x100] S 0:0(0)",
		"+0 < [ect0 S 0:0(0)",
		"+0 < ipv4 1.2.3.4 > 5.6.7.8: S 0:0(0)",
		"+0 < udp 100",
		"+0 < icmp [1:2(1)]",
		"\n\n  +0 `sysctl -q x",
		"+0 write(3, \"abc, 3) = 3",
		"+0 %{ assert 1",
		"/* never closed\n+0 close(3) = 0",
		"0 close(3) = 0\n--mss=1000",
		"`init`\n`middle`\n0 close(3) = 0",
		"0 close(3) = 0\n`a`\n+0 close(4) = 0",
		"+0 close(3)",
		"+0 close(3) 0",
		"+0 close(3 = 0",
		"+0 close(3,) = 0",
		"+1~2 close(3) = 0",
		"+2~+1 close(3) = 0",
		"+x close(3) = 0",
		"close(3) = 0",
		"0 close(3) = 0\n+0 @",
		"",
		"// only a comment\n",
		"+0 close(3) = -1 EBADF (Bad file descriptor",
		"+0 read(3, ..., 10) = 99999999999999999999",
		"+0 foo(msg_iov(1,2)=[]) = 0",
		"+0...x read(3, ..., 1) = 1",
		"+0 < . 1:1(0) ack 1 win 1 <...",
		"99999999999 close(3) = 0",
		"+0 1",
		"+0 < S 0:0(0) win ${",
		"--opt=\"abc\n+0 close(3) = 0",
		"--opt!x\n+0 close(3) = 0",
		"+0 foo(0.5) = 0",
		"+0 < S 0:0(0) win 1\n\t+0 > S. 0:0(0) ack 1 win 1 <mss 1460,,nop>",
		"+0 > S. 0:0(0) ack -1",
		"+0 foo(\"\\x\") = 0",
	} {
		_, err := Parse("e.pkt", []byte(src), nil)
		fmt.Printf("%q\n\t%v\n", src, err)
	}
}

package pktdrill

import (
	"strings"
	"testing"
)

// seedScripts are the example scripts of the project's seed document on the
// eleven TCP states (shared/seeds/004_*.txt), one per code example (the
// document splits some examples into one code block per line; those blocks
// are joined here).
var seedScripts = []struct{ name, src string }{
	{"syn-sent", "// 新建一个 socket\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n// 客户端 connect\n+0 connect(3, ..., ...) = -1\n+0 `sleep 1000000`\n"},
	{"syn-rcvd", "--tolerance_usecs=1000000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\n \n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n\n// 故意注释掉下面这一行\n// +.1 < . 1:1(0) ack 1 win 65535\n\n+0 `sleep 1000000\n"},
	{"fin-wait-1", "--tolerance_usecs=1000000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\n \n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n.1 < . 1:1(0) ack 1 win 65535\n\n+.1 accept(3, ..., ...) = 4\n\n+.1 close(4) = 0 // 服务端主动断开连接\n\n+0 `sleep 1000000`\n"},
	{"fin-wait-2", "--tolerance_usecs=1000000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n// 故意注释掉下面这一行\n.1 < . 1:1(0) ack 1 win 65535\n\n+.1 accept(3, ..., ...) = 4\n\n// 服务端主动断开连接\n+.1 close(4) = 0\n\n// 向协议栈注入 ACK 包, 模拟客户端发送了 ACK\n+.1 < . 1:1(0) ack 2 win 257\n\n+0 `sleep 1000000`\n"},
	{"close-wait", "--tolerance_usec=1000000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n// 故意注释掉下面这一行\n.1 < . 1:1(0) ack 1 win 65535\n\n+.1 accept(3, ..., ...) = 4\n\n// 向协议栈注入 FIN 包, 模拟客户端发送了 FIN, 主动关闭连接\n+.1 < F. 1:1(0) win 65535 <mss 100>\n// 预期协议栈会发出 ACK\n+0 > . 1:1(0) ack 2 <...>\n+0 `sleep 1000000`\n"},
	{"time-wait", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n.1 < . 1:1(0) ack 1 win 65535\n+1 accept(3, ..., ...) = 4\n// 服务端主动断开连接\n+1 close(4) = 0\n+0 > F. 1:1(0) ack 1 <...>\n// 向协议栈注入 ACK 包，模拟客户端发送了 ACK\n+1 < . 1:1(0) ack 2 win 257\n// 向协议栈注入 FIN，模拟服务端收到了 FIN\n+1 < F. 1:1(0) win 65535 <mss 100>\n+0 `sleep 1000000`\n"},
	{"last-ack", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\n+0 < S 0:0(0) win 65535 <mss 100>\n+0 > S. 0:0(0) ack 1 <...>\n.1 < . 1:1(0) ack 1 win 65535\n\n+.1 accept(3, ..., ...) = 4\n\n// 向协议栈注入 FIN 包, 模拟客户端发送了 FIN, 主动关闭连接\n+.1 < F. 1:1(0) win 65535 <mss 100>\n// 预期协议栈会发出 ACK\n+0 > . 1:1(0) ack 2 <...>\n\n+.1 close(4) = 0\n// 预期服务端会发出 FIN\n+0 > F. 1:1(0) ack 2 <...>\n\n+0 `sleep 1000000`\n"},
	{"closing", "// 服务端随便传输一点数据给客户端\n\n+0.100 write(4, ..., 1000) = 1000\n\n// 断言服务端会发出 1000 字节的数据\n\n+0 > P. 1:1001(1000) ack 1 <...>\n\n// 确认 1000 字节数据\n\n+0.01 < . 1:1(0) ack 1001 win 257\n\n// 服务端主动断开，会发送 FIN 给客户端\n\n+1 close(4) = 0\n\n// 断言协议栈会发出 ACK 确认（服务端->客户端）\n\n+0 > F. 1001:1001(0) ack 1 <...>\n\n// 客户端在未对服务端的 FIN 做确认时，也发出 FIN 要求断开连接\n\n+1 < F. 1:1(0) ack 1001 win 257\n\n \n// 断言协议栈会发出 ACK 确认（服务端->客户端）\n\n+0 > . 1002:1002(0) ack 2 <...>\n\n// 故意不回 ACK，让连接处于 CLOSING 状态\n\n// +.100 < . 2:2(0) ack 1002 win 25\n\n"},
}

// TestSeeds parses the seed document's examples. The SYN-RCVD example ends
// with "+0 `sleep 1000000" whose closing backquote is missing in the
// document: it must fail with the line of that command, and parse once the
// backquote is added.
func TestSeeds(t *testing.T) {
	events := map[string]int{
		"syn-sent": 3, "syn-rcvd": 8, "fin-wait-1": 9, "fin-wait-2": 10, "close-wait": 10,
		"time-wait": 12, "last-ack": 12, "closing": 7,
	}
	for _, sc := range seedScripts {
		t.Run(sc.name, func(t *testing.T) {
			src := sc.src
			if sc.name == "syn-rcvd" {
				_, err := Parse(sc.name+".pkt", []byte(src), nil)
				want := "syn-rcvd.pkt:15:4: syntax error: unterminated backquoted command"
				if err == nil || err.Error() != want {
					t.Fatalf("got error %v, want %s", err, want)
				}
				src = strings.TrimRight(src, "\n") + "`\n"
			}
			s, err := Parse(sc.name+".pkt", []byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(s.Events); got != events[sc.name] {
				t.Errorf("%d events, want %d", got, events[sc.name])
			}
			last := s.Events[len(s.Events)-1]
			if cmd, ok := last.Action.(*Command); ok && cmd.Text != "sleep 1000000" {
				t.Errorf("last command %q", cmd.Text)
			}
		})
	}
	// Spot checks: the seeds' ".1" absolute time and the misspelt option are
	// kept as written (the runner decides what to do with them).
	s, err := Parse("close-wait.pkt", []byte(seedScripts[4].src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Option("tolerance_usec"); !ok || v != "1000000" {
		t.Errorf("tolerance_usec option = %q, %v", v, ok)
	}
	tm := s.Events[5].Time
	if tm.Kind != TimeAbsolute || tm.Start != 100000 {
		t.Errorf("event 5 time %+v, want absolute 0.1 s", tm)
	}
}

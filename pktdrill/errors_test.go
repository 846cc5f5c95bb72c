package pktdrill

import (
	"errors"
	"strings"
	"testing"
)

// TestErrors checks that bad input gives a syntax error naming the file, line
// and column, and never a panic.
func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win", `e.pkt:2:18: syntax error: expected window (an integer), got end of file`},
		{"+0 < X 0:0(0) win 1", `e.pkt:1:6: syntax error: bad TCP flags "X": flags are F S R P U E W and '.' for ACK`},
		{"+0 < SS 0:0(0) win 1", `e.pkt:1:6: syntax error: TCP flag S repeated in "SS"`},
		{"+0 < S. 1:10(5) win 1", `e.pkt:1:9: syntax error: inconsistent sequence range 1:10(5): end - start must equal the length`},
		{"+0 < S 0:0(0) win 70000", `e.pkt:1:19: syntax error: window 70000 out of range (max 65535)`},
		{"+0 < S 0:0(0) win 1 <foo 1>", `e.pkt:1:22: syntax error: unknown TCP option "foo"`},
		{"+0 < S 0:0(0) win 1 <mss 1460", `e.pkt:1:30: syntax error: expected '>' or ',' in TCP options, got end of file`},
		{"+0 < S 0:0(0) win 1 <TS val 1>", `e.pkt:1:30: syntax error: expected "ecr" in TS option (TS val N ecr N), got ">"`},
		{"+0 < S 0:0(0) win 1 <sack>", `e.pkt:1:26: syntax error: sack option needs at least one block L:R, got ">"`},
		{"+0 < S 0:0(0) win 1 <md5>", `e.pkt:1:25: syntax error: md5 option needs a hex digest, got ">"`},
		{"+0 < S 0:0(0) win 1 ack 1 ack 2", `e.pkt:1:27: syntax error: ack given twice`},
		{"+0 < S 0:0(0) mss 1", `e.pkt:1:15: syntax error: unexpected "mss" in TCP packet (expected ack, win, urg or <options>)`},
		{"+0 < [ect2] S 0:0(0)", `e.pkt:1:7: syntax error: unknown IP information "ect2" (want noecn, ect0, ect1, ce, ect01, tos, flowlabel or ttl)`},
		{"+0 < [ect0,ce] S 0:0(0)", `e.pkt:1:12: syntax error: ce given twice in IP information`},
		{"+0 < [tos 0x100] S 0:0(0)", `e.pkt:1:11: syntax error: tos value 0x100 out of range (max 255)`},
		{"+0 < [ect0 S 0:0(0)", `e.pkt:1:12: syntax error: expected ']' to close the IP information, got "S"`},
		{"+0 < ipv4 1.2.3.4 > 5.6.7.8: S 0:0(0)", `e.pkt:1:6: syntax error: ipv4 encapsulation in packet lines is not supported`},
		{"+0 < udp 100", `e.pkt:1:13: syntax error: expected '>' between ports, got end of file`},
		{"+0 < icmp [1:2(1)]", `e.pkt:1:11: syntax error: expected an ICMP type (like unreachable), got "["`},
		{"\n\n  +0 `sysctl -q x", `e.pkt:3:6: syntax error: unterminated backquoted command`},
		{"+0 write(3, \"abc, 3) = 3", `e.pkt:1:13: syntax error: unterminated string`},
		{"+0 %{ assert 1", `e.pkt:1:4: syntax error: unterminated %{ code block (missing }%)`},
		{"/* never closed\n+0 close(3) = 0", `e.pkt:1:1: syntax error: unterminated /* comment`},
		{"0 close(3) = 0\n--mss=1000", `e.pkt:2:1: syntax error: option --mss after the first event: options must come first`},
		{"`init`\n`middle`\n0 close(3) = 0", `e.pkt:2:1: syntax error: backquoted command without a time: only the first (init) and last (cleanup) commands may omit the time`},
		{"0 close(3) = 0\n`a`\n+0 close(4) = 0", `e.pkt:2:1: syntax error: backquoted command without a time: only the first (init) and last (cleanup) commands may omit the time`},
		{"+0 close(3)", `e.pkt:1:12: syntax error: expected '=' and the expected result after close(...), got end of file`},
		{"+0 close(3) 0", `e.pkt:1:13: syntax error: expected '=' and the expected result after close(...), got "0"`},
		{"+0 close(3 = 0", `e.pkt:1:12: syntax error: expected ',' or ')' in list, got "="`},
		{"+0 close(3,) = 0", `e.pkt:1:12: syntax error: expected an expression, got ")"`},
		{"+1~2 close(3) = 0", `e.pkt:1:4: syntax error: both ends of a time range must be relative (+a~+b) or both absolute (a~b)`},
		{"+2~+1 close(3) = 0", `e.pkt:1:5: syntax error: time range ends before it starts`},
		{"+x close(3) = 0", `e.pkt:1:2: syntax error: expected event time (seconds, like 0.100), got "x"`},
		{"close(3) = 0", `e.pkt:1:1: syntax error: expected event time (seconds, like 0.100), got "close"`},
		{"0 close(3) = 0\n+0 @", `e.pkt:2:4: syntax error: unexpected character '@'`},
		{"", `e.pkt:1:1: syntax error: script has no events`},
		{"// only a comment\n", `e.pkt:2:1: syntax error: script has no events`},
		{"+0 close(3) = -1 EBADF (Bad file descriptor", `e.pkt:1:24: syntax error: unterminated note: missing ')'`},
		{"+0 read(3, ..., 10) = 99999999999999999999", `e.pkt:1:23: syntax error: integer 99999999999999999999 out of range`},
		{"+0 foo(msg_iov(1,2)=[]) = 0", `e.pkt:1:8: syntax error: msg_iov(...)= takes exactly one argument in parentheses`},
		{"+0...x read(3, ..., 1) = 1", `e.pkt:1:6: syntax error: expected end time of blocking call (...END) (seconds, like 0.100), got "x"`},
		{"+0 < . 1:1(0) ack 1 win 1 <...", `e.pkt:1:31: syntax error: expected '>' after <..., got end of file`},
		{"99999999999 close(3) = 0", `e.pkt:1:1: syntax error: event time 99999999999 out of range`},
		{"+0 1", `e.pkt:1:4: syntax error: expected a packet, system call, command or %{ }% block after the time, got "1"`},
		{"+0 < S 0:0(0) win ${", `e.pkt:1:19: syntax error: malformed ${NAME} reference`},
		{"--opt=\"abc\n+0 close(3) = 0", `e.pkt:1:7: syntax error: unterminated " in option --opt`},
		{"--opt!x\n+0 close(3) = 0", `e.pkt:1:6: syntax error: unexpected character '!' in option --opt`},
		{"+0 foo(0.5) = 0", `e.pkt:1:8: syntax error: expected an expression, got "0.5"`},
		{"+0 < S 0:0(0) win 1\n\t+0 > S. 0:0(0) ack 1 win 1 <mss 1460,,nop>", `e.pkt:2:39: syntax error: expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, md5, FO, FOEXP), got ","`},
		{"+0 > S. 0:0(0) ack -1", `e.pkt:1:20: syntax error: ack number must not be negative, got -1`},
		{"+0 foo(\"\\x\") = 0", `e.pkt:1:9: syntax error: \x with no hex digits in string`},
	}
	for _, tt := range tests {
		s, err := Parse("e.pkt", []byte(tt.src), nil)
		if err == nil {
			t.Errorf("Parse(%q) succeeded: %s", tt.src, Format(s))
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tt.src, err, tt.want)
		}
		var perr *Error
		if !errors.As(err, &perr) || perr.Pos.File != "e.pkt" || perr.Pos.Line < 1 {
			t.Errorf("Parse(%q): error %#v is not an *Error with a position", tt.src, err)
		}
	}
}

func TestDefineErrors(t *testing.T) {
	cfg := &Config{Defines: map[string]string{"BAD": "a @ b"}}
	_, err := Parse("e.pkt", []byte("\n+0 foo(BAD) = 0"), cfg)
	want := "e.pkt:2:8: syntax error: in the value of define BAD: unexpected character '@'"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = Parse("e.pkt", []byte("--define=NOVALUE\n+0 foo() = 0"), nil)
	want = "e.pkt:1:1: syntax error: --define=NOVALUE: want NAME=VALUE"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestErrorPosString(t *testing.T) {
	e := &Error{Pos: Pos{File: "x.pkt", Line: 7}, Msg: "boom"}
	if got, want := e.Error(), "x.pkt:7: syntax error: boom"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHostileInput(t *testing.T) {
	deep := "+0 foo(" + strings.Repeat("[", 5000) + ") = 0"
	_, err := Parse("e.pkt", []byte(deep), nil)
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep nesting: %v", err)
	}
	amp := "+0 foo(" + strings.Repeat("&", 5000) + "x) = 0"
	if _, err := Parse("e.pkt", []byte(amp), nil); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep &: %v", err)
	}
	// Many words defined as nothing simply vanish.
	cfg := &Config{Defines: map[string]string{"E": ""}}
	s, err := Parse("e.pkt", []byte("+0 foo(1"+strings.Repeat(" E", 100000)+") = 0"), cfg)
	if err != nil || len(s.Events[0].Action.(*Syscall).Args) != 1 {
		t.Errorf("empty defines: %v", err)
	}
	// Not UTF-8, NUL bytes, lone punctuation.
	for _, src := range []string{"\xff\xfe", "+0 \x00", "<", ">", "+", "*", "~", "...", "%", "%{", "}%", "`", "\"", "$", "${}", "--", "--x=`", "-"} {
		if _, err := Parse("e.pkt", []byte(src), nil); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

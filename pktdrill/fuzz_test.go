package pktdrill

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: any input gives a script or an *Error with a position, never a
// panic; a parsed script formats to text that parses again to the same tree
// (positions aside) and formats the same.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n",
		"--tolerance_usecs=1000\n`init`\n+.1~+.2 > S. 0:0(0) ack 1 <...>\n`cleanup`",
		"+0...0.100 read(4, ..., 2000) = 2000\n* > F. 1:1(0) ack 12",
		"+0 > [ect0] P. 1:1001(1000) ack 1\n+0 < [tos 0x10,flowlabel 0x1] . 1:1(0) win 1",
		"+0 < icmp unreachable frag_needed mtu 1480 [1:1461(1460)]\n+0 < udp 1>2 (10)",
		"+0 recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{...,0}], msg_control=[{cmsg_level=SOL_IP, cmsg_data={ee_errno=0}}]}, 0) = 0",
		"+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n+0 %{ assert x }%",
		"--define=A=B\n+0 foo(A, ${A}, \"s\\x41\"..., &x) = -1 EAGAIN",
		"+0 < S 0:0(0) win 1 <sack 1:2 3:4,TS val 1 ecr 2,FO abcd,FOEXP,md5 00,eol>",
		"/* c */ 0.5 close(3) = 0 // x",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, sc := range seedScripts {
		f.Add([]byte(sc.src))
	}
	if dir := fuzzCorpusDir(); dir != "" {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".pkt") {
				if b, err := os.ReadFile(path); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz.pkt", src, nil)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if perr.Pos.File != "fuzz.pkt" || perr.Pos.Line < 1 || perr.Pos.Col < 1 || !strings.HasPrefix(err.Error(), "fuzz.pkt:") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		walkPos(reflect.ValueOf(s), func(p reflect.Value) {
			if pos := p.Interface().(Pos); pos.File != "fuzz.pkt" || pos.Line < 1 || pos.Col < 1 {
				t.Fatalf("node without a position: %+v", pos)
			}
		})
		if len(s.Defines) > 0 {
			return // substitution is not idempotent in general
		}
		text := Format(s)
		s2, err := Parse("fuzz.pkt", []byte(text), nil)
		if err != nil {
			t.Fatalf("formatted script does not parse: %v\n%s", err, text)
		}
		if text2 := Format(s2); text2 != text {
			t.Fatalf("format not stable:\n%q\n%q", text, text2)
		}
		stripPos(s)
		stripPos(s2)
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("tree changed by format and parse:\n%s\n%s", dump(s), dump(s2))
		}
	})
}

// fuzzCorpusDir is corpusDir without a *testing.T (empty when not found).
func fuzzCorpusDir() string {
	if dir := os.Getenv("SYNFIN_PACKETDRILL_CORPUS"); dir != "" {
		return dir
	}
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "..", "shared", "conformance", "packetdrill")
}

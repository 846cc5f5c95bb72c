package stack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/tcp"
)

// twoHosts returns two stacks joined by an in-memory pipe: 10.0.0.1 and
// 10.0.0.2 (and fd00::1, fd00::2).
func twoHosts(t testing.TB) (a, b *Stack) {
	t.Helper()
	ea, eb := pipe.New(1500)
	var err error
	if a, err = New(Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err = New(Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddInterface("p0", eb, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestDialListenEcho(t *testing.T) {
	for _, addr := range []string{"10.0.0.2:7", "[fd00::2]:7"} {
		t.Run(addr, func(t *testing.T) {
			a, b := twoHosts(t)
			ln, err := b.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(c, c)
				c.Close()
			}()
			c, err := a.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			msg := bytes.Repeat([]byte("synfin!"), 300000)
			go func() {
				c.Write(msg)
				c.(*TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(msg) {
				t.Fatalf("echo: got %d bytes, want %d", len(got), len(msg))
			}
			c.Close()
			ln.Close()
		})
	}
}

func TestDialRefused(t *testing.T) {
	a, _ := twoHosts(t)
	_, err := a.Dial("tcp", "10.0.0.2:9")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to closed port: %v, want ECONNREFUSED", err)
	}
	if got := err.Error(); got != "dial tcp 10.0.0.2:9: connect: connection refused" && !bytes.Contains([]byte(got), []byte("connect: connection refused")) {
		t.Fatalf("error text %q", got)
	}
}

func TestTimeWaitTable(t *testing.T) {
	a, b := twoHosts(t)
	ln, _ := b.Listen("tcp", "10.0.0.2:80")
	done := make(chan struct{})
	go func() {
		c, _ := ln.Accept()
		io.ReadAll(c)
		c.Close()
		close(done)
	}()
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("bye"))
	c.Close()
	<-done
	deadline := time.Now().Add(2 * time.Second)
	for {
		rows := a.Sockets()
		if len(rows) == 1 && rows[0].State == tcp.TimeWait {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client sockets: %v", FormatSS(rows))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

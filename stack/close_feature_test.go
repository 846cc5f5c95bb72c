package stack

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
)

// TestStackCloseAborts: Stack.Close resets every connection (the peers
// read ECONNRESET) and ends Accept, Read and Write calls blocked in other
// goroutines at once, with errors; afterwards every call fails. TestMain's
// goleak check sees that no goroutine survives.
func TestStackCloseAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.Listen("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		var clients, servers []net.Conn
		for i := 0; i < 3; i++ {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			clients, servers = append(clients, c), append(servers, s)
		}
		own, err := a.Listen("tcp", "10.0.0.1:90")
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			what string
			n    int
			err  error
		}
		results := make(chan result, 3)
		go func() {
			_, err := own.Accept()
			results <- result{"accept", 0, err}
		}()
		go func() {
			n, err := clients[0].Read(make([]byte, 10))
			results <- result{"read", n, err}
		}()
		go func() {
			n, err := clients[1].Write(make([]byte, 64<<20)) // b never reads
			results <- result{"write", n, err}
		}()
		synctest.Wait()
		select {
		case r := <-results:
			t.Fatalf("%s returned before Close: %v", r.what, r.err)
		default:
		}
		start := time.Now()
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for i := 0; i < 3; i++ {
			r := <-results
			if r.err == nil || r.err == io.EOF {
				t.Errorf("%s after Stack.Close: %d, %v; want an error", r.what, r.n, r.err)
			}
			var oe *net.OpError
			if !errors.As(r.err, &oe) {
				t.Errorf("%s after Stack.Close: %v is not a *net.OpError", r.what, r.err)
			}
			if !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("%s after Stack.Close: %v, want net.ErrClosed", r.what, r.err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("blocked calls took %v to return", d)
		}
		// The peers were reset.
		synctest.Wait()
		for i, s := range servers {
			s.SetReadDeadline(time.Now().Add(time.Second))
			// What arrived before the RST is read first, then the error.
			if _, err := io.Copy(io.Discard, s); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("server %d after the client's stack closed: %v, want ECONNRESET", i, err)
			}
		}
		if rows := b.Sockets(); len(rows) != 1 || rows[0].State != tcp.Listen {
			t.Errorf("server sockets:\n%s", FormatSS(rows))
		}
		// Everything fails afterwards.
		if rows := a.Sockets(); len(rows) != 0 {
			t.Errorf("sockets of a closed stack:\n%s", FormatSS(rows))
		}
		if _, err := a.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("dial on a closed stack: %v", err)
		}
		if _, err := a.Listen("tcp", "10.0.0.1:91"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("listen on a closed stack: %v", err)
		}
		if _, err := clients[2].Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("write on a closed stack: %v, want net.ErrClosed", err)
		}
		if _, err := clients[2].Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("read on a closed stack: %v, want net.ErrClosed", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		for _, c := range append(clients, servers...) {
			c.Close()
		}
		own.Close()
		ln.Close()
	})
}

// TestStackCloseBlockedDial: a Dial waiting for its SYN-ACK returns when
// the stack closes.
func TestStackCloseBlockedDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := rawHost(t, Options{})
		done := make(chan error)
		go func() {
			_, err := s.Dial("tcp", "10.0.0.1:80") // nobody answers
			done <- err
		}()
		synctest.Wait()
		s.Close()
		if err := <-done; err == nil {
			t.Errorf("dial succeeded on a closed stack")
		}
	})
}

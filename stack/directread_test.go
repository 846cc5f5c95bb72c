package stack

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"
)

// TestReadLendsBufferToEngine: a Read that finds nothing lends its buffer
// to the engine (tcp/directread.go; the engine's tests check where the
// bytes go); the Read returns the bytes that arrive, and a later Read the
// rest of the stream in order.
func TestReadLendsBufferToEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.Listen("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 2)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			for range 2 {
				buf := make([]byte, 100)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, _ := c.Read(buf)
				got <- buf[:n]
			}
			c.Close()
		}()
		c, err := a.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		synctest.Wait() // the server's Read is blocked, its buffer lent
		c.Write([]byte("hello, lent buffer"))
		if p := <-got; string(p) != "hello, lent buffer" {
			t.Fatalf("first Read returned %q", p)
		}
		c.Write(bytes.Repeat([]byte("x"), 50))
		if p := <-got; len(p) != 50 {
			t.Fatalf("second Read returned %d bytes", len(p))
		}
	})
}

// TestReadDeadlineKeepsDirectBytes: a Read whose deadline passes returns
// the deadline error only if nothing was placed in its buffer; bytes the
// engine copied there are returned, never lost from the stream.
func TestReadDeadlineKeepsDirectBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.Listen("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := a.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		if n, err := s.Read(buf); n != 0 || err == nil {
			t.Fatalf("Read with nothing sent: %d, %v; want a deadline error", n, err)
		}
		s.SetReadDeadline(time.Now().Add(time.Second))
		go func() {
			time.Sleep(500 * time.Millisecond)
			c.Write([]byte("in time"))
		}()
		if n, err := s.Read(buf); string(buf[:n]) != "in time" || err != nil {
			t.Fatalf("Read: %q, %v", buf[:n], err)
		}
	})
}

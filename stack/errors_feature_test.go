package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/wire"
)

// pair returns a connected client (on a) and server (on b, behind tap).
func pair(t *testing.T) (a, b *Stack, tap *rawLink, client, server *TCPConn) {
	t.Helper()
	a, b, tap = tappedHosts(t, Options{})
	ln, err := b.ListenConfig(ListenConfig{}, "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	acc := make(chan *TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		acc <- c
	}()
	client, err = a.DialTCP(t.Context(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	ln.Close()
	synctest.Wait()
	tap.take()
	return a, b, tap, client, server
}

// checkOpError checks that err is a *net.OpError for op wrapping target,
// with package net's text.
func checkOpError(t *testing.T, err error, op string, target error, text string) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op {
		t.Errorf("%s: error %v (%T) is not a %q *net.OpError", op, err, err, op)
		return
	}
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v is not %v", op, err, target)
	}
	if text != "" && err.Error() != text {
		t.Errorf("%s: error text %q, want %q", op, err, text)
	}
}

// TestReadDeadline: a read deadline ends Read with os.ErrDeadlineExceeded
// inside a *net.OpError whose Timeout is true, at the deadline; the
// connection stays usable; moving the deadline wakes a blocked Read.
func TestReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, _, client, server := pair(t)
		start := time.Now()
		client.SetReadDeadline(start.Add(2 * time.Second))
		buf := make([]byte, 16)
		n, err := client.Read(buf)
		if n != 0 || time.Since(start) != 2*time.Second {
			t.Errorf("read returned %d bytes after %v", n, time.Since(start))
		}
		checkOpError(t, err, "read", os.ErrDeadlineExceeded, "read tcp "+client.LocalAddr().String()+"->10.0.0.2:80: i/o timeout")
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("read error %v: Timeout() false", err)
		}
		// A deadline in the past fails at once, even with data waiting, as
		// in package net.
		server.Write([]byte("data"))
		synctest.Wait()
		client.SetReadDeadline(time.Now().Add(-time.Second))
		if _, err := client.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read with a past deadline: %v", err)
		}
		// Cleared, the connection reads what is there.
		client.SetReadDeadline(time.Time{})
		if n, err := client.Read(buf); err != nil || string(buf[:n]) != "data" {
			t.Errorf("read after clearing the deadline: %q %v", buf[:n], err)
		}
		// Shortening the deadline wakes a blocked Read.
		client.SetReadDeadline(time.Now().Add(time.Hour))
		done := make(chan error)
		go func() {
			_, err := client.Read(buf)
			done <- err
		}()
		synctest.Wait()
		start = time.Now()
		client.SetReadDeadline(time.Now())
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != 0 {
			t.Errorf("read after the deadline moved: %v after %v", err, time.Since(start))
		}
		client.Close()
		server.Close()
	})
}

// TestWriteAndAcceptDeadline: Write blocked on a full send buffer and
// Accept both honour their deadlines.
func TestWriteAndAcceptDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _, client, server := pair(t)
		client.SetWriteDeadline(time.Now().Add(3 * time.Second))
		n, err := client.Write(make([]byte, 64<<20)) // the server never reads
		if n == 0 || n == 64<<20 {
			t.Errorf("wrote %d bytes before the deadline", n)
		}
		checkOpError(t, err, "write", os.ErrDeadlineExceeded, "")
		ln, err := b.ListenConfig(ListenConfig{}, "tcp", "10.0.0.2:81")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ln.SetDeadline(start.Add(time.Second))
		_, err = ln.Accept()
		checkOpError(t, err, "accept", os.ErrDeadlineExceeded, "")
		if time.Since(start) != time.Second {
			t.Errorf("accept timed out after %v", time.Since(start))
		}
		ln.Close()
		client.SetLinger(0)
		client.Close()
		server.Close()
		_ = a
	})
}

// TestReadAfterReset: Read on a connection the peer reset fails with
// ECONNRESET ("read: connection reset by peer"), once; the next Read sees
// EOF, as on Linux.
func TestReadAfterReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, _, client, server := pair(t)
		server.SetLinger(0)
		server.Close()
		synctest.Wait()
		buf := make([]byte, 8)
		_, err := client.Read(buf)
		checkOpError(t, err, "read", syscall.ECONNRESET, "read tcp "+client.LocalAddr().String()+"->10.0.0.2:80: read: connection reset by peer")
		if _, err := client.Read(buf); err != io.EOF {
			t.Errorf("second read after reset: %v, want EOF", err)
		}
		_, err = client.Write([]byte("x"))
		checkOpError(t, err, "write", syscall.EPIPE, "")
		client.Close()
	})
}

// TestWriteAfterPeerClosedAndReset: the peer closes (FIN); our first write
// still succeeds and draws an RST (data for a closed socket); the next
// write fails with EPIPE, as Linux reports an RST in CLOSE_WAIT.
func TestWriteAfterPeerClosedAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, tap, client, server := pair(t)
		server.Close()
		synctest.Wait()
		buf := make([]byte, 8)
		if _, err := client.Read(buf); err != io.EOF {
			t.Fatalf("read after the peer's FIN: %v", err)
		}
		if _, err := client.Write([]byte("anyone?")); err != nil {
			t.Fatalf("first write after the peer's FIN: %v", err)
		}
		synctest.Wait()
		var rst bool
		for _, o := range tap.takeTCP(t) {
			if o.flags&wire.FlagRST != 0 {
				rst = true
			}
		}
		if !rst {
			t.Fatalf("the closed peer did not reset")
		}
		_, err := client.Write([]byte("still?"))
		checkOpError(t, err, "write", syscall.EPIPE, "write tcp "+client.LocalAddr().String()+"->10.0.0.2:80: write: broken pipe")
		if _, err := client.Write([]byte("!")); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("third write: %v, want EPIPE", err)
		}
		client.Close()
	})
}

// TestUseOfClosedConn: every call on a closed connection fails with
// net.ErrClosed, as package net's do.
func TestUseOfClosedConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, _, client, server := pair(t)
		client.Close()
		prefix := "tcp " + client.LocalAddr().String() + "->10.0.0.2:80: use of closed network connection"
		_, err := client.Read(make([]byte, 1))
		checkOpError(t, err, "read", net.ErrClosed, "read "+prefix)
		_, err = client.Write([]byte("x"))
		checkOpError(t, err, "write", net.ErrClosed, "write "+prefix)
		checkOpError(t, client.Close(), "close", net.ErrClosed, "close "+prefix)
		checkOpError(t, client.CloseWrite(), "close", net.ErrClosed, "")
		server.Close()
	})
}

// TestAbortiveClose: SO_LINGER 0, or unread data, make Close send an RST
// (<SEQ=SND.NXT><ACK=RCV.NXT><RST,ACK>, no FIN); the peer reads
// ECONNRESET.
func TestAbortiveClose(t *testing.T) {
	for _, how := range []string{"linger0", "unread-data"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, _, tap, client, server := pair(t)
				client.Write([]byte("hello"))
				synctest.Wait()
				if how == "linger0" {
					buf := make([]byte, 5)
					io.ReadFull(server, buf)
					server.SetLinger(0)
				}
				info := server.Info()
				tap.take()
				server.Close()
				out := tap.takeTCP(t)
				rst := only(t, out, "abortive close")
				if rst.flags != wire.FlagRST|wire.FlagACK || rst.seq != info.SndNxt || rst.ack != info.RcvNxt {
					t.Errorf("close sent %v, want RST,ACK seq %d ack %d", rst, info.SndNxt, info.RcvNxt)
				}
				synctest.Wait()
				_, err := client.Read(make([]byte, 8))
				checkOpError(t, err, "read", syscall.ECONNRESET, "")
				client.Close()
			})
		})
	}
}

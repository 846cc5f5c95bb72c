package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/stack"
)

// Two hosts joined by an in-memory link: the usual starting point.
func hosts() (client, server *stack.Stack) {
	ea, eb := pipe.New(1500)
	client, _ = stack.New(stack.Options{})
	server, _ = stack.New(stack.Options{})
	client.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"))
	server.AddInterface("p0", eb, netip.MustParsePrefix("10.0.0.2/24"))
	return client, server
}

// Listen and Dial give a net.Listener and a net.Conn, as package net does.
func ExampleStack_Listen() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:7")
	go func() {
		c, _ := ln.Accept()
		io.Copy(c, c) // echo
		c.Close()
	}()

	c, _ := client.Dial("tcp", "10.0.0.2:7")
	c.Write([]byte("hello, synfin"))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	fmt.Println(string(buf[:n]))
	c.Close()
	// Output: hello, synfin
}

// Errors wrap syscall.Errno exactly as the standard library's do.
func ExampleStack_Dial_refused() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	_, err := client.Dial("tcp", "10.0.0.2:9") // nobody listens: the server answers RST
	fmt.Println(err)
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED))
	// Output:
	// dial tcp 10.0.0.2:9: connect: connection refused
	// true
}

// CloseWrite is a half-close: the peer reads EOF, and can still answer.
func ExampleTCPConn_CloseWrite() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	go func() {
		c, _ := ln.Accept()
		req, _ := io.ReadAll(c) // until the client's FIN
		fmt.Fprintf(c, "got %d bytes", len(req))
		c.Close()
	}()

	c, _ := client.DialTCP(context.Background(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
	c.Write([]byte("all of the request"))
	c.CloseWrite() // FIN: FIN_WAIT_1, then FIN_WAIT_2 once acknowledged
	resp, _ := io.ReadAll(c)
	fmt.Println(string(resp))
	c.Close()
	// Output: got 18 bytes
}

// Sockets is the sockets table, what ss -tan shows; Subscribe streams state
// changes.
func ExampleStack_Sockets() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()
	events, cancel := client.Subscribe(16)
	defer cancel()

	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	go func() {
		c, _ := ln.Accept()
		io.ReadAll(c)
		c.Close()
	}()
	c, _ := client.Dial("tcp", "10.0.0.2:80")
	c.Close() // the client closes first, so it keeps TIME_WAIT

	for ev := range events {
		fmt.Println(ev.Old, "->", ev.New)
		if ev.New.String() == "TIME_WAIT" {
			break
		}
	}
	time.Sleep(10 * time.Millisecond)
	for _, s := range client.Sockets() {
		fmt.Println(stack.SSName(s.State), s.Remote)
	}
	// Output:
	// CLOSED -> SYN_SENT
	// SYN_SENT -> ESTABLISHED
	// ESTABLISHED -> FIN_WAIT_1
	// FIN_WAIT_1 -> FIN_WAIT_2
	// FIN_WAIT_2 -> TIME_WAIT
	// TIME-WAIT 10.0.0.2:80
}

// DialContext fits http.Transport and net.Dialer users; a context deadline
// ends an attempt that gets no answer, as a timeout error.
func ExampleStack_DialContext() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.DialContext(ctx, "tcp", "10.0.0.3:80") // nobody there: SYNs go unanswered
	var ne net.Error
	fmt.Println(errors.As(err, &ne) && ne.Timeout())
	// Output: true
}

// SetLinger(0) makes Close abort the connection with RST; the peer's next
// read fails with ECONNRESET.
func ExampleTCPConn_SetLinger() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	accepted := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, _ := client.DialTCP(context.Background(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
	peer := <-accepted
	c.SetLinger(0)
	c.Close()
	_, err := peer.Read(make([]byte, 1))
	fmt.Println(errors.Is(err, syscall.ECONNRESET))
	// Output: true
}

// Info is TCP_INFO: the state, the negotiated options, RTT, cwnd and counters.
func ExampleTCPConn_Info() {
	client, server := hosts()
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	go func() {
		c, _ := ln.Accept()
		io.Copy(io.Discard, c)
	}()
	c, _ := client.DialTCP(context.Background(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
	c.Write(make([]byte, 10000))
	time.Sleep(50 * time.Millisecond)
	info := c.Info()
	fmt.Println(info.State, info.Timestamps, info.SACK, info.WindowScale, info.SndMSS, info.BytesAcked)
	c.Close()
	// Output: ESTABLISHED true true true 1448 10000
}

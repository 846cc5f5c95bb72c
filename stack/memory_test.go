package stack

import (
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// establish opens n connections from a to b's listener, exchanging one small
// message on each so that buffers have been used, and returns both ends.
func establish(t testing.TB, a, b *Stack, n int) (client, server []*TCPConn) {
	// One 4-tuple space holds at most 28232 connections (the ephemeral
	// range), so use a listener per 20000.
	var lns []*TCPListener
	for p := 0; p <= n/20000; p++ {
		ln, err := b.ListenConfig(ListenConfig{Backlog: 4096}, "tcp", fmt.Sprintf("10.0.0.2:%d", 80+p))
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	accept := func() {
		for _, ln := range lns {
			for {
				sc, err := ln.TryAccept()
				if err != nil {
					break
				}
				server = append(server, sc)
			}
		}
	}
	for i := 0; i < n; i++ {
		c, err := a.DialAsync(netip.AddrPort{}, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(80+i/20000)))
		if err != nil {
			t.Fatal(err)
		}
		client = append(client, c)
		if i%256 == 255 || i == n-1 {
			synctest.Wait()
			accept()
		}
	}
	synctest.Wait()
	accept()
	if len(server) != n {
		t.Fatalf("accepted %d of %d", len(server), n)
	}
	// Work in batches, as an application would: a burst of 100k packets
	// overflows the link's queue and the synchronised retransmissions that
	// follow recover only a queue's worth per backoff round.
	buf := make([]byte, 16)
	batches(len(client), func(i int) { client[i].Write([]byte("ping")) })
	batches(len(server), func(i int) {
		io.ReadFull(server[i], buf[:4])
		server[i].Write([]byte("pong"))
	})
	batches(len(client), func(i int) { io.ReadFull(client[i], buf[:4]) })
	time.Sleep(time.Second) // delayed ACKs out
	synctest.Wait()
	for _, ln := range lns {
		ln.Close()
	}
	return client, server
}

// batches runs f for 0..n-1 in groups of 256, letting the network settle
// (synctest.Wait) after each group.
func batches(n int, f func(i int)) {
	for i := 0; i < n; i++ {
		f(i)
		if i%256 == 255 {
			synctest.Wait()
		}
	}
	synctest.Wait()
}

// TestIdleConnectionMemory measures the heap held per idle established
// endpoint (issue goal: <= 2 KiB; gVisor's netstack needs about 5.7 KiB).
func TestIdleConnectionMemory(t *testing.T) {
	const n = 10000
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		before := heapInUse()
		client, server := establish(t, a, b, n)
		after := heapInUse()
		per := float64(after-before) / float64(2*n)
		t.Logf("idle established endpoint: %.0f bytes (%d connections, both ends)", per, n)
		if per > 2048 {
			t.Errorf("idle endpoint uses %.0f bytes, want <= 2048", per)
		}
		runtime.KeepAlive(client)
		runtime.KeepAlive(server)
		for _, c := range client {
			c.SetLinger(0)
			c.Close()
		}
		for _, c := range server {
			c.Close()
		}
	})
}

// TestTimeWaitMemory measures the heap held per connection in TIME_WAIT
// (issue goal: <= 256 bytes).
func TestTimeWaitMemory(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		client, server := establish(t, a, b, n)
		batches(len(client), func(i int) { client[i].Close() }) // the client closes first: TIME_WAIT is there
		batches(len(server), func(i int) { server[i].Close() })
		time.Sleep(time.Second)
		synctest.Wait()
		client, server = nil, nil
		rows := a.Sockets()
		tw := 0
		for _, r := range rows {
			if r.State == tcp.TimeWait {
				tw++
			}
		}
		if tw != n {
			t.Fatalf("%d connections in TIME_WAIT, want %d", tw, n)
		}
		rows = nil
		held := heapInUse()
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if got := len(a.Sockets()); got != 0 {
			t.Fatalf("%d sockets left after TIME_WAIT", got)
		}
		freed := heapInUse()
		per := float64(held-freed) / float64(n)
		t.Logf("TIME_WAIT entry: %.0f bytes (%d entries)", per, n)
		if per > 256 {
			t.Errorf("TIME_WAIT entry uses %.0f bytes, want <= 256", per)
		}
	})
}

package sim

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/synfin/synfin/stack"
)

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// connectMany opens n connections between two simulated hosts, one small
// request and response on each, and returns both ends once idle.
func connectMany(tb testing.TB, n int) (net *Network, client, server []*stack.TCPConn) {
	net = New(1)
	a, err := net.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := net.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	if _, err := net.Connect(a, b, Symmetric(PathConfig{Latency: time.Millisecond})); err != nil {
		tb.Fatal(err)
	}
	var lns []*stack.TCPListener
	for p := 0; p <= n/20000; p++ {
		ln, err := b.Stack().ListenConfig(stack.ListenConfig{Backlog: 4096}, "tcp", netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(80+p)).String())
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
	}
	accept := func() {
		for _, ln := range lns {
			for {
				c, err := ln.TryAccept()
				if err != nil {
					break
				}
				server = append(server, c)
			}
		}
	}
	for i := 0; i < n; i++ {
		c, err := a.Stack().DialAsync(netip.AddrPort{}, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(80+i/20000)))
		if err != nil {
			tb.Fatal(err)
		}
		client = append(client, c)
		if i%512 == 511 {
			net.RunFor(10 * time.Millisecond)
			accept()
		}
	}
	net.RunFor(100 * time.Millisecond)
	accept()
	if len(server) != n {
		tb.Fatalf("accepted %d of %d", len(server), n)
	}
	buf := make([]byte, 8)
	step := func(f func(i int)) {
		for i := 0; i < n; i++ {
			f(i)
			if i%512 == 511 {
				net.RunFor(10 * time.Millisecond)
			}
		}
		net.RunFor(time.Second)
	}
	step(func(i int) { client[i].TryWrite([]byte("ping")) })
	step(func(i int) {
		server[i].TryRead(buf)
		server[i].TryWrite([]byte("pong"))
	})
	step(func(i int) { client[i].TryRead(buf) })
	return net, client, server
}

// BenchmarkIdleEstablishedMemory reports the heap per idle established
// endpoint over 10k connections (both ends counted). Goal: <= 2 KiB.
func BenchmarkIdleEstablishedMemory(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		before := heapAlloc()
		net, client, server := connectMany(b, n)
		after := heapAlloc()
		b.ReportMetric(float64(after-before)/float64(2*n), "B/endpoint")
		runtime.KeepAlive(net)
		runtime.KeepAlive(client)
		runtime.KeepAlive(server)
	}
}

// BenchmarkTimeWaitMemory reports the heap per connection in TIME_WAIT over
// 100k connections. Goal: <= 256 B.
func BenchmarkTimeWaitMemory(b *testing.B) {
	const n = 100000
	for i := 0; i < b.N; i++ {
		net, client, server := connectMany(b, n)
		for j := range client {
			client[j].Close() // the client closes first and keeps TIME_WAIT
			if j%512 == 511 {
				net.RunFor(10 * time.Millisecond)
			}
		}
		net.RunFor(time.Second)
		for j := range server {
			server[j].Close()
			if j%512 == 511 {
				net.RunFor(10 * time.Millisecond)
			}
		}
		net.RunFor(5 * time.Second)
		client, server = nil, nil
		held := heapAlloc()
		net.RunFor(60 * time.Second)
		freed := heapAlloc()
		b.ReportMetric(float64(held-freed)/float64(n), "B/timewait")
		runtime.KeepAlive(net)
	}
}

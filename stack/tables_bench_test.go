package stack_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// BenchmarkConnectClose measures the connection setup and teardown path of
// two stacks on the simulator: per operation, one connection is dialled,
// accepted, closed by the client and then by the server. Connections are
// opened `conc` at a time, and TIME_WAIT is let expire after each round,
// so the connection, TIME_WAIT and port tables fill up to conc entries
// and empty again every round (the pattern that grows and shrinks them).
// TIME_WAIT is cut to 500 ms so that the network is never idle for a
// second, after which the simulator would give its packet buffers back
// (that would measure the simulator, not the stack).
func BenchmarkConnectClose(b *testing.B) {
	for _, conc := range []int{1, 256, 4096} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			n := sim.New(1)
			defer n.Close()
			cfg := tcp.DefaultConfig()
			cfg.TimeWaitLen = 500 * time.Millisecond
			opts := stack.Options{TCP: &cfg}
			ha, err := n.AddHostWith("a", opts, netip.MustParsePrefix("10.0.0.1/24"))
			if err != nil {
				b.Fatal(err)
			}
			hb, _ := n.AddHostWith("b", opts, netip.MustParsePrefix("10.0.0.2/24"))
			if _, err := n.Connect(ha, hb, sim.Symmetric(sim.PathConfig{Latency: time.Millisecond})); err != nil {
				b.Fatal(err)
			}
			dst := hb.AddrPort(80)
			ln, err := hb.Stack().ListenConfig(stack.ListenConfig{Backlog: 4096}, "tcp", dst.String())
			if err != nil {
				b.Fatal(err)
			}
			clients := make([]*stack.TCPConn, 0, conc)
			servers := make([]*stack.TCPConn, 0, conc)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(conc, b.N-done)
				clients, servers = clients[:0], servers[:0]
				for range k {
					c, err := ha.Stack().DialAsync(netip.AddrPort{}, dst)
					if err != nil {
						b.Fatal(err)
					}
					clients = append(clients, c)
				}
				err := n.RunUntil(func() bool {
					for {
						c, err := ln.TryAccept()
						if err != nil {
							break
						}
						servers = append(servers, c)
					}
					return len(servers) == k
				}, 10*time.Second)
				if err != nil {
					b.Fatalf("accept: %v (%d of %d)", err, len(servers), k)
				}
				for _, c := range clients {
					c.Close()
				}
				if err := n.RunFor(10 * time.Millisecond); err != nil {
					b.Fatal(err)
				}
				for _, c := range servers {
					c.Close()
				}
				// TIME_WAIT ends; only the listener is left.
				if err := n.RunFor(600 * time.Millisecond); err != nil {
					b.Fatal(err)
				}
				for _, c := range clients {
					if st := c.State(); st != tcp.Closed {
						b.Fatalf("client in %v", st)
					}
				}
				done += k
			}
		})
	}
}

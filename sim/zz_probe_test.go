package sim

import (
	"testing"
	"time"

	"github.com/synfin/synfin/stack"
)

func TestProbeTimeWait(t *testing.T) {
	for _, extraCalls := range []int{0, 1, 2} {
		n, a, b, _ := pair(t, 1, Symmetric(PathConfig{Latency: time.Millisecond}))
		ln, _ := b.Stack().ListenConfig(stack.ListenConfig{}, "tcp", "10.0.0.2:80")
		c, err := a.Stack().DialAsync(a.AddrPort(0), b.AddrPort(80))
		if err != nil {
			t.Fatal(err)
		}
		n.RunFor(10 * time.Millisecond)
		sc, err := ln.TryAccept()
		if err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		n.RunFor(10 * time.Millisecond)
		buf := make([]byte, 10)
		_, err = sc.TryRead(buf)
		t.Logf("server read: %v", err)
		sc.Close()
		ln.Close()
		n.RunFor(10 * time.Millisecond)
		t.Logf("client state %v", c.State())
		for i := 0; i < extraCalls; i++ {
			_, err := c.TryRead(buf)
			t.Logf("client read after TIME_WAIT: %v", err)
		}
		n.RunFor(61 * time.Second)
		t.Logf("sockets a: %d b: %d", len(a.Stack().Sockets()), len(b.Stack().Sockets()))
		_, err = a.Stack().ListenConfig(stack.ListenConfig{NoReuseAddr: true}, "tcp", c.LocalAddr().String())
		t.Logf("extra calls %d: listen on %s after TIME_WAIT: %v", extraCalls, c.LocalAddr(), err)
	}
}

package reliability

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// TestSYNFlood: SYNs from spoofed addresses at a listener. The SYN queue
// fills (backlog 4096), SYN cookies take over, memory stays bounded by the
// queue, and a legitimate client still connects within 1 s.
func TestSYNFlood(t *testing.T) {
	total := size(200000, 200000, 100000)
	l := newLab(t, 7, nil, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond}))
	ln, err := l.b.Stack().ListenConfig(stack.ListenConfig{}, "tcp", l.b.AddrPort(port).String())
	mustNoErr(t, err)
	base := spoofNet.Addr().As4()
	mkSYN := func(i int) []byte {
		a := base
		a[1] |= byte(i >> 16 & 0x0f)
		a[2], a[3] = byte(i>>8), byte(i)|1
		src := netip.AddrPortFrom(netip.AddrFrom4(a), uint16(1024+i%60000))
		return seg{src: src, dst: l.b.AddrPort(port), seq: uint32(i) * 2654435761, flags: wire.FlagSYN, win: 65535,
			opts: &wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: uint32(i)}}.build()
	}
	// A first, small flood warms up what is reused (the simulator's
	// packet buffers, the stacks' transmit batches); the baseline is taken
	// once it has drained, so that what remains after the big flood is a
	// leak.
	for i := 0; i < 8192; i += 1024 {
		for j := i; j < i+1024; j++ {
			l.inject(mkSYN(total + j))
		}
		run(t, l.n, 10*time.Millisecond)
	}
	until(t, l.n, func() bool { return len(l.b.Stack().Sockets()) <= 1 }, 5*time.Minute, "warm-up drains")
	run(t, l.n, time.Second)
	before := heap()
	warm := l.b.Stack().Stats().SynCookiesSent

	// 200k SYNs over 2 s of virtual time: 1000 every 10 ms.
	const perTick = 1000
	var client interface{ State() tcp.State }
	var dialAt, estAt time.Duration
	peak := uint64(0)
	for i := 0; i < total; i += perTick {
		pkts := make([][]byte, 0, perTick)
		for j := i; j < min(i+perTick, total); j++ {
			pkts = append(pkts, mkSYN(j))
		}
		l.inject(pkts...)
		run(t, l.n, 10*time.Millisecond)
		if client == nil && i >= total/2 {
			// The legitimate client arrives mid-flood.
			c, err := l.a.Stack().DialAsync(netip.AddrPort{}, l.b.AddrPort(port))
			mustNoErr(t, err)
			client, dialAt = c, l.n.Now()
		}
		if client != nil && estAt == 0 && client.State() == tcp.Established {
			estAt = l.n.Now()
		}
		if i%(total/4) == 0 {
			peak = max(peak, heap())
		}
	}
	peak = max(peak, heap())
	if estAt == 0 {
		until(t, l.n, func() bool { return client.State() == tcp.Established }, time.Second, "legitimate client during flood")
		estAt = l.n.Now()
	}
	c, err := ln.TryAccept()
	for err == nil && c.RemoteAddrPort().Addr() != addrA.Addr() {
		c, err = ln.TryAccept()
	}
	mustNoErr(t, err)
	st := l.b.Stack().Stats()
	st.SynCookiesSent -= warm
	socks := len(l.b.Stack().Sockets())
	t.Logf("%d spoofed SYNs: SynCookiesSent %d, half-open %d, heap before %d KiB, peak %d KiB (+%d B per SYN queue entry), client connected in %v",
		total, st.SynCookiesSent, socks-2, before>>10, peak>>10, (int64(peak)-int64(before))/4096, estAt-dialAt)
	if st.SynCookiesSent < uint64(total-4096) {
		t.Fatalf("SynCookiesSent %d", st.SynCookiesSent)
	}
	if socks > 4096+2 {
		t.Fatalf("%d sockets: SYN queue unbounded", socks)
	}
	if estAt-dialAt > time.Second {
		t.Fatalf("legitimate client took %v", estAt-dialAt)
	}
	// Bound: the SYN queue (4096 TCBs) and the simulator's own queues, not
	// the number of SYNs.
	if grow := int64(peak) - int64(before); grow > 64<<20 {
		t.Fatalf("heap grew by %d MiB", grow>>20)
	}
	// The half-open connections time out (5 SYN-ACK retries, ~63 s).
	until(t, l.n, func() bool { return len(l.b.Stack().Sockets()) <= 2 }, 5*time.Minute, "SYN queue drains")
	after := heap()
	t.Logf("after the half-open connections timed out: heap %d KiB", after>>10)
	// Back to the baseline: the stack's tables shrink once emptied and the
	// simulator gives back the packet buffers the flood needed.
	if int64(after)-int64(before) > 1<<20 {
		t.Fatalf("heap %d KiB after the flood, %d KiB before", after>>10, before>>10)
	}
}

// TestOutOfOrderFlood: in-window data full of holes. Reassembly keeps at
// most MaxOutOfOrder ranges within the receive buffer; the rest is dropped
// and counted.
func TestOutOfOrderFlood(t *testing.T) {
	v := newVictim(t, 8, nil)
	before := heap()
	n := size(50000, 20000, 5000)
	payload := make([]byte, 100)
	var pkts [][]byte
	for k := 0; k < n; k++ {
		// [200k+100, 200k+200): every other 100 bytes, never RCV.NXT itself, all
		// within the 64 KiB window.
		pkts = append(pkts, v.spoof(wire.FlagACK, uint32(200*(k%300)+100), 0, payload))
		if len(pkts) == 500 {
			v.l.inject(pkts...)
			pkts = pkts[:0]
			run(t, v.l.n, 10*time.Millisecond)
		}
	}
	v.l.inject(pkts...)
	run(t, v.l.n, 100*time.Millisecond)
	peak := heap()
	st := tcbStats(v.server)
	var rcvMem int
	v.server.Do(func(tb *tcp.TCB, _ tcp.Time) { _, rcvMem = tb.BufferMemory() })
	limit := v.server.Info().RcvSpace
	t.Logf("%d out-of-order segments: OutOfOrderSegments %d, OutOfOrderDropped %d, receive buffer memory %d B (rcv space %d), heap %+d KiB",
		n, st.OutOfOrderSegments, st.OutOfOrderDropped, rcvMem, limit, (int64(peak)-int64(before))>>10)
	if st.OutOfOrderDropped == 0 {
		t.Fatal("nothing dropped")
	}
	if rcvMem > 8<<20 {
		t.Fatalf("receive buffer holds %d bytes", rcvMem)
	}
	if int64(peak)-int64(before) > 16<<20 {
		t.Fatalf("heap grew by %d KiB", (int64(peak)-int64(before))>>10)
	}
	v.alive(t)
}

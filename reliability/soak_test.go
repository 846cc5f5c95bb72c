package reliability

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// TestSoak: conc connections open at once, then total connections opened
// and closed, conc at a time, each carrying a 100-byte request and reply
// (the server closes first, so its TIME_WAIT entries meet the client's
// reused ports). The churn runs in four quarters; after each, once
// TIME_WAIT is over, the socket tables are empty and the heap is back
// within soakHeapSlack (2 MiB) of its baseline. At the end the goroutine
// count equals its baseline and the counters add up.
//
// Sizes: 10k concurrent and 1M in all at full size; 10k and 100k in CI;
// 2k and 10k under -race.
func TestSoak(t *testing.T) {
	conc := size(10000, 10000, 2000)
	total := size(1000000, 100000, 10000)

	n := sim.New(99)
	defer n.Close()
	a, err := n.AddHost("a", addrA)
	mustNoErr(t, err)
	b, err := n.AddHost("b", addrB)
	mustNoErr(t, err)
	_, err = n.Connect(a, b, sim.Symmetric(sim.PathConfig{Latency: time.Millisecond}))
	mustNoErr(t, err)
	ln, err := b.Stack().ListenConfig(stack.ListenConfig{Backlog: 4096}, "tcp", b.AddrPort(port).String())
	mustNoErr(t, err)
	run(t, n, time.Millisecond)
	goroutines := settledGoroutines()
	if os.Getenv("SOAK_HEAPPROFILE") != "" {
		// Sample finely: what is left after the soak is small.
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1024
	}
	baseline := heap()

	type client struct {
		c    *stack.TCPConn
		sent bool
		got  int
	}
	type server struct {
		c    *stack.TCPConn
		got  int
		sent bool
	}
	var (
		clients          []*client
		servers          []*server
		launched, closed int
		hold             = true // phase 1: open conc and keep them
		limit            = total / 4
		failures         int
		firstErr         error
		req              = make([]byte, 100)
		buf              = make([]byte, 256)
	)
	dst := b.AddrPort(port)
	poll := func() {
		for {
			c, err := ln.TryAccept()
			if err != nil {
				break
			}
			servers = append(servers, &server{c: c})
		}
		// At most 1000 new connections per millisecond: a burst above the
		// backlog (4096) would be SYN-cookied, which is not the point here.
		for k := 0; k < 1000 && len(clients) < conc && launched < limit; k++ {
			c, err := a.Stack().DialAsync(netip.AddrPort{}, dst)
			if err != nil {
				t.Fatalf("dial %d: %v", launched, err)
			}
			clients = append(clients, &client{c: c})
			launched++
		}
		if hold {
			return
		}
		k := 0
		for _, s := range servers {
			for s.got < len(req) {
				m, err := s.c.TryRead(buf)
				s.got += m
				if err != nil {
					break
				}
			}
			if s.got >= len(req) && !s.sent {
				s.c.TryWrite(req)
				s.c.Close() // the server closes first
				s.sent = true
			}
			if !s.sent {
				servers[k] = s
				k++
			}
		}
		clear(servers[k:])
		servers = servers[:k]
		k = 0
		for _, c := range clients {
			keep := true
			switch st := c.c.State(); {
			case st == tcp.SynSent:
			case !c.sent && st == tcp.Established:
				c.c.TryWrite(req)
				c.sent = true
			case c.sent:
				for {
					m, err := c.c.TryRead(buf)
					c.got += m
					if err == io.EOF {
						c.c.Close()
						keep = false
						closed++
						break
					}
					if err != nil {
						if !errors.Is(err, tcp.ErrWouldBlock) {
							failures++
							firstErr = err
							c.c.Close()
							keep = false
						}
						break
					}
				}
			default:
				failures++
				firstErr = c.c.Err()
				keep = false
			}
			if keep {
				clients[k] = c
				k++
			}
		}
		clear(clients[k:])
		clients = clients[:k]
	}
	tick := n.Every(time.Millisecond, poll)
	start := time.Now()

	// Phase 1: conc connections established at once.
	until(t, n, func() bool {
		if len(servers) < conc {
			return false
		}
		for _, c := range clients {
			if c.c.State() != tcp.Established {
				return false
			}
		}
		return true
	}, time.Minute, "concurrent connections")
	est := 0
	for _, s := range b.Stack().Sockets() {
		if s.State == tcp.Established {
			est++
		}
	}
	peak := heap()
	t.Logf("%d concurrent connections established at %v: heap %d KiB above baseline (%d B per connection, both ends)",
		est, n.Now().Round(time.Millisecond), (peak-baseline)>>10, (peak-baseline)/uint64(conc))
	if est != conc {
		t.Fatalf("%d established on b, want %d", est, conc)
	}

	// Phase 2: churn through total connections, in four quarters, each
	// followed by the end of TIME_WAIT, with the heap measured after each.
	hold = false
	// drain runs until the socket tables are empty (Sockets sorts the whole
	// table: checked once a second, not after every event).
	drain := func() {
		for i := 0; i < 120; i++ {
			run(t, n, time.Second)
			if len(a.Stack().Sockets()) == 0 && len(b.Stack().Sockets()) == 1 {
				return
			}
		}
		t.Fatalf("sockets left after TIME_WAIT:\n%s", stack.FormatSS(b.Stack().Sockets()[:20]))
	}
	var churnEnd time.Duration
	var marks []uint64
	for part := 1; part <= 4; part++ {
		limit = total * part / 4
		until(t, n, func() bool { return closed+failures == limit }, time.Minute, "churn")
		churnEnd = n.Now()
		tick.Stop()
		if part == 4 {
			clients, servers = nil, nil
		}
		drain()
		marks = append(marks, heap()>>10)
		tick = n.Every(time.Millisecond, poll)
	}
	tick.Stop()
	mid, after := marks[2]<<10, marks[3]<<10
	if f := os.Getenv("SOAK_HEAPPROFILE"); f != "" {
		writeHeapProfile(t, f)
		runtime.KeepAlive(n)
	}
	t.Logf("heap after each quarter (KiB): %v", marks)
	sa, sb := a.Stack().Stats(), b.Stack().Stats()
	t.Logf("%d connections opened and closed by %v virtual (%v wall); failures %d; ActiveOpens %d PassiveOpen %d TimeWaitReused %d; resets sent a %d b %d",
		total, churnEnd.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), failures, sa.ActiveOpens, sb.PassiveOpen, sb.TimeWaitReused, sa.ResetsSent, sb.ResetsSent)
	goroutinesAfter := settledGoroutines()
	t.Logf("heap: baseline %d KiB, %d open %d KiB, after 3/4 %d KiB, after all %d KiB; goroutines %d -> %d",
		baseline>>10, conc, peak>>10, mid>>10, after>>10, goroutines, goroutinesAfter)
	if failures != 0 {
		t.Fatalf("%d connections failed, first: %v", failures, firstErr)
	}
	if sa.ActiveOpens != uint64(total) || sb.PassiveOpen != uint64(total) || sa.PassiveOpen != 0 || sb.ActiveOpens != 0 {
		t.Fatalf("opens: a %d/%d b %d/%d, want %d", sa.ActiveOpens, sa.PassiveOpen, sb.ActiveOpens, sb.PassiveOpen, total)
	}
	if sa.ResetsSent+sb.ResetsSent != 0 || sb.ListenDrops != 0 || sb.SynCookiesSent != 0 {
		t.Fatalf("resets %d/%d, listen drops %d, cookies %d", sa.ResetsSent, sb.ResetsSent, sb.ListenDrops, sb.SynCookiesSent)
	}
	if goroutinesAfter != goroutines {
		t.Fatalf("goroutines %d -> %d", goroutines, goroutinesAfter)
	}
	// After every quarter the heap is back to the baseline, within
	// soakHeapSlack: the stacks' tables shrink when their population falls
	// (stack/tables.go) and the simulator frees the packet buffers an idle
	// network does not need. What is left is a few fixed-size things: each
	// stack's transmit batch buffer, its last-built tables (at most
	// tableShrinkMin entries each), the event queue's array.
	for q, m := range marks {
		if int64(m<<10)-int64(baseline) > soakHeapSlack {
			t.Errorf("heap %d KiB after quarter %d, baseline %d KiB: more than %d KiB above",
				m, q+1, baseline>>10, soakHeapSlack>>10)
		}
	}
}

// settledGoroutines returns the number of goroutines once it has stopped
// changing (for 50 ms, within 5 s): the goroutines of tests that ran
// before (parallel subtests winding down) must not count in a baseline.
func settledGoroutines() int {
	n, stable := runtime.NumGoroutine(), 0
	for i := 0; i < 500 && stable < 5; i++ {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	return n
}

// soakHeapSlack is how far above its baseline the heap may be after the
// soak (and after each quarter of it), once TIME_WAIT is over.
const soakHeapSlack = 2 << 20

// writeHeapProfile writes a heap profile (after a GC) to file, to see what
// holds memory after the soak: SOAK_HEAPPROFILE=/tmp/soak.heap, then
// `go tool pprof -sample_index=inuse_space -top reliability.test /tmp/soak.heap`.
func writeHeapProfile(t *testing.T, file string) {
	runtime.GC()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const port = 5001

// stalled is set by bulk when a transfer did not finish in time.
var stalled error

// bulk sends size bytes over one connection (client writes, server reads and
// discards) and returns the goodput in Gbit/s, timed from the dial to the
// last byte read.
func bulk(e env, size int64, timeout time.Duration) (float64, error) {
	ln, err := e.Listen(port)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got := make(chan error, 1)
	var read int64
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		for atomic.LoadInt64(&read) < size {
			n, err := c.Read(buf)
			atomic.AddInt64(&read, int64(n))
			if err != nil {
				got <- fmt.Errorf("read after %d bytes: %w", read, err)
				return
			}
		}
		got <- nil
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	c, err := e.Dial(ctx, port)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	chunk := make([]byte, 256<<10)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	werr := make(chan error, 1)
	go func() {
		for sent := int64(0); sent < size; {
			n := min(int64(len(chunk)), size-sent)
			if _, err := c.Write(chunk[:n]); err != nil {
				werr <- err
				return
			}
			sent += n
		}
		werr <- nil
	}()
	select {
	case err = <-got:
	case <-time.After(timeout):
		r := atomic.LoadInt64(&read)
		stalled = fmt.Errorf("stalled: %d of %d bytes in %v, figure is the rate reached", r, size, timeout)
		return float64(r) * 8 / time.Since(start).Seconds() / 1e9, nil
	}
	el := time.Since(start)
	if err != nil {
		return 0, err
	}
	if err := <-werr; err != nil {
		return 0, err
	}
	return float64(size) * 8 / el.Seconds() / 1e9, nil
}

// serveRR answers each connection: read 64 B, write 64 B, close; after the
// request it closes so that TIME_WAIT stays with the server, as with
// HTTP/1.0, and the client's ephemeral ports are not held.
func serveRR(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64)
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			c.Write(buf)
		}()
	}
}

// cps runs conc clients for d, each looping dial, 64 B request, 64 B response,
// read until EOF, close; it returns completed connections per second and the
// number of failed attempts.
func cps(e env, conc int, d time.Duration) (float64, int64, error) {
	ln, err := e.Listen(port)
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	go serveRR(ln)
	var done, failed atomic.Int64
	var firstErr atomic.Pointer[error] // the first failure, whatever its type
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, 64)
			buf := make([]byte, 128)
			for time.Now().Before(deadline) {
				err := func() error {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					c, err := e.Dial(ctx, port)
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(5 * time.Second))
					if _, err := c.Write(req); err != nil {
						return err
					}
					if _, err := io.ReadFull(c, buf[:64]); err != nil {
						return err
					}
					if n, err := c.Read(buf); err != io.EOF {
						return fmt.Errorf("want EOF, got %d bytes, %v", n, err)
					}
					return nil
				}()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					time.Sleep(time.Millisecond)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	var ferr error
	if p := firstErr.Load(); p != nil {
		ferr = *p
	}
	if done.Load() == 0 {
		return 0, failed.Load(), fmt.Errorf("no connection completed: %v", ferr)
	}
	return float64(done.Load()) / el.Seconds(), failed.Load(), nil
}

// latency does n 64 B round trips on one connection against an echo server
// and returns the p50 and p99 round-trip times in microseconds.
func latency(e env, n int) (p50, p99 float64, err error) {
	ln, err := e.Listen(port)
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.Dial(ctx, port)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 64)
	const warm = 200
	rtts := make([]time.Duration, 0, n)
	for i := range n + warm {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return 0, 0, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, 0, err
		}
		if i >= warm {
			rtts = append(rtts, time.Since(t0))
		}
	}
	slices.Sort(rtts)
	us := func(q float64) float64 { return float64(rtts[int(q*float64(len(rtts)-1))]) / 1e3 }
	return us(0.50), us(0.99), nil
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// establish opens n connections (spread over listeners on ports port..,
// 20000 per port) with a pool of workers and returns both ends. With
// exchange, each carries a 4 B request and response so that the buffers
// have been used.
func establish(e env, n, base int, exchange bool) (client, server []net.Conn, err error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	nports := (n + 19999) / 20000
	var mu sync.Mutex
	var accWG sync.WaitGroup
	for p := range nports {
		ln, err := e.Listen(uint16(base + p))
		if err != nil {
			return nil, nil, err
		}
		lns = append(lns, ln)
		accWG.Add(1)
		go func() {
			defer accWG.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				server = append(server, c)
				full := len(server) == n
				mu.Unlock()
				if full {
					return
				}
			}
		}()
	}
	client = make([]net.Conn, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error] // the first failure, whatever its type
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := e.Dial(ctx, uint16(base+i/20000))
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				client[i] = c
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return nil, nil, fmt.Errorf("dial: %w", *p)
	}
	waitFor := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(server)
		mu.Unlock()
		if k == n {
			break
		}
		if time.Now().After(waitFor) {
			return nil, nil, fmt.Errorf("accepted %d of %d", k, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, ln := range lns {
		ln.Close()
	}
	accWG.Wait()
	lns = nil
	if !exchange {
		return client, server, nil
	}
	// The accept order differs from the dial order: pair the ends by
	// address.
	byAddr := make(map[string]net.Conn, n)
	for _, s := range server {
		byAddr[s.RemoteAddr().String()] = s
	}
	for i, c := range client {
		s := byAddr[c.LocalAddr().String()]
		if s == nil {
			return nil, nil, errors.New("cannot pair connection ends by address")
		}
		server[i] = s
	}
	next.Store(0)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				client[i].Write([]byte("ping"))
				io.ReadFull(server[i], buf)
				server[i].Write([]byte("pong"))
				io.ReadFull(client[i], buf)
			}
		}()
	}
	wg.Wait()
	return client, server, nil
}

// idleMemory returns the heap bytes per idle established endpoint (both ends
// of n connections counted), measured after the delayed ACKs are out.
func idleMemory(mk func() (env, error), n int) (float64, error) {
	e, err := mk()
	if err != nil {
		return 0, err
	}
	defer e.Close()
	// Warm the stack (pools, tables) with one connection first.
	if c, s, err := establish(e, 1, port+50, true); err == nil {
		c[0].Close()
		s[0].Close()
	}
	time.Sleep(100 * time.Millisecond)
	before := heapAlloc()
	client, server, err := establish(e, n, port+1, true)
	if err != nil {
		return 0, err
	}
	time.Sleep(time.Second)
	after := heapAlloc()
	per := (float64(after) - float64(before)) / float64(2*n)
	for i := range client {
		client[i].Close()
		server[i].Close()
	}
	return per, nil
}

// timeWaitMemory measures the heap per TIME_WAIT entry the way synfin's own
// BenchmarkTimeWaitMemory does: n connections are opened in waves of at most
// 10k, the client closes first (and keeps TIME_WAIT), then the server; the
// heap held with n entries is compared with the heap once they have expired
// (held - freed, per entry). The TIME_WAIT period is shortened (twLen, set
// by the caller on both stacks alike) so that this fits in the run. It also
// returns held - baseline (the heap before the first connection) per entry:
// an upper bound that charges to the entries whatever else the stack kept
// (tables that grew and do not shrink).
func timeWaitMemory(mk func() (env, error), n int, tw time.Duration) (perEntry, upper float64, err error) {
	e, err := mk()
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	before := heapAlloc()
	var firstClose time.Time
	for done := 0; done < n; {
		w := min(10000, n-done)
		// Each wave listens on its own port so that its 4-tuples differ from
		// those of the entries already in TIME_WAIT.
		client, server, err := establish(e, w, port+100+done/10000, false)
		if err != nil {
			return 0, 0, err
		}
		if firstClose.IsZero() {
			firstClose = time.Now()
		}
		// Close in small batches: a burst of 10k FINs would overflow the
		// links' 1024-packet queues and leave connections retransmitting.
		closeBatches(client)
		time.Sleep(50 * time.Millisecond)
		closeBatches(server)
		done += w
	}
	time.Sleep(300 * time.Millisecond)
	held := heapAlloc()
	if c, ok := e.(interface{ counts() (tw, other int) }); ok {
		if tw, other := c.counts(); tw != n || other != 0 {
			note("timewait: %d entries in TIME_WAIT and %d other sockets at the measurement, want %d and 0", tw, other, n)
		}
	}
	if time.Since(firstClose) > tw {
		return 0, 0, fmt.Errorf("the first entries expired before the measurement (%v > TIME_WAIT %v)", time.Since(firstClose), tw)
	}
	time.Sleep(time.Until(time.Now().Add(tw + 2*time.Second)))
	freed := heapAlloc()
	return (float64(held) - float64(freed)) / float64(n), (float64(held) - float64(before)) / float64(n), nil
}

func closeBatches(cs []net.Conn) {
	for i, c := range cs {
		c.Close()
		if i%200 == 199 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

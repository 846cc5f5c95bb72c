package pipe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/synfin/synfin/link"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is a Dispatcher that keeps copies of what it is given, one entry
// per DeliverPackets call, and signals each call on calls.
type recorder struct {
	mu      sync.Mutex
	batches [][][]byte
	calls   chan int // receives len(pkts) of each call, if not nil
}

func (r *recorder) DeliverPackets(pkts [][]byte) {
	batch := make([][]byte, len(pkts))
	for i, p := range pkts {
		batch[i] = bytes.Clone(p)
	}
	r.mu.Lock()
	r.batches = append(r.batches, batch)
	r.mu.Unlock()
	if r.calls != nil {
		r.calls <- len(pkts)
	}
}

func (r *recorder) packets() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all [][]byte
	for _, b := range r.batches {
		all = append(all, b...)
	}
	return all
}

func (r *recorder) numBatches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

// numbered returns a packet of n bytes whose first four bytes are i.
func numbered(i, n int) []byte {
	p := make([]byte, n)
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < n; j++ {
		p[j] = byte(i + j)
	}
	return p
}

func number(p []byte) int { return int(binary.BigEndian.Uint32(p)) }

// waitPackets receives call sizes from r.calls until n packets have arrived.
func waitPackets(t *testing.T, r *recorder, n int) {
	t.Helper()
	got := 0
	for got < n {
		got += <-r.calls
	}
	if got != n {
		t.Fatalf("received %d packets, want %d", got, n)
	}
}

func TestDeliveryOrderBothWays(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	ra := &recorder{calls: make(chan int, 1000)}
	rb := &recorder{calls: make(chan int, 1000)}
	a.Attach(ra)
	b.Attach(rb)
	const n = 500
	for i := range n {
		if _, err := a.WritePackets([][]byte{numbered(i, 40+i%1400)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WritePackets([][]byte{numbered(n+i, 60)}); err != nil {
			t.Fatal(err)
		}
	}
	waitPackets(t, rb, n)
	waitPackets(t, ra, n)
	for i, p := range rb.packets() {
		if !bytes.Equal(p, numbered(i, 40+i%1400)) {
			t.Fatalf("a->b packet %d is %d bytes numbered %d: out of order or corrupt", i, len(p), number(p))
		}
	}
	for i, p := range ra.packets() {
		if number(p) != n+i {
			t.Fatalf("b->a packet %d numbered %d", i, number(p))
		}
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != n || sb.RxPackets != n || sb.TxPackets != n || sa.RxPackets != n {
		t.Errorf("stats a %+v b %+v", sa, sb)
	}
	if sa.TxBytes != sb.RxBytes || sb.TxBytes != n*60 || sa.RxBytes != n*60 {
		t.Errorf("byte counters: a %+v b %+v", sa, sb)
	}
}

func TestWriteCopiesPackets(t *testing.T) {
	a, b := New(100)
	defer a.Close()
	r := &recorder{calls: make(chan int, 10)}
	b.Attach(r)
	buf := []byte{1, 2, 3, 4}
	a.WritePackets([][]byte{buf})
	buf[0] = 99 // the caller reuses its buffer at once
	waitPackets(t, r, 1)
	if got := r.packets()[0]; !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Fatalf("delivered %v, want the bytes as they were at WritePackets", got)
	}
	b.Close()
}

// Packets written before Attach wait, and come in one DeliverPackets call.
func TestBatchingBeforeAttach(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	for i := range 10 {
		a.WritePackets([][]byte{numbered(i, 20)})
	}
	r := &recorder{calls: make(chan int, 10)}
	b.Attach(r)
	if got := <-r.calls; got != 10 {
		t.Fatalf("first delivery has %d packets, want all 10 queued", got)
	}
	for i, p := range r.packets() {
		if number(p) != i {
			t.Fatalf("packet %d numbered %d", i, number(p))
		}
	}
	b.Close()
}

// blocker holds the first DeliverPackets call until released, so that the
// writer can queue packets meanwhile.
type blocker struct {
	recorder
	entered, release chan struct{}
	once             sync.Once
}

func (bl *blocker) DeliverPackets(pkts [][]byte) {
	bl.once.Do(func() {
		close(bl.entered)
		<-bl.release
	})
	bl.recorder.DeliverPackets(pkts)
}

// Packets written while the receiver is busy are drained in one batch.
func TestBatchingWhileBusy(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	bl := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	bl.calls = make(chan int, 10)
	b.Attach(bl)
	a.WritePackets([][]byte{numbered(0, 20)})
	<-bl.entered
	for i := 1; i <= 50; i++ {
		a.WritePackets([][]byte{numbered(i, 20)})
	}
	close(bl.release)
	if got := <-bl.calls; got != 1 {
		t.Fatalf("first batch %d packets, want 1", got)
	}
	if got := <-bl.calls; got != 50 {
		t.Fatalf("second batch %d packets, want the 50 queued while busy", got)
	}
	for i, p := range bl.packets() {
		if number(p) != i {
			t.Fatalf("packet %d numbered %d", i, number(p))
		}
	}
}

func TestMTUDrops(t *testing.T) {
	a, b := New(100)
	defer a.Close()
	r := &recorder{calls: make(chan int, 10)}
	b.Attach(r)
	n, err := a.WritePackets([][]byte{numbered(0, 100), numbered(1, 101), numbered(2, 4000), numbered(3, 50)})
	if n != 4 || err != nil {
		t.Fatalf("WritePackets = %d, %v; want 4, nil (drops are taken)", n, err)
	}
	waitPackets(t, r, 2)
	got := r.packets()
	if number(got[0]) != 0 || number(got[1]) != 3 {
		t.Errorf("delivered %d and %d, want 0 and 3", number(got[0]), number(got[1]))
	}
	b.Close()
	s := a.Stats()
	if s.DropTooBig != 2 || s.TxPackets != 2 || s.TxBytes != 150 {
		t.Errorf("stats %+v, want 2 too big, 2 sent (150 bytes)", s)
	}
}

func TestQueueFullDrops(t *testing.T) {
	a, b := NewWithOptions(Options{MTU: 1500, QueueLen: 4})
	defer a.Close()
	for i := range 10 {
		if n, err := a.WritePackets([][]byte{numbered(i, 20)}); n != 1 || err != nil {
			t.Fatalf("WritePackets = %d, %v", n, err)
		}
	}
	s := a.Stats()
	if s.DropQueueFull != 6 || s.TxPackets != 4 {
		t.Fatalf("stats %+v, want 4 queued and 6 dropped", s)
	}
	r := &recorder{calls: make(chan int, 10)}
	b.Attach(r)
	waitPackets(t, r, 4)
	for i, p := range r.packets() {
		if number(p) != i {
			t.Errorf("packet %d numbered %d: the first four should be kept", i, number(p))
		}
	}
	// The queue has room again.
	a.WritePackets([][]byte{numbered(10, 20)})
	waitPackets(t, r, 1)
	b.Close()
}

func TestCloseSemantics(t *testing.T) {
	a, b := New(1500)
	ra := &recorder{calls: make(chan int, 10)}
	rb := &recorder{calls: make(chan int, 10)}
	a.Attach(ra)
	b.Attach(rb)

	// What a wrote before closing still reaches b.
	a.WritePackets([][]byte{numbered(1, 20), numbered(2, 20)})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(rb.packets()); got != 2 {
		t.Fatalf("b got %d packets written before a closed, want 2", got)
	}
	if n, err := a.WritePackets([][]byte{numbered(3, 20)}); n != 0 || !errors.Is(err, link.ErrClosed) {
		t.Fatalf("write after Close = %d, %v; want 0, link.ErrClosed", n, err)
	}
	// b still writes, into the void.
	if n, err := b.WritePackets([][]byte{numbered(4, 20)}); n != 1 || err != nil {
		t.Fatalf("write to a closed peer = %d, %v; want 1, nil", n, err)
	}
	if got := b.Stats().DropClosed; got != 1 {
		t.Errorf("b DropClosed = %d, want 1", got)
	}
	if ra.numBatches() != 0 {
		t.Errorf("a's Dispatcher called after Close")
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.WritePackets([][]byte{numbered(5, 20)}); n != 0 || !errors.Is(err, link.ErrClosed) {
		t.Fatalf("write after b.Close = %d, %v", n, err)
	}
	a.Attach(ra) // after Close: ignored, no panic
}

// Packets queued towards an end that closes are dropped, and its
// Dispatcher is never called once Close has returned.
func TestCloseDropsInbound(t *testing.T) {
	a, b := New(1500)
	for i := range 5 {
		a.WritePackets([][]byte{numbered(i, 20)})
	}
	b.Close() // never attached
	if got := a.Stats().DropClosed; got != 5 {
		t.Errorf("a DropClosed = %d, want the 5 queued towards b", got)
	}
	a.Close()
}

// A Dispatcher that is delivering when its endpoint closes finishes that
// call; Close waits for it, the packets queued meanwhile are dropped, and
// no call follows.
func TestCloseWaitsForDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := New(1500)
		defer a.Close()
		bl := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
		b.Attach(bl)
		a.WritePackets([][]byte{numbered(0, 20)})
		<-bl.entered
		a.WritePackets([][]byte{numbered(1, 20)})
		closed := make(chan struct{})
		go func() { b.Close(); close(closed) }()
		synctest.Wait() // Close has marked b closed and waits
		select {
		case <-closed:
			t.Fatal("Close returned while DeliverPackets was running")
		default:
		}
		close(bl.release)
		<-closed
		if n := bl.numBatches(); n != 1 {
			t.Fatalf("%d deliveries, want only the one under way at Close", n)
		}
		if s := a.Stats(); s.DropClosed != 1 {
			t.Errorf("a DropClosed = %d, want the packet queued at Close", s.DropClosed)
		}
	})
}

func TestAttachTwicePanics(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	b.Attach(&recorder{})
	defer func() {
		if recover() == nil {
			t.Fatal("second Attach did not panic")
		}
	}()
	b.Attach(&recorder{})
}

// Concurrent writers on both ends and a Close racing them: run with -race.
func TestConcurrentWritersAndClose(t *testing.T) {
	a, b := NewWithOptions(Options{MTU: 1500, QueueLen: 64})
	var count sync.Mutex
	delivered := 0
	d := dispatchFunc(func(p [][]byte) { count.Lock(); delivered += len(p); count.Unlock() })
	a.Attach(d)
	b.Attach(d)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep := a
			if w%2 == 1 {
				ep = b
			}
			pkt := numbered(w, 100)
			for range 2000 {
				if _, err := ep.WritePackets([][]byte{pkt, pkt}); err != nil {
					if !errors.Is(err, link.ErrClosed) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	sa, sb := a.Stats(), b.Stats()
	tx := sa.TxPackets + sb.TxPackets
	rx := sa.RxPackets + sb.RxPackets
	lost := sa.DropClosed + sb.DropClosed
	if rx+lost != tx {
		t.Errorf("sent %d, delivered %d, dropped at close %d: packets unaccounted for", tx, rx, lost)
	}
	count.Lock()
	if uint64(delivered) != rx {
		t.Errorf("dispatchers saw %d packets, stats say %d", delivered, rx)
	}
	count.Unlock()
}

type dispatchFunc func([][]byte)

func (f dispatchFunc) DeliverPackets(p [][]byte) { f(p) }

// In a synctest bubble two stacks answer each other from inside
// DeliverPackets: the asynchronous delivery keeps them from recursing, and
// synctest.Wait sees the pair idle once the exchange is over.
func TestSynctestPingPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := New(1500)
		var aGot, bGot int
		// Each side answers packet k with packet k-1 until 0.
		echo := func(ep *Endpoint, got *int) link.Dispatcher {
			return dispatchFunc(func(pkts [][]byte) {
				for _, p := range pkts {
					*got++
					if k := number(p); k > 0 {
						ep.WritePackets([][]byte{numbered(k-1, 64)})
					}
				}
			})
		}
		a.Attach(echo(a, &aGot))
		b.Attach(echo(b, &bGot))
		a.WritePackets([][]byte{numbered(1000, 64)})
		synctest.Wait() // every goroutine of the bubble is blocked: the exchange is done
		if aGot != 500 || bGot != 501 {
			t.Errorf("a got %d, b got %d; want 500 and 501", aGot, bGot)
		}
		a.Close()
		b.Close()
	})
}

// In a bubble, delivery happens without any time passing, and Close leaves
// no goroutine behind (synctest.Test fails if one outlives the bubble).
func TestSynctestNoTimePasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := NewWithOptions(Options{MTU: 1500, QueueLen: 8})
		r := &recorder{}
		b.Attach(r)
		for i := range 20 {
			a.WritePackets([][]byte{numbered(i, 30)})
			if i%4 == 3 {
				synctest.Wait()
			}
		}
		synctest.Wait()
		if got := len(r.packets()); got != 20 {
			t.Errorf("delivered %d, want 20", got)
		}
		a.Close()
		b.Close()
	})
}

// semaphore bounds the packets in flight in the benchmark so that the
// writer never overruns the queue; it allocates nothing.
type semaphore struct {
	mu    sync.Mutex
	cond  sync.Cond
	avail int
}

func newSemaphore(n int) *semaphore {
	s := &semaphore{avail: n}
	s.cond.L = &s.mu
	return s
}

func (s *semaphore) acquire(n int) {
	s.mu.Lock()
	for s.avail < n {
		s.cond.Wait()
	}
	s.avail -= n
	s.mu.Unlock()
}

func (s *semaphore) release(n int) {
	s.mu.Lock()
	s.avail += n
	s.mu.Unlock()
	s.cond.Signal()
}

// BenchmarkPipe measures packets/s of 1400-byte packets written in batches
// of 32; every packet is delivered (the writer waits for room), and steady
// state allocates nothing.
func BenchmarkPipe(b *testing.B) {
	const batch = 32
	x, y := New(1500)
	defer x.Close()
	defer y.Close()
	sem := newSemaphore(DefaultQueueLen)
	y.Attach(dispatchFunc(func(p [][]byte) { sem.release(len(p)) }))
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = numbered(i, 1400)
	}
	b.SetBytes(batch * 1400)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sem.acquire(batch)
		x.WritePackets(pkts)
	}
	sem.acquire(DefaultQueueLen) // all delivered
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "pkts/s")
	if s := x.Stats(); s.DropQueueFull != 0 {
		b.Fatalf("%d drops", s.DropQueueFull)
	}
}

// Steady state allocates nothing, the delivery goroutine included.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	x, y := New(1500)
	defer x.Close()
	defer y.Close()
	done := make(chan struct{}, 1)
	y.Attach(dispatchFunc(func(p [][]byte) { done <- struct{}{} }))
	pkts := [][]byte{numbered(0, 1400), numbered(1, 1400), numbered(2, 60)}
	allocs := testing.AllocsPerRun(200, func() {
		x.WritePackets(pkts)
		<-done
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+delivery, want 0", allocs)
	}
}

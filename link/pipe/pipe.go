// Package pipe is an in-memory link: New returns two endpoints joined like
// the ends of a cable, so that what one writes the other's Dispatcher
// receives.
//
// Each direction has a bounded queue and one goroutine. WritePackets copies
// the packets into pooled buffers, appends them to the queue and returns at
// once; WritePacketsOwned (link.OwningWriter) queues the writer's own buffers
// instead, without copying, and releases them once delivered;
// WritePacketsSplit (link.SplitWriter) does the same for packets in two
// pieces, which reach a link.SplitDispatcher as they are (a stack's TCP
// payload is then never copied by the sender) and any other Dispatcher
// joined. The goroutine
// takes everything queued and hands it over in one DeliverPackets call. Delivery is therefore asynchronous and batched: a stack
// that answers a packet from inside DeliverPackets writes into the other
// direction's queue and returns, so two stacks joined by a pipe never recurse
// into each other.
//
// The link behaves like a real one when overloaded: a packet that finds the
// queue full is dropped and counted (Stats.DropQueueFull); WritePackets never
// blocks. A packet larger than the MTU is dropped and counted too
// (Stats.DropTooBig). Packets keep their order within a direction.
//
// The goroutines block only on channels and never sleep, so a pair works
// inside testing/synctest bubbles (create it inside the bubble).
package pipe

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/synfin/synfin/link"
)

// DefaultQueueLen is the queue bound of a direction when Options.QueueLen is 0.
const DefaultQueueLen = 1024

// Options configures a pair made by NewWithOptions.
type Options struct {
	// MTU is the largest packet carried, in bytes; it must be positive.
	MTU int
	// QueueLen bounds the packets waiting in each direction (written but not
	// yet handed to the receiving Dispatcher). 0 means DefaultQueueLen.
	QueueLen int
	// ChecksumOffload makes the pipe behave like Linux's loopback device:
	// nothing on a cable can corrupt the packets, so the endpoints report
	// link.Offloads TxChecksum and RxChecksumValid, and stacks neither fill
	// nor verify TCP checksums. Packets then cross with their checksum
	// fields zero, as a capture on Linux's lo shows them unfilled.
	ChecksumOffload bool
}

// Stats are one endpoint's counters. Tx counts what this endpoint's
// WritePackets accepted; Rx what was delivered to this endpoint's
// Dispatcher. Drops are charged to the endpoint whose WritePackets took the
// packet.
type Stats struct {
	TxPackets, TxBytes uint64
	RxPackets, RxBytes uint64
	// TxSplit counts the packets of TxPackets written in two pieces
	// (WritePacketsSplit with a non-empty tail).
	TxSplit uint64
	// DropTooBig counts packets longer than the MTU.
	DropTooBig uint64
	// DropQueueFull counts packets that found the queue full.
	DropQueueFull uint64
	// DropClosed counts packets accepted but never delivered because an end
	// of the pipe was closed (queued at Close, or written after the peer
	// closed).
	DropClosed uint64
}

// Endpoint is one end of a pipe. It implements link.Endpoint.
type Endpoint struct {
	mtu int
	off link.Offloads
	out *direction // written here, delivered to the peer
	in  *direction // written by the peer, delivered here

	closeOnce sync.Once
	closed    atomic.Bool

	txPackets, txBytes atomic.Uint64
	txSplit            atomic.Uint64
	rxPackets, rxBytes atomic.Uint64
	dropTooBig         atomic.Uint64
	dropQueueFull      atomic.Uint64
	dropClosed         atomic.Uint64
}

var (
	_ link.Endpoint     = (*Endpoint)(nil)
	_ link.OwningWriter = (*Endpoint)(nil)
	_ link.SplitWriter  = (*Endpoint)(nil)
)

// New returns the two ends of a pipe carrying packets of up to mtu bytes,
// with the default queue bound. It panics if mtu is not positive.
func New(mtu int) (a, b *Endpoint) {
	return NewWithOptions(Options{MTU: mtu})
}

// NewWithOptions returns the two ends of a pipe configured by o. It panics
// if o.MTU is not positive or o.QueueLen is negative.
func NewWithOptions(o Options) (a, b *Endpoint) {
	if o.MTU <= 0 {
		panic("pipe: MTU must be positive")
	}
	if o.QueueLen < 0 {
		panic("pipe: negative QueueLen")
	}
	if o.QueueLen == 0 {
		o.QueueLen = DefaultQueueLen
	}
	pool := &sync.Pool{}
	mtu := o.MTU
	pool.New = func() any {
		b := make([]byte, 0, mtu)
		return &b
	}
	var off link.Offloads
	if o.ChecksumOffload {
		off = link.Offloads{TxChecksum: true, RxChecksumValid: true}
	}
	a = &Endpoint{mtu: mtu, off: off}
	b = &Endpoint{mtu: mtu, off: off}
	ab := newDirection(o.QueueLen, pool, a, b)
	ba := newDirection(o.QueueLen, pool, b, a)
	a.out, a.in = ab, ba
	b.out, b.in = ba, ab
	go ab.run()
	go ba.run()
	return a, b
}

// MTU returns the pipe's MTU.
func (e *Endpoint) MTU() int { return e.mtu }

// Offloads reports checksum offload if the pipe was made with
// Options.ChecksumOffload, and nothing else: packets are carried as written.
func (e *Endpoint) Offloads() link.Offloads { return e.off }

// Attach sets the Dispatcher that receives the packets the peer writes and
// starts delivery; packets the peer wrote earlier wait in the queue (subject
// to its bound) until then. Attach panics if called twice; after Close it
// does nothing.
func (e *Endpoint) Attach(d link.Dispatcher) {
	e.in.attach(d)
}

// WritePackets copies pkts into the queue towards the peer and returns
// len(pkts): a packet that is too big, that finds the queue full, or whose
// receiver has closed is taken and dropped, and counted in Stats. After
// Close it returns 0 and link.ErrClosed. It never blocks on the receiver.
func (e *Endpoint) WritePackets(pkts [][]byte) (int, error) {
	if e.closed.Load() {
		return 0, link.ErrClosed
	}
	return e.out.write(pkts, nil, nil)
}

// WritePacketsOwned implements link.OwningWriter: it is WritePackets
// without the copy. The packets queued keep referring to the caller's
// memory, and done.Release is called once the last of them was delivered
// (DeliverPackets returned) or dropped, or before it returns if none was
// queued.
func (e *Endpoint) WritePacketsOwned(pkts [][]byte, done link.Releaser) (int, error) {
	if done == nil {
		panic("pipe: WritePacketsOwned with a nil Releaser")
	}
	if e.closed.Load() {
		done.Release()
		return 0, link.ErrClosed
	}
	return e.out.write(pkts, nil, done)
}

// WritePacketsSplit implements link.SplitWriter: it is WritePacketsOwned
// for packets in two pieces, heads[i] then tails[i]. The pieces are queued
// as they are, delivered in two pieces to a link.SplitDispatcher and joined
// (copied into one buffer) for any other Dispatcher. A direction delivers
// in order and at most once, as the contract asks.
func (e *Endpoint) WritePacketsSplit(heads, tails [][]byte, done link.Releaser) (int, error) {
	if done == nil {
		panic("pipe: WritePacketsSplit with a nil Releaser")
	}
	if len(heads) != len(tails) {
		panic("pipe: WritePacketsSplit with len(heads) != len(tails)")
	}
	if e.closed.Load() {
		done.Release()
		return 0, link.ErrClosed
	}
	return e.out.write(heads, tails, done)
}

// Close closes this end and stops both directions' goroutines, waiting for
// them: once it returns, this end's Dispatcher is not called again and no
// goroutine of the pair is left. Packets this end wrote before Close are
// still delivered to the peer if it is attached and open; packets queued
// towards this end are dropped. The peer stays usable, but what it writes
// is dropped (DropClosed), like a frame sent down a cable nobody listens
// to. Close must not be called from inside either end's DeliverPackets.
// Close is idempotent and always returns nil.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		e.out.closeWriter()
		e.in.closeReader()
	})
	<-e.out.done
	<-e.in.done
	return nil
}

// Stats returns a snapshot of the endpoint's counters.
func (e *Endpoint) Stats() Stats {
	return Stats{
		TxPackets:     e.txPackets.Load(),
		TxBytes:       e.txBytes.Load(),
		TxSplit:       e.txSplit.Load(),
		RxPackets:     e.rxPackets.Load(),
		RxBytes:       e.rxBytes.Load(),
		DropTooBig:    e.dropTooBig.Load(),
		DropQueueFull: e.dropQueueFull.Load(),
		DropClosed:    e.dropClosed.Load(),
	}
}

// direction is one way of the pipe: the queue from writer to reader and the
// goroutine that empties it.
type direction struct {
	writer, reader *Endpoint
	limit          int
	pool           *sync.Pool

	mu           sync.Mutex
	queue        []item // guarded by mu
	writerClosed bool   // guarded by mu; the writer closed: flush, then stop
	readerClosed bool   // guarded by mu; the reader closed: drop, stop
	d            link.Dispatcher
	split        link.SplitDispatcher // d, if it takes packets in two pieces

	wake     chan struct{} // capacity 1: something was queued or closed
	attached chan struct{} // closed by attach
	done     chan struct{} // closed when run returns

	// Owned by run.
	batch []item
	views [][]byte
	tails [][]byte
}

// item is a queued packet: either a copy in a pooled buffer or, written by
// WritePacketsOwned or WritePacketsSplit, the writer's own memory, with the
// writer's Releaser on the last packet of that write. A packet written in
// two pieces has its payload in tail.
type item struct {
	pkt    []byte
	tail   []byte
	pooled *[]byte
	rel    link.Releaser
}

func newDirection(limit int, pool *sync.Pool, writer, reader *Endpoint) *direction {
	return &direction{
		writer:   writer,
		reader:   reader,
		limit:    limit,
		pool:     pool,
		queue:    make([]item, 0, limit),
		batch:    make([]item, 0, limit),
		views:    make([][]byte, 0, limit),
		tails:    make([][]byte, 0, limit),
		wake:     make(chan struct{}, 1),
		attached: make(chan struct{}),
		done:     make(chan struct{}),
	}
}

func (q *direction) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *direction) attach(d link.Dispatcher) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.readerClosed || q.writerClosed {
		return
	}
	if q.d != nil {
		panic("pipe: Attach called twice")
	}
	if d == nil {
		panic("pipe: Attach with a nil Dispatcher")
	}
	q.d = d
	q.split, _ = d.(link.SplitDispatcher)
	close(q.attached)
}

// write queues pkts: copies of them, or with rel non-nil the buffers
// themselves, rel going with the last one queued (or released here if none
// was). tails, when not nil, holds the second pieces of the packets (lent
// with rel).
func (q *direction) write(pkts, tails [][]byte, rel link.Releaser) (int, error) {
	w := q.writer
	var bytes, split uint64
	var tooBig, full, closed uint64
	q.mu.Lock()
	if q.writerClosed {
		q.mu.Unlock()
		if rel != nil {
			rel.Release()
		}
		return 0, link.ErrClosed
	}
	last := -1 // index in the queue of the last packet of rel's write
	for i, p := range pkts {
		var tail []byte
		if tails != nil {
			tail = tails[i]
		}
		switch {
		case len(p)+len(tail) > w.mtu:
			tooBig++
			continue
		case q.readerClosed:
			closed++
			continue
		case len(q.queue) >= q.limit:
			full++
			continue
		}
		if rel != nil {
			last = len(q.queue)
			q.queue = append(q.queue, item{pkt: p, tail: tail})
		} else {
			bp := q.pool.Get().(*[]byte)
			*bp = append((*bp)[:0], p...)
			q.queue = append(q.queue, item{pkt: *bp, pooled: bp})
		}
		bytes += uint64(len(p) + len(tail))
		if len(tail) > 0 {
			split++
		}
	}
	if last >= 0 {
		q.queue[last].rel = rel
		rel = nil
	}
	q.mu.Unlock()
	if rel != nil {
		rel.Release() // nothing of this write was queued
	}
	q.signal()
	n := uint64(len(pkts)) - tooBig - full - closed
	w.txPackets.Add(n)
	w.txBytes.Add(bytes)
	if split > 0 {
		w.txSplit.Add(split)
	}
	if tooBig > 0 {
		w.dropTooBig.Add(tooBig)
	}
	if full > 0 {
		w.dropQueueFull.Add(full)
	}
	if closed > 0 {
		w.dropClosed.Add(closed)
	}
	return len(pkts), nil
}

func (q *direction) closeWriter() {
	q.mu.Lock()
	q.writerClosed = true
	q.mu.Unlock()
	q.signal()
}

func (q *direction) closeReader() {
	q.mu.Lock()
	q.readerClosed = true
	q.mu.Unlock()
	q.signal()
}

// run delivers batches until one end closes. It waits for the reader to
// attach first; an end closing meanwhile ends it too.
func (q *direction) run() {
	defer close(q.done)
	if !q.waitAttach() {
		q.dropAll()
		return
	}
	d, split := q.d, q.split // set before attached was closed
	for {
		q.mu.Lock()
		q.batch, q.queue = q.queue, q.batch[:0]
		readerClosed, writerClosed := q.readerClosed, q.writerClosed
		q.mu.Unlock()
		if readerClosed {
			q.release(q.batch, true)
			q.dropAll()
			return
		}
		if len(q.batch) > 0 {
			q.deliver(d, split)
			// Let the goroutines this delivery woke (a reader given data, a
			// writer given room) run now, on this P, instead of waiting in
			// its run-next slot until this goroutine blocks: without it a
			// bulk transfer leaves a third of the second core idle
			// (BENCHMARKS.md).
			runtime.Gosched()
		}
		if writerClosed {
			// Everything written before the writer closed was in the batch
			// just delivered; WritePackets refuses more.
			q.dropAll()
			return
		}
		<-q.wake
	}
}

// waitAttach blocks until the reader attaches (true) or an end closes
// (false). Wake-ups for packets queued meanwhile are consumed; the packets
// stay queued, and run looks at the queue before it waits again.
func (q *direction) waitAttach() bool {
	for {
		select {
		case <-q.attached:
			return true
		case <-q.wake:
			q.mu.Lock()
			attached := q.d != nil
			stop := q.readerClosed || q.writerClosed
			q.mu.Unlock()
			if attached {
				return true
			}
			if stop {
				return false
			}
		}
	}
}

func (q *direction) deliver(d link.Dispatcher, split link.SplitDispatcher) {
	var bytes uint64
	views, tails := q.views[:0], q.tails[:0]
	hasTails := false
	for i := range q.batch {
		it := &q.batch[i]
		if len(it.tail) > 0 && split == nil {
			// A Dispatcher that takes whole packets only: join the pieces.
			bp := q.pool.Get().(*[]byte)
			*bp = append(append((*bp)[:0], it.pkt...), it.tail...)
			it.pkt, it.tail, it.pooled = *bp, nil, bp
		}
		hasTails = hasTails || len(it.tail) > 0
		views = append(views, it.pkt)
		tails = append(tails, it.tail)
		bytes += uint64(len(it.pkt) + len(it.tail))
	}
	q.reader.rxPackets.Add(uint64(len(views)))
	q.reader.rxBytes.Add(bytes)
	if hasTails {
		split.DeliverSplitPackets(views, tails)
	} else {
		d.DeliverPackets(views)
	}
	clear(views) // drop references to pooled buffers
	clear(tails) // and to the writer's memory
	q.views, q.tails = views[:0], tails[:0]
	q.release(q.batch, false)
}

// release returns pooled buffers to the pool and lent ones to their
// writer, counting the packets as dropped if asked.
func (q *direction) release(items []item, dropped bool) {
	if dropped && len(items) > 0 {
		q.writer.dropClosed.Add(uint64(len(items)))
	}
	for i, it := range items {
		if it.pooled != nil {
			q.pool.Put(it.pooled)
		}
		if it.rel != nil {
			it.rel.Release()
		}
		items[i] = item{}
	}
}

// dropAll drops what is queued; the direction is shut.
func (q *direction) dropAll() {
	q.mu.Lock()
	bufs := q.queue
	q.queue = nil
	q.readerClosed = true // later writes by the writer are dropped
	q.mu.Unlock()
	q.release(bufs, true)
}

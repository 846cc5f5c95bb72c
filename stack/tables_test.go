package stack

import (
	"github.com/synfin/synfin/link"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestShrinkAfterDelete(t *testing.T) {
	for _, tc := range []struct {
		name        string
		peak, after int // population peak, population after the deletion
		rebuilt     bool
		peakAfter   int
	}{
		{"small table never rebuilt", tableShrinkMin - 1, 0, false, tableShrinkMin - 1},
		{"above 1/8 of the peak", 8000, 1001, false, 8000},
		{"at 1/8 of the peak", 8000, 1000, true, 1000},
		{"emptied", 8000, 0, true, 0},
		{"peak learnt on deletion", 0, 5000, false, 5001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[int]int{}
			for i := range tc.after {
				m[i] = i
			}
			peak := tc.peak
			got := shrinkAfterDelete(m, &peak)
			m[-1] = -1 // tells the original map from a rebuilt one
			_, same := got[-1]
			if same == tc.rebuilt {
				t.Fatalf("rebuilt %v, want %v", !same, tc.rebuilt)
			}
			if peak != tc.peakAfter {
				t.Fatalf("peak %d, want %d", peak, tc.peakAfter)
			}
			for i := range tc.after {
				if got[i] != i {
					t.Fatalf("entry %d lost", i)
				}
			}
		})
	}
}

// TestTWTableMatchesMap drives the TIME_WAIT table and a Go map through the
// same random insertions and removals (a small key space, so that runs of
// occupied slots, wrap-around and backward shifts all happen) and compares
// them after every step.
func TestTWTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("fd00::2")
	key := func(i int) connKey {
		remote := a
		if i%3 == 0 {
			remote = b
		}
		return connKey{local: netip.AddrPortFrom(a, 80), remote: netip.AddrPortFrom(remote, uint16(i))}
	}
	tab := newTWTable()
	ref := map[connKey]*twEntry{}
	for step := range 200000 {
		// Phases that grow towards 3000 entries and shrink towards 0.
		grow := (step/20000)%2 == 0
		k := key(rng.IntN(3000))
		// Insert with probability 0.6 while growing, 0.4 while shrinking.
		if likely := rng.IntN(10) < 6; likely == grow {
			e := &twEntry{key: k}
			tab.put(e)
			ref[k] = e
		} else {
			e := ref[k]
			if e == nil {
				e = &twEntry{key: k} // not in the table: remove reports false
			}
			_, in := ref[k]
			if got := tab.remove(e); got != in {
				t.Fatalf("step %d: remove %v = %v, want %v", step, k, got, in)
			}
			delete(ref, k)
			// A different entry with the same key stays.
			if e2 := tab.get(k); e2 != nil {
				t.Fatalf("step %d: %v still there", step, k)
			}
		}
		if tab.Len() != len(ref) {
			t.Fatalf("step %d: Len %d, want %d", step, tab.Len(), len(ref))
		}
		if step%1000 == 0 {
			for i := range 3000 {
				k := key(i)
				if got, want := tab.get(k), ref[k]; got != want {
					t.Fatalf("step %d: get(%v) = %p, want %p", step, k, got, want)
				}
			}
			seen := 0
			for e := range tab.all() {
				if ref[e.key] != e {
					t.Fatalf("step %d: all() yields a stale entry %v", step, e.key)
				}
				seen++
			}
			if seen != len(ref) {
				t.Fatalf("step %d: all() yields %d entries, want %d", step, seen, len(ref))
			}
			if load := float64(tab.Len()) / float64(max(len(tab.slots), 1)); load > 0.75 {
				t.Fatalf("step %d: load %.2f", step, load)
			}
		}
	}
}

// TestTWTableGivesMemoryBack: the table's slots follow its population down
// (the soak in package reliability checks the heap).
func TestTWTableGivesMemoryBack(t *testing.T) {
	tab := newTWTable()
	var es []*twEntry
	for i := range 100000 {
		e := &twEntry{key: connKey{local: netip.MustParseAddrPort("10.0.0.1:80"),
			remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), uint16(i))}}
		es = append(es, e)
		tab.put(e)
	}
	if got := len(tab.slots); got > 4*len(es)/3*2 {
		t.Fatalf("%d slots for %d entries", got, len(es))
	}
	for _, e := range es[1000:] {
		if !tab.remove(e) {
			t.Fatalf("%v not found", e.key)
		}
	}
	if got := len(tab.slots); got > 16*1000 {
		t.Fatalf("%d slots left for 1000 entries", got)
	}
	for _, e := range es[:1000] {
		if tab.get(e.key) != e {
			t.Fatalf("%v lost", e.key)
		}
		tab.remove(e)
	}
	if len(tab.slots) != twTableMinSlots || tab.Len() != 0 {
		t.Fatalf("empty table holds %d slots (want %d), Len %d", len(tab.slots), twTableMinSlots, tab.Len())
	}
}

// TestAcceptQueueLeavesNoPointers: taking connections off an accept queue
// clears their slots in the backing array, which would otherwise keep them
// (TCB, buffers) alive until the array is reallocated.
func TestAcceptQueueLeavesNoPointers(t *testing.T) {
	c1, c2, c3, c4 := &conn{}, &conn{}, &conn{}, &conn{}
	backing := make([]*conn, 4)
	q := append(backing[:0], c1, c2, c3, c4)
	q = forgetAcceptQueueHead(q)    // c1 accepted
	q = deleteFromAcceptQueue(q, 1) // c3 gone (reset while queued)
	if len(q) != 2 || q[0] != c2 || q[1] != c4 {
		t.Fatalf("queue %v", q)
	}
	if backing[0] != nil || backing[3] != nil {
		t.Fatalf("backing array still holds %v", backing)
	}
	q = forgetAcceptQueueHead(q)
	q = forgetAcceptQueueHead(q)
	if len(q) != 0 {
		t.Fatalf("queue %v, want it empty", q)
	}
	for i, c := range backing {
		if c != nil {
			t.Fatalf("backing[%d] still set", i)
		}
	}
}

// TestTxBatchTrim: a transmit batch grown by a burst gives its packet
// lists back after txBatchTrimAfter uses in a row that needed little of
// them, and keeps them while large uses keep coming. Its memory chunks go
// back to the chunk pool after every use (TestTxBatchChunks).
func TestTxBatchTrim(t *testing.T) {
	fresh := func() *txBatch { return txPool.New().(*txBatch) }
	// use fills the batch with pkts packets of size bytes and returns it
	// to its empty state as putTxBatch does.
	use := func(b *txBatch, pkts, size int) {
		for range pkts {
			b.add(nil, b.alloc(size), nil)
		}
		b.tmp = append(b.tmp[:0], b.pkts[0].pkt)
		trimTxBatch(b)
		b.reset()
	}
	grown := func() *txBatch {
		b := fresh()
		use(b, 4*txBatchPkts, 300)
		return b
	}

	b := grown()
	bigPkts := cap(b.pkts)
	if bigPkts <= txBatchPkts {
		t.Fatalf("batch did not grow: %d packets", bigPkts)
	}
	for range txBatchTrimAfter - 1 {
		use(b, 10, 60)
	}
	if cap(b.pkts) != bigPkts {
		t.Fatalf("trimmed after %d small uses, want %d", txBatchTrimAfter-1, txBatchTrimAfter)
	}
	use(b, 10, 60)
	if cap(b.pkts) > txBatchPkts {
		t.Fatalf("after %d small uses: %d packets kept", txBatchTrimAfter, cap(b.pkts))
	}

	// A large use now and then (a bulk transfer's) keeps the batch grown.
	b = grown()
	for i := range 4 * txBatchTrimAfter {
		if i%txBatchTrimAfter == txBatchTrimAfter-1 {
			use(b, 2*txBatchPkts, 60)
		} else {
			use(b, 10, 60)
		}
	}
	if cap(b.pkts) <= txBatchPkts {
		t.Fatalf("a batch in regular large use was trimmed")
	}

	// A batch of the standard size is never touched.
	b = fresh()
	for range 2 * txBatchTrimAfter {
		use(b, 1, 60)
	}
	if b.underused != 0 || len(b.chunks) != 1 || cap(*b.chunks[0]) != txChunkSize {
		t.Fatalf("standard batch: underused %d, %d chunks", b.underused, len(b.chunks))
	}
}

// TestTxBatchChunks: packets carved from a batch never move when it grows
// (no copy of what it holds), a packet larger than a chunk gets a chunk of
// its own, and a reset batch keeps only its first chunk and hands it out
// again.
func TestTxBatchChunks(t *testing.T) {
	b := txPool.New().(*txBatch)
	first := b.alloc(1000)
	first[0] = 0xaa
	var pkts [][]byte
	for range 200 { // 200 * 1500 B: about five chunks
		p := b.alloc(1500)
		p[0] = byte(len(pkts))
		pkts = append(pkts, p)
	}
	big := b.alloc(3 * txChunkSize)
	if len(big) != 3*txChunkSize {
		t.Fatalf("big packet: %d bytes", len(big))
	}
	if first[0] != 0xaa || &first[0] != &(*b.chunks[0])[0] {
		t.Fatal("the first packet moved or was overwritten")
	}
	for i, p := range pkts {
		if p[0] != byte(i) || len(p) != 1500 || cap(p) != 1500 {
			t.Fatalf("packet %d: first byte %d, len %d, cap %d", i, p[0], len(p), cap(p))
		}
	}
	if n := b.used(); n != 1000+200*1500+3*txChunkSize {
		t.Fatalf("used %d", n)
	}
	b.reset()
	if len(b.chunks) != 1 {
		t.Fatalf("a reset batch keeps %d chunks, want 1", len(b.chunks))
	}
	if again := b.alloc(10); &again[0] != &first[0] {
		t.Fatal("a reset batch does not reuse its first chunk")
	}
}

// TestTxBatchRelease: a batch lent to links goes back to the pool only when
// the stack and every link have released it.
func TestTxBatchRelease(t *testing.T) {
	b := newTxBatch()
	b.add(nil, b.alloc(100), nil)
	b.refs.Add(2) // two links hold it
	b.Release()   // the stack is done
	b.Release()   // one link is done
	if got := b.refs.Load(); got != 1 || len(b.pkts) != 1 {
		t.Fatalf("after 3 of 4 references released: refs %d, %d packets", got, len(b.pkts))
	}
	b.Release() // back in the pool: only the atomic count may be read now
	if got := b.refs.Load(); got != 0 {
		t.Fatalf("after the last release: refs %d", got)
	}
}

// lendLink is a link.Endpoint and link.OwningWriter that records how it was
// written to, and releases loans at once.
type lendLink struct {
	rawLink
	copied, lent int
}

func (l *lendLink) WritePackets(pkts [][]byte) (int, error) {
	l.copied += len(pkts)
	return len(pkts), nil
}

func (l *lendLink) WritePacketsOwned(pkts [][]byte, done link.Releaser) (int, error) {
	l.lent += len(pkts)
	done.Release()
	return len(pkts), nil
}

// TestWriteBatchLendsOnlyFullBatches: a batch holding at least txLendMin
// bytes is lent to a link that can take it (no copy); a batch of a few
// small packets is written to be copied, so that it does not pin a whole
// chunk in the link's queue.
func TestWriteBatchLendsOnlyFullBatches(t *testing.T) {
	l := &lendLink{}
	nic := &NIC{ep: l, owner: l}
	s := &Stack{}
	small := newTxBatch()
	small.add(nic, small.alloc(60), nil)
	s.writeBatch(small)
	small.Release()
	big := newTxBatch()
	for range txLendMin/1500 + 1 {
		big.add(nic, big.alloc(1500), nil)
	}
	s.writeBatch(big)
	if got := big.refs.Load(); got != 1 {
		t.Fatalf("after the link released its loan: %d references, want the stack's 1", got)
	}
	big.Release()
	if l.copied != 1 || l.lent != txLendMin/1500+1 {
		t.Fatalf("copied %d packets, lent %d; want the small batch copied and the big one lent", l.copied, l.lent)
	}
}

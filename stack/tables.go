package stack

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Table housekeeping. Go maps never give memory back: a map that once held
// a million connections keeps its buckets after they are all deleted. A
// server that rode out a flood of connections (or of SYNs, fragments or
// TIME_WAIT entries) would hold that memory for ever. So each big table
// remembers its peak population since it was last built, and when the
// population falls to 1/tableShrinkRatio of that peak it is rebuilt at its
// present size.
//
// Cost: a rebuild copies len(m) <= peak/tableShrinkRatio entries, and at
// least peak*(1-1/tableShrinkRatio) deletions happened since the table was
// last built, so a rebuild costs O(1) per deletion, amortised. Tables that
// never held more than tableShrinkMin entries are never rebuilt: their
// memory is small, and a table that oscillates around a small size is not
// rebuilt over and over.

const (
	tableShrinkMin   = 1024
	tableShrinkRatio = 8
)

// shrinkAfterDelete is called right after an entry was deleted from m;
// peak is the population peak remembered for m. It returns m, or a fresh
// map holding the same entries when the population has fallen to
// 1/tableShrinkRatio of the peak.
func shrinkAfterDelete[K comparable, V any](m map[K]V, peak *int) map[K]V {
	n := len(m)
	// Before the deletion the table held n+1 entries. Every insertion is
	// followed (eventually) by a deletion, so tracking the peak here, on
	// the deletion path only, sees the true peak without touching the
	// many insertion sites.
	*peak = max(*peak, n+1)
	if *peak < tableShrinkMin || n > *peak/tableShrinkRatio {
		return m
	}
	fresh := make(map[K]V, n)
	for k, v := range m {
		fresh[k] = v
	}
	*peak = n
	return fresh
}

// tablePeaks are the population peaks of the stack's big tables (see
// shrinkAfterDelete).
type tablePeaks struct {
	conns, ports int
}

// forgetAcceptQueueHead removes the first connection of an accept queue
// without leaving its pointer in the backing array (where it would keep
// the connection, its TCB and its buffers alive until the array is
// reallocated). The array itself, at most the backlog's worth of
// pointers, is reused by later appends.
func forgetAcceptQueueHead(q []*conn) []*conn {
	q[0] = nil
	return q[1:]
}

// deleteFromAcceptQueue removes q[i], clearing the slot it frees at the end
// of the backing array (same reason as forgetAcceptQueueHead).
func deleteFromAcceptQueue(q []*conn, i int) []*conn {
	return slices.Delete(q, i, i+1)
}

// twTable is the set of TIME_WAIT entries keyed by their 4-tuple. A Go map
// would store a copy of the 64-byte key beside each pointer, 80 to 150
// bytes per entry depending on its load; this open-addressing table (linear
// probing, deletion by backward shift, so no tombstones) stores a pointer
// and a one-byte tag per slot, at a load between 3/8 and 3/4 while it
// grows: 12 to 24 bytes per entry. That keeps a TIME_WAIT entry, table
// included, within 256 bytes. It shrinks (to a load of 1/4) when the load
// falls to 1/16.
//
// The tag is 7 bits of the hash with the top bit set (0 marks an empty
// slot): a probe reads the entry, a cache miss, only when its tag matches,
// as a Go map does with its control bytes. Lookups of absent keys, the
// common case (every SYN and every ephemeral port tried), touch only the
// tags.
//
// The hash is keyed by two random words per stack (wyhash's multiply-mix),
// so a peer cannot choose 4-tuples that pile up in one run of slots.
type twTable struct {
	slots  []*twEntry // a power of two long (>= twTableMinSlots), or nil
	tags   []uint8    // as long as slots
	n      int
	k0, k1 uint64
}

const twTableMinSlots = 64

func newTWTable() twTable { return twTable{k0: rand.Uint64(), k1: rand.Uint64()} }

func twMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (t *twTable) hash(k connKey) uint64 {
	l, r := k.local.Addr().As16(), k.remote.Addr().As16()
	le := binary.LittleEndian
	h := twMix(le.Uint64(l[:8])^t.k0, le.Uint64(l[8:])^0x9e3779b97f4a7c15)
	h ^= twMix(le.Uint64(r[:8])^t.k1, le.Uint64(r[8:])^0xe7037ed1a0b428db)
	ports := uint64(k.local.Port())<<16 | uint64(k.remote.Port())
	return twMix(h^t.k0, ports^t.k1^0x8ebc6af09c88c6e3)
}

// twTag is the tag of hash h: its top 7 bits, and a set bit for "occupied".
func twTag(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// Len returns the number of entries.
func (t *twTable) Len() int { return t.n }

// get returns the entry for k, or nil.
func (t *twTable) get(k connKey) *twEntry {
	if t.n == 0 {
		return nil
	}
	h := t.hash(k)
	tag, mask := twTag(h), uint64(len(t.slots)-1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.tags[i] {
		case 0:
			return nil
		case tag:
			if e := t.slots[i]; e.key == k {
				return e
			}
		}
	}
}

// put adds e, replacing an entry with the same key.
func (t *twTable) put(e *twEntry) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(twTableMinSlots, 2*len(t.slots)))
	}
	h := t.hash(e.key)
	tag, mask := twTag(h), uint64(len(t.slots)-1)
	i := h & mask
	for ; t.tags[i] != 0; i = (i + 1) & mask {
		if t.tags[i] == tag && t.slots[i].key == e.key {
			t.slots[i] = e
			return
		}
	}
	t.slots[i], t.tags[i] = e, tag
	t.n++
}

// remove takes e out of the table and reports whether it was there (an
// entry with e's key that is not e stays).
func (t *twTable) remove(e *twEntry) bool {
	if t.n == 0 {
		return false
	}
	mask := uint64(len(t.slots) - 1)
	i := t.hash(e.key) & mask
	for t.slots[i] != e {
		if t.tags[i] == 0 {
			return false
		}
		i = (i + 1) & mask
	}
	// Backward shift: move up each later entry of the run that may not
	// stay after the hole (its home slot is not cyclically in (hole, j]).
	hole := i
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		home := t.hash(t.slots[j].key) & mask
		if (j-home)&mask >= (j-hole)&mask {
			t.slots[hole], t.tags[hole] = t.slots[j], t.tags[j]
			hole = j
		}
	}
	t.slots[hole], t.tags[hole] = nil, 0
	t.n--
	// Give memory back once the population fell to 1/16 of the slots
	// (rebuilding costs O(1) per deletion, amortised, as for the maps).
	if len(t.slots) > twTableMinSlots && t.n*16 <= len(t.slots) {
		t.resize(max(twTableMinSlots, 4*t.n))
	}
	return true
}

// resize rehashes every entry into size slots (a power of two).
func (t *twTable) resize(size int) {
	size = 1 << bits.Len(uint(size-1))
	old := t.slots
	t.slots, t.tags = make([]*twEntry, size), make([]uint8, size)
	mask := uint64(size - 1)
	for _, e := range old {
		if e == nil {
			continue
		}
		h := t.hash(e.key)
		i := h & mask
		for t.tags[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i], t.tags[i] = e, twTag(h)
	}
}

// all yields every entry, in no particular order. The table must not be
// changed during the loop.
func (t *twTable) all() iter.Seq[*twEntry] {
	return func(yield func(*twEntry) bool) {
		for _, e := range t.slots {
			if e != nil && !yield(e) {
				return
			}
		}
	}
}

// reset empties the table.
func (t *twTable) reset() { t.slots, t.tags, t.n = nil, nil, 0 }

// Transmit batches (ip.go) grow to hold a burst (10k handshakes answered
// in one pass hold megabytes). Their chunks beyond the first go back to a
// shared pool after each use; their packet lists are reused from a pool of
// batches. A batch that goes back to the pool after txBatchTrimAfter uses
// in a row that each needed at most an eighth of its grown lists gives
// them back: otherwise the batch each stack holds between calls (and the
// pool's, while the stack stays busy) would keep a past burst's size for
// ever. A batch used for large bursts now and then keeps its size.
const (
	txChunkSize      = 64 << 10        // the size of a batch's memory chunks
	txLendMin        = txChunkSize / 2 // the smallest batch lent to a link (writeBatch)
	txBatchPkts      = 1024
	txBatchTrimAfter = 16
)

// trimTxBatch is called when a transmit batch goes back to the pool, with
// the lengths of its last use still set.
func trimTxBatch(b *txBatch) {
	if cap(b.pkts) <= txBatchPkts && cap(b.tmp) <= txBatchPkts {
		b.underused = 0
		return
	}
	if len(b.pkts) > cap(b.pkts)/8 {
		b.underused = 0
		return
	}
	if b.underused++; b.underused < txBatchTrimAfter {
		return
	}
	b.underused = 0
	if cap(b.pkts) > txBatchPkts {
		b.pkts = nil
	}
	if cap(b.tmp) > txBatchPkts {
		b.tmp = nil
	}
}

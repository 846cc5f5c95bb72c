package pipe

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/synfin/synfin/link"
)

// splitRecorder is a link.SplitDispatcher that keeps copies of what it is
// given, noting which call delivered it.
type splitRecorder struct {
	mu           sync.Mutex
	heads, tails [][]byte
	whole        [][]byte // delivered by DeliverPackets
	sameMemory   []bool   // tail[i] was the writer's own memory
	writerTails  [][]byte
}

func (r *splitRecorder) DeliverPackets(pkts [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range pkts {
		r.whole = append(r.whole, bytes.Clone(p))
	}
}

func (r *splitRecorder) DeliverSplitPackets(heads, tails [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range heads {
		r.heads = append(r.heads, bytes.Clone(heads[i]))
		r.tails = append(r.tails, bytes.Clone(tails[i]))
		same := false
		for _, w := range r.writerTails {
			if len(w) > 0 && len(tails[i]) > 0 && &w[0] == &tails[i][0] {
				same = true
			}
		}
		r.sameMemory = append(r.sameMemory, same)
	}
}

// TestWritePacketsSplit: packets written in two pieces reach a
// SplitDispatcher in the same two pieces, the tails being the writer's own
// memory (not copied), in order, with empty tails kept empty; the loan of
// the heads ends with one Release; the counters count the packets whole.
func TestWritePacketsSplit(t *testing.T) {
	a, b := New(1500)
	rec := &splitRecorder{}
	heads := [][]byte{numbered(1, 40), numbered(2, 52), numbered(3, 40)}
	tails := [][]byte{numbered(11, 1000), nil, numbered(13, 1448)}
	rec.writerTails = tails
	b.Attach(rec)
	relOne := &countRelease{}
	if n, err := a.WritePacketsSplit(heads, tails, relOne); n != 3 || err != nil {
		t.Fatalf("WritePacketsSplit = %d, %v", n, err)
	}
	a.Close()
	b.Close()
	if got := relOne.n.Load(); got != 1 {
		t.Fatalf("Release called %d times, want 1", got)
	}
	if len(rec.whole) != 0 || len(rec.heads) != 3 {
		t.Fatalf("delivered %d whole and %d split packets, want 0 and 3", len(rec.whole), len(rec.heads))
	}
	for i := range heads {
		if !bytes.Equal(rec.heads[i], heads[i]) || !bytes.Equal(rec.tails[i], tails[i]) {
			t.Fatalf("packet %d changed on the way", i)
		}
		if len(tails[i]) > 0 && !rec.sameMemory[i] {
			t.Fatalf("packet %d: the tail was copied", i)
		}
	}
	st := a.Stats()
	if st.TxPackets != 3 || st.TxSplit != 2 || st.TxBytes != 40+1000+52+40+1448 {
		t.Fatalf("writer stats %+v", st)
	}
	if b.Stats().RxBytes != st.TxBytes {
		t.Fatalf("reader counted %d bytes, writer %d", b.Stats().RxBytes, st.TxBytes)
	}
}

// TestWritePacketsSplitJoinsForPlainDispatcher: a Dispatcher without
// DeliverSplitPackets gets each packet whole, head then tail.
func TestWritePacketsSplitJoinsForPlainDispatcher(t *testing.T) {
	a, b := New(1500)
	var mu sync.Mutex
	var got [][]byte
	b.Attach(dispatchFunc(func(pkts [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pkts {
			got = append(got, bytes.Clone(p))
		}
	}))
	h, tl := numbered(1, 40), numbered(2, 500)
	a.WritePacketsSplit([][]byte{h, numbered(3, 60)}, [][]byte{tl, nil}, &countRelease{})
	a.Close()
	b.Close()
	want := [][]byte{append(bytes.Clone(h), tl...), numbered(3, 60)}
	if len(got) != 2 || !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
		t.Fatalf("got %d packets, want the two joined as written", len(got))
	}
}

// TestWritePacketsSplitBadUse: the MTU applies to the whole packet; the
// loan ends once whatever the outcome; after Close the write fails with
// link.ErrClosed; a nil Releaser or unmatched slices are programming
// errors and panic, like WritePacketsOwned's nil Releaser.
func TestWritePacketsSplitBadUse(t *testing.T) {
	a, b := New(100)
	rel := &countRelease{}
	if n, err := a.WritePacketsSplit([][]byte{numbered(1, 40)}, [][]byte{numbered(2, 61)}, rel); n != 1 || err != nil {
		t.Fatalf("WritePacketsSplit = %d, %v", n, err)
	}
	if rel.n.Load() != 1 || a.Stats().DropTooBig != 1 {
		t.Fatalf("101-byte packet on a 100-byte link: %d releases, %d too big; want 1, 1", rel.n.Load(), a.Stats().DropTooBig)
	}
	for name, f := range map[string]func(){
		"nil releaser": func() { a.WritePacketsSplit([][]byte{numbered(1, 4)}, [][]byte{nil}, nil) },
		"unmatched":    func() { a.WritePacketsSplit([][]byte{numbered(1, 4)}, nil, &countRelease{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	a.Close()
	b.Close()
	rel = &countRelease{}
	if n, err := a.WritePacketsSplit([][]byte{numbered(1, 4)}, [][]byte{nil}, rel); n != 0 || !errors.Is(err, link.ErrClosed) || rel.n.Load() != 1 {
		t.Fatalf("after Close: %d, %v, %d releases", n, err, rel.n.Load())
	}
}

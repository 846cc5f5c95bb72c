package pipe

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/synfin/synfin/link"
)

// countRelease counts Release calls.
type countRelease struct{ n atomic.Int32 }

func (c *countRelease) Release() { c.n.Add(1) }

// TestWritePacketsOwnedDeliversWithoutCopy: lent packets reach the peer as
// the very memory the writer lent, and the loan ends (one Release) only
// once they have been delivered.
func TestWritePacketsOwnedDeliversWithoutCopy(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	p1, p2 := numbered(1, 100), numbered(2, 200)
	rel := &countRelease{}
	seen := make(chan bool, 2)
	b.Attach(dispatchFunc(func(pkts [][]byte) {
		for _, p := range pkts {
			seen <- &p[0] == &p1[0] || &p[0] == &p2[0]
		}
		if rel.n.Load() != 0 {
			t.Error("released before DeliverPackets returned")
		}
	}))
	if n, err := a.WritePacketsOwned([][]byte{p1, p2}, rel); n != 2 || err != nil {
		t.Fatalf("WritePacketsOwned = %d, %v", n, err)
	}
	for range 2 {
		if !<-seen {
			t.Fatal("a lent packet was copied")
		}
	}
	a.Close() // waits for the delivery goroutine: the release has happened
	if got := rel.n.Load(); got != 1 {
		t.Fatalf("Release called %d times, want 1", got)
	}
}

// TestWritePacketsOwnedReleasesOnEveryPath: the loan ends exactly once
// whatever happens to the packets: all dropped (too big, queue full), the
// writer closed, the reader closed with the packets queued.
func TestWritePacketsOwnedReleasesOnEveryPath(t *testing.T) {
	t.Run("too big", func(t *testing.T) {
		a, b := New(100)
		defer b.Close()
		rel := &countRelease{}
		if n, err := a.WritePacketsOwned([][]byte{numbered(1, 200)}, rel); n != 1 || err != nil {
			t.Fatalf("WritePacketsOwned = %d, %v", n, err)
		}
		if got := rel.n.Load(); got != 1 {
			t.Fatalf("nothing queued: Release called %d times before return, want 1", got)
		}
		if a.Stats().DropTooBig != 1 {
			t.Fatal("not counted as too big")
		}
		a.Close()
	})
	t.Run("queue full", func(t *testing.T) {
		a, b := NewWithOptions(Options{MTU: 1500, QueueLen: 1})
		rel1, rel2 := &countRelease{}, &countRelease{}
		a.WritePacketsOwned([][]byte{numbered(1, 20), numbered(2, 20)}, rel1) // one queued, one dropped
		a.WritePacketsOwned([][]byte{numbered(3, 20)}, rel2)                  // dropped
		if rel1.n.Load() != 0 || rel2.n.Load() != 1 {
			t.Fatalf("releases %d, %d; want 0 (one packet queued) and 1 (none queued)", rel1.n.Load(), rel2.n.Load())
		}
		b.Close() // drops the queued packet
		if got := rel1.n.Load(); got != 1 {
			t.Fatalf("queued packet dropped at Close: Release called %d times, want 1", got)
		}
		a.Close()
	})
	t.Run("writer closed", func(t *testing.T) {
		a, b := New(1500)
		a.Close()
		rel := &countRelease{}
		if n, err := a.WritePacketsOwned([][]byte{numbered(1, 20)}, rel); n != 0 || !errors.Is(err, link.ErrClosed) {
			t.Fatalf("after Close: %d, %v", n, err)
		}
		if got := rel.n.Load(); got != 1 {
			t.Fatalf("Release called %d times, want 1", got)
		}
		b.Close()
	})
}

// TestChecksumOffloadOption: a pipe made with ChecksumOffload says so at
// both ends, like Linux's lo; by default it offloads nothing.
func TestChecksumOffloadOption(t *testing.T) {
	a, b := NewWithOptions(Options{MTU: 1500, ChecksumOffload: true})
	want := link.Offloads{TxChecksum: true, RxChecksumValid: true}
	if a.Offloads() != want || b.Offloads() != want {
		t.Fatalf("offloads %+v, %+v; want %+v", a.Offloads(), b.Offloads(), want)
	}
	a.Close()
	b.Close()
	c, d := New(1500)
	if c.Offloads() != (link.Offloads{}) {
		t.Fatalf("default pipe offloads %+v", c.Offloads())
	}
	c.Close()
	d.Close()
}

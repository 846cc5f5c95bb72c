package pcap

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/wire"
)

type dispatchFunc func([][]byte)

func (f dispatchFunc) DeliverPackets(p [][]byte) { f(p) }

// A Tap records what the stack writes (Out) and what the link delivers
// (In), in causal order, with the Writer's clock, and passes both through
// unchanged.
func TestTap(t *testing.T) {
	a, b := pipe.New(1500)
	var buf bytes.Buffer
	var clockMu sync.Mutex
	var now time.Duration
	w, err := NewWriter(&buf, WriterOptions{Clock: func() time.Duration {
		clockMu.Lock()
		defer clockMu.Unlock()
		now += time.Millisecond
		return now
	}})
	if err != nil {
		t.Fatal(err)
	}
	tap := NewTap(a, w)
	var _ link.Endpoint = tap
	if tap.MTU() != 1500 || tap.Offloads() != a.Offloads() {
		t.Error("Tap does not report the inner endpoint's MTU and offloads")
	}
	got := make(chan [][]byte, 10)
	tap.Attach(dispatchFunc(func(p [][]byte) {
		c := make([][]byte, len(p))
		for i := range p {
			c[i] = bytes.Clone(p[i])
		}
		got <- c
	}))
	// b answers every packet with its reply.
	syn := tcpPacket(t, "10.99.0.1", "10.99.0.2", wire.FlagSYN, 1, nil)
	synack := tcpPacket(t, "10.99.0.2", "10.99.0.1", wire.FlagSYN|wire.FlagACK, 9, nil)
	b.Attach(dispatchFunc(func(p [][]byte) { b.WritePackets([][]byte{synack}) }))

	if n, err := tap.WritePackets([][]byte{syn}); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	if p := <-got; len(p) != 1 || !bytes.Equal(p[0], synack) {
		t.Fatalf("delivered %x, want the SYN-ACK", p)
	}
	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, pkts := readAll(t, buf.Bytes())
	if len(pkts) != 2 {
		t.Fatalf("captured %d packets, want 2", len(pkts))
	}
	want := []struct {
		dir  Direction
		data []byte
		ts   time.Duration
	}{{Out, syn, time.Millisecond}, {In, synack, 2 * time.Millisecond}}
	for i, c := range want {
		p := pkts[i]
		if p.Direction != c.dir || !bytes.Equal(p.Data, c.data) || p.Comment != "" || !p.Timestamp.Equal(time.Unix(0, 0).Add(c.ts)) {
			t.Errorf("packet %d: %v %v %x, want %v %v %x", i, p.Direction, p.Timestamp, p.Data, c.dir, c.ts, c.data)
		}
	}
}

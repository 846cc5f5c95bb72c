package tcp

import (
	"bytes"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestDirectRead_FillsLentBufferThenReceiveBuffer: in-order data that
// arrives while a reader's buffer is lent goes straight into it, in order;
// what does not fit is queued in the receive buffer behind it, and the
// window B offers never shrinks for the bytes delivered directly.
func TestDirectRead_FillsLentBufferThenReceiveBuffer(t *testing.T) {
	p := newPair(t, nil, nil)
	p.connect()
	winBefore := p.b.rcvWindowToAdvertise()
	lent := make([]byte, 3000)
	if !p.b.LendRead(lent) {
		t.Fatal("LendRead refused an empty connection's reader")
	}
	msg := bytes.Repeat([]byte("0123456789abcdef"), 5000/16+1)[:5000]
	if n, err := p.a.Write(p.now, msg); n != len(msg) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	p.run(time.Second)
	if got := p.b.Readable(); got != 2000 {
		t.Fatalf("receive buffer holds %d bytes, want the 2000 that did not fit", got)
	}
	n := p.b.ReturnRead()
	if n != 3000 || !bytes.Equal(lent[:n], msg[:3000]) {
		t.Fatalf("lent buffer got %d bytes (%q...), want the first 3000", n, lent[:min(n, 20)])
	}
	if rest := readAll(p.b, p.now); !bytes.Equal(rest, msg[3000:]) {
		t.Fatalf("the receive buffer's bytes are not the stream's continuation")
	}
	if p.a.sndUna != p.a.sndNxt {
		t.Fatalf("data unacknowledged: SND.UNA %d SND.NXT %d\n%s", p.a.sndUna, p.a.sndNxt, p.trace())
	}
	if got := p.b.rcvWindowToAdvertise(); got < winBefore {
		t.Fatalf("window %d after reading everything, %d before", got, winBefore)
	}
	if p.b.ReturnRead() != 0 || p.b.lent != nil {
		t.Fatal("a returned loan is still held")
	}
}

// TestDirectRead_NotWhenItWouldReorder: nothing is placed directly when
// data is already waiting (LendRead refuses) or out-of-order data is held
// (a segment that fills a hole must go through the receive buffer, so
// that the bytes after the hole follow it).
func TestDirectRead_NotWhenItWouldReorder(t *testing.T) {
	b := establishedReceiver(t)
	// Out of order first: bytes 1011..1020.
	b.Input(0, seg(wire.FlagACK, 1011, 5001, 65535, "klmnopqrst"))
	lent := make([]byte, 100)
	if !b.LendRead(lent) {
		t.Fatal("LendRead refused with nothing readable")
	}
	b.Input(0, seg(wire.FlagACK, 1001, 5001, 65535, "abcdefghij")) // fills the hole
	if n := b.ReturnRead(); n != 0 {
		t.Fatalf("%d bytes placed directly while out-of-order data was held", n)
	}
	if got := readAll(b, 0); string(got) != "abcdefghijklmnopqrst" {
		t.Fatalf("read %q", got)
	}
	b.Input(0, seg(wire.FlagACK, 1021, 5001, 65535, "uvw"))
	if b.LendRead(lent) {
		t.Fatal("LendRead accepted a buffer while data was waiting")
	}
	if b.LendRead(nil) {
		t.Fatal("LendRead accepted an empty buffer")
	}
}

// TestDirectRead_NotAfterShutdownOrFIN: a read side shut down discards
// data, and a FIN ends the stream: neither places bytes in a lent buffer.
func TestDirectRead_NotAfterShutdownOrFIN(t *testing.T) {
	p := newPair(t, nil, nil)
	p.connect()
	p.b.Shutdown(p.now, ShutRead)
	lent := make([]byte, 100)
	p.b.LendRead(lent)
	p.a.Write(p.now, []byte("hello"))
	p.run(time.Second)
	if n := p.b.ReturnRead(); n != 0 {
		t.Fatalf("%d bytes placed after SHUT_RD", n)
	}
}

// TestDirectRead_FINAfterDirectData: data then FIN in one exchange: the
// data goes to the lent buffer and the FIN is seen after it (EOF once the
// loan is returned).
func TestDirectRead_FINAfterDirectData(t *testing.T) {
	p := newPair(t, nil, nil)
	p.connect()
	lent := make([]byte, 100)
	p.b.LendRead(lent)
	p.a.Write(p.now, []byte("hello"))
	p.a.Close(p.now)
	p.run(time.Second)
	if n := p.b.ReturnRead(); string(lent[:n]) != "hello" {
		t.Fatalf("lent buffer holds %q", lent[:n])
	}
	if n, err := p.b.Read(p.now, lent); n != 0 || err == nil {
		t.Fatalf("after the FIN: Read %d, %v; want EOF", n, err)
	}
}

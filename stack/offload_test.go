package stack

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/wire"
)

// checksumRecorder is a Capture that notes the TCP checksum field of every
// packet the stack sends.
type checksumRecorder struct {
	mu           sync.Mutex
	zero, filled int // checksum fields zero (unfilled) or not
	bad          int // checksums that do not verify
}

func (r *checksumRecorder) CapturePacket(_ time.Duration, out bool, pkt []byte, _ string) {
	if !out || len(pkt) < 40 || pkt[0]>>4 != 4 {
		return
	}
	ip := wire.IPv4(pkt)
	h := ip.Header()
	th := wire.TCP(pkt[20:])
	r.mu.Lock()
	defer r.mu.Unlock()
	if pkt[20+16] == 0 && pkt[20+17] == 0 {
		r.zero++
	} else {
		r.filled++
	}
	if !th.VerifyChecksum(h.Src, h.Dst) {
		r.bad++
	}
}

// TestChecksumOffloadPipe: over a pipe with checksum offload (link.Offloads
// TxChecksum and RxChecksumValid, like Linux's lo) the stack leaves TCP
// checksums unfilled and accepts packets without verifying them, and data
// still crosses intact; over a plain pipe every checksum is filled and right.
func TestChecksumOffloadPipe(t *testing.T) {
	for _, offload := range []bool{false, true} {
		ea, eb := pipe.NewWithOptions(pipe.Options{MTU: 1500, ChecksumOffload: offload})
		rec := &checksumRecorder{}
		a, err := New(Options{Capture: rec})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		a.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"))
		b.AddInterface("p0", eb, netip.MustParsePrefix("10.0.0.2/24"))
		ln, err := b.Listen("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte("offload"), 100000)
		done := make(chan []byte)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- nil
				return
			}
			got, _ := io.ReadAll(c)
			c.Close()
			done <- got
		}()
		c, err := a.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		c.Write(msg)
		c.Close()
		got := <-done
		a.Close()
		b.Close()
		if sha256.Sum256(got) != sha256.Sum256(msg) {
			t.Fatalf("offload %v: received %d bytes, want %d intact", offload, len(got), len(msg))
		}
		rec.mu.Lock()
		zero, filled, bad := rec.zero, rec.filled, rec.bad
		rec.mu.Unlock()
		switch {
		case offload && (filled != 0 || zero == 0):
			t.Errorf("offload: %d checksums filled, %d left zero; want none filled", filled, zero)
		case !offload && (bad != 0 || filled == 0):
			// (A right checksum may be 0 by chance, so zero fields are not
			// counted against it.)
			t.Errorf("no offload: %d checksums wrong, %d filled; want all right", bad, filled)
		}
	}
}

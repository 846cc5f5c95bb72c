package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/synfin/synfin/wire"
)

// establishedReceiver returns an endpoint in ESTABLISHED, opened passively,
// that has received nothing yet: RCV.NXT 1001, SND.NXT 5001.
func establishedReceiver(t *testing.T) endpoint {
	t.Helper()
	b := newEndpoint(t, nil)
	b.Listen(0, OpenOptions{ISN: 5000, MSS: 1460})
	b.Input(0, seg(wire.FlagSYN, 1000, 0, 65535, ""))
	b.Input(0, seg(wire.FlagACK, 1001, 5001, 65535, ""))
	if b.State() != Established {
		t.Fatalf("state %v", b.State())
	}
	return b
}

// TestRxStage_ChecksumAndCopyInOnePass (RFC 9293 3.1 checksum, 3.10.7.4
// seventh check): a staged in-order payload is summed as wire.Checksum
// sums it, and Input then delivers exactly those bytes without copying
// them again; the segments after it are staged and delivered in turn.
func TestRxStage_ChecksumAndCopyInOnePass(t *testing.T) {
	b := establishedReceiver(t)
	stream := testStream(0, 8000)
	seq := uint32(1001)
	for off := 0; off < len(stream); off += 1000 {
		p := stream[off : off+1000]
		s := seg(wire.FlagACK, seq, 5001, 65535, "")
		s.Payload = p
		got, ok := b.StagePayload(seq, p, 0x1234)
		if !ok {
			t.Fatalf("offset %d: in-order payload not staged", off)
		}
		if want := wire.Checksum(p, 0x1234); wire.FoldChecksum(got) != wire.FoldChecksum(want) {
			t.Fatalf("offset %d: staged sum %#x, wire.Checksum %#x", off, got, want)
		}
		b.Input(0, s)
		if b.stagedFor != nil {
			t.Fatal("staging outlived Input")
		}
		seq += 1000
	}
	if got := readAll(b, 0); !bytes.Equal(got, stream) {
		t.Fatalf("read %d bytes, not the stream", len(got))
	}
	if b.rcvNxt != seq {
		t.Fatalf("RCV.NXT %d, want %d", b.rcvNxt, seq)
	}
}

// TestRxStage_BadChecksumLeavesNoTrace: a staged payload whose checksum
// fails is unstaged and never input; the right segment that follows is
// accepted with its own bytes, not the bad copy's.
func TestRxStage_BadChecksumLeavesNoTrace(t *testing.T) {
	b := establishedReceiver(t)
	bad := bytes.Repeat([]byte{0xee}, 1000)
	if _, ok := b.StagePayload(1001, bad, 0); !ok {
		t.Fatal("not staged")
	}
	b.Unstage()
	if b.Readable() != 0 || b.rcvNxt != 1001 {
		t.Fatalf("a rejected payload was accepted: readable %d, RCV.NXT %d", b.Readable(), b.rcvNxt)
	}
	good := testStream(0, 1000)
	s := seg(wire.FlagACK, 1001, 5001, 65535, "")
	s.Payload = good
	b.Input(0, s) // not staged: copied by Input
	if got := readAll(b, 0); !bytes.Equal(got, good) {
		t.Fatalf("read %q..., want the good segment", got[:min(8, len(got))])
	}
}

// TestRxStage_DeclinedUnlessAppendedAtRcvNxt: staging is refused, with
// nothing copied, for data not at RCV.NXT, while out-of-order data is held,
// and after the read side is shut; the
// staged mark is tied to the payload's memory, so another segment with the
// same sequence number is copied normally.
func TestRxStage_DeclinedUnlessAppendedAtRcvNxt(t *testing.T) {
	b := establishedReceiver(t)
	p := testStream(0, 1000)
	if _, ok := b.StagePayload(2001, p, 0); ok {
		t.Error("out-of-order payload staged")
	}
	b.Input(0, seg(wire.FlagACK, 2001, 5001, 65535, "out of order"))
	if _, ok := b.StagePayload(1001, p, 0); ok {
		t.Error("staged while out-of-order data is held")
	}

	b = establishedReceiver(t)
	if _, ok := b.StagePayload(1001, p, 0); !ok {
		t.Fatal("not staged")
	}
	other := bytes.Clone(p)
	other[0] ^= 0xff // same sequence number, different memory and bytes
	s := seg(wire.FlagACK, 1001, 5001, 65535, "")
	s.Payload = other
	b.Input(0, s)
	if got := readAll(b, 0); !bytes.Equal(got, other) {
		t.Fatal("a segment was taken for the staged one because of its sequence number")
	}

	b = establishedReceiver(t)
	b.Shutdown(0, ShutRead)
	if _, ok := b.StagePayload(1001, p, 0); ok {
		t.Error("staged after SHUT_RD")
	}
}

// TestRxStage_RingWrap: staging across the end of the ring sums and places
// the two pieces correctly, and declines an odd split (16-bit words cannot
// be chained across it); either way the bytes delivered are the stream's.
func TestRxStage_RingWrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	staged, declined := 0, 0
	for trial := 0; trial < 300; trial++ {
		var rb recvBuffer
		rb.setLimit(4096)
		// Move the ring's head to a random place.
		lead := rng.IntN(4096)
		rb.write(0, testStream(0, lead))
		rb.read(make([]byte, lead))
		rb.head = int32(lead % max(len(rb.buf), 1))
		n := 1 + rng.IntN(4096)
		p := testStream(lead, n)
		sum, ok := rb.stage(p, 7)
		if !ok {
			declined++
			adv, _ := rb.write(0, p)
			if adv != n {
				t.Fatalf("trial %d: write after a declined stage advanced %d of %d", trial, adv, n)
			}
		} else {
			staged++
			if wire.FoldChecksum(sum) != wire.FoldChecksum(wire.Checksum(p, 7)) {
				t.Fatalf("trial %d (head %d, %d bytes): staged sum differs", trial, rb.head, n)
			}
			if adv, _ := rb.writeStaged(p, n); adv != n {
				t.Fatalf("trial %d: writeStaged advanced %d of %d", trial, adv, n)
			}
		}
		got := make([]byte, n)
		if rb.read(got) != n || !bytes.Equal(got, p) {
			t.Fatalf("trial %d (head %d, %d bytes, staged %v): bytes differ", trial, lead, n, ok)
		}
	}
	if staged == 0 || declined == 0 {
		t.Fatalf("staged %d, declined %d: both cases should occur", staged, declined)
	}
}

// TestRxStage_IntoLentBuffer: with a reader waiting (directread.go) the
// payload is staged straight into the reader's buffer, past what it holds:
// the checksum pass is the one copy to the application. A staged payload
// whose checksum fails leaves the reader with nothing; the part that does
// not fit the buffer goes to the receive buffer behind it.
func TestRxStage_IntoLentBuffer(t *testing.T) {
	b := establishedReceiver(t)
	lent := make([]byte, 1500)
	if !b.LendRead(lent) {
		t.Fatal("LendRead")
	}
	p := testStream(0, 1000)
	if _, ok := b.StagePayload(1001, p, 0); !ok {
		t.Fatal("not staged with a reader waiting")
	}
	b.Unstage() // its checksum was wrong
	s := seg(wire.FlagACK, 1001, 5001, 65535, "")
	s.Payload = p
	sum, ok := b.StagePayload(1001, p, 0)
	if !ok || wire.FoldChecksum(sum) != wire.FoldChecksum(wire.Checksum(p, 0)) {
		t.Fatalf("staged %v, sum %#x", ok, sum)
	}
	b.Input(0, s)
	q := testStream(1000, 1000) // 500 bytes fit the reader's buffer
	s = seg(wire.FlagACK, 2001, 5001, 65535, "")
	s.Payload = q
	if _, ok := b.StagePayload(2001, q, 0); !ok {
		t.Fatal("second payload not staged")
	}
	b.Input(0, s)
	if n := b.ReturnRead(); n != 1500 || !bytes.Equal(lent, testStream(0, 1500)) {
		t.Fatalf("reader got %d bytes, want the first 1500 of the stream", n)
	}
	if got := readAll(b, 0); !bytes.Equal(got, testStream(1500, 500)) {
		t.Fatalf("receive buffer holds %d bytes, want the 500 that did not fit", len(got))
	}
}

// TestRxStage_LentBufferFullStagesInRing: a reader's lent buffer that is
// full takes no more; the next payload is staged in the receive buffer
// instead of not at all.
func TestRxStage_LentBufferFullStagesInRing(t *testing.T) {
	b := establishedReceiver(t)
	lent := make([]byte, 1000)
	b.LendRead(lent)
	p := testStream(0, 1000)
	if _, ok := b.StagePayload(1001, p, 0); !ok {
		t.Fatal("first payload not staged")
	}
	s := seg(wire.FlagACK, 1001, 5001, 65535, "")
	s.Payload = p
	b.Input(0, s)
	q := testStream(1000, 1000)
	if _, ok := b.StagePayload(2001, q, 0); !ok || b.stagedLent {
		t.Fatalf("with the lent buffer full: staged %v, in the lent buffer %v; want staged in the ring", ok, b.stagedLent)
	}
	s = seg(wire.FlagACK, 2001, 5001, 65535, "")
	s.Payload = q
	b.Input(0, s)
	if n := b.ReturnRead(); n != 1000 || !bytes.Equal(lent, p) {
		t.Fatalf("reader got %d bytes", n)
	}
	if got := readAll(b, 0); !bytes.Equal(got, q) {
		t.Fatalf("receive buffer holds %d bytes, want the second payload", len(got))
	}
}

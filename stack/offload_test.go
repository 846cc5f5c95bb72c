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

// TestStagedChecksumRejectsCorruption (RFC 9293 3.1: a segment whose
// checksum is wrong is discarded): a large in-order payload, whose checksum
// is checked as it is copied into the receive buffer (tcp.StagePayload),
// is dropped and counted when one bit of it is flipped, leaves nothing
// readable, and the same segment sent intact is then accepted with its own
// bytes.
func TestStagedChecksumRejectsCorruption(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, err := s.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, host := netip.AddrPortFrom(peerV4, 4000), netip.AddrPortFrom(hostV4, 80)
	l.inject(seg{src: peer, dst: host, seq: 1000, flags: wire.FlagSYN, win: 64240, opts: wire.TCPOptions{HasMSS: true, MSS: 1460}}.bytes())
	synAck := only(t, l.takeTCP(t), "SYN-ACK")
	l.inject(seg{src: peer, dst: host, seq: 1001, ack: synAck.seq + 1, flags: wire.FlagACK, win: 64240}.bytes())
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	data := bytes.Repeat([]byte("synfin staged checksum "), 61)[:1400] // above stageMin
	good := seg{src: peer, dst: host, seq: 1001, ack: synAck.seq + 1, flags: wire.FlagACK | wire.FlagPSH, win: 64240, data: data}.bytes()
	bad := bytes.Clone(good)
	bad[len(bad)-700] ^= 0x10
	before := s.Stats().BadTCPChecksum
	l.inject(bad)
	if got := s.Stats().BadTCPChecksum - before; got != 1 {
		t.Fatalf("BadTCPChecksum went up by %d, want 1", got)
	}
	if n := c.(*TCPConn).c.tcb.Readable(); n != 0 {
		t.Fatalf("%d bytes readable after a corrupted segment", n)
	}
	l.take()
	l.inject(good)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 2*len(data))
	n, err := io.ReadAtLeast(c, got, len(data))
	if err != nil || !bytes.Equal(got[:n], data) {
		t.Fatalf("read %d bytes (%v), want the intact payload", n, err)
	}
}

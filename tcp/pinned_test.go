package tcp

import (
	"bytes"
	"testing"
	"time"
)

// pinWatcher is an Output that records like recorder and also keeps, for
// every Pinned segment, the engine's own payload slice (not a copy), a copy
// of what it held when emitted, and the sequence number after it.
type pinWatcher struct {
	*recorder
	pins      []pinned
	unpinned  int    // data segments sent without Pinned
	sentUpTo  uint32 // highest sequence number sent so far
	sentAny   bool
	pinnedRtx int // retransmissions marked Pinned: must stay 0
}

type pinned struct {
	ref, orig []byte
	seq, end  uint32
}

func (w *pinWatcher) Segment(s *Segment) {
	w.recorder.Segment(s)
	if len(s.Payload) == 0 {
		return
	}
	end := s.Seq + uint32(len(s.Payload))
	if s.Pinned {
		w.pins = append(w.pins, pinned{ref: s.Payload, orig: bytes.Clone(s.Payload), seq: s.Seq, end: end})
	} else {
		w.unpinned++
	}
	if w.sentAny && seqLT(s.Seq, w.sentUpTo) && s.Pinned {
		// A retransmission may be overtaken by the ACK of its original.
		w.pinnedRtx++
	}
	if !w.sentAny || seqGT(end, w.sentUpTo) {
		w.sentUpTo, w.sentAny = end, true
	}
}

// TestPinnedPayloadUnchangedUntilAcked checks the promise behind
// Segment.Pinned, on which the stack's scatter-gather transmit rests: the
// engine marks only first transmissions whose payload is the send buffer's
// own memory (not the scratch of a range that wraps around the ring), and
// it does not change those bytes until the peer has acknowledged them,
// however the ring wraps, grows and refills meanwhile. The path drops
// segments, so retransmissions (never pinned) and recoveries happen too.
func TestPinnedPayloadUnchangedUntilAcked(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WMem = [3]int{4096, 16384, 16384} // a small ring wraps often
	w := &pinWatcher{recorder: &recorder{}}
	tcb, err := New(&cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{t: t, a: endpoint{tcb, w.recorder}, b: newEndpoint(t, nil), delay: 10 * time.Millisecond, now: time.Second}
	p.connect()
	n, outage := 0, Time(0)
	p.drop = func(from string, s *Segment) bool {
		if from != "A" || len(s.Payload) == 0 {
			return false
		}
		n++
		if n == 100 {
			outage = p.now + 500*time.Millisecond
		}
		// Every 17th data segment, and for half a second everything, the
		// loss probe and the first retransmission included, so that the
		// timeout pulls SND.NXT back and the output loop itself resends.
		return n%17 == 0 || p.now < outage
	}

	const total = 400 << 10
	src := make([]byte, total)
	for i := range src {
		src[i] = byte(i*7 + i>>9)
	}
	var got []byte
	written := 0
	check := func() {
		t.Helper()
		if w.pinnedRtx > 0 {
			t.Fatalf("%d retransmissions were marked Pinned", w.pinnedRtx)
		}
		una := p.a.sndUna
		for _, pin := range w.pins {
			if seqGT(pin.end, una) && !bytes.Equal(pin.ref, pin.orig) {
				t.Fatalf("pinned payload %d:%d changed before SND.UNA %d reached its end", pin.seq, pin.end, una)
			}
		}
		// Forget the acknowledged ones: their memory is the engine's again.
		keep := w.pins[:0]
		for _, pin := range w.pins {
			if seqGT(pin.end, una) {
				keep = append(keep, pin)
			}
		}
		w.pins = keep
	}
	for steps := 0; len(got) < total; steps++ {
		if steps > 200000 {
			t.Fatalf("transfer stalled at %d of %d bytes", len(got), total)
		}
		if written < total {
			m, err := p.a.Write(p.now, src[written:min(written+3000, total)])
			if err != nil {
				t.Fatal(err)
			}
			written += m
		}
		check()
		if !p.step(p.now + time.Minute) {
			t.Fatalf("nothing left to happen at %d of %d bytes", len(got), total)
		}
		check()
		got = append(got, readAll(p.b, p.now)...)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("the receiver got other bytes than were written")
	}
	if w.unpinned == 0 {
		t.Fatal("no data segment went unpinned: neither retransmissions nor wrapped ranges were seen")
	}
	if p.a.info.totalRetrans == 0 || p.a.info.timeouts == 0 {
		t.Fatalf("%d retransmissions, %d timeouts: the drops did not exercise both", p.a.info.totalRetrans, p.a.info.timeouts)
	}
}

package tcp

import (
	"bytes"
	"testing"
	"time"
)

func TestSmokeHandshakeDataClose(t *testing.T) {
	p := newPair(t, nil, nil)
	p.connect()
	msg := bytes.Repeat([]byte("hello synfin "), 1000)
	n, err := p.a.Write(p.now, msg)
	if err != nil || n != len(msg) {
		t.Fatalf("write: %d %v", n, err)
	}
	p.run(2 * time.Second)
	got := readAll(p.b, p.now)
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d\n%s", len(got), len(msg), p.trace())
	}
	p.a.Close(p.now)
	p.run(time.Second)
	if p.b.State() != CloseWait {
		t.Fatalf("B state %v\n%s", p.b.State(), p.trace())
	}
	p.b.Close(p.now)
	p.run(time.Second)
	if p.a.State() != TimeWait || p.b.State() != Closed {
		t.Fatalf("A %v B %v\n%s", p.a.State(), p.b.State(), p.trace())
	}
	p.run(61 * time.Second)
	if p.a.State() != Closed {
		t.Fatalf("A %v", p.a.State())
	}
	t.Log(p.a.rec.transitions(), p.b.rec.transitions())
	t.Log("\n" + p.trace())
}

func TestSmokeSimultaneous(t *testing.T) {
	p := newPair(t, nil, nil)
	p.a.Connect(p.now, OpenOptions{ISN: 1000, MSS: 1460})
	p.b.Connect(p.now, OpenOptions{ISN: 5000, MSS: 1460})
	p.run(3 * time.Second)
	if p.a.State() != Established || p.b.State() != Established {
		t.Fatalf("A %v B %v\n%s", p.a.State(), p.b.State(), p.trace())
	}
	p.a.Close(p.now)
	p.b.Close(p.now)
	p.run(time.Second)
	t.Log(p.a.rec.transitions(), p.b.rec.transitions())
	t.Log("\n" + p.trace())
	p.run(61 * time.Second)
	if p.a.State() != Closed || p.b.State() != Closed {
		t.Fatalf("A %v B %v", p.a.State(), p.b.State())
	}
}

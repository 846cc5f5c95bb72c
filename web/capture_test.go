package web

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
)

// simCapture makes a pcap with package sim: host a sends size bytes to
// host b, which reads them; both close; the capture is a's.
func simCapture(t testing.TB, size int64) []byte {
	t.Helper()
	n := sim.New(1)
	defer n.Close()
	a, err := n.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Connect(a, b, sim.Symmetric(sim.PathConfig{Latency: 5 * time.Millisecond, Bandwidth: 50e6, QueueLimit: 64})); err != nil {
		t.Fatal(err)
	}
	var capture bytes.Buffer
	if err := a.CaptureTo(&capture); err != nil {
		t.Fatal(err)
	}
	sink, err := b.Sink(b.AddrPort(80), sim.SinkConfig{Accept: 1})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: size, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.SetWatchdog(time.Minute)
	if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := n.RunFor(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.Flush(); err != nil {
		t.Fatal(err)
	}
	return capture.Bytes()
}

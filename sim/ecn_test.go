package sim_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// ecnRun sends size bytes from a to b through a 10 Mbit/s bottleneck with a
// large queue (nothing is ever dropped) that marks ECT packets CE above 20
// packets, and samples the sender every 10 ms.
type ecnResult struct {
	link       sim.PathStats
	info       tcp.Info
	cwndCuts   int // samples where cwnd was lower than at the previous one
	cwrSamples int // samples taken in the CWR state
	maxCwnd    uint32
	intact     bool
	senderECN  bool
}

func ecnRun(t *testing.T, senderECN int, size int64) ecnResult {
	t.Helper()
	n := sim.New(42)
	defer n.Close()
	cfgA := tcp.DefaultConfig()
	cfgA.ECN = senderECN
	a, err := n.AddHostWith("a", stack.Options{TCP: &cfgA}, netip.MustParsePrefix("10.0.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24")) // tcp_ecn=2: accepts
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.Connect(a, b, sim.LinkConfig{
		AtoB: sim.PathConfig{Latency: 10 * time.Millisecond, Bandwidth: 10e6, QueueLimit: 100000, ECNThreshold: 20},
		BtoA: sim.PathConfig{Latency: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := b.Sink(b.AddrPort(80), sim.SinkConfig{Accept: 1, ReadBuffer: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: size, Seed: 3, WriteBuffer: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var r ecnResult
	var last uint32
	n.Every(10*time.Millisecond, func() {
		in := snd.Conn().Info()
		if in.State != tcp.Established && in.State != tcp.FinWait1 {
			return // not sending data
		}
		if last != 0 && in.SndCwnd < last {
			r.cwndCuts++
		}
		last = in.SndCwnd
		r.maxCwnd = max(r.maxCwnd, in.SndCwnd)
		if in.CAState == "cwr" {
			r.cwrSamples++
		}
		r.info = in
		r.senderECN = in.ECN
	})
	n.SetWatchdog(time.Minute)
	if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour); err != nil {
		t.Fatal(err)
	}
	if snd.Err() != nil {
		t.Fatal(snd.Err())
	}
	st := sink.Streams()
	r.intact = len(st) == 1 && st[0].Bytes == size && st[0].Sum == snd.Sum()
	r.link = l.Stats(sim.AtoB)
	return r
}

// TestRFC3168_SimCEMarkingReducesWithoutLoss: two stacks over a
// bottleneck whose queue marks CE instead of dropping (RFC 3168 5). With
// ECN negotiated (the sender asks, tcp_ecn=1; the receiver accepts,
// tcp_ecn=2), the receiver echoes the marks (6.1.3) and the sender brings
// its window down in the CWR state (6.1.2) again and again, with no loss
// and no retransmission, keeping the queue short. Without ECN the same
// path never marks, the window only grows and the queue with it.
func TestRFC3168_SimCEMarkingReducesWithoutLoss(t *testing.T) {
	const size = 4 << 20
	ecn := ecnRun(t, tcp.ECNOn, size)
	if !ecn.intact {
		t.Fatal("ECN run: data not delivered intact")
	}
	if !ecn.senderECN {
		t.Fatalf("ECN not negotiated: %+v", ecn.info)
	}
	if ecn.link.CEMarked == 0 {
		t.Fatal("the bottleneck marked nothing")
	}
	if d := ecn.link.Dropped(); d != 0 {
		t.Errorf("ECN run: %d packets dropped, want none", d)
	}
	if ecn.info.TotalRetrans != 0 || ecn.info.Timeouts != 0 || ecn.info.FastRetrans != 0 {
		t.Errorf("ECN run: %d retransmissions (%d timeouts, %d fast), want none", ecn.info.TotalRetrans, ecn.info.Timeouts, ecn.info.FastRetrans)
	}
	if ecn.info.DeliveredCE == 0 {
		t.Error("tcpi_delivered_ce is 0")
	}
	if ecn.cwndCuts < 3 || ecn.cwrSamples == 0 {
		t.Errorf("cwnd came down %d times, %d samples in CWR; want repeated reductions", ecn.cwndCuts, ecn.cwrSamples)
	}
	t.Logf("ECN: %d CE marks, delivered_ce %d, %d cwnd reductions seen, max cwnd %d, max queue %d, ssthresh %d",
		ecn.link.CEMarked, ecn.info.DeliveredCE, ecn.cwndCuts, ecn.maxCwnd, ecn.link.MaxQueue, ecn.info.SndSsthresh)

	plain := ecnRun(t, tcp.ECNPassive, size) // neither end asks for ECN
	if !plain.intact {
		t.Fatal("plain run: data not delivered intact")
	}
	if plain.senderECN || plain.link.CEMarked != 0 || plain.cwndCuts != 0 {
		t.Errorf("plain run: ECN %v, %d marks, %d cwnd reductions; want none", plain.senderECN, plain.link.CEMarked, plain.cwndCuts)
	}
	if plain.link.MaxQueue <= 2*ecn.link.MaxQueue {
		t.Errorf("max queue %d without ECN, %d with: ECN should keep it much shorter", plain.link.MaxQueue, ecn.link.MaxQueue)
	}
	t.Logf("plain: max cwnd %d, max queue %d", plain.maxCwnd, plain.link.MaxQueue)
}

// TestSimECNThresholdMarksOnlyECT: the marking stage leaves not-ECT
// packets alone and rewrites ECT ones to CE with a valid IPv4 checksum.
func TestSimECNThresholdMarksOnlyECT(t *testing.T) {
	n := sim.New(1)
	defer n.Close()
	a, _ := n.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	b, _ := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	l, err := n.Connect(a, b, sim.Symmetric(sim.PathConfig{Bandwidth: 1e6, ECNThreshold: 1}))
	if err != nil {
		t.Fatal(err)
	}
	var got []wire.ECN
	var badSum int
	l.Observe(func(ev sim.PacketEvent) {
		if ev.Kind == sim.PacketDelivered {
			got = append(got, wire.PacketECN(ev.Packet))
			if !wire.IPv4(ev.Packet).ChecksumValid() {
				badSum++
			}
		}
	})
	pkt := func(e wire.ECN) []byte {
		p, err := wire.BuildIPv4(nil, &wire.IPv4Header{TOS: 0x20 | uint8(e), TTL: 64, Protocol: 253,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return append(p, make([]byte, 100)...)
	}
	// The first packet finds an empty queue; the others queue behind it.
	l.Inject(sim.AtoB, pkt(wire.ECT0), pkt(wire.ECT0), pkt(wire.NotECT), pkt(wire.ECT1), pkt(wire.CE))
	if err := n.RunFor(time.Second); err != nil {
		t.Fatal(err)
	}
	want := []wire.ECN{wire.ECT0, wire.CE, wire.NotECT, wire.CE, wire.CE}
	if len(got) != len(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d arrived %v, want %v", i, got[i], want[i])
		}
	}
	if badSum != 0 {
		t.Errorf("%d packets with a bad IPv4 header checksum", badSum)
	}
	if m := l.Stats(sim.AtoB).CEMarked; m != 2 {
		t.Errorf("CEMarked = %d, want 2 (an arriving CE is not counted)", m)
	}
	if err := (sim.PathConfig{ECNThreshold: -1}).Validate(); err == nil {
		t.Error("negative ECNThreshold accepted")
	}
}

package tcp

import (
	"sync"
	"testing"
	"time"

	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// newCubicSender returns an ESTABLISHED passive TCB using cubic, opened
// without timestamps (so RFC 6298 times one segment per round trip) at
// time 200 ms, with 30000 bytes written and the first 10 segments sent.
func newCubicSender(t *testing.T, cfg Config) (*TCB, *recorder, Time) {
	t.Helper()
	cfg.CongestionControl = "cubic"
	rec := &recorder{}
	tcb, err := New(&cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	now := Time(0)
	if err := tcb.Listen(now, OpenOptions{ISN: 0, MSS: 1460}); err != nil {
		t.Fatal(err)
	}
	syn := Segment{Seq: 1000, Flags: wire.FlagSYN, Window: 65535, Options: wire.TCPOptions{
		HasMSS: true, MSS: 1000, SACKPermitted: true, HasWScale: true, WScale: 7}}
	tcb.Input(now, &syn)
	now += 200 * time.Millisecond
	tcb.Input(now, &Segment{Seq: 1001, Ack: 1, Flags: wire.FlagACK, Window: 257})
	if tcb.State() != Established {
		t.Fatalf("state %v", tcb.State())
	}
	tcb.SetWriteBuffer(400000)
	if n, err := tcb.Write(now, make([]byte, 30000)); n != 30000 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	rec.take()
	return tcb, rec, now
}

func ackTo(tcb *TCB, now Time, ack uint32) {
	tcb.Input(now, &Segment{Seq: 1001, Ack: ack, Flags: wire.FlagACK, Window: 257})
}

// Every ACK gives congestion control an RTT sample, the time since the
// newest segment it acknowledges was sent, timestamps or not: HyStart's
// delay detection (Linux tcp_cubic) sees nine samples in a round and ends
// slow start, as the corpus's cubic-hystart-delay-rtt-jumps-upward shows.
func TestCCRTT_EveryAckSamplesForHystart(t *testing.T) {
	tcb, _, now := newCubicSender(t, DefaultConfig())
	now += 200 * time.Millisecond
	ackTo(tcb, now, 10001) // RTT 200 ms: cubic's delay_min
	if c := tcb.Info().SndCwnd; c != 20 {
		t.Fatalf("cwnd %d after the first window, want 20", c)
	}
	now += 240 * time.Millisecond
	for ack := uint32(12001); ack <= 26001; ack += 2000 {
		ackTo(tcb, now, ack) // RTT 240, 241, ... ms: 20% above
		now += time.Millisecond
	}
	if i := tcb.Info(); i.SndSsthresh != 0x7fffffff || i.SndCwnd != 36 {
		t.Fatalf("after 8 samples: ssthresh %d cwnd %d, want slow start at 36", i.SndSsthresh, i.SndCwnd)
	}
	ackTo(tcb, now, 28001)
	if i := tcb.Info(); i.SndSsthresh != 36 || i.SndCwnd != 36 {
		t.Errorf("ninth sample: ssthresh %d cwnd %d, want HyStart's exit at 36", i.SndSsthresh, i.SndCwnd)
	}
}

// Karn's rule (RFC 6298 3): an ACK covering retransmitted data gives no
// transmit-time sample.
func TestCCRTT_RetransmittedDataGivesNoSample(t *testing.T) {
	tcb, _, now := newCubicSender(t, DefaultConfig())
	tcb.now = now + 100*time.Millisecond
	if got := tcb.ackCARTT(2001); got != 100*time.Millisecond {
		t.Errorf("sample for the first two segments %v, want 100ms", got)
	}
	// Timers fire (a loss probe, then the RTO) until the head has been
	// retransmitted.
	for i := 0; i < 10 && !tcb.rtxq.live()[0].has(txEverRetrans); i++ {
		d, ok := tcb.Deadline()
		if !ok {
			t.Fatal("no timer")
		}
		tcb.Tick(d)
	}
	if !tcb.rtxq.live()[0].has(txEverRetrans) {
		t.Fatal("setup: the head was not retransmitted")
	}
	tcb.now += 100 * time.Millisecond
	if got := tcb.ackCARTT(1001); got != -1 {
		t.Errorf("sample for a retransmitted segment %v, want none", got)
	}
	if got := tcb.ackCARTT(5001); got != -1 {
		t.Errorf("sample for an ACK covering a retransmitted segment %v, want none", got)
	}
}

// ccEvents wraps reno and records EventTxStart with its idle time.
type ccEvents struct {
	cc.Algorithm
	idle *[]time.Duration
}

func (a ccEvents) OnEvent(s *cc.Sender, ev cc.Event) {
	if ev == cc.EventTxStart {
		*a.idle = append(*a.idle, s.Now-s.LastSend)
	}
	a.Algorithm.OnEvent(s, ev)
}

var (
	ccEventsOnce sync.Once
	ccEventsIdle []time.Duration
)

// Sending new data with nothing in flight tells the algorithm how long the
// sender was idle (Linux CA_EVENT_TX_START, on every such transmission, not
// only after an RTO's worth of idleness): CUBIC keeps idle time out of its
// epoch (RFC 9438 5.8).
func TestCCEvent_TxStartReportsIdleTime(t *testing.T) {
	ccEventsOnce.Do(func() {
		cc.Register("txstart-test", func() cc.Algorithm {
			base, _ := cc.New("reno")
			return ccEvents{base, &ccEventsIdle}
		})
	})
	ccEventsIdle = nil
	cfg := DefaultConfig()
	tcb, _, now := newCubicSender(t, cfg)
	if err := tcb.SetCongestionControl("txstart-test"); err != nil {
		t.Fatal(err)
	}
	now += 100 * time.Millisecond
	// The first window is acknowledged: the next segments leave with
	// nothing in flight, 100 ms after the last ones.
	ackTo(tcb, now, 10001)
	if len(ccEventsIdle) != 1 || ccEventsIdle[0] != 100*time.Millisecond {
		t.Fatalf("EventTxStart idle times %v, want [100ms]", ccEventsIdle)
	}
	sent := now
	now += 100 * time.Millisecond
	ackTo(tcb, now, 30001)       // everything acknowledged
	now += 50 * time.Millisecond // idle, far less than the RTO
	tcb.Write(now, make([]byte, 1000))
	if len(ccEventsIdle) != 2 || ccEventsIdle[1] != now-sent {
		t.Fatalf("EventTxStart idle times %v, want [100ms %v]", ccEventsIdle, now-sent)
	}
	now += time.Millisecond
	tcb.Write(now, make([]byte, 1000)) // something in flight: no event
	if len(ccEventsIdle) != 2 {
		t.Errorf("EventTxStart with data in flight: %v", ccEventsIdle)
	}
}

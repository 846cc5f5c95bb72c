package tcp

// PSH placement and the skb layout behind it (records.go), each case named
// after the Linux rule it checks.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// pshSegs describes data segments as "start:endP" or "start:end." with
// sequence numbers relative to the engine's ISS+1.
func pshSegs(out []Segment) string {
	var b []string
	for _, s := range r9Data(out) {
		f := "."
		if s.Flags&wire.FlagPSH != 0 {
			f = "P"
		}
		b = append(b, fmt.Sprintf("%d:%d%s", s.Seq-r9ISS-1, s.Seq-r9ISS-1+uint32(len(s.Payload)), f))
	}
	return strings.Join(b, " ")
}

// pshRecords describes the skb layout as "end" or "endP" (pushed), "endE"
// for MSG_EOR, relative to the ISS+1.
func pshRecords(t *TCB) string {
	var b []string
	for _, r := range t.records {
		s := fmt.Sprint(r.end - r9ISS - 1)
		if r.push {
			s += "P"
		}
		if r.eor {
			s += "E"
		}
		b = append(b, s)
	}
	return strings.Join(b, " ")
}

type pshWrite struct {
	n         int
	more, eor bool
}

// TestPSH_SkbLayout checks how writes fill skbs (tcp_sendmsg_locked) and
// where they are marked for a push, for a peer offering win bytes (never
// scaled) and an engine with initial window cwnd.
func TestPSH_SkbLayout(t *testing.T) {
	for _, c := range []struct {
		rule   string
		win    uint16
		cwnd   int
		writes []pshWrite
		want   string // the layout after the writes
	}{
		{
			rule: "tcp_push: a write without MSG_MORE marks its last skb",
			win:  65535, cwnd: 10,
			writes: []pshWrite{{n: 1000}},
			want:   "1000P",
		},
		{
			rule: "tcp_push: MSG_MORE leaves the skb unmarked",
			win:  65535, cwnd: 10,
			writes: []pshWrite{{n: 100, more: true}},
			want:   "100",
		},
		{
			rule: "tcp_sendmsg_locked: a write joining an unsent skb clears its PSH",
			win:  65535, cwnd: 1,
			// The first segment fills cwnd; the later writes wait in one skb.
			writes: []pshWrite{{n: 1460}, {n: 100}, {n: 100, more: true}},
			want:   "1460P 1660",
		},
		{
			rule: "tcp_skb_can_collapse_to: MSG_EOR closes the skb",
			win:  65535, cwnd: 1,
			writes: []pshWrite{{n: 1460}, {n: 100, eor: true}, {n: 100}},
			want:   "1460P 1560PE 1660P",
		},
		{
			// size_goal is half the 8000-byte window, in whole segments
			// (2920); forced_push marks the skb that passes half the
			// window since the last mark, and tcp_push_one lets the skb at
			// the head of the unsent data refill after each packet: the
			// first skb sent 0:1460 and 1460:2920 as packets of their own
			// (cwnd 2 allows one segment each) and grew to 5840.
			rule: "tcp_xmit_size_goal, forced_push and tcp_push_one",
			win:  8000, cwnd: 2,
			writes: []pshWrite{{n: 16000}},
			want:   "5840P 8760P 11680 14600P 16000P",
		},
	} {
		t.Run(c.rule, func(t *testing.T) {
			r := r9Passive(t, r9Config(func(cfg *Config) { cfg.InitCwnd = c.cwnd }),
				wire.TCPOptions{HasMSS: true, MSS: 1460}, c.win)
			for _, w := range c.writes {
				if n, err := r.e.WriteRecord(r.now, make([]byte, w.n), w.more, w.eor); n != w.n || err != nil {
					t.Fatalf("WriteRecord(%d) = %d, %v", w.n, n, err)
				}
			}
			if got := pshRecords(r.e.TCB); got != c.want {
				t.Errorf("skbs %s, want %s", got, c.want)
			}
		})
	}
}

// TestPSH_FirstTransmission checks PSH on what a write sends at once.
func TestPSH_FirstTransmission(t *testing.T) {
	for _, c := range []struct {
		rule string
		win  uint16
		cwnd int
		w    pshWrite
		want string
	}{
		{
			rule: "tcp_push: PSH at the end of a write",
			win:  65535, cwnd: 10, w: pshWrite{n: 1000},
			want: "0:1000P",
		},
		{
			rule: "tcp_push: no PSH on a one-segment packet written with MSG_MORE",
			win:  65535, cwnd: 10, w: pshWrite{n: 1460, more: true},
			want: "0:1460.",
		},
		{
			// One TSO packet of three segments: the engine marks its end.
			rule: "tcp_transmit_skb: a packet of several segments carries PSH",
			win:  65535, cwnd: 10, w: pshWrite{n: 3000},
			want: "0:1460. 1460:2920. 2920:3000P",
		},
		{
			rule: "tcp_transmit_skb: even one written with MSG_MORE",
			win:  65535, cwnd: 10, w: pshWrite{n: 2920, more: true},
			want: "0:1460. 1460:2920P",
		},
		{
			// cwnd 2 allows one-segment packets only (tcp_cwnd_test: half
			// cwnd); both are cut from the head of the write's skb.
			rule: "tcp_fragment: the head of a split skb has no PSH",
			win:  65535, cwnd: 2, w: pshWrite{n: 3000},
			want: "0:1460. 1460:2920.",
		},
	} {
		t.Run(c.rule, func(t *testing.T) {
			r := r9Passive(t, r9Config(func(cfg *Config) { cfg.InitCwnd = c.cwnd }),
				wire.TCPOptions{HasMSS: true, MSS: 1460}, c.win)
			if _, err := r.e.WriteRecord(r.now, make([]byte, c.w.n), c.w.more, c.w.eor); err != nil {
				t.Fatal(err)
			}
			if got := pshSegs(r.e.rec.take()); got != c.want {
				t.Errorf("sent %s, want %s", got, c.want)
			}
		})
	}
}

// TestPSH_TailOfSplit: the last piece of a split skb keeps its PSH
// (tcp_fragment), whatever went before it.
func TestPSH_TailOfSplit(t *testing.T) {
	r := r9Passive(t, r9Config(func(cfg *Config) { cfg.InitCwnd = 2 }), wire.TCPOptions{HasMSS: true, MSS: 1460}, 65535)
	if got := pshSegs(r.write(make([]byte, 3000))); got != "0:1460. 1460:2920." {
		t.Fatalf("sent %s", got)
	}
	r.now += 10 * time.Millisecond
	if got := pshSegs(r.ackUpTo(r9ISS+1+1460, 65535)); got != "2920:3000P" {
		t.Errorf("after the first ACK sent %s, want the tail 2920:3000 with PSH", got)
	}
}

// TestPSH_Retransmission checks retransmissions (tcp_retransmit_skb): a
// packet as first sent is one skb of the retransmission queue.
func TestPSH_Retransmission(t *testing.T) {
	for _, c := range []struct {
		rule     string
		w        pshWrite
		first    string // the first transmission
		rto      string // the timeout's retransmission
		afterAck string // what an ACK of the first segment releases, "" to skip
	}{
		{
			rule:  "the retransmission of a one-segment packet that carried PSH carries it",
			w:     pshWrite{n: 1000},
			first: "0:1000P", rto: "0:1000P",
		},
		{
			rule:  "the retransmission of a one-segment packet without PSH has none",
			w:     pshWrite{n: 1460, more: true},
			first: "0:1460.", rto: "0:1460.",
		},
		{
			// The timeout resends one segment, the head of the packet's
			// skb (no PSH); then the rest of that skb goes as one packet
			// of two segments (PSH).
			rule:  "a timeout resends the head of a split skb without PSH, the rest as one packet",
			w:     pshWrite{n: 3000},
			first: "0:1460. 1460:2920. 2920:3000P", rto: "0:1460.",
			afterAck: "1460:2920. 2920:3000P",
		},
	} {
		t.Run(c.rule, func(t *testing.T) {
			r := r9Plain(t, nil)
			if _, err := r.e.WriteRecord(r.now, make([]byte, c.w.n), c.w.more, c.w.eor); err != nil {
				t.Fatal(err)
			}
			if got := pshSegs(r.e.rec.take()); got != c.first {
				t.Fatalf("first sent %s, want %s", got, c.first)
			}
			// Run to the first retransmission: the timeout's, as these
			// cases expect (a loss probe would resend the last segment).
			var rto []Segment
			for i := 0; i < 100 && len(r9Data(rto)) == 0; i++ {
				rto = r.runSegs(50 * time.Millisecond)
			}
			if got := pshSegs(rto); got != c.rto {
				t.Fatalf("retransmitted %s, want %s", got, c.rto)
			}
			if c.afterAck == "" {
				return
			}
			if got := pshSegs(r.ackUpTo(r9ISS+1+1460, 65535)); got != c.afterAck {
				t.Errorf("after the ACK sent %s, want %s", got, c.afterAck)
			}
		})
	}
}

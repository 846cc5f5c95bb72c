package tcp

// RFC 9293 3.8.1 to 3.8.4: retransmission timeout, congestion control,
// connection failures (R1, R2) and keep-alives. See docs/rfc9293.md.

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synfin/synfin/tcp/cc"
	"github.com/synfin/synfin/wire"
)

// MUST-18 (3.8.1): the RTO follows RFC 6298 with Karn's algorithm: an ACK
// of a retransmitted segment gives no RTT sample; a fresh segment does.
func TestRFC9293_MUST_18_KarnAlgorithm(t *testing.T) {
	r := r9Plain(t, nil)
	r.write(make([]byte, 100))
	r.now += 100 * time.Millisecond
	r.ackUpTo(r9ISS+101, 65535)
	srtt := r.e.Info().RTT
	if srtt <= 0 {
		t.Fatal("no RTT sample from a fresh segment")
	}
	// A segment that times out and is retransmitted: its ACK, arriving
	// just after the retransmission, must not count as a 1 ms round trip.
	r.write(make([]byte, 100))
	out := r.run(r.e.Info().RTO)
	if len(out) != 1 || out[0].s.Seq != r9ISS+101 {
		t.Fatalf("retransmission: %s", r9FmtTimed(out))
	}
	r.now += time.Millisecond
	r.ackUpTo(r9ISS+201, 65535)
	if got := r.e.Info().RTT; got != srtt {
		t.Fatalf("SRTT went from %v to %v on the ACK of a retransmission", srtt, got)
	}
	// The next fresh segment is timed again.
	r.write(make([]byte, 100))
	r.now += 300 * time.Millisecond
	r.ackUpTo(r9ISS+301, 65535)
	if got := r.e.Info().RTT; got == srtt {
		t.Fatal("no sample from the next fresh segment")
	}
}

// MUST-18 with timestamps (RFC 7323 4): an echo identifies the transmission
// it answers, so an ACK echoing the retransmission is a valid sample, but
// one echoing the original transmission (whose ACK was lost) spans the RTO
// wait and is not taken.
func TestRFC9293_MUST_18_KarnWithTimestamps(t *testing.T) {
	r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 1}, 65535)
	ack := func(seq, ecr uint32) {
		s := seg(wire.FlagACK, r.nxt, seq, 65535, "")
		r.tsVal++
		s.Options = wire.TCPOptions{HasTimestamps: true, TSVal: r.tsVal, TSEcr: ecr}
		r.in(s)
	}
	orig := r9Only(t, r.write(make([]byte, 100)), "data")
	r.now += 50 * time.Millisecond
	ack(r9ISS+101, orig.Options.TSVal)
	srtt := r.e.Info().RTT
	// Lost ACK: the retransmission's dupack echoes the original TSval.
	orig = r9Only(t, r.write(make([]byte, 100)), "data")
	out := r.run(r.e.Info().RTO)
	if len(out) != 1 || out[0].s.Options.TSVal == orig.Options.TSVal {
		t.Fatalf("retransmission: %s", r9FmtTimed(out))
	}
	r.now += 10 * time.Millisecond
	ack(r9ISS+201, orig.Options.TSVal)
	if got := r.e.Info().RTT; got != srtt {
		t.Fatalf("SRTT went from %v to %v on an echo of the original transmission", srtt, got)
	}
	// Lost data: the ACK echoes the retransmission, a valid sample.
	r.write(make([]byte, 100))
	out = r.run(r.e.Info().RTO)
	re := out[0].s
	r.now += 400 * time.Millisecond
	ack(r9ISS+301, re.Options.TSVal)
	if got := r.e.Info().RTT; got == srtt {
		t.Fatal("no sample from an ACK echoing the retransmission")
	}
}

// r9Retransmissions drives a connection whose peer never answers, one timer
// at a time, calling fn after each emitted segment with the time since the
// first transmission; it stops when the connection closes or after limit.
func r9Retransmissions(r *r9, limit time.Duration, fn func(n int, since time.Duration, s Segment)) {
	start := r.now
	n := 0
	for r.e.State() != Closed && r.now-start < limit {
		at, ok := r.e.Deadline()
		if !ok {
			return
		}
		for _, ts := range r.run(at - r.now) {
			n++
			fn(n, ts.at-start, ts.s)
		}
	}
}

// MUST-19 (3.8.2): exponential backoff of the RTO; slow start (the window
// doubles each round trip) and, after a loss, a restart from one segment
// and congestion avoidance (one more segment per round trip) above ssthresh.
func TestRFC9293_MUST_19_BackoffSlowStartCongestionAvoidance(t *testing.T) {
	t.Run("backoff", func(t *testing.T) {
		r := r9Plain(t, nil)
		rto := r.e.Info().RTO
		r.write(make([]byte, 100))
		var times []time.Duration
		r9Retransmissions(r, 10*time.Minute, func(n int, since time.Duration, s Segment) {
			times = append(times, since)
		})
		want := time.Duration(0)
		interval := rto
		for i, at := range times[:10] {
			want += interval
			if at != want {
				t.Fatalf("retransmission %d at %v, want %v (all: %v)", i+1, at, want, times)
			}
			interval = min(2*interval, DefaultConfig().RTOMax)
		}
	})
	t.Run("windows", func(t *testing.T) {
		// F-RTO off: this is a real loss of the whole flight, and the peer
		// below acknowledges only what it receives, in order. RFC 5681's
		// own arithmetic (halving, one segment per round): NewReno.
		cfg := DefaultConfig()
		cfg.FRTO = 0
		cfg.CongestionControl = "reno" // the RFC 5681 halving
		cfg.CongestionControl = "reno"
		r := r9Passive(t, &cfg, wire.TCPOptions{HasMSS: true, MSS: 1460, HasWScale: true, WScale: 7}, 65535)
		r.e.SetWriteBuffer(64 << 20)
		r.e.SetNoDelay(r.now, true)
		sent := r9Data(r.write(make([]byte, 20<<20)))
		upTo := func(out []Segment) uint32 { // the peer receives what was just sent
			end := r.e.Info().SndUna
			for _, s := range out {
				if e := s.Seq + uint32(len(s.Payload)); seqGT(e, end) {
					end = e
				}
			}
			return end
		}
		last := upTo(sent)
		round := func() int { // ACK what the last round sent; count the new segments
			r.now += 10 * time.Millisecond
			out := r9Data(r.ackUpTo(last, 65535))
			last = upTo(out)
			return len(out)
		}
		// The first flight is the initial window, already sent.
		if got := int(r.e.Info().Unacked); got != 10 {
			t.Fatalf("initial flight %d segments, want 10", got)
		}
		for _, want := range []int{20, 40, 80} {
			if got := round(); got != want {
				t.Fatalf("slow start: %d segments, want %d", got, want)
			}
		}
		// A loss: the RTO fires, one segment is retransmitted.
		out := r9Data(r9Untime(r.run(r.e.Info().RTO)))
		if got := len(out); got != 1 {
			t.Fatalf("after the RTO %d segments, want 1", got)
		}
		last = upTo(out)
		ssthresh := int(r.e.Info().SndSsthresh)
		if ssthresh != 40 {
			t.Fatalf("ssthresh %d after losing a flight of 80, want 40", ssthresh)
		}
		prev := 1
		sawAvoidance := 0
		for i := 0; i < 12; i++ {
			got := round()
			switch {
			case prev < ssthresh && got <= ssthresh:
				if got != 2*prev && got != ssthresh {
					t.Fatalf("slow start after the loss: %d then %d segments", prev, got)
				}
			default:
				if got < prev || got > prev+1 {
					t.Fatalf("congestion avoidance: %d then %d segments", prev, got)
				}
				sawAvoidance++
			}
			prev = got
		}
		if sawAvoidance < 4 || prev <= ssthresh {
			t.Fatalf("never grew linearly past ssthresh %d (last round %d)", ssthresh, prev)
		}
	})
}

func r9Untime(ts []r9Timed) []Segment {
	var out []Segment
	for _, x := range ts {
		out = append(out, x.s)
	}
	return out
}

// MUST-20 (3.8.3), SHLD-9, SHLD-10, SHLD-11 (3.8.3): excessive
// retransmission is measured against two thresholds. At R1 (3
// retransmissions, Linux's tcp_retries1) the path is suspect: a soft error
// is recorded, which the stack passes to IP as negative advice and the user
// can read; at R2 (Linux's tcp_retries2 = 15, about 924 s, so beyond 100 s)
// the connection fails with ETIMEDOUT.
func TestRFC9293_MUST_20_SHLD_9_SHLD_10_SHLD_11_R1R2(t *testing.T) {
	r := r9Plain(t, nil)
	r.write(make([]byte, 100))
	retrans := 0
	softAt := -1
	alive100 := false
	r9Retransmissions(r, time.Hour, func(n int, since time.Duration, s Segment) {
		retrans = n
		if softAt < 0 && r.e.SoftError() != nil {
			softAt = n
		}
		if since >= 100*time.Second && r.e.State() == Established {
			alive100 = true
		}
	})
	if softAt != 4 {
		t.Errorf("soft error appeared with retransmission %d, want once 3 had gone unanswered (at the 4th)", softAt)
	}
	if !errors.Is(r.e.SoftError(), syscall.ETIMEDOUT) {
		t.Errorf("soft error %v, want ETIMEDOUT", r.e.SoftError())
	}
	if !alive100 {
		t.Error("the connection did not survive 100 s of retransmissions")
	}
	if retrans != 15 {
		t.Errorf("%d retransmissions before giving up, want 15 (tcp_retries2)", retrans)
	}
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ETIMEDOUT) || r.e.State() != Closed {
		t.Fatalf("after R2: state %v, errors %v, want CLOSED with ETIMEDOUT", r.e.State(), errs)
	}
	if _, err := r.e.Write(r.now, []byte("x")); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("Write after R2: %v, want ETIMEDOUT", err)
	}
}

// MUST-21 (3.8.3): the application can set R2 for its connection
// (TCP_USER_TIMEOUT): shorter, or far longer than the default.
func TestRFC9293_MUST_21_ApplicationSetsR2(t *testing.T) {
	t.Run("short", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.SetUserTimeout(20 * time.Second)
		r.write(make([]byte, 100))
		start := r.now
		r9Retransmissions(r, time.Hour, func(int, time.Duration, Segment) {})
		if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ETIMEDOUT) {
			t.Fatalf("errors %v", errs)
		}
		if d := r.now - start; d < 20*time.Second || d > 40*time.Second {
			t.Fatalf("gave up after %v with a 20 s user timeout", d)
		}
	})
	t.Run("long", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.SetUserTimeout(24 * time.Hour)
		r.write(make([]byte, 100))
		r9Retransmissions(r, 2*time.Hour, func(int, time.Duration, Segment) {})
		if r.e.State() != Established {
			t.Fatalf("a 24 h user timeout gave up within 2 h: %v", r.errs())
		}
	})
}

// MUST-22 (3.8.3): SYN retransmissions follow the same R1/R2 procedure:
// after R1 a soft error, after R2 (tcp_syn_retries) the open fails and the
// application is told (ETIMEDOUT). A passive open's SYN-ACK is retried
// tcp_synack_retries times and then forgotten, as in Linux.
func TestRFC9293_MUST_22_SynRetransmissions(t *testing.T) {
	r := &r9{t: t, e: newEndpoint(t, nil), now: time.Second}
	r.e.Connect(r.now, OpenOptions{ISN: r9ISS, MSS: 1460})
	syns := len(r.e.rec.take())
	softAt := -1
	r9Retransmissions(r, time.Hour, func(n int, _ time.Duration, s Segment) {
		if s.Flags != wire.FlagSYN {
			t.Fatalf("sent %s", &s)
		}
		syns++
		if softAt < 0 && r.e.SoftError() != nil {
			softAt = n
		}
	})
	if want := 1 + DefaultConfig().SynRetries; syns < want {
		t.Errorf("%d SYNs, want at least %d (tcp_syn_retries)", syns, want)
	}
	if softAt != 4 {
		t.Errorf("soft error with SYN retransmission %d, want the 4th", softAt)
	}
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ETIMEDOUT) || r.e.State() != Closed {
		t.Fatalf("state %v, errors %v", r.e.State(), r.errs())
	}

	p := &r9{t: t, e: newEndpoint(t, nil), now: time.Second}
	p.e.Listen(p.now, OpenOptions{ISN: r9ISS, MSS: 1460})
	p.in(seg(wire.FlagSYN, r9IRS, 0, 1000, ""))
	synacks := 0
	r9Retransmissions(p, time.Hour, func(int, time.Duration, Segment) { synacks++ })
	if synacks != DefaultConfig().SynackRetries {
		t.Errorf("%d SYN-ACK retransmissions, want %d", synacks, DefaultConfig().SynackRetries)
	}
	if p.e.State() != Listen || len(p.errs()) != 0 {
		t.Errorf("after the SYN-ACK retries: state %v, errors %v", p.e.State(), p.errs())
	}
}

// MUST-23 (3.8.3): R2 for a SYN must let it be retransmitted for at least 3
// minutes. Linux's defaults give up much sooner (see docs/rfc9293.md: this
// MUST is met only by configuration); with tcp_syn_retries 8 and
// exponential backoff from 1 s, SYNs go on for 255 s.
func TestRFC9293_MUST_23_SynRetransmittedFor3Minutes(t *testing.T) {
	lastSYN := func(cfg *Config) time.Duration {
		r := &r9{t: t, e: newEndpoint(t, cfg), now: time.Second}
		r.e.Connect(r.now, OpenOptions{ISN: r9ISS})
		r.e.rec.take()
		var last time.Duration
		r9Retransmissions(r, time.Hour, func(_ int, since time.Duration, _ Segment) { last = since })
		return last
	}
	conforming := r9Config(func(c *Config) { c.SynRetries, c.SynLinearTimeouts = 8, 0 })
	if d := lastSYN(conforming); d < 3*time.Minute {
		t.Fatalf("with tcp_syn_retries 8 the last SYN goes at %v, want >= 3 min", d)
	}
	t.Logf("with Linux's defaults the last SYN goes at %v: MUST-23 needs the Config above", lastSYN(nil))
}

// MUST-25 (3.8.4): keep-alives are off by default: an idle connection sends
// nothing, however long.
func TestRFC9293_MUST_25_KeepAliveOffByDefault(t *testing.T) {
	r := r9Plain(t, nil)
	if out := r.run(10 * time.Hour); len(out) != 0 {
		t.Fatalf("an idle connection sent %s", r9FmtTimed(out))
	}
}

// keepAliveAnswer answers keep-alive probes as a live peer does: with an
// ACK of its current state.
func (r *r9) keepAliveAnswer(s Segment) *Segment {
	if s.Seq == r9ISS && len(s.Payload) == 0 && s.Flags == wire.FlagACK {
		return seg(wire.FlagACK, r.nxt, r9ISS+1, r.win, "")
	}
	return nil
}

// MUST-24 (3.8.4) and MAY-5 (3.8.4): keep-alives exist and the application
// turns them on and off per connection (SO_KEEPALIVE).
func TestRFC9293_MUST_24_MAY_5_KeepAliveOnOff(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetKeepAlive(r.now, true, 0, 0, 0)
	out := r.runAnswering(5*time.Hour, r.keepAliveAnswer)
	if len(out) < 2 {
		t.Fatalf("keep-alive on: sent %s", r9FmtTimed(out))
	}
	r.e.SetKeepAlive(r.now, false, 0, 0, 0)
	if out := r.run(10 * time.Hour); len(out) != 0 {
		t.Fatalf("keep-alive off again: sent %s", r9FmtTimed(out))
	}
	other := r9Plain(t, nil) // the setting is per connection
	if out := other.run(5 * time.Hour); len(out) != 0 {
		t.Fatalf("another connection sent %s", r9FmtTimed(out))
	}
}

// MUST-28 (3.8.4): the keep-alive idle time defaults to no less than two
// hours: the first probe comes after exactly 2 h of silence.
func TestRFC9293_MUST_28_KeepAliveDefault2Hours(t *testing.T) {
	if d := DefaultConfig().KeepaliveTime; d < 2*time.Hour {
		t.Fatalf("default keep-alive time %v", d)
	}
	r := r9Plain(t, nil)
	start := r.now
	r.e.SetKeepAlive(r.now, true, 0, 0, 0)
	out := r.runAnswering(3*time.Hour, r.keepAliveAnswer)
	if len(out) == 0 || out[0].at-start != 2*time.Hour {
		t.Fatalf("first probe: %s, want at +2h", r9FmtTimed(out))
	}
}

// MUST-27 (3.8.4): the keep-alive idle time is configurable, per connection
// (TCP_KEEPIDLE) and as a default (tcp_keepalive_time).
func TestRFC9293_MUST_27_KeepAliveConfigurable(t *testing.T) {
	r := r9Plain(t, nil)
	start := r.now
	r.e.SetKeepAlive(r.now, true, 90*time.Second, 0, 0)
	if out := r.runAnswering(100*time.Second, r.keepAliveAnswer); len(out) == 0 || out[0].at-start != 90*time.Second {
		t.Fatalf("TCP_KEEPIDLE 90 s: %s", r9FmtTimed(out))
	}
	c := r9Plain(t, r9Config(func(c *Config) { c.KeepaliveTime = 10 * time.Minute }))
	start = c.now
	c.e.SetKeepAlive(c.now, true, 0, 0, 0)
	if out := c.runAnswering(11*time.Minute, c.keepAliveAnswer); len(out) == 0 || out[0].at-start != 10*time.Minute {
		t.Fatalf("tcp_keepalive_time 10 min: %s", r9FmtTimed(out))
	}
}

// MUST-26 (3.8.4): keep-alives go only when the connection is idle: nothing
// received for the interval, and no sent data outstanding.
func TestRFC9293_MUST_26_KeepAliveOnlyWhenIdle(t *testing.T) {
	t.Run("traffic defers the probe", func(t *testing.T) {
		r := r9Plain(t, nil)
		start := r.now
		r.e.SetKeepAlive(r.now, true, 100*time.Second, 0, 0)
		r.run(50 * time.Second)
		r.peer(wire.FlagACK|wire.FlagPSH, "news")
		out := r.runAnswering(200*time.Second, r.keepAliveAnswer)
		var probes []time.Duration
		for _, p := range out {
			if p.s.Seq == r9ISS && len(p.s.Payload) == 0 {
				probes = append(probes, p.at-start)
			}
		}
		if len(probes) == 0 || probes[0] != 150*time.Second {
			t.Fatalf("probes at %v, want the first at 150 s (100 s after the last segment)", probes)
		}
	})
	t.Run("outstanding data", func(t *testing.T) {
		r := r9Plain(t, nil)
		r.e.SetKeepAlive(r.now, true, 10*time.Second, time.Second, 0)
		r.write([]byte("unacknowledged"))
		for _, p := range r.run(5 * time.Minute) {
			if len(p.s.Payload) == 0 {
				t.Fatalf("a keep-alive probe %s while data was outstanding", &p.s)
			}
		}
	})
}

// MUST-29 (3.8.4): one unanswered keep-alive does not kill the connection:
// Linux waits for tcp_keepalive_probes (9) unanswered probes, one interval
// apart, then resets it (ETIMEDOUT); an answer starts over.
func TestRFC9293_MUST_29_KeepAliveToleratesLoss(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetKeepAlive(r.now, true, 60*time.Second, 10*time.Second, 0)
	start := r.now
	out := r.run(61 * time.Second)
	if len(out) != 1 || r.e.State() != Established {
		t.Fatalf("first probe: %s, state %v", r9FmtTimed(out), r.e.State())
	}
	// Answer the second probe: the count starts over.
	out = r.runAnswering(10*time.Second, r.keepAliveAnswer)
	if len(out) != 1 || r.e.State() != Established {
		t.Fatalf("second probe: %s", r9FmtTimed(out))
	}
	answered := out[0].at
	out = r.run(10 * time.Minute)
	var probes int
	for _, p := range out {
		if p.s.Flags == wire.FlagACK {
			probes++
			if probes == 1 && p.at-answered != 60*time.Second {
				t.Fatalf("after an answer the next probe came at +%v, want a full idle time (60 s)", p.at-answered)
			}
		}
	}
	if probes != 9 {
		t.Fatalf("%d unanswered probes before giving up, want 9:%s", probes, r9FmtTimed(out))
	}
	last := out[len(out)-1]
	if last.s.Flags&wire.FlagRST == 0 || r.e.State() != Closed {
		t.Fatalf("after 9 probes: %s, state %v", &last.s, r.e.State())
	}
	if errs := r.errs(); len(errs) != 1 || !errors.Is(errs[0], syscall.ETIMEDOUT) {
		t.Fatalf("errors %v", errs)
	}
	if d := r.now - start; d < 60*time.Second+9*10*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// SHLD-12 (3.8.4): a keep-alive carries no data: Linux sends an empty ACK
// at SND.UNA-1 (no garbage octet), which the peer must answer.
func TestRFC9293_SHLD_12_KeepAliveWithoutData(t *testing.T) {
	r := r9Plain(t, nil)
	r.e.SetKeepAlive(r.now, true, time.Minute, 0, 0)
	out := r.run(61 * time.Second)
	p := r9Only(t, r9Untime(out), "keep-alive")
	if len(p.Payload) != 0 || p.Seq != r9ISS || p.Flags != wire.FlagACK || p.Ack != r.nxt {
		t.Fatalf("keep-alive %s, want an empty ACK at SND.UNA-1 = %d", &p, r9ISS)
	}
}

// r9CC is a congestion-control algorithm registered by the test: NewReno's
// arithmetic that records that it was used.
type r9CC struct {
	cc.Algorithm
	used *bool
}

func (a r9CC) Init(s *cc.Sender) { *a.used = true; a.Algorithm.Init(s) }

var (
	r9CCOnce sync.Once
	r9CCUsed bool
)

// MAY-18 (3.8.2): alternative congestion control algorithms can be used: any
// algorithm registered with package cc is chosen by name
// (tcp_congestion_control), per Config.
func TestRFC9293_MAY_18_AlternativeCongestionControl(t *testing.T) {
	r9CCOnce.Do(func() {
		cc.Register("rfc9293-test", func() cc.Algorithm {
			base, _ := cc.New("reno")
			return r9CC{base, &r9CCUsed}
		})
	})
	r := r9Plain(t, r9Config(func(c *Config) { c.CongestionControl = "rfc9293-test" }))
	if !r9CCUsed {
		t.Fatal("the registered algorithm was not used")
	}
	if got := r9Sizes(r.write(make([]byte, 3000))); len(got) != 3 {
		t.Fatalf("sent %v", got)
	}
	bad := DefaultConfig()
	bad.CongestionControl = "no-such-algorithm"
	if _, err := New(&bad, &recorder{}); err == nil {
		t.Fatal("an unknown algorithm was accepted")
	}
}

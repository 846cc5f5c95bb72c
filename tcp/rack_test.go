package tcp

// RACK-TLP tests (rack.go, RFC 8985), written as exchanges of segments with
// the helpers of recovery_test.go. The connection's RTT is 100 ms (min_RTT
// and SRTT), so RACK's reordering window is 25 ms and the loss probe
// timeout 2*SRTT + 2 ms.

import (
	"testing"
	"time"
)

// lrTimerSlack is what Linux adds to RACK's reordering timer
// (TCP_TIMEOUT_MIN, 2 jiffies in tcp_rack_mark_lost); RFC 8985 6.3 arms it
// for the exact remaining time. Either is accepted.
const lrTimerSlack = 2 * time.Millisecond

// TestRFC8985_6_2_ReorderingWindow: a segment is lost once a segment sent
// after it is delivered and RACK.rtt + reo_wnd has passed since it was sent
// (RFC 8985 6.2 step 5). reo_wnd is min_RTT/4, but 0 while no reordering has
// been seen and DupThresh segments are SACKed (step 4, Linux
// tcp_rack_reo_wnd), unless tcp_recovery has RecoveryNoDupThresh. When the
// segment is not yet old enough, the reordering timer is armed for the time
// left (6.3).
func TestRFC8985_6_2_ReorderingWindow(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		recovery int
		sacks    [][][2]int // one ACK each, 1 ms apart, the first 100 ms after the send
		wait     time.Duration
		info     lrInfo
		seen     uint32 // ReordSeen
	}{
		// One SACK: wait 25 ms, then the reordering timer marks segment 0
		// lost and starts recovery: PRR sends ceil(1 * 7/10) = 1.
		{"one SACK waits min_RTT/4", RecoveryRACK, [][][2]int{{{1, 2}}}, 25 * ms,
			lrI("recovery", 9, 7, 10, 1, 1, 1), 0},
		// DupThresh (3) SACKed and no reordering seen: lost at once.
		{"DupThresh SACKs: no wait", RecoveryRACK, [][][2]int{{{1, 4}}}, 0,
			lrI("recovery", 7, 7, 10, 3, 1, 1), 0},
		{"RecoveryNoDupThresh keeps the window", RecoveryRACK | RecoveryNoDupThresh, [][][2]int{{{1, 4}}}, 25 * ms,
			lrI("recovery", 7, 7, 10, 3, 1, 1), 0},
		// Segment 1 delivered after 2, below the highest SACKed: reordering
		// seen, so four SACKed segments no longer shut the window.
		{"reordering seen keeps the window", RecoveryRACK, [][][2]int{{{2, 3}}, {{1, 3}}, {{1, 5}}}, 25 * ms,
			lrI("recovery", 6, 7, 10, 4, 1, 1), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.Recovery = c.recovery }), lrOpts{})
			l.send(10)
			l.now += 99 * ms
			for i, b := range c.sacks {
				l.now += ms
				out := l.sack(lrSeq(0), b...)
				if c.wait == 0 && i == len(c.sacks)-1 {
					lrExpect(t, "the last SACK", out, lrSegs(0))
				} else if len(out) != 0 {
					t.Fatalf("SACK %v: sent %s, want nothing yet", b, r9Fmt(out))
				}
			}
			if c.wait > 0 {
				last := l.now
				out := l.runData(c.wait+lrTimerSlack, last)
				if len(out) != 1 || out[0].s.Seq != lrSeq(0) || out[0].after < c.wait || out[0].after > c.wait+lrTimerSlack {
					t.Fatalf("after the last SACK: sent %s, want %d:%d after %v", lrFmtTimed(out), lrSeq(0), lrSeq(1), c.wait)
				}
			}
			l.expectInfo("after the loss", c.info)
			if got := l.e.Info().ReordSeen; got != c.seen {
				t.Fatalf("ReordSeen %d, want %d", got, c.seen)
			}
		})
	}
}

// TestRFC8985_6_2_ReorderingDetection: a segment never retransmitted that
// is delivered below the highest delivered sequence (RACK.fack) shows
// reordering (RFC 8985 6.2 step 3); its distance, in segments, raises the
// reordering degree (Linux tcp_check_sack_reordering, tcpi_reordering),
// capped by tcp_max_reordering.
func TestRFC8985_6_2_ReorderingDetection(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name       string
		maxReord   int
		reordering int
	}{
		{"default", 300, 7},
		{"tcp_max_reordering 5", 5, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.MaxReordering = c.maxReord }), lrOpts{})
			l.send(10)
			l.play([]lrStep{
				{100 * ms, 0, [][2]int{{2, 3}}, nil, lrI("disorder", 10, lrInf, 10, 1, 0, 0)},
				// 1 below fack 3: 2 segments, not more than the degree 3.
				{ms, 0, [][2]int{{1, 3}}, nil, lrI("disorder", 10, lrInf, 10, 2, 0, 0)},
				// Six SACKed, but reordering was seen: the window stays
				// open and segment 0 is not lost yet.
				{ms, 0, [][2]int{{1, 7}}, nil, lrI("disorder", 10, lrInf, 10, 6, 0, 0)},
			})
			// Segment 0 arrives 7 segments below fack: reordering degree
			// 7. The ACK grows cwnd by one (slow start).
			w := lrI("open", 11, lrInf, 3, 0, 0, 0)
			w.Reordering = c.reordering
			l.play([]lrStep{{ms, 7, nil, nil, w}})
			i := l.e.Info()
			if i.ReordSeen != 2 || i.TotalRetrans != 0 || i.FastRetrans != 0 {
				t.Fatalf("ReordSeen %d, TotalRetrans %d, FastRetrans %d; want 2, 0, 0", i.ReordSeen, i.TotalRetrans, i.FastRetrans)
			}
		})
	}
}

// TestRFC8985_6_2_RetransmissionLostAgain: a retransmission is itself
// deemed lost when a segment sent after it is delivered and RACK.rtt +
// reo_wnd has passed (RFC 8985 6.2, RACK_detect_loss over retransmitted
// segments too): it is resent without waiting for the RTO.
func TestRFC8985_6_2_RetransmissionLostAgain(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	l.send(20)
	l.play([]lrStep{
		{100 * ms, 0, [][2]int{{1, 4}}, lrSegs(0), lrI("recovery", 7, 7, 10, 3, 1, 1)},
		// 1 ms later PRR lets new segment 10 go, after the retransmission.
		{ms, 0, [][2]int{{1, 5}}, lrSegs(10), lrI("recovery", 7, 7, 11, 4, 1, 1)},
		// A round trip later everything up to 10 is SACKed but the
		// retransmission of 0, sent 1 ms before 10: lost again, and resent
		// first. pipe 0: PRR-SSRB sends min(ssthresh 7, max(10 - 2, 6)).
		{100 * ms, 0, [][2]int{{1, 11}}, lrSegs(0, 11, 12, 13, 14, 15, 16), lrI("recovery", 7, 7, 17, 10, 1, 1)},
	})
	if i := l.e.Info(); i.TotalRetrans != 2 || i.Timeouts != 0 || i.FastRetrans != 1 {
		t.Fatalf("TotalRetrans %d, Timeouts %d, FastRetrans %d; want 2, 0, 1", i.TotalRetrans, i.Timeouts, i.FastRetrans)
	}
}

// TestRFC8985_6_2_DSACKWidensReorderingWindow: a DSACK for a spurious
// retransmission, once reordering has been seen, widens the reordering
// window by min_RTT/4 (RFC 8985 6.2 step 4, Linux reo_wnd_steps), up to
// SRTT; RecoveryStaticReoWnd keeps it at min_RTT/4.
func TestRFC8985_6_2_DSACKWidensReorderingWindow(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		recovery int
		wait     time.Duration
	}{
		{"default", RecoveryRACK, 50 * ms},
		{"RecoveryStaticReoWnd", RecoveryRACK | RecoveryStaticReoWnd, 25 * ms},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.Recovery = c.recovery }), lrOpts{})
			// Flight 1: reordering is seen (1 after 2, then 0 last).
			l.send(10)
			l.now += 100 * ms
			l.sack(lrSeq(0), [2]int{2, 3})
			l.now += ms
			l.sack(lrSeq(0), [2]int{1, 3})
			l.now += ms
			l.sack(lrSeq(10))
			// Flight 2: 10 is reordered beyond the window and retransmitted
			// by the reordering timer; the original arrives, then the
			// duplicate is reported.
			lrExpect(t, "flight 2", l.send(10), lrSegs(10, 11, 12, 13, 14, 15, 16, 17, 18, 19))
			l.now += 100 * ms
			if out := l.sack(lrSeq(10), [2]int{11, 14}); len(out) != 0 {
				t.Fatalf("flight 2 SACK: sent %s, want nothing (reordering seen)", r9Fmt(out))
			}
			if out := l.runData(25*ms+lrTimerSlack, l.now); len(out) != 1 || out[0].s.Seq != lrSeq(10) {
				t.Fatalf("flight 2: sent %s, want %d:%d after 25ms", lrFmtTimed(out), lrSeq(10), lrSeq(11))
			}
			l.now += ms
			l.sack(lrSeq(20))
			l.now += 100 * ms
			l.in(l.ackRaw(lrSeq(20), dsb(10, 11)))
			if got := l.e.Info().DSACKDups; got != 1 {
				t.Fatalf("DSACKDups %d, want 1", got)
			}
			// Flight 3: one SACK. The window is now 2 * 25 ms.
			lrExpect(t, "flight 3", l.send(10), lrSegs(20, 21, 22, 23, 24, 25, 26, 27, 28, 29))
			l.now += 100 * ms
			if out := l.sack(lrSeq(20), [2]int{21, 22}); len(out) != 0 {
				t.Fatalf("flight 3 SACK: sent %s, want nothing yet", r9Fmt(out))
			}
			out := l.runData(c.wait+lrTimerSlack, l.now)
			if len(out) != 1 || out[0].s.Seq != lrSeq(20) || out[0].after < c.wait {
				t.Fatalf("flight 3: sent %s, want %d:%d after %v", lrFmtTimed(out), lrSeq(20), lrSeq(21), c.wait)
			}
		})
	}
}

// TestRFC8985_7_TLPProbesLastSegment: when the ACKs stop and no new data
// is waiting, the loss probe resends the last segment after PTO = 2*SRTT +
// 2 ms (2*SRTT + RTOMin with one segment outstanding), never later than the
// RTO (RFC 8985 7.2-7.3, Linux tcp_schedule_loss_probe); the RTO is then
// rearmed from the probe. TLP needs SACK and tcp_early_retrans 3 or 4.
func TestRFC8985_7_TLPProbesLastSegment(t *testing.T) {
	ms := time.Millisecond
	type at struct {
		after time.Duration
		seg   int
	}
	for _, c := range []struct {
		name   string
		early  int
		noSACK bool
		n      int
		want   []at
		probes uint64
	}{
		// Probe of segment 9 at 202 ms; RTO 300 ms after the probe.
		{"ten segments", 3, false, 10, []at{{202 * ms, 9}, {502 * ms, 0}}, 1},
		// One segment: 2*100 + 200 ms, capped by the RTO (300 ms).
		{"one segment", 3, false, 1, []at{{300 * ms, 0}, {600 * ms, 0}}, 1},
		{"no SACK", 3, true, 10, []at{{300 * ms, 0}}, 0},
		{"tcp_early_retrans 0", 0, false, 10, []at{{300 * ms, 0}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.EarlyRetrans = c.early }), lrOpts{noSACK: c.noSACK})
			start := l.now
			l.send(c.n)
			out := l.runData(650*ms, start)
			ok := len(out) == len(c.want)
			for i := 0; ok && i < len(out); i++ {
				s := out[i].s
				ok = out[i].after == c.want[i].after && s.Seq == lrSeq(c.want[i].seg) && len(s.Payload) == lrMSS
			}
			if !ok {
				t.Fatalf("sent %s, want %v (time, segment)", lrFmtTimed(out), c.want)
			}
			if got := l.e.Info().TLPProbes; got != c.probes {
				t.Fatalf("TLPProbes %d, want %d", got, c.probes)
			}
		})
	}
}

// TestRFC8985_7_TLPSendsNewData: with new data waiting and the peer's
// window open, the probe is one new segment, sent whatever cwnd says (RFC
// 8985 7.3); its acknowledgement is no sign of loss (7.4).
func TestRFC8985_7_TLPSendsNewData(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	start := l.now
	lrExpect(t, "initial window", l.send(12), lrSegs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	out := l.runData(210*ms, start)
	if len(out) != 1 || out[0].after != 202*ms || out[0].s.Seq != lrSeq(10) {
		t.Fatalf("probe: sent %s, want %d:%d at +202ms", lrFmtTimed(out), lrSeq(10), lrSeq(11))
	}
	l.expectInfo("after the probe", lrI("open", 10, lrInf, 11, 0, 0, 0))
	// Everything arrives: slow start, no reduction.
	l.play([]lrStep{{40 * ms, 11, nil, lrSegs(11), lrI("open", 21, lrInf, 1, 0, 0, 0)}})
	if i := l.e.Info(); i.TLPProbes != 1 || i.TotalRetrans != 0 {
		t.Fatalf("TLPProbes %d, TotalRetrans %d; want 1 and 0", i.TLPProbes, i.TotalRetrans)
	}
}

// TestRFC8985_7_4_TLPRepairedLossReducesCwnd: a probe that retransmitted
// the last segment and is acknowledged, with a later ACK beyond it, without
// a DSACK for it, repaired a loss: cwnd is reduced once, as for a loss
// (RFC 8985 7.4.2; Linux tcp_process_tlp_ack: CWR to ssthresh, then Open).
// A DSACK for the probe says the original arrived too: no reduction.
func TestRFC8985_7_4_TLPRepairedLossReducesCwnd(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name  string
		dsack bool
		info  lrInfo
	}{
		// ssthresh = 0.7 * 20.
		{"loss repaired", false, lrI("open", 14, 14, 0, 0, 0, 0)},
		{"probe was a duplicate", true, lrInfo{CAState: "open", SndCwnd: 20, SndSsthresh: lrInf, Reordering: 3, DSACKDups: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, nil, lrOpts{})
			start := l.now
			l.send(10)
			out := l.runData(210*ms, start)
			if len(out) != 1 || out[0].after != 202*ms || out[0].s.Seq != lrSeq(9) {
				t.Fatalf("probe: sent %s, want %d:%d at +202ms", lrFmtTimed(out), lrSeq(9), lrSeq(10))
			}
			l.now += 40 * ms
			ack := l.ackSeg(lrSeq(10))
			if c.dsack {
				ack = l.ackRaw(lrSeq(10), dsb(9, 10))
			}
			if out := l.in(ack); len(out) != 0 {
				t.Fatalf("ACK of the probe answered with %s", r9Fmt(out))
			}
			// The ACK reaches the probe's end (TLP.end_seq) but not beyond:
			// not decided yet. Slow start took cwnd to 20.
			w := lrI("open", 20, lrInf, 0, 0, 0, 0)
			w.DSACKDups = c.info.DSACKDups
			l.expectInfo("ACK of the probe", w)
			l.now += 10 * ms
			lrExpect(t, "one more segment", l.send(1), lrSegs(10))
			l.play([]lrStep{{100 * ms, 11, nil, nil, c.info}})
		})
	}
}

package tcp

import (
	"testing"
	"time"
)

// Linux's tcp_schedule_loss_probe from tcp_set_xmit_timer (after an ACK):
// the probe is due at 2*SRTT + 2 ms, or when the oldest outstanding
// segment's RTO expires if that is earlier (tcp_rto_delta_us), not a full
// RTO from the ACK.
func TestLinux_TLP_DueNoLaterThanOldestRTOAfterAck(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, nil, lrOpts{})
	start := l.now
	lrExpect(t, "initial window", l.send(10), lrSegs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	// A slow ACK of the first half, 150 ms later.
	l.now += 150 * ms
	if out := l.sack(lrSeq(5)); len(out) != 0 {
		t.Fatalf("the ACK sent %s, want nothing (no data left)", r9Fmt(out))
	}
	i := l.e.Info()
	pto := 2*i.RTT + 2*ms
	delta := i.RTO - 150*ms // segment 5 went out at the start
	if delta >= pto {
		t.Fatalf("setup: the oldest segment's RTO is %v away, not before the PTO %v", delta, pto)
	}
	out := l.runData(pto+10*ms, start)
	if len(out) == 0 || out[0].s.Seq != lrSeq(9) || out[0].after != 150*ms+delta {
		t.Fatalf("sent %s, want the probe (segment 9) at +%v (the oldest RTO), not +%v (PTO after the ACK)",
			lrFmtTimed(out), 150*ms+delta, 150*ms+pto)
	}
	if got := l.e.Info().TLPProbes; got != 1 {
		t.Fatalf("TLPProbes %d, want 1", got)
	}
}

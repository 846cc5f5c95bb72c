package tcp

import "time"

// rtoDelta is Linux's tcp_rto_delta_us: how long until the RTO of the
// oldest outstanding segment expires, counted from its last transmission;
// zero or negative if that time has passed. A loss probe scheduled after
// an ACK is due no later than that (tcp_schedule_loss_probe with
// "advanced" set, from tcp_set_xmit_timer), Linux's reading of RFC 8985
// 7.2's cap of the PTO by the RTO: a probe must not postpone the oldest
// segment's timeout.
func (t *TCB) rtoDelta() time.Duration {
	q := &t.rtxq
	rto := t.rtoBackedOff()
	if q.head >= len(q.segs) {
		return rto
	}
	return q.segs[q.head].xmit + rto - t.now
}

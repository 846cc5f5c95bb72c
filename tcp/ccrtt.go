package tcp

import "time"

// The RTT sample congestion control gets with each ACK (cc.Algorithm's
// PktsAcked): the time since the most recently sent of the segments the ACK
// newly acknowledges, from the retransmission queue's transmit times, as
// Linux's ca_rtt_us ("RTT of last (S)ACKed packet"). RFC 6298's estimator
// keeps its own samples; HyStart and HyStart++ (RFC 9406 4.2) need one on
// every ACK, timestamps or not. If the ACK covers retransmitted data, the
// transmit times are ambiguous (Karn's rule, RFC 6298 3) and the ACK's RFC
// 6298 sample is used instead (the timestamp echo, if any), as in Linux.

// ackCARTT returns that sample for an ACK up to ack, before the queue
// forgets what it covers, or -1.
func (t *TCB) ackCARTT(ack uint32) time.Duration {
	var newest Time
	found := false
	for _, s := range t.rtxq.live() {
		if !seqLT(s.start, ack) {
			break
		}
		if s.has(txEverRetrans) {
			return -1
		}
		if !s.has(txSacked) && (!found || s.xmit > newest) {
			newest, found = s.xmit, true
		}
	}
	if !found || t.now < newest {
		return -1
	}
	return t.now - newest
}

// ccRTT is the RTT sample to give PktsAcked for ai.
func (ai *ackInfo) ccRTT() time.Duration {
	if ai.unaAdvanced && ai.caRTT >= 0 {
		return ai.caRTT
	}
	return ai.rttSample
}

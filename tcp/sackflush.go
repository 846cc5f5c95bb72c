package tcp

// RFC 2018 4: the first SACK block of an ACK reports the block holding the
// segment that triggered it, and a receiver reports as many distinct blocks
// as it can. While an ACK is held for a batch of arriving segments (MUST-59,
// HoldAck/InputBatch), one ACK answers the whole batch, and it has room for
// three or four blocks: a batch that opens several new out-of-order blocks
// (after a burst of losses, every run of segments that got through is one)
// would report only the last, and the sender, never told the others arrived,
// would retransmit them (RACK marks them lost once later data is SACKed).
// Linux never loses a block that way: GRO merges only contiguous segments,
// every out-of-order segment gets its ACK at once (__tcp_ack_snd_check), and
// when SACKs are being compressed, an ACK goes out before a new block
// pushes an unreported one out of the list (tcp_sack_new_ofo_skb). So the
// held ACK is sent as soon as an out-of-order segment arrives that does not
// touch the block the held ACK would report first.

// flushHeldSACK sends the held ACK before the out-of-order segment
// [seq, seq+n) is stored, when that ACK would report a block not yet
// reported and the segment opens or extends another one.
func (t *TCB) flushHeldSACK(seq uint32, n int) {
	if !t.holdAck || !t.sackHeld || !t.sackOK || !t.lastOOOValid {
		return
	}
	for _, r := range t.rcvBuf.oooRanges() {
		left, right := t.rcvNxt+uint32(r.start), t.rcvNxt+uint32(r.end)
		if !seqInWindow(t.lastOOO, left, right-left) {
			continue
		}
		if seqLEQ(seq, right) && seqGEQ(seq+uint32(n), left) {
			return // the same block grows: the held ACK still reports it
		}
		t.sendAck()
		return
	}
	// The block became in-order data: the held ACK's cumulative
	// acknowledgment covers it.
}

package tcp

// Direct delivery to a waiting reader.
//
// A reader blocked in a read with nothing to read may lend the engine its
// buffer (LendRead). In-order data that arrives while the receive buffer is
// empty is then copied straight into it, instead of into the receive buffer
// and out again when the reader wakes: one copy per byte instead of two.
// This is what Linux's receive path did for a process sleeping in recvmsg
// (the "ucopy"/prequeue path of tcp_data_queue, removed in 4.14 when
// sleeping readers became rare in the kernel's workloads); for a
// user-space stack, where every copy is the application's CPU, it still
// pays.
//
// The bytes count as read the moment they are copied: RCV.NXT and the
// reader's position move together, the receive buffer's free space (and so
// the window offered) does not shrink, and the receive-buffer auto-tuning
// sees them as consumed. Nothing else is observable: the segments sent are
// the ones an immediately woken reader would have caused, less the window
// update that reading a full buffer may trigger.
//
// The loan lasts until ReturnRead, which must be called, under the same
// serialisation as every other call, by the lender before it uses its
// buffer again; it returns how many bytes the buffer received. Data is only
// placed directly when doing so cannot reorder it or change what the
// socket API reports: the receive buffer holds nothing (in order or out of
// order), the read side is open, no FIN was received and no urgent data is
// pending.

// LendRead lends p, the buffer of a reader waiting for data, to the
// engine. It returns false (and keeps nothing) if p is empty, data is
// already waiting, or another buffer is lent.
func (t *TCB) LendRead(p []byte) bool {
	if len(p) == 0 || t.lent != nil || t.rcvBuf.readable() > 0 {
		return false
	}
	t.lent, t.lentN = p[:min(len(p), maxBufferSize)], 0 // lentN is 32 bits
	return true
}

// ReturnRead ends the loan of LendRead and returns how many bytes were
// placed at the start of the buffer.
func (t *TCB) ReturnRead() int {
	n := int(t.lentN)
	t.lent, t.lentN = nil, 0
	if n > 0 {
		t.rcvSpaceAdjust()
	}
	return n
}

// deliverDirect copies what it can of p, in-order data at RCV.NXT, into
// the lent buffer and returns how many bytes it took. RCV.NXT is the
// caller's to advance.
func (t *TCB) deliverDirect(p []byte) int {
	if !t.directOK() {
		return 0
	}
	if staged := t.stagedPrefix(p); staged > 0 && t.stagedLent {
		// StagePayload already copied (and checksummed) them there.
		t.lentN += int32(staged)
		return staged
	}
	n := copy(t.lent[t.lentN:], p)
	t.lentN += int32(n)
	return n
}

// directOK reports whether in-order data may go into the lent buffer now:
// there is room, and nothing that must come first or be reported is held.
func (t *TCB) directOK() bool {
	return int(t.lentN) < len(t.lent) && !t.readShut && !t.rcvFin && !t.rcvUrg &&
		t.rcvBuf.readable() == 0 && t.rcvBuf.oooBytes() == 0
}

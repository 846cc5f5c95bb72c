package tcp

import "github.com/synfin/synfin/wire"

// TimeWaitRecord is the compact form of a connection in TIME_WAIT: the few values
// needed to answer the peer for 2*MSL (RFC 9293 3.6, 3.10.7.4) without
// buffers, timers or a TCB. A host keeps one per closed connection, so it is
// small (about 40 bytes); Linux does the same with its timewait sockets.
type TimeWaitRecord struct {
	SndNxt     uint32 // our next sequence number (after our FIN)
	RcvNxt     uint32 // after the peer's FIN
	TSRecent   uint32
	TSOffset   uint32
	TSRecentAt Time
	// Expires is when TIME_WAIT ends (the 2MSL timer).
	Expires Time
	// Window is the window field to advertise in ACKs.
	Window uint16
	TSOK   bool
}

// TimeWaitVerdict is what the owner of a TimeWait must do after Input.
type TimeWaitVerdict uint8

// TimeWait verdicts.
const (
	// TimeWaitKeep: stay in TIME_WAIT (Expires may have moved).
	TimeWaitKeep TimeWaitVerdict = iota
	// TimeWaitClose: an RST ended TIME_WAIT (TIME_WAIT assassination, RFC
	// 1337, allowed unless tcp_rfc1337 is set); forget the connection.
	TimeWaitClose
	// TimeWaitNewSYN: an acceptable new SYN for the same 4-tuple (RFC 6191):
	// forget the TIME_WAIT state and open a new connection for it with an
	// ISN beyond the old one (NextISN).
	TimeWaitNewSYN
)

// TimeWaitRecord returns the compact form of a TCB in TIME_WAIT.
func (t *TCB) TimeWaitRecord() (TimeWaitRecord, bool) {
	if t.state != TimeWait {
		return TimeWaitRecord{}, false
	}
	w := t.rcvWindowToAdvertise() >> t.rcvWscale
	if w > 65535 {
		w = 65535
	}
	return TimeWaitRecord{
		SndNxt:     t.sndMax,
		RcvNxt:     t.rcvNxt,
		TSRecent:   t.tsRecent,
		TSOffset:   t.tsOffset,
		TSRecentAt: t.tsRecentT,
		Expires:    t.closeTimer.at(),
		Window:     uint16(w),
		TSOK:       t.tsOK,
	}, true
}

// NextISN is the ISN for a new incarnation of the connection: beyond
// anything the old one sent, as Linux picks it (RFC 9293 3.4.1).
func (tw *TimeWaitRecord) NextISN() uint32 { return tw.SndNxt + 65535 + 2 }

// Input processes a segment arriving for a connection in TIME_WAIT. When
// send is true, reply is to be transmitted (an ACK repeating our final
// state).
//
// The rules (RFC 9293 3.10.7.4; RFC 7323 5 PAWS; RFC 1337; RFC 6191, as
// Linux's tcp_timewait_state_process applies them): a retransmitted FIN is
// ACKed again and restarts the 2MSL timer; an RST exactly at RCV.NXT ends
// TIME_WAIT unless tcp_rfc1337; a SYN with a higher sequence number (or newer
// timestamp) may start a new incarnation; anything else is ACKed.
func (tw *TimeWaitRecord) Input(now Time, cfg *Config, seg *Segment) (reply Segment, send bool, v TimeWaitVerdict) {
	f := seg.Flags
	paws := tw.TSOK && seg.Options.HasTimestamps && now-tw.TSRecentAt <= pawsIdleLimit &&
		seqLT(seg.Options.TSVal, tw.TSRecent)
	if f&wire.FlagRST != 0 {
		if paws || seg.Seq != tw.RcvNxt || cfg.RFC1337 {
			return Segment{}, false, TimeWaitKeep
		}
		return Segment{}, false, TimeWaitClose
	}
	if f&wire.FlagSYN != 0 && f&wire.FlagACK == 0 && !paws {
		newer := seqGT(seg.Seq, tw.RcvNxt)
		if tw.TSOK && seg.Options.HasTimestamps {
			newer = seqGT(seg.Options.TSVal, tw.TSRecent)
		}
		if newer {
			return Segment{}, false, TimeWaitNewSYN
		}
	}
	if !paws && f&wire.FlagACK != 0 && f&(wire.FlagFIN|wire.FlagSYN) == 0 && len(seg.Payload) == 0 && seg.Seq == tw.RcvNxt {
		// An in-window bare ACK: remember its timestamp, say nothing. Only
		// such segments update TS.Recent in TIME_WAIT; a retransmitted FIN
		// lies below RCV.NXT and is re-ACKed with the old TSecr, as Linux's
		// tcp_timewait_state_process does.
		if tw.TSOK && seg.Options.HasTimestamps {
			tw.TSRecent, tw.TSRecentAt = seg.Options.TSVal, now
		}
		return Segment{}, false, TimeWaitKeep
	}
	if paws || f&wire.FlagACK != 0 || f&wire.FlagFIN != 0 {
		// A retransmitted FIN (its ACK was lost) or a stray segment: restart
		// the 2MSL timer and repeat our final ACK.
		tw.Expires = now + cfg.TimeWaitLen
	}
	return tw.ack(now), true, TimeWaitKeep
}

func (tw *TimeWaitRecord) ack(now Time) Segment {
	s := Segment{Seq: tw.SndNxt, Ack: tw.RcvNxt, Flags: wire.FlagACK, Window: tw.Window}
	if tw.TSOK {
		s.Options.HasTimestamps = true
		s.Options.TSVal = uint32(now/1e6) + tw.TSOffset
		s.Options.TSEcr = tw.TSRecent
	}
	return s
}

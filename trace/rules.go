package trace

import (
	"fmt"
	"strings"

	"github.com/synfin/synfin/wire"
)

// annotate sets each segment's Rule: what the packets show it to be (new
// data, a retransmission, an ACK that advances, a duplicate ACK, a window
// update...) and the rule of RFC 9293 3.10.7 it meets at its receiver, as
// far as an observer can tell, followed by the state changes it proves or
// causes. Nothing here comes from inside the hosts: cwnd, for one, is not
// in the packets and is never guessed.
func annotate(c *Conn) {
	var (
		hiSeq  [2]uint32 // highest sequence number sent + 1 (relative)
		sent   [2]bool
		hiAck  [2]uint32 // highest ACK sent (relative to the peer's ISN)
		acked  [2]bool
		win    [2]uint16 // the last window advertised
		winSet [2]bool
		dups   [2]int // duplicate ACKs in a row
	)
	steps := map[int][]string{}
	for _, st := range c.Steps {
		if st.Packet > 0 {
			steps[st.Packet] = append(steps[st.Packet], fmt.Sprintf("%v %v -> %v: %s [%s]", st.Side, st.From, st.To, st.Cause, st.Confidence))
		}
	}
	for i := range c.Segments {
		g := &c.Segments[i]
		x, y := g.From, g.From.Peer()
		f := g.Flags
		var parts []string
		const p = "RFC 9293 3.10.7.4 "
		switch {
		case f&wire.FlagRST != 0:
			parts = append(parts, "RST: acted on only at RCV.NXT (3.10.7.4 second check, RFC 5961 3.2); "+
				"with no connection, the answer to a segment (3.10.7.1)")
		case f&wire.FlagSYN != 0:
			what := "SYN"
			if f&wire.FlagACK != 0 {
				what = "SYN-ACK"
			}
			if sent[x] && g.RelSeq+g.SeqLen() == hiSeq[x] {
				parts = append(parts, what+" again: a retransmission (RFC 6298 5.4), or an answer to the peer's SYN again")
			} else {
				parts = append(parts, what)
			}
		}
		if f&(wire.FlagRST|wire.FlagSYN) == 0 {
			// The text (seventh check) and FIN (eighth).
			end := g.RelSeq + g.SeqLen()
			switch {
			case g.SeqLen() == 0:
			case !sent[x]:
				parts = append(parts, fmt.Sprintf("%d bytes (the first seen from %v)", g.Len, x))
			case g.Len == 1 && f&wire.FlagFIN == 0 && g.RelSeq+1 == hiSeq[x]:
				parts = append(parts, "one byte sent before: a keep-alive or zero-window probe (RFC 9293 3.8.4, 3.8.6.1), or a retransmission")
			case int32(end-hiSeq[x]) <= 0:
				parts = append(parts, fmt.Sprintf("retransmission: sequence numbers %d to %d were sent before (RFC 6298 5.4 timeout or RFC 5681 3.2 fast retransmit)", g.RelSeq, end))
			case int32(g.RelSeq-hiSeq[x]) > 0:
				parts = append(parts, fmt.Sprintf(p+"seventh check: %d bytes beyond a gap of %d: queued out of order, or the capture missed a segment", g.Len, g.RelSeq-hiSeq[x]))
			case g.Len > 0:
				parts = append(parts, fmt.Sprintf(p+"seventh check: %d new bytes in order", g.Len))
			}
			if f&wire.FlagFIN != 0 {
				parts = append(parts, p+"eighth check: FIN")
			}
			if g.Len == 0 && g.SeqLen() == 0 && sent[x] && g.RelSeq == hiSeq[x]-1 {
				parts = append(parts, "keep-alive or zero-window probe at SND.UNA-1 (RFC 9293 3.8.4, 3.8.6.1)")
			}
		}
		// The ACK (fifth check), but not a SYN-ACK's (the handshake's own).
		if f&wire.FlagACK != 0 && f&(wire.FlagRST|wire.FlagSYN) == 0 {
			switch {
			case !acked[x]:
				parts = append(parts, fmt.Sprintf(p+"fifth check: ACK up to %d", g.RelAck))
			case int32(g.RelAck-hiAck[x]) > 0:
				parts = append(parts, fmt.Sprintf(p+"fifth check: ACK advances SND.UNA by %d", g.RelAck-hiAck[x]))
				dups[x] = 0
			case g.Len == 0 && f&wire.FlagFIN == 0 && winSet[x] && g.Window == win[x] && sent[y] && int32(hiSeq[y]-g.RelAck) > 0:
				dups[x]++
				d := fmt.Sprintf(p+"fifth check: duplicate ACK %d (RFC 5681 2): data is outstanding and nothing new is acknowledged", dups[x])
				if dups[x] == 3 {
					d += "; the third calls for a fast retransmit (RFC 5681 3.2)"
				}
				parts = append(parts, d)
			}
			switch {
			case g.Window == 0:
				parts = append(parts, "zero window: the peer may send nothing more and probes (RFC 9293 3.8.6.1)")
			case winSet[x] && g.Window != win[x]:
				parts = append(parts, fmt.Sprintf("window update: %d -> %d (raw field)", win[x], g.Window))
			}
			if !acked[x] || int32(g.RelAck-hiAck[x]) > 0 {
				hiAck[x], acked[x] = g.RelAck, true
			}
		}
		if f&wire.FlagRST == 0 {
			if end := g.RelSeq + g.SeqLen(); !sent[x] || int32(end-hiSeq[x]) > 0 {
				hiSeq[x], sent[x] = end, true
			}
			if f&wire.FlagSYN == 0 {
				win[x], winSet[x] = g.Window, true
			}
		}
		if len(parts) == 0 {
			parts = append(parts, p+"first check: acceptable; nothing new acknowledged")
		}
		// Name RFC 9293 3.10.7.4 once for the checks that follow one another.
		named := false
		for k, part := range parts {
			if strings.HasPrefix(part, p) {
				if named {
					parts[k] = strings.TrimPrefix(part, p)
				}
				named = true
			}
		}
		parts = append(parts, steps[g.Packet]...)
		g.Rule = strings.Join(parts, "; ")
	}
}

package trace

import (
	"fmt"
	"strings"
	"time"

	"github.com/synfin/synfin/viz"
	"github.com/synfin/synfin/wire"
)

// Ladder converts the connection into viz's packet ladder. Times are from
// the connection's first packet. The capture shows each packet once, at
// the capture point; the ladder needs a send and an arrival time. With the
// capture near one end (Vantage), that end's packets are sent at their
// capture time and arrive half the handshake round trip later, and the
// other end's packets arrive at their capture time and were sent half a
// round trip before; otherwise the half round trip is split either side.
// A state change caused by sending sits at the packet's send time, one
// caused by receiving at its arrival.
func (c *Conn) Ladder() viz.Ladder {
	owd := c.Vantage.RTT / 2
	if c.Vantage.Near == "both" {
		owd = 0
	}
	shift := owd - c.Start // keeps every time >= 0
	send := func(g *Segment) (time.Duration, time.Duration) {
		t := g.Time + shift
		switch {
		case c.Vantage.Near == "left" && g.From == Left, c.Vantage.Near == "right" && g.From == Right:
			return t, t + owd
		case c.Vantage.Near == "left", c.Vantage.Near == "right":
			return t - owd, t
		}
		return t - owd/2, t + owd - owd/2
	}
	l := viz.Ladder{
		Title: fmt.Sprintf("connection %d: %v to %v", c.Index, c.Left, c.Right),
		Left:  c.Left.String(),
		Right: c.Right.String(),
	}
	byPacket := map[int]*Segment{}
	for i := range c.Segments {
		g := &c.Segments[i]
		byPacket[g.Packet] = g
		t, a := send(g)
		l.Messages = append(l.Messages, viz.Message{
			Time: t, Arrive: a, From: viz.Side(g.From), Flags: tcpdumpFlags(g.Flags),
			Seq: g.RelSeq, Ack: g.RelAck, Len: g.Len, Win: g.Window, Lost: g.Lost, Rule: g.Rule,
		})
	}
	for _, st := range c.Steps {
		t := st.Time + shift
		if g := byPacket[st.Packet]; g != nil {
			s, a := send(g)
			t = s
			if g.From != st.Side {
				t = a
			}
		}
		vs := viz.Step{Time: t, From: st.From, To: st.To, Cause: st.Cause}
		if st.Side == Left {
			l.LeftSteps = append(l.LeftSteps, vs)
		} else {
			l.RightSteps = append(l.RightSteps, vs)
		}
	}
	return l
}

// Paths returns both ends' ways through the state diagram.
func (c *Conn) Paths() []viz.Path {
	var out []viz.Path
	for _, s := range []Side{Left, Right} {
		var steps []viz.Step
		for _, st := range c.SideSteps(s) {
			steps = append(steps, viz.Step{Time: st.Time, From: st.From, To: st.To, Cause: st.Cause})
		}
		out = append(out, viz.Path{Name: fmt.Sprintf("%v %v", s, c.Endpoint(s)), Steps: steps})
	}
	return out
}

// tcpdumpFlags writes flags as tcpdump does: "S", "S.", "F.", "P.", "R.", ".".
func tcpdumpFlags(f wire.TCPFlags) string {
	var b strings.Builder
	for _, x := range []struct {
		f wire.TCPFlags
		c byte
	}{{wire.FlagSYN, 'S'}, {wire.FlagFIN, 'F'}, {wire.FlagPSH, 'P'}, {wire.FlagRST, 'R'}, {wire.FlagURG, 'U'}, {wire.FlagECE, 'E'}, {wire.FlagCWR, 'W'}} {
		if f&x.f != 0 {
			b.WriteByte(x.c)
		}
	}
	if f&wire.FlagACK != 0 {
		b.WriteByte('.')
	}
	return b.String()
}

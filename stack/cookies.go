package stack

import (
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// sendCookie answers a SYN statelessly (SYN queue full, tcp_syncookies=1):
// a throw-away TCB builds the SYN-ACK exactly as a real one would, with the
// cookie as ISN and the option bits in the TSval's low bits.
func (s *Stack) sendCookie(l *listener, nic *NIC, key connKey, syn *tcp.Segment, now time.Duration) {
	if s.cookies == nil {
		s.cookies = tcp.NewSynCookies(s.secret)
	}
	isn, _ := s.cookies.Make(now, key.local, key.remote, syn)
	c, err := s.newConn(key, nic)
	if err != nil {
		return
	}
	c.phantom = true
	o := s.openOptions(key, nic, isn)
	o.TSOffset = tcp.CookieTSOffset(now, o.TSOffset, tcp.CookieTSBits(syn, s.cfg))
	if c.tcb.Listen(now, o) != nil {
		return
	}
	synECN := tcp.CookieSYN(syn, s.cfg)
	c.tcb.Input(now, &synECN)
	s.stats.SynCookiesSent++
	// c is not linked anywhere: it is garbage now, and holds no timer.
}

// tryCookie checks whether an ACK to a listener completes a cookie handshake
// and, if so, rebuilds the connection in ESTABLISHED and queues it for
// accept.
func (s *Stack) tryCookie(l *listener, nic *NIC, key connKey, ack *tcp.Segment, now time.Duration) bool {
	if s.cookies == nil {
		s.cookies = tcp.NewSynCookies(s.secret)
	}
	o, ok := s.cookies.Check(now, key.local, key.remote, ack)
	if !ok {
		s.stats.SynCookiesInvalid++
		return false
	}
	if len(l.acceptQ) >= l.backlog {
		s.stats.ListenOverflows++
		return true
	}
	s.stats.SynCookiesValid++
	syn := tcp.Segment{Seq: ack.Seq - 1, Flags: wire.FlagSYN, Window: ack.Window}
	syn.Options.HasMSS, syn.Options.MSS = true, o.MSS
	syn.Options.HasWScale, syn.Options.WScale = o.HasWScale, o.WScale
	syn.Options.SACKPermitted = o.SACK
	if o.ECN {
		syn.Flags |= wire.FlagECE | wire.FlagCWR // ECN agreed in the SYN-ACK
	}
	if o.Timestamps {
		syn.Options.HasTimestamps, syn.Options.TSVal = true, ack.Options.TSVal
	}
	c, err := s.newConn(key, nic)
	if err != nil {
		return true
	}
	if l.user != nil {
		c.reuseAddr = l.user.reuseAddr
		l.user.applyInherited(c.tcb)
	}
	if c.tcb.Listen(now, s.openOptions(key, nic, ack.Ack-1)) != nil {
		return true
	}
	c.ln = l
	l.synQueue++
	s.conns[key] = c
	s.holdPort(key.local, c)
	s.stats.PassiveOpen++
	c.mute = true
	c.tcb.Input(now, &syn)
	c.mute = false
	c.tcb.Input(now, ack)
	s.afterEngine(c)
	return true
}

package stack

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/synfin/synfin/tcp"
)

// StateEvent reports that a connection changed state.
type StateEvent struct {
	Time          time.Duration
	Local, Remote netip.AddrPort
	Old, New      tcp.State
	Cause         tcp.Cause
}

func (e StateEvent) String() string {
	return fmt.Sprintf("%v %v->%v %v -> %v (%s)", e.Time, e.Local, e.Remote, e.Old, e.New, e.Cause)
}

type subscriber struct {
	ch chan StateEvent
}

// Subscribe returns a channel of state-change events for every connection,
// with room for buf events. Events that do not fit are dropped (and counted
// in Stats.EventsDropped) rather than stalling the stack. cancel stops the
// subscription and closes the channel.
func (s *Stack) Subscribe(buf int) (events <-chan StateEvent, cancel func()) {
	if buf < 1 {
		buf = 1
	}
	sub := &subscriber{ch: make(chan StateEvent, buf)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.subs {
			if x == sub {
				s.subs = append(s.subs[:i], s.subs[i+1:]...)
				close(sub.ch)
				return
			}
		}
	}
}

// noteStateChange publishes a state change and remembers it as the comment of
// the packet being processed (for captures).
func (s *Stack) noteStateChange(k connKey, ev tcp.Event) {
	if s.opts.Capture != nil {
		// A change caused by an arriving packet is that packet's comment;
		// one caused by a user call or a timer waits for the connection's
		// next outgoing packet (a FIN queued behind data may go out later).
		if s.inInput {
			s.comment = appendChange(s.comment, ev)
		} else if c := s.conns[k]; c != nil {
			c.capComment = appendChange(c.capComment, ev)
		}
	}
	if len(s.subs) == 0 {
		return
	}
	se := StateEvent{Time: s.clock.Now(), Local: k.local, Remote: k.remote, Old: ev.Old, New: ev.New, Cause: ev.Cause}
	for _, sub := range s.subs {
		select {
		case sub.ch <- se:
		default:
			s.stats.EventsDropped++
		}
	}
}

func appendChange(b []byte, ev tcp.Event) []byte {
	if len(b) > 0 {
		b = append(b, "; "...)
	}
	b = append(b, ev.Old.String()...)
	b = append(b, " -> "...)
	return append(b, ev.New.String()...)
}

// Socket is one row of the sockets table (what ss -tan shows).
type Socket struct {
	State         tcp.State
	RecvQ, SendQ  int // for a listener: accept queue length and backlog
	Local, Remote netip.AddrPort
	Timer         string // "on", "persist", "keepalive", "timewait", "delack" or ""
	TimerLeft     time.Duration
}

// Sockets returns the sockets table: listeners, connections and TIME_WAIT
// entries, sorted by local then remote address.
func (s *Stack) Sockets() []Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []Socket
	for _, l := range s.listeners {
		if l.closed {
			continue
		}
		out = append(out, Socket{State: tcp.Listen, RecvQ: len(l.acceptQ), SendQ: l.backlog, Local: l.addr})
	}
	for _, c := range s.conns {
		rq, sq := c.tcb.Queues()
		row := Socket{State: c.tcb.State(), RecvQ: rq, SendQ: sq, Local: c.key.local, Remote: c.key.remote}
		if name, at, ok := c.tcb.TimerName(); ok {
			row.Timer, row.TimerLeft = name, at-now
		}
		out = append(out, row)
	}
	for e := range s.timeWait.all() {
		out = append(out, Socket{State: tcp.TimeWait, Local: e.key.local, Remote: e.key.remote, Timer: "timewait", TimerLeft: e.tw.Expires - now})
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Local.Compare(out[j].Local); c != 0 {
			return c < 0
		}
		return out[i].Remote.Compare(out[j].Remote) < 0
	})
	return out
}

// ssStateNames are the names ss prints.
var ssStateNames = map[tcp.State]string{
	tcp.Closed: "UNCONN", tcp.Listen: "LISTEN", tcp.SynSent: "SYN-SENT", tcp.SynReceived: "SYN-RECV",
	tcp.Established: "ESTAB", tcp.FinWait1: "FIN-WAIT-1", tcp.FinWait2: "FIN-WAIT-2",
	tcp.CloseWait: "CLOSE-WAIT", tcp.Closing: "CLOSING", tcp.LastAck: "LAST-ACK", tcp.TimeWait: "TIME-WAIT",
}

// SSName is the state's name as ss prints it ("ESTAB", "TIME-WAIT").
func SSName(st tcp.State) string { return ssStateNames[st] }

// FormatSS lays the table out like `ss -tan` (with -o style timers).
func FormatSS(rows []Socket) string {
	out := fmt.Sprintf("%-11s %-7s %-7s %-40s %-40s %s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Timer")
	for _, r := range rows {
		peer := "*:*"
		if r.Remote.IsValid() {
			peer = r.Remote.String()
		}
		local := r.Local.String()
		if r.Local.Addr().IsUnspecified() {
			local = fmt.Sprintf("*:%d", r.Local.Port())
		}
		timer := ""
		if r.Timer != "" {
			timer = fmt.Sprintf("timer:(%s,%s)", r.Timer, r.TimerLeft.Round(time.Millisecond))
		}
		out += fmt.Sprintf("%-11s %-7d %-7d %-40s %-40s %s\n", SSName(r.State), r.RecvQ, r.SendQ, local, peer, timer)
	}
	return out
}

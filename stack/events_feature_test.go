package stack

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// drain returns the events waiting on ch.
func drain(ch <-chan StateEvent) []StateEvent {
	var out []StateEvent
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

func transitions(evs []StateEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%v -> %v (%s)\n", ev.Old, ev.New, ev.Cause)
	}
	return b.String()
}

// TestEventsLifecycle: a subscriber sees every state change of a
// connection, in order, each with its cause, from the first SYN to the end
// of TIME_WAIT, on both hosts.
func TestEventsLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		evA, cancelA := a.Subscribe(64)
		defer cancelA()
		evB, cancelB := b.Subscribe(64)
		defer cancelB()
		ln, err := b.Listen("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadAll(c)
			c.Close()
		}()
		c, err := a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		c.Close()
		time.Sleep(70 * time.Second) // through TIME_WAIT
		ln.Close()
		client, server := drain(evA), drain(evB)
		local := c.LocalAddr().String()

		wantClient := []struct {
			old, new tcp.State
			cause    tcp.Cause
		}{
			{tcp.Closed, tcp.SynSent, tcp.CauseActiveOpen},
			{tcp.SynSent, tcp.Established, tcp.CauseSynAckReceived},
			{tcp.Established, tcp.FinWait1, tcp.CauseClose},
			// The server delays the ACK of our FIN (Linux's pingpong
			// mode in CLOSE_WAIT) and closes at once: its FIN carries
			// that ACK, and FIN_WAIT_2 is skipped.
			{tcp.FinWait1, tcp.TimeWait, tcp.CauseFinAckReceived},
			{tcp.TimeWait, tcp.Closed, tcp.CauseTimeWaitExpired},
		}
		wantServer := []struct {
			old, new tcp.State
			cause    tcp.Cause
		}{
			{tcp.Closed, tcp.Listen, tcp.CausePassiveOpen},
			{tcp.Listen, tcp.SynReceived, tcp.CauseSynReceived},
			{tcp.SynReceived, tcp.Established, tcp.CauseHandshakeAck},
			{tcp.Established, tcp.CloseWait, tcp.CauseFinReceived},
			{tcp.CloseWait, tcp.LastAck, tcp.CauseClose},
			{tcp.LastAck, tcp.Closed, tcp.CauseLastAckAcked},
		}
		check := func(who string, got []StateEvent, want []struct {
			old, new tcp.State
			cause    tcp.Cause
		}, local, remote string) {
			t.Helper()
			if len(got) != len(want) {
				t.Errorf("%s: %d events, want %d:\n%s", who, len(got), len(want), transitions(got))
				return
			}
			for i, ev := range got {
				w := want[i]
				if ev.Old != w.old || ev.New != w.new || ev.Cause != w.cause {
					t.Errorf("%s event %d: %v -> %v (%s), want %v -> %v (%s)", who, i, ev.Old, ev.New, ev.Cause, w.old, w.new, w.cause)
				}
				if ev.Local.String() != local || ev.Remote.String() != remote {
					t.Errorf("%s event %d: %v -> %v, want %s -> %s", who, i, ev.Local, ev.Remote, local, remote)
				}
				if i > 0 && ev.Time < got[i-1].Time {
					t.Errorf("%s event %d goes back in time", who, i)
				}
			}
			if d := got[len(got)-1].Time - got[len(got)-2].Time; who == "client" && d != 60*time.Second {
				t.Errorf("TIME_WAIT lasted %v by the events' clock", d)
			}
		}
		check("client", client, wantClient, local, "10.0.0.2:80")
		check("server", server, wantServer, "10.0.0.2:80", local)
		if st := a.Stats(); st.EventsDropped != 0 {
			t.Errorf("EventsDropped %d", st.EventsDropped)
		}
	})
}

// TestEventsSlowSubscriber: a subscriber that does not read loses events
// (counted in EventsDropped) but never holds the stack up; another
// subscriber still gets everything.
func TestEventsSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		slow, cancelSlow := a.Subscribe(1)
		defer cancelSlow()
		fast, cancelFast := a.Subscribe(1 << 12)
		defer cancelFast()
		ln, err := b.Listen("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.ReadAll(c); c.Close() }()
			}
		}()
		const n = 20
		for i := 0; i < n; i++ {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("x"))
			c.Close()
		}
		time.Sleep(61 * time.Second)
		ln.Close()
		all := drain(fast)
		// Five transitions per connection: CLOSED, SYN_SENT, ESTABLISHED,
		// FIN_WAIT_1, TIME_WAIT (the server's FIN carries its delayed ACK
		// of ours), CLOSED.
		if len(all) != 5*n {
			t.Errorf("fast subscriber got %d events, want %d", len(all), 5*n)
		}
		got := drain(slow)
		st := a.Stats()
		if len(got) != 1 || int(st.EventsDropped) != len(all)-1 {
			t.Errorf("slow subscriber got %d events, EventsDropped %d; want 1 and %d", len(got), st.EventsDropped, len(all)-1)
		}
	})
}

// TestEventsCancelAndClose: cancel and Stack.Close close the channel; a
// subscription to a closed stack is closed at once.
func TestEventsCancelAndClose(t *testing.T) {
	s, _ := rawHost(t, Options{})
	ch1, cancel1 := s.Subscribe(4)
	ch2, _ := s.Subscribe(4)
	cancel1()
	if _, ok := <-ch1; ok {
		t.Errorf("event after cancel")
	}
	cancel1() // twice is harmless
	s.Close()
	if _, ok := <-ch2; ok {
		t.Errorf("event after Stack.Close")
	}
	ch3, cancel3 := s.Subscribe(4)
	if _, ok := <-ch3; ok {
		t.Errorf("event from a closed stack")
	}
	cancel3()
}

// TestEventsNoPhantomCookie: a SYN answered with a SYN cookie creates no
// connection, so it must not show up as state changes of one (a subscriber
// tracking connections would otherwise leak one per flooding SYN). The
// connection a valid cookie creates is reported, ending ESTABLISHED.
func TestEventsNoPhantomCookie(t *testing.T) {
	s, l := rawHost(t, Options{Syncookies: 2})
	ln, err := s.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ev, cancel := s.Subscribe(64)
	defer cancel()
	src, dst := netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:80")
	for i := 0; i < 10; i++ {
		l.inject(seg{src: spoofed(i), dst: dst, seq: 1, flags: wire.FlagSYN, opts: synOpts(1)}.bytes())
	}
	l.inject(seg{src: src, dst: dst, seq: 1000, flags: wire.FlagSYN, opts: synOpts(100)}.bytes())
	var cookie outSeg
	for _, o := range l.takeTCP(t) {
		if o.dst == src {
			cookie = o
		}
	}
	if got := drain(ev); len(got) != 0 {
		t.Errorf("cookie SYN-ACKs produced %d events:\n%s", len(got), transitions(got))
	}
	l.inject(seg{src: src, dst: dst, seq: 1001, ack: cookie.seq + 1, flags: wire.FlagACK,
		opts: wire.TCPOptions{HasTimestamps: true, TSVal: 101, TSEcr: cookie.opts.TSVal}}.bytes())
	got := drain(ev)
	if len(got) == 0 || got[len(got)-1].New != tcp.Established || got[len(got)-1].Remote != src {
		t.Errorf("events of the cookie connection:\n%s", transitions(got))
	}
}

package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// TestAcceptQueueOverflow: with a backlog of 2 and nobody calling Accept,
// a third client's SYN is dropped (ListenOverflows); once Accept makes
// room, the client's retransmitted SYN gets in.
func TestAcceptQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.ListenConfig(ListenConfig{Backlog: 2}, "tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		var clients []net.Conn
		for i := 0; i < 2; i++ {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		synctest.Wait()
		if rows := b.Sockets(); rows[0].State != tcp.Listen || rows[0].RecvQ != 2 || rows[0].SendQ != 2 {
			t.Fatalf("listener row %+v, want accept queue 2 of 2", rows[0])
		}
		start := time.Now()
		type result struct {
			c   net.Conn
			err error
			at  time.Duration
		}
		third := make(chan result, 1)
		go func() {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			third <- result{c, err, time.Since(start)}
		}()
		synctest.Wait()
		if st := b.Stats(); st.ListenOverflows != 1 {
			t.Errorf("ListenOverflows %d, want 1", st.ListenOverflows)
		}
		select {
		case r := <-third:
			t.Fatalf("third dial finished with a full accept queue: %v", r.err)
		default:
		}
		if n := countStates(a.Sockets())[tcp.SynSent]; n != 1 {
			t.Errorf("%d client connections in SYN-SENT, want 1", n)
		}
		// Accepting one frees room; the SYN retransmitted after 1 s gets in.
		s1, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		r := <-third
		if r.err != nil {
			t.Fatalf("third dial: %v", r.err)
		}
		if r.at < time.Second {
			t.Errorf("third dial done after %v, before the SYN retransmission", r.at)
		}
		for i := 0; i < 2; i++ {
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
		}
		defer s1.Close()
		r.c.Write([]byte("in at last"))
		r.c.Close()
		for _, c := range clients {
			c.Close()
		}
		ln.Close()
	})
}

// TestListenerCloseResetsQueued: closing a listener resets the connections
// it has not handed out: the clients read ECONNRESET. Accepted ones live on.
func TestListenerCloseResetsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.Listen("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		var clients []net.Conn
		for i := 0; i < 3; i++ {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		synctest.Wait()
		kept, err := ln.Accept() // the first one is accepted and survives
		if err != nil {
			t.Fatal(err)
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for i, c := range clients {
			buf := make([]byte, 8)
			c.SetReadDeadline(time.Now().Add(time.Second))
			_, err := c.Read(buf)
			if i == 0 {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("accepted connection: read %v, want a timeout (still open)", err)
				}
				continue
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client %d: read %v, want ECONNRESET", i, err)
			}
		}
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept after close: %v, want net.ErrClosed", err)
		}
		rows := b.Sockets()
		if len(rows) != 1 || rows[0].State != tcp.Established {
			t.Errorf("server sockets after closing the listener:\n%s", FormatSS(rows))
		}
		kept.Write([]byte("x"))
		buf := make([]byte, 1)
		clients[0].SetReadDeadline(time.Time{})
		if _, err := io.ReadFull(clients[0], buf); err != nil {
			t.Errorf("accepted connection after the listener closed: %v", err)
		}
		kept.Close()
		for _, c := range clients {
			c.Close()
		}
	})
}

// TestListenerCloseHalfOpen: a half-open connection (SYN_RCVD) of a closed
// listener is gone: the peer's ACK then meets no socket and is reset.
func TestListenerCloseHalfOpen(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, err := s.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:80"))
	syn := p.seg(wire.FlagSYN, nil)
	syn.opts = synOpts(p.tsval)
	l.inject(syn.bytes())
	p.sndNxt++
	sa := only(t, l.takeTCP(t), "SYN")
	p.note(sa)
	if st, _ := sockState(s, p.remote, p.local); st != tcp.SynReceived {
		t.Fatalf("state %v", st)
	}
	ln.Close()
	l.take()
	if rows := s.Sockets(); len(rows) != 0 {
		t.Fatalf("sockets after closing the listener:\n%s", FormatSS(rows))
	}
	p.send(wire.FlagACK, nil)
	if rst := only(t, l.takeTCP(t), "ACK"); rst.flags != wire.FlagRST || rst.seq != sa.seq+1 {
		t.Errorf("answer to the handshake's ACK: %v", rst)
	}
}

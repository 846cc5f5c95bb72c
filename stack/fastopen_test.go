package stack

import (
	"net/netip"
	"testing"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// foHost is a stack at addr/24 on a rawLink the test drives, with Fast Open
// for clients and servers on (tcp_fastopen 0x3).
func foHost(t *testing.T, addr string) (*Stack, *rawLink) {
	t.Helper()
	cfg := tcp.DefaultConfig()
	cfg.FastOpen = tcp.FastOpenClient | tcp.FastOpenServer
	s, err := New(Options{TCP: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	l := newRawLink(1500)
	if _, err := s.AddInterface("raw0", l, netip.MustParsePrefix(addr+"/24")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, l
}

// foShuttle hands what from sent to to, and returns what it was.
func foShuttle(t *testing.T, from, to *rawLink) []outSeg {
	t.Helper()
	pkts := from.take()
	var segs []outSeg
	for _, p := range pkts {
		if s, ok := parseOut(t, p); ok {
			segs = append(segs, s)
		}
	}
	if len(pkts) > 0 {
		to.inject(pkts...)
	}
	return segs
}

// TestFastOpenBetweenTwoStacks runs RFC 7413 end to end between two synfin
// hosts: the first connection asks for a cookie (4.1.1) and caches it; the
// second sends its data in the SYN with the cookie (4.1.2), and the server
// hands that connection to accept with the data readable before the
// handshake completes (4.2.2).
func TestFastOpenBetweenTwoStacks(t *testing.T) {
	client, cl := foHost(t, "10.0.0.1")
	server, sl := foHost(t, "10.0.0.2")
	srvAddr := netip.MustParseAddrPort("10.0.0.2:80")
	ln, err := server.ListenSocket(ListenOptions{Addr: srvAddr, Backlog: 8, FastOpen: ListenFastOpen{Qlen: 8}})
	if err != nil {
		t.Fatal(err)
	}

	// First connection: a cookie request.
	fo1 := &ConnectFastOpen{Data: []byte("hello")}
	c1, err := client.Connect(ConnectOptions{Remote: srvAddr, FastOpen: fo1})
	if err != nil {
		t.Fatal(err)
	}
	if fo1.Queued != 0 {
		t.Fatalf("a cookie request queued %d bytes", fo1.Queued)
	}
	syn := foShuttle(t, cl, sl)
	if len(syn) != 1 || !syn[0].opts.FastOpen.Present || syn[0].opts.FastOpen.Len != 0 || len(syn[0].data) != 0 {
		t.Fatalf("first SYN %+v, want a cookie request without data", syn)
	}
	synAck := foShuttle(t, sl, cl)
	want := tcp.FastOpenCookie(func() [16]byte { k, _ := server.FastOpenKey(); return k }(), netip.MustParseAddr("10.0.0.1"), srvAddr.Addr())
	if len(synAck) != 1 || synAck[0].opts.FastOpen != want {
		t.Fatalf("SYN-ACK %+v, want the cookie %x", synAck, want.Bytes())
	}
	foShuttle(t, cl, sl) // the ACK
	if st := c1.State(); st != tcp.Established {
		t.Fatalf("first connection %v", st)
	}
	if got := server.Stats().FastOpenCookieRequests; got != 1 {
		t.Errorf("FastOpenCookieRequests %d, want 1", got)
	}
	a1, err := ln.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	a1.Close()
	foShuttle(t, cl, sl)
	foShuttle(t, sl, cl)
	foShuttle(t, cl, sl)

	// Second connection: data in the SYN, with the cached cookie.
	msg := []byte("GET / HTTP/1.0\r\n\r\n")
	fo2 := &ConnectFastOpen{Data: msg}
	c2, err := client.Connect(ConnectOptions{Remote: srvAddr, FastOpen: fo2})
	if err != nil {
		t.Fatal(err)
	}
	if fo2.Queued != len(msg) {
		t.Fatalf("the SYN took %d bytes, want %d", fo2.Queued, len(msg))
	}
	syn = foShuttle(t, cl, sl)
	if len(syn) != 1 || syn[0].opts.FastOpen != want || string(syn[0].data) != string(msg) {
		t.Fatalf("second SYN %+v, want the cookie and the data", syn)
	}
	// The server has not seen the end of the handshake, and already hands
	// the connection to accept with the data readable.
	a2, err := ln.TryAccept()
	if err != nil {
		t.Fatalf("no connection to accept after the SYN: %v", err)
	}
	if st := a2.State(); st != tcp.SynReceived {
		t.Fatalf("accepted connection in %v, want SYN_RCVD", st)
	}
	buf := make([]byte, 100)
	n, err := a2.TryRead(buf)
	if err != nil || string(buf[:n]) != string(msg) {
		t.Fatalf("read %q, %v before the handshake; want %q", buf[:n], err, msg)
	}
	// The server answers before the handshake completes, too.
	if _, err := a2.TryWrite([]byte("HTTP/1.0 200 OK\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	out := foShuttle(t, sl, cl)
	if len(out) != 2 || out[0].flags != wire.FlagSYN|wire.FlagACK || out[0].ack != syn[0].seq+1+uint32(len(msg)) || out[0].opts.FastOpen.Present || len(out[1].data) == 0 {
		t.Fatalf("server sent %+v; want a SYN-ACK acknowledging the data, then the answer", out)
	}
	if got := server.Stats().FastOpenPassive; got != 1 {
		t.Errorf("FastOpenPassive %d, want 1", got)
	}
	foShuttle(t, cl, sl) // the ACK of both
	if st := c2.State(); st != tcp.Established {
		t.Fatalf("client %v", st)
	}
	if st := a2.State(); st != tcp.Established {
		t.Fatalf("server %v", st)
	}
	var synData bool
	c2.Do(func(tb *tcp.TCB, now tcp.Time) { synData = tb.FastOpenSynData() })
	if !synData {
		t.Errorf("client: TCPI_OPT_SYN_DATA not set")
	}
	if n, err := c2.TryRead(buf); err != nil || string(buf[:n]) != "HTTP/1.0 200 OK\r\n\r\n" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
}

// TestFastOpenInvalidCookie: RFC 7413 4.2.2, a SYN whose cookie is not
// valid has its data dropped and gets a valid cookie in a SYN-ACK that
// acknowledges only the SYN; the client sends the data again (4.1.3), and
// the connection is accepted at the end of the usual handshake.
func TestFastOpenInvalidCookie(t *testing.T) {
	client, cl := foHost(t, "10.0.0.1")
	server, sl := foHost(t, "10.0.0.2")
	srvAddr := netip.MustParseAddrPort("10.0.0.2:80")
	ln, err := server.ListenSocket(ListenOptions{Addr: srvAddr, Backlog: 8, FastOpen: ListenFastOpen{Qlen: 8}})
	if err != nil {
		t.Fatal(err)
	}
	// A cookie the server never made, cached as if it had.
	bad := wire.FastOpen{Present: true, Len: 8, Cookie: [16]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	client.fastOpenCacheSet(&conn{key: connKey{local: netip.MustParseAddrPort("10.0.0.1:1"), remote: srvAddr}}, &tcp.FastOpenReport{Cookie: bad})
	fo := &ConnectFastOpen{Data: []byte("early data")}
	c, err := client.Connect(ConnectOptions{Remote: srvAddr, FastOpen: fo})
	if err != nil || fo.Queued != 10 {
		t.Fatalf("Connect: %v, %d queued", err, fo.Queued)
	}
	foShuttle(t, cl, sl)
	if _, err := ln.TryAccept(); err != tcp.ErrWouldBlock {
		t.Fatalf("TryAccept after an invalid cookie: %v, want nothing yet", err)
	}
	synAck := foShuttle(t, sl, cl)
	valid := tcp.FastOpenCookie(func() [16]byte { k, _ := server.FastOpenKey(); return k }(), netip.MustParseAddr("10.0.0.1"), srvAddr.Addr())
	if len(synAck) != 1 || synAck[0].opts.FastOpen != valid {
		t.Fatalf("SYN-ACK %+v, want the valid cookie", synAck)
	}
	again := foShuttle(t, cl, sl)
	if len(again) != 1 || string(again[0].data) != "early data" {
		t.Fatalf("client sent %+v, want the data again", again)
	}
	a, err := ln.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := a.TryRead(buf); err != nil || string(buf[:n]) != "early data" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if got := server.Stats().FastOpenPassiveFails; got != 1 {
		t.Errorf("FastOpenPassiveFails %d, want 1", got)
	}
	// The client cached the valid cookie for next time.
	if e := client.fo.cache[foCacheKey{netip.MustParseAddr("10.0.0.1"), srvAddr.Addr()}]; e == nil || e.cookie != valid {
		t.Errorf("client cache %+v, want the valid cookie", e)
	}
	if st := c.State(); st != tcp.Established {
		t.Errorf("client %v", st)
	}
}

// foWarmUp gets client a cookie from the server listening at srv.
func foWarmUp(t *testing.T, client *Stack, cl *rawLink, sl *rawLink, ln *TCPListener, srv netip.AddrPort) {
	t.Helper()
	c, err := client.Connect(ConnectOptions{Remote: srv, FastOpen: &ConnectFastOpen{}})
	if err != nil {
		t.Fatal(err)
	}
	foShuttle(t, cl, sl)
	foShuttle(t, sl, cl)
	foShuttle(t, cl, sl)
	a, err := ln.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	a.Close()
	for i := 0; i < 3; i++ {
		foShuttle(t, cl, sl)
		foShuttle(t, sl, cl)
	}
}

// TestFastOpenQueueLimit: a listener takes at most TCP_FASTOPEN connections
// whose handshake is not over (Linux's fastopenq.max_qlen); beyond that a
// SYN with a valid cookie gets the usual handshake, and its data is sent
// again after it.
func TestFastOpenQueueLimit(t *testing.T) {
	client, cl := foHost(t, "10.0.0.1")
	server, sl := foHost(t, "10.0.0.2")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	ln, err := server.ListenSocket(ListenOptions{Addr: srv, Backlog: 8, FastOpen: ListenFastOpen{Qlen: 1}})
	if err != nil {
		t.Fatal(err)
	}
	foWarmUp(t, client, cl, sl, ln, srv)

	c1, err := client.Connect(ConnectOptions{Remote: srv, FastOpen: &ConnectFastOpen{Data: []byte("one")}})
	if err != nil {
		t.Fatal(err)
	}
	syn1 := cl.take()
	c2, err := client.Connect(ConnectOptions{Remote: srv, FastOpen: &ConnectFastOpen{Data: []byte("two")}})
	if err != nil {
		t.Fatal(err)
	}
	syn2 := cl.take()
	sl.inject(syn1...)
	sl.inject(syn2...)
	out := sl.takeTCP(t)
	if len(out) != 2 || len(syn1) != 1 || len(syn2) != 1 {
		t.Fatalf("SYN-ACKs %v", out)
	}
	s1, _ := parseOut(t, syn1[0])
	s2, _ := parseOut(t, syn2[0])
	if out[0].ack != s1.seq+4 {
		t.Errorf("first SYN-ACK acks %d, want the data too (%d)", out[0].ack, s1.seq+4)
	}
	if out[1].ack != s2.seq+1 || out[1].opts.FastOpen.Present {
		t.Errorf("second SYN-ACK %v: the queue is full, want the SYN alone acknowledged and no option", out[1])
	}
	if got := server.Stats().FastOpenListenOverflows; got != 1 {
		t.Errorf("FastOpenListenOverflows %d, want 1", got)
	}
	cl.inject(rawOf(out)...)
	foShuttle(t, cl, sl) // the ACK of the first, the data of the second again
	for _, c := range []*TCPConn{c1, c2} {
		if st := c.State(); st != tcp.Established {
			t.Fatalf("client connection %v", st)
		}
	}
	buf := make([]byte, 10)
	for _, want := range []string{"one", "two"} {
		a, err := ln.TryAccept()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := a.TryRead(buf); err != nil || string(buf[:n]) != want {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
		}
	}
	// The first connection's handshake is over: the queue has room again.
	fo3 := &ConnectFastOpen{Data: []byte("three")}
	if _, err := client.Connect(ConnectOptions{Remote: srv, FastOpen: fo3}); err != nil || fo3.Queued != 5 {
		t.Fatalf("third Connect: %v, %d queued", err, fo3.Queued)
	}
	foShuttle(t, cl, sl)
	if a, err := ln.TryAccept(); err != nil || a.State() != tcp.SynReceived {
		t.Fatalf("third connection not accepted in SYN_RCVD: %v", err)
	}
}

func rawOf(segs []outSeg) [][]byte {
	out := make([][]byte, len(segs))
	for i, s := range segs {
		out[i] = s.raw
	}
	return out
}

// TestAcceptQueueKeepsResetConnection: as in Linux, a connection reset
// while it waits in the accept queue stays there: accept returns it, dead,
// with the data it received still readable, then the error.
func TestAcceptQueueKeepsResetConnection(t *testing.T) {
	client, cl := foHost(t, "10.0.0.1")
	server, sl := foHost(t, "10.0.0.2")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	ln, err := server.ListenSocket(ListenOptions{Addr: srv, Backlog: 8})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(ConnectOptions{Remote: srv})
	if err != nil {
		t.Fatal(err)
	}
	foShuttle(t, cl, sl)
	foShuttle(t, sl, cl)
	foShuttle(t, cl, sl)
	if _, err := c.TryWrite([]byte("data")); err != nil {
		t.Fatal(err)
	}
	foShuttle(t, cl, sl)
	foShuttle(t, sl, cl)
	c.Do(func(tb *tcp.TCB, now tcp.Time) { tb.Abort(now) })
	foShuttle(t, cl, sl) // the RST
	a, err := ln.TryAccept()
	if err != nil {
		t.Fatalf("the reset connection left the accept queue: %v", err)
	}
	if st := a.State(); st != tcp.Closed {
		t.Fatalf("accepted connection in %v, want CLOSED", st)
	}
	buf := make([]byte, 10)
	if n, err := a.TryRead(buf); err != nil || string(buf[:n]) != "data" {
		t.Fatalf("read %q, %v; want the data", buf[:n], err)
	}
	if _, err := a.TryRead(buf); err == nil {
		t.Fatalf("second read succeeded; want the reset")
	}
}

package stack

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"

	"github.com/synfin/synfin/wire"
)

// RFC 9293 requirements that belong to the host rather than the engine:
// addresses, IP header fields, demultiplexing. docs/rfc9293.md points here.

// MUST-42: several passive OPENs on one port with different local addresses
// coexist, each gets the connections for its address.
func TestRFC9293_MUST_42_ListenersPerAddress(t *testing.T) {
	a, b := twoHosts(t)
	ln4, err := b.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	ln6, err := b.Listen("tcp", "[fd00::2]:80")
	if err != nil {
		t.Fatalf("second listener on port 80, other address: %v", err)
	}
	defer ln6.Close()
	for addr, ln := range map[string]*TCPListener{"10.0.0.2:80": ln4.(*TCPListener), "[fd00::2]:80": ln6.(*TCPListener)} {
		c, err := a.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		sc, err := ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		if sc.LocalAddr().String() != addr {
			t.Errorf("listener for %s accepted a connection to %v", addr, sc.LocalAddr())
		}
		c.Close()
		sc.Close()
	}
}

// MUST-43, MUST-44, MUST-45: OPEN may name the local address; otherwise the
// source address is the one of the interface that routes to the peer, and it
// stays the connection's address.
func TestRFC9293_MUST_43_44_45_LocalAddress(t *testing.T) {
	a, b := twoHosts(t)
	ln, _ := b.Listen("tcp", ":80")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := a.DialTCP(context.Background(), "tcp", netip.AddrPort{}, "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.key.local.Addr(); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("source address chosen %v, want the interface's 10.0.0.1", got)
	}
	c.Close()
	c, err = a.DialTCP(context.Background(), "tcp", netip.MustParseAddrPort("10.0.0.1:40000"), "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if c.key.local != netip.MustParseAddrPort("10.0.0.1:40000") {
		t.Errorf("local address %v, want the one given", c.key.local)
	}
	c.Close()
	_, err = a.DialTCP(context.Background(), "tcp", netip.MustParseAddrPort("10.9.9.9:0"), "10.0.0.2:80")
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("dial from a foreign address: %v, want EADDRNOTAVAIL", err)
	}
}

// MUST-46: an OPEN to a broadcast or multicast address is refused (Linux:
// ENETUNREACH), and nothing is sent.
func TestRFC9293_MUST_46_NoOpenToBroadcastOrMulticast(t *testing.T) {
	s, l := rawHost(t, Options{})
	for _, addr := range []string{"10.0.0.255:80", "255.255.255.255:80", "224.0.0.1:80", "[ff02::1]:80"} {
		_, err := s.Dial("tcp", addr)
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("dial %s: %v, want ENETUNREACH", addr, err)
		}
	}
	if out := l.take(); len(out) != 0 {
		t.Errorf("sent %d packets", len(out))
	}
}

// MUST-48, MUST-49: the application sets the Differentiated Services field
// and the TTL of its connection's packets; the TTL default is configurable.
func TestRFC9293_MUST_48_49_TOSAndTTL(t *testing.T) {
	s, l := rawHost(t, Options{TTL: 99})
	ln, _ := s.Listen("tcp", "10.0.0.2:80")
	defer ln.Close()
	p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:80"))
	sa := p.connect()
	if ip, _ := wire.ParseIPv4(sa.raw); ip.TTL() != 99 || ip.TOS() != 0 {
		t.Errorf("SYN-ACK TTL %d TOS %#x, want the configured 99 and 0", ip.TTL(), ip.TOS())
	}
	c, err := ln.(*TCPListener).AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	c.SetTOS(0xb8) // EF
	c.SetTTL(7)
	c.Write([]byte("x"))
	out := only(t, l.takeTCP(t), "write")
	if ip, _ := wire.ParseIPv4(out.raw); ip.TOS() != 0xb8 || ip.TTL() != 7 {
		t.Errorf("data segment TOS %#x TTL %d, want 0xb8 and 7", ip.TOS(), ip.TTL())
	}
}

// withIPOptions returns pkt (IPv4) with the given options inserted.
func withIPOptions(t *testing.T, pkt, opts []byte) []byte {
	ip, err := wire.ParseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	h := ip.Header()
	h.Options = opts
	out, err := wire.BuildIPv4(nil, &h, len(ip.Payload()))
	if err != nil {
		t.Fatal(err)
	}
	return append(out, ip.Payload()...)
}

// MUST-50 (IP options TCP does not understand are ignored) and MUST-51..53
// (source routes): a segment with a Record Route option is processed as if it
// had none; one with a loose or strict source route is dropped, as Linux does
// by default (accept_source_route=0).
func TestRFC9293_MUST_50_53_IPOptions(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, _ := s.Listen("tcp", "10.0.0.2:80")
	defer ln.Close()
	syn := func(port uint16) []byte {
		return seg{src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), dst: netip.MustParseAddrPort("10.0.0.2:80"),
			seq: 1000, flags: wire.FlagSYN, opts: synOpts(1)}.bytes()
	}
	recordRoute := []byte{7, 7, 4, 0, 0, 0, 0, 0} // RR with room for one address, then EOL padding
	l.inject(withIPOptions(t, syn(1111), recordRoute))
	if out := l.takeTCP(t); len(out) != 1 || out[0].flags != wire.FlagSYN|wire.FlagACK {
		t.Fatalf("SYN with a Record Route option: answered %v, want a SYN-ACK", out)
	}
	lsrr := []byte{131, 7, 4, 10, 0, 0, 9, 0} // loose source route via 10.0.0.9
	l.inject(withIPOptions(t, syn(2222), lsrr))
	if out := l.takeTCP(t); len(out) != 0 {
		t.Fatalf("source-routed SYN answered: %v", out)
	}
	if got := s.Stats().SourceRouted; got != 1 {
		t.Errorf("SourceRouted = %d, want 1", got)
	}
}

// MUST-55: an ICMP Source Quench is silently discarded.
func TestRFC9293_MUST_55_SourceQuenchIgnored(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, _ := s.Listen("tcp", "10.0.0.2:80")
	defer ln.Close()
	p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:80"))
	sa := p.connect()
	quench := ipPacket(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), wire.ProtoICMP, icmpV4(4, 0, 0, sa.raw[:28]))
	l.inject(quench)
	if out := l.take(); len(out) != 0 {
		t.Errorf("answered a source quench with %d packets", len(out))
	}
	if st, ok := sockState(s, p.remote, p.local); !ok || st.String() != "ESTABLISHED" {
		t.Errorf("connection state %v after a source quench", st)
	}
}

// MUST-57 and MUST-63: segments addressed to a broadcast or multicast
// address, and SYNs from such a source, are silently discarded.
func TestRFC9293_MUST_57_63_BroadcastAndMulticast(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, _ := s.Listen("tcp", ":80")
	defer ln.Close()
	for _, tc := range []struct{ src, dst string }{
		{"10.0.0.1:1000", "10.0.0.255:80"},      // directed broadcast
		{"10.0.0.1:1000", "255.255.255.255:80"}, // limited broadcast
		{"10.0.0.1:1000", "224.0.0.1:80"},       // multicast
		{"[fd00::1]:1000", "[ff02::1]:80"},      // IPv6 multicast
		{"224.0.0.5:1000", "10.0.0.2:80"},       // multicast source
		{"10.0.0.255:1000", "10.0.0.2:80"},      // broadcast source
		{"0.0.0.0:1000", "10.0.0.2:80"},         // unspecified source
		{"[ff02::2]:1000", "[fd00::2]:80"},      // IPv6 multicast source
		{"127.0.0.1:1000", "10.0.0.2:80"},       // loopback source on a link (a martian)
		{"10.0.0.2:1000", "10.0.0.2:80"},        // our own address as source
	} {
		l.inject(seg{src: netip.MustParseAddrPort(tc.src), dst: netip.MustParseAddrPort(tc.dst), seq: 1, flags: wire.FlagSYN, opts: synOpts(1)}.bytes())
		if out := l.take(); len(out) != 0 {
			t.Errorf("SYN %s -> %s answered with %d packets", tc.src, tc.dst, len(out))
		}
	}
	st := s.Stats()
	if st.NotForUs != 4 || st.BadSource != 6 {
		t.Errorf("NotForUs %d BadSource %d, want 4 and 6", st.NotForUs, st.BadSource)
	}
	if len(s.Sockets()) != 1 {
		t.Errorf("sockets table %v, want only the listener", FormatSS(s.Sockets()))
	}
}

// MUST-59: segments that arrive together (one batch from the link) are all
// processed before the ACK they call for, so one ACK covers them.
func TestRFC9293_MUST_59_OneAckPerBatch(t *testing.T) {
	s, l := rawHost(t, Options{})
	ln, _ := s.Listen("tcp", "10.0.0.2:80")
	defer ln.Close()
	p := newPeer(t, l, netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:80"))
	p.connect()
	l.take()
	// Four segments, the first out of order (which alone would be ACKed at
	// once), delivered in one batch.
	var batch [][]byte
	segs := []seg{p.seg(wire.FlagACK, make([]byte, 100))}
	segs[0].seq += 100
	base := p.sndNxt
	for i := 0; i < 3; i++ {
		sg := p.seg(wire.FlagACK, make([]byte, 100))
		sg.seq = base + uint32(200+100*i)
		segs = append(segs, sg)
	}
	first := p.seg(wire.FlagACK|wire.FlagPSH, make([]byte, 100))
	first.seq = base
	segs = append(segs, first)
	for _, sg := range segs {
		batch = append(batch, sg.bytes())
	}
	l.inject(batch...)
	out := l.takeTCP(t)
	if len(out) != 1 {
		t.Fatalf("a batch of %d segments got %d ACKs: %v", len(batch), len(out), out)
	}
	if out[0].ack != base+500 {
		t.Errorf("ACK %d, want %d (all five segments)", out[0].ack, base+500)
	}
}

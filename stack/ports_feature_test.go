package stack

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestEphemeralPortsDial: Dial picks its local port in 32768-60999, a
// different one for each connection.
func TestEphemeralPortsDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
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
				defer c.Close()
			}
		}()
		seen := map[uint16]bool{}
		var conns []net.Conn
		for i := 0; i < 64; i++ {
			c, err := a.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			port := c.LocalAddr().(*net.TCPAddr).AddrPort().Port()
			if port < 32768 || port > 60999 {
				t.Errorf("ephemeral port %d outside 32768-60999", port)
			}
			if seen[port] {
				t.Errorf("port %d used twice", port)
			}
			seen[port] = true
		}
		for _, c := range conns {
			c.Close()
		}
		ln.Close()
	})
}

// TestEphemeralPortsRFC6056: the port sequence is keyed by the
// destination and a secret (RFC 6056 algorithm 3): to different
// destinations successive connections do not just count up, and two hosts
// with different secrets start at different places.
func TestEphemeralPortsRFC6056(t *testing.T) {
	dial := func(s *Stack, dst netip.AddrPort) uint16 {
		c, err := s.DialAsync(netip.AddrPort{}, dst)
		if err != nil {
			t.Fatal(err)
		}
		return c.key.local.Port()
	}
	secret1, secret2 := [16]byte{1}, [16]byte{2}
	s1, _ := rawHost(t, Options{Secret: &secret1})
	s2, _ := rawHost(t, Options{Secret: &secret2})
	const n = 200
	var ports []uint16
	for i := 0; i < n; i++ {
		ports = append(ports, dial(s1, netip.AddrPortFrom(peerV4, uint16(1000+i))))
	}
	consecutive, lowHalf := 0, 0
	for i := 1; i < n; i++ {
		if ports[i] == ports[i-1]+1 {
			consecutive++
		}
	}
	for _, p := range ports {
		if p < 32768 || p > 60999 {
			t.Fatalf("port %d outside the range", p)
		}
		if p < (32768+60999)/2 {
			lowHalf++
		}
	}
	if consecutive > n/10 {
		t.Errorf("%d of %d ports to different destinations follow their predecessor: %v", consecutive, n, ports[:20])
	}
	if lowHalf < n/4 || lowHalf > 3*n/4 {
		t.Errorf("%d of %d ports in the lower half of the range", lowHalf, n)
	}
	// Same destination, different secret: a different start.
	dst := netip.MustParseAddrPort("10.0.0.1:443")
	p1, p2 := dial(s1, dst), dial(s2, dst)
	if p1 == p2 {
		t.Errorf("two hosts with different secrets both chose %d for %v", p1, dst)
	}
	// Same destination again: another port.
	if p3 := dial(s1, dst); p3 == p1 {
		t.Errorf("port %d reused for a second connection to %v", p3, dst)
	}
}

// TestListenAddrInUse: bind(2)'s rules for listeners, with package net's
// error values and text.
func TestListenAddrInUse(t *testing.T) {
	cases := []struct {
		first, second string
		network2      string
		inUse         bool
		text          string
	}{
		{"10.0.0.2:80", "10.0.0.2:80", "tcp", true, "listen tcp 10.0.0.2:80: bind: address already in use"},
		{"[fd00::2]:80", "[fd00::2]:80", "tcp", true, "listen tcp [fd00::2]:80: bind: address already in use"},
		{":80", "10.0.0.2:80", "tcp", true, "listen tcp 10.0.0.2:80: bind: address already in use"},
		{":80", "[fd00::2]:80", "tcp", true, ""},
		{"10.0.0.2:80", ":80", "tcp", true, ""},
		{"0.0.0.0:80", "10.0.0.2:80", "tcp", true, ""},
		{"10.0.0.2:80", "0.0.0.0:80", "tcp4", true, ""},
		{"0.0.0.0:80", ":80", "tcp", true, ""}, // the IPv6 wildcard is dual stack
		{"10.0.0.2:80", "[fd00::2]:80", "tcp", false, ""},
		{"0.0.0.0:80", "[fd00::2]:80", "tcp", false, ""},
		{"10.0.0.2:80", "10.0.0.2:81", "tcp", false, ""},
		// "tcp6" sets IPV6_V6ONLY: the IPv6 wildcard then leaves IPv4 alone.
		{"0.0.0.0:80", "[::]:80", "tcp6", false, ""},
		{"10.0.0.2:80", ":80", "tcp6", false, ""},
		{"[fd00::2]:80", ":80", "tcp6", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.first+"+"+tc.second, func(t *testing.T) {
			s, _ := rawHost(t, Options{})
			ln1, err := s.Listen("tcp", tc.first)
			if err != nil {
				t.Fatal(err)
			}
			ln2, err := s.ListenConfig(ListenConfig{}, tc.network2, tc.second)
			if !tc.inUse {
				if err != nil {
					t.Fatalf("second listen: %v", err)
				}
				ln2.Close()
				ln1.Close()
				return
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("second listen: %v, want EADDRINUSE", err)
			}
			if ln, _ := s.Listen(tc.network2, tc.second); ln != nil {
				t.Errorf("failed Listen returned a non-nil net.Listener (%T)", ln)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "listen" {
				t.Errorf("error %#v is not a listen *net.OpError", err)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("error text %q, want %q", err, tc.text)
			}
			// Once the first is closed, the port is free.
			ln1.Close()
			ln2, err = s.ListenConfig(ListenConfig{}, tc.network2, tc.second)
			if err != nil {
				t.Fatalf("listen after close: %v", err)
			}
			ln2.Close()
		})
	}
}

// TestListenAfterTimeWait: a connection in TIME_WAIT on the port does not
// stop a listener with SO_REUSEADDR (the default, as in package net), but
// stops one without it, and stops everyone if the connection came from a
// socket without SO_REUSEADDR (as in Linux).
func TestListenAfterTimeWait(t *testing.T) {
	cases := []struct {
		name           string
		origNoReuse    bool
		newNoReuse     bool
		inUse          bool
		freeAfterTWExp bool
	}{
		{"reuse/reuse", false, false, false, true},
		{"reuse/noreuse", false, true, true, true},
		{"noreuse/reuse", true, false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := twoHosts(t)
				ln, err := b.ListenConfig(ListenConfig{NoReuseAddr: tc.origNoReuse}, "tcp", "10.0.0.2:80")
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					c, err := ln.Accept()
					if err != nil {
						t.Error(err)
						return
					}
					c.Write([]byte("bye"))
					c.Close() // the server closes first: TIME_WAIT is on 10.0.0.2:80
				}()
				c, err := a.Dial("tcp", "10.0.0.2:80")
				if err != nil {
					t.Fatal(err)
				}
				<-done
				ln.Close()
				io.ReadAll(c)
				c.Close()
				synctest.Wait()
				rows := b.Sockets()
				if len(rows) != 1 || rows[0].State.String() != "TIME_WAIT" || rows[0].Local.Port() != 80 {
					t.Fatalf("server sockets:\n%s", FormatSS(rows))
				}
				ln2, err := b.ListenConfig(ListenConfig{NoReuseAddr: tc.newNoReuse}, "tcp", "10.0.0.2:80")
				if tc.inUse {
					if !errors.Is(err, syscall.EADDRINUSE) {
						t.Fatalf("listen over TIME_WAIT: %v, want EADDRINUSE", err)
					}
					if want := "listen tcp 10.0.0.2:80: bind: address already in use"; err.Error() != want {
						t.Errorf("error text %q, want %q", err, want)
					}
				} else {
					if err != nil {
						t.Fatalf("listen over TIME_WAIT with SO_REUSEADDR: %v", err)
					}
					ln2.Close()
				}
				time.Sleep(61 * time.Second)
				ln2, err = b.ListenConfig(ListenConfig{NoReuseAddr: tc.newNoReuse}, "tcp", "10.0.0.2:80")
				if err != nil {
					t.Fatalf("listen after TIME_WAIT expired: %v", err)
				}
				ln2.Close()
			})
		})
	}
}

// TestListenNotLocal: an address that is not the host's is EADDRNOTAVAIL.
func TestListenNotLocal(t *testing.T) {
	for _, addr := range []string{"10.0.0.9:80", "[fd00::9]:80", "192.168.1.1:0"} {
		s, _ := rawHost(t, Options{})
		_, err := s.Listen("tcp", addr)
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Errorf("listen %s: %v, want EADDRNOTAVAIL", addr, err)
			continue
		}
		if want := "listen tcp " + addr + ": bind: cannot assign requested address"; err.Error() != want {
			t.Errorf("error text %q, want %q", err, want)
		}
	}
}

// TestListenPortZero: port 0 picks a free port from the ephemeral range,
// a different one each time, and connections reach it.
func TestListenPortZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		seen := map[uint16]bool{}
		var lns []net.Listener
		for _, addr := range []string{"10.0.0.2:0", ":0", "[fd00::2]:0", "10.0.0.2:0"} {
			ln, err := b.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			lns = append(lns, ln)
			port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
			if port < 32768 || port > 60999 || seen[port] {
				t.Errorf("listen %s: port %d", addr, port)
			}
			seen[port] = true
		}
		ln := lns[0]
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Write([]byte("zero"))
				c.Close()
			}
		}()
		c, err := a.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(c); string(got) != "zero" {
			t.Errorf("read %q", got)
		}
		c.Close()
		for _, ln := range lns {
			ln.Close()
		}
	})
}

// TestDualStackListener: a listener on the IPv6 wildcard accepts IPv4
// connections too (net.ipv6.bindv6only=0, what "tcp" ":port" gives in
// package net), and reports their IPv4 addresses.
func TestDualStackListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, err := b.Listen("tcp", ":80")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%v %v", c.LocalAddr(), c.RemoteAddr())
				c.Close()
			}
		}()
		for _, tc := range []struct{ dial, local, remoteIP string }{
			{"10.0.0.2:80", "10.0.0.2:80", "10.0.0.1"},
			{"[fd00::2]:80", "[fd00::2]:80", "fd00::1"},
		} {
			c, err := a.Dial("tcp", tc.dial)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(c)
			var local, remote string
			fmt.Sscan(string(got), &local, &remote)
			rap, _ := netip.ParseAddrPort(remote)
			if local != tc.local || rap.Addr().String() != tc.remoteIP || remote != c.LocalAddr().String() {
				t.Errorf("dial %s: server sees %s <- %s, client is %v", tc.dial, local, remote, c.LocalAddr())
			}
			c.Close()
		}
		ln.Close()
	})
}

// TestNetworkFamilyMismatch: "tcp4" and "tcp6" restrict the address family
// as in package net.
func TestNetworkFamilyMismatch(t *testing.T) {
	s, l := rawHost(t, Options{})
	for _, tc := range []struct{ op, network, addr string }{
		{"listen", "tcp4", "[fd00::2]:80"},
		{"listen", "tcp6", "10.0.0.2:80"},
		{"dial", "tcp4", "[fd00::1]:80"},
		{"dial", "tcp6", "10.0.0.1:80"},
		{"listen", "udp", ":80"},
		{"dial", "ip", "10.0.0.1:80"},
	} {
		var err error
		if tc.op == "listen" {
			_, err = s.ListenConfig(ListenConfig{}, tc.network, tc.addr)
		} else {
			_, err = s.Dial(tc.network, tc.addr)
		}
		var oe *net.OpError
		if err == nil || !errors.As(err, &oe) || oe.Op != tc.op {
			t.Errorf("%s %s %s: %v, want a %s *net.OpError", tc.op, tc.network, tc.addr, err, tc.op)
			continue
		}
		if oe.Net != tc.network {
			t.Errorf("%s %s %s: error names network %q: %v", tc.op, tc.network, tc.addr, oe.Net, err)
		}
	}
	if out := l.take(); len(out) != 0 {
		t.Errorf("failed dials sent %d packets", len(out))
	}

	// A tcp4 wildcard listener takes IPv4 only; a tcp6 one IPv6 only (Go
	// sets IPV6_V6ONLY for "tcp6").
	ln4, err := s.ListenConfig(ListenConfig{}, "tcp4", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	ln6, err := s.ListenConfig(ListenConfig{}, "tcp6", ":8081")
	if err != nil {
		t.Fatal(err)
	}
	defer ln6.Close()
	for _, tc := range []struct {
		src, dst string
		synack   bool
	}{
		{"10.0.0.1:1000", "10.0.0.2:8080", true},
		{"[fd00::1]:1000", "[fd00::2]:8080", false},
		{"[fd00::1]:1000", "[fd00::2]:8081", true},
		{"10.0.0.1:1000", "10.0.0.2:8081", false},
	} {
		l.inject(seg{src: netip.MustParseAddrPort(tc.src), dst: netip.MustParseAddrPort(tc.dst), seq: 1, flags: wire.FlagSYN}.bytes())
		o := only(t, l.takeTCP(t), "SYN to "+tc.dst)
		if got := o.flags == wire.FlagSYN|wire.FlagACK; got != tc.synack {
			t.Errorf("SYN %s -> %s answered %v", tc.src, tc.dst, o)
		}
	}
}

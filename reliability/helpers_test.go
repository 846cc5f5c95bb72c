package reliability

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// full reports whether the full-size runs were asked for (make reliability).
func full() bool { return os.Getenv("RELIABILITY_FULL") != "" }

// size picks a test size: the full one with RELIABILITY_FULL set, else the
// CI one, or the race one under the race detector.
func size(fullN, ciN, raceN int) int {
	switch {
	case full():
		return fullN
	case raceEnabled || testing.Short():
		return raceN
	}
	return ciN
}

var (
	addrA    = netip.MustParsePrefix("10.0.0.1/24") // the legitimate client
	addrB    = netip.MustParsePrefix("10.0.0.2/24") // the victim server
	addrX    = netip.MustParsePrefix("10.9.0.1/24") // the attacker
	spoofNet = netip.MustParsePrefix("172.16.0.0/12")
	// ghost is an address nobody has, routed by b towards the attacker's
	// link: the attacker's hand-made peer uses it, so that the attacker's own
	// stack does not answer b's replies with RSTs (it drops them: not for it).
	ghost = netip.MustParseAddr("10.9.0.66")
)

const port = 5001

// lab is a victim pair a-b and an attacker x on its own link to b.
type lab struct {
	n       *sim.Network
	a, b, x *sim.Host
	ab, xb  *sim.Link
}

func newLab(t testing.TB, seed uint64, cfgB *stack.Options, ab sim.LinkConfig) *lab {
	t.Helper()
	n := sim.New(seed)
	t.Cleanup(func() { n.Close() })
	a, err := n.AddHost("a", addrA)
	if err != nil {
		t.Fatal(err)
	}
	var ob stack.Options
	if cfgB != nil {
		ob = *cfgB
	}
	b, err := n.AddHostWith("b", ob, addrB)
	if err != nil {
		t.Fatal(err)
	}
	x, err := n.AddHost("x", addrX)
	if err != nil {
		t.Fatal(err)
	}
	lab := &lab{n: n, a: a, b: b, x: x}
	if lab.ab, err = n.Connect(a, b, ab); err != nil {
		t.Fatal(err)
	}
	if lab.xb, err = n.Connect(x, b, sim.Symmetric(sim.PathConfig{Latency: time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	// b reaches everything else (spoofed sources, the ghost) through x's link.
	if err := b.Stack().AddRoute(stack.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), NIC: lab.xb.NIC(b)}); err != nil {
		t.Fatal(err)
	}
	return lab
}

// inject sends raw packets from the attacker's side towards b.
func (l *lab) inject(pkts ...[]byte) { l.xb.Inject(sim.AtoB, pkts...) }

// seg describes a hand-made TCP segment.
type seg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    wire.TCPFlags
	win      uint16
	opts     *wire.TCPOptions
	payload  []byte
}

// build returns an IPv4 packet carrying s, with correct checksums.
func (s seg) build() []byte {
	tcpb := wire.BuildTCP(nil, &wire.TCPHeader{SrcPort: s.src.Port(), DstPort: s.dst.Port(), Seq: s.seq, Ack: s.ack,
		Flags: s.flags, Window: s.win}, s.opts, s.payload)
	wire.TCP(tcpb).FillChecksum(s.src.Addr(), s.dst.Addr())
	pkt, err := wire.BuildIPv4(make([]byte, 0, 20+len(tcpb)), &wire.IPv4Header{TTL: 64, Protocol: 6, Src: s.src.Addr(), Dst: s.dst.Addr()}, len(tcpb))
	if err != nil {
		panic(err)
	}
	return append(pkt, tcpb...)
}

// parsed is a TCP/IPv4 packet seen on a link.
type parsed struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    wire.TCPFlags
	win      uint16
	opts     wire.TCPOptions
	plen     int
}

// end is the sequence number just past the segment (RCV.NXT at its
// receiver once it arrived in order).
func (p parsed) end() uint32 {
	e := p.seq + uint32(p.plen)
	if p.flags&wire.FlagSYN != 0 {
		e++
	}
	if p.flags&wire.FlagFIN != 0 {
		e++
	}
	return e
}

func parse(p []byte) (parsed, bool) {
	ip, err := wire.ParseIPv4(p)
	if err != nil || ip.Protocol() != 6 {
		return parsed{}, false
	}
	th, err := wire.ParseTCP(ip.Payload())
	if err != nil {
		return parsed{}, false
	}
	r := parsed{src: netip.AddrPortFrom(ip.Src(), th.SrcPort()), dst: netip.AddrPortFrom(ip.Dst(), th.DstPort()),
		seq: th.Seq(), ack: th.Ack(), flags: th.Flags(), win: th.Window(), plen: len(th.Payload())}
	th.ParseOptions(&r.opts)
	return r, true
}

// tap remembers the last segment sent in each direction of a link, and
// lets a test count or inspect what passes.
type tap struct {
	last map[sim.Dir]parsed
	f    func(sim.Dir, parsed)
}

func newTap(l *sim.Link) *tap {
	tp := &tap{last: map[sim.Dir]parsed{}}
	l.Observe(func(ev sim.PacketEvent) {
		if ev.Kind != sim.PacketSent {
			return
		}
		p, ok := parse(ev.Packet)
		if !ok {
			return
		}
		tp.last[ev.Dir] = p
		if tp.f != nil {
			tp.f(ev.Dir, p)
		}
	})
	return tp
}

// tcbStats returns a connection's engine counters.
func tcbStats(c *stack.TCPConn) tcp.Stats {
	var st tcp.Stats
	c.Do(func(t *tcp.TCB, _ tcp.Time) { st = t.Stats() })
	return st
}

// heap returns the live heap after two collections.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// run runs the network for d of virtual time, failing the test on error.
func run(t testing.TB, n *sim.Network, d time.Duration) {
	t.Helper()
	if err := n.RunFor(d); err != nil {
		t.Fatal(err)
	}
}

// until runs until cond holds, within limit of virtual time.
func until(t testing.TB, n *sim.Network, cond func() bool, limit time.Duration, what string) {
	t.Helper()
	if err := n.RunUntil(cond, limit); err != nil {
		t.Fatalf("%s: %v at %v", what, err, n.Now())
	}
}

// established opens a connection a -> b:port and returns both ends, idle.
func (l *lab) established(t testing.TB) (client, server *stack.TCPConn, ln *stack.TCPListener) {
	t.Helper()
	ln, err := l.b.Stack().ListenConfig(stack.ListenConfig{}, "tcp", l.b.AddrPort(port).String())
	if err != nil {
		t.Fatal(err)
	}
	client, err = l.a.Stack().DialAsync(netip.AddrPort{}, l.b.AddrPort(port))
	if err != nil {
		t.Fatal(err)
	}
	until(t, l.n, func() bool {
		if server == nil {
			server, _ = ln.TryAccept()
		}
		return server != nil && client.State() == tcp.Established
	}, 5*time.Second, "handshake")
	run(t, l.n, time.Second) // let delayed ACKs go
	return client, server, ln
}

// socketsEmpty reports whether no host holds any connection or TIME_WAIT
// entry (listeners excepted).
func socketsEmpty(n *sim.Network) bool {
	for _, h := range n.Hosts() {
		for _, s := range h.Stack().Sockets() {
			if s.State != tcp.Listen {
				return false
			}
		}
	}
	return true
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

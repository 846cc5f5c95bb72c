package stack

// Shared helpers of the *_feature_test.go files: a link the test controls
// (it records what the stack writes and lets the test hand the stack
// packets it built itself), a packet builder and parser on top of package
// wire, and a hand-driven TCP peer.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// Addresses of the host under test and of the hand-driven peer.
var (
	hostV4 = netip.MustParseAddr("10.0.0.2")
	peerV4 = netip.MustParseAddr("10.0.0.1")
	hostV6 = netip.MustParseAddr("fd00::2")
	peerV6 = netip.MustParseAddr("fd00::1")
)

// rawLink is a link.Endpoint driven by the test: WritePackets records the
// packets (and passes them on to inner, if there is one); inject calls the
// stack's DeliverPackets directly, so the stack's replies have been written
// by the time it returns.
type rawLink struct {
	mtu   int
	inner link.Endpoint

	mu   sync.Mutex
	d    link.Dispatcher
	sent [][]byte
}

func newRawLink(mtu int) *rawLink { return &rawLink{mtu: mtu} }

func (l *rawLink) MTU() int {
	if l.inner != nil {
		return l.inner.MTU()
	}
	return l.mtu
}
func (l *rawLink) Offloads() link.Offloads { return link.Offloads{} }
func (l *rawLink) Attach(d link.Dispatcher) {
	l.mu.Lock()
	l.d = d
	l.mu.Unlock()
	if l.inner != nil {
		l.inner.Attach(d)
	}
}

func (l *rawLink) WritePackets(pkts [][]byte) (int, error) {
	l.mu.Lock()
	for _, p := range pkts {
		l.sent = append(l.sent, bytes.Clone(p))
	}
	l.mu.Unlock()
	if l.inner != nil {
		return l.inner.WritePackets(pkts)
	}
	return len(pkts), nil
}

func (l *rawLink) Close() error {
	if l.inner != nil {
		return l.inner.Close()
	}
	return nil
}

// inject delivers packets to the stack as one batch.
func (l *rawLink) inject(pkts ...[]byte) {
	l.mu.Lock()
	d := l.d
	l.mu.Unlock()
	d.DeliverPackets(pkts)
}

// take returns and forgets what the stack wrote so far.
func (l *rawLink) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sent
	l.sent = nil
	return out
}

// takeTCP returns the TCP segments written so far, parsed and checked.
func (l *rawLink) takeTCP(t testing.TB) []outSeg {
	t.Helper()
	var out []outSeg
	for _, p := range l.take() {
		if s, ok := parseOut(t, p); ok {
			out = append(out, s)
		}
	}
	return out
}

// rawHost is a stack under test at 10.0.0.2/24 and fd00::2/64 on a rawLink
// with a 1500-byte MTU.
func rawHost(t testing.TB, opts Options) (*Stack, *rawLink) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	l := newRawLink(1500)
	if _, err := s.AddInterface("raw0", l, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, l
}

// tappedHosts is twoHosts with the server (b, 10.0.0.2) behind a rawLink
// wrapping its pipe end: everything b writes is recorded, and the test can
// inject packets into b besides what a sends.
func tappedHosts(t testing.TB, bOpts Options) (a, b *Stack, tap *rawLink) {
	t.Helper()
	ea, eb := pipe.New(1500)
	var err error
	if a, err = New(Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err = New(bOpts); err != nil {
		t.Fatal(err)
	}
	tap = &rawLink{inner: eb}
	if _, err := a.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddInterface("p0", tap, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, tap
}

// ---------------------------------------------------------------------------
// Building packets.

// ipPacket wraps an upper-layer payload in an IPv4 or IPv6 header (by the
// family of src).
func ipPacket(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	var b []byte
	var err error
	if src.Is4() {
		b, err = wire.BuildIPv4(nil, &wire.IPv4Header{ID: 0x4242, TTL: 64, Protocol: proto, Src: src, Dst: dst}, len(payload))
	} else {
		b, err = wire.BuildIPv6(nil, &wire.IPv6Header{NextHeader: proto, HopLimit: 64, Src: src, Dst: dst}, len(payload))
	}
	if err != nil {
		panic(err)
	}
	return append(b, payload...)
}

// seg describes a TCP segment to build.
type seg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    wire.TCPFlags
	win      uint16
	opts     wire.TCPOptions
	data     []byte
}

// tcpBytes is the TCP header and payload, checksum filled in.
func (s seg) tcpBytes() []byte {
	win := s.win
	if win == 0 && s.flags&wire.FlagRST == 0 {
		win = 65535
	}
	th := wire.BuildTCP(nil, &wire.TCPHeader{
		SrcPort: s.src.Port(), DstPort: s.dst.Port(), Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: win,
	}, &s.opts, s.data)
	wire.TCP(th).FillChecksum(s.src.Addr(), s.dst.Addr())
	return th
}

// bytes is the whole IP packet.
func (s seg) bytes() []byte {
	return ipPacket(s.src.Addr(), s.dst.Addr(), wire.ProtoTCP, s.tcpBytes())
}

// synOpts are the options a Linux client puts on its SYN.
func synOpts(tsval uint32) wire.TCPOptions {
	return wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: tsval, HasWScale: true, WScale: 7}
}

// icmpV4 builds an ICMPv4 message with a valid checksum.
func icmpV4(typ, code uint8, rest uint32, body []byte) []byte {
	m := make([]byte, 8+len(body))
	m[0], m[1] = typ, code
	binary.BigEndian.PutUint32(m[4:8], rest)
	copy(m[8:], body)
	binary.BigEndian.PutUint16(m[2:4], wire.FoldChecksum(wire.Checksum(m, 0)))
	return m
}

// icmpV6 builds an ICMPv6 message with a valid checksum for src -> dst.
func icmpV6(src, dst netip.Addr, typ, code uint8, rest uint32, body []byte) []byte {
	m := make([]byte, 8+len(body))
	m[0], m[1] = typ, code
	binary.BigEndian.PutUint32(m[4:8], rest)
	copy(m[8:], body)
	binary.BigEndian.PutUint16(m[2:4], wire.FoldChecksum(wire.Checksum(m, wire.PseudoHeaderSum(wire.ProtoICMPv6, src, dst, len(m)))))
	return m
}

// icmpErrorAbout builds the ICMP error a router at from would send to the
// source of pkt (a packet the stack sent): v4 "destination unreachable"
// family messages quote the IP header and the first 8 octets of the
// transport header (RFC 792); v6 ones as much of the packet as fits (RFC
// 4443). rest is the second word (next-hop MTU for frag-needed / PTB).
func icmpErrorAbout(pkt []byte, from netip.Addr, typ, code uint8, rest uint32) []byte {
	if pkt[0]>>4 == 4 {
		ip, _ := wire.ParseIPv4(pkt)
		quote := pkt[:ip.HeaderLen()+8]
		return ipPacket(from, ip.Src(), wire.ProtoICMP, icmpV4(typ, code, rest, quote))
	}
	ip, _ := wire.ParseIPv6(pkt)
	quote := pkt
	if len(quote) > 1280-48 {
		quote = quote[:1280-48]
	}
	return ipPacket(from, ip.Src(), wire.ProtoICMPv6, icmpV6(from, ip.Src(), typ, code, rest, quote))
}

// fragmentV4 splits an IPv4 packet into fragments of at most size payload
// octets (a multiple of 8).
func fragmentV4(pkt []byte, id uint16, size int) [][]byte {
	ip, _ := wire.ParseIPv4(pkt)
	h := ip.Header()
	h.ID = id
	payload := ip.Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		fh := h
		fh.Flags = 0
		if end < len(payload) {
			fh.Flags = wire.IPv4MoreFragments
		}
		fh.FragmentOffset = uint16(off / 8)
		b, err := wire.BuildIPv4(nil, &fh, end-off)
		if err != nil {
			panic(err)
		}
		out = append(out, append(b, payload[off:end]...))
	}
	return out
}

// fragmentV6 splits an IPv6 packet (no extension headers) into fragments
// with a Fragment header, at most size payload octets each.
func fragmentV6(pkt []byte, id uint32, size int) [][]byte {
	ip, _ := wire.ParseIPv6(pkt)
	h := ip.Header()
	proto := h.NextHeader
	h.NextHeader = wire.ProtoFragment
	payload := ip.Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		out = append(out, fragV6(h, proto, id, off, end < len(payload), payload[off:end]))
	}
	return out
}

func fragV6(h wire.IPv6Header, proto uint8, id uint32, off int, more bool, data []byte) []byte {
	h.NextHeader = wire.ProtoFragment
	b, err := wire.BuildIPv6(nil, &h, 8+len(data))
	if err != nil {
		panic(err)
	}
	fh := make([]byte, 8)
	fh[0] = proto
	mf := uint16(0)
	if more {
		mf = 1
	}
	binary.BigEndian.PutUint16(fh[2:4], uint16(off)|mf)
	binary.BigEndian.PutUint32(fh[4:8], id)
	return append(append(b, fh...), data...)
}

// ---------------------------------------------------------------------------
// Parsing what the stack sent.

// outSeg is a TCP segment the stack wrote, decoded.
type outSeg struct {
	raw      []byte
	src, dst netip.AddrPort
	seq, ack uint32
	flags    wire.TCPFlags
	win      uint16
	opts     wire.TCPOptions
	optBytes []byte
	data     []byte
}

func (o outSeg) String() string {
	return fmt.Sprintf("%v > %v [%v] seq %d ack %d win %d len %d", o.src, o.dst, o.flags, o.seq, o.ack, o.win, len(o.data))
}

// parseOut decodes a packet the stack sent, failing the test if its IP or
// TCP checksum is wrong; ok is false for packets that are not TCP.
func parseOut(t testing.TB, p []byte) (outSeg, bool) {
	t.Helper()
	var src, dst netip.Addr
	var proto uint8
	var payload []byte
	switch p[0] >> 4 {
	case 4:
		ip, err := wire.ParseIPv4(p)
		if err != nil {
			t.Fatalf("stack sent a bad IPv4 packet: %v", err)
		}
		if !ip.ChecksumValid() {
			t.Errorf("stack sent an IPv4 header with a bad checksum")
		}
		src, dst, proto, payload = ip.Src(), ip.Dst(), ip.Protocol(), ip.Payload()
	case 6:
		ip, err := wire.ParseIPv6(p)
		if err != nil {
			t.Fatalf("stack sent a bad IPv6 packet: %v", err)
		}
		var uerr error
		proto, payload, uerr = ip.UpperLayer()
		if uerr != nil {
			t.Fatalf("stack sent a bad IPv6 packet: %v", uerr)
		}
		src, dst = ip.Src(), ip.Dst()
	default:
		t.Fatalf("stack sent a packet of IP version %d", p[0]>>4)
	}
	if proto != wire.ProtoTCP {
		return outSeg{}, false
	}
	th, err := wire.ParseTCP(payload)
	if err != nil {
		t.Fatalf("stack sent a bad TCP header: %v", err)
	}
	if !th.VerifyChecksum(src, dst) {
		t.Errorf("stack sent a TCP segment with a bad checksum")
	}
	o := outSeg{
		raw: p, src: netip.AddrPortFrom(src, th.SrcPort()), dst: netip.AddrPortFrom(dst, th.DstPort()),
		seq: th.Seq(), ack: th.Ack(), flags: th.Flags(), win: th.Window(),
		optBytes: th.OptionBytes(), data: th.Payload(),
	}
	if err := th.ParseOptions(&o.opts); err != nil {
		t.Errorf("stack sent bad TCP options: %v", err)
	}
	return o, true
}

// only returns the single segment of segs, failing otherwise.
func only(t testing.TB, segs []outSeg, what string) outSeg {
	t.Helper()
	if len(segs) != 1 {
		t.Fatalf("%s: stack sent %d segments, want 1: %v", what, len(segs), segs)
	}
	return segs[0]
}

// ---------------------------------------------------------------------------
// A hand-driven peer.

// peer is the remote end of one connection, driven by the test: it keeps
// its sequence numbers and timestamps and builds segments for the stack.
type peer struct {
	t             testing.TB
	l             *rawLink
	local, remote netip.AddrPort // local: the peer's; remote: the stack's
	iss           uint32
	sndNxt        uint32 // the peer's next sequence number
	rcvNxt        uint32 // what the peer has received of the stack's stream
	tsval         uint32
	tsecr         uint32
	ts            bool
	mss           uint16 // MSS option of the SYN (0: 1460)
}

func newPeer(t testing.TB, l *rawLink, local, remote netip.AddrPort) *peer {
	return &peer{t: t, l: l, local: local, remote: remote, iss: 1000, sndNxt: 1000, tsval: 5000, ts: true}
}

// seg returns a segment from the peer with its current numbers.
func (p *peer) seg(flags wire.TCPFlags, data []byte) seg {
	s := seg{src: p.local, dst: p.remote, seq: p.sndNxt, ack: p.rcvNxt, flags: flags, data: data}
	if p.ts {
		p.tsval++
		s.opts.HasTimestamps, s.opts.TSVal, s.opts.TSEcr = true, p.tsval, p.tsecr
	}
	return s
}

// send injects a segment and advances SND.NXT over it.
func (p *peer) send(flags wire.TCPFlags, data []byte) {
	s := p.seg(flags, data)
	p.l.inject(s.bytes())
	p.sndNxt += uint32(len(data))
	if flags&(wire.FlagSYN|wire.FlagFIN) != 0 {
		p.sndNxt++
	}
}

// note records what the peer learned from a segment the stack sent.
func (p *peer) note(o outSeg) {
	end := o.seq + uint32(len(o.data))
	if o.flags&(wire.FlagSYN|wire.FlagFIN) != 0 {
		end++
	}
	if o.flags&wire.FlagSYN != 0 || int32(end-p.rcvNxt) > 0 {
		p.rcvNxt = end
	}
	if o.opts.HasTimestamps {
		p.tsecr = o.opts.TSVal
	}
}

// connect performs the three-way handshake with a listener of the stack and
// returns the stack's SYN-ACK.
func (p *peer) connect() outSeg {
	p.t.Helper()
	p.l.take()
	s := p.seg(wire.FlagSYN, nil)
	s.opts = synOpts(p.tsval)
	if p.mss != 0 {
		s.opts.MSS = p.mss
	}
	p.l.inject(s.bytes())
	p.sndNxt++
	sa := only(p.t, p.l.takeTCP(p.t), "SYN")
	if sa.flags != wire.FlagSYN|wire.FlagACK || sa.ack != p.iss+1 {
		p.t.Fatalf("answer to SYN: %v, want SYN-ACK", sa)
	}
	p.note(sa)
	p.send(wire.FlagACK, nil)
	return sa
}

// sockState returns the state of the stack's connection with this peer, or
// false.
func sockState(s *Stack, local, remote netip.AddrPort) (tcp.State, bool) {
	for _, r := range s.Sockets() {
		if r.Local == local && r.Remote == remote {
			return r.State, true
		}
	}
	return 0, false
}

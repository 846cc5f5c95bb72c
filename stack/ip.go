package stack

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// deliver processes inbound packets from one interface.
func (s *Stack) deliver(nic *NIC, pkts, tails [][]byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := s.clock.Now()
	// Timers that are due run first, so that a packet never meets a
	// connection whose deadline has silently passed.
	s.runTimers(now)
	for i, p := range pkts {
		var tail []byte
		if tails != nil {
			tail = tails[i]
		}
		if len(tail) > 0 && s.opts.Capture != nil {
			// The capture records whole packets.
			p, tail = joinPacket(p, tail), nil
		}
		s.stats.PacketsIn++
		s.comment = s.comment[:0]
		s.inInput = true
		if len(tail) > 0 {
			s.inputSplit(nic, p, tail, now)
		} else {
			s.inputIP(nic, p, now)
		}
		s.inInput = false
		if s.opts.Capture != nil {
			// The arriving packet is recorded with the state changes it
			// caused, then the replies it provoked, in that order.
			s.opts.Capture.CapturePacket(now, false, p, string(s.comment))
			for i, r := range s.replies {
				s.opts.Capture.CapturePacket(now, true, r, s.replyComments[i])
			}
		}
		s.replies = s.replies[:0]
		s.replyComments = s.replyComments[:0]
		s.comment = s.comment[:0]
	}
	for i, c := range s.batch {
		c.batched = false
		c.tcb.ReleaseAck(now)
		s.afterEngine(c)
		s.batch[i] = nil
	}
	s.batch = s.batch[:0]
	s.unlockAndFlush()
}

func (s *Stack) inputIP(nic *NIC, p []byte, now time.Duration) {
	if len(p) == 0 {
		s.stats.BadIPHeader++
		return
	}
	switch p[0] >> 4 {
	case 4:
		ip, err := wire.ParseIPv4(p)
		if err != nil {
			s.stats.BadIPHeader++
			return
		}
		if !ip.ChecksumValid() {
			s.stats.BadIPChecksum++
			return
		}
		if !s.isLocal(ip.Dst()) {
			// Includes broadcast and multicast destinations: a TCP segment
			// to one is silently discarded (RFC 9293 MUST-57).
			s.stats.NotForUs++
			return
		}
		if hasSourceRoute(ip.Options()) {
			// Like Linux with accept_source_route=0 (and RFC 7126), packets
			// carrying a loose or strict source route are dropped.
			s.stats.SourceRouted++
			return
		}
		payload := ip.Payload()
		if ip.IsFragment() {
			s.stats.FragmentsIn++
			whole, ok := s.frags.addV4(ip, now, &s.stats)
			s.scheduleFrag()
			if !ok {
				return
			}
			payload = whole
		}
		s.inputTransport(nic, ip.Protocol(), ip.Src(), ip.Dst(), payload, p, now)
	case 6:
		ip, err := wire.ParseIPv6(p)
		if err != nil {
			s.stats.BadIPHeader++
			return
		}
		if !s.isLocal(ip.Dst()) {
			s.stats.NotForUs++
			return
		}
		proto, payload, err := ip.UpperLayer()
		if err == wire.ErrFragment {
			s.stats.FragmentsIn++
			whole, nh, ok := s.frags.addV6(ip, now, &s.stats)
			s.scheduleFrag()
			if !ok {
				return
			}
			proto, payload = nh, whole
		} else if err != nil {
			s.stats.BadIPHeader++
			return
		}
		s.inputTransport(nic, proto, ip.Src(), ip.Dst(), payload, p, now)
	default:
		s.stats.BadIPHeader++
	}
}

// joinPacket returns a packet that arrived in two pieces as one buffer.
func joinPacket(head, tail []byte) []byte {
	return append(append(make([]byte, 0, len(head)+len(tail)), head...), tail...)
}

// inputSplit takes a packet that arrived in two pieces (link.SplitDispatcher,
// from a peer's sendTCPWith): the IP and TCP headers in head, the TCP
// payload in tail. A segment of the usual shape goes straight to TCP;
// anything else is joined and takes the general path, which finds and
// counts what is wrong with it.
func (s *Stack) inputSplit(nic *NIC, head, tail []byte, now time.Duration) {
	if src, dst, th, ok := s.splitTCP(head, len(tail)); ok {
		s.inputTCP(nic, src, dst, th, tail, wire.PacketECN(head), now)
		return
	}
	s.inputIP(nic, joinPacket(head, tail), now)
}

// splitTCP checks that head is exactly the headers of a TCP segment for
// this stack, with tailLen bytes of payload following: an IPv4 header
// without options (and a valid checksum) or an IPv6 header without
// extension headers, not a fragment, then the whole TCP header. It returns
// the addresses and the TCP header.
func (s *Stack) splitTCP(head []byte, tailLen int) (src, dst netip.Addr, th []byte, ok bool) {
	if len(head) == 0 {
		return src, dst, nil, false
	}
	switch head[0] >> 4 {
	case 4:
		ip := wire.IPv4(head)
		if len(head) < wire.IPv4MinHeaderLen || ip.HeaderLen() != wire.IPv4MinHeaderLen ||
			int(ip.TotalLength()) != len(head)+tailLen || ip.IsFragment() ||
			ip.Protocol() != wire.ProtoTCP || !ip.ChecksumValid() {
			return src, dst, nil, false
		}
		src, dst, th = ip.Src(), ip.Dst(), head[wire.IPv4MinHeaderLen:]
	case 6:
		ip := wire.IPv6(head)
		if len(head) < wire.IPv6HeaderLen || int(ip.PayloadLength()) != len(head)-wire.IPv6HeaderLen+tailLen ||
			ip.NextHeader() != wire.ProtoTCP {
			return src, dst, nil, false
		}
		src, dst, th = ip.Src(), ip.Dst(), head[wire.IPv6HeaderLen:]
	default:
		return src, dst, nil, false
	}
	if len(th) < wire.TCPMinHeaderLen || int(th[12]>>4)*4 != len(th) ||
		!s.isLocal(dst) || s.martian(src) {
		return src, dst, nil, false
	}
	return src, dst, th, true
}

// hasSourceRoute reports whether IPv4 options carry LSRR (131) or SSRR (137).
func hasSourceRoute(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return false
		case 1: // no-op
			i++
			continue
		case 131, 137:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}

// badSource reports whether a source address can never be a TCP peer:
// unspecified, multicast, limited broadcast, or a directed broadcast of one
// of our prefixes (RFC 9293 MUST-63, RFC 1122 4.2.3.10).
func (s *Stack) badSource(a netip.Addr) bool {
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return true
	}
	return s.isBroadcast(a)
}

// martian reports whether an arriving packet's source is impossible on a
// link: a bad source as above, a loopback address, or one of our own
// (RFC 1122 3.2.1.3; Linux drops such "martians" too).
func (s *Stack) martian(src netip.Addr) bool {
	return s.badSource(src) || src.IsLoopback() || s.isLocal(src)
}

func (s *Stack) isBroadcast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, n := range s.nics {
		for _, p := range n.addrs {
			if p.Addr().Is4() && p.Bits() < 31 && p.Contains(a) {
				b := p.Masked().Addr().As4()
				host := 32 - p.Bits()
				v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
				v |= 1<<host - 1
				if a == netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}) {
					return true
				}
			}
		}
	}
	return false
}

func (s *Stack) inputTransport(nic *NIC, proto uint8, src, dst netip.Addr, payload, whole []byte, now time.Duration) {
	switch proto {
	case wire.ProtoTCP:
		if s.martian(src) {
			s.stats.BadSource++
			return
		}
		s.inputTCP(nic, src, dst, payload, nil, wire.PacketECN(whole), now)
	case wire.ProtoICMP, wire.ProtoICMPv6:
		if s.martian(src) {
			// No echo reply to a broadcast or multicast source (a Smurf
			// reflector) nor errors from one (RFC 1122 3.2.1.3).
			s.stats.BadSource++
			return
		}
		if proto == wire.ProtoICMP && src.Is4() {
			s.inputICMPv4(nic, src, dst, payload, now)
		} else if proto == wire.ProtoICMPv6 && src.Is6() {
			s.inputICMPv6(nic, src, dst, payload, now)
		}
	default:
		s.stats.UnknownProtocol++
	}
}

// ICMP types used here (RFC 792, RFC 4443).
const (
	icmpEchoReply       = 0
	icmpDestUnreachable = 3
	icmpEchoRequest     = 8
	icmpTimeExceeded    = 11

	icmp6DestUnreachable = 1
	icmp6PacketTooBig    = 2
	icmp6TimeExceeded    = 3
	icmp6EchoRequest     = 128
	icmp6EchoReply       = 129
)

func (s *Stack) inputICMPv4(nic *NIC, src, dst netip.Addr, m []byte, now time.Duration) {
	if len(m) < 8 || wire.FoldChecksum(wire.Checksum(m, 0)) != 0 {
		s.stats.BadICMP++
		return
	}
	switch m[0] {
	case icmpEchoRequest:
		// Echo reply (RFC 792; RFC 1122 3.2.2.6: echo the data unchanged).
		s.stats.ICMPEchoReplies++
		reply := s.tx.alloc(20 + len(m))
		body := reply[20:]
		copy(body, m)
		body[0], body[1] = icmpEchoReply, 0
		binary.BigEndian.PutUint16(body[2:], 0)
		binary.BigEndian.PutUint16(body[2:], wire.FoldChecksum(wire.Checksum(body, 0)))
		s.sendIP(nic, dst, src, wire.ProtoICMP, reply, 20)
	case icmpDestUnreachable, icmpTimeExceeded:
		s.stats.ICMPErrorsIn++
		inner := m[8:]
		// The quoted header is truncated (RFC 792: IP header + 8 bytes), so
		// it is read field by field rather than parsed as a whole packet.
		if len(inner) < 20 || inner[0]>>4 != 4 || int(inner[0]&0xf)*4 < 20 || len(inner) < int(inner[0]&0xf)*4+8 {
			s.stats.ICMPErrorsIgnored++
			return
		}
		if inner[9] != wire.ProtoTCP {
			s.stats.ICMPErrorsIgnored++
			return
		}
		qsrc := netip.AddrFrom4([4]byte(inner[12:16]))
		qdst := netip.AddrFrom4([4]byte(inner[16:20]))
		mtu := int(binary.BigEndian.Uint16(m[6:8]))
		s.icmpError(qsrc, qdst, inner[int(inner[0]&0xf)*4:], icmpKind4(m[0], m[1]), mtu, now)
	}
}

func (s *Stack) inputICMPv6(nic *NIC, src, dst netip.Addr, m []byte, now time.Duration) {
	if len(m) < 8 || wire.FoldChecksum(wire.Checksum(m, wire.PseudoHeaderSum(wire.ProtoICMPv6, src, dst, len(m)))) != 0 {
		s.stats.BadICMP++
		return
	}
	switch m[0] {
	case icmp6EchoRequest:
		s.stats.ICMPEchoReplies++
		reply := s.tx.alloc(40 + len(m))
		body := reply[40:]
		copy(body, m)
		body[0], body[1] = icmp6EchoReply, 0
		binary.BigEndian.PutUint16(body[2:], 0)
		binary.BigEndian.PutUint16(body[2:], wire.FoldChecksum(wire.Checksum(body, wire.PseudoHeaderSum(wire.ProtoICMPv6, dst, src, len(body)))))
		s.sendIP(nic, dst, src, wire.ProtoICMPv6, reply, 40)
	case icmp6DestUnreachable, icmp6PacketTooBig, icmp6TimeExceeded:
		s.stats.ICMPErrorsIn++
		inner := m[8:]
		if len(inner) < 40 {
			s.stats.ICMPErrorsIgnored++
			return
		}
		ip := wire.IPv6(inner[:40])
		proto, payload, err := wire.SkipIPv6Extensions(inner[6], inner[40:])
		if err != nil || proto != wire.ProtoTCP {
			s.stats.ICMPErrorsIgnored++
			return
		}
		mtu := int(binary.BigEndian.Uint32(m[4:8]))
		s.icmpError(ip.Src(), ip.Dst(), payload, icmpKind6(m[0], m[1]), mtu, now)
	}
}

type icmpKind uint8

const (
	icmpSoft     icmpKind = iota // network/host unreachable, time exceeded
	icmpHard                     // protocol/port unreachable, administratively prohibited
	icmpFragNeed                 // fragmentation needed / packet too big
)

func icmpKind4(typ, code uint8) icmpKind {
	if typ == icmpDestUnreachable {
		switch code {
		case 2, 3, 9, 10, 13:
			return icmpHard
		case 4:
			return icmpFragNeed
		}
	}
	return icmpSoft
}

func icmpKind6(typ, code uint8) icmpKind {
	switch typ {
	case icmp6PacketTooBig:
		return icmpFragNeed
	case icmp6DestUnreachable:
		if code == 1 || code == 4 {
			return icmpHard
		}
	}
	return icmpSoft
}

// icmpError applies an ICMP error about a TCP segment we sent (RFC 9293
// 3.9.4, RFC 1122 4.2.3.9, RFC 5927): the quoted sequence number must be in
// flight; fragmentation-needed lowers the path MSS (RFC 1191, 8201); during
// the handshake an unreachable is fatal, later it is a soft error.
func (s *Stack) icmpError(src, dst netip.Addr, tcpHdr []byte, kind icmpKind, mtu int, now time.Duration) {
	if len(tcpHdr) < 8 {
		s.stats.ICMPErrorsIgnored++
		return
	}
	sport := binary.BigEndian.Uint16(tcpHdr[0:2])
	dport := binary.BigEndian.Uint16(tcpHdr[2:4])
	seq := binary.BigEndian.Uint32(tcpHdr[4:8])
	c := s.conns[connKey{local: netip.AddrPortFrom(src, sport), remote: netip.AddrPortFrom(dst, dport)}]
	if c == nil || !c.tcb.SeqInFlight(seq) {
		// RFC 5927 4.1: an error quoting data we have not sent is forged.
		s.stats.ICMPErrorsIgnored++
		return
	}
	switch kind {
	case icmpFragNeed:
		// Floors: IPv6's minimum MTU, and for IPv4 Linux's
		// net.ipv4.route.min_pmtu (552), so that a forged message cannot
		// shrink segments to a few bytes (RFC 5927 7.2).
		hdr, floor := 40, 552
		if src.Is6() {
			hdr, floor = 60, 1280
		}
		if mtu < floor {
			mtu = floor
		}
		// A Too Big message only ever lowers the estimate (RFC 1191 6.3,
		// RFC 8201 4), which starts at the link's MTU.
		cur := int(c.pathMTU)
		if cur == 0 {
			cur = c.nic.mtu
		}
		if mtu > hdr+s.cfg.MinSndMSS && mtu < cur {
			c.pathMTU = uint16(mtu)
			c.tcb.SetPathMSS(now, uint16(mtu-hdr))
		}
	case icmpHard, icmpSoft:
		errno := syscall.EHOSTUNREACH
		if kind == icmpHard {
			errno = syscall.ECONNREFUSED
		}
		// Protocol and port unreachable end a connection attempt (RFC 1122
		// 4.2.3.9). Net and host unreachable are soft: RFC 9293 MUST-56
		// forbids aborting on them, and the connection keeps trying; if it
		// times out, it reports this error instead of ETIMEDOUT. (Linux also
		// aborts a handshake on them: Options.AbortHandshakeOnUnreachable.)
		st := c.tcb.State()
		handshake := st == tcp.SynSent || st == tcp.SynReceived
		if handshake && (kind == icmpHard || s.opts.AbortHandshakeOnUnreachable) {
			c.tcb.HardError(now, errno)
		} else {
			c.tcb.SetSoftError(errno)
		}
	}
	s.afterEngine(c)
}

// sendTCP serialises a segment into an IP packet and queues it.
// ipFields are the IP header values a connection may set (IP_TOS /
// IPV6_TCLASS, IP_TTL / IPV6_UNICAST_HOPS); zero values mean the defaults.
type ipFields struct {
	tos, ttl uint8
}

func (s *Stack) sendTCP(nic *NIC, local, remote netip.AddrPort, seg *tcp.Segment) {
	s.sendTCPWith(nic, local, remote, seg, ipFields{})
}

func (s *Stack) sendTCPWith(nic *NIC, local, remote netip.AddrPort, seg *tcp.Segment, f ipFields) {
	if nic == nil {
		var ok bool
		if nic, _, ok = s.route(remote.Addr()); !ok {
			s.stats.NoRoute++
			return
		}
	}
	hdr := 20
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		hdr = 40
	}
	olen := seg.Options.Len(seg.Flags&wire.FlagSYN != 0)
	n := hdr + wire.TCPMinHeaderLen + olen
	// A payload the engine lends (Pinned) is not copied into the packet
	// when the link can carry it as a second piece (link.SplitWriter); the
	// capture, which records whole packets, rules that out.
	var tail []byte
	if seg.Pinned && len(seg.Payload) > 0 && nic.splitter != nil && s.opts.Capture == nil &&
		n+len(seg.Payload) <= nic.mtu {
		tail = seg.Payload
	} else {
		n += len(seg.Payload)
	}
	buf := s.tx.alloc(n)
	h := wire.BuildTCP(buf[hdr:hdr], &wire.TCPHeader{
		SrcPort: local.Port(), DstPort: remote.Port(),
		Seq: seg.Seq, Ack: seg.Ack, Flags: seg.Flags, Window: seg.Window, Urgent: seg.Urgent,
	}, &seg.Options, nil)
	th := wire.TCP(buf[hdr:])
	switch {
	case tail != nil:
		if !nic.off.TxChecksum {
			// One read-only pass over the payload.
			sum := wire.Checksum(h, wire.PseudoHeaderSum(wire.ProtoTCP, local.Addr(), remote.Addr(), len(h)+len(tail)))
			th.SetChecksum(wire.FoldChecksum(wire.Checksum(tail, sum)))
		}
	case nic.off.TxChecksum:
		copy(th[len(h):], seg.Payload)
	default:
		// The payload is copied into the packet and summed in one pass
		// (the header, a multiple of four octets long, first).
		sum := wire.Checksum(h, wire.PseudoHeaderSum(wire.ProtoTCP, local.Addr(), remote.Addr(), len(th)))
		th.SetChecksum(wire.FoldChecksum(wire.ChecksumCopy(th[len(h):], seg.Payload, sum)))
	}
	// The ECN field is the engine's (RFC 3168 6.1); like Linux for TCP
	// sockets, IP_TOS / IPV6_TCLASS set only the DSCP bits.
	f.tos = f.tos&^wire.ECNMask | uint8(seg.ECN)
	s.sendIPWith(nic, local.Addr(), remote.Addr(), wire.ProtoTCP, buf, tail, hdr, f)
}

// sendIP fills in the IP header in front of an upper-layer payload that is
// already in buf[hdr:], and queues the packet.
func (s *Stack) sendIP(nic *NIC, src, dst netip.Addr, proto uint8, buf []byte, hdr int) {
	s.sendIPWith(nic, src, dst, proto, buf, nil, hdr, ipFields{})
}

// sendIPWith is sendIP with the IP fields f. A packet in two pieces has
// its second, tail, follow buf; it must fit the link's MTU.
func (s *Stack) sendIPWith(nic *NIC, src, dst netip.Addr, proto uint8, buf, tail []byte, hdr int, f ipFields) {
	ttl := f.ttl
	if ttl == 0 {
		ttl = s.opts.TTL
	}
	if hdr == 20 {
		s.ipID++
		_, err := wire.BuildIPv4(buf[:0], &wire.IPv4Header{
			TOS: f.tos, ID: s.ipID, Flags: wire.IPv4DontFragment, TTL: ttl, Protocol: proto, Src: src, Dst: dst,
		}, len(buf)-hdr+len(tail))
		if err != nil {
			s.stats.NoRoute++
			return
		}
	} else {
		if _, err := wire.BuildIPv6(buf[:0], &wire.IPv6Header{
			TrafficClass: f.tos, NextHeader: proto, HopLimit: ttl, Src: src, Dst: dst,
		}, len(buf)-hdr+len(tail)); err != nil {
			s.stats.NoRoute++
			return
		}
	}
	if len(buf)+len(tail) > nic.mtu {
		// Larger than the link carries (an ICMP echo reply to a large
		// reassembled request; TCP never is, its MSS follows the MTU):
		// fragment it, as Linux does (RFC 791 3.2, RFC 8200 4.5).
		s.fragmentOut(nic, buf, hdr)
		return
	}
	s.stats.PacketsOut++
	s.tx.add(nic, buf, tail)
	if s.opts.Capture != nil {
		if s.inInput {
			s.replies = append(s.replies, buf)
			s.replyComments = append(s.replyComments, string(s.outComment))
		} else {
			s.opts.Capture.CapturePacket(s.clock.Now(), true, buf, string(s.outComment))
		}
	}
}

// fragmentOut splits an IP packet too large for nic into fragments and
// queues them. IPv4 fragments copy the header (clearing DF); IPv6 ones get a
// Fragment header.
func (s *Stack) fragmentOut(nic *NIC, pkt []byte, hdr int) {
	payload := pkt[hdr:]
	s.ipID++
	if hdr == 20 {
		ip := wire.IPv4(pkt)
		h := ip.Header()
		h.ID = s.ipID
		chunk := (nic.mtu - 20) &^ 7
		for off := 0; off < len(payload); off += chunk {
			end := min(off+chunk, len(payload))
			h.Flags = 0
			if end < len(payload) {
				h.Flags = wire.IPv4MoreFragments
			}
			h.FragmentOffset = uint16(off / 8)
			b := s.tx.alloc(20 + end - off)
			if _, err := wire.BuildIPv4(b[:0], &h, end-off); err != nil {
				s.stats.NoRoute++
				return
			}
			copy(b[20:], payload[off:end])
			s.stats.PacketsOut++
			s.stats.FragmentsOut++
			s.tx.add(nic, b, nil)
		}
		return
	}
	ip := wire.IPv6(pkt)
	h := ip.Header()
	next := h.NextHeader
	h.NextHeader = wire.ProtoFragment
	chunk := (nic.mtu - 40 - 8) &^ 7
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		b := s.tx.alloc(48 + end - off)
		if _, err := wire.BuildIPv6(b[:0], &h, 8+end-off); err != nil {
			s.stats.NoRoute++
			return
		}
		fh := b[40:48]
		fh[0], fh[1] = next, 0
		field := uint16(off)
		if end < len(payload) {
			field |= 1
		}
		binary.BigEndian.PutUint16(fh[2:4], field)
		binary.BigEndian.PutUint32(fh[4:8], uint32(s.ipID))
		copy(b[48:], payload[off:end])
		s.stats.PacketsOut++
		s.stats.FragmentsOut++
		s.tx.add(nic, b, nil)
	}
}

// txBatch collects the packets produced while the stack's lock is held. Its
// memory is reused from batch to batch: packets are carved out of chunks of
// txChunkSize bytes (or one packet's size, if larger), and a chunk, once
// handed out, never moves, so a batch grows without copying what it holds.
// A batch keeps its first chunk; the others come from, and go back to, a
// pool shared by all batches, so that a batch that carried a burst of large
// segments does not hoard memory while it carries ACKs.
//
// A batch is reference-counted: the stack holds one reference while it
// fills and writes the batch, and each write to a link.OwningWriter lends
// the chunks to the link for one more, which the link gives back (Release)
// once it has delivered the packets. The batch goes back to the pool when
// the last reference is released.
type txBatch struct {
	chunks []*[]byte // chunks[cur] is being filled; those before it are full
	cur    int
	pkts   []txPkt
	tmp    [][]byte
	tails  [][]byte
	// underused counts the uses in a row that needed little of a grown
	// batch (tables.go: trimTxBatch).
	underused uint8
	refs      atomic.Int32
}

type txPkt struct {
	nic  *NIC
	pkt  []byte
	tail []byte // the payload, when the packet is in two pieces (sendTCPWith)
}

var (
	txPool = sync.Pool{New: func() any {
		return &txBatch{chunks: []*[]byte{newTxChunk()}}
	}}
	txChunkPool = sync.Pool{New: func() any { return newTxChunk() }}
)

func newTxChunk() *[]byte {
	b := make([]byte, 0, txChunkSize)
	return &b
}

// newTxBatch takes a batch from the pool, holding its one reference.
func newTxBatch() *txBatch {
	b := txPool.Get().(*txBatch)
	b.refs.Store(1)
	return b
}

// Release implements link.Releaser: it drops one reference, and returns the
// batch to the pool when it was the last.
func (b *txBatch) Release() {
	if b.refs.Add(-1) == 0 {
		putTxBatch(b)
	}
}

func putTxBatch(b *txBatch) {
	trimTxBatch(b)
	b.reset()
	txPool.Put(b)
}

// reset empties the batch, keeping its first chunk and giving the others
// back to the chunk pool.
func (b *txBatch) reset() {
	*b.chunks[0] = (*b.chunks[0])[:0]
	for i, c := range b.chunks[1:] {
		if cap(*c) == txChunkSize {
			*c = (*c)[:0]
			txChunkPool.Put(c)
		}
		b.chunks[1+i] = nil
	}
	clear(b.pkts) // drop the NICs and the tails (send buffers)
	clear(b.tmp)
	clear(b.tails)
	b.chunks, b.cur, b.pkts, b.tmp, b.tails = b.chunks[:1], 0, b.pkts[:0], b.tmp[:0], b.tails[:0]
}

// used is the number of bytes handed out since the last reset.
func (b *txBatch) used() int {
	n := 0
	for _, c := range b.chunks[:b.cur+1] {
		n += len(*c)
	}
	return n
}

// alloc returns n bytes of the batch's memory. They stay valid, and do not
// move, until the batch goes back to the pool.
func (b *txBatch) alloc(n int) []byte {
	c := b.chunks[b.cur]
	if cap(*c)-len(*c) < n {
		if n <= txChunkSize {
			c = txChunkPool.Get().(*[]byte)
		} else {
			nb := make([]byte, 0, n)
			c = &nb
		}
		b.chunks = append(b.chunks, c)
		b.cur++
	}
	start := len(*c)
	*c = (*c)[:start+n]
	return (*c)[start : start+n : start+n]
}

// add queues pkt, which alloc returned, followed by tail if not nil, for
// transmission on nic.
func (b *txBatch) add(nic *NIC, pkt, tail []byte) {
	b.pkts = append(b.pkts, txPkt{nic: nic, pkt: pkt, tail: tail})
}

func (s *Stack) takeBatch() *txBatch {
	if len(s.tx.pkts) == 0 {
		return nil
	}
	b := s.tx
	s.tx = newTxBatch()
	return b
}

// writeBatch hands the packets to their links, consecutive packets for one
// interface in one call.
func (s *Stack) writeBatch(b *txBatch) {
	// Lending pins the batch's chunks until the link has delivered every
	// packet in it: worth it for a batch full of data, not for a few small
	// packets (an ACK would hold a whole chunk in the link's queue), which
	// the link copies at little cost.
	lend := b.used() >= txLendMin
	for i := 0; i < len(b.pkts); {
		nic := b.pkts[i].nic
		b.tmp, b.tails = b.tmp[:0], b.tails[:0]
		split := false
		j := i
		for ; j < len(b.pkts) && b.pkts[j].nic == nic; j++ {
			b.tmp = append(b.tmp, b.pkts[j].pkt)
			b.tails = append(b.tails, b.pkts[j].tail)
			split = split || b.pkts[j].tail != nil
		}
		var err error
		switch {
		case split:
			// Packets in two pieces (only made for a link.SplitWriter):
			// the heads are lent with the batch, whatever its size.
			b.refs.Add(1)
			_, err = nic.splitter.WritePacketsSplit(b.tmp, b.tails, b)
		case nic.owner != nil && lend:
			// Lend the packets instead of having the link copy them.
			b.refs.Add(1)
			_, err = nic.owner.WritePacketsOwned(b.tmp, b)
		default:
			_, err = nic.ep.WritePackets(b.tmp)
		}
		if err != nil {
			// Counted atomically: s.mu must not be taken under txMu.
			s.linkWriteErrors.Add(1)
		}
		i = j
	}
}

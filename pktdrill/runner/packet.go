package runner

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/pktdrill"
	"github.com/synfin/synfin/wire"
)

// sockState is what the runner knows about a socket, as packetdrill tracks
// it to map packets between script and live values.
type sockState int

const (
	sockInit sockState = iota
	sockNew
	sockListening
	sockPassivePacketReceived
	sockPassiveSynackSent
	sockPassiveSynackAcked
	sockActiveConnecting
	sockActiveSynSent
	sockActiveSynAcked
)

type endpoint struct {
	ip   netip.Addr
	port uint16
}

type sockInfo struct {
	local, remote       endpoint
	localISN, remoteISN uint32
}

// tsock is a socket as the runner tracks it.
type tsock struct {
	state  sockState
	fd     int // script fd; -1 for a child not accepted yet
	closed bool
	typ    int
	proto  int
	script sockInfo
	live   sockInfo

	tsMap         map[uint32]uint32 // script TS val -> live TS val
	foundTS       bool
	firstScriptTS uint32
	firstActualTS uint32
}

func (r *run) ephemeralPort() uint16 {
	p := r.nextEphemeral
	r.nextEphemeral++
	if r.nextEphemeral < 32768 || r.nextEphemeral > 60999 {
		r.nextEphemeral = 32768
	}
	if p == r.bindPort || p == r.connectPort {
		return r.ephemeralPort()
	}
	return p
}

func (r *run) packetError(e *evt, p *pktdrill.Packet, msg string, actual *livePacket) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: error handling packet: %s", r.file, e.line, msg)
	fmt.Fprintf(&b, "\nscript packet: %9.6f %s", float64(e.start)/1e6, pktdrill.FormatPacketBody(p))
	if actual != nil {
		fmt.Fprintf(&b, "\nactual packet: %9.6f %s", float64(actual.usecs)/1e6, actual.String())
	}
	return fmt.Errorf("%s", b.String())
}

// socketForScriptPacket finds (or, for an inbound packet to a listener or
// a connecting socket's SYN, creates or advances) the socket a script packet
// belongs to.
func (r *run) socketForScriptPacket(p *pktdrill.Packet) (*tsock, error) {
	if t := p.TCP; t != nil {
		if p.Direction == pktdrill.Inbound && (r.sut == nil || r.sut.state == sockListening) {
			s := &tsock{state: sockPassivePacketReceived, fd: -1, typ: 1, proto: 6}
			s.script.remoteISN = t.Seq.Start
			s.live.remote = endpoint{r.cfg.RemoteIP, r.ephemeralPort()}
			s.live.local = endpoint{r.cfg.LocalIP, r.bindPort}
			s.live.remoteISN = t.Seq.Start
			r.socks = append([]*tsock{s}, r.socks...)
			r.sut = s
			return s, nil
		}
		if p.Direction == pktdrill.Outbound && t.Flags&pktdrill.FlagSYN != 0 && t.Flags&pktdrill.FlagACK == 0 &&
			r.sut != nil && r.sut.state == sockActiveConnecting {
			r.sut.state = sockActiveSynSent
			r.sut.script.localISN = t.Seq.Start
			return r.sut, nil
		}
	}
	if s := r.sut; s != nil {
		switch {
		case p.TCP != nil || p.ICMP != nil:
			if s.typ == 1 || s.proto == 6 {
				return s, nil
			}
		case p.UDP != nil:
			if s.typ == 2 || s.proto == 17 {
				return s, nil
			}
		}
	}
	if (p.TCP != nil && p.TCP.Ports != nil) || (p.UDP != nil && p.UDP.Ports != nil) {
		if r.sut != nil {
			return r.sut, nil
		}
	}
	return nil, fmt.Errorf("no matching socket for script packet")
}

func (r *run) packetEvent(e *evt, p *pktdrill.Packet) error {
	if p.UDP != nil {
		return &UnsupportedError{Feature: "UDP packets"}
	}
	if p.ICMP != nil && p.Direction == pktdrill.Outbound {
		return &UnsupportedError{Feature: "outbound ICMP packets"}
	}
	s, err := r.socketForScriptPacket(p)
	if err != nil {
		return r.packetError(e, p, err.Error(), nil)
	}
	if p.Direction == pktdrill.Outbound {
		return r.outbound(e, p, s)
	}
	if err := r.waitForEvent(e, "inbound packet"); err != nil {
		return err
	}
	return r.inbound(e, p, s)
}

// ---- inbound ----

func (r *run) inbound(e *evt, p *pktdrill.Packet, s *tsock) error {
	if t := p.TCP; t != nil {
		if s.state == sockPassiveSynackSent && t.Flags&pktdrill.FlagACK != 0 {
			s.state = sockPassiveSynackAcked
		} else if s.state == sockActiveSynSent && t.Flags&pktdrill.FlagSYN != 0 && t.Flags&pktdrill.FlagACK != 0 {
			s.state = sockActiveSynAcked
			s.script.remoteISN = t.Seq.Start
			s.live.remoteISN = t.Seq.Start
		}
	}
	var pkt []byte
	var err error
	if p.ICMP != nil {
		pkt, err = r.buildICMP(p, s)
	} else {
		pkt, err = r.buildTCP(p, s)
	}
	if err != nil {
		return r.packetError(e, p, err.Error(), nil)
	}
	r.tracef("%s:%d: inject %s", r.file, e.line, describeLive(pkt))
	r.record(r.inst.Now(), pcap.In, pkt, fmt.Sprintf("line %d", e.line))
	if err := r.inst.Inject(pkt); err != nil {
		return r.packetError(e, p, fmt.Sprintf("%s target: %v", r.target.Name(), err), nil)
	}
	return nil
}

func ipTOS(info *pktdrill.IPInfo) uint8 {
	if info == nil {
		return 0
	}
	if info.HasTOS {
		return info.TOS
	}
	return ecnBits(info.ECN)
}

func ecnBits(e pktdrill.ECN) uint8 {
	switch e {
	case pktdrill.ECNECT0:
		return 2
	case pktdrill.ECNECT1:
		return 1
	case pktdrill.ECNCE:
		return 3
	}
	return 0
}

func buildIPv4(tos, ttl, proto uint8, src, dst netip.Addr, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	b[1] = tos
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	b[8] = ttl
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], wire.FoldChecksum(wire.Checksum(b, 0)))
	return append(b, payload...)
}

func (r *run) buildTCP(p *pktdrill.Packet, s *tsock) ([]byte, error) {
	t := p.TCP
	src, dst := s.live.remote, s.live.local
	if t.Ports != nil {
		if t.Ports.Src != 0 {
			src.port = t.Ports.Src
		}
		if t.Ports.Dst != 0 {
			dst.port = t.Ports.Dst
		}
	}
	syn := t.Flags&pktdrill.FlagSYN != 0
	seq := t.Seq.Start
	if !syn {
		seq += s.live.remoteISN
	}
	ackOff := s.live.localISN
	if syn {
		ackOff = s.live.localISN - s.script.localISN
	}
	var ack uint32
	if t.HasAck {
		ack = t.Ack
	}
	if t.Flags&pktdrill.FlagACK != 0 {
		ack += ackOff
	}
	var opts []byte
	if t.Options != nil && !t.Options.Any {
		var err error
		opts, err = encodeOptions(t.Options.List, func(o *pktdrill.TCPOption) ([]byte, error) {
			switch o.Kind {
			case pktdrill.OptSACK:
				b := []byte{5, byte(2 + 8*len(o.SACK))}
				for _, blk := range o.SACK {
					b = binary.BigEndian.AppendUint32(b, blk.Left+ackOff)
					b = binary.BigEndian.AppendUint32(b, blk.Right+ackOff)
				}
				return b, nil
			case pktdrill.OptTimestamp:
				ecr := o.TSEcr
				if t.Flags&pktdrill.FlagACK != 0 {
					if live, ok := s.tsMap[o.TSEcr]; ok {
						ecr = live
					} else if r.ecrScale && s.foundTS {
						ecr = o.TSEcr - s.firstScriptTS + s.firstActualTS
					} else {
						return nil, fmt.Errorf("unable to infer live TS ecr for script TS ecr %d;  no matching or preceding outbound TS val", o.TSEcr)
					}
				}
				b := []byte{8, 10}
				b = binary.BigEndian.AppendUint32(b, o.TSVal)
				return binary.BigEndian.AppendUint32(b, ecr), nil
			}
			return nil, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	if len(opts) > 40 {
		return nil, fmt.Errorf("TCP options too long: %d bytes", len(opts))
	}
	hl := 20 + len(opts)
	tcp := make([]byte, hl+int(t.Seq.Len))
	binary.BigEndian.PutUint16(tcp[0:], src.port)
	binary.BigEndian.PutUint16(tcp[2:], dst.port)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = byte(hl/4) << 4
	tcp[13] = t.Flags
	var win uint16
	if t.HasWin {
		win = t.Win
	}
	binary.BigEndian.PutUint16(tcp[14:], win)
	if t.HasUrg {
		binary.BigEndian.PutUint16(tcp[18:], t.Urg)
	}
	copy(tcp[20:], opts)
	sum := wire.PseudoHeaderSum(wire.ProtoTCP, src.ip, dst.ip, len(tcp))
	binary.BigEndian.PutUint16(tcp[16:], wire.FoldChecksum(wire.Checksum(tcp, sum)))
	ttl := uint8(255)
	if p.IP != nil && p.IP.HasTTL {
		ttl = p.IP.TTL
	}
	return buildIPv4(ipTOS(p.IP), ttl, wire.ProtoTCP, src.ip, dst.ip, tcp), nil
}

// encodeOptions encodes a script option list; special may encode an option
// itself (returning nil, nil to leave it to the default encoding).
func encodeOptions(list []*pktdrill.TCPOption, special func(*pktdrill.TCPOption) ([]byte, error)) ([]byte, error) {
	var out []byte
	for _, o := range list {
		if special != nil {
			b, err := special(o)
			if err != nil {
				return nil, err
			}
			if b != nil {
				out = append(out, b...)
				continue
			}
		}
		b, err := encodeOption(o)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func decodeHexBlob(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad hex value %q", s)
	}
	return b, nil
}

func encodeOption(o *pktdrill.TCPOption) ([]byte, error) {
	switch o.Kind {
	case pktdrill.OptNOP:
		return []byte{1}, nil
	case pktdrill.OptEOL:
		return []byte{0}, nil
	case pktdrill.OptMSS:
		return []byte{2, 4, byte(o.MSS >> 8), byte(o.MSS)}, nil
	case pktdrill.OptWScale:
		return []byte{3, 3, o.WScale}, nil
	case pktdrill.OptSACKOK:
		return []byte{4, 2}, nil
	case pktdrill.OptSACK:
		b := []byte{5, byte(2 + 8*len(o.SACK))}
		for _, blk := range o.SACK {
			b = binary.BigEndian.AppendUint32(b, blk.Left)
			b = binary.BigEndian.AppendUint32(b, blk.Right)
		}
		return b, nil
	case pktdrill.OptTimestamp:
		b := []byte{8, 10}
		b = binary.BigEndian.AppendUint32(b, o.TSVal)
		return binary.BigEndian.AppendUint32(b, o.TSEcr), nil
	case pktdrill.OptMD5:
		d, err := decodeHexBlob(o.Digest)
		if err != nil {
			return nil, err
		}
		digest := make([]byte, 16)
		copy(digest, d)
		return append([]byte{19, 18}, digest...), nil
	case pktdrill.OptFastOpen:
		var c []byte
		if o.Cookie != "" {
			var err error
			if c, err = decodeHexBlob(o.Cookie); err != nil {
				return nil, err
			}
		}
		return append([]byte{34, byte(2 + len(c))}, c...), nil
	case pktdrill.OptFastOpenExp:
		var c []byte
		if o.Cookie != "" {
			var err error
			if c, err = decodeHexBlob(o.Cookie); err != nil {
				return nil, err
			}
		}
		return append([]byte{254, byte(4 + len(c)), 0xf9, 0x89}, c...), nil
	}
	return nil, fmt.Errorf("unsupported TCP option %s", o.Kind)
}

var icmpTypes = map[string]uint8{
	"echo_reply": 0, "unreachable": 3, "source_quench": 4, "redirect": 5, "echo_request": 8,
	"time_exceeded": 11, "parameter_problem": 12, "timestamp_request": 13, "timestamp_reply": 14,
	"information_request": 15, "information_reply": 16, "address_mask_request": 17, "address_mask_reply": 18,
}

var icmpUnreachCodes = map[string]uint8{
	"net_unreachable": 0, "host_unreachable": 1, "protocol_unreachable": 2, "port_unreachable": 3,
	"frag_needed": 4, "source_route_failed": 5, "net_unknown": 6, "host_unknown": 7,
	"source_host_isolated": 8, "net_prohibited": 9, "host_prohibited": 10, "net_unreachable_for_tos": 11,
	"host_unreachable_for_tos": 12, "packet_filtered": 13, "precedence_violation": 14, "precedence_cutoff": 15,
}

func (r *run) buildICMP(p *pktdrill.Packet, s *tsock) ([]byte, error) {
	h := p.ICMP
	var typ, code int
	if n, err := fmt.Sscanf(h.Type, "type_%d", &typ); err != nil || n != 1 {
		t, ok := icmpTypes[h.Type]
		if !ok {
			return nil, fmt.Errorf("bad ICMP type %s", h.Type)
		}
		typ = int(t)
	}
	if h.Code != "" {
		if n, err := fmt.Sscanf(h.Code, "code_%d", &code); err != nil || n != 1 {
			c, ok := icmpUnreachCodes[h.Code]
			if !ok || typ != 3 {
				return nil, fmt.Errorf("bad ICMP code %s", h.Code)
			}
			code = int(c)
		}
	}
	if typ > 255 || code > 255 || typ < 0 || code < 0 {
		return nil, fmt.Errorf("bad ICMP type/code %s %s", h.Type, h.Code)
	}
	icmp := make([]byte, 8)
	icmp[0], icmp[1] = byte(typ), byte(code)
	if h.HasMTU {
		if typ != 3 || code != 4 {
			return nil, fmt.Errorf("ICMPv4 MTU is only valid for unreachable-frag_needed")
		}
		binary.BigEndian.PutUint16(icmp[6:], uint16(h.MTU))
	}
	if h.HasID {
		binary.BigEndian.PutUint16(icmp[4:], uint16(h.ID))
	}
	kind, seq, plen := pktdrill.EchoedTCP, uint32(0), uint32(0)
	if h.Echoed != nil {
		kind = h.Echoed.Kind
		switch kind {
		case pktdrill.EchoedTCP:
			seq, plen = h.Echoed.Seq.Start, h.Echoed.Seq.Len
		default:
			plen = h.Echoed.Len
		}
	}
	switch kind {
	case pktdrill.EchoedRaw:
		icmp = append(icmp, make([]byte, int(plen))...)
		icmp = icmp[:max(8, int(plen))]
	default:
		proto, l4 := uint8(wire.ProtoTCP), 20
		if kind == pktdrill.EchoedUDP {
			proto, l4 = wire.ProtoUDP, 8
		}
		echo := make([]byte, 20+8+int(plen))
		echo[0] = 0x45
		binary.BigEndian.PutUint16(echo[2:], uint16(20+l4+int(plen)))
		echo[9] = proto
		sa, da := s.live.local.ip.As4(), s.live.remote.ip.As4()
		copy(echo[12:16], sa[:])
		copy(echo[16:20], da[:])
		binary.BigEndian.PutUint16(echo[10:], wire.FoldChecksum(wire.Checksum(echo[:20], 0)))
		binary.BigEndian.PutUint16(echo[20:], s.live.local.port)
		binary.BigEndian.PutUint16(echo[22:], s.live.remote.port)
		if proto == wire.ProtoTCP {
			binary.BigEndian.PutUint32(echo[24:], seq+s.live.localISN)
		}
		icmp = append(icmp, echo...)
	}
	binary.BigEndian.PutUint16(icmp[2:], wire.FoldChecksum(wire.Checksum(icmp, 0)))
	ttl := uint8(255)
	if p.IP != nil && p.IP.HasTTL {
		ttl = p.IP.TTL
	}
	return buildIPv4(ipTOS(p.IP), ttl, wire.ProtoICMP, s.live.remote.ip, s.live.local.ip, icmp), nil
}

// ---- outbound ----

// tcpOpt is one option of a live packet.
type tcpOpt struct {
	kind byte
	data []byte // the bytes after kind and length
	size int    // total length on the wire
}

// livePacket is an outbound packet as sniffed, with its values being
// mapped into script space.
type livePacket struct {
	raw     []byte
	at      time.Duration
	usecs   int64
	ip      wire.IPv4
	tcp     wire.TCP
	proto   uint8
	src     endpoint
	dst     endpoint
	seq     uint32 // mapped
	ack     uint32 // mapped
	flags   uint8
	opts    []tcpOpt
	payload int
	nonzero bool // the payload has a non-zero byte
}

func parseOptions(b []byte) []tcpOpt {
	var out []tcpOpt
	for len(b) > 0 {
		switch b[0] {
		case 0:
			return append(out, tcpOpt{kind: 0, size: 1})
		case 1:
			out = append(out, tcpOpt{kind: 1, size: 1})
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			return append(out, tcpOpt{kind: b[0], data: b[1:], size: len(b)})
		}
		n := int(b[1])
		out = append(out, tcpOpt{kind: b[0], data: append([]byte(nil), b[2:n]...), size: n})
		b = b[n:]
	}
	return out
}

// parseLive parses an outbound packet; nil if it is not IPv4 TCP/UDP/ICMP.
func parseLive(pkt []byte) *livePacket {
	ip, err := wire.ParseIPv4(pkt)
	if err != nil || ip.IsFragment() {
		return nil
	}
	lp := &livePacket{raw: pkt, ip: ip, proto: ip.Protocol()}
	lp.src.ip, lp.dst.ip = ip.Src(), ip.Dst()
	switch lp.proto {
	case wire.ProtoTCP:
		t, err := wire.ParseTCP(ip.Payload())
		if err != nil {
			return nil
		}
		lp.tcp = t
		lp.src.port, lp.dst.port = t.SrcPort(), t.DstPort()
		lp.seq, lp.ack = t.Seq(), t.Ack()
		lp.flags = uint8(t.Flags())
		lp.opts = parseOptions(t.OptionBytes())
		pl := t.Payload()
		lp.payload = len(pl)
		for _, c := range pl {
			if c != 0 {
				lp.nonzero = true
				break
			}
		}
	case wire.ProtoUDP:
		pl := ip.Payload()
		if len(pl) < 8 {
			return nil
		}
		lp.src.port, lp.dst.port = binary.BigEndian.Uint16(pl), binary.BigEndian.Uint16(pl[2:])
		lp.payload = len(pl) - 8
	case wire.ProtoICMP:
	default:
		return nil
	}
	return lp
}

func optString(o tcpOpt) string {
	switch o.kind {
	case 0:
		return "eol"
	case 1:
		return "nop"
	case 2:
		if len(o.data) == 2 {
			return fmt.Sprintf("mss %d", binary.BigEndian.Uint16(o.data))
		}
	case 3:
		if len(o.data) == 1 {
			return fmt.Sprintf("wscale %d", o.data[0])
		}
	case 4:
		return "sackOK"
	case 5:
		var parts []string
		for d := o.data; len(d) >= 8; d = d[8:] {
			parts = append(parts, fmt.Sprintf("%d:%d", binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])))
		}
		return "sack " + strings.Join(parts, " ")
	case 8:
		if len(o.data) == 8 {
			return fmt.Sprintf("TS val %d ecr %d", binary.BigEndian.Uint32(o.data), binary.BigEndian.Uint32(o.data[4:]))
		}
	case 19:
		return "md5 " + hex.EncodeToString(o.data)
	case 34:
		if len(o.data) == 0 {
			return "FO"
		}
		return "FO " + hex.EncodeToString(o.data)
	case 254:
		if len(o.data) >= 2 && o.data[0] == 0xf9 && o.data[1] == 0x89 {
			if len(o.data) == 2 {
				return "FOEXP"
			}
			return "FOEXP " + hex.EncodeToString(o.data[2:])
		}
	}
	return fmt.Sprintf("opt %d len %d", o.kind, o.size)
}

func flagString(f uint8) string {
	var b strings.Builder
	for _, x := range []struct {
		bit uint8
		c   byte
	}{{pktdrill.FlagFIN, 'F'}, {pktdrill.FlagSYN, 'S'}, {pktdrill.FlagRST, 'R'}, {pktdrill.FlagPSH, 'P'}, {pktdrill.FlagACK, '.'}, {pktdrill.FlagURG, 'U'}, {pktdrill.FlagECE, 'E'}, {pktdrill.FlagCWR, 'W'}} {
		if f&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// String prints the packet as packetdrill's dumps do: flags, seq range,
// ack, window and options, with sequence numbers in script space.
func (lp *livePacket) String() string {
	var b strings.Builder
	switch lp.proto {
	case wire.ProtoTCP:
		b.WriteString(flagString(lp.flags))
		fmt.Fprintf(&b, " %d:%d(%d)", lp.seq, lp.seq+uint32(lp.payload), lp.payload)
		if lp.flags&pktdrill.FlagACK != 0 {
			fmt.Fprintf(&b, " ack %d", lp.ack)
		}
		fmt.Fprintf(&b, " win %d", lp.tcp.Window())
		if u := lp.tcp.Urgent(); u != 0 || lp.flags&pktdrill.FlagURG != 0 {
			fmt.Fprintf(&b, " urg %d", u)
		}
		if len(lp.opts) > 0 {
			parts := make([]string, len(lp.opts))
			for i, o := range lp.opts {
				parts[i] = optString(o)
			}
			fmt.Fprintf(&b, " <%s>", strings.Join(parts, ","))
		}
	case wire.ProtoUDP:
		fmt.Fprintf(&b, "udp (%d)", lp.payload)
	case wire.ProtoICMP:
		b.WriteString("icmpv4")
	}
	return b.String()
}

// describeLive prints a raw packet with its addresses, for traces.
func describeLive(pkt []byte) string {
	lp := parseLive(pkt)
	if lp == nil {
		return fmt.Sprintf("(%d bytes, not IPv4 TCP/UDP/ICMP)", len(pkt))
	}
	return fmt.Sprintf("%s:%d > %s:%d %s", lp.src.ip, lp.src.port, lp.dst.ip, lp.dst.port, lp.String())
}

// matchesSocket says whether a live packet is outbound from the socket
// under test, learning a connecting socket's port and ISN from its SYN.
func matchesSocket(lp *livePacket, s *tsock) bool {
	if lp.src == s.live.local && lp.dst == s.live.remote {
		return true
	}
	if lp.proto == wire.ProtoTCP && lp.flags&pktdrill.FlagSYN != 0 && lp.flags&pktdrill.FlagACK == 0 &&
		s.state == sockActiveSynSent && lp.dst == s.live.remote {
		s.live.local = lp.src
		s.live.localISN = lp.seq
		return true
	}
	return false
}

func (r *run) outbound(e *evt, p *pktdrill.Packet, s *tsock) error {
	t := p.TCP
	synack := t.Flags&pktdrill.FlagSYN != 0 && t.Flags&pktdrill.FlagACK != 0
	if s.state == sockPassivePacketReceived && synack {
		s.script.localISN = t.Seq.Start
	}
	expected := int(t.Seq.Len)
	last, hasLast := r.lastTime()
	tol := r.tolerance(e.start, last, hasLast)
	var limit int64
	switch e.kind {
	case pktdrill.TimeAny:
		limit = r.now() + 10*r.grace + int64(10*time.Second/time.Microsecond)
	case pktdrill.TimeRange:
		limit = e.end + tol + r.grace
	default:
		limit = e.start + tol + r.grace
	}
	var first, prev *livePacket
	total := 0
	for {
		pkt, at, ok, err := r.inst.NextPacket(r.at(limit))
		if err != nil {
			return r.packetError(e, p, fmt.Sprintf("%s target: %v", r.target.Name(), err), nil)
		}
		if !ok {
			if first == nil {
				return r.packetError(e, p, fmt.Sprintf("timed out waiting for outbound packet: none sent by %s sec", secs(limit)), nil)
			}
			break
		}
		lp := parseLive(pkt)
		if lp == nil || !matchesSocket(lp, s) {
			r.tracef("%s:%d: ignoring outbound packet at %s not for the socket under test: %s", r.file, e.line, secs(r.usecs(at)), describeLive(pkt))
			r.record(at, pcap.Out, pkt, "not for the socket under test")
			continue
		}
		lp.at, lp.usecs = at, r.usecs(at)
		r.tracef("%s:%d: sniffed %s at %s", r.file, e.line, describeLive(pkt), secs(lp.usecs))
		r.record(at, pcap.Out, pkt, fmt.Sprintf("line %d", e.line))
		if lp.proto == wire.ProtoTCP {
			if s.state == sockPassivePacketReceived && synack {
				s.state = sockPassiveSynackSent
				s.live.localISN = lp.seq
			}
			mapOutbound(lp, s)
		}
		if first == nil || lp.src != first.src || lp.dst != first.dst || lp.proto != first.proto {
			first, prev = lp, lp
		} else {
			// Aggregate into one packet, as packetdrill does for TSO,
			// if the packets go together.
			if msg := fragmentMismatch(prev, lp, first.payload, expected); msg != "" {
				return r.packetError(e, p, msg, lp)
			}
			// PSH and FIN are the last segment's, as when a TSO packet
			// is cut into segments.
			pf := pktdrill.FlagPSH | pktdrill.FlagFIN
			first.flags = first.flags&^pf | lp.flags&pf
			first.nonzero = first.nonzero || lp.nonzero
			first.payload += lp.payload
			prev = lp
		}
		total = first.payload
		if total >= expected || r.strict {
			break
		}
	}
	if total != expected {
		return r.packetError(e, p, fmt.Sprintf("live packet payload: expected %d bytes vs actual %d bytes", expected, total), first)
	}
	if msg := r.verifyOutbound(e, p, s, first); msg != "" {
		return r.packetError(e, p, msg, first)
	}
	return nil
}

// fragmentMismatch checks that a packet can be aggregated with the
// previous one (packetdrill's non-strict header check): same flags other
// than FIN, PSH and CWR, contiguous sequence numbers, same ack and window,
// and a payload like the previous one's unless it is the last.
func fragmentMismatch(prev, lp *livePacket, sniffed, expected int) string {
	field := func(name string, exp, act uint32) string {
		if exp != act {
			return fmt.Sprintf("aggregate candidate packet field %s: expected: %d (%#x) vs actual: %d (%#x)", name, exp, exp, act, act)
		}
		return ""
	}
	if lp.proto != wire.ProtoTCP {
		return ""
	}
	for _, c := range []struct {
		name     string
		exp, act uint32
	}{
		{"tcp_data_offset", uint32(prev.tcp.DataOffset() / 4), uint32(lp.tcp.DataOffset() / 4)},
		{"tcp_syn", bit(prev.flags, pktdrill.FlagSYN), bit(lp.flags, pktdrill.FlagSYN)},
		{"tcp_rst", bit(prev.flags, pktdrill.FlagRST), bit(lp.flags, pktdrill.FlagRST)},
		{"tcp_ack", bit(prev.flags, pktdrill.FlagACK), bit(lp.flags, pktdrill.FlagACK)},
		{"tcp_urg", bit(prev.flags, pktdrill.FlagURG), bit(lp.flags, pktdrill.FlagURG)},
		{"tcp_ece", bit(prev.flags, pktdrill.FlagECE), bit(lp.flags, pktdrill.FlagECE)},
		{"tcp_seq", prev.seq + uint32(prev.payload), lp.seq},
		{"tcp_ack_seq", prev.ack, lp.ack},
		{"tcp_window", uint32(prev.tcp.Window()), uint32(lp.tcp.Window())},
	} {
		if msg := field(c.name, c.exp, c.act); msg != "" {
			return msg
		}
	}
	if lp.payload < expected-sniffed && lp.payload != prev.payload {
		return fmt.Sprintf("fragment payload: expected %d bytes vs actual %d bytes; total payload: expected %d bytes vs actual %d bytes",
			prev.payload, lp.payload, expected, sniffed+lp.payload)
	}
	return ""
}

// mapOutbound maps a live packet's sequence numbers, SACK blocks and TS
// val into script space.
func mapOutbound(lp *livePacket, s *tsock) {
	syn := lp.flags&pktdrill.FlagSYN != 0
	if syn {
		lp.seq += s.script.localISN - s.live.localISN
	} else {
		lp.seq -= s.live.localISN
	}
	var ackOff uint32
	if !syn {
		ackOff = -s.live.remoteISN
	}
	if lp.flags&pktdrill.FlagACK != 0 {
		lp.ack += ackOff
	}
	for i := range lp.opts {
		if lp.opts[i].kind == 5 {
			for d := lp.opts[i].data; len(d) >= 8; d = d[8:] {
				binary.BigEndian.PutUint32(d, binary.BigEndian.Uint32(d)+ackOff)
				binary.BigEndian.PutUint32(d[4:], binary.BigEndian.Uint32(d[4:])+ackOff)
			}
		}
	}
}

// scriptTS returns the script packet's TS option, if any.
func scriptTS(t *pktdrill.TCPHeader) *pktdrill.TCPOption {
	if t.Options == nil || t.Options.Any {
		return nil
	}
	for _, o := range t.Options.List {
		if o.Kind == pktdrill.OptTimestamp {
			return o
		}
	}
	return nil
}

func checkField(name string, expected, actual uint32) string {
	if expected != actual {
		return fmt.Sprintf("live packet field %s: expected: %d (%#x) vs actual: %d (%#x)", name, expected, expected, actual, actual)
	}
	return ""
}

func (r *run) verifyOutbound(e *evt, p *pktdrill.Packet, s *tsock, lp *livePacket) string {
	t := p.TCP
	// TS val mapping (map_outbound_live_packet).
	if sts := scriptTS(t); sts != nil {
		for i := range lp.opts {
			o := &lp.opts[i]
			if o.kind != 8 || len(o.data) != 8 {
				continue
			}
			val := binary.BigEndian.Uint32(o.data)
			if s.tsMap == nil {
				s.tsMap = map[uint32]uint32{}
			}
			s.tsMap[sts.TSVal] = val
			if !s.foundTS {
				s.foundTS = true
				s.firstScriptTS, s.firstActualTS = sts.TSVal, val
			}
			binary.BigEndian.PutUint32(o.data, s.firstScriptTS+(val-s.firstActualTS))
		}
	}
	if !lp.ip.ChecksumValid() {
		return "bad outbound IP checksum"
	}
	var scriptOpts []byte
	anyOpts := t.Options != nil && t.Options.Any
	if t.Options != nil && !t.Options.Any {
		b, err := encodeOptions(t.Options.List, nil)
		if err != nil {
			return err.Error()
		}
		scriptOpts = b
	}
	scriptOptLen := (len(scriptOpts) + 3) &^ 3
	allowance := 0
	if anyOpts {
		allowance = len(lp.tcp.OptionBytes())
	}
	// IPv4 header.
	if msg := checkField("ipv4_version", 4, uint32(lp.ip.Version())); msg != "" {
		return msg
	}
	if msg := checkField("ipv4_protocol", uint32(wire.ProtoTCP), uint32(lp.ip.Protocol())); msg != "" {
		return msg
	}
	if msg := checkField("ipv4_header_length", 5, uint32(lp.ip.HeaderLen()/4)); msg != "" {
		return msg
	}
	scriptTotal := 20 + 20 + scriptOptLen + int(t.Seq.Len)
	if msg := checkField("ipv4_total_length", uint32(scriptTotal+allowance), uint32(20+20+len(lp.tcp.OptionBytes())+total(lp))); msg != "" {
		return msg
	}
	if info := p.IP; info != nil {
		tos := lp.ip.TOS()
		switch {
		case info.ECN == pktdrill.ECNECT01:
			if b := tos & 3; b != 1 && b != 2 {
				return fmt.Sprintf("live packet field ip_ecn: expected: 0x1 or 0x2 vs actual: %#x", b)
			}
		case info.ECN != pktdrill.ECNUnset:
			if msg := checkField("ip_ecn", uint32(ecnBits(info.ECN)), uint32(tos&3)); msg != "" {
				return msg
			}
		case info.HasTOS:
			if msg := checkField("tos", uint32(info.TOS), uint32(tos)); msg != "" {
				return msg
			}
		}
		if info.HasTTL {
			if msg := checkField("ttl", uint32(info.TTL), uint32(lp.ip.TTL())); msg != "" {
				return msg
			}
		}
	}
	// TCP header.
	res := uint32(lp.tcp[12] & 0x0f)
	checks := []struct {
		name             string
		expected, actual uint32
		skip             bool
	}{
		{"tcp_data_offset", uint32(5 + scriptOptLen/4 + allowance/4), uint32(lp.tcp.DataOffset() / 4), false},
		{"tcp_fin", bit(t.Flags, pktdrill.FlagFIN), bit(lp.flags, pktdrill.FlagFIN), false},
		{"tcp_syn", bit(t.Flags, pktdrill.FlagSYN), bit(lp.flags, pktdrill.FlagSYN), false},
		{"tcp_rst", bit(t.Flags, pktdrill.FlagRST), bit(lp.flags, pktdrill.FlagRST), false},
		{"tcp_psh", bit(t.Flags, pktdrill.FlagPSH), bit(lp.flags, pktdrill.FlagPSH), false},
		{"tcp_ack", bit(t.Flags, pktdrill.FlagACK), bit(lp.flags, pktdrill.FlagACK), false},
		{"tcp_urg", bit(t.Flags, pktdrill.FlagURG), bit(lp.flags, pktdrill.FlagURG), false},
		{"tcp_ece", bit(t.Flags, pktdrill.FlagECE), bit(lp.flags, pktdrill.FlagECE), false},
		{"tcp_cwr", bit(t.Flags, pktdrill.FlagCWR), bit(lp.flags, pktdrill.FlagCWR), false},
		{"tcp_ae", 0, res & 1, false},
		{"tcp_reserved_bits", 0, res >> 1, false},
		{"tcp_seq", t.Seq.Start, lp.seq, false},
		{"tcp_ack_seq", ackOf(t), lp.ack, false},
		{"tcp_window", uint32(t.Win), uint32(lp.tcp.Window()), !t.HasWin},
		{"tcp_urg_ptr", urgOf(t), uint32(lp.tcp.Urgent()), false},
	}
	for _, c := range checks {
		if c.skip {
			continue
		}
		if msg := checkField(c.name, c.expected, c.actual); msg != "" {
			return msg
		}
	}
	// TCP options.
	if !anyOpts {
		so := parseOptions(scriptOpts)
		ao := lp.opts
		for i := 0; i < len(so) || i < len(ao); i++ {
			if i >= len(so) || i >= len(ao) || so[i].kind != ao[i].kind {
				return "bad outbound TCP options"
			}
			switch ao[i].kind {
			case 0, 1:
			case 8:
				if r.tsTick > 0 && len(so[i].data) == 8 && len(ao[i].data) == 8 {
					sv, av := binary.BigEndian.Uint32(so[i].data), binary.BigEndian.Uint32(ao[i].data)
					d := int64(int32(av - sv))
					if d < 0 {
						d = -d
					}
					if d*r.tsTick > r.tolUsecs {
						return fmt.Sprintf("bad outbound TCP timestamp value, tolerance %d", r.tolUsecs)
					}
				}
			default:
				if so[i].size != ao[i].size {
					return fmt.Sprintf("bad lengths for outbound TCP option %d", so[i].kind)
				}
				if string(so[i].data) != string(ao[i].data) {
					return fmt.Sprintf("bad value outbound TCP option %d", so[i].kind)
				}
			}
		}
	}
	if lp.nonzero {
		return "incorrect outbound data payload"
	}
	last, hasLast := r.lastTime()
	return r.verifyTime(e.kind, e.relative, e.start, e.end, lp.usecs, last, hasLast, e.offset, "outbound packet")
}

// total is the (possibly aggregated) payload length of a live packet.
func total(lp *livePacket) int { return lp.payload }

func bit(flags, b uint8) uint32 {
	if flags&b != 0 {
		return 1
	}
	return 0
}

func ackOf(t *pktdrill.TCPHeader) uint32 {
	if t.HasAck {
		return t.Ack
	}
	return 0
}

func urgOf(t *pktdrill.TCPHeader) uint32 {
	if t.HasUrg {
		return uint32(t.Urg)
	}
	return 0
}

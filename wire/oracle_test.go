package wire

// gopacket serves as an independent oracle: segments built here must decode
// the same with gopacket's layers, and packets serialized by gopacket must
// parse the same here, checksums included.

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const oracleCases = 500

func randAddr(r *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		r.Read(a[:])
		a[0] = 0x20 // keep it global unicast looking, and never IPv4-mapped
		return netip.AddrFrom16(a)
	}
	var a [4]byte
	r.Read(a[:])
	return netip.AddrFrom4(a)
}

// randOptions returns options that AppendTCPOptions encodes without loss
// for a segment with or without SYN.
func randOptions(r *rand.Rand, syn bool) TCPOptions {
	var o TCPOptions
	if r.Intn(4) != 0 {
		o.HasTimestamps = true
		o.TSVal, o.TSEcr = r.Uint32(), r.Uint32()
	}
	if syn {
		if r.Intn(5) != 0 {
			o.HasMSS = true
			o.MSS = uint16(r.Uint32())
		}
		o.SACKPermitted = r.Intn(2) == 0
		if r.Intn(3) != 0 {
			o.HasWScale = true
			o.WScale = uint8(r.Intn(MaxWScale + 1))
		}
		if r.Intn(3) == 0 {
			o.FastOpen = randFastOpen(r)
		}
		return o
	}
	limit := MaxSACKBlocks
	if o.HasTimestamps {
		limit = 3
	}
	o.NumSACK = r.Intn(limit + 1)
	for i := range o.NumSACK {
		o.SACKBlocks[i] = SACKBlock{r.Uint32(), r.Uint32()}
	}
	return o
}

// randFastOpen returns a valid Fast Open option (RFC 7413 4.1.1): a
// cookie request or a cookie of 4 to 16 octets, of even length, either kind.
func randFastOpen(r *rand.Rand) FastOpen {
	f := FastOpen{Present: true, Exp: r.Intn(2) == 0}
	if r.Intn(3) != 0 {
		f.Len = uint8(2 * (2 + r.Intn(7)))
		r.Read(f.Cookie[:f.Len])
	}
	return f
}

func randFlags(r *rand.Rand) TCPFlags {
	f := TCPFlags(r.Intn(256))
	if r.Intn(2) == 0 {
		f |= FlagSYN
	}
	return f
}

// optionsFromGopacket interprets gopacket's decoded option list, the way
// RFC 9293 3.1 describes, without using this package's parser.
func optionsFromGopacket(t *testing.T, opts []layers.TCPOption) TCPOptions {
	t.Helper()
	var o TCPOptions
	for _, op := range opts {
		d := op.OptionData
		switch op.OptionType {
		case layers.TCPOptionKindEndList:
			return o
		case layers.TCPOptionKindNop:
		case layers.TCPOptionKindMSS:
			o.HasMSS, o.MSS = true, binary.BigEndian.Uint16(d)
		case layers.TCPOptionKindWindowScale:
			o.HasWScale, o.WScale, o.WScaleClamped = true, min(d[0], 14), d[0] > 14
		case layers.TCPOptionKindSACKPermitted:
			o.SACKPermitted = true
		case layers.TCPOptionKindSACK:
			o.NumSACK = 0
			o.SACKBlocks = [MaxSACKBlocks]SACKBlock{}
			for i := 0; i+8 <= len(d) && o.NumSACK < MaxSACKBlocks; i += 8 {
				o.SACKBlocks[o.NumSACK] = SACKBlock{binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:])}
				o.NumSACK++
			}
		case layers.TCPOptionKindTimestamps:
			o.HasTimestamps = true
			o.TSVal, o.TSEcr = binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		case 34, 254:
			// RFC 7413 4.1.1: an even cookie of 4 to 16 octets, or none;
			// kind 254 (RFC 6994) only with the magic 0xF989.
			exp := op.OptionType == 254
			if exp {
				if len(d) < 2 || d[0] != 0xf9 || d[1] != 0x89 {
					o.Unknown++
					continue
				}
				d = d[2:]
			}
			if len(d) != 0 && (len(d) < 4 || len(d) > 16 || len(d)%2 == 1) {
				o.Unknown++
				continue
			}
			o.FastOpen = FastOpen{Present: true, Exp: exp, Len: uint8(len(d))}
			copy(o.FastOpen.Cookie[:], d)
		default:
			o.Unknown++
		}
	}
	return o
}

func flagsFromGopacket(g *layers.TCP) TCPFlags {
	var f TCPFlags
	for _, x := range []struct {
		set bool
		bit TCPFlags
	}{{g.FIN, FlagFIN}, {g.SYN, FlagSYN}, {g.RST, FlagRST}, {g.PSH, FlagPSH}, {g.ACK, FlagACK}, {g.URG, FlagURG}, {g.ECE, FlagECE}, {g.CWR, FlagCWR}} {
		if x.set {
			f |= x.bit
		}
	}
	return f
}

func ipOf(a net.IP) netip.Addr {
	ad, _ := netip.AddrFromSlice(a)
	if a4 := a.To4(); a4 != nil && len(a) == 4 {
		ad, _ = netip.AddrFromSlice(a4)
	}
	return ad
}

// TestOracleBuildThenGopacketDecodes builds random segments in IPv4 and
// IPv6 with this package and checks every field, option and checksum as
// gopacket decodes them.
func TestOracleBuildThenGopacketDecodes(t *testing.T) {
	r := rand.New(rand.NewSource(9293))
	buf := make([]byte, 0, 2048)
	for i := range oracleCases {
		v6 := i%2 == 1
		h := TCPHeader{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Seq: r.Uint32(), Ack: r.Uint32(),
			Flags: randFlags(r), Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32())}
		syn := h.Flags.Has(FlagSYN)
		o := randOptions(r, syn)
		payload := make([]byte, r.Intn(1500))
		r.Read(payload)
		src, dst := randAddr(r, v6), randAddr(r, v6)

		segLen := TCPMinHeaderLen + o.Len(syn) + len(payload)
		var pkt []byte
		var err error
		var ih IPv4Header
		var ih6 IPv6Header
		if v6 {
			ih6 = IPv6Header{TrafficClass: uint8(r.Uint32()), FlowLabel: r.Uint32() & 0xfffff, NextHeader: ProtoTCP, HopLimit: uint8(r.Uint32()), Src: src, Dst: dst}
			pkt, err = BuildIPv6(buf[:0], &ih6, segLen)
		} else {
			ih = IPv4Header{TOS: uint8(r.Uint32()), ID: uint16(r.Uint32()), Flags: IPv4Flags(r.Intn(8)), FragmentOffset: uint16(r.Intn(0x2000)),
				TTL: uint8(r.Uint32()), Protocol: ProtoTCP, Src: src, Dst: dst}
			if r.Intn(4) == 0 {
				ih.Options = []byte{0x94, 0x04, 0x00, 0x00}
			}
			pkt, err = BuildIPv4(buf[:0], &ih, segLen)
		}
		if err != nil {
			t.Fatal(err)
		}
		ipLen := len(pkt)
		pkt = BuildTCP(pkt, &h, &o, payload)
		TCP(pkt[ipLen:]).FillChecksum(src, dst)
		if len(pkt)-ipLen != segLen {
			t.Fatalf("case %d: segment is %d octets, want %d", i, len(pkt)-ipLen, segLen)
		}

		first := layers.LayerTypeIPv4
		if v6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{NoCopy: true})
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("case %d: gopacket: %v", i, el.Error())
		}
		if v6 {
			g := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			if g.Version != 6 || g.TrafficClass != ih6.TrafficClass || g.FlowLabel != ih6.FlowLabel || int(g.Length) != segLen ||
				uint8(g.NextHeader) != ProtoTCP || g.HopLimit != ih6.HopLimit || ipOf(g.SrcIP) != src || ipOf(g.DstIP) != dst {
				t.Fatalf("case %d: gopacket IPv6 %+v, built from %+v", i, g, ih6)
			}
		} else {
			g := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if g.Version != 4 || int(g.IHL)*4 != 20+len(ih.Options) || g.TOS != ih.TOS || int(g.Length) != len(pkt) || g.Id != ih.ID ||
				uint8(g.Flags) != uint8(ih.Flags) || g.FragOffset != ih.FragmentOffset || g.TTL != ih.TTL ||
				uint8(g.Protocol) != ProtoTCP || ipOf(g.SrcIP) != src || ipOf(g.DstIP) != dst {
				t.Fatalf("case %d: gopacket IPv4 %+v, built from %+v", i, g, ih)
			}
			if err, res := g.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("case %d: gopacket says the IPv4 checksum is wrong: %v %+v", i, err, res)
			}
		}
		if ih.FragmentOffset != 0 && !v6 {
			// gopacket does not decode TCP inside a non-first fragment.
			continue
		}
		gt, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			t.Fatalf("case %d: gopacket found no TCP layer: %v", i, p)
		}
		if uint16(gt.SrcPort) != h.SrcPort || uint16(gt.DstPort) != h.DstPort || gt.Seq != h.Seq || gt.Ack != h.Ack ||
			flagsFromGopacket(gt) != h.Flags || gt.NS || gt.Window != h.Window || gt.Urgent != h.Urgent ||
			int(gt.DataOffset)*4 != TCPMinHeaderLen+o.Len(syn) || len(gt.Padding) != 0 {
			t.Fatalf("case %d: gopacket TCP %+v, built from %+v", i, gt, h)
		}
		if got := optionsFromGopacket(t, gt.Options); got != o {
			t.Fatalf("case %d: gopacket options\n %+v\nbuilt from\n %+v", i, got, o)
		}
		if !bytes.Equal(gt.Payload, payload) {
			t.Fatalf("case %d: payload differs", i)
		}
		if err := gt.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		if err, res := gt.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("case %d: gopacket says the TCP checksum is wrong: %v %+v", i, err, res)
		}
	}
}

// randGopacketOptions returns a random option list as a peer might send
// it, in any order, with NOPs, unknown kinds and a trailing EOL, at most 40
// octets, and what parsing it must give.
func randGopacketOptions(r *rand.Rand) ([]layers.TCPOption, TCPOptions) {
	var list []layers.TCPOption
	var want TCPOptions
	space := MaxTCPOptionsLen
	add := func(op layers.TCPOption) bool {
		n := 1
		if op.OptionType > 1 {
			n = 2 + len(op.OptionData)
		}
		if n > space {
			return false
		}
		space -= n
		list = append(list, op)
		return true
	}
	u32 := func(v ...uint32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, x)
		}
		return b
	}
	for range r.Intn(10) {
		switch r.Intn(9) {
		case 0:
			add(layers.TCPOption{OptionType: layers.TCPOptionKindNop})
		case 1:
			mss := uint16(r.Uint32())
			if add(layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionData: []byte{byte(mss >> 8), byte(mss)}}) {
				want.HasMSS, want.MSS = true, mss
			}
		case 2:
			ws := uint8(r.Intn(20))
			if add(layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{ws}}) {
				want.HasWScale, want.WScale, want.WScaleClamped = true, min(ws, 14), ws > 14
			}
		case 3:
			if add(layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted}) {
				want.SACKPermitted = true
			}
		case 4:
			a, b := r.Uint32(), r.Uint32()
			if add(layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionData: u32(a, b)}) {
				want.HasTimestamps, want.TSVal, want.TSEcr = true, a, b
			}
		case 5:
			n := 1 + r.Intn(4)
			var blocks [MaxSACKBlocks]SACKBlock
			var data []byte
			for j := range n {
				blocks[j] = SACKBlock{r.Uint32(), r.Uint32()}
				data = append(data, u32(blocks[j].Left, blocks[j].Right)...)
			}
			if add(layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionData: data}) {
				want.NumSACK, want.SACKBlocks = n, blocks
			}
		case 6:
			// Unknown kinds: obsolete ones and experiments (RFC 6994).
			kinds := []layers.TCPOptionKind{6, 7, 9, 14, 19, 28, 253}
			data := make([]byte, r.Intn(6))
			r.Read(data)
			if add(layers.TCPOption{OptionType: kinds[r.Intn(len(kinds))], OptionData: data}) {
				want.Unknown++
			}
		case 7:
			// An EOL ends the list; what follows it is never looked at.
			add(layers.TCPOption{OptionType: layers.TCPOptionKindEndList})
			return list, want
		case 8:
			// Fast Open (RFC 7413 4.1.1), either kind, with cookies of
			// any length: only even ones of 4 to 16 octets, or none, are
			// Fast Open options; the rest, and kind 254 without the
			// magic, are unknown.
			exp := r.Intn(2) == 0
			c := make([]byte, r.Intn(19))
			r.Read(c)
			data, kind := c, layers.TCPOptionKind(34)
			if exp {
				kind = 254
				data = append([]byte{0xf9, 0x89}, c...)
				if r.Intn(8) == 0 {
					data[1] = 0x88
				}
			}
			if add(layers.TCPOption{OptionType: kind, OptionData: data}) {
				valid := len(c) == 0 || len(c) >= 4 && len(c) <= 16 && len(c)%2 == 0
				if valid && (!exp || data[1] == 0x89) {
					want.FastOpen = FastOpen{Present: true, Exp: exp, Len: uint8(len(c))}
					copy(want.FastOpen.Cookie[:], c)
				} else {
					want.Unknown++
				}
			}
		}
	}
	return list, want
}

// TestOracleGopacketBuildsThenParse serializes random packets with gopacket,
// options in any order, and checks that this package parses every field and
// accepts the checksums.
func TestOracleGopacketBuildsThenParse(t *testing.T) {
	r := rand.New(rand.NewSource(791))
	sopts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for i := range oracleCases {
		v6 := i%2 == 1
		src, dst := randAddr(r, v6), randAddr(r, v6)
		opts, wantOpts := randGopacketOptions(r)
		gt := &layers.TCP{SrcPort: layers.TCPPort(r.Uint32()), DstPort: layers.TCPPort(r.Uint32()), Seq: r.Uint32(), Ack: r.Uint32(),
			FIN: r.Intn(2) == 0, SYN: r.Intn(2) == 0, RST: r.Intn(2) == 0, PSH: r.Intn(2) == 0, ACK: r.Intn(2) == 0,
			URG: r.Intn(2) == 0, ECE: r.Intn(2) == 0, CWR: r.Intn(2) == 0, NS: r.Intn(2) == 0,
			Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32()), Options: opts}
		payload := make([]byte, r.Intn(1500))
		r.Read(payload)

		var net gopacket.SerializableLayer
		var g4 *layers.IPv4
		var g6 *layers.IPv6
		var exts []gopacket.SerializableLayer
		wantExt := 0
		if v6 {
			g6 = &layers.IPv6{Version: 6, TrafficClass: uint8(r.Uint32()), FlowLabel: r.Uint32() & 0xfffff, HopLimit: uint8(r.Uint32()),
				SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), NextHeader: layers.IPProtocolTCP}
			net = g6
			gt.SetNetworkLayerForChecksum(g6)
			// A random chain of extension headers: Hop-by-Hop first if
			// at all, then Destination Options and atomic Fragments.
			nexts := []*layers.IPProtocol{&g6.NextHeader}
			if r.Intn(3) == 0 {
				hbh := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{{OptionType: 0x1e, OptionData: make([]byte, 4+8*r.Intn(3))}}}
				*nexts[len(nexts)-1] = layers.IPProtocolIPv6HopByHop
				hbh.NextHeader = layers.IPProtocolTCP
				nexts = append(nexts, &hbh.NextHeader)
				exts = append(exts, hbh)
				wantExt += 8 * (1 + len(hbh.Options[0].OptionData)/8)
			}
			for range r.Intn(3) {
				if r.Intn(2) == 0 {
					d := &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{{OptionType: 0x1e, OptionData: make([]byte, 4)}}}
					*nexts[len(nexts)-1] = layers.IPProtocolIPv6Destination
					d.NextHeader = layers.IPProtocolTCP
					nexts = append(nexts, &d.NextHeader)
					exts = append(exts, d)
				} else {
					f := &layers.IPv6Fragment{Identification: r.Uint32()}
					*nexts[len(nexts)-1] = layers.IPProtocolIPv6Fragment
					f.NextHeader = layers.IPProtocolTCP
					nexts = append(nexts, &f.NextHeader)
					exts = append(exts, f)
				}
				wantExt += 8
			}
		} else {
			g4 = &layers.IPv4{Version: 4, TOS: uint8(r.Uint32()), Id: uint16(r.Uint32()), Flags: layers.IPv4Flag(r.Intn(8) &^ 1),
				TTL: uint8(r.Uint32()), Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
			if r.Intn(4) == 0 {
				g4.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
			}
			net = g4
			gt.SetNetworkLayerForChecksum(g4)
		}
		sb := gopacket.NewSerializeBuffer()
		all := append([]gopacket.SerializableLayer{net}, exts...)
		all = append(all, gt, gopacket.Payload(payload))
		if err := gopacket.SerializeLayers(sb, sopts, all...); err != nil {
			t.Fatalf("case %d: gopacket: %v", i, err)
		}
		pkt := sb.Bytes()

		var seg TCP
		var err error
		if v6 {
			ip, err := ParseIPv6(pkt)
			if err != nil {
				t.Fatalf("case %d: ParseIPv6: %v", i, err)
			}
			if ip.TrafficClass() != g6.TrafficClass || ip.FlowLabel() != g6.FlowLabel || ip.HopLimit() != g6.HopLimit ||
				int(ip.PayloadLength()) != len(pkt)-40 || ip.Src() != src || ip.Dst() != dst {
				t.Fatalf("case %d: IPv6 header %+v, gopacket built %+v", i, ip.Header(), g6)
			}
			proto, up, err := ip.UpperLayer()
			if err != nil || proto != ProtoTCP || len(ip.Payload())-len(up) != wantExt {
				t.Fatalf("case %d: UpperLayer = %d, %d octets, %v; want TCP after %d octets of extensions", i, proto, len(up), err, wantExt)
			}
			seg, err = ParseTCP(up)
			if err != nil {
				t.Fatalf("case %d: ParseTCP: %v", i, err)
			}
		} else {
			ip, err := ParseIPv4(pkt)
			if err != nil {
				t.Fatalf("case %d: ParseIPv4: %v", i, err)
			}
			if !ip.ChecksumValid() || ip.ComputeChecksum() != g4.Checksum {
				t.Fatalf("case %d: IPv4 checksum %#04x, computed %#04x", i, ip.HeaderChecksum(), ip.ComputeChecksum())
			}
			if ip.TOS() != g4.TOS || ip.ID() != g4.Id || uint8(ip.Flags()) != uint8(g4.Flags) || ip.TTL() != g4.TTL ||
				ip.Protocol() != ProtoTCP || ip.Src() != src || ip.Dst() != dst || int(ip.TotalLength()) != len(pkt) ||
				ip.HeaderLen() != int(g4.IHL)*4 {
				t.Fatalf("case %d: IPv4 header %+v, gopacket built %+v", i, ip.Header(), g4)
			}
			seg, err = ParseTCP(ip.Payload())
			if err != nil {
				t.Fatalf("case %d: ParseTCP: %v", i, err)
			}
		}
		if !seg.VerifyChecksum(src, dst) || seg.ComputeChecksum(src, dst) != gt.Checksum {
			t.Fatalf("case %d: TCP checksum %#04x, computed %#04x, gopacket %#04x", i, seg.Checksum(), seg.ComputeChecksum(src, dst), gt.Checksum)
		}
		h := seg.Header()
		if h.SrcPort != uint16(gt.SrcPort) || h.DstPort != uint16(gt.DstPort) || h.Seq != gt.Seq || h.Ack != gt.Ack ||
			h.Flags != flagsFromGopacket(gt) || h.Window != gt.Window || h.Urgent != gt.Urgent || seg.DataOffset() != int(gt.DataOffset)*4 {
			t.Fatalf("case %d: TCP header %+v, gopacket built %+v", i, h, gt)
		}
		var o TCPOptions
		if err = seg.ParseOptions(&o); err != nil {
			t.Fatalf("case %d: ParseOptions(% x): %v", i, seg.OptionBytes(), err)
		}
		if o != wantOpts {
			t.Fatalf("case %d: options % x\n got %+v\nwant %+v", i, seg.OptionBytes(), o, wantOpts)
		}
		if !bytes.Equal(seg.Payload(), payload) {
			t.Fatalf("case %d: payload differs", i)
		}
	}
}

package wire

import (
	"net/netip"
	"testing"
)

// The receive and transmit paths must not allocate: these tests prove it
// for the calls a stack makes per packet.

func TestParsePathDoesNotAllocate(t *testing.T) {
	pkt4, _, _ := benchSegment(t)
	var sinkErr error
	var sinkN int
	allocs := testing.AllocsPerRun(1000, func() {
		ip, err := ParseIPv4(pkt4)
		if err != nil || !ip.ChecksumValid() {
			t.Fatal("bad ip")
		}
		seg, err := ParseTCP(ip.Payload())
		if err != nil || !seg.VerifyChecksum(ip.Src(), ip.Dst()) {
			t.Fatal("bad tcp")
		}
		var o TCPOptions
		if err := seg.ParseOptions(&o); err != nil {
			t.Fatal(err)
		}
		h := seg.Header()
		sinkN += int(h.SrcPort) + len(seg.Payload()) + len(o.SACK()) + ip.Header().Src.BitLen()
	})
	if allocs != 0 {
		t.Errorf("IPv4 parse path: %v allocations per packet, want 0", allocs)
	}

	h6 := IPv6Header{NextHeader: ProtoDestOpts, HopLimit: 64, Src: synSrc6, Dst: synDst6}
	ext := unhex(t, "06 00 010400000000")
	seg := BuildTCP(nil, &linuxSYNHeader, &linuxSYNOptions, nil)
	TCP(seg).FillChecksum(synSrc6, synDst6)
	pkt6, _ := BuildIPv6(nil, &h6, len(ext)+len(seg))
	pkt6 = append(append(pkt6, ext...), seg...)
	allocs = testing.AllocsPerRun(1000, func() {
		ip, err := ParseIPv6(pkt6)
		if err != nil {
			t.Fatal(err)
		}
		proto, up, err := ip.UpperLayer()
		if err != nil || proto != ProtoTCP {
			t.Fatal("bad extension headers")
		}
		seg, err := ParseTCP(up)
		if err != nil || !seg.VerifyChecksum(ip.Src(), ip.Dst()) {
			t.Fatal("bad tcp")
		}
		var o TCPOptions
		if err := seg.ParseOptions(&o); err != nil {
			t.Fatal(err)
		}
		sinkN += int(o.MSS) + int(ip.Header().FlowLabel)
	})
	if allocs != 0 {
		t.Errorf("IPv6 parse path: %v allocations per packet, want 0", allocs)
	}

	// Rejecting garbage costs nothing either.
	bad := [][]byte{nil, pkt4[:10], pkt6[:39], unhex(t, "0203"), unhex(t, "4f00 0014 0000 0000 0000 0000 0000 0000 0000 0000")}
	allocs = testing.AllocsPerRun(1000, func() {
		for _, b := range bad {
			_, e1 := ParseIPv4(b)
			_, e2 := ParseIPv6(b)
			_, e3 := ParseTCP(b)
			var o TCPOptions
			e4 := ParseTCPOptions(b, &o)
			_, _, e5 := SkipIPv6Extensions(ProtoHopByHop, b)
			sinkErr = e1
			sinkErr = e2
			sinkErr = e3
			sinkErr = e4
			sinkErr = e5
		}
	})
	if allocs != 0 {
		t.Errorf("error paths: %v allocations, want 0", allocs)
	}
	_, _ = sinkErr, sinkN
}

func TestBuildPathDoesNotAllocate(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	payload := make([]byte, 1000)
	ack := TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: FlagACK, Window: 5}
	ackOpts := TCPOptions{HasTimestamps: true, TSVal: 1, TSEcr: 2, NumSACK: 3}
	ih := IPv4Header{TTL: 64, Protocol: ProtoTCP, Src: src, Dst: dst, Flags: IPv4DontFragment}
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(1000, func() {
		segLen := TCPMinHeaderLen + ackOpts.Len(false) + len(payload)
		pkt, err := BuildIPv4(buf[:0], &ih, segLen)
		if err != nil {
			t.Fatal(err)
		}
		pkt = BuildTCP(pkt, &ack, &ackOpts, payload)
		TCP(pkt[IPv4MinHeaderLen:]).FillChecksum(src, dst)

		pkt, err = BuildIPv6(buf[:0], &IPv6Header{NextHeader: ProtoTCP, HopLimit: 64, Src: synSrc6, Dst: synDst6}, TCPMinHeaderLen+20)
		if err != nil {
			t.Fatal(err)
		}
		pkt = BuildTCP(pkt, &linuxSYNHeader, &linuxSYNOptions, nil)
		TCP(pkt[IPv6HeaderLen:]).FillChecksum(synSrc6, synDst6)
		_ = AppendTCPOptions(buf[:0], &linuxSYNOptions, true)
	})
	if allocs != 0 {
		t.Errorf("build path: %v allocations per packet, want 0", allocs)
	}
}

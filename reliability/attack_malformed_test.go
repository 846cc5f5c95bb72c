package reliability

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/wire"
)

// TestMalformedPackets: options whose lengths lie, IP total lengths and
// header lengths that lie, bad checksums. Each is dropped and counted by
// the right counter, nothing panics, and the connection they aim at goes on.
func TestMalformedPackets(t *testing.T) {
	v := newVictim(t, 12, nil)
	good := func() []byte { return v.spoof(wire.FlagACK|wire.FlagPSH, 0, 0, []byte("evil")) }
	// withOpts rebuilds good() with raw option bytes (data offset covering them).
	withOpts := func(raw []byte) []byte {
		p := good()
		ip := wire.IPv4(p)
		tcpb := append([]byte(nil), ip.Payload()[:20]...)
		tcpb = append(tcpb, raw...)
		tcpb = append(tcpb, "evil"...)
		wire.TCP(tcpb).SetDataOffset(20 + len(raw))
		wire.TCP(tcpb).SetChecksum(0)
		wire.TCP(tcpb).FillChecksum(ip.Src(), ip.Dst())
		out, _ := wire.BuildIPv4(nil, &wire.IPv4Header{TTL: 64, Protocol: 6, Src: ip.Src(), Dst: ip.Dst()}, len(tcpb))
		return append(out, tcpb...)
	}
	// fixIP recomputes the IPv4 header checksum after an edit.
	fixIP := func(p []byte) []byte { wire.IPv4(p).FillChecksum(); return p }

	cases := []struct {
		name    string
		pkt     []byte
		counter func(stack.Stats) uint64
	}{
		{"option length 0", withOpts([]byte{2, 0, 5, 0xb4}), func(s stack.Stats) uint64 { return s.BadTCPOptions }},
		{"option length 1", withOpts([]byte{8, 1, 0, 0}), func(s stack.Stats) uint64 { return s.BadTCPOptions }},
		{"option past header", withOpts([]byte{1, 1, 8, 10}), func(s stack.Stats) uint64 { return s.BadTCPOptions }},
		{"MSS length 40", withOpts([]byte{2, 40, 5, 0xb4}), func(s stack.Stats) uint64 { return s.BadTCPOptions }},
		{"timestamp length 255", withOpts([]byte{8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}), func(s stack.Stats) uint64 { return s.BadTCPOptions }},
		{"data offset past packet", func() []byte {
			p := good()
			tcpb := wire.IPv4(p).Payload()
			tcpb[12] = 15 << 4
			return p
		}(), func(s stack.Stats) uint64 { return s.BadTCPHeader + s.BadTCPChecksum }},
		{"data offset below 5", func() []byte {
			p := good()
			wire.IPv4(p).Payload()[12] = 2 << 4
			return p
		}(), func(s stack.Stats) uint64 { return s.BadTCPHeader + s.BadTCPChecksum }},
		{"IP total length too long", func() []byte {
			p := good()
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)+100))
			return fixIP(p)
		}(), func(s stack.Stats) uint64 { return s.BadIPHeader }},
		{"IP total length shorter than header", func() []byte {
			p := good()
			binary.BigEndian.PutUint16(p[2:], 12)
			return fixIP(p)
		}(), func(s stack.Stats) uint64 { return s.BadIPHeader }},
		{"IP total length cuts TCP header", func() []byte {
			p := good()
			binary.BigEndian.PutUint16(p[2:], 30)
			return fixIP(p)
		}(), func(s stack.Stats) uint64 { return s.BadTCPHeader + s.BadTCPChecksum }},
		{"IHL past packet", func() []byte {
			p := good()
			p[0] = 4<<4 | 15
			return fixIP(p[:40])
		}(), func(s stack.Stats) uint64 { return s.BadIPHeader }},
		{"IHL below 5", func() []byte {
			p := good()
			p[0] = 4<<4 | 3
			return p
		}(), func(s stack.Stats) uint64 { return s.BadIPHeader }},
		{"bad IP checksum", func() []byte {
			p := good()
			p[10] ^= 0x55
			return p
		}(), func(s stack.Stats) uint64 { return s.BadIPChecksum }},
		{"bad TCP checksum", func() []byte {
			p := good()
			wire.IPv4(p).Payload()[16] ^= 0x55
			return p
		}(), func(s stack.Stats) uint64 { return s.BadTCPChecksum }},
		{"bad TCP checksum in payload", func() []byte {
			p := good()
			p[len(p)-1] ^= 1
			return p
		}(), func(s stack.Stats) uint64 { return s.BadTCPChecksum }},
		{"truncated to 10 bytes", good()[:10], func(s stack.Stats) uint64 { return s.BadIPHeader }},
	}
	for _, c := range cases {
		before := c.counter(v.l.b.Stack().Stats())
		for i := 0; i < 100; i++ {
			v.l.inject(append([]byte(nil), c.pkt...))
		}
		run(t, v.l.n, time.Millisecond*10)
		got := c.counter(v.l.b.Stack().Stats()) - before
		t.Logf("%-36s x100: counted %d", c.name, got)
		if got != 100 {
			t.Errorf("%s: counted %d of 100", c.name, got)
		}
	}
	v.alive(t)

	// Random damage to valid segments (1..4 bytes changed, then maybe
	// truncation or trailing bytes): nothing panics. Damage confined to
	// fields no checksum covers and nobody checks (the IP ID, or a TTL
	// change compensated in the header checksum) is rare but legitimate.
	rng := rand.New(rand.NewPCG(12, 34))
	n := size(200000, 50000, 10000)
	collisions := 0 // damaged packets whose checksums still hold
	for i := 0; i < n; i++ {
		q := good()
		p := append([]byte(nil), q...)
		for k := 1 + rng.IntN(4); k > 0; k-- {
			p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
		}
		switch rng.IntN(4) {
		case 0:
			p = p[:rng.IntN(len(p))]
		case 1:
			p = append(p, make([]byte, rng.IntN(64))...)
		}
		if bytes.HasPrefix(p, q) {
			continue // two changes cancelled out: not damaged
		}
		if checksumsHold(p) {
			collisions++
		}
		v.l.inject(p)
		if i%1000 == 999 {
			run(t, v.l.n, time.Millisecond)
		}
	}
	run(t, v.l.n, 100*time.Millisecond)
	st := v.l.b.Stack().Stats()
	t.Logf("%d randomly damaged packets: no panic; bad IP header %d, IP checksum %d, TCP header %d, TCP checksum %d, TCP options %d",
		n, st.BadIPHeader, st.BadIPChecksum, st.BadTCPHeader, st.BadTCPChecksum, st.BadTCPOptions)
	// The 16-bit ones' complement checksum misses compensating changes
	// (+x in one byte, -x in another of the same parity): about 1 in 65536
	// damaged packets gets through, and its data is accepted as any
	// checksum-valid data would be. Only those may deliver anything.
	rbuf := make([]byte, 64)
	k, _ := v.server.TryRead(rbuf)
	t.Logf("damaged packets with valid checksums (ones' complement collisions): %d; damaged data accepted: %q", collisions, rbuf[:k])
	if k > 0 && collisions == 0 {
		t.Errorf("%d bytes of damaged data accepted without a checksum collision", k)
	}
	if st := v.server.State(); st.String() != "ESTABLISHED" {
		t.Logf("connection after random damage: %v (a damaged RST or SYN can end it legitimately)", st)
	}
}

// checksumsHold reports whether p is an IPv4 TCP packet whose header and
// TCP checksums are both valid.
func checksumsHold(p []byte) bool {
	ip, err := wire.ParseIPv4(p)
	if err != nil || !ip.ChecksumValid() || ip.Protocol() != 6 {
		return false
	}
	th, err := wire.ParseTCP(ip.Payload())
	return err == nil && th.VerifyChecksum(ip.Src(), ip.Dst())
}

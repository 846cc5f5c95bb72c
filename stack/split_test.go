package stack

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/link/pipe"
	"github.com/synfin/synfin/wire"
)

// injectSplit delivers one packet in two pieces, as a link.SplitWriter's
// peer would.
func (l *rawLink) injectSplit(head, tail []byte) {
	l.mu.Lock()
	d := l.d
	l.mu.Unlock()
	d.(link.SplitDispatcher).DeliverSplitPackets([][]byte{head}, [][]byte{tail})
}

// splitOutcome is what a host did with one arriving packet: its counters,
// the bytes it made readable, and what it sent in answer (flags, the
// acknowledgment relative to the peer's ISN, and the payload length).
type splitOutcome struct {
	stats    Stats
	readable []byte
	replies  []string
}

// splitHost is a rawHost with one connection established from the peer
// (ISN 1000) to port 80, over IPv4 or IPv6.
type splitHost struct {
	s          *Stack
	l          *rawLink
	conn       *TCPConn
	host, peer netip.AddrPort
	synAck     uint32 // the host's ISN
}

func newSplitHost(t testing.TB, opts Options, v6 bool) *splitHost {
	t.Helper()
	s, l := rawHost(t, opts)
	h := &splitHost{s: s, l: l, host: netip.AddrPortFrom(hostV4, 80), peer: netip.AddrPortFrom(peerV4, 4000)}
	if v6 {
		h.host, h.peer = netip.AddrPortFrom(hostV6, 80), netip.AddrPortFrom(peerV6, 4000)
	}
	ln, err := s.Listen("tcp", h.host.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l.inject(seg{src: h.peer, dst: h.host, seq: 1000, flags: wire.FlagSYN, win: 64240, opts: wire.TCPOptions{HasMSS: true, MSS: 1460}}.bytes())
	h.synAck = only(t, l.takeTCP(t), "SYN-ACK").seq
	l.inject(seg{src: h.peer, dst: h.host, seq: 1001, ack: h.synAck + 1, flags: wire.FlagACK, win: 64240}.bytes())
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h.conn = c.(*TCPConn)
	return h
}

// data is a segment carrying payload at the start of the peer's data.
func (h *splitHost) data(payload []byte) []byte {
	return seg{src: h.peer, dst: h.host, seq: 1001, ack: h.synAck + 1, flags: wire.FlagACK | wire.FlagPSH, win: 64240, data: payload}.bytes()
}

// deliver hands pkt to the host, whole (cut < 0) or in two pieces cut at
// cut bytes, and reports what the host did with it.
func (h *splitHost) deliver(t testing.TB, pkt []byte, cut int) splitOutcome {
	t.Helper()
	before := h.s.Stats()
	if cut < 0 {
		h.l.inject(bytes.Clone(pkt))
	} else {
		h.l.injectSplit(bytes.Clone(pkt[:cut]), bytes.Clone(pkt[cut:]))
	}
	var out splitOutcome
	out.stats = h.s.Stats()
	out.stats.PacketsOut -= before.PacketsOut
	tcb := h.conn.c.tcb
	if n := tcb.Readable(); n > 0 {
		out.readable = make([]byte, n)
		tcb.Peek(out.readable)
	}
	for _, r := range h.l.takeTCP(t) {
		out.replies = append(out.replies, fmt.Sprintf("%v ack %d len %d", r.flags, r.ack-1001, len(r.data)))
	}
	return out
}

// sameOutcome fails t if the two outcomes differ.
func sameOutcome(t testing.TB, whole, split splitOutcome) {
	t.Helper()
	if whole.stats != split.stats {
		t.Errorf("counters differ:\nwhole %+v\nsplit %+v", whole.stats, split.stats)
	}
	if !bytes.Equal(whole.readable, split.readable) {
		t.Errorf("readable: whole %d bytes, split %d bytes (or other bytes)", len(whole.readable), len(split.readable))
	}
	if fmt.Sprint(whole.replies) != fmt.Sprint(split.replies) {
		t.Errorf("replies: whole %q, split %q", whole.replies, split.replies)
	}
}

// TestSplitInputLikeWhole: a packet that arrives in two pieces
// (link.SplitDispatcher) is treated exactly like the same packet arriving
// whole, wherever it is cut and whatever is wrong with it: the pieces take
// the fast path only when the head is exactly the IP and TCP headers of a
// segment for this host, and are joined for the general path otherwise,
// which counts what is wrong (RFC 9293 3.1: a bad checksum drops the
// segment; RFC 791: a bad header checksum or length drops the datagram).
// FuzzSplitInput checks the same on arbitrary packets and cuts.
func TestSplitInputLikeWhole(t *testing.T) {
	payload := bytes.Repeat([]byte("split segments "), 80)[:1200]
	const v4Headers, v6Headers = 20 + 20, 40 + 20
	cases := []struct {
		name   string
		v6     bool
		cut    int // bytes in the head; the rest is the tail
		mutate func(pkt []byte) []byte
	}{
		{name: "v4 cut after the headers", cut: v4Headers},
		{name: "v6 cut after the headers", v6: true, cut: v6Headers},
		{name: "v4 cut inside the payload", cut: v4Headers + 100},
		{name: "v4 cut inside the TCP header", cut: 30},
		{name: "v4 cut inside the IP header", cut: 10},
		{name: "v6 cut inside the TCP header", v6: true, cut: 45},
		{name: "corrupted payload", cut: v4Headers, mutate: func(p []byte) []byte { p[len(p)-1] ^= 1; return p }},
		{name: "v6 corrupted payload", v6: true, cut: v6Headers, mutate: func(p []byte) []byte { p[len(p)-7] ^= 0x80; return p }},
		{name: "bad IP header checksum", cut: v4Headers, mutate: func(p []byte) []byte { p[10] ^= 1; return p }},
		{name: "total length beyond the pieces", cut: v4Headers, mutate: func(p []byte) []byte {
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)+4))
			return refillIPv4Checksum(p)
		}},
		{name: "total length short of the pieces", cut: v4Headers, mutate: func(p []byte) []byte {
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)-4))
			return refillIPv4Checksum(p)
		}},
		{name: "more fragments", cut: v4Headers, mutate: func(p []byte) []byte {
			p[6] |= 0x20
			return refillIPv4Checksum(p)
		}},
		{name: "not for this host", cut: v4Headers, mutate: func(p []byte) []byte {
			p[19] = 9 // 10.0.0.9
			return refillIPv4Checksum(p)
		}},
		{name: "v6 not for this host", v6: true, cut: v6Headers, mutate: func(p []byte) []byte { p[39] = 9; return p }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outcome := func(cut int) splitOutcome {
				h := newSplitHost(t, Options{}, c.v6)
				pkt := h.data(payload)
				if c.mutate != nil {
					pkt = c.mutate(pkt)
				}
				return h.deliver(t, pkt, cut)
			}
			sameOutcome(t, outcome(-1), outcome(c.cut))
		})
	}
}

// frozenClock is a stack.Clock whose time stands still and whose timers
// never fire, so that two stacks given the same Secret behave identically.
type frozenClock struct{}

func (frozenClock) Now() time.Duration                    { return time.Hour }
func (frozenClock) AfterFunc(time.Duration, func()) Timer { return frozenTimer{} }

type frozenTimer struct{}

func (frozenTimer) Stop() bool { return true }

// FuzzSplitInput: any packet, cut anywhere, is treated in two pieces as it
// is whole (counters, readable bytes, replies), and never panics. The two
// hosts are identical (same Secret, frozen clock), so the seeds, data
// segments of their established connection, reach the engine.
func FuzzSplitInput(f *testing.F) {
	secret := [16]byte{1, 2, 3}
	opts := Options{Secret: &secret, Clock: frozenClock{}}
	for _, v6 := range []bool{false, true} {
		h := newSplitHost(f, opts, v6)
		hdr := 40
		if v6 {
			hdr = 60
		}
		for _, n := range []int{1, 600, 1400} {
			f.Add(h.data(bytes.Repeat([]byte{'x'}, n)), uint16(hdr), v6)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte, cut uint16, v6 bool) {
		whole := newSplitHost(t, opts, v6).deliver(t, pkt, -1)
		split := newSplitHost(t, opts, v6).deliver(t, pkt, int(cut)%(len(pkt)+1))
		sameOutcome(t, whole, split)
	})
}

// refillIPv4Checksum recomputes the header checksum of an IPv4 packet
// after a test changed a field.
func refillIPv4Checksum(p []byte) []byte {
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], wire.FoldChecksum(wire.Checksum(p[:20], 0)))
	return p
}

// TestSplitTransmitOverPipe: over a pipe (a link.SplitWriter) a stack
// sends its data segments in two pieces, the payload straight from the
// send buffer (tcp.Segment.Pinned), and a megabyte crosses intact both ways
// at MTU 1500 and 65535, over IPv4 and IPv6; with a capture attached, which
// records whole packets, nothing is split.
func TestSplitTransmitOverPipe(t *testing.T) {
	for _, c := range []struct {
		name    string
		mtu     int
		v6      bool
		capture bool
		offload bool
	}{
		{name: "mtu 1500", mtu: 1500},
		{name: "mtu 65535", mtu: 65535},
		{name: "mtu 65535 checksum offload", mtu: 65535, offload: true},
		{name: "v6 mtu 9000", mtu: 9000, v6: true},
		{name: "captured", mtu: 1500, capture: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ea, eb := pipe.NewWithOptions(pipe.Options{MTU: c.mtu, ChecksumOffload: c.offload})
			var opts Options
			if c.capture {
				opts.Capture = &checksumRecorder{}
			}
			a, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			a.AddInterface("p0", ea, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64"))
			b.AddInterface("p0", eb, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64"))
			addr := "10.0.0.2:7"
			if c.v6 {
				addr = "[fd00::2]:7"
			}
			ln, err := b.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			msg := make([]byte, 1<<20)
			for i := range msg {
				msg[i] = byte(i*31 + i>>11)
			}
			echoed := make(chan [32]byte, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					echoed <- [32]byte{}
					return
				}
				defer conn.Close()
				got, _ := io.ReadAll(conn)
				conn.Write(got) // and back, so both ends send in two pieces
				echoed <- sha256.Sum256(got)
			}()
			conn, err := a.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			conn.(*TCPConn).CloseWrite()
			back, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if sum := <-echoed; sum != sha256.Sum256(msg) || !bytes.Equal(back, msg) {
				t.Fatal("the data did not cross intact")
			}
			sa, sb := ea.Stats(), eb.Stats()
			if c.capture {
				if sa.TxSplit != 0 {
					t.Fatalf("captured stack sent %d packets in two pieces", sa.TxSplit)
				}
				if sb.TxSplit == 0 {
					t.Fatal("the uncaptured stack sent nothing in two pieces")
				}
				return
			}
			if min := uint64(len(msg) / c.mtu); sa.TxSplit < min || sb.TxSplit < min {
				t.Fatalf("packets sent in two pieces: %d and %d, want at least %d each", sa.TxSplit, sb.TxSplit, min)
			}
		})
	}
}

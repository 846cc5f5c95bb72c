package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/wire"
)

// fragment splits pkt (v4 or v6) into pieces of size octets.
func fragment(pkt []byte, id uint32, size int) [][]byte {
	if pkt[0]>>4 == 4 {
		return fragmentV4(pkt, uint16(id), size)
	}
	return fragmentV6(pkt, id, size)
}

// fragUsage returns the reassembly memory in use and the datagrams held.
func fragUsage(s *Stack) (used, datagrams int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frags.used, len(s.frags.bufs)
}

// TestFragmentReassembly: a TCP segment (SYN, data) or an ICMP echo split
// into three fragments that arrive out of order is reassembled and
// processed, over IPv4 and IPv6 (Fragment header).
func TestFragmentReassembly(t *testing.T) {
	orders := [][]int{{2, 0, 1}, {1, 2, 0}, {2, 1, 0}}
	cases := []struct {
		name string
		// run sends the packet built by mk as fragments and checks the
		// result.
		run func(t *testing.T, fam string, s *Stack, l *rawLink, send func([]byte, int))
	}{
		{"tcp-syn", func(t *testing.T, fam string, s *Stack, l *rawLink, send func([]byte, int)) {
			host, peer := family(fam)
			ln, err := s.Listen("tcp", netip.AddrPortFrom(host, 80).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			syn := seg{src: netip.AddrPortFrom(peer, 1234), dst: netip.AddrPortFrom(host, 80), seq: 99, flags: wire.FlagSYN, opts: synOpts(1)}
			send(syn.bytes(), 16) // 40 octets of TCP: 16 + 16 + 8
			sa := only(t, l.takeTCP(t), "fragmented SYN")
			if sa.flags != wire.FlagSYN|wire.FlagACK || sa.ack != 100 {
				t.Errorf("answer to a fragmented SYN: %v", sa)
			}
		}},
		{"tcp-data", func(t *testing.T, fam string, s *Stack, l *rawLink, send func([]byte, int)) {
			p, c := established(t, s, l, fam)
			msg := bytes.Repeat([]byte("fragmented "), 30) // 330 octets
			d := p.seg(wire.FlagACK|wire.FlagPSH, msg)
			send(d.bytes(), 128) // 32 + 330 = 362 octets: 128 + 128 + 106
			buf := make([]byte, 1000)
			n, err := c.TryRead(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Errorf("read %d bytes (%v), want the %d of the fragmented segment", n, err, len(msg))
			}
		}},
		{"icmp-echo", func(t *testing.T, fam string, s *Stack, l *rawLink, send func([]byte, int)) {
			data := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 40) // 200 octets
			send(echoRequest(fam, 9, 3, data), 72)          // 208 octets: 72 + 72 + 64
			out := l.take()
			if len(out) != 1 {
				t.Fatalf("%d packets in answer to a fragmented echo request", len(out))
			}
			checkEchoReply(t, fam, out[0], 9, 3, data)
		}},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range cases {
			for _, order := range orders {
				t.Run(fam+"/"+tc.name, func(t *testing.T) {
					s, l := rawHost(t, Options{})
					send := func(pkt []byte, size int) {
						frags := fragment(pkt, 0xbeef, size)
						if len(frags) != 3 {
							t.Fatalf("%d fragments", len(frags))
						}
						for _, i := range order {
							l.inject(frags[i])
						}
					}
					tc.run(t, fam, s, l, send)
					st := s.Stats()
					if st.FragmentsIn != 3 || st.FragmentsReassembled != 1 || st.FragmentsDropped != 0 {
						t.Errorf("FragmentsIn %d Reassembled %d Dropped %d", st.FragmentsIn, st.FragmentsReassembled, st.FragmentsDropped)
					}
					if used, n := fragUsage(s); used != 0 || n != 0 {
						t.Errorf("reassembly memory left: %d bytes, %d datagrams", used, n)
					}
				})
			}
		}
	}
}

// TestFragmentOverlap: overlapping fragments discard the whole datagram
// (RFC 5722; Linux does the same for IPv4).
func TestFragmentOverlap(t *testing.T) {
	// Fragments as (offset, end, more) of a 48-octet echo request.
	cases := []struct {
		name  string
		frags [][3]int
	}{
		{"head-overlaps-middle", [][3]int{{0, 24, 1}, {16, 40, 1}}},
		{"middle-overlaps-head", [][3]int{{16, 40, 1}, {0, 24, 1}}},
		{"tail-overlaps", [][3]int{{0, 32, 1}, {24, 48, 0}}},
		{"contained", [][3]int{{0, 40, 1}, {8, 16, 1}}},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range cases {
			t.Run(fam+"/"+tc.name, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				whole := echoRequest(fam, 1, 1, bytes.Repeat([]byte{7}, 40)) // 48 octets of ICMP
				for _, f := range tc.frags {
					l.inject(rawFragment(whole, 77, f[0], f[1], f[2] == 1))
				}
				st := s.Stats()
				if st.FragmentsDropped != 1 || st.FragmentsReassembled != 0 {
					t.Errorf("FragmentsDropped %d Reassembled %d, want 1 0", st.FragmentsDropped, st.FragmentsReassembled)
				}
				// What remains of the datagram is gone: the missing pieces
				// alone complete nothing.
				l.inject(rawFragment(whole, 77, 40, 48, false))
				if out := l.take(); len(out) != 0 {
					t.Errorf("a datagram with overlapping fragments was answered")
				}
				if s.Stats().FragmentsReassembled != 0 {
					t.Errorf("reassembled after an overlap")
				}
			})
		}
	}
}

// rawFragment cuts the fragment [off, end) out of the payload of pkt.
func rawFragment(pkt []byte, id uint32, off, end int, more bool) []byte {
	if pkt[0]>>4 == 4 {
		ip, _ := wire.ParseIPv4(pkt)
		h := ip.Header()
		h.ID, h.FragmentOffset, h.Flags = uint16(id), uint16(off/8), 0
		if more {
			h.Flags = wire.IPv4MoreFragments
		}
		b, _ := wire.BuildIPv4(nil, &h, end-off)
		return append(b, ip.Payload()[off:end]...)
	}
	ip, _ := wire.ParseIPv6(pkt)
	return fragV6(ip.Header(), ip.NextHeader(), id, off, more, ip.Payload()[off:end])
}

// TestFragmentTimeout: a datagram whose fragments do not all arrive within
// 30 s is dropped (FragmentTimeouts) and its memory freed; a late fragment
// does not complete it.
func TestFragmentTimeout(t *testing.T) {
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, l := rawHost(t, Options{})
				frags := fragment(echoRequest(fam, 5, 5, bytes.Repeat([]byte{9}, 200)), 4242, 72)
				l.inject(frags[0])
				l.inject(frags[2])
				time.Sleep(29 * time.Second)
				if _, n := fragUsage(s); s.Stats().FragmentTimeouts != 0 || n != 1 {
					t.Fatalf("after 29 s: FragmentTimeouts %d, %d datagrams", s.Stats().FragmentTimeouts, n)
				}
				time.Sleep(2 * time.Second)
				synctest.Wait()
				used, n := fragUsage(s)
				if st := s.Stats(); st.FragmentTimeouts != 1 || used != 0 || n != 0 {
					t.Errorf("after 31 s: FragmentTimeouts %d, %d bytes in %d datagrams", st.FragmentTimeouts, used, n)
				}
				l.inject(frags[1])
				if out := l.take(); len(out) != 0 || s.Stats().FragmentsReassembled != 0 {
					t.Errorf("a timed-out datagram was completed")
				}
			})
		})
	}
}

// TestFragmentMemoryBound: a flood of incomplete datagrams never holds more
// than Options.FragmentMemory: new ones are dropped once it is used up, and
// the budget frees itself when they time out. The budget accounts for each
// datagram's bookkeeping too, so that tiny fragments cannot hold far more
// memory than it says.
func TestFragmentMemoryBound(t *testing.T) {
	cases := []struct {
		name string
		size int // octets of the first fragment
	}{
		{"big", 512},
		{"tiny", 8},
	}
	for _, fam := range []string{"v4", "v6"} {
		for _, tc := range cases {
			t.Run(fam+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					const limit = 64 << 10
					s, l := rawHost(t, Options{FragmentMemory: limit})
					host, peer := family(fam)
					proto := wire.ProtoICMP
					if fam == "v6" {
						proto = wire.ProtoICMPv6
					}
					whole := ipPacket(peer, host, proto, make([]byte, tc.size+8))
					const flood = 20000
					maxUsed := 0
					for i := 0; i < flood; i++ {
						l.inject(rawFragment(whole, uint32(i), 0, tc.size, true))
						if used, _ := fragUsage(s); used > maxUsed {
							maxUsed = used
						}
					}
					st := s.Stats()
					if maxUsed > limit {
						t.Errorf("reassembly used %d bytes, limit %d", maxUsed, limit)
					}
					if st.FragmentsDropped == 0 {
						t.Errorf("no fragment dropped in a flood of %d", flood)
					}
					// Each held datagram costs at least its bookkeeping (a
					// map entry, a buffer record, its spans): 128 bytes is
					// a low estimate.
					if _, held := fragUsage(s); held*(tc.size+128) > limit {
						t.Errorf("%d datagrams of %d octets held within a budget of %d bytes", held, tc.size, limit)
					}
					time.Sleep(31 * time.Second)
					synctest.Wait()
					if used, n := fragUsage(s); used != 0 || n != 0 {
						t.Errorf("after the timeout: %d bytes in %d datagrams", used, n)
					}
					// With the budget free again, a whole datagram gets through.
					data := make([]byte, 200)
					for _, f := range fragment(echoRequest(fam, 1, 1, data), 999999, 72) {
						l.inject(f)
					}
					if out := l.take(); len(out) != 1 {
						t.Errorf("%d replies to a fragmented echo after the flood", len(out))
					}
				})
			})
		}
	}
}

// TestFragmentMemoryHeap checks the budget against the heap: a flood of
// tiny incomplete datagrams under the default 4 MiB budget must not hold
// much more than 4 MiB of memory.
func TestFragmentMemoryHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("heap measurement")
	}
	s, l := rawHost(t, Options{})
	whole := ipPacket(peerV4, hostV4, wire.ProtoICMP, make([]byte, 16))
	before := heapInUse()
	for i := 0; i < 1<<19; i++ {
		p := rawFragment(whole, uint32(i), 0, 8, true)
		binary.BigEndian.PutUint32(p[12:16], 0x0b000000|uint32(i>>16)) // sources 11.0.0.x: IDs are 16 bits
		wire.IPv4(p).FillChecksum()
		l.inject(p)
	}
	held := heapInUse() - before
	used, n := fragUsage(s)
	t.Logf("%d datagrams held, %d bytes accounted, %d bytes of heap", n, used, held)
	if held > 2*uint64(s.opts.FragmentMemory) {
		t.Errorf("fragment flood holds %d bytes of heap, budget %d", held, s.opts.FragmentMemory)
	}
	runtime.KeepAlive(s)
}

// TestFragmentedEchoReplyFitsMTU: the reply to a reassembled echo request
// larger than the link MTU is not handed to the link as one oversized
// packet: it is fragmented (as Linux does), and the fragments put back
// together are the right echo reply.
func TestFragmentedEchoReplyFitsMTU(t *testing.T) {
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			_, l := rawHost(t, Options{})
			data := make([]byte, 3000)
			for i := range data {
				data[i] = byte(i * 7)
			}
			for _, f := range fragment(echoRequest(fam, 1, 1, data), 5, 1400) {
				l.inject(f)
			}
			out := l.take()
			if len(out) < 3 {
				t.Fatalf("%d packets in reply to a 3000-octet echo request", len(out))
			}
			// Reassemble by hand.
			var whole []byte
			var first []byte
			for _, p := range out {
				if len(p) > l.MTU() {
					t.Errorf("packet of %d bytes written to a link with MTU %d", len(p), l.MTU())
				}
				var off int
				var payload []byte
				if fam == "v4" {
					ip, err := wire.ParseIPv4(p)
					if err != nil || !ip.ChecksumValid() {
						t.Fatalf("bad fragment: %v", err)
					}
					off, payload = int(ip.FragmentOffset())*8, ip.Payload()
				} else {
					ip, err := wire.ParseIPv6(p)
					if err != nil || ip.NextHeader() != wire.ProtoFragment {
						t.Fatalf("bad fragment: %v, next header %d", err, ip.NextHeader())
					}
					fh := ip.Payload()
					off, payload = int(binary.BigEndian.Uint16(fh[2:4])&^7), fh[8:]
				}
				if off == 0 {
					first = p
				}
				if len(whole) < off+len(payload) {
					whole = append(whole, make([]byte, off+len(payload)-len(whole))...)
				}
				copy(whole[off:], payload)
			}
			if first == nil {
				t.Fatal("no first fragment")
			}
			host, peer := family(fam)
			var rebuilt []byte
			if fam == "v4" {
				rebuilt = ipPacket(host, peer, wire.ProtoICMP, whole)
			} else {
				rebuilt = ipPacket(host, peer, wire.ProtoICMPv6, whole)
			}
			checkEchoReply(t, fam, rebuilt, 1, 1, data)
		})
	}
}

package tcp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/synfin/synfin/wire"
)

// RFC 2018 4: the first SACK block reports the block holding the segment
// that triggered the ACK. A batch of segments answered by one ACK
// (MUST-59, InputBatch) that opens more blocks than one ACK can carry must
// still report each of them first in some ACK (as Linux, which ACKs every
// non-contiguous out-of-order segment, does): a block the sender is never
// told about is retransmitted although it arrived. Segments that only
// extend the block still share one ACK.
func TestRFC2018_4_HeldAckReportsEveryNewBlock(t *testing.T) {
	blk := func(l, r uint32) wire.SACKBlock { return wire.SACKBlock{Left: l, Right: r} }
	for _, tt := range []struct {
		name string
		offs []uint32 // segments of 100 bytes at base+off, in one batch
		// The first SACK block of each ACK sent, relative to base.
		want []wire.SACKBlock
	}{
		{"five new blocks, room for four", []uint32{100, 300, 500, 700, 900},
			[]wire.SACKBlock{blk(100, 200), blk(300, 400), blk(500, 600), blk(700, 800), blk(900, 1000)}},
		{"one block growing", []uint32{100, 200, 300, 400, 500},
			[]wire.SACKBlock{blk(100, 600)}},
		{"two blocks, each growing", []uint32{100, 200, 400, 500},
			[]wire.SACKBlock{blk(100, 300), blk(400, 600)}},
		{"a block grown downwards", []uint32{300, 200, 600},
			[]wire.SACKBlock{blk(200, 400), blk(600, 700)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := r9Passive(t, nil, wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true}, 65535)
			base := r.nxt
			var batch []*Segment
			for _, off := range tt.offs {
				batch = append(batch, seg(wire.FlagACK, base+off, r9ISS+1, 65535, strings.Repeat("x", 100)))
			}
			r.e.InputBatch(r.now, batch)
			var got []wire.SACKBlock
			var all []string
			for _, a := range r.e.rec.take() {
				all = append(all, a.String())
				if a.Ack != base || a.Options.NumSACK == 0 {
					t.Fatalf("batch answered with %s, want ACKs of %d with SACK blocks", &a, base)
				}
				b := a.Options.SACKBlocks[0]
				got = append(got, blk(b.Left-base, b.Right-base))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("first SACK blocks %v (ACKs %v), want %v", got, all, tt.want)
			}
		})
	}
}

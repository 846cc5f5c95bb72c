package tcp

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// testStreamByte is byte i of a test stream: varied enough that a byte copied to
// the wrong place is noticed.
func testStreamByte(i int) byte { return byte(uint32(i)*2654435761>>13) ^ byte(i) }

func testStream(from, n int) []byte {
	p := make([]byte, n)
	for k := range p {
		p[k] = testStreamByte(from + k)
	}
	return p
}

// ---- sendBuffer ----

func TestSendBuffer_FreshHoldsNoMemory(t *testing.T) {
	var b sendBuffer
	b.setLimit(1 << 20)
	if b.memory() != 0 || b.Len() != 0 || b.Free() != 1<<20 {
		t.Fatalf("fresh buffer: memory %d len %d free %d", b.memory(), b.Len(), b.Free())
	}
	if p := b.peek(0, 10); p != nil {
		t.Fatalf("peek of empty buffer = %v, want nil", p)
	}
}

func TestSendBuffer_WriteRespectsLimit(t *testing.T) {
	tests := []struct {
		limit  int
		writes []int
		want   []int
	}{
		{limit: 10, writes: []int{4, 4, 4}, want: []int{4, 4, 2}},
		{limit: 10, writes: []int{10, 1}, want: []int{10, 0}},
		{limit: 0, writes: []int{5}, want: []int{0}},
		{limit: 100000, writes: []int{70000, 70000}, want: []int{70000, 30000}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit, tt.writes), func(t *testing.T) {
			var b sendBuffer
			b.setLimit(tt.limit)
			off := 0
			for i, w := range tt.writes {
				got := b.write(testStream(off, w))
				if got != tt.want[i] {
					t.Fatalf("write %d of %d bytes = %d, want %d", i, w, got, tt.want[i])
				}
				off += got
			}
			if b.Len() != off || b.Free() != tt.limit-off {
				t.Fatalf("Len %d Free %d, want %d %d", b.Len(), b.Free(), off, tt.limit-off)
			}
			if !bytes.Equal(b.peek(0, off), testStream(0, off)) {
				t.Fatal("content differs")
			}
			if b.memory() > tt.limit {
				t.Fatalf("memory %d above limit %d", b.memory(), tt.limit)
			}
		})
	}
}

func TestSendBuffer_LimitBelowLen(t *testing.T) {
	var b sendBuffer
	b.setLimit(100)
	b.write(testStream(0, 80))
	b.setLimit(50)
	if b.Free() != 0 || b.limit() != 50 {
		t.Fatalf("Free %d limit %d, want 0 50", b.Free(), b.limit())
	}
	if n := b.write([]byte{1}); n != 0 {
		t.Fatalf("write accepted %d bytes above the limit", n)
	}
	b.consume(40)
	if b.Free() != 10 {
		t.Fatalf("Free %d after consume, want 10", b.Free())
	}
	if n := b.write(testStream(80, 20)); n != 10 {
		t.Fatalf("write = %d, want 10", n)
	}
	if !bytes.Equal(b.peek(0, 100), testStream(40, 50)) {
		t.Fatal("content differs")
	}
}

func TestSendBuffer_Peek(t *testing.T) {
	var b sendBuffer
	b.setLimit(1000)
	b.write(testStream(0, 100))
	b.consume(30) // head is now stream byte 30
	tests := []struct {
		off, n       int
		wantFrom, wl int // want testStream(wantFrom, wl); wl < 0 means nil
	}{
		{0, 10, 30, 10},
		{60, 100, 90, 10}, // shorter at the end
		{69, 5, 99, 1},
		{70, 1, 0, -1}, // off == Len
		{500, 1, 0, -1},
		{-1, 5, 0, -1},
		{5, 0, 0, -1},
	}
	for _, tt := range tests {
		got := b.peek(tt.off, tt.n)
		if tt.wl < 0 {
			if got != nil {
				t.Errorf("peek(%d,%d) = %d bytes, want nil", tt.off, tt.n, len(got))
			}
			continue
		}
		if !bytes.Equal(got, testStream(tt.wantFrom, tt.wl)) {
			t.Errorf("peek(%d,%d) = %v, want stream[%d:+%d]", tt.off, tt.n, got, tt.wantFrom, tt.wl)
		}
		if cap(got) != len(got) {
			t.Errorf("peek(%d,%d): cap %d != len %d; appending would overwrite the buffer", tt.off, tt.n, cap(got), len(got))
		}
	}
}

func TestSendBuffer_ConsumeClampsAndShrink(t *testing.T) {
	var b sendBuffer
	b.setLimit(100)
	b.write(testStream(0, 50))
	b.consume(0)
	b.consume(-3)
	if b.Len() != 50 {
		t.Fatalf("Len %d after no-op consumes", b.Len())
	}
	b.shrink() // not empty: keeps the array
	if b.memory() == 0 {
		t.Fatal("shrink released a non-empty buffer")
	}
	b.consume(1000)
	if b.Len() != 0 || b.Free() != 100 {
		t.Fatalf("Len %d Free %d after over-consume", b.Len(), b.Free())
	}
	b.shrink()
	if b.memory() != 0 {
		t.Fatalf("memory %d after shrink of empty buffer", b.memory())
	}
	if n := b.write(testStream(7, 20)); n != 20 || !bytes.Equal(b.peek(0, 20), testStream(7, 20)) {
		t.Fatal("buffer unusable after shrink")
	}
}

func TestSendBuffer_GrowsByDoublingUpToLimit(t *testing.T) {
	var b sendBuffer
	b.setLimit(100000)
	var caps []int
	for off := 0; off < 100000; off += 1000 {
		b.write(testStream(off, 1000))
		if c := b.memory(); len(caps) == 0 || caps[len(caps)-1] != c {
			caps = append(caps, c)
		}
	}
	want := []int{4096, 8192, 16384, 32768, 65536, 100000}
	if !slices.Equal(caps, want) {
		t.Fatalf("capacities %v, want %v", caps, want)
	}
}

// A bulk sender keeps the buffer full: every ACK frees a little, and the
// application refills it at once. The ring never moves what it holds, so
// memory stays within the limit plus one segment of scratch (for the peek
// of a segment that wraps around the end of the ring).
func TestSendBuffer_BulkSteadyStateBounded(t *testing.T) {
	const limit = 1 << 16
	var b sendBuffer
	b.setLimit(limit)
	w := b.write(testStream(0, limit))
	acked := 0
	for i := 0; i < 10000; i++ {
		b.consume(1448)
		acked += 1448
		w += b.write(testStream(w, 1448))
		if seg := b.peek(b.Len()-1448, 1448); !bytes.Equal(seg, testStream(w-1448, 1448)) {
			t.Fatalf("iteration %d: the last segment reads wrong", i)
		}
		if b.memory() > limit+1448 {
			t.Fatalf("memory %d above the limit plus one segment", b.memory())
		}
	}
	if !bytes.Equal(b.peek(0, limit), testStream(acked, limit)) {
		t.Fatal("content differs")
	}
}

func TestSendBuffer_AllocsSteadyState(t *testing.T) {
	var b sendBuffer
	b.setLimit(1 << 16)
	seg := testStream(0, 1448)
	b.write(make([]byte, 1<<16))
	step := func() {
		b.consume(1448)
		b.write(seg)
		_ = b.peek(b.Len()-1448, 1448)
	}
	for i := 0; i < 1000; i++ { // reach the working size
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("steady-state write/consume/peek allocates %v times per run", a)
	}
}

// TestSendBuffer_Property checks random writes, consumes and peeks against a
// plain byte-slice model.
func TestSendBuffer_Property(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(0, 20000).Draw(t, "limit")
		maxLimit := limit
		var b sendBuffer
		b.setLimit(limit)
		var model []byte // bytes held
		written := 0     // stream offset of the next byte to write
		t.Repeat(map[string]func(*rapid.T){
			"write": func(t *rapid.T) {
				n := rapid.IntRange(0, 3000).Draw(t, "n")
				want := min(n, max(limit-len(model), 0))
				if got := b.write(testStream(written, n)); got != want {
					t.Fatalf("write(%d) = %d, want %d", n, got, want)
				}
				model = append(model, testStream(written, want)...)
				written += want
			},
			"consume": func(t *rapid.T) {
				n := rapid.IntRange(-10, len(model)+10).Draw(t, "n")
				b.consume(n)
				model = model[min(max(n, 0), len(model)):]
			},
			"peek": func(t *rapid.T) {
				off := rapid.IntRange(-2, len(model)+2).Draw(t, "off")
				n := rapid.IntRange(0, 3000).Draw(t, "n")
				got := b.peek(off, n)
				if off < 0 || off >= len(model) || n == 0 {
					if got != nil {
						t.Fatalf("peek(%d,%d) non-nil", off, n)
					}
					return
				}
				if want := model[off:min(off+n, len(model))]; !bytes.Equal(got, want) {
					t.Fatalf("peek(%d,%d) differs", off, n)
				}
			},
			"shrink": func(t *rapid.T) {
				b.shrink()
				if len(model) == 0 && b.memory() != 0 {
					t.Fatal("shrink kept the array of an empty buffer")
				}
			},
			"setLimit": func(t *rapid.T) {
				limit = rapid.IntRange(0, 20000).Draw(t, "limit")
				maxLimit = max(maxLimit, limit)
				b.setLimit(limit)
			},
			"": func(t *rapid.T) {
				if b.Len() != len(model) || b.limit() != limit || b.Free() != max(limit-len(model), 0) {
					t.Fatalf("Len %d Free %d limit %d; model len %d limit %d", b.Len(), b.Free(), b.limit(), len(model), limit)
				}
				if !bytes.Equal(ringBytes(b.buf, int(b.head), 0, b.Len()), model) {
					t.Fatal("content differs from model")
				}
				if len(b.buf) > maxLimit || b.memory()-len(b.buf) > maxLimit {
					t.Fatalf("ring %d, scratch %d: above the limit %d", len(b.buf), b.memory()-len(b.buf), maxLimit)
				}
			},
		})
	})
}

// ---- recvBuffer ----

// recvStep is one write in a table test: the piece is stream bytes
// [rcvNxt+off, rcvNxt+off+n) unless data is set.
type recvStep struct {
	off, n       int
	data         []byte
	wantAdvanced int
	wantStored   int
	wantRanges   []seqRange // after the write
}

func runRecvSteps(t *testing.T, b *recvBuffer, base int, steps []recvStep) {
	t.Helper()
	nxt := base // absolute stream offset of RCV.NXT
	for i, s := range steps {
		p := s.data
		if p == nil {
			p = testStream(nxt+s.off, s.n)
		}
		adv, st := b.write(s.off, p)
		if adv != s.wantAdvanced || st != s.wantStored {
			t.Fatalf("step %d: write(%d, %d bytes) = (%d, %d), want (%d, %d)", i, s.off, len(p), adv, st, s.wantAdvanced, s.wantStored)
		}
		nxt += adv
		if got := b.oooRanges(); !slices.Equal(got, s.wantRanges) && (len(got) != 0 || len(s.wantRanges) != 0) {
			t.Fatalf("step %d: ranges %v, want %v", i, got, s.wantRanges)
		}
	}
}

func TestRecvBuffer_Write(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		maxR     int // 0: default
		steps    []recvStep
		readable int
		ooo      int
	}{
		{
			name:  "in order",
			limit: 1000,
			steps: []recvStep{
				{off: 0, n: 100, wantAdvanced: 100, wantStored: 100},
				{off: 0, n: 50, wantAdvanced: 50, wantStored: 50},
			},
			readable: 150,
		},
		{
			name:  "out of order then gap filled",
			limit: 1000,
			steps: []recvStep{
				{off: 100, n: 50, wantStored: 50, wantRanges: []seqRange{{100, 150}}},
				{off: 200, n: 50, wantStored: 50, wantRanges: []seqRange{{100, 150}, {200, 250}}},
				{off: 0, n: 100, wantAdvanced: 150, wantStored: 100, wantRanges: []seqRange{{50, 100}}},
				{off: 0, n: 50, wantAdvanced: 100, wantStored: 50},
			},
			readable: 250,
		},
		{
			name:  "adjacent pieces merge, bridging piece joins two ranges",
			limit: 1000,
			steps: []recvStep{
				{off: 10, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 20}}},
				{off: 20, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 30}}},
				{off: 40, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 30}, {40, 50}}},
				{off: 25, n: 20, wantStored: 20, wantRanges: []seqRange{{10, 50}}},
				{off: 5, n: 50, wantStored: 50, wantRanges: []seqRange{{5, 55}}},
			},
			ooo: 50,
		},
		{
			name:  "duplicate and contained pieces",
			limit: 1000,
			steps: []recvStep{
				{off: 10, n: 30, wantStored: 30, wantRanges: []seqRange{{10, 40}}},
				{off: 10, n: 30, wantStored: 30, wantRanges: []seqRange{{10, 40}}},
				{off: 15, n: 5, wantStored: 5, wantRanges: []seqRange{{10, 40}}},
			},
			ooo: 30,
		},
		{
			name:  "cut at the limit",
			limit: 100,
			steps: []recvStep{
				{off: 0, n: 60, wantAdvanced: 60, wantStored: 60},
				{off: 30, n: 20, wantStored: 10, wantRanges: []seqRange{{30, 40}}},
				{off: 40, n: 20, wantStored: 0, wantRanges: []seqRange{{30, 40}}},
				{off: 0, n: 100, wantAdvanced: 40, wantStored: 40},
				{off: 0, n: 1, wantStored: 0},
			},
			readable: 100,
		},
		{
			name:  "negative offset is trimmed",
			limit: 1000,
			steps: []recvStep{
				{off: 0, n: 10, wantAdvanced: 10, wantStored: 10},
				{off: -5, data: append(bytes.Repeat([]byte{0xEE}, 5), testStream(10, 10)...), wantAdvanced: 10, wantStored: 10},
				{off: -5, n: 5, wantStored: 0},
			},
			readable: 20,
		},
		{
			name:  "max ranges: a new isolated range is refused, touching ones are not",
			limit: 1000,
			maxR:  2,
			steps: []recvStep{
				{off: 10, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 20}}},
				{off: 30, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 20}, {30, 40}}},
				{off: 50, n: 10, wantStored: 0, wantRanges: []seqRange{{10, 20}, {30, 40}}},
				{off: 40, n: 10, wantStored: 10, wantRanges: []seqRange{{10, 20}, {30, 50}}},
				{off: 5, n: 3, wantStored: 0, wantRanges: []seqRange{{10, 20}, {30, 50}}},
				{off: 0, n: 5, wantAdvanced: 5, wantStored: 5, wantRanges: []seqRange{{5, 15}, {25, 45}}},
				{off: 0, n: 5, wantAdvanced: 15, wantStored: 5, wantRanges: []seqRange{{10, 30}}},
			},
			readable: 20,
			ooo:      20,
		},
		{
			name:  "max ranges zero keeps no out-of-order data",
			limit: 1000,
			maxR:  -1,
			steps: []recvStep{
				{off: 10, n: 10, wantStored: 0},
				{off: 0, n: 10, wantAdvanced: 10, wantStored: 10},
			},
			readable: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b recvBuffer
			b.setLimit(tt.limit)
			switch {
			case tt.maxR > 0:
				b.setMaxRanges(tt.maxR)
			case tt.maxR < 0:
				b.setMaxRanges(0)
			}
			runRecvSteps(t, &b, 0, tt.steps)
			if b.readable() != tt.readable || b.oooBytes() != tt.ooo {
				t.Fatalf("readable %d ooo %d, want %d %d", b.readable(), b.oooBytes(), tt.readable, tt.ooo)
			}
			got := make([]byte, b.readable())
			b.read(got)
			if !bytes.Equal(got, testStream(0, tt.readable)) {
				t.Fatalf("read %v, want stream[0:%d]", got, tt.readable)
			}
		})
	}
}

// Bytes already held are not overwritten: the first copy received wins.
func TestRecvBuffer_NoOverwrite(t *testing.T) {
	var b recvBuffer
	b.setLimit(100)
	b.write(10, []byte("bbbb"))
	adv, st := b.write(0, []byte("aaaaaaaaaaXXXXXXcc"))
	if adv != 18 || st != 18 {
		t.Fatalf("write = (%d, %d), want (18, 18)", adv, st)
	}
	got := make([]byte, 100)
	got = got[:b.read(got)]
	if string(got) != "aaaaaaaaaabbbbXXcc" {
		t.Fatalf("read %q", got)
	}
}

func TestRecvBuffer_ReadPeekDiscard(t *testing.T) {
	var b recvBuffer
	b.setLimit(100)
	b.write(0, testStream(0, 30))
	b.write(10, testStream(40, 10)) // absolute 40..50
	p := make([]byte, 10)
	if n := b.peek(p); n != 10 || !bytes.Equal(p, testStream(0, 10)) {
		t.Fatalf("peek = %d %v", n, p)
	}
	if n := b.discard(5); n != 5 || b.readable() != 25 {
		t.Fatalf("discard = %d, readable %d", n, b.readable())
	}
	if n := b.read(p); n != 10 || !bytes.Equal(p, testStream(5, 10)) {
		t.Fatalf("read = %d %v", n, p)
	}
	if n := b.discard(100); n != 15 || b.readable() != 0 {
		t.Fatalf("discard = %d, readable %d", n, b.readable())
	}
	if n := b.read(p); n != 0 {
		t.Fatalf("read of empty buffer = %d", n)
	}
	// Out-of-order data survives reading the in-order data.
	if adv, _ := b.write(0, testStream(30, 10)); adv != 20 {
		t.Fatalf("advanced %d, want 20", adv)
	}
	big := make([]byte, 100)
	if n := b.read(big); n != 20 || !bytes.Equal(big[:n], testStream(30, 20)) {
		t.Fatalf("read = %d %v", n, big[:n])
	}
}

func TestRecvBuffer_DropOutOfOrderAndShrink(t *testing.T) {
	var b recvBuffer
	b.setLimit(1000)
	if b.memory() != 0 {
		t.Fatal("fresh buffer holds memory")
	}
	b.write(100, testStream(100, 100))
	b.shrink()
	if b.memory() == 0 {
		t.Fatal("shrink released a buffer holding out-of-order data")
	}
	b.dropOutOfOrder()
	if b.oooBytes() != 0 || len(b.oooRanges()) != 0 {
		t.Fatal("out-of-order data survived dropOutOfOrder")
	}
	b.shrink()
	if b.memory() != 0 {
		t.Fatalf("memory %d after shrink of empty buffer", b.memory())
	}
	if adv, st := b.write(0, testStream(0, 10)); adv != 10 || st != 10 {
		t.Fatalf("write after shrink = (%d, %d)", adv, st)
	}
}

func TestRecvBuffer_SetMaxRangesLowerDropsFarthest(t *testing.T) {
	var b recvBuffer
	b.setLimit(1000)
	for off := 10; off < 100; off += 20 {
		b.write(off, testStream(off, 5))
	}
	b.setMaxRanges(2)
	if got, want := b.oooRanges(), []seqRange{{10, 15}, {30, 35}}; !slices.Equal(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	if b.oooBytes() != 10 {
		t.Fatalf("oooBytes %d, want 10", b.oooBytes())
	}
}

// A bulk receiver: the window is kept full while the application reads a
// segment at a time. Memory stays within the limit.
func TestRecvBuffer_BulkSteadyStateBounded(t *testing.T) {
	const limit = 1 << 16
	var b recvBuffer
	b.setLimit(limit)
	nxt, rd := 0, 0
	p := make([]byte, 1448)
	for i := 0; i < 10000; i++ {
		space := limit - b.readable()
		adv, _ := b.write(0, testStream(nxt, space))
		nxt += adv
		n := b.read(p)
		if !bytes.Equal(p[:n], testStream(rd, n)) {
			t.Fatalf("iteration %d: read wrong bytes", i)
		}
		rd += n
		if b.memory() > limit {
			t.Fatalf("memory %d above the limit", b.memory())
		}
	}
}

func TestRecvBuffer_AllocsSteadyState(t *testing.T) {
	var b recvBuffer
	b.setLimit(1 << 16)
	seg1, seg2 := testStream(0, 1448), testStream(1448, 1448)
	p := make([]byte, 2*1448)
	b.write(0, make([]byte, 1<<15))
	step := func() {
		b.write(1448, seg2) // out of order
		_ = b.oooRanges()
		b.write(0, seg1) // fills the gap
		b.peek(p[:100])
		b.read(p)
	}
	for i := 0; i < 1000; i++ {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("steady-state write/read/peek allocates %v times per run", a)
	}
}

// recvModel is the reference for TestRecvBuffer_Property: absolute stream
// positions and a set of the out-of-order positions held.
type recvModel struct {
	limit, maxR int
	maxBound    int          // the largest bound() so far (ranges are not dropped when it falls)
	read, nxt   int          // absolute offsets of the next unread byte and of RCV.NXT
	have        map[int]bool // absolute positions >= nxt held out of order
}

// bound is recvBuffer.maxR: the configured floor, or one range per
// oooRangeBytes of the limit if that is more; 0 stays 0.
func (m *recvModel) bound() int {
	if m.maxR <= 0 {
		return 0
	}
	return max(m.maxR, m.limit/oooRangeBytes)
}

// ranges derives the out-of-order ranges, relative to nxt, from have.
func (m *recvModel) ranges() []seqRange {
	pos := make([]int, 0, len(m.have))
	for p := range m.have {
		pos = append(pos, p-m.nxt)
	}
	slices.Sort(pos)
	var rs []seqRange
	for _, p := range pos {
		if n := len(rs); n > 0 && rs[n-1].end == p {
			rs[n-1].end++
		} else {
			rs = append(rs, seqRange{p, p + 1})
		}
	}
	return rs
}

// write returns what recvBuffer.write should: see its documentation.
func (m *recvModel) write(off, n int) (advanced, stored int) {
	if off < 0 {
		if -off >= n {
			return 0, 0
		}
		n += off
		off = 0
	}
	space := m.limit - (m.nxt - m.read)
	if off >= space || n == 0 {
		return 0, 0
	}
	end := min(off+n, space)
	rs := m.ranges()
	touches := false
	for _, r := range rs {
		if r.end >= off && r.start <= end {
			touches = true
		}
	}
	if !touches && off > 0 && len(rs) >= m.bound() {
		return 0, 0
	}
	for k := off; k < end; k++ {
		m.have[m.nxt+k] = true
	}
	old := m.nxt
	for m.have[m.nxt] {
		delete(m.have, m.nxt)
		m.nxt++
	}
	return m.nxt - old, end - off
}

// TestRecvBuffer_Property writes random, overlapping pieces of a known stream
// at random offsets, with random reads, peeks and discards in between, and
// compares every result and the buffer's whole state against recvModel after
// every step. Bytes the buffer already holds are offered with wrong contents,
// so overwriting them would corrupt what is later read.
func TestRecvBuffer_Property(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 12000).Draw(t, "limit")
		maxR := rapid.IntRange(0, 8).Draw(t, "maxRanges")
		var b recvBuffer
		b.setLimit(limit)
		b.setMaxRanges(maxR)
		m := &recvModel{limit: limit, maxR: maxR, have: map[int]bool{}}
		m.maxBound = m.bound()
		maxLimit := limit
		t.Repeat(map[string]func(*rapid.T){
			"write": func(t *rapid.T) {
				space := max(m.limit-(m.nxt-m.read), 0)
				off := rapid.IntRange(-20, space+20).Draw(t, "off")
				n := rapid.IntRange(0, 2000).Draw(t, "n")
				p := testStream(m.nxt+off, n)
				for k := range p {
					if abs := m.nxt + off + k; abs < m.nxt || m.have[abs] {
						p[k] ^= 0xA5 // already held: must not be stored
					}
				}
				wa, ws := m.write(off, n)
				if a, s := b.write(off, p); a != wa || s != ws {
					t.Fatalf("write(%d, %d bytes) = (%d, %d), want (%d, %d)", off, n, a, s, wa, ws)
				}
			},
			"writeInOrder": func(t *rapid.T) {
				n := rapid.IntRange(0, 2000).Draw(t, "n")
				p := testStream(m.nxt, n)
				for k := range p {
					if m.have[m.nxt+k] {
						p[k] ^= 0xA5
					}
				}
				wa, ws := m.write(0, n)
				if a, s := b.write(0, p); a != wa || s != ws {
					t.Fatalf("write(0, %d bytes) = (%d, %d), want (%d, %d)", n, a, s, wa, ws)
				}
			},
			"read": func(t *rapid.T) {
				n := rapid.IntRange(0, 3000).Draw(t, "n")
				p := make([]byte, n)
				got := b.read(p)
				want := min(n, m.nxt-m.read)
				if got != want || !bytes.Equal(p[:got], testStream(m.read, got)) {
					t.Fatalf("read(%d) = %d bytes, want %d, or content differs", n, got, want)
				}
				m.read += got
			},
			"peek": func(t *rapid.T) {
				n := rapid.IntRange(0, 3000).Draw(t, "n")
				p := make([]byte, n)
				got := b.peek(p)
				if want := min(n, m.nxt-m.read); got != want || !bytes.Equal(p[:got], testStream(m.read, got)) {
					t.Fatalf("peek(%d) = %d bytes, want %d, or content differs", n, got, want)
				}
			},
			"discard": func(t *rapid.T) {
				n := rapid.IntRange(-5, 3000).Draw(t, "n")
				want := max(min(n, m.nxt-m.read), 0)
				if got := b.discard(n); got != want {
					t.Fatalf("discard(%d) = %d, want %d", n, got, want)
				}
				m.read += want
			},
			"dropOutOfOrder": func(t *rapid.T) {
				b.dropOutOfOrder()
				clear(m.have)
			},
			"shrink": func(t *rapid.T) {
				b.shrink()
				if m.read == m.nxt && len(m.have) == 0 && b.memory() != 0 {
					t.Fatal("shrink kept the array of an empty buffer")
				}
			},
			"setLimit": func(t *rapid.T) {
				m.limit = rapid.IntRange(1, 12000).Draw(t, "limit")
				maxLimit = max(maxLimit, m.limit)
				b.setLimit(m.limit)
				m.maxBound = max(m.maxBound, m.bound())
			},
			"": func(t *rapid.T) {
				if b.readable() != m.nxt-m.read {
					t.Fatalf("readable %d, want %d", b.readable(), m.nxt-m.read)
				}
				want := m.ranges()
				got := b.oooRanges()
				if len(want) != len(got) || (len(want) > 0 && !slices.Equal(got, want)) {
					t.Fatalf("ranges %v, want %v", got, want)
				}
				if b.oooBytes() != len(m.have) {
					t.Fatalf("oooBytes %d, want %d", b.oooBytes(), len(m.have))
				}
				if len(got) > m.maxBound {
					t.Fatalf("%d ranges, more than %d", len(got), m.maxBound)
				}
				if c := cap(b.ranges); c > initialRanges+1 && c > 2*(m.maxBound+1) {
					t.Fatalf("range list capacity %d grew beyond twice the bound %d", c, m.maxBound)
				}
				// White box: every held byte is at its position and correct.
				if !bytes.Equal(ringBytes(b.buf, int(b.head), 0, int(b.r)), testStream(m.read, m.nxt-m.read)) {
					t.Fatal("in-order bytes differ")
				}
				for _, r := range got {
					if !bytes.Equal(ringBytes(b.buf, int(b.head), int(b.r)+r.start, r.end-r.start), testStream(m.nxt+r.start, r.end-r.start)) {
						t.Fatalf("out-of-order bytes %v differ", r)
					}
				}
				if b.memory() > maxLimit {
					t.Fatalf("memory %d above the limit %d", b.memory(), maxLimit)
				}
			},
		})
	})
}

// ringBytes returns a copy of the n bytes at offset off from index head of
// ring buf (white-box checks of the buffers' layout).
func ringBytes(buf []byte, head, off, n int) []byte {
	out := make([]byte, n)
	if n > 0 {
		ringRead(out, buf, ringIndex(head, off, len(buf)))
	}
	return out
}

// TestRecvBuffer_OutOfOrderBoundGrowsWithBuffer: the bound on out-of-order
// ranges is Config.MaxOutOfOrder or one range per 2 KiB of the receive
// buffer, whichever is more, so that, as with Linux (which bounds its
// out-of-order queue by memory alone), a sender that loses every other
// full-size segment of a large window gets every other one held, while the
// 128 KiB a connection starts with keeps the floor against a peer flooding
// holes; a floor of 0 keeps none.
func TestRecvBuffer_OutOfOrderBoundGrowsWithBuffer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		limit   int
		floor   int
		size    int // bytes per segment; each follows a lost one as long
		offered int
		want    int // ranges held
	}{
		{name: "6 MiB, every other full-size segment lost", limit: 6 << 20, floor: 64, size: 1448, offered: 2000, want: 2000},
		{name: "6 MiB, a flood of 1-byte holes", limit: 6 << 20, floor: 64, size: 1, offered: 5000, want: (6 << 20) / 2048},
		{name: "128 KiB, a flood of 1-byte holes", limit: 128 << 10, floor: 64, size: 1, offered: 1000, want: 64},
		{name: "64 KiB, floor 100", limit: 64 << 10, floor: 100, size: 1, offered: 1000, want: 100},
		{name: "floor 0 keeps none", limit: 6 << 20, floor: 0, size: 1448, offered: 50, want: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b recvBuffer
			b.setLimit(tt.limit)
			b.setMaxRanges(tt.floor)
			seg := bytes.Repeat([]byte{'s'}, tt.size)
			for k := 0; k < tt.offered; k++ {
				b.write((2*k+1)*tt.size, seg)
			}
			if got := len(b.oooRanges()); got != tt.want {
				t.Fatalf("%d ranges held, want %d", got, tt.want)
			}
		})
	}
}

package wheel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The reference model: the live entries in a slice sorted by (effective
// deadline, scheduling order), plus for each entry whether it is due at once
// (scheduled not in the future) and in which Advance it becomes due. The
// harness applies every operation to both the wheel and the model, checks
// each firing against the model as it happens (fire callbacks perform random
// operations too) and compares the observable state after every step.

// drawer is the source of random choices: rapid in the property test,
// math/rand in the soak test.
type drawer interface {
	Int(label string, lo, hi int64) int64 // uniform-ish in [lo, hi]
}

type rapidDrawer struct{ t *rapid.T }

func (r rapidDrawer) Int(label string, lo, hi int64) int64 {
	return rapid.Int64Range(lo, hi).Draw(r.t, label)
}

type randDrawer struct{ r *rand.Rand }

func (r randDrawer) Int(_ string, lo, hi int64) int64 { return lo + r.r.Int64N(hi-lo+1) }

type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

type mEntry struct {
	e       Entry // e.Value is the *mEntry
	id      int
	live    bool
	at      time.Duration // requested deadline
	eff     time.Duration // effective deadline
	tick    int64         // ceil(at/g), when not pending
	pending bool          // scheduled not in the future: due at the next Advance
	pendGen int           // value of harness.adv when made pending
	seq     uint64
}

type harness struct {
	t   tb
	d   drawer
	w   *Wheel
	g   time.Duration
	all []*mEntry
	q   []*mEntry // live entries sorted by (eff, seq)
	now time.Duration
	seq uint64

	adv       int   // number of Advance calls started
	inAdv     bool  // inside Advance
	target    int64 // target tick of the running Advance
	targetNow time.Duration
	lastEff   time.Duration // effective deadline of the previous firing in this Advance
	fired     int
	quiet     bool // no operations from fire callbacks
	deep      bool // verify the wheel's invariants in every fire callback
}

func newHarness(t tb, d drawer, g, start time.Duration, n int) *harness {
	h := &harness{t: t, d: d, w: New(g, start), g: g, now: start}
	for i := 0; i < n; i++ {
		m := &mEntry{id: i}
		m.e.Value = m
		h.all = append(h.all, m)
	}
	return h
}

func satAdd(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

func cmpEntry(a, b *mEntry) int {
	switch {
	case a.eff < b.eff:
		return -1
	case a.eff > b.eff:
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

func (h *harness) remove(m *mEntry) {
	i := slices.Index(h.q, m)
	if i < 0 {
		h.t.Fatalf("model: entry %d live but not queued", m.id)
	}
	h.q = slices.Delete(h.q, i, i+1)
	m.live = false
}

func (h *harness) due(m *mEntry) bool {
	if m.pending {
		return m.pendGen < h.adv
	}
	return h.inAdv && m.tick <= h.target
}

// deadline draws a requested deadline: mostly near now (first levels), some
// further, some years away, some in the past, some at the ends of time.
func (h *harness) deadline() time.Duration {
	g := int64(h.g)
	frac := func() time.Duration { return time.Duration(h.d.Int("frac", 0, g-1)) }
	switch h.d.Int("deadline kind", 0, 11) {
	case 0, 1, 2, 3, 4:
		return satAdd(h.now, time.Duration(h.d.Int("ticks", -3, 600)*g)+frac())
	case 5, 6:
		return satAdd(h.now, time.Duration(h.d.Int("ticks", -1000, 1<<20)*g)+frac())
	case 7:
		return satAdd(h.now, time.Duration(h.d.Int("span", 0, int64(200*year))))
	case 8:
		return satAdd(h.now, -time.Duration(h.d.Int("span", 0, int64(200*year))))
	case 9:
		return h.now
	case 10: // level boundaries relative to the current tick
		shift := h.d.Int("shift", 8, 62)
		base := floorDiv(int64(h.now), g)>>shift + h.d.Int("blocks", 1, 2)
		if base > math.MaxInt64>>shift || base<<shift > math.MaxInt64/g {
			return math.MaxInt64
		}
		return satAdd(time.Duration(base<<shift*g), time.Duration(h.d.Int("delta", -2, 2)))
	default:
		ends := []time.Duration{math.MaxInt64, math.MinInt64, math.MaxInt64 / h.g * h.g, math.MaxInt64/h.g*h.g + 1, math.MaxInt64 - 1}
		return ends[h.d.Int("end", 0, int64(len(ends)-1))]
	}
}

func (h *harness) schedule(m *mEntry, at time.Duration) {
	h.t.Helper()
	if m.live {
		h.remove(m)
	}
	h.seq++
	m.live, m.at, m.seq = true, at, h.seq
	if at <= h.now {
		m.pending, m.eff, m.pendGen = true, h.now, h.adv
	} else {
		m.pending = false
		m.tick = ceilDiv(int64(at), int64(h.g))
		if m.tick > math.MaxInt64/int64(h.g) {
			m.eff = math.MaxInt64
		} else {
			m.eff = time.Duration(m.tick * int64(h.g))
		}
		if m.eff < at || (m.eff != math.MaxInt64 && m.eff-at >= h.g) {
			h.t.Fatalf("model: effective deadline %v for %v", m.eff, at)
		}
	}
	i, _ := slices.BinarySearchFunc(h.q, m, cmpEntry)
	h.q = slices.Insert(h.q, i, m)
	h.w.Schedule(&m.e, at)
	if !m.e.Scheduled() || m.e.Deadline() != m.eff {
		h.t.Fatalf("Schedule(%d, %v) at now %v: scheduled %v, Deadline %v, want %v",
			m.id, at, h.now, m.e.Scheduled(), m.e.Deadline(), m.eff)
	}
}

func (h *harness) cancel(m *mEntry) {
	h.t.Helper()
	if m.live {
		h.remove(m)
	}
	h.w.Cancel(&m.e)
	if m.e.Scheduled() {
		h.t.Fatalf("entry %d scheduled after Cancel", m.id)
	}
}

func (h *harness) advance(to time.Duration) {
	h.t.Helper()
	h.adv++
	h.inAdv = true
	tnow := max(to, h.now)
	h.target = floorDiv(int64(tnow), int64(h.g))
	h.targetNow = tnow
	h.lastEff = math.MinInt64
	h.w.Advance(to, h.onFire)
	h.now = tnow
	if h.w.Now() != tnow {
		h.t.Fatalf("Advance(%v): Now() = %v, want %v", to, h.w.Now(), tnow)
	}
	for _, m := range h.q {
		if h.due(m) {
			h.t.Fatalf("Advance(%v): entry %d (at %v, deadline %v, pending %v) did not fire", to, m.id, m.at, m.eff, m.pending)
		}
		if !m.pending && m.tick <= math.MaxInt64/int64(h.g) && satAdd(m.at, h.g) <= tnow {
			h.t.Fatalf("Advance(%v): entry %d with deadline %v is more than one granularity late", to, m.id, m.at)
		}
	}
	h.inAdv = false
}

func (h *harness) onFire(e *Entry) {
	h.t.Helper()
	m := e.Value.(*mEntry)
	if !m.live {
		h.t.Fatalf("entry %d fired but is not scheduled (fired twice, or after Cancel)", m.id)
	}
	if e.Scheduled() {
		h.t.Fatalf("entry %d still scheduled in its fire callback", m.id)
	}
	if !h.due(m) {
		h.t.Fatalf("entry %d (at %v, deadline %v, pending %v) fired early: Advance to %v", m.id, m.at, m.eff, m.pending, h.targetNow)
	}
	for _, x := range h.q { // the earliest due entry
		if h.due(x) {
			if x.eff != m.eff {
				h.t.Fatalf("entry %d with deadline %v fired before entry %d with deadline %v", m.id, m.eff, x.id, x.eff)
			}
			break
		}
	}
	if m.eff < h.lastEff {
		h.t.Fatalf("deadline order: %v fired after %v", m.eff, h.lastEff)
	}
	h.lastEff = m.eff
	if m.eff > h.targetNow || m.at > h.targetNow {
		h.t.Fatalf("entry %d (at %v, deadline %v) fired by Advance to %v", m.id, m.at, m.eff, h.targetNow)
	}
	if !m.pending {
		h.now = m.eff // time moves forward through the callbacks
	}
	if h.w.Now() != h.now {
		h.t.Fatalf("Now() = %v in the callback of entry %d, want %v", h.w.Now(), m.id, h.now)
	}
	h.remove(m)
	h.fired++
	if h.deep {
		if err := h.w.verify(); err != nil {
			h.t.Fatalf("invariant in the callback of entry %d: %v", m.id, err)
		}
	}

	if h.quiet {
		return
	}
	// Reentrancy: random operations from inside the callback.
	for i := h.d.Int("callback ops", 0, 3); i > 0; i-- {
		switch h.d.Int("callback op", 0, 5) {
		case 0, 1:
			h.schedule(m, h.deadline())
		case 2:
			h.schedule(h.pick(), h.deadline())
		case 3:
			h.cancel(h.pick())
		case 4:
			h.schedule(m, h.now) // due at once: next Advance, not this one
		default:
			h.checkNext()
		}
	}
	h.checkLen()
}

func (h *harness) pick() *mEntry { return h.all[h.d.Int("entry", 0, int64(len(h.all)-1))] }

func (h *harness) checkLen() {
	h.t.Helper()
	if h.w.Len() != len(h.q) {
		h.t.Fatalf("Len() = %d, model has %d", h.w.Len(), len(h.q))
	}
}

func (h *harness) checkNext() {
	h.t.Helper()
	got, ok := h.w.Next()
	if len(h.q) == 0 {
		if ok {
			h.t.Fatalf("Next() = %v on an empty wheel", got)
		}
		return
	}
	min := h.q[0]
	if !ok || got > min.eff {
		h.t.Fatalf("Next() = %v, %v; earliest deadline %v (entry %d)", got, ok, min.eff, min.id)
	}
	if h.inAdv {
		return
	}
	if min.pending {
		if got != min.eff {
			h.t.Fatalf("Next() = %v with an entry due at once (deadline %v)", got, min.eff)
		}
		return
	}
	if got <= h.now && got != math.MaxInt64 { // MaxInt64: an unreachable deadline
		h.t.Fatalf("Next() = %v, not after now %v, and nothing is due", got, h.now)
	}
	// Within the first level's span (256 ticks at least) Next is exact.
	if toPos(min.tick)-toPos(floorDiv(int64(h.now), int64(h.g))) <= 256 && got != min.eff {
		h.t.Fatalf("Next() = %v, earliest deadline %v is within 256 ticks of now %v", got, min.eff, h.now)
	}
}

func (h *harness) checkAll() {
	h.t.Helper()
	h.checkLen()
	for _, m := range h.all {
		if m.e.Scheduled() != m.live {
			h.t.Fatalf("entry %d: Scheduled() = %v, model %v", m.id, m.e.Scheduled(), m.live)
		}
		if m.live && m.e.Deadline() != m.eff {
			h.t.Fatalf("entry %d: Deadline() = %v, model %v", m.id, m.e.Deadline(), m.eff)
		}
	}
	h.checkNext()
	if err := h.w.verify(); err != nil {
		h.t.Fatalf("invariant: %v", err)
	}
}

// advanceStep draws how far to advance: mostly a few ticks, sometimes a big
// jump, sometimes backwards, rarely to the end of time.
func (h *harness) advanceStep() {
	g := int64(h.g)
	var to time.Duration
	switch h.d.Int("advance kind", 0, 19) {
	case 0:
		to = h.now
	case 1, 2, 3, 4, 5, 6, 7, 8:
		to = satAdd(h.now, time.Duration(h.d.Int("ticks", 0, 3)*g+h.d.Int("frac", 0, g-1)))
	case 9, 10, 11:
		to = satAdd(h.now, time.Duration(h.d.Int("ticks", 0, 1000)*g))
	case 12, 13:
		to = satAdd(h.now, time.Duration(h.d.Int("ticks", 0, 1<<17)*g))
	case 14, 15:
		to = satAdd(h.now, time.Duration(h.d.Int("span", 0, int64(3*year))))
	case 16:
		to = satAdd(h.now, time.Duration(h.d.Int("span", 0, int64(290*year))))
	case 17, 18:
		to = satAdd(h.now, -time.Duration(h.d.Int("back", 0, 5*g)))
	default:
		to = math.MaxInt64
	}
	h.advance(to)
}

func (h *harness) step() {
	switch h.d.Int("op", 0, 9) {
	case 0, 1, 2, 3, 4:
		h.schedule(h.pick(), h.deadline())
	case 5:
		h.cancel(h.pick())
	case 6, 7, 8:
		h.advanceStep()
	default: // drive by Next, as an event loop would
		if next, ok := h.w.Next(); ok {
			h.advance(next)
		}
	}
	h.checkAll()
}

// drain advances to the end of time and checks that everything reachable
// fired: only entries whose deadline is beyond the last representable tick
// remain.
func (h *harness) drain() {
	h.quiet = true
	h.advance(math.MaxInt64)
	h.advance(math.MaxInt64) // entries that callbacks made due at once
	h.checkAll()
	for _, m := range h.q {
		if m.eff != math.MaxInt64 || m.tick <= math.MaxInt64/int64(h.g) {
			h.t.Fatalf("entry %d (deadline %v) never fired", m.id, m.eff)
		}
	}
}

var granularities = []time.Duration{1, 3, time.Microsecond, time.Millisecond, 7 * time.Millisecond, time.Second}

func drawStart(d drawer) time.Duration {
	switch d.Int("start kind", 0, 5) {
	case 0:
		return 0
	case 1:
		return time.Duration(d.Int("start", -int64(year), int64(year)))
	case 2:
		return math.MinInt64 + time.Duration(d.Int("start", 0, int64(year)))
	case 3:
		return math.MaxInt64 - time.Duration(d.Int("start", 0, int64(year)))
	default:
		return time.Duration(d.Int("start", math.MinInt64/4, math.MaxInt64/4))
	}
}

func TestModelRapid(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d := rapidDrawer{rt}
		gran := rapid.SampledFrom(granularities).Draw(rt, "granularity")
		h := newHarness(rt, d, gran, drawStart(d), int(d.Int("entries", 1, 24)))
		h.deep = true
		for i := d.Int("steps", 1, 150); i > 0; i-- {
			h.step()
		}
		h.drain()
	})
}

// TestModelSoak runs long random sequences with many entries, so that slots
// hold many entries and cascades move many at once.
func TestModelSoak(t *testing.T) {
	steps, entries := 30000, 3000
	if testing.Short() {
		steps, entries = 3000, 500
	}
	for seed := uint64(1); seed <= 4; seed++ {
		d := randDrawer{rand.New(rand.NewPCG(seed, 0x5eed))}
		gran := granularities[seed%uint64(len(granularities))]
		h := newHarness(t, d, gran, drawStart(d), entries)
		for i := 0; i < steps; i++ {
			// Mostly schedule and advance by small steps so that many fire.
			switch d.Int("op", 0, 9) {
			case 0, 1, 2, 3:
				h.schedule(h.pick(), h.deadline())
			case 4:
				h.cancel(h.pick())
			case 5, 6, 7:
				h.advance(satAdd(h.now, time.Duration(d.Int("ticks", 0, 40)*int64(gran))))
			case 8:
				if d.Int("big", 0, 20) == 0 {
					h.advanceStep()
				} else {
					h.advance(satAdd(h.now, time.Duration(d.Int("frac", 0, int64(gran)-1))))
				}
			default:
				if next, ok := h.w.Next(); ok {
					h.advance(next)
				}
			}
			h.checkLen()
			if i%64 == 0 {
				h.checkAll()
			}
		}
		h.drain()
		t.Logf("seed %d, granularity %v: %d fired", seed, gran, h.fired)
	}
}

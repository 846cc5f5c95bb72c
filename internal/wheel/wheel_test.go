package wheel

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	ms   = time.Millisecond
	day  = 24 * time.Hour
	year = 365 * day
)

// op is one step of a table test: schedule (at t), cancel, or advance (to
// t), expecting groups of ids: groups fire in order; ids within one group
// have equal effective deadlines and may fire in any order.
type op struct {
	kind   byte // 's', 'c', 'a'
	id     int
	t      time.Duration
	dl     time.Duration // 's' only: expected Deadline, checked when wantDL
	wantDL bool
	groups [][]int
}

func sched(id int, at time.Duration) op { return op{kind: 's', id: id, t: at} }
func schedDL(id int, at, dl time.Duration) op {
	return op{kind: 's', id: id, t: at, dl: dl, wantDL: true}
}
func cancel(id int) op                          { return op{kind: 'c', id: id} }
func adv(now time.Duration, groups ...[]int) op { return op{kind: 'a', t: now, groups: groups} }
func grp(ids ...int) []int                      { return ids }

// seqOf is the groups for ids that fire one after the other, in this order.
func seqOf(ids ...int) [][]int {
	out := make([][]int, len(ids))
	for i, id := range ids {
		out[i] = []int{id}
	}
	return out
}

func advSeq(now time.Duration, ids ...int) op { return adv(now, seqOf(ids...)...) }

func checkGroups(got []int, groups [][]int) bool {
	for _, gr := range groups {
		if len(got) < len(gr) {
			return false
		}
		a, b := slices.Clone(got[:len(gr)]), slices.Clone(gr)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return false
		}
		got = got[len(gr):]
	}
	return len(got) == 0
}

func TestTable(t *testing.T) {
	const maxD = time.Duration(math.MaxInt64)
	const minD = time.Duration(math.MinInt64)
	tests := []struct {
		name  string
		gran  time.Duration
		start time.Duration
		ops   []op
	}{
		{"deadline order on the first level", ms, 0, []op{
			sched(1, 5*ms), sched(2, 3*ms), sched(3, 4*ms),
			advSeq(2 * ms), advSeq(10*ms, 2, 3, 1), advSeq(20 * ms),
		}},
		{"rounds up to granularity", ms, 0, []op{
			schedDL(1, 1200*time.Microsecond, 2*ms),
			advSeq(1200 * time.Microsecond), advSeq(1999 * time.Microsecond), advSeq(2*ms, 1),
		}},
		{"aligned deadline fires exactly at it", ms, 0, []op{
			schedDL(1, 2*ms, 2*ms), advSeq(2*ms - 1), advSeq(2*ms, 1),
		}},
		{"coarse granularity", 7 * ms, 0, []op{
			schedDL(1, 8*ms, 14*ms), schedDL(2, 14*ms, 14*ms), schedDL(3, 15*ms, 21*ms),
			advSeq(13 * ms), adv(14*ms, grp(1, 2)), advSeq(100*ms, 3),
		}},
		{"past and present deadlines fire at the next Advance, even within the tick", ms, 1500 * time.Microsecond, []op{
			schedDL(1, 1200*time.Microsecond, 1500*time.Microsecond),
			schedDL(2, 1500*time.Microsecond, 1500*time.Microsecond),
			schedDL(3, -year, 1500*time.Microsecond),
			schedDL(4, 1501*time.Microsecond, 2*ms),
			adv(1500*time.Microsecond, grp(1, 2, 3)), advSeq(1600 * time.Microsecond), advSeq(2*ms, 4),
		}},
		{"cancel and reschedule", ms, 0, []op{
			sched(1, 3*ms), sched(2, 3*ms), cancel(1), cancel(1), cancel(9),
			sched(3, 100*ms), sched(3, 2*ms), sched(4, 2*ms), sched(4, 50*ms),
			advSeq(5*ms, 3, 2), advSeq(49 * ms), advSeq(50*ms, 4), advSeq(200 * ms),
		}},
		{"reschedule into the past", ms, 10 * ms, []op{
			sched(1, 20*ms), sched(1, 5*ms), advSeq(10*ms, 1), advSeq(30 * ms),
		}},
		{"order across level and block boundaries", ms, 0, []op{
			sched(1, 255*ms), sched(2, 256*ms), sched(3, 257*ms), sched(4, 511*ms), sched(5, 512*ms),
			sched(6, 65535*ms), sched(7, 65536*ms), sched(8, 65537*ms), sched(9, 16777216*ms+1),
			sched(10, 1*ms), sched(11, 767*ms), sched(12, 768*ms),
			advSeq(10*day, 10, 1, 2, 3, 4, 5, 11, 12, 6, 7, 8, 9),
		}},
		{"cursor on a block's last tick", ms, 255 * ms, []op{
			sched(1, 256*ms), sched(2, 511*ms), sched(3, 512*ms), sched(4, 767*ms), sched(5, 768*ms),
			advSeq(511*ms, 1, 2), advSeq(767*ms, 3, 4), advSeq(768*ms, 5),
		}},
		{"huge gap", ms, 0, []op{
			sched(1, time.Second), sched(2, time.Hour), sched(3, day),
			advSeq(time.Hour, 1, 2), advSeq(2*day, 3),
		}},
		{"years ahead", ms, 0, []op{
			sched(1, 10*year), sched(2, 3*year+1), sched(3, 200*year),
			advSeq(3 * year), advSeq(10*year-ms, 2), advSeq(10*year, 1), advSeq(199 * year), advSeq(200*year, 3),
		}},
		{"negative epoch", ms, -time.Hour, []op{
			sched(1, -59*time.Minute), sched(2, -2*time.Hour), schedDL(3, -time.Hour+500*time.Microsecond, -time.Hour+ms),
			advSeq(-time.Hour, 2), advSeq(-59*time.Minute, 3, 1),
		}},
		{"negative to positive", time.Second, -90 * time.Second, []op{
			sched(1, -1500*ms), sched(2, 1500*ms), sched(3, -1),
			advSeq(-2 * time.Second), advSeq(-1*time.Second, 1), advSeq(0, 3), advSeq(2*time.Second, 2),
		}},
		{"unreachable deadline never fires", ms, 0, []op{
			schedDL(1, maxD, maxD), schedDL(2, maxD-ms, maxD/ms*ms), schedDL(3, maxD/ms*ms, maxD/ms*ms),
			schedDL(4, maxD/ms*ms+1, maxD),
			adv(maxD, grp(2, 3)), advSeq(maxD),
		}},
		{"nanosecond granularity to the end of time", 1, 0, []op{
			schedDL(1, maxD, maxD), sched(2, maxD-1), advSeq(maxD - 2), advSeq(maxD, 2, 1),
		}},
		{"the beginning of time", ms, minD, []op{
			schedDL(1, minD+1, -(maxD/ms)*ms), sched(2, minD), advSeq(minD, 2), advSeq(minD+ms, 1),
			sched(3, 0), advSeq(-1), advSeq(0, 3),
		}},
		{"time does not go backwards", ms, 10 * ms, []op{
			sched(1, 12*ms), advSeq(5 * ms), schedDL(2, 10*ms, 10*ms), advSeq(3*ms, 2), advSeq(12*ms, 1),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New(tc.gran, tc.start)
			ents := map[int]*Entry{}
			ent := func(id int) *Entry {
				if ents[id] == nil {
					ents[id] = &Entry{Value: id}
				}
				return ents[id]
			}
			var got []int
			fire := func(e *Entry) {
				if e.Scheduled() {
					t.Errorf("entry %v scheduled inside its fire callback", e.Value)
				}
				if w.Now() < e.Deadline() {
					t.Errorf("entry %v fired at %v before its deadline %v", e.Value, w.Now(), e.Deadline())
				}
				got = append(got, e.Value.(int))
			}
			for i, o := range tc.ops {
				switch o.kind {
				case 's':
					e := ent(o.id)
					w.Schedule(e, o.t)
					if o.wantDL && e.Deadline() != o.dl {
						t.Fatalf("op %d: Deadline() = %v, want %v", i, e.Deadline(), o.dl)
					}
					if !e.Scheduled() {
						t.Fatalf("op %d: not Scheduled after Schedule", i)
					}
				case 'c':
					w.Cancel(ent(o.id))
					if ent(o.id).Scheduled() {
						t.Fatalf("op %d: Scheduled after Cancel", i)
					}
				case 'a':
					got = got[:0]
					w.Advance(o.t, fire)
					if !checkGroups(got, o.groups) {
						t.Fatalf("op %d: Advance(%v) fired %v, want %v", i, o.t, got, o.groups)
					}
				}
				if err := w.verify(); err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				live := 0
				for _, e := range ents {
					if e.Scheduled() {
						live++
					}
				}
				if w.Len() != live {
					t.Fatalf("op %d: Len() = %d, want %d", i, w.Len(), live)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, gr := range []time.Duration{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v, 0) did not panic", gr)
				}
			}()
			New(gr, 0)
		}()
	}
	w := New(ms, 5*ms)
	if w.Granularity() != ms || w.Now() != 5*ms || w.Len() != 0 {
		t.Fatalf("New: granularity %v now %v len %d", w.Granularity(), w.Now(), w.Len())
	}
	if _, ok := w.Next(); ok {
		t.Fatal("Next on an empty wheel reported an entry")
	}
	var e Entry
	if e.Scheduled() || e.Deadline() != 0 {
		t.Fatal("zero Entry is scheduled or has a deadline")
	}
	w.Cancel(&e) // no-op
	w.Advance(10*ms, nil)
}

func TestNext(t *testing.T) {
	tests := []struct {
		name  string
		start time.Duration
		at    []time.Duration
		want  time.Duration // exact expectation
	}{
		{"first level, unaligned", 0, []time.Duration{5500 * time.Microsecond, 9 * ms}, 6 * ms},
		{"first level, aligned", 0, []time.Duration{9 * ms, 7 * ms}, 7 * ms},
		{"past entry: now", 3 * ms, []time.Duration{9 * ms, 2 * ms}, 3 * ms},
		{"256 ticks ahead is exact", 255 * ms, []time.Duration{511 * ms, 600 * ms}, 511 * ms},
		{"up to the end of the next block is exact", 256 * ms, []time.Duration{767 * ms}, 767 * ms},
		{"negative", -10 * ms, []time.Duration{-9500 * time.Microsecond}, -9 * ms},
	}
	for _, tc := range tests {
		w := New(ms, tc.start)
		for _, at := range tc.at {
			w.Schedule(&Entry{}, at)
		}
		if got, ok := w.Next(); !ok || got != tc.want {
			t.Errorf("%s: Next() = %v, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
}

// TestNextDriven drives the wheel only by Next, as an event loop would: each
// entry must fire at an Advance whose now equals its effective deadline, and
// far entries need only a few extra wake-ups (one per level at most).
func TestNextDriven(t *testing.T) {
	w := New(ms, 0)
	deadlines := []time.Duration{
		3 * ms, 300 * ms, 2 * time.Second, time.Minute + 1, time.Hour, 7 * day, 3 * year, 40 * year,
		time.Minute + 1, // duplicate
	}
	for i, at := range deadlines {
		w.Schedule(&Entry{Value: i}, at)
	}
	calls, fired := 0, 0
	for {
		next, ok := w.Next()
		if !ok {
			break
		}
		if next < w.Now() {
			t.Fatalf("Next() = %v before now %v", next, w.Now())
		}
		calls++
		w.Advance(next, func(e *Entry) {
			fired++
			if e.Deadline() != next {
				t.Errorf("entry %v with deadline %v fired at %v", e.Value, e.Deadline(), next)
			}
		})
		if err := w.verify(); err != nil {
			t.Fatal(err)
		}
	}
	if fired != len(deadlines) {
		t.Fatalf("fired %d of %d", fired, len(deadlines))
	}
	// 8 distinct deadlines, each reached after at most one wake-up per level.
	if calls > 8*(numLevels+1) {
		t.Fatalf("%d Advance calls to fire %d entries", calls, fired)
	}
	t.Logf("%d Advance calls for %d entries", calls, fired)
}

// TestIdleGapCost checks that long idle gaps are crossed by jumping over
// empty slots: the Advance loop runs a handful of iterations, not one per
// tick or per slot.
func TestIdleGapCost(t *testing.T) {
	for _, gap := range []time.Duration{time.Hour, 30 * day, 100 * year} {
		w := New(ms, 0)
		for _, f := range []float64{0.1, 0.5, 0.9} {
			w.Schedule(&Entry{}, time.Duration(float64(gap)*f))
		}
		fired := 0
		w.Advance(gap, func(*Entry) { fired++ })
		if fired != 3 {
			t.Fatalf("gap %v: fired %d", gap, fired)
		}
		if w.steps > 3*(numLevels+2) {
			t.Fatalf("gap %v: %d loop iterations", gap, w.steps)
		}
		t.Logf("gap %v: %d loop iterations", gap, w.steps)
	}
}

func TestReentrancy(t *testing.T) {
	t.Run("reschedule self at now fires at the next Advance", func(t *testing.T) {
		w := New(ms, 0)
		e := &Entry{}
		w.Schedule(e, 5*ms)
		n := 0
		fire := func(e *Entry) {
			n++
			if n < 3 {
				w.Schedule(e, w.Now())
			}
		}
		w.Advance(5*ms, fire)
		if n != 1 || !e.Scheduled() {
			t.Fatalf("after first Advance: fired %d, scheduled %v", n, e.Scheduled())
		}
		if next, _ := w.Next(); next != 5*ms {
			t.Fatalf("Next() = %v, want 5ms", next)
		}
		w.Advance(5*ms, fire)
		w.Advance(5*ms, fire)
		w.Advance(5*ms, fire)
		if n != 3 || e.Scheduled() || w.Len() != 0 {
			t.Fatalf("fired %d, scheduled %v, len %d", n, e.Scheduled(), w.Len())
		}
	})
	t.Run("periodic timer fires at every period, even across one long Advance", func(t *testing.T) {
		w := New(ms, 0)
		e := &Entry{}
		w.Schedule(e, 10*ms)
		var at []time.Duration
		fire := func(e *Entry) {
			if w.Now() != e.Deadline() {
				t.Errorf("Now() = %v in callback for deadline %v", w.Now(), e.Deadline())
			}
			at = append(at, w.Now())
			w.Schedule(e, w.Now()+10*ms)
		}
		for now := time.Duration(0); now <= 100*ms; now += 5 * ms {
			w.Advance(now, fire)
		}
		w.Advance(time.Second, fire)
		if len(at) != 100 {
			t.Fatalf("fired %d times", len(at))
		}
		for i, x := range at {
			if x != time.Duration(i+1)*10*ms {
				t.Fatalf("firing %d at %v", i, x)
			}
		}
		if e.Deadline() != 1010*ms || !e.Scheduled() || w.Now() != time.Second {
			t.Fatalf("deadline %v, now %v", e.Deadline(), w.Now())
		}
	})
	t.Run("cancel and move other due entries", func(t *testing.T) {
		w := New(ms, 0)
		ents := make([]*Entry, 8)
		for i := range ents {
			ents[i] = &Entry{Value: i}
		}
		// 0..3 in one slot; 4 in a later slot; 5 far later (upper level).
		for i := 0; i < 4; i++ {
			w.Schedule(ents[i], 3*ms)
		}
		w.Schedule(ents[4], 7*ms)
		w.Schedule(ents[5], 900*ms)
		w.Schedule(ents[6], 2*time.Second)
		var got []int
		w.Advance(time.Second, func(e *Entry) {
			id := e.Value.(int)
			got = append(got, id)
			if len(got) == 1 {
				for i := 0; i < 4; i++ { // cancel the rest of this slot
					if i != id {
						w.Cancel(ents[i])
					}
				}
				w.Cancel(ents[4])                      // due later in this Advance
				w.Schedule(ents[5], 1500*ms)           // due in this Advance: moved out
				w.Schedule(ents[6], 500*ms)            // not due: moved into this Advance's range
				w.Schedule(ents[7], 0)                 // past: next Advance
				w.Schedule(e, w.Now()+time.Nanosecond) // itself, next tick: again in this Advance
			}
		})
		if len(got) != 3 || got[1] != got[0] || got[2] != 6 {
			t.Fatalf("fired %v", got)
		}
		if ents[7].Deadline() != 3*ms {
			t.Fatalf("entry scheduled in the past from a callback at 3ms has deadline %v", ents[7].Deadline())
		}
		if next, _ := w.Next(); next != 3*ms {
			t.Fatalf("Next() = %v, want 3ms", next)
		}
		got = got[:0]
		w.Advance(time.Second, func(e *Entry) { got = append(got, e.Value.(int)) })
		if !slices.Equal(got, []int{7}) {
			t.Fatalf("next Advance fired %v", got)
		}
		got = got[:0]
		w.Advance(2*time.Second, func(e *Entry) { got = append(got, e.Value.(int)) })
		if !slices.Equal(got, []int{5}) || w.Len() != 0 {
			t.Fatalf("last Advance fired %v, len %d", got, w.Len())
		}
		if err := w.verify(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Next from a callback", func(t *testing.T) {
		w := New(ms, 0)
		a, b, c := &Entry{}, &Entry{}, &Entry{}
		w.Schedule(a, 2*ms)
		w.Schedule(b, 2*ms)
		w.Schedule(c, 5*ms)
		w.Advance(10*ms, func(e *Entry) {
			next, ok := w.Next()
			var min time.Duration = math.MaxInt64
			for _, x := range []*Entry{a, b, c} {
				if x.Scheduled() {
					min = x.Deadline()
					break
				}
			}
			if w.Len() > 0 && (!ok || next > min) {
				t.Errorf("Next() = %v, %v inside callback; earliest remaining %v", next, ok, min)
			}
		})
	})
	t.Run("Advance from a callback panics", func(t *testing.T) {
		w := New(ms, 0)
		w.Schedule(&Entry{}, ms)
		w.Schedule(&Entry{}, 2*ms)
		var msg any
		w.Advance(5*ms, func(*Entry) {
			defer func() { msg = recover() }()
			w.Advance(6*ms, nil)
		})
		if s, _ := msg.(string); !strings.Contains(s, "fire callback") {
			t.Fatalf("recovered %v", msg)
		}
		if w.Len() != 0 {
			t.Fatalf("len %d", w.Len())
		}
	})
	t.Run("panicking callback leaves the wheel usable", func(t *testing.T) {
		w := New(ms, 0)
		for i := 0; i < 6; i++ {
			w.Schedule(&Entry{Value: i}, time.Duration(1+i/3)*ms) // 3 at 1ms, 3 at 2ms
		}
		w.Schedule(&Entry{Value: 100}, 0) // pending
		n := 0
		func() {
			defer func() { recover() }()
			w.Advance(5*ms, func(*Entry) {
				if n++; n == 3 {
					panic("boom")
				}
			})
		}()
		if err := w.verify(); err != nil {
			t.Fatal(err)
		}
		if w.Len() != 4 {
			t.Fatalf("len %d after panic", w.Len())
		}
		if next, _ := w.Next(); next > 5*ms {
			t.Fatalf("Next() = %v after panic, entries are overdue", next)
		}
		w.Advance(5*ms, func(*Entry) { n++ })
		if n != 7 || w.Len() != 0 {
			t.Fatalf("fired %d, len %d", n, w.Len())
		}
		if err := w.verify(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNoAllocs proves Schedule, reschedule, Cancel and Advance (with
// cascades and reentrant fire callbacks) allocate nothing.
func TestNoAllocs(t *testing.T) {
	w := New(ms, 0)
	type conn struct{ id int }
	ents := make([]Entry, 4096)
	for i := range ents {
		ents[i].Value = &conn{id: i}
	}
	now := time.Duration(0)
	fired := 0
	fire := func(e *Entry) {
		fired++
		if fired%3 == 0 {
			w.Schedule(e, w.Now()+time.Duration(fired%5000)*ms)
		}
	}
	r := uint64(1)
	rnd := func() uint64 { r ^= r << 13; r ^= r >> 7; r ^= r << 17; return r }
	check := func(name string, f func()) {
		if a := testing.AllocsPerRun(50, f); a != 0 {
			t.Errorf("%s: %v allocs/op", name, a)
		}
	}
	check("Schedule", func() {
		for i := range ents {
			w.Schedule(&ents[i], now+time.Duration(rnd()%(1<<40)))
		}
	})
	check("reschedule", func() {
		for i := range ents {
			w.Schedule(&ents[i], now+time.Duration(rnd()%uint64(10*time.Minute)))
		}
	})
	check("Cancel", func() {
		for i := 0; i < len(ents); i += 2 {
			w.Cancel(&ents[i])
		}
	})
	check("Advance", func() {
		now += time.Duration(rnd() % uint64(time.Minute))
		w.Advance(now, fire)
	})
	check("Next", func() { w.Next() })
	if fired == 0 {
		t.Fatal("nothing fired")
	}
	if err := w.verify(); err != nil {
		t.Fatal(err)
	}
}

func ExampleWheel() {
	type conn struct {
		name  string
		timer Entry
	}
	w := New(time.Millisecond, 0)
	a := &conn{name: "a"}
	a.timer.Value = a
	b := &conn{name: "b"}
	b.timer.Value = b
	w.Schedule(&a.timer, 30*time.Second)        // keep-alive
	w.Schedule(&b.timer, 2500*time.Microsecond) // retransmission, rounded up to 3ms
	for {
		next, ok := w.Next()
		if !ok {
			break
		}
		w.Advance(next, func(e *Entry) {
			fmt.Println(next, e.Value.(*conn).name)
		})
	}
	// Output:
	// 3ms b
	// 30s a
}

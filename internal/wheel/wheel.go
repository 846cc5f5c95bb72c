// Package wheel implements a hierarchical hashed timer wheel: O(1) Schedule,
// Cancel and reschedule, and Advance whose cost is proportional to the number
// of entries fired or cascaded plus a small constant per call, however long
// the gap since the previous call.
//
// Time is a time.Duration since an arbitrary epoch chosen by the caller
// (virtual or real time). The package never reads a clock, starts no
// goroutine and takes no lock: the caller serialises every call on a Wheel.
//
// # Rounding
//
// Time is divided into ticks of the wheel's granularity g, aligned on
// multiples of g since the epoch. A deadline at is rounded UP to the next
// multiple of g (its effective deadline, reported by Entry.Deadline), so an
// entry never fires before at, and fires at the first Advance(now) with
// now >= the effective deadline, which is less than at+g. Entries scheduled
// at or before the wheel's current time (the last Advance's now, or New's
// now) are due at once: their effective deadline is that current time and
// they fire at the very next Advance, whatever its now.
//
// # Structure
//
// Ticks are mapped to unsigned 64-bit positions. The first level is a
// circular array of 512 one-tick slots holding every entry due within the
// current and the next 256-tick block (so at least the next 256 ticks are
// always exact). Above it, seven levels of 256 slots each are a hierarchical
// wheel over 256-tick units (slot widths 2^8, 2^16, ... 2^56 ticks), which
// together cover the whole 64-bit tick range: no overflow list is needed,
// and an entry moves at most once per level before it fires. A bitmap of
// non-empty slots lets Advance and Next jump straight to the next non-empty
// slot, so idle gaps of any length cost nothing per empty slot.
//
// Lists are intrusive (the links live in Entry), so Schedule, Cancel and
// Advance never allocate.
package wheel

import (
	"math"
	"math/bits"
	"time"
)

const (
	l0Slots = 512 // first level: one-tick slots, circular
	l0Mask  = l0Slots - 1
	l0Words = l0Slots / 64

	levelBits  = 8
	levelSlots = 1 << levelBits // 256 slots per upper level
	levelMask  = levelSlots - 1
	hWords     = levelSlots / 64
	unitShift  = 8 // upper levels count in units of 2^unitShift ticks
	numLevels  = 7 // unitShift + numLevels*levelBits = 64 bits of ticks

	hBase    = l0Slots                        // first list index of the upper levels
	numSlots = l0Slots + numLevels*levelSlots // slot lists, one bitmap bit each
	pendBase = numSlots                       // two "due now" lists (double-buffered)
	numLists = numSlots + 2
	numWords = numSlots / 64

	bias    = uint64(1) << 63 // int64 tick <-> order-preserving uint64 position
	noList  = -1              // Wheel.firing when nothing is being fired
	allOnes = ^uint64(0)
	maxDur  = time.Duration(math.MaxInt64)
)

// Entry is one timer. Embed it in (or allocate it alongside) the object it
// times and put a pointer to that object in Value. An Entry must be scheduled
// in at most one Wheel at a time, and must not be copied while scheduled.
// The zero value is an unscheduled entry.
type Entry struct {
	// Value is the caller's; the wheel never reads or writes it. Storing a
	// pointer in it does not allocate.
	Value any

	next, prev *Entry
	when       time.Duration // effective deadline
	loc        int32         // 0: not scheduled; otherwise list index + 1
}

// Scheduled reports whether e is waiting to fire. It is false inside the fire
// callback for e (an entry is unscheduled before it is fired), unless the
// callback schedules it again.
func (e *Entry) Scheduled() bool { return e.loc != 0 }

// Deadline returns the effective deadline of the most recent Schedule of e:
// the requested time rounded up to a multiple of the granularity (saturating
// at the largest Duration, for deadlines that can never be reached), or the
// wheel's current time if the requested time was not in the future. It stays
// valid after e fires or is cancelled, and is 0 for a never-scheduled entry.
func (e *Entry) Deadline() time.Duration { return e.when }

// Wheel is a hierarchical timer wheel. Create it with New. It is not safe
// for concurrent use.
type Wheel struct {
	gran    time.Duration
	maxTick int64         // largest tick whose start time is representable
	now     time.Duration // time of the last Advance (or New)
	cur     uint64        // position of the last tick fully processed
	hc      uint64        // cursor (in units) of the upper levels
	n       int           // scheduled entries
	pend    int           // which pending list (0/1) receives new due-now entries
	ptail   [2]*Entry     // tails of the pending lists, which are FIFO

	advancing bool
	firing    int    // list being fired by Advance, or noList
	steps     uint64 // Advance loop iterations (for tests of idle-gap cost)

	bm    [numWords]uint64 // bit i set iff heads[i] != nil, for i < numSlots
	heads [numLists]*Entry
}

// New returns an empty wheel with the given granularity (tick length, e.g.
// time.Millisecond) whose current time is now. It panics if granularity <= 0.
func New(granularity, now time.Duration) *Wheel {
	if granularity <= 0 {
		panic("wheel: granularity must be positive")
	}
	w := &Wheel{
		gran:    granularity,
		maxTick: math.MaxInt64 / int64(granularity),
		now:     now,
		firing:  noList,
	}
	w.cur = toPos(floorDiv(int64(now), int64(granularity)))
	w.hc = w.cur>>unitShift + 1
	return w
}

// Granularity returns the tick length given to New.
func (w *Wheel) Granularity() time.Duration { return w.gran }

// Now returns the wheel's current time: the largest now passed to Advance, or
// New's now if Advance was never called with a later one. Inside a fire
// callback it is the time the running Advance has reached: the effective
// deadline of the entry being fired, or, for an entry that was due at once,
// the wheel's time when Advance was called.
func (w *Wheel) Now() time.Duration { return w.now }

// Len returns the number of scheduled entries.
func (w *Wheel) Len() int { return w.n }

// Schedule schedules e to fire at the first Advance whose now is at or after
// at rounded up to the granularity; if e was already scheduled it is moved.
// If at is not after the wheel's current time (see Now), e is due at once and
// fires at the next Advance call, whatever its now (from a fire callback:
// the next call, not the running one, so a callback rescheduling its entry
// at Now() cannot loop). O(1); it does not allocate.
func (w *Wheel) Schedule(e *Entry, at time.Duration) {
	if e.loc != 0 {
		w.unlink(e)
	} else {
		w.n++
	}
	if at <= w.now {
		e.when = w.now
		w.pushBack(e, pendBase+w.pend)
		return
	}
	g := int64(w.gran)
	tick := ceilDiv(int64(at), g) // at > now implies tick > cur
	if tick > w.maxTick {
		e.when = maxDur // unreachable: Advance can never get there
	} else {
		e.when = time.Duration(tick * g)
	}
	w.place(e, toPos(tick))
}

// Cancel unschedules e. It is a no-op if e is not scheduled. O(1).
func (w *Wheel) Cancel(e *Entry) {
	if e.loc == 0 {
		return
	}
	w.unlink(e)
	w.n--
}

// Advance moves the wheel's current time to now (a now earlier than the
// current time is treated as the current time) and calls fire for every
// entry due by then: first the entries that were due at once (in the order
// they were scheduled), then every entry whose effective deadline is <= now,
// in non-decreasing order of effective deadline (entries with equal
// effective deadlines fire in an unspecified order). Each entry is
// unscheduled just before fire is called for it, so it fires exactly once per
// Schedule. When Advance returns, no scheduled entry has an effective
// deadline <= now, except entries due at once that fire callbacks scheduled.
//
// Time moves forward through the callbacks: inside fire, Now() is the
// effective deadline of the entry being fired (for entries due at once, the
// time at which Advance was called), so a callback can reschedule relative
// to Now() as in a discrete-event simulation. fire may call Schedule,
// Cancel, Next, Len and Now on this wheel, for any entry including the one
// being fired: an entry it cancels will not fire; an entry it schedules
// after Now() fires in this same Advance if its deadline is <= now, in
// order; an entry it schedules at or before Now() fires at the next Advance.
// fire must not call Advance (that panics). If fire panics, the panic
// propagates and the wheel stays consistent: its time stays at the fired
// entry's deadline, and the entries that were due fire at the next Advance.
// A nil fire discards due entries.
//
// The cost is O(1) per fired entry and per cascaded entry (each entry
// cascades at most once per level), plus a small constant per call, however
// large the gap between calls.
func (w *Wheel) Advance(now time.Duration, fire func(e *Entry)) {
	if w.advancing {
		panic("wheel: Advance called from a fire callback")
	}
	if now < w.now {
		now = w.now
	}
	target := toPos(floorDiv(int64(now), int64(w.gran)))
	w.advancing = true
	defer w.endAdvance()

	// Entries scheduled "due now" since the last Advance fire first, at the
	// current time. Those that fire schedules due now go to the other list
	// and wait for the next call.
	pl := pendBase + w.pend
	w.pend ^= 1
	w.firing = pl
	w.fireList(pl, fire)

	for {
		w.steps++
		d0, ok0 := w.nextL0()
		if t, j, s, okH := w.nextUpper(); okH {
			// Units of slot-start t must be on the first level by the time
			// the cursor enters the block before t, i.e. reaches e = (t-1)*256.
			e := (t - 1) << unitShift
			if !ok0 || e <= d0 {
				if e > target {
					break
				}
				w.cur = e - 1 // >= w.cur; every first-level entry is >= e
				w.hc = t
				w.cascade(j, s)
				continue
			}
		}
		if !ok0 || d0 > target {
			break
		}
		w.cur = d0
		w.now = time.Duration(toTick(d0) * int64(w.gran)) // d0 <= target: no overflow
		if h := d0>>unitShift + 1; h > w.hc {
			w.hc = h
		}
		// No entry can be placed into this slot while it is being fired:
		// new entries are due after target and the first level spans fewer
		// than 512 ticks, so popping until empty terminates.
		idx := int(d0 & l0Mask)
		w.firing = idx
		w.fireList(idx, fire)
	}
	w.cur = target
	w.now = now
	if h := target>>unitShift + 1; h > w.hc {
		w.hc = h
	}
	w.firing = noList
	w.advancing = false
}

// fireList pops and fires every entry of list idx.
func (w *Wheel) fireList(idx int, fire func(e *Entry)) {
	for e := w.heads[idx]; e != nil; e = w.heads[idx] {
		w.unlink(e)
		w.n--
		if fire != nil {
			fire(e)
		}
	}
}

// endAdvance restores consistency if a fire callback panicked. The wheel's
// time and cursor are those of the entry being fired; the rest of the list
// being fired was due, so it moves to the front of the pending list (ahead of
// the entries that callbacks scheduled due now, which have later or equal
// deadlines) and fires at the next Advance.
func (w *Wheel) endAdvance() {
	if !w.advancing {
		return
	}
	if f := w.firing; f != noList {
		dst := pendBase + w.pend
		if f >= pendBase { // FIFO: move from the tail to keep the order
			for e := w.ptail[f-pendBase]; e != nil; e = w.ptail[f-pendBase] {
				w.unlink(e)
				w.push(e, dst)
			}
		} else { // one first-level slot: all deadlines equal
			for e := w.heads[f]; e != nil; e = w.heads[f] {
				w.unlink(e)
				w.push(e, dst)
			}
		}
	}
	w.firing = noList
	w.advancing = false
}

// Next returns a time at which Advance should next be called: never later
// than the earliest effective deadline of any scheduled entry, and equal to
// it when that deadline is within the first level's span (always the case
// when it is at most 256 ticks after the current tick). For entries further
// away it may be earlier (the start of the upper-level slot holding the
// earliest entry); calling Advance then makes Next exact or later. If an
// entry is due at once, Next returns its deadline, which is not after Now().
// It returns false if the wheel is empty.
func (w *Wheel) Next() (time.Duration, bool) {
	if w.n == 0 {
		return 0, false
	}
	m, ok := maxDur, false
	if w.firing != noList { // called from a fire callback
		if e := w.heads[w.firing]; e != nil {
			m, ok = e.when, true
		}
	}
	for i := pendBase; i < pendBase+2; i++ {
		if e := w.heads[i]; e != nil && (!ok || e.when < m) {
			m, ok = e.when, true
		}
	}
	if d, ok0 := w.nextL0(); ok0 {
		if e := w.heads[d&l0Mask]; !ok || e.when < m {
			m, ok = e.when, true
		}
	} else if t, _, _, okH := w.nextUpper(); okH {
		if at := w.tickTime(toTick(t << unitShift)); !ok || at < m {
			m, ok = at, true
		}
	}
	return m, ok
}

// place links e (not linked anywhere) into the slot for position d > w.cur.
func (w *Wheel) place(e *Entry, d uint64) {
	var idx int
	if u := d >> unitShift; u <= w.hc {
		idx = int(d & l0Mask)
	} else {
		// Lowest level j at which u and the cursor share all higher digits.
		j := (bits.Len64(u^w.hc) - 1) / levelBits
		idx = hBase + j*levelSlots + int(u>>(uint(j)*levelBits)&levelMask)
	}
	w.push(e, idx)
	w.bm[idx>>6] |= 1 << (idx & 63)
}

// push links e at the front of list idx.
func (w *Wheel) push(e *Entry, idx int) {
	h := w.heads[idx]
	e.prev = nil
	e.next = h
	if h != nil {
		h.prev = e
	} else if idx >= pendBase {
		w.ptail[idx-pendBase] = e
	}
	w.heads[idx] = e
	e.loc = int32(idx + 1)
}

// pushBack links e at the back of pending list idx.
func (w *Wheel) pushBack(e *Entry, idx int) {
	t := w.ptail[idx-pendBase]
	e.next = nil
	e.prev = t
	if t != nil {
		t.next = e
	} else {
		w.heads[idx] = e
	}
	w.ptail[idx-pendBase] = e
	e.loc = int32(idx + 1)
}

func (w *Wheel) unlink(e *Entry) {
	idx := int(e.loc - 1)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		w.heads[idx] = e.next
		if e.next == nil && idx < numSlots {
			w.bm[idx>>6] &^= 1 << (idx & 63)
		}
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if idx >= pendBase {
		w.ptail[idx-pendBase] = e.prev
	}
	e.next, e.prev, e.loc = nil, nil, 0
}

// cascade re-places every entry of upper level j, slot s, relative to the
// (already advanced) cursor; each lands on a lower level or the first level.
func (w *Wheel) cascade(j, s int) {
	idx := hBase + j*levelSlots + s
	e := w.heads[idx]
	w.heads[idx] = nil
	w.bm[idx>>6] &^= 1 << (idx & 63)
	g := int64(w.gran)
	for e != nil {
		next := e.next
		w.place(e, toPos(ceilDiv(int64(e.when), g)))
		e = next
	}
}

// nextL0 returns the position of the earliest first-level entry. The first
// level holds positions in (cur, cur+512), so the circular distance from
// cur+1 is unambiguous.
func (w *Wheel) nextL0() (uint64, bool) {
	start := (w.cur + 1) & l0Mask
	wi := start >> 6
	word := w.bm[wi] & (allOnes << (start & 63))
	for i := 0; ; i++ {
		if word != 0 {
			idx := wi<<6 + uint64(bits.TrailingZeros64(word))
			return w.cur + 1 + (idx-start)&l0Mask, true
		}
		if i == l0Words {
			return 0, false
		}
		wi = (wi + 1) % l0Words
		word = w.bm[wi]
	}
}

// nextUpper returns the earliest non-empty upper-level slot: its level j,
// index s, and its start t in units. Entries of level j share the cursor's
// digits above j and have a larger digit j, so lower levels always hold
// earlier entries than higher ones.
func (w *Wheel) nextUpper() (t uint64, j, s int, ok bool) {
	hc := w.hc
	for j = 0; j < numLevels; j++ {
		shift := uint(j) * levelBits
		start := int(hc>>shift&levelMask) + 1
		if start == levelSlots {
			continue
		}
		base := (hBase + j*levelSlots) >> 6
		wi := start >> 6
		word := w.bm[base+wi] & (allOnes << (start & 63))
		for {
			if word != 0 {
				s = wi<<6 + bits.TrailingZeros64(word)
				hi := shift + levelBits
				return hc>>hi<<hi | uint64(s)<<shift, j, s, true
			}
			if wi++; wi == hWords {
				break
			}
			word = w.bm[base+wi]
		}
	}
	return 0, 0, 0, false
}

// tickTime returns the start time of tick, saturating at the largest
// Duration. Only called for ticks after the current one, so it cannot
// underflow.
func (w *Wheel) tickTime(tick int64) time.Duration {
	if tick > w.maxTick {
		return maxDur
	}
	return time.Duration(tick * int64(w.gran))
}

func toPos(tick int64) uint64 { return uint64(tick) ^ bias }
func toTick(p uint64) int64   { return int64(p ^ bias) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

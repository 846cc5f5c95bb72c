package wheel

import (
	"fmt"
	"testing"
	"time"
)

// xorshift is an allocation-free random source for benchmarks.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

// in returns a duration in [lo, hi).
func (x *xorshift) in(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(x.next()%uint64(hi-lo))
}

type benchConn struct{ id int }

func newEntries(n int) []Entry {
	ents := make([]Entry, n)
	for i := range ents {
		ents[i].Value = &benchConn{id: i}
	}
	return ents
}

// BenchmarkScheduleCancel: schedule one entry and cancel it, in a wheel
// already holding 1M entries spread over ten minutes. Deadlines range from
// 1 ms to 1 day, so they land on every level.
func BenchmarkScheduleCancel(b *testing.B) {
	w := New(time.Millisecond, 0)
	rnd := xorshift(1)
	bg := newEntries(1 << 20)
	for i := range bg {
		w.Schedule(&bg[i], rnd.in(time.Millisecond, 10*time.Minute))
	}
	const k = 1 << 12
	var at [k]time.Duration
	for i := range at {
		at[i] = rnd.in(time.Millisecond, 24*time.Hour)
	}
	e := &Entry{Value: &benchConn{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Schedule(e, at[i&(k-1)])
		w.Cancel(e)
	}
}

// BenchmarkReschedule: move random entries of a 1M-entry wheel to new
// deadlines 1 ms .. 10 min ahead (a keep-alive or retransmission timer
// being pushed back on every segment).
func BenchmarkReschedule(b *testing.B) {
	const n = 1 << 20
	w := New(time.Millisecond, 0)
	rnd := xorshift(2)
	ents := newEntries(n)
	for i := range ents {
		w.Schedule(&ents[i], rnd.in(time.Millisecond, 10*time.Minute))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Schedule(&ents[rnd.next()&(n-1)], rnd.in(time.Millisecond, 10*time.Minute))
	}
}

// BenchmarkAdvance1M: 1 million entries with deadlines spread uniformly over
// the given span, advancing in 1 ms ticks. Each fired entry is rescheduled
// at a random time within the span from now, so the wheel stays at 1M
// entries and upper-level slots keep cascading. One op is one tick.
func BenchmarkAdvance1M(b *testing.B) {
	for _, span := range []time.Duration{time.Minute, time.Hour} {
		b.Run(fmt.Sprintf("span=%v", span), func(b *testing.B) {
			const n = 1_000_000
			w := New(time.Millisecond, 0)
			rnd := xorshift(3)
			ents := newEntries(n)
			for i := range ents {
				w.Schedule(&ents[i], rnd.in(time.Millisecond, span))
			}
			fired := 0
			fire := func(e *Entry) {
				fired++
				w.Schedule(e, w.Now()+rnd.in(time.Millisecond, span))
			}
			now := time.Duration(0)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				now += time.Millisecond
				w.Advance(now, fire)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if w.Len() != n {
				b.Fatalf("len %d", w.Len())
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/tick")
			if fired > 0 {
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(fired), "ns/fired")
			}
			b.ReportMetric(float64(fired)/float64(b.N), "fired/tick")
		})
	}
}

// BenchmarkAdvanceIdleGap: jump an hour ahead over three entries.
func BenchmarkAdvanceIdleGap(b *testing.B) {
	w := New(time.Millisecond, 0)
	ents := newEntries(3)
	fire := func(*Entry) {}
	now := time.Duration(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range ents {
			w.Schedule(&ents[j], now+time.Duration(j+1)*17*time.Minute)
		}
		now += time.Hour
		w.Advance(now, fire)
	}
}

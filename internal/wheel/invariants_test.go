package wheel

import (
	"fmt"
	"math/bits"
)

// verify checks the wheel's internal invariants. It is O(size of the wheel).
func (w *Wheel) verify() error {
	g := int64(w.gran)
	lo, hi := w.cur>>unitShift+1, (w.cur+1)>>unitShift+1
	if w.cur+1 == 0 {
		hi = lo
	}
	if w.hc < lo || w.hc > hi {
		return fmt.Errorf("upper cursor %d outside [%d, %d] (cur %d)", w.hc, lo, hi, w.cur)
	}
	if !w.advancing && w.cur > toPos(floorDiv(int64(w.now), g)) {
		return fmt.Errorf("cursor %d ahead of now %v", toTick(w.cur), w.now)
	}
	count := 0
	for idx := 0; idx < numLists; idx++ {
		h := w.heads[idx]
		if idx < numSlots {
			bit := w.bm[idx>>6]>>(idx&63)&1 == 1
			if bit != (h != nil) {
				return fmt.Errorf("list %d: bitmap bit %v, non-empty %v", idx, bit, h != nil)
			}
		}
		if idx >= pendBase && h == nil && w.ptail[idx-pendBase] != nil {
			return fmt.Errorf("empty pending list %d has a tail", idx)
		}
		var prev *Entry
		for e := h; e != nil; prev, e = e, e.next {
			count++
			if count > w.n {
				return fmt.Errorf("more entries linked than Len %d (cycle?)", w.n)
			}
			if e.prev != prev {
				return fmt.Errorf("list %d: broken prev link", idx)
			}
			if int(e.loc) != idx+1 {
				return fmt.Errorf("list %d: entry has loc %d", idx, e.loc)
			}
			if idx >= pendBase {
				if e.when > w.now {
					return fmt.Errorf("pending entry with deadline %v after now %v", e.when, w.now)
				}
				if prev != nil && prev.when > e.when {
					return fmt.Errorf("pending list %d out of deadline order", idx)
				}
				if e.next == nil && w.ptail[idx-pendBase] != e {
					return fmt.Errorf("pending list %d: wrong tail", idx)
				}
				continue
			}
			d := toPos(ceilDiv(int64(e.when), g))
			if d == w.cur && idx == w.firing {
				continue // the rest of the slot being fired
			}
			if d <= w.cur {
				return fmt.Errorf("list %d: entry at tick %d not after cursor %d", idx, toTick(d), toTick(w.cur))
			}
			u := d >> unitShift
			if idx < hBase {
				if int(d&l0Mask) != idx || d-w.cur >= l0Slots || u > w.hc {
					return fmt.Errorf("first level slot %d holds tick %d (cur %d, hc %d)", idx, toTick(d), toTick(w.cur), w.hc)
				}
				continue
			}
			j := (bits.Len64(u^w.hc) - 1) / levelBits
			want := hBase + j*levelSlots + int(u>>(uint(j)*levelBits)&levelMask)
			if u <= w.hc || want != idx {
				return fmt.Errorf("upper slot %d holds unit %d, want slot %d (hc %d)", idx, u, want, w.hc)
			}
		}
	}
	if count != w.n {
		return fmt.Errorf("%d entries linked, Len %d", count, w.n)
	}
	return nil
}

package stack

import (
	"fmt"
	"net/netip"
	"testing"
)

func twKeys(n int) []connKey {
	var ks []connKey
	for i := range n {
		ks = append(ks, connKey{local: netip.MustParseAddrPort("10.0.0.1:80"),
			remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), uint16(i))})
	}
	return ks
}

var sinkE *twEntry

func BenchmarkTWGet(b *testing.B) {
	for _, n := range []int{0, 100, 100000} {
		ks := twKeys(n + 1000)
		m := map[connKey]*twEntry{}
		tab := newTWTable()
		for _, k := range ks[:n] {
			e := &twEntry{key: k}
			m[k] = e
			tab.put(e)
		}
		b.Run(fmt.Sprint("map/", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sinkE = m[ks[i%len(ks)]]
			}
		})
		b.Run(fmt.Sprint("table/", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sinkE = tab.get(ks[i%len(ks)])
			}
		})
	}
}

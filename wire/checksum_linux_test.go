//go:build linux

package wire

import (
	"os"
	"syscall"
	"testing"
)

// guarded returns a page of memory between two inaccessible pages, so that
// a read or write outside it faults instead of passing unnoticed.
func guarded(t *testing.T) []byte {
	t.Helper()
	ps := os.Getpagesize()
	m, err := syscall.Mmap(-1, 0, 3*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(m) })
	if err := syscall.Mprotect(m[:ps], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(m[2*ps:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	return m[ps : 2*ps : 2*ps]
}

// TestChecksumStaysInBounds runs every path on data that starts or ends
// at the edge of an inaccessible page: the assembly's wide loads and its
// last 8-octet load (which ends where the data end) must never touch a
// byte outside the slice.
func TestChecksumStaysInBounds(t *testing.T) {
	page := guarded(t)
	dstPage := guarded(t)
	for i := range page {
		page[i] = byte(i*7 + 1)
	}
	impls := checksumImpls()
	for n := 0; n <= 600; n++ {
		for _, b := range [][]byte{page[:n], page[len(page)-n:]} {
			want := refChecksum(b, 0)
			for _, impl := range impls {
				if got := FoldChecksum(impl.sum(b, 0)); got != want {
					t.Fatalf("%s: len %d: %#04x, reference %#04x", impl.name, n, got, want)
				}
			}
			for _, dst := range [][]byte{dstPage[:n], dstPage[len(dstPage)-n:]} {
				if got := FoldChecksum(ChecksumCopy(dst, b, 0)); got != want {
					t.Fatalf("ChecksumCopy: len %d: %#04x, reference %#04x", n, got, want)
				}
			}
		}
	}
}

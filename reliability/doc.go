// Package reliability holds synfin's reliability and security evidence:
// tests that run hostile peers, chaos transfers and soaks on the
// deterministic simulator (package sim). It has no API; everything is in
// its tests. RELIABILITY.md at the top of the module reports the figures.
//
// The tests run at a reduced size in `go test ./...` (and smaller still
// under -race). `make reliability` runs them at full size:
//
//	RELIABILITY_FULL=1 go test -count=1 -timeout 3h ./reliability/
package reliability

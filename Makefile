# synfin: every test in one command. `make test` is what CI runs (.ci/run).
GO       ?= go
FUZZTIME ?= 30s

.PHONY: test deps check vet fmt-check unit race bench-check fuzz fuzz-long reliability bench tour

## test: install what is missing, then formatting, vet, the test suite (once
## plain, for the allocation checks and full-size simulations, once under the
## race detector) and a short run of every fuzz target.
test: deps check unit race bench-check fuzz

deps:
	@scripts/deps.sh

check: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 ./...

## bench-check: the bench/ module (its own go.mod, with gVisor) builds, vets
## and passes its tests; its benchmarks run with `make bench` or `go run .`.
bench-check:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

## fuzz: each fuzz target for FUZZTIME (30 s by default; `make fuzz-long` runs 5 min each).
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

fuzz-long:
	@FUZZTIME=5m scripts/fuzz.sh

reliability: ## full-size hostile-peer, chaos and soak runs (see RELIABILITY.md)
	RELIABILITY_FULL=1 $(GO) test -count=1 -timeout 3h -v ./reliability/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

tour:
	$(GO) run ./cmd/synfin tour

package runner

import (
	"sort"
	"sync"
)

var (
	targetsMu sync.Mutex
	targets   = map[string]func() Target{}
)

// RegisterTarget makes a target available by name to LookupTarget (and so
// to `synfin run --target NAME`). Targets register themselves in an init
// function; registering a name twice replaces the first.
func RegisterTarget(name string, f func() Target) {
	targetsMu.Lock()
	defer targetsMu.Unlock()
	targets[name] = f
}

// LookupTarget returns a new instance of the target registered as name.
func LookupTarget(name string) (Target, bool) {
	targetsMu.Lock()
	defer targetsMu.Unlock()
	f, ok := targets[name]
	if !ok {
		return nil, false
	}
	return f(), true
}

// TargetNames lists the registered targets, sorted.
func TargetNames() []string {
	targetsMu.Lock()
	defer targetsMu.Unlock()
	var names []string
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() { RegisterTarget("synfin", Synfin) }

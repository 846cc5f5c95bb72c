package pktdrill

import (
	"encoding/json"
	"reflect"
	"testing"
)

var posType = reflect.TypeOf(Pos{})

// stripPos zeroes every Pos in the tree reachable from v (a pointer), so
// that ASTs can be compared without positions.
func stripPos(v any) {
	walkPos(reflect.ValueOf(v), func(p reflect.Value) { p.Set(reflect.Zero(posType)) })
}

// walkPos calls f on every settable Pos value reachable from v.
func walkPos(v reflect.Value, f func(reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkPos(v.Elem(), f)
		}
	case reflect.Struct:
		if v.Type() == posType {
			if v.CanSet() {
				f(v)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			walkPos(v.Field(i), f)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkPos(v.Index(i), f)
		}
	}
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// parseOne parses src and returns its single event with positions zeroed.
func parseOne(t *testing.T, src string, cfg *Config) *Event {
	t.Helper()
	s, err := Parse("t.pkt", []byte(src), cfg)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if len(s.Events) != 1 {
		t.Fatalf("Parse(%q): %d events, want 1", src, len(s.Events))
	}
	stripPos(s)
	return s.Events[0]
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(got), dump(want))
	}
}

package pktdrill

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// corpusDir locates the packetdrill corpus: $SYNFIN_PACKETDRILL_CORPUS, or
// ../shared/conformance/packetdrill relative to the module root. Under CI=true
// a missing corpus fails the test; otherwise the test is skipped.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SYNFIN_PACKETDRILL_CORPUS")
	if dir == "" {
		root, err := moduleRoot()
		if err == nil {
			dir = filepath.Join(root, "..", "shared", "conformance", "packetdrill")
		}
	}
	if dir != "" {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("packetdrill corpus not found (dir %q); set SYNFIN_PACKETDRILL_CORPUS", dir)
	}
	t.Skipf("packetdrill corpus not found (dir %q); set SYNFIN_PACKETDRILL_CORPUS", dir)
	return ""
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

func corpusFiles(t *testing.T) (string, []string) {
	dir := corpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".pkt") {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return dir, files
}

// The defines packetdrill's run_all.py passes (see the corpus README).
var runnerDefines = map[string]string{
	"TFO_COOKIE":        "3021b9d889017eeb",
	"CODE":              "host_unreachable",
	"CMSG_LEVEL_IP":     "SOL_IP",
	"CMSG_TYPE_RECVERR": "IP_RECVERR",
}

// TestCorpus parses every .pkt script of the corpus, without and with the
// runner's defines, and checks that formatting each event and parsing it
// again gives the same text.
func TestCorpus(t *testing.T) {
	dir, files := corpusFiles(t)
	// The corpus has 141 scripts; a much smaller count means a broken copy.
	if len(files) < 100 {
		t.Fatalf("only %d .pkt files under %s", len(files), dir)
	}
	t.Logf("%d scripts under %s", len(files), dir)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			path := filepath.Join(dir, rel)
			s, err := ParseFile(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Events) == 0 {
				t.Fatal("no events")
			}
			checkAllPositions(t, s, path)
			if _, err := ParseFile(path, &Config{Defines: runnerDefines}); err != nil {
				t.Fatalf("with defines: %v", err)
			}
			for _, ev := range s.Events {
				line := Format(ev)
				s2, err := Parse("reformatted", []byte(line), nil)
				if err != nil {
					t.Fatalf("%s: reformatted event %q does not parse: %v", ev.Pos, line, err)
				}
				if got := Format(s2.Events[0]); got != line {
					t.Fatalf("%s: format not stable:\n first %q\nsecond %q", ev.Pos, line, got)
				}
				e1, e2 := *ev, *s2.Events[0]
				stripPos(&e1)
				stripPos(&e2)
				if !reflect.DeepEqual(e1.Action, e2.Action) || !reflect.DeepEqual(e1.Time, e2.Time) {
					t.Fatalf("%s: tree changed by format and parse:\n%s\n%s", ev.Pos, dump(e1), dump(e2))
				}
			}
		})
	}
}

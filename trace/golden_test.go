package trace

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite trace/testdata/*.golden")

// checkGolden compares got with testdata/name, which -update rewrites.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", file, got)
	}
}

// TestGoldenText: the text report of a deterministic capture (the simulator,
// seed 2, a 100-byte transfer captured at the client) is stable, byte for
// byte. Regenerate with go test ./trace -run Golden -update.
func TestGoldenText(t *testing.T) {
	r := runSim(t, 2, 100, 5*time.Millisecond, 0)
	a, err := Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteText(&got, a); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "sim-small.txt.golden", got.Bytes())
	for _, s := range []string{"TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "FIN_WAIT_1"} {
		if !strings.Contains(got.String(), s) {
			t.Errorf("report lacks %s", s)
		}
	}
}

// TestGoldenSVG: the SVG report is well-formed XML with both ends' paths
// highlighted on the state diagram, in order.
func TestGoldenSVG(t *testing.T) {
	r := runSim(t, 2, 100, 5*time.Millisecond, 0)
	a, err := Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	svg := SVG(a)
	dec := xml.NewDecoder(strings.NewReader(svg))
	highlighted := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, at := range se.Attr {
				if at.Name.Local == "class" && strings.HasPrefix(at.Value, "hl") {
					highlighted++
				}
			}
		}
	}
	steps := len(a.Conns[0].Steps)
	if highlighted < steps-2 || steps == 0 {
		t.Errorf("%d highlighted transitions for %d steps", highlighted, steps)
	}
}

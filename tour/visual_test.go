package tour

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/synfin/synfin/tcp"
)

func TestGuideCoversEveryState(t *testing.T) {
	for _, st := range tcp.States {
		g, ok := Guide[st]
		if !ok || g.SS == "" || g.Meaning == "" || g.Enter == "" || g.Leave == "" || g.InSS == "" || g.Trouble == "" {
			t.Errorf("%v: incomplete guide %+v", st, g)
		}
	}
}

func TestVisualFormats(t *testing.T) {
	sc, _ := Lookup("time-wait-reack")
	tr, err := Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	l := tr.Ladder()
	lost := 0
	for _, m := range l.Messages {
		if m.Lost {
			lost++
		}
	}
	if len(l.Messages) != len(tr.Segments()) || lost != 1 || l.Left != "client" || len(l.RightSteps) == 0 {
		t.Errorf("ladder: %d messages (%d lost), %+v", len(l.Messages), lost, l)
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, []*Trace{tr, tr}); err != nil {
		t.Fatal(err)
	}
	var v struct{ XMLName xml.Name }
	if err := xml.Unmarshal(b.Bytes(), &v); err != nil || v.XMLName.Local != "svg" {
		t.Errorf("SVG: %v %v", err, v.XMLName)
	}
	b.Reset()
	if err := WriteStates(&b, tr); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > TextWidth {
			t.Errorf("line over %d columns: %q", TextWidth, line)
		}
	}
	if !strings.Contains(b.String(), "LAST_ACK (ss: LAST-ACK)") || strings.Contains(b.String(), "CLOSING (ss:") {
		t.Errorf("states:\n%s", b.String())
	}
}

package trace

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// TestSegmentRules: what an observer makes of each segment of a capture,
// on a clean transfer and on a lossy one.
func TestSegmentRules(t *testing.T) {
	r := runSim(t, 2, 100, 5*time.Millisecond, 0)
	a, err := Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := a.Conns[0]
	for _, w := range []struct {
		flags wire.TCPFlags
		from  Side
		want  []string
	}{
		{wire.FlagSYN, Left, []string{"SYN", "left CLOSED -> SYN_SENT", "[observed]"}},
		{wire.FlagSYN | wire.FlagACK, Right, []string{"SYN-ACK", "left SYN_SENT -> ESTABLISHED"}},
		{wire.FlagPSH | wire.FlagACK, Left, []string{"RFC 9293 3.10.7.4 seventh check: 100 new bytes in order"}},
		{wire.FlagFIN | wire.FlagACK, Left, []string{"RFC 9293 3.10.7.4 eighth check: FIN", "left ESTABLISHED -> FIN_WAIT_1"}},
		{wire.FlagFIN | wire.FlagACK, Right, []string{"eighth check: FIN; fifth check: ACK advances SND.UNA by 1"}},
	} {
		found := false
		for _, g := range c.Segments {
			if g.Flags != w.flags || g.From != w.from {
				continue
			}
			found = true
			for _, s := range w.want {
				if !strings.Contains(g.Rule, s) {
					t.Errorf("packet %d (%v from %v): rule %q lacks %q", g.Packet, w.flags, w.from, g.Rule, s)
				}
			}
		}
		if !found {
			t.Errorf("no %v from %v", w.flags, w.from)
		}
	}
	for _, g := range c.Segments {
		if g.Rule == "" || strings.Contains(g.Rule, "cwnd") {
			t.Errorf("packet %d: rule %q", g.Packet, g.Rule)
		}
	}
	// The JSON ladder carries the rules, and no cwnd.
	var js bytes.Buffer
	if err := WriteJSON(&js, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"rule": "RFC 9293 3.10.7.4 seventh check: 100 new bytes in order"`) || strings.Contains(js.String(), "cwnd") {
		t.Errorf("JSON rules:\n%s", js.String())
	}

	// Loss: retransmissions, duplicate ACKs counted up to the third.
	r = runSim(t, 10, 60000, 5*time.Millisecond, 0.05)
	a, err = Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var retx, dup3 int
	for _, g := range a.Conns[0].Segments {
		if strings.Contains(g.Rule, "retransmission: sequence numbers") {
			retx++
		}
		if strings.Contains(g.Rule, "duplicate ACK 3 (RFC 5681 2)") && strings.Contains(g.Rule, "fast retransmit (RFC 5681 3.2)") {
			dup3++
		}
	}
	if retx == 0 || dup3 == 0 {
		t.Errorf("lossy transfer: %d retransmissions, %d third duplicate ACKs named", retx, dup3)
	}
	if an := a.Conns[0].Anomalies; !strings.Contains(kinds(an), KindRetransmit) {
		t.Errorf("anomalies %v lack retransmissions", kinds(an))
	}
}

func kinds(an []Anomaly) string {
	var k []string
	for _, a := range an {
		k = append(k, a.Kind)
	}
	return strings.Join(k, " ")
}

// TestGoldenSegments pins the segment listing of the small transfer.
func TestGoldenSegments(t *testing.T) {
	r := runSim(t, 2, 100, 5*time.Millisecond, 0)
	a, err := Read(bytes.NewReader(r.capA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteTextWith(&got, a, TextOptions{Segments: true}); err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	WriteText(&plain, a)
	if !bytes.HasPrefix(got.Bytes(), plain.Bytes()) || !strings.Contains(got.String(), "cwnd is unknown") {
		t.Error("the segment listing does not follow the plain report")
	}
	checkGolden(t, "sim-small-segments.txt.golden", got.Bytes())
}

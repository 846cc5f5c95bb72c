package tour

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func path(names string) []tcp.State {
	var p []tcp.State
	for _, n := range strings.Fields(names) {
		st, ok := tcp.ParseState(n)
		if !ok {
			panic("bad state " + n)
		}
		p = append(p, st)
	}
	return p
}

const (
	activeClose  = "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED"
	passiveClose = "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED"
)

// expected lists, for every scenario, the states each end must go through
// and the checks of what the scenario is there to show.
var expected = map[string]struct {
	client, server string
	check          func(t *testing.T, tr *Trace)
}{
	"handshake-data-close": {activeClose, passiveClose, func(t *testing.T, tr *Trace) {
		handshake := flagsSent(tr)[:3]
		if handshake[0] != "S" || handshake[1] != "S." || handshake[2] != "." {
			t.Errorf("handshake is %v, want S, S., .", handshake)
		}
		wantTimeWait(t, tr, Client)
	}},
	"three-segment-close": {"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT CLOSED", passiveClose, func(t *testing.T, tr *Trace) {
		st := findChange(t, tr, Client, tcp.FinWait1, tcp.TimeWait)
		if st.Changes[0].Cause != tcp.CauseFinAckReceived {
			t.Errorf("cause %q", st.Changes[0].Cause)
		}
		// The client's view: its FIN, then one FIN+ACK acknowledging it.
		fin := firstSent(tr, Client, func(s *Segment) bool { return s.Flags&wire.FlagFIN != 0 })
		if s := st.Seg; s == nil || s.Flags != wire.FlagFIN|wire.FlagACK || s.Ack != fin.Seq+1 {
			t.Errorf("FIN_WAIT_1 -> TIME_WAIT on %+v, want a FIN+ACK acknowledging %d", st.Seg, fin.Seq+1)
		}
	}},
	"simultaneous-close": {
		"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
		"CLOSED LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED",
		func(t *testing.T, tr *Trace) {
			for _, s := range []Side{Client, Server} {
				st := findChange(t, tr, s, tcp.FinWait1, tcp.Closing)
				if st.Seg == nil || st.Seg.Flags&wire.FlagFIN == 0 {
					t.Errorf("%s entered CLOSING on %+v, want the peer's FIN", tr.Names[s], st.Seg)
				}
				wantTimeWait(t, tr, s)
			}
		},
	},
	"simultaneous-open": {
		"CLOSED SYN_SENT SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED",
		"CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED",
		func(t *testing.T, tr *Trace) {
			for _, s := range []Side{A, B} {
				st := findChange(t, tr, s, tcp.SynSent, tcp.SynReceived)
				if st.Changes[0].Cause != tcp.CauseSimultaneousOpen {
					t.Errorf("%s: cause %q", tr.Names[s], st.Changes[0].Cause)
				}
			}
			if got := flagsSent(tr)[:4]; strings.Join(got, " ") != "S S S. S." {
				t.Errorf("open is %v, want S S S. S.", got)
			}
		},
	},
	"lost-handshake-ack": {activeClose, passiveClose, func(t *testing.T, tr *Trace) {
		synAcks := sentBy(tr, Server, func(s *Segment) bool { return s.Flags == wire.FlagSYN|wire.FlagACK })
		if len(synAcks) != 2 {
			t.Fatalf("%d SYN-ACKs, want 2", len(synAcks))
		}
		if d := synAcks[1].SentAt - synAcks[0].SentAt; d != time.Second {
			t.Errorf("SYN-ACK retransmitted after %v, want 1s", d)
		}
		entered := findChange(t, tr, Server, tcp.Listen, tcp.SynReceived).At
		left := findChange(t, tr, Server, tcp.SynReceived, tcp.Established).At
		if left-entered < time.Second {
			t.Errorf("server in SYN_RCVD for %v only", left-entered)
		}
	}},
	"syn-retransmit": {activeClose, passiveClose, func(t *testing.T, tr *Trace) {
		syns := sentBy(tr, Client, func(s *Segment) bool { return s.Flags == wire.FlagSYN })
		if len(syns) != 2 || !syns[0].Lost || syns[1].Lost || syns[0].Seq != syns[1].Seq {
			t.Fatalf("SYNs: %+v", syns)
		}
		if d := syns[1].SentAt - syns[0].SentAt; d != time.Second {
			t.Errorf("SYN retransmitted after %v, want 1s", d)
		}
	}},
	"half-close": {activeClose, passiveClose, func(t *testing.T, tr *Trace) {
		// Data sent by the server in CLOSE_WAIT, received by the client in
		// FIN_WAIT_2.
		n := 0
		for _, st := range tr.Steps {
			if st.Kind == SegmentStep && st.Seg.From == Server && st.Seg.Len() > 0 &&
				st.Before[Server] == tcp.CloseWait && st.Before[Client] == tcp.FinWait2 {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d data segments from CLOSE_WAIT to FIN_WAIT_2, want 2", n)
		}
		if got := readBytes(tr, Client); got != reply+"and goodbye" {
			t.Errorf("client read %q", got)
		}
	}},
	"close-unread-rst": {"CLOSED SYN_SENT ESTABLISHED CLOSED", "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSED", func(t *testing.T, tr *Trace) {
		st := findChange(t, tr, Server, tcp.Established, tcp.Closed)
		if st.Changes[0].Cause != tcp.CauseCloseUnreadData {
			t.Errorf("cause %q", st.Changes[0].Cause)
		}
		wantReset(t, tr, Server)
		if countSent(tr, func(s *Segment) bool { return s.Flags&wire.FlagFIN != 0 }) != 0 {
			t.Error("a FIN was sent")
		}
	}},
	"linger-abort": {"CLOSED SYN_SENT ESTABLISHED CLOSED", "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSED", func(t *testing.T, tr *Trace) {
		st := findChange(t, tr, Client, tcp.Established, tcp.Closed)
		if st.Changes[0].Cause != tcp.CauseLingerZero {
			t.Errorf("cause %q", st.Changes[0].Cause)
		}
		wantReset(t, tr, Client)
	}},
	"connection-refused": {"CLOSED SYN_SENT CLOSED", "CLOSED", func(t *testing.T, tr *Trace) {
		st := findChange(t, tr, Client, tcp.SynSent, tcp.Closed)
		if st.Changes[0].Cause != tcp.CauseResetInSynSent {
			t.Errorf("cause %q", st.Changes[0].Cause)
		}
		if s := st.Seg; s == nil || s.Flags != wire.FlagRST|wire.FlagACK || s.Seq != 0 || s.Ack != tr.ISN[Client]+1 {
			t.Errorf("refused by %+v, want <SEQ=0><ACK=ISN+1><CTL=RST,ACK>", st.Seg)
		}
		if len(st.Notes) == 0 || !strings.Contains(st.Notes[0], "ECONNREFUSED") {
			t.Errorf("notes %q", st.Notes)
		}
	}},
	"time-wait-reack": {activeClose, passiveClose, func(t *testing.T, tr *Trace) {
		fins := sentBy(tr, Server, func(s *Segment) bool { return s.Flags&wire.FlagFIN != 0 })
		if len(fins) != 2 || fins[0].Seq != fins[1].Seq {
			t.Fatalf("server FINs: %+v", fins)
		}
		acks := sentBy(tr, Client, func(s *Segment) bool { return s.Ack == fins[0].Seq+1 && s.Len() == 0 })
		if len(acks) != 2 || !acks[0].Lost || acks[1].Lost {
			t.Fatalf("client ACKs of the FIN: %+v", acks)
		}
		end := findChange(t, tr, Client, tcp.TimeWait, tcp.Closed)
		if want := acks[1].SentAt + tcp.DefaultConfig().TimeWaitLen; end.At != want {
			t.Errorf("TIME_WAIT ended at %v, want %v (2MSL after the second ACK)", end.At, want)
		}
	}},
	// The server has received data, so the peer's FIN puts it in Linux's
	// pingpong mode: its ACK of the FIN waits for the delayed-ACK timer, and
	// the server's close() sends its FIN first, carrying that ACK. The
	// client goes from FIN_WAIT_1 straight to TIME_WAIT.
	"data-retransmit": {"CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT CLOSED", passiveClose, func(t *testing.T, tr *Trace) {
		data := sentBy(tr, Client, func(s *Segment) bool { return s.Len() > 0 })
		if len(data) != 4 || !data[0].Lost || data[3].Seq != data[0].Seq || data[3].Len() != data[0].Len() {
			t.Fatalf("data segments: %+v", data)
		}
		sacks := sentBy(tr, Server, func(s *Segment) bool { return s.Options.NumSACK > 0 })
		if len(sacks) != 2 {
			t.Errorf("%d ACKs with SACK blocks, want 2", len(sacks))
		}
		if got := readBytes(tr, Server); got != strings.Repeat("0123456789", 300) {
			t.Errorf("server read %d bytes", len(got))
		}
	}},
}

func runAll(t *testing.T) []*Trace {
	t.Helper()
	var traces []*Trace
	for _, sc := range Scenarios() {
		tr, err := Run(sc)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		traces = append(traces, tr)
	}
	return traces
}

func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			if seen[sc.Name] {
				t.Fatalf("two scenarios called %s", sc.Name)
			}
			seen[sc.Name] = true
			if sc.Title == "" || len(sc.Description) < 100 {
				t.Errorf("title %q, description %d characters", sc.Title, len(sc.Description))
			}
			want, ok := expected[sc.Name]
			if !ok {
				t.Fatalf("no expected paths for %s: add it to the table", sc.Name)
			}
			tr, err := Run(sc)
			if err != nil {
				t.Fatal(err)
			}
			for s, p := range map[Side]string{Client: want.client, Server: want.server} {
				if got := tr.Path(s); !slices.Equal(got, path(p)) {
					t.Errorf("%s path\n got %v\nwant %v", tr.Names[s], got, path(p))
				}
			}
			if lost := countSteps(tr, LostStep); lost != len(sc.Losses) {
				t.Errorf("%d segments lost, want %d (one per Loss rule)", lost, len(sc.Losses))
			}
			want.check(t, tr)
			if t.Failed() {
				var b bytes.Buffer
				WriteText(&b, tr)
				t.Log("\n" + b.String())
			}
		})
	}
	for name := range expected {
		if !seen[name] {
			t.Errorf("expected paths for %s, which is not a scenario", name)
		}
	}
}

func TestAllStatesVisited(t *testing.T) {
	cov := Coverage(runAll(t))
	for _, st := range tcp.States {
		if len(cov[st]) == 0 {
			t.Errorf("no scenario visits %v", st)
		}
	}
	// The two ways into SYN_RCVD and the one into CLOSING that the tour
	// promises.
	for _, want := range []struct {
		st   tcp.State
		name string
	}{{tcp.Closing, "simultaneous-close"}, {tcp.SynReceived, "simultaneous-open"}, {tcp.SynReceived, "lost-handshake-ack"}} {
		if !strings.Contains(strings.Join(cov[want.st], " "), want.name) {
			t.Errorf("%s does not visit %v", want.name, want.st)
		}
	}
	var b bytes.Buffer
	missing, err := WriteSummary(&b, runAll(t))
	if err != nil || len(missing) != 0 || strings.Contains(b.String(), "NEVER") {
		t.Errorf("summary: missing %v, err %v\n%s", missing, err, b.String())
	}
}

// TestWire checks that every segment in every trace is what its packet
// says: the fields were parsed from bytes that carry valid checksums over
// the documentation addresses.
func TestWire(t *testing.T) {
	for _, tr := range runAll(t) {
		for _, s := range tr.Segments() {
			ip, err := wire.ParseIPv4(s.Packet)
			if err != nil || !ip.ChecksumValid() || ip.Protocol() != wire.ProtoTCP {
				t.Fatalf("%s #%d: IPv4 %v", tr.Name, s.ID, err)
			}
			if ip.Src() != tr.Addrs[s.From].Addr() || ip.Dst() != tr.Addrs[s.To].Addr() ||
				!strings.HasPrefix(ip.Src().String(), "192.0.2.") {
				t.Errorf("%s #%d: %v -> %v", tr.Name, s.ID, ip.Src(), ip.Dst())
			}
			th, err := wire.ParseTCP(ip.Payload())
			if err != nil || !th.VerifyChecksum(ip.Src(), ip.Dst()) {
				t.Fatalf("%s #%d: TCP %v, checksum ok %v", tr.Name, s.ID, err, err == nil && th.VerifyChecksum(ip.Src(), ip.Dst()))
			}
			var o wire.TCPOptions
			if err := th.ParseOptions(&o); err != nil {
				t.Fatal(err)
			}
			if th.SrcPort() != tr.Addrs[s.From].Port() || th.DstPort() != tr.Addrs[s.To].Port() ||
				th.Seq() != s.Seq || th.Ack() != s.Ack || th.Flags() != s.Flags || th.Window() != s.Window ||
				th.Checksum() != s.Checksum || !bytes.Equal(th.Payload(), s.Payload) || o != s.Options {
				t.Errorf("%s #%d: recorded %+v, packet says otherwise", tr.Name, s.ID, s)
			}
			if th.Checksum() == 0 {
				t.Errorf("%s #%d: zero checksum", tr.Name, s.ID)
			}
		}
	}
}

func render(t *testing.T, traces []*Trace) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, tr := range traces {
		if err := WriteText(&b, tr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := WriteSummary(&b, traces); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	first := render(t, runAll(t))
	second := render(t, runAll(t))
	if !bytes.Equal(first, second) {
		t.Fatal("two runs of the tour differ")
	}
	// A scenario alone renders as it does within the tour.
	tr, err := Run(Scenarios()[2])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteText(&b, tr)
	if !bytes.Contains(first, b.Bytes()) {
		t.Error("a scenario run alone renders differently")
	}
}

func TestTextWidth(t *testing.T) {
	for i, line := range strings.Split(string(render(t, runAll(t))), "\n") {
		if len(line) > TableWidth {
			t.Errorf("line %d is %d columns: %s", i+1, len(line), line)
		}
	}
}

// TestGolden pins the text of two scenarios: simultaneous-close (every
// segment changes a state) and data-retransmit (rules for segments that
// change none, a timeout, cwnd falling to 1 and growing again).
func TestGolden(t *testing.T) {
	for _, name := range []string{"simultaneous-close", "data-retransmit"} {
		sc, ok := Lookup(name)
		if !ok {
			t.Fatalf("no %s scenario", name)
		}
		tr, err := Run(sc)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteText(&b, tr); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", sc.Name+".golden")
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./tour -run Golden -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("output differs from %s (go test ./tour -run Golden -update rewrites it):\n%s", golden, b.String())
		}
	}
}

func TestNetErrors(t *testing.T) {
	n := NewNet()
	sc := &Scenario{Name: "x", Apps: [2]App{{}, {NoSocket: true}}, Actions: []Action{act(0, Server, Listen)}}
	if _, err := n.Run(sc); err == nil {
		t.Error("a call on an end without a socket did not fail")
	}
	if _, err := n.Run(sc); err == nil {
		t.Error("a Net ran twice")
	}
	// A run with nothing to do is empty; a loss rule that matches nothing
	// loses nothing.
	never := Loss{Side: Client, What: "nothing", Match: func(*tcp.Segment, tcp.State) bool { return false }}
	tr, err := Run(&Scenario{Name: "empty", Losses: []Loss{never}})
	if err != nil || len(tr.Steps) != 0 {
		t.Errorf("empty scenario: %v, %d steps", err, len(tr.Steps))
	}
}

func TestFormatTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                               "0.000",
		10 * time.Millisecond:           "0.010",
		60*time.Second + 430*ms(1):      "60.430",
		1500 * time.Microsecond:         "0.001500",
		-20 * time.Millisecond:          "-0.020",
		2*time.Second + time.Nanosecond: "2.000000",
	} {
		if got := FormatTime(d); got != want {
			t.Errorf("FormatTime(%v) = %q, want %q", d, got, want)
		}
	}
}

// Helpers.

func countSteps(tr *Trace, k StepKind) int {
	n := 0
	for _, st := range tr.Steps {
		if st.Kind == k {
			n++
		}
	}
	return n
}

// findChange returns the step in which side went from old to new.
func findChange(t *testing.T, tr *Trace, side Side, old, new tcp.State) *Step {
	t.Helper()
	for i := range tr.Steps {
		st := &tr.Steps[i]
		for _, c := range st.Changes {
			if c.Side == side && c.Old == old && c.New == new {
				return st
			}
		}
	}
	t.Fatalf("%s never went from %v to %v", tr.Names[side], old, new)
	return nil
}

func sentBy(tr *Trace, side Side, match func(*Segment) bool) []*Segment {
	var segs []*Segment
	for _, s := range tr.Segments() {
		if s.From == side && match(s) {
			segs = append(segs, s)
		}
	}
	return segs
}

func firstSent(tr *Trace, side Side, match func(*Segment) bool) *Segment {
	if segs := sentBy(tr, side, match); len(segs) > 0 {
		return segs[0]
	}
	return &Segment{}
}

func countSent(tr *Trace, match func(*Segment) bool) int {
	return len(sentBy(tr, Client, match)) + len(sentBy(tr, Server, match))
}

func flagsSent(tr *Trace) []string {
	var f []string
	for _, s := range tr.Segments() {
		f = append(f, s.Flags.String())
	}
	return append(f, "", "", "", "")
}

// readBytes is what side's application read.
func readBytes(tr *Trace, side Side) string {
	var b strings.Builder
	for _, st := range tr.Steps {
		if st.Kind == CallStep && st.Side == side && strings.HasPrefix(st.Text, "read()") {
			b.Write(st.Data)
		}
	}
	return b.String()
}

// wantTimeWait checks that side left TIME_WAIT 2MSL after it entered it.
func wantTimeWait(t *testing.T, tr *Trace, side Side) {
	t.Helper()
	var in, out time.Duration = -1, -1
	for _, st := range tr.Steps {
		for _, c := range st.Changes {
			if c.Side == side && c.New == tcp.TimeWait {
				in = st.At
			}
			if c.Side == side && c.Old == tcp.TimeWait && c.New == tcp.Closed {
				out = st.At
				if c.Cause != tcp.CauseTimeWaitExpired {
					t.Errorf("%s left TIME_WAIT because %q", tr.Names[side], c.Cause)
				}
			}
		}
	}
	if in < 0 || out-in != tcp.DefaultConfig().TimeWaitLen {
		t.Errorf("%s: TIME_WAIT from %v to %v, want 2MSL", tr.Names[side], in, out)
	}
}

func wantReset(t *testing.T, tr *Trace, from Side) {
	t.Helper()
	rsts := sentBy(tr, from, func(s *Segment) bool { return s.Flags&wire.FlagRST != 0 })
	if len(rsts) != 1 {
		t.Fatalf("%d RSTs from %s, want 1", len(rsts), tr.Names[from])
	}
	peer := findChange(t, tr, from.Peer(), tcp.Established, tcp.Closed)
	if peer.Changes[0].Cause != tcp.CauseResetReceived || peer.Seg == nil || peer.Seg.ID != rsts[0].ID {
		t.Errorf("%s closed by %+v, cause %q", tr.Names[from.Peer()], peer.Seg, peer.Changes[0].Cause)
	}
	fails := false
	for _, st := range tr.Steps {
		if st.Side == from.Peer() && st.Kind == CallStep && strings.Contains(st.Text, "ECONNRESET") {
			fails = true
		}
	}
	if !fails {
		t.Errorf("%s's read did not fail with ECONNRESET", tr.Names[from.Peer()])
	}
}

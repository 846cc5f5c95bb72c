package progress

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// term is a fake terminal: it records what is written to it.
type term struct{ bytes.Buffer }

func (*term) IsTerminal() bool { return true }

// screen replays what was written to a terminal the way one shows it:
// "\r" returns to the start of the line, ESC [ K erases to its end.
func screen(out string) []string {
	lines := []string{""}
	col := 0
	for i := 0; i < len(out); i++ {
		cur := &lines[len(lines)-1]
		switch {
		case out[i] == '\r':
			col = 0
		case out[i] == '\n':
			lines = append(lines, "")
			col = 0
		case strings.HasPrefix(out[i:], "\033[K"):
			*cur = (*cur)[:col]
			i += 2
		default:
			if col < len(*cur) {
				*cur = (*cur)[:col] + string(out[i]) + (*cur)[col+1:]
			} else {
				*cur += string(out[i])
			}
			col++
		}
	}
	return lines
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) || !IsTerminal(&term{}) {
		t.Error("IsTerminal of a buffer and a fake terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

func TestLine(t *testing.T) {
	var tt term
	l := NewLine(&tt)
	l.Show("[1/3] running a.pkt")
	l.Println("FAIL a.pkt: timing error")
	l.Show("[2/3] running b.pkt\nwith a newline")
	l.Show(strings.Repeat("x", 200))
	got := screen(tt.String())
	want := []string{"FAIL a.pkt: timing error", strings.Repeat("x", Width-3) + "..."}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("screen %q, want %q", got, want)
	}
	l.Clear()
	if got := screen(tt.String()); got[len(got)-1] != "" {
		t.Errorf("after Clear: %q", got)
	}
	// Println without a status shown leaves nothing behind.
	l.Println("done")
	if got := screen(tt.String()); strings.Join(got, "|") != "FAIL a.pkt: timing error|done|" {
		t.Errorf("screen %q", got)
	}

	// Not a terminal: plain lines only, no escapes.
	var plain bytes.Buffer
	p := NewLine(&plain)
	p.Show("status")
	p.Println("PASS a.pkt")
	p.Clear()
	if plain.String() != "PASS a.pkt\n" || p.Active() {
		t.Errorf("plain output %q", plain.String())
	}
}

// clock is a fake clock that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) tick(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                { return &clock{t: time.Unix(1000, 0)} }
func last(tt *term) string            { s := screen(tt.String()); return s[len(s)-1] }
func frames(tt *term) int             { return strings.Count(tt.String(), "\r\033[K") }
func barWith(tt *term, c *clock, total int64) *Bar {
	b := NewBar(tt, "trace big.pcap", total)
	b.Now = c.now
	b.Bytes = true
	return b
}

func TestBar(t *testing.T) {
	var tt term
	c := newClock()
	b := barWith(&tt, c, 30<<20)
	// Work that ends before the delay shows nothing.
	b.Add(1 << 20)
	c.tick(Delay / 2)
	b.Add(1 << 20)
	if tt.Len() != 0 {
		t.Fatalf("drawn before the delay: %q", tt.String())
	}
	c.tick(Delay)
	b.Set(12 << 20)
	want := "trace big.pcap [============>                 ]  40%  12.0 MiB / 30.0 MiB"
	if got := last(&tt); got != want {
		t.Errorf("bar %q, want %q", got, want)
	}
	// Redraws are throttled.
	n := frames(&tt)
	for i := 0; i < 10; i++ {
		b.Add(1)
	}
	if frames(&tt) != n {
		t.Errorf("%d redraws within %v", frames(&tt)-n, Every)
	}
	c.tick(Every)
	b.Set(30 << 20)
	if got := last(&tt); got != "trace big.pcap [==============================] 100%  30.0 MiB / 30.0 MiB" {
		t.Errorf("full bar %q", got)
	}
	// A label change shows at once; more than the total stays at 100%.
	b.SetLabel("analysing")
	b.Set(40 << 20)
	if got := last(&tt); !strings.HasPrefix(got, "analysing [") || !strings.Contains(got, "100%") {
		t.Errorf("relabelled %q", got)
	}
	b.Done()
	if got := last(&tt); got != "" {
		t.Errorf("after Done the line shows %q", got)
	}

	// Unknown total, counts rather than bytes.
	var t2 term
	u := NewBar(&t2, "reading", 0)
	u.Now = c.now
	u.Set(5)
	c.tick(Delay)
	u.Set(7)
	if got := last(&t2); got != "reading  7" {
		t.Errorf("unknown total: %q", got)
	}

	// Not a terminal: nothing at all.
	var plain bytes.Buffer
	p := NewBar(&plain, "x", 10)
	p.Now = c.now
	p.Set(1)
	c.tick(time.Second)
	p.Set(5)
	p.SetLabel("y")
	p.Done()
	if plain.Len() != 0 || p.Active() {
		t.Errorf("a bar on a pipe wrote %q", plain.String())
	}
}

func TestBarReader(t *testing.T) {
	var tt term
	c := newClock()
	data := bytes.Repeat([]byte("pcap"), 1000)
	b := barWith(&tt, c, int64(len(data)))
	c.tick(Delay) // the bar starts at the first read
	r := b.Reader(iotest.OneByteReader(bytes.NewReader(data)), "analysing")
	buf := make([]byte, 1)
	for i := 0; ; i++ {
		if _, err := r.Read(buf); err == io.EOF {
			break
		}
		if i == 0 || i == 2000 {
			c.tick(Delay)
		}
	}
	out := screen(tt.String())
	if got := out[len(out)-1]; !strings.HasPrefix(got, "analysing [======") || !strings.HasSuffix(got, "100%  3.9 KiB / 3.9 KiB") {
		t.Errorf("after reading: %q", got)
	}
	if !strings.Contains(tt.String(), "trace big.pcap [") || !strings.Contains(tt.String(), " 50%  2.0 KiB / 3.9 KiB") {
		t.Errorf("no frame halfway: %q", tt.String())
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 12_600_000: "12.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

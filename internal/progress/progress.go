// Package progress keeps a status line or a progress bar at the bottom of
// a terminal for long work (a corpus run, a benchmark, a large capture),
// and stays silent when the output is not a terminal, so that logs and
// pipes get plain lines only.
//
// A Line is redrawn in place with a carriage return and "erase to end of
// line" (ESC [ K); permanent lines printed through it (Println) appear
// above it. A Bar is a Line that draws how far some work has come:
//
//	trace capture.pcap [==========>              ]  42%  12.6 MiB / 30.0 MiB
//
// Redraws are throttled, and the first one waits a moment, so that work
// that ends quickly shows nothing at all.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Terminal is implemented by writers that know whether they are a
// terminal; a fake terminal in tests implements it.
type Terminal interface {
	IsTerminal() bool
}

// IsTerminal reports whether w is a terminal: a character device, or a
// writer that says so (Terminal).
func IsTerminal(w io.Writer) bool {
	if t, ok := w.(Terminal); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Width is the widest a status line is drawn, so that it never wraps on
// an ordinary terminal.
const Width = 150

// erase returns the cursor to the start of the line and clears it.
const erase = "\r\033[K"

// Line is a status line at the bottom of a terminal. On anything else its
// Show and Clear do nothing and Println prints plain lines. It is safe for
// concurrent use.
type Line struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	shown string // the status on screen, "" if none
}

// NewLine returns a status line on w, active only if w is a terminal.
func NewLine(w io.Writer) *Line { return &Line{w: w, on: IsTerminal(w)} }

// Active reports whether the line is drawn (w is a terminal).
func (l *Line) Active() bool { return l.on }

// Show replaces the status with s (one line: newlines become spaces, and
// a status wider than Width is cut short with "...").
func (l *Line) Show(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.show(s)
}

func (l *Line) show(s string) {
	if !l.on {
		return
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > Width {
		s = string(r[:Width-3]) + "..."
	}
	fmt.Fprint(l.w, erase+s)
	l.shown = s
}

// Clear removes the status from the screen.
func (l *Line) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clear()
}

func (l *Line) clear() {
	if l.on && l.shown != "" {
		fmt.Fprint(l.w, erase)
	}
	l.shown = ""
}

// Println prints a permanent line (fmt.Sprint of a, and a newline) above
// the status, which stays as it was.
func (l *Line) Println(a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.shown
	l.clear()
	fmt.Fprintln(l.w, a...)
	if was != "" {
		l.show(was)
	}
}

// The throttle of a Bar: nothing is drawn for Delay after it starts, then
// at most once every Every.
const (
	Delay = 300 * time.Millisecond
	Every = 100 * time.Millisecond
)

// Bar draws the progress of work of a known size (or of an unknown one:
// then it shows how much is done). It is safe for concurrent use.
type Bar struct {
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
	// Bytes makes amounts print as sizes (KiB, MiB) rather than counts.
	Bytes bool

	line  *Line
	mu    sync.Mutex
	label string
	total int64
	done  int64
	start time.Time
	next  time.Time // the earliest next redraw
}

// NewBar returns a bar for work of size total (0: unknown) on w, drawn
// only if w is a terminal.
func NewBar(w io.Writer, label string, total int64) *Bar {
	return &Bar{line: NewLine(w), label: label, total: total}
}

// Active reports whether the bar is drawn (its writer is a terminal).
func (b *Bar) Active() bool { return b.line.on }

func (b *Bar) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Add records n more units done and redraws if it is time to.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	b.done += n
	b.redraw(false)
	b.mu.Unlock()
}

// Set records how much is done and redraws if it is time to.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	b.done = done
	b.redraw(false)
	b.mu.Unlock()
}

// SetLabel changes what the bar says it is doing, and redraws at once
// (once the initial delay is over).
func (b *Bar) SetLabel(label string) {
	b.mu.Lock()
	b.label = label
	b.redraw(true)
	b.mu.Unlock()
}

// Println prints a permanent line above the bar.
func (b *Bar) Println(a ...any) { b.line.Println(a...) }

// Done removes the bar from the screen.
func (b *Bar) Done() { b.line.Clear() }

func (b *Bar) redraw(force bool) {
	if !b.line.on {
		return
	}
	now := b.now()
	if b.start.IsZero() {
		b.start, b.next = now, now.Add(Delay)
	}
	if now.Before(b.next) && !(force && now.Sub(b.start) >= Delay) {
		return
	}
	b.next = now.Add(Every)
	b.line.Show(b.String())
}

// barWidth is the number of cells between the brackets.
const barWidth = 30

// String renders the bar: "label [=====>    ]  42%  12.6 MiB / 30.0 MiB",
// or "label  12.6 MiB" when the total is unknown.
func (b *Bar) String() string {
	amount := func(n int64) string {
		if b.Bytes {
			return Size(n)
		}
		return fmt.Sprint(n)
	}
	if b.total <= 0 {
		return fmt.Sprintf("%s  %s", b.label, amount(b.done))
	}
	done := min(max(b.done, 0), b.total)
	cells := int(done * barWidth / b.total)
	bar := strings.Repeat("=", cells)
	if cells < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-cells-1)
	}
	return fmt.Sprintf("%s [%s] %3d%%  %s / %s", b.label, bar, done*100/b.total, amount(done), amount(b.total))
}

// Size writes a byte count as people read it: "512 B", "12.6 KiB", "3.0 GiB".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// Reader returns a reader that reads from r and adds what it reads to the
// bar; at end of file it sets the bar's label to atEOF, if not empty (what
// comes after reading: "analysing").
func (b *Bar) Reader(r io.Reader, atEOF string) io.Reader {
	return &reader{r: r, b: b, atEOF: atEOF}
}

type reader struct {
	r     io.Reader
	b     *Bar
	atEOF string
	eof   bool
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.b.Add(int64(n))
	}
	if err == io.EOF && !r.eof && r.atEOF != "" {
		r.eof = true
		r.b.SetLabel(r.atEOF)
	}
	return n, err
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/synfin/synfin/internal/progress"
	"github.com/synfin/synfin/trace"
)

// traceClock is the progress bar's clock: nil is time.Now; tests replace it.
var traceClock func() time.Time

const traceUsage = `Usage: synfin trace FILE [--format text|svg|html|json] [--segments] [--half-close DURATION]

Reads a pcap or pcapng capture (Ethernet, raw IP, Linux cooked SLL or SLL2;
IPv4 and IPv6), groups TCP segments into connections and reconstructs both
ends' RFC 9293 states from the packets alone, as an observer at the capture
point. Each state change names its rule and says how it is known (observed,
confirmed, inferred, assumed). Anomalies: RSTs, retransmissions, reordering,
zero windows, connections left open, long half-closes, TIME_WAIT, unanswered
SYNs. FILE "-" reads standard input. --segments lists every segment in the
text report with what the packets show it to be and the rule it meets at its
receiver (cwnd is not in the packets: no capture can show it). On a terminal,
a progress bar on standard error follows the bytes read.

Flags:
`

func runTrace(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output `FORMAT`: text, svg, html or json")
	halfClose := fs.Duration("half-close", 0, "report a half-close longer than `DURATION` (default 1s)")
	segments := fs.Bool("segments", false, "list every segment with the rule it meets (text format)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), traceUsage)
		fs.PrintDefaults()
	}
	// Allow the file before or after the flags.
	var file string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fmt.Fprintf(stderr, "synfin trace: unexpected argument %q\n", fs.Arg(0))
			return exitUsage
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		fmt.Fprintln(stderr, "synfin trace: no capture file given")
		fs.Usage()
		return exitUsage
	}
	switch *format {
	case "text", "svg", "html", "json":
	default:
		fmt.Fprintf(stderr, "synfin trace: unknown format %q (text, svg, html or json)\n", *format)
		return exitUsage
	}
	var in io.Reader = os.Stdin
	var size int64 // 0: unknown
	name := "standard input"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "synfin trace: %v\n", err)
			return exitFail
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in, name = f, filepath.Base(file)
	}
	// A large capture takes a while: a bar on a terminal shows the bytes
	// read, then the analysis.
	bar := progress.NewBar(stderr, "reading "+name, size)
	bar.Now, bar.Bytes = traceClock, true
	a, err := trace.Read(bar.Reader(in, "analysing "+name), trace.Options{HalfClose: *halfClose})
	bar.Done()
	if err != nil {
		fmt.Fprintf(stderr, "synfin trace: %s: %v\n", file, err)
		return exitFail
	}
	switch *format {
	case "json":
		err = trace.WriteJSON(stdout, a)
	case "svg":
		err = trace.WriteSVG(stdout, a)
	case "html":
		err = trace.WriteHTML(stdout, a)
	default:
		err = trace.WriteTextWith(stdout, a, trace.TextOptions{Segments: *segments})
	}
	if err != nil {
		fmt.Fprintf(stderr, "synfin trace: %v\n", err)
		return exitFail
	}
	return exitOK
}

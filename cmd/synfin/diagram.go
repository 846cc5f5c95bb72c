package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/synfin/synfin/tour"
	synfintrace "github.com/synfin/synfin/trace"
	"github.com/synfin/synfin/viz"
)

const diagramUsage = `Usage: synfin diagram [--scenario NAME | --trace FILE.pcap|FILE.json] [-o FILE.svg|FILE.dot]

Draws the TCP state diagram of RFC 9293 (Figure 5): the eleven states and
every transition with its event and action. With --scenario, both ends' paths
through it in that tour scenario are highlighted and numbered in order; with
--trace, the paths of the two ends of a JSON-encoded viz.Ladder (LeftSteps and
RightSteps, named by Left and Right). The output format follows the -o file's
extension: .svg (the default, also on standard output) or .dot (Graphviz).

Flags:
`

func diagramFlags(out io.Writer) (*flag.FlagSet, *string, *string, *string) {
	fs := flag.NewFlagSet("diagram", flag.ContinueOnError)
	fs.SetOutput(out)
	scenario := fs.String("scenario", "", "highlight the paths of tour scenario `NAME`")
	trace := fs.String("trace", "", "highlight the paths of the viz.Ladder in JSON `FILE`")
	output := fs.String("o", "", "write to `FILE` (.svg or .dot) instead of SVG on standard output")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), diagramUsage)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(fs.Output(), "  %s\n        %s\n", strings.TrimSpace("-"+strings.Repeat("-", min(1, len(f.Name)-1))+f.Name+" "+name), usage)
		})
		fmt.Fprintf(fs.Output(), "\nScenarios:\n%s\n", indentList(tour.Names()))
	}
	return fs, scenario, trace, output
}

func runDiagram(args []string, stdout, stderr io.Writer) int {
	fs, scenario, trace, output := diagramFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synfin diagram: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *scenario != "" && *trace != "" {
		fmt.Fprintln(stderr, "synfin diagram: --scenario and --trace cannot be used together")
		return exitUsage
	}
	dot := false
	if *output != "" {
		switch strings.ToLower(filepath.Ext(*output)) {
		case ".svg":
		case ".dot", ".gv":
			dot = true
		default:
			fmt.Fprintf(stderr, "synfin diagram: cannot tell the format of %q: use a .svg or .dot file\n", *output)
			return exitUsage
		}
	}

	var paths []viz.Path
	switch {
	case *scenario != "":
		sc, ok := tour.Lookup(*scenario)
		if !ok {
			fmt.Fprintf(stderr, "synfin diagram: unknown scenario %q\nvalid scenarios: %s\n", *scenario, strings.Join(tour.Names(), ", "))
			return exitUsage
		}
		tr, err := tour.Run(sc)
		if err != nil {
			fmt.Fprintf(stderr, "synfin diagram: %v\n", err)
			return exitFail
		}
		paths = tr.Paths()
	case *trace != "":
		data, err := os.ReadFile(*trace)
		if err != nil {
			fmt.Fprintf(stderr, "synfin diagram: %v\n", err)
			return exitFail
		}
		var l viz.Ladder
		if an, perr := synfintrace.Read(bytes.NewReader(data), synfintrace.Options{}); perr == nil {
			// A capture (pcap or pcapng): the paths of its first
			// connection, reconstructed from the packets.
			if len(an.Conns) == 0 {
				fmt.Fprintf(stderr, "synfin diagram: %s: no TCP connection in the capture\n", *trace)
				return exitFail
			}
			paths = an.Conns[0].Paths()
			break
		}
		if err := json.Unmarshal(data, &l); err != nil {
			fmt.Fprintf(stderr, "synfin diagram: %s: neither a capture nor a JSON viz.Ladder: %v\n", *trace, err)
			return exitFail
		}
		left, right := l.Left, l.Right
		if left == "" {
			left = "left"
		}
		if right == "" {
			right = "right"
		}
		paths = []viz.Path{{Name: left, Steps: l.LeftSteps}, {Name: right, Steps: l.RightSteps}}
	}

	d := viz.StateDiagram(paths...)
	out := d.SVG()
	if dot {
		out = d.DOT()
	}
	if *output == "" {
		_, err := io.WriteString(stdout, out)
		if err != nil {
			return exitFail
		}
		return exitOK
	}
	if err := os.WriteFile(*output, []byte(out), 0o644); err != nil {
		fmt.Fprintf(stderr, "synfin diagram: %v\n", err)
		return exitFail
	}
	return exitOK
}

// writeTourVisual writes the tour's traces as SVG or HTML.
func writeTourVisual(format string, traces []*tour.Trace, stdout, stderr io.Writer) int {
	var err error
	if format == "svg" {
		err = tour.WriteSVG(stdout, traces)
	} else {
		err = tour.WriteHTML(stdout, traces)
	}
	if err != nil {
		fmt.Fprintf(stderr, "synfin tour: %v\n", err)
		return exitFail
	}
	return exitOK
}

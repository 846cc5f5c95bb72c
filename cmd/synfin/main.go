// Command synfin is the front end of synfin, a user-space TCP stack built to
// make TCP's connection lifecycle visible.
//
//	synfin tour [--state NAME] [--scenario NAME] [--list] [--format text|svg|html]
//	synfin diagram [--scenario NAME | --trace FILE.json] [-o FILE.svg|FILE.dot]
//	synfin serve --tun NAME --addr CIDR [--host-addr CIDR] [--http ADDR --dir DIR] [--echo ADDR] [--discard ADDR] [--pcap FILE] [--debug ADDR]
//	synfin get URL [-o FILE] --tun NAME --addr CIDR [--host-addr CIDR]
//	synfin ss --from DEBUGADDR
//	synfin trace FILE [--format text|svg|html|json] [--segments]
//	synfin web [--listen 127.0.0.1:8080] [--allow-remote]
//	synfin help [COMMAND]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/tour"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (a state never visited, an engine error)
	exitUsage = 2 // bad command line
)

const usageText = `synfin: a user-space TCP stack that makes TCP's connection lifecycle visible

Usage:
  synfin <command> [flags]

Commands:
  tour    run two synfin engines, in memory and in virtual time, through scenarios
          that together visit all eleven TCP states, printing every segment with
          both ends' states, its sender's cwnd and the RFC rule it met
  serve   run a synfin host on a TUN device: HTTP file server, echo, discard, debug endpoint
  get     download a URL with net/http over synfin on a TUN device
  ss      show the sockets table of a running synfin serve, like ss -tan
  diagram draw RFC 9293's TCP state diagram (SVG or DOT), a scenario's paths highlighted
  trace   reconstruct both ends' TCP states and anomalies from a pcap/pcapng capture
  run     run packetdrill scripts against synfin (virtual time) or the Linux kernel
  web     a local page that plays scenarios, captures and scripts on a ladder and the state diagram
  help    show this help, or a command's flags: synfin help tour
`

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "tour":
		return runTour(rest, stdout, stderr)
	case "serve":
		return runServe(rest, stdout, stderr)
	case "get":
		return runGet(rest, stdout, stderr)
	case "trace":
		return runTrace(rest, stdout, stderr)
	case "run":
		return runRun(rest, stdout, stderr)
	case "ss":
		return runSS(rest, stdout, stderr)
	case "diagram":
		return runDiagram(rest, stdout, stderr)
	case "web":
		return runWeb(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		if rest[0] == "tour" {
			fs, _ := tourFlags(stdout)
			fs.Usage()
			return exitOK
		}
		if rest[0] == "diagram" {
			fs, _, _, _ := diagramFlags(stdout)
			fs.Usage()
			return exitOK
		}
		fmt.Fprintf(stderr, "synfin help: unknown command %q\n\n%s", rest[0], usageText)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "synfin: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
}

type tourOptions struct {
	state, scenario string
	list            bool
	format          string
}

func tourFlags(out io.Writer) (*flag.FlagSet, *tourOptions) {
	o := &tourOptions{}
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.state, "state", "", "run only the scenarios that visit `STATE` (TIME_WAIT, time-wait, SYN-RECEIVED...)")
	fs.StringVar(&o.scenario, "scenario", "", "run only the scenario called `NAME` (see --list)")
	fs.BoolVar(&o.list, "list", false, "list the scenarios (those the other flags select) instead of running them")
	fs.StringVar(&o.format, "format", "text", "write `FORMAT`: text (with what each state means), svg (ladders and state diagrams) or html (one page with both)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: synfin tour [--state STATE] [--scenario NAME] [--list] [--format text|svg|html]

Runs two synfin TCP engines joined by an in-memory network in virtual time
(no sockets, no root, the same output every time) through scenarios that
together visit every state of RFC 9293. Every segment is serialised into an
IPv4 packet and parsed back before the peer gets it; each line shows the
segment's header fields, both ends' states, and the RFC rule behind each state
change. Without flags the whole tour runs and ends with a summary of which
scenarios visited which state.

Flags:
`)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(fs.Output(), "  %s\n        %s\n", strings.TrimSpace("--"+f.Name+" "+name), usage)
		})
		fmt.Fprintf(fs.Output(), "\nScenarios:\n%s\nStates:\n%s\n",
			indentList(tour.Names()), indentList(strings.Split(stateNames(), ", ")))
	}
	return fs, o
}

// indentList lays names out on indented lines of at most 80 columns.
func indentList(names []string) string {
	var b strings.Builder
	line := " "
	for i, n := range names {
		if i < len(names)-1 {
			n += ","
		}
		if len(line)+1+len(n) > 80 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + n
	}
	b.WriteString(line)
	return b.String()
}

func stateNames() string {
	var names []string
	for _, st := range tcp.States {
		names = append(names, st.String())
	}
	return strings.Join(names, ", ")
}

func runTour(args []string, stdout, stderr io.Writer) int {
	fs, o := tourFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synfin tour: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}

	if o.format != "text" && o.format != "svg" && o.format != "html" {
		fmt.Fprintf(stderr, "synfin tour: unknown format %q: use text, svg or html\n", o.format)
		return exitUsage
	}
	var state tcp.State
	if o.state != "" {
		st, ok := tcp.ParseState(o.state)
		if !ok {
			fmt.Fprintf(stderr, "synfin tour: unknown state %q\nvalid states: %s\n(RFC spellings such as SYN-RECEIVED and lower case work too)\n",
				o.state, stateNames())
			return exitUsage
		}
		state = st
	}
	scenarios := tour.Scenarios()
	if o.scenario != "" {
		sc, ok := tour.Lookup(o.scenario)
		if !ok {
			fmt.Fprintf(stderr, "synfin tour: unknown scenario %q\nvalid scenarios: %s\n",
				o.scenario, strings.Join(tour.Names(), ", "))
			return exitUsage
		}
		scenarios = []*tour.Scenario{sc}
	}

	// Run first, select after: which states a scenario visits is whatever
	// the engine did, not a claim written beside it.
	var traces []*tour.Trace
	for _, sc := range scenarios {
		tr, err := tour.Run(sc)
		if err != nil {
			fmt.Fprintf(stderr, "synfin tour: %v\n", err)
			return exitFail
		}
		if o.state == "" || tr.Visits(state) {
			traces = append(traces, tr)
		}
	}
	if len(traces) == 0 {
		fmt.Fprintf(stderr, "synfin tour: scenario %s does not visit %v\n", o.scenario, state)
		return exitFail
	}

	if o.list {
		w := 0
		for _, tr := range traces {
			w = max(w, len(tr.Name))
		}
		for _, tr := range traces {
			fmt.Fprintf(stdout, "%-*s  %s\n", w, tr.Name, tr.Title)
		}
		return exitOK
	}

	if o.format != "text" {
		return writeTourVisual(o.format, traces, stdout, stderr)
	}
	fmt.Fprint(stdout, tour.Legend+"\n")
	for i, tr := range traces {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := tour.WriteText(stdout, tr); err != nil {
			fmt.Fprintf(stderr, "synfin tour: %v\n", err)
			return exitFail
		}
		fmt.Fprintln(stdout)
		if err := tour.WriteStates(stdout, tr); err != nil {
			fmt.Fprintf(stderr, "synfin tour: %v\n", err)
			return exitFail
		}
	}
	if o.state != "" || o.scenario != "" {
		if o.state != "" {
			var names []string
			for _, tr := range traces {
				names = append(names, tr.Name)
			}
			fmt.Fprintf(stdout, "\n%d of %d scenarios visit %v: %s\n", len(traces), len(scenarios), state, strings.Join(names, ", "))
		}
		return exitOK
	}

	fmt.Fprintln(stdout)
	missing, err := tour.WriteSummary(stdout, traces)
	if err != nil {
		fmt.Fprintf(stderr, "synfin tour: %v\n", err)
		return exitFail
	}
	if len(missing) > 0 {
		var names []string
		for _, st := range missing {
			names = append(names, st.String())
		}
		fmt.Fprintf(stderr, "synfin tour: no scenario visits %s: the tour is incomplete\n", strings.Join(names, ", "))
		return exitFail
	}
	return exitOK
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/synfin/synfin/internal/progress"
	"github.com/synfin/synfin/pktdrill"
	"github.com/synfin/synfin/pktdrill/runner"
)

const runUsage = `usage: synfin run [--target synfin|kernel] [--pcap DIR] [--json FILE] [-D NAME=VAL]
                  [--tolerance_usecs N] [--tolerance_percent P] [-j N] [--retry N] [-v] PATH...

Runs packetdrill scripts (files, or directories searched for *.pkt) against a
target. Each script gets a line (PASS, FAIL with its error, SKIP with what is
missing); on a terminal a progress line is kept up to date and only failures
get lines. The last line is "N passed, N failed, N skipped"; the exit status is
0 only when no script failed.

  kernel  the Linux kernel, in a network namespace per script (needs root)
  synfin  synfin's stack, in virtual time

Flags:
`

// defineFlags collects repeated -D NAME=VALUE flags.
type defineFlags map[string]string

func (d defineFlags) String() string { return "" }

func (d defineFlags) Set(s string) error {
	name, value, err := pktdrill.ParseDefine(s)
	if err != nil {
		return err
	}
	d[name] = value
	return nil
}

type runJSON struct {
	File       string  `json:"file"`
	Status     string  `json:"status"`
	Message    string  `json:"message,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Attempts   int     `json:"attempts"`
	Pcap       string  `json:"pcap,omitempty"`
}

type runSummaryJSON struct {
	Target  string    `json:"target"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
	Skipped int       `json:"skipped"`
	Seconds float64   `json:"seconds"`
	Results []runJSON `json:"results"`
}

// findScripts expands the command line's paths: files as given,
// directories searched recursively for *.pkt, in lexical order.
func findScripts(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".pkt") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// oneLine puts a (multi-line) message on one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	target := fs.String("target", "synfin", "`target` to run the scripts against: synfin or kernel")
	pcapDir := fs.String("pcap", "", "write a pcapng capture per script into `DIR`")
	jsonFile := fs.String("json", "", "write the results as JSON to `FILE`")
	defines := defineFlags{}
	fs.Var(defines, "D", "define `NAME=VALUE` for the scripts (repeatable)")
	tolUsecs := fs.String("tolerance_usecs", "", "timing tolerance in `microseconds` (default 4000)")
	tolPct := fs.String("tolerance_percent", "", "timing tolerance as a `percent` of the time since the previous event (default 12.5)")
	jobs := fs.Int("j", 1, "run `N` scripts at a time")
	retries := fs.Int("retry", 0, "run a script that fails on a timing error up to `N` more times (for real-time targets on a busy machine)")
	verbose := fs.Bool("v", false, "trace every packet and call, and print failures in full")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "synfin run: no scripts given\n\n")
		fs.Usage()
		return exitUsage
	}
	t, ok := runner.LookupTarget(*target)
	if !ok {
		if *target == "synfin" {
			fmt.Fprintln(stderr, "synfin run: the synfin target is not available yet in this build (use --target kernel)")
		} else {
			fmt.Fprintf(stderr, "synfin run: unknown target %q (have: %s)\n", *target, strings.Join(runner.TargetNames(), ", "))
		}
		return exitUsage
	}
	files, err := findScripts(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "synfin run: %v\n", err)
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "synfin run: no .pkt scripts found")
		return exitUsage
	}
	if *jobs < 1 {
		*jobs = 1
	}
	allDefines := map[string]string{}
	for k, v := range runner.DefaultDefines {
		allDefines[k] = v
	}
	for k, v := range defines {
		allDefines[k] = v
	}
	options := map[string]string{}
	if *tolUsecs != "" {
		options["tolerance_usecs"] = *tolUsecs
	}
	if *tolPct != "" {
		options["tolerance_percent"] = *tolPct
	}
	var logMu sync.Mutex
	logw := writerFunc(func(p []byte) (int, error) {
		if !*verbose {
			return len(p), nil
		}
		logMu.Lock()
		defer logMu.Unlock()
		return stderr.Write(p)
	})
	opts := &runner.Options{
		Target:  t,
		Defines: allDefines,
		Options: options,
		PcapDir: *pcapDir,
		Log:     logw,
		Verbose: *verbose,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	bar := progress.NewLine(stdout) // the status line, on a terminal only
	term := bar.Active()
	start := time.Now()
	results := make([]*runner.Result, len(files))
	attempts := make([]int, len(files))
	var mu sync.Mutex
	var passed, failed, skipped, done int
	running := map[string]bool{}
	status := func() {
		if !term {
			return
		}
		var names []string
		for n := range running {
			names = append(names, n)
		}
		sort.Strings(names)
		line := fmt.Sprintf("[%d/%d] %d passed, %d failed, %d skipped  %s", done, len(files), passed, failed, skipped, strings.Join(names, " "))
		if len(line) > 150 {
			line = line[:147] + "..."
		}
		bar.Show(line)
	}
	report := func(res *runner.Result, tries int) {
		retried := ""
		if tries > 1 {
			retried = fmt.Sprintf(", attempt %d", tries)
		}
		mu.Lock()
		defer mu.Unlock()
		done++
		delete(running, res.File)
		switch res.Status {
		case runner.Pass:
			passed++
		case runner.Fail:
			failed++
		case runner.Skip:
			skipped++
		}
		if term {
			bar.Clear()
			switch res.Status {
			case runner.Fail:
				if *verbose {
					fmt.Fprintf(stdout, "FAIL %s\n%s\n", res.File, res.Message)
				} else {
					fmt.Fprintf(stdout, "FAIL %s: %s\n", res.File, oneLine(res.Message))
				}
			case runner.Skip:
				if *verbose {
					fmt.Fprintf(stdout, "SKIP %s: %s\n", res.File, res.Message)
				}
			}
			status()
			return
		}
		switch res.Status {
		case runner.Pass:
			fmt.Fprintf(stdout, "PASS %s (%.2fs%s)\n", res.File, res.Duration.Seconds(), retried)
		case runner.Fail:
			fmt.Fprintf(stdout, "FAIL %s (%.2fs%s): %s\n", res.File, res.Duration.Seconds(), retried, oneLine(res.Message))
		case runner.Skip:
			fmt.Fprintf(stdout, "SKIP %s: %s\n", res.File, oneLine(res.Message))
		}
	}

	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				mu.Lock()
				running[files[i]] = true
				status()
				mu.Unlock()
				res := runner.RunFile(ctx, files[i], opts)
				tries := 1
				for tries <= *retries && res.Status == runner.Fail && strings.Contains(res.Message, "timing error") && ctx.Err() == nil {
					res = runner.RunFile(ctx, files[i], opts)
					tries++
				}
				results[i], attempts[i] = res, tries
				report(res, tries)
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	bar.Clear()
	if ctx.Err() != nil {
		fmt.Fprintf(stdout, "interrupted after %d of %d scripts\n", done, len(files))
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)

	if *jsonFile != "" {
		sum := runSummaryJSON{Target: t.Name(), Passed: passed, Failed: failed, Skipped: skipped, Seconds: elapsed.Seconds()}
		for i, r := range results {
			if r == nil {
				continue
			}
			sum.Results = append(sum.Results, runJSON{File: r.File, Status: r.Status.String(), Message: r.Message,
				DurationMS: float64(r.Duration) / float64(time.Millisecond), Attempts: attempts[i], Pcap: r.Pcap})
		}
		b, _ := json.MarshalIndent(sum, "", "  ")
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "synfin run: %v\n", err)
			return exitFail
		}
	}
	if failed > 0 || ctx.Err() != nil {
		return exitFail
	}
	return exitOK
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

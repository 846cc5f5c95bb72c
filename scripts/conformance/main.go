// Command conformance formats the results of `synfin run --json` on the
// packetdrill corpus (and on examples/states) for the synfin and kernel
// targets as docs/conformance.md. scripts/conformance.sh runs it; see there.
//
//	go run ./scripts/conformance -corpus DIR -synfin S.json -kernel K.json \
//	    [-synfin-examples SE.json -kernel-examples KE.json] [-o FILE]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// summary is `synfin run --json`'s output.
type summary struct {
	Target  string   `json:"target"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Skipped int      `json:"skipped"`
	Seconds float64  `json:"seconds"`
	Results []result `json:"results"`
}

type result struct {
	File       string  `json:"file"`
	Status     string  `json:"status"`
	Message    string  `json:"message"`
	DurationMS float64 `json:"duration_ms"`
	Attempts   int     `json:"attempts"`
}

// issueDirs are the directories whose kernel-passing scripts synfin must
// pass.
var issueDirs = []string{"close", "blocking", "nagle", "syscall_bad_arg", "inq", "ioctl", "epoll", "eor"}

// recoveryDirs are the directories of issue #5 (loss recovery and
// congestion control), extraDirs the other features with their own
// directories.
var (
	recoveryDirs = []string{"sack", "fast_retransmit", "slow_start", "cubic", "cwnd_moderation", "tcp_info"}
	extraDirs    = []string{"ecn", "fastopen"}
)

func main() {
	corpus := flag.String("corpus", "", "the corpus's tcp `directory` (to name scripts relative to it)")
	synfinFile := flag.String("synfin", "", "`JSON` results of the synfin target on the corpus")
	kernelFile := flag.String("kernel", "", "`JSON` results of the kernel target on the corpus")
	synfinEx := flag.String("synfin-examples", "", "`JSON` results of the synfin target on examples/states")
	kernelEx := flag.String("kernel-examples", "", "`JSON` results of the kernel target on examples/states")
	out := flag.String("o", "", "write to `FILE` instead of standard output")
	flag.Parse()
	if *synfinFile == "" || *kernelFile == "" {
		fmt.Fprintln(os.Stderr, "conformance: -synfin and -kernel are required")
		os.Exit(2)
	}
	s, err := load(*synfinFile)
	check(err)
	k, err := load(*kernelFile)
	check(err)
	var se, ke *summary
	if *synfinEx != "" && *kernelEx != "" {
		se, err = load(*synfinEx)
		check(err)
		ke, err = load(*kernelEx)
		check(err)
	}
	w := io.Writer(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		check(err)
		defer f.Close()
		w = f
	}
	write(w, *corpus, s, k, se, ke)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func load(file string) (*summary, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return &s, nil
}

// relName names a script relative to dir ("close/close-on-syn-sent.pkt").
func relName(dir, file string) string {
	if dir != "" {
		if r, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(file)
}

// byName indexes results by script name, messages made relative too.
func byName(dir string, s *summary) map[string]result {
	m := map[string]result{}
	for _, r := range s.Results {
		n := relName(dir, r.File)
		if dir != "" {
			r.Message = strings.ReplaceAll(r.Message, strings.TrimSuffix(dir, "/")+"/", "")
		}
		m[n] = r
	}
	return m
}

var spaces = regexp.MustCompile(`\s+`)

// cell is one result in a table: pass, skip: feature, fail: first line.
func cell(r result, ok bool) string {
	if !ok {
		return "—"
	}
	msg := headline(r.Message)
	msg = spaces.ReplaceAllString(strings.TrimSpace(msg), " ")
	// "file.pkt:12: error handling packet: ..." -> "line 12: ..."
	if m := regexp.MustCompile(`^[^ ]+\.pkt:(\d+): `).FindStringSubmatch(msg); m != nil {
		msg = "line " + m[1] + ": " + msg[len(m[0]):]
	}
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	msg = strings.ReplaceAll(msg, "|", `\|`)
	switch r.Status {
	case "pass":
		if r.Attempts > 1 {
			return fmt.Sprintf("pass (attempt %d)", r.Attempts)
		}
		return "pass"
	case "skip":
		return "skip: " + msg
	}
	return "**fail**: " + msg
}

var (
	scriptLine = regexp.MustCompile(`\.pkt(:\d+)?: `)
	pyError    = regexp.MustCompile(`^[A-Za-z]+Error\b`)
)

// headline picks the line of a (multi-line) message that says what went
// wrong: the first "file.pkt:N: ..." line (a Python block may have printed
// before it), with the exception of a failed Python block appended.
func headline(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	head := lines[0]
	for _, l := range lines {
		if scriptLine.MatchString(l) {
			head = l
			break
		}
	}
	if strings.Contains(head, "error in Python code") {
		for _, l := range lines {
			if l = strings.TrimSpace(l); pyError.MatchString(l) {
				head += " (" + l + ")"
				break
			}
		}
	}
	return head
}

type counts struct{ pass, fail, skip int }

func (c *counts) add(status string) {
	switch status {
	case "pass":
		c.pass++
	case "fail":
		c.fail++
	case "skip":
		c.skip++
	}
}

func (c counts) String() string { return fmt.Sprintf("%d / %d / %d", c.pass, c.fail, c.skip) }

func write(w io.Writer, corpus string, s, k, se, ke *summary) {
	sr, kr := byName(corpus, s), byName(corpus, k)
	names := map[string]bool{}
	for n := range sr {
		names[n] = true
	}
	for n := range kr {
		names[n] = true
	}
	var all []string
	for n := range names {
		all = append(all, n)
	}
	sort.Strings(all)

	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# packetdrill conformance\n\n")
	p("<!-- Generated by scripts/conformance.sh; do not edit. -->\n")
	p("Regenerate with `sudo scripts/conformance.sh` from the repository root (root: the kernel target\n")
	p("creates a network namespace and a TUN device per script). It runs every script of the packetdrill\n")
	p("corpus (`gtests/net/tcp`, see `../shared/conformance/packetdrill/README.md`) and every example of\n")
	p("`examples/states` with `synfin run --json`, once on each target, one script at a time:\n\n")
	p("- **synfin**: synfin's stack in process, in virtual time (`pktdrill/runner/synfin.go`);\n")
	p("- **kernel**: the Linux kernel of the machine, through a TUN device in a fresh network namespace, in real time.\n\n")
	p("A script is *skipped* when the target lacks a feature it needs (named in the result): synfin has no\n")
	p("MD5 signatures, error queue, timestamping, zerocopy, MTU probing, UDP, splice, sendfile, nstat\n")
	p("counters or `tcpi_delivered`. A run that fails on a timing error is retried up to\n")
	p("twice (`--retry 2`); \"attempt N\" marks a pass that needed it.\n\n")

	p("## Summary\n\n")
	p("| target | scripts | passed | failed | skipped | wall time |\n|---|---:|---:|---:|---:|---:|\n")
	for _, x := range []*summary{s, k} {
		p("| %s | %d | %d | %d | %d | %.1f s |\n", x.Target, len(x.Results), x.Passed, x.Failed, x.Skipped, x.Seconds)
	}
	if k.Seconds > 0 {
		p("\nThe synfin target took %.1f%% of the kernel target's wall time.\n", 100*s.Seconds/k.Seconds)
	}

	for _, set := range []struct {
		title string
		dirs  []string
	}{{"The runner issue's directories (#4)", issueDirs}, {"Loss recovery and congestion control (#5)", recoveryDirs}, {"ECN and TCP Fast Open", extraDirs}} {
		p("\n## %s\n\n", set.title)
		p("Every script of %s that the kernel passes must pass on synfin; a skip names the missing feature.\n\n",
			"`"+strings.Join(set.dirs, "`, `")+"`")
		var bad, skipped []string
		for _, n := range all {
			dir, _, _ := strings.Cut(n, "/")
			in := false
			for _, d := range set.dirs {
				in = in || d == dir
			}
			if !in {
				continue
			}
			kres, kok := kr[n]
			sres, sok := sr[n]
			if !kok || kres.Status != "pass" {
				continue
			}
			switch {
			case sok && sres.Status == "skip":
				skipped = append(skipped, fmt.Sprintf("- `%s`: %s", n, cell(sres, sok)))
			case !sok || sres.Status != "pass":
				bad = append(bad, fmt.Sprintf("- `%s`: %s", n, cell(sres, sok)))
			}
		}
		if len(bad) == 0 {
			p("Every one the kernel passes either passes on synfin or is skipped for a feature synfin lacks.\n")
		} else {
			p("Passed by the kernel, failed by synfin:\n\n%s\n", strings.Join(bad, "\n"))
		}
		if len(skipped) > 0 {
			p("\nPassed by the kernel, skipped on synfin:\n\n%s\n", strings.Join(skipped, "\n"))
		}
	}

	p("\n## By directory\n\n")
	p("Passed / failed / skipped.\n\n| directory | scripts | synfin | kernel |\n|---|---:|---|---|\n")
	dirs := map[string]*[2]counts{}
	var dirNames []string
	for _, n := range all {
		d := path.Dir(n)
		if dirs[d] == nil {
			dirs[d] = &[2]counts{}
			dirNames = append(dirNames, d)
		}
		if r, ok := sr[n]; ok {
			dirs[d][0].add(r.Status)
		}
		if r, ok := kr[n]; ok {
			dirs[d][1].add(r.Status)
		}
	}
	for _, d := range dirNames {
		c := dirs[d]
		p("| %s | %d | %s | %s |\n", d, c[0].pass+c[0].fail+c[0].skip, c[0], c[1])
	}

	p("\n## Every script\n\n| script | synfin | kernel |\n|---|---|---|\n")
	for _, n := range all {
		sres, sok := sr[n]
		kres, kok := kr[n]
		p("| %s | %s | %s |\n", n, cell(sres, sok), cell(kres, kok))
	}

	if se != nil && ke != nil {
		p("\n## State examples (examples/states)\n\n")
		p("Commented scripts for each TCP state and transition; each must pass on both targets\n")
		p("(`go test ./examples/` checks it, on the kernel when run as root).\n\n")
		p("| target | passed | failed | skipped | wall time |\n|---|---:|---:|---:|---:|\n")
		for _, x := range []*summary{se, ke} {
			p("| %s | %d | %d | %d | %.1f s |\n", x.Target, x.Passed, x.Failed, x.Skipped, x.Seconds)
		}
		ser, ker := byName("", se), byName("", ke)
		var ex []string
		for n := range ser {
			ex = append(ex, n)
		}
		sort.Strings(ex)
		p("\n| script | synfin | kernel |\n|---|---|---|\n")
		for _, n := range ex {
			sres, sok := ser[n]
			kres, kok := ker[n]
			p("| %s | %s | %s |\n", path.Base(n), cell(sres, sok), cell(kres, kok))
		}
	}
}

package runner

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// synfinCorpusExpect is what each script of the directories does on
// the synfin target: "pass", "skip: FEATURE" (skipped, naming the feature
// synfin lacks) or "fail: WHY" (known failures; each of these fails on the
// Linux kernel too, see the corpus README). A change of outcome fails
// TestSynfinCorpus, so regressions (and improvements) are noticed.
var synfinCorpusExpect = map[string]string{
	"close/close-local-close-then-remote-fin.pkt": "pass",
	"close/close-on-syn-sent.pkt":                 "pass",
	"close/close-remote-fin-then-close.pkt":       "pass",

	"blocking/blocking-accept.pkt":  "pass",
	"blocking/blocking-connect.pkt": "pass",
	"blocking/blocking-read.pkt":    "pass",
	"blocking/blocking-write.pkt":   "pass",

	"nagle/https_client.pkt":         "pass",
	"nagle/sendmsg_msg_more.pkt":     "pass",
	"nagle/sockopt_cork_nodelay.pkt": "pass",

	"syscall_bad_arg/fastopen-invalid-buf-ptr.pkt": "pass",
	"syscall_bad_arg/sendmsg-empty-iov.pkt":        "pass",
	"syscall_bad_arg/syscall-invalid-buf-ptr.pkt":  "pass",

	"inq/client.pkt": "pass",
	"inq/server.pkt": "pass",

	"ioctl/ioctl-siocinq-fin.pkt": "pass",

	"epoll/epoll_in_edge.pkt":                        "pass",
	"epoll/epoll_out_edge.pkt":                       "fail: TSO packet boundaries and PSH (the kernel fails it too)",
	"epoll/epoll_out_edge_default_notsent_lowat.pkt": "fail: TSO packet boundaries and PSH (the kernel fails it too)",
	"epoll/epoll_out_edge_notsent_lowat.pkt":         "fail: TSO packet boundaries and PSH (the kernel fails it too)",

	"eor/no-coalesce-large.pkt":      "pass",
	"eor/no-coalesce-retrans.pkt":    "pass",
	"eor/no-coalesce-small.pkt":      "pass",
	"eor/no-coalesce-subsequent.pkt": "pass",

	// Loss recovery (issue #5; cubic/, slow_start/, tcp_info/ and ecn/ are
	// pinned by their own tests).
	"sack/sack-route-refresh-ip-tos.pkt":          "pass",
	"sack/sack-shift-sacked-2-6-8-3-9-nofack.pkt": "pass",
	"sack/sack-shift-sacked-7-3-4-8-9-fack.pkt":   "pass",
	"sack/sack-shift-sacked-7-5-6-8-9-fack.pkt":   "pass",

	"fast_retransmit/fr-4pkt-fack-last-byte.pkt": "pass",
	"fast_retransmit/fr-4pkt-fack-last-mss.pkt":  "fail: a timing error like the kernel's (`:27: error handling packet: timing error`)",
	"fast_retransmit/fr-4pkt-sack.pkt":           "pass",
	"fast_retransmit/fr-4pkt.pkt":                "pass",

	"cwnd_moderation/cwnd-moderation-disorder-no-moderation.pkt":          "pass",
	"cwnd_moderation/cwnd-moderation-ecn-enter-cwr-no-moderation-700.pkt": "fail: PRR gives cwnd 5 where the script expects 4, as on the kernel (`:24: error in Python code`, `AssertionError: 5`)",
}

// synfinCorpusDirs are the directories the issue asks synfin to pass.
var synfinCorpusDirs = []string{"close", "blocking", "nagle", "syscall_bad_arg", "inq", "ioctl", "epoll", "eor", "sack", "fast_retransmit", "cwnd_moderation"}

// packetdrillCorpus locates the packetdrill corpus's tcp directory:
// $SYNFIN_PACKETDRILL_CORPUS (the directory holding tcp/), or
// ../shared/conformance/packetdrill next to the module. Under CI=true a
// missing corpus fails the test; otherwise the test is skipped.
func packetdrillCorpus(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SYNFIN_PACKETDRILL_CORPUS")
	if dir == "" {
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
					dir = filepath.Join(d, "..", "shared", "conformance", "packetdrill")
					break
				}
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	tcpDir := filepath.Join(dir, "tcp")
	if st, err := os.Stat(tcpDir); err == nil && st.IsDir() && dir != "" {
		return tcpDir
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("packetdrill corpus not found (%q); set SYNFIN_PACKETDRILL_CORPUS", dir)
	}
	t.Skipf("packetdrill corpus not found (%q); set SYNFIN_PACKETDRILL_CORPUS", dir)
	return ""
}

// TestSynfinCorpus runs the corpus directories on the synfin target
// and compares each outcome with synfinCorpusExpect. Virtual time makes it
// fast: the whole set runs in well under a second of stack time.
func TestSynfinCorpus(t *testing.T) {
	runSynfinCorpus(t, synfinCorpusDirs, synfinCorpusExpect)
}

// runSynfinCorpus runs every script under dirs (recursively, relative to the
// corpus's tcp/) on the synfin target and checks each outcome against
// expect, keyed by the same relative path. A script missing from expect, or
// listed but not in the corpus, fails the test: outcomes are pinned, so any
// change, for better or worse, is noticed.
func runSynfinCorpus(t *testing.T, dirs []string, expect map[string]string) {
	t.Helper()
	root := packetdrillCorpus(t)
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".pkt") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	seen := map[string]bool{}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		t.Run(rel, func(t *testing.T) {
			want, ok := expect[rel]
			if !ok {
				t.Fatalf("new corpus script: pin its expected outcome")
			}
			checkOutcome(t, RunFile(context.Background(), f, &Options{Target: Synfin(), Defines: DefaultDefines}), want)
		})
	}
	for rel := range expect {
		if !seen[rel] {
			t.Errorf("%s is pinned but not in the corpus", rel)
		}
	}
}

// checkOutcome compares a result with an expectation: "pass"; "skip:
// FEATURE" (skipped, the message naming the feature first); or "fail: WHY"
// (failed; every `backquoted` part of WHY must appear in the message, so a
// known failure is pinned to where and how it fails).
func checkOutcome(t *testing.T, res *Result, want string) {
	t.Helper()
	kind, detail, _ := strings.Cut(want, ": ")
	switch kind {
	case "pass":
		if res.Status != Pass {
			t.Errorf("%v, want pass: %s", res.Status, res.Message)
		}
	case "skip":
		if res.Status != Skip || !strings.HasPrefix(res.Message, detail) {
			t.Errorf("%v %q, want skip for %q", res.Status, res.Message, detail)
		}
	case "fail":
		if res.Status != Fail {
			t.Errorf("%v (%s), pinned as a known failure (%s)", res.Status, res.Message, detail)
			return
		}
		parts := strings.Split(detail, "`")
		for i := 1; i < len(parts); i += 2 {
			if !strings.Contains(res.Message, parts[i]) {
				t.Errorf("failed with %q, want it to mention %q (%s)", res.Message, parts[i], detail)
			}
		}
	default:
		t.Fatalf("bad expectation %q", want)
	}
}

package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/synfin/synfin/pktdrill"
)

// TCPInfoFields are the tcp_info variables packetdrill gives %{ }% blocks,
// in its order. A target's TCPInfo returns these names (it may add others,
// such as SK_MEMINFO_* or bbr_*).
var TCPInfoFields = []string{
	"tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff",
	"tcpi_options", "tcpi_snd_wscale", "tcpi_rcv_wscale", "tcpi_delivery_rate_app_limited",
	"tcpi_rto", "tcpi_ato", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_unacked", "tcpi_sacked",
	"tcpi_lost", "tcpi_retrans", "tcpi_fackets", "tcpi_last_data_sent", "tcpi_last_ack_sent",
	"tcpi_last_data_recv", "tcpi_last_ack_recv", "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt",
	"tcpi_rttvar", "tcpi_snd_ssthresh", "tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering",
	"tcpi_total_retrans", "tcpi_pacing_rate", "tcpi_max_pacing_rate", "tcpi_rcv_rtt",
	"tcpi_rcv_space", "tcpi_bytes_acked", "tcpi_bytes_received", "tcpi_segs_out", "tcpi_segs_in",
	"tcpi_notsent_bytes", "tcpi_min_rtt", "tcpi_data_segs_in", "tcpi_data_segs_out",
	"tcpi_delivery_rate", "tcpi_busy_time", "tcpi_rwnd_limited", "tcpi_sndbuf_limited",
	"tcpi_delivered", "tcpi_delivered_ce", "tcpi_bytes_sent", "tcpi_bytes_retrans",
	"tcpi_dsack_dups", "tcpi_reord_seen",
}

// codeSymbols are the names packetdrill defines for Python code.
var codeSymbols = []struct {
	name  string
	value int64
}{
	{"TCP_ESTABLISHED", 1}, {"TCP_SYN_SENT", 2}, {"TCP_SYN_RECV", 3}, {"TCP_FIN_WAIT1", 4},
	{"TCP_FIN_WAIT2", 5}, {"TCP_TIME_WAIT", 6}, {"TCP_CLOSE", 7}, {"TCP_CLOSE_WAIT", 8},
	{"TCP_LAST_ACK", 9}, {"TCP_LISTEN", 10}, {"TCP_CLOSING", 11},
	{"TCP_CA_Open", 0}, {"TCP_CA_Disorder", 1}, {"TCP_CA_CWR", 2}, {"TCP_CA_Recovery", 3}, {"TCP_CA_Loss", 4},
	{"TCPI_OPT_TIMESTAMPS", 1}, {"TCPI_OPT_WSCALE", 4}, {"TCPI_OPT_ECN", 8}, {"TCPI_OPT_SYN_DATA", 32},
}

// codeFragment is a %{ }% block with the TCP_INFO snapshot taken when its
// line was reached.
type codeFragment struct {
	line int
	text string
	vars map[string]int64
}

// codeText strips spaces and tabs from both ends, as packetdrill's lexer
// does (Python is sensitive to leading white space).
func codeText(s string) string { return strings.Trim(s, " \t") }

func (r *run) codeEvent(e *evt, c *pktdrill.Code) error {
	if err := r.waitForEvent(e, "data collection for code"); err != nil {
		return err
	}
	if r.sut == nil {
		return r.errorf(e.line, "runtime error in code: no socket to use for code")
	}
	vars, err := r.inst.TCPInfo(r.sut.fd)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		return r.errorf(e.line, "runtime error in code: can't find getsockopt to get TCP info: %v", err)
	}
	r.code = append(r.code, codeFragment{line: e.line, text: codeText(c.Text), vars: vars})
	return nil
}

const pythonPreamble = `import sys
import traceback
def excepthook(etype, value, tb):
  sys.stderr.write("%s:%d: error in Python code\n" % (_file, _line))
  traceback.print_exception(etype, value, tb)

sys.excepthook = excepthook

`

// codeProgram is the Python program for the script's code blocks.
func (r *run) codeProgram() string {
	var b strings.Builder
	b.WriteString(pythonPreamble)
	quoted := strings.ReplaceAll(strings.ReplaceAll(r.file, `\`, `\\`), `'`, `\'`)
	for _, f := range r.code {
		for _, s := range codeSymbols {
			fmt.Fprintf(&b, "%s = %d\n", s.name, s.value)
		}
		seen := map[string]bool{}
		for _, name := range TCPInfoFields {
			if v, ok := f.vars[name]; ok {
				fmt.Fprintf(&b, "%s = %d\n", name, uint64(v))
				seen[name] = true
			}
		}
		var extra []string
		for name := range f.vars {
			if !seen[name] {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		for _, name := range extra {
			fmt.Fprintf(&b, "%s = %d\n", name, uint64(f.vars[name]))
		}
		fmt.Fprintf(&b, "\n_file = '%s'\n_line = %d\n%s\n\n", quoted, f.line, f.text)
	}
	return b.String()
}

// runCode runs the code blocks, after the script's events, as packetdrill
// does.
func (r *run) runCode() error {
	if len(r.code) == 0 {
		return nil
	}
	py := r.opts.Python
	if py == "" {
		py = r.options["code_command"]
	}
	if py == "" {
		py = "python3"
	}
	f, err := os.CreateTemp("", "synfin-code-*.py")
	if err != nil {
		return fmt.Errorf("%s: error executing code: %v", r.file, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(r.codeProgram()); err != nil {
		f.Close()
		return fmt.Errorf("%s: error executing code: %v", r.file, err)
	}
	f.Close()
	args := strings.Fields(py)
	if _, err := exec.LookPath(args[0]); err != nil {
		return &UnsupportedError{Feature: "Python for %{ }% blocks", Detail: err.Error()}
	}
	cmd := exec.Command(args[0], append(args[1:], f.Name())...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = fmt.Sprintf("'%s' returned non-zero status %d", py, ee.ExitCode())
		}
		text := strings.TrimRight(out.String(), "\n")
		if text != "" {
			return fmt.Errorf("%s\n%s: error executing code: %s", text, r.file, msg)
		}
		return fmt.Errorf("%s: error executing code: %s", r.file, msg)
	}
	return nil
}

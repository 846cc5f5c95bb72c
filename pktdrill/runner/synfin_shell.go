package runner

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/synfin/synfin/tcp/cc"
)

// sysctlSaved is a value set_sysctls.py replaced, for the restore script.
type sysctlSaved struct{ name, value string }

func (in *synfinInstance) Shell(cmd string) error {
	if in.closed {
		return fmt.Errorf("synfin: instance closed")
	}
	for _, pipeline := range shellSplit(cmd) {
		if err := in.shellList(pipeline); err != nil {
			return err
		}
	}
	return nil
}

// shellList runs one command list: commands joined by ; && and ||.
func (in *synfinInstance) shellList(cmds []shellCmd) error {
	skip := false
	for _, c := range cmds {
		if skip {
			skip = c.op == "&&" || c.op == "|"
			continue
		}
		err := in.shellCommand(c)
		if err != nil {
			if _, unsup := err.(*UnsupportedError); unsup || c.op != "||" {
				return err
			}
			continue // a || b: b runs when a fails
		}
		skip = c.op == "||"
	}
	return nil
}

// shellCmd is one simple command: its words (quotes removed), its output
// redirection target, whether it is piped into the next, and the operator
// that follows it (";", "&&", "||", "|" or "").
type shellCmd struct {
	words    []string
	redirect string
	pipe     bool
	op       string
}

// shellSplit parses a command text: backslash-newline joins lines,
// newlines and ; separate commands, # starts a comment, quotes group words.
// Redirections of stderr and to /dev/null are dropped; one to a file is
// kept. Each returned list is one line's commands.
func shellSplit(text string) [][]shellCmd {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out [][]shellCmd
	for _, line := range strings.Split(text, "\n") {
		var cmds []shellCmd
		cur := shellCmd{}
		var word strings.Builder
		inWord := false
		flush := func() {
			if inWord {
				cur.words = append(cur.words, word.String())
				word.Reset()
				inWord = false
			}
		}
		end := func(op string) {
			flush()
			cur.op = op
			cur.pipe = op == "|"
			if len(cur.words) > 0 {
				cmds = append(cmds, cur)
			}
			cur = shellCmd{}
		}
		for i := 0; i < len(line); i++ {
			ch := line[i]
			switch {
			case ch == '#' && !inWord:
				i = len(line)
			case ch == '"' || ch == '\'':
				j := strings.IndexByte(line[i+1:], ch)
				if j < 0 {
					j = len(line) - i - 1
				}
				word.WriteString(line[i+1 : i+1+j])
				inWord = true
				i += j + 1
			case ch == ' ' || ch == '\t' || ch == '\r':
				flush()
			case ch == ';':
				end(";")
			case ch == '&' && i+1 < len(line) && line[i+1] == '&':
				end("&&")
				i++
			case ch == '|' && i+1 < len(line) && line[i+1] == '|':
				end("||")
				i++
			case ch == '|':
				end("|")
			case ch == '&' && i+1 < len(line) && line[i+1] == '>':
				// &> file: both streams.
				flush()
				i++
				cur.redirect = shellRedirectTarget(line, &i)
			case ch == '>' || (ch >= '0' && ch <= '9' && !inWord && i+1 < len(line) && line[i+1] == '>'):
				flush()
				fd := byte('1')
				if ch != '>' {
					fd = ch
					i++
				}
				if i+1 < len(line) && line[i+1] == '>' {
					i++ // >>
				}
				if i+1 < len(line) && line[i+1] == '&' {
					i += 2 // 2>&1
					for i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9' {
						i++
					}
					continue
				}
				target := shellRedirectTarget(line, &i)
				if fd == '1' && target != "/dev/null" {
					cur.redirect = target
				}
			default:
				word.WriteByte(ch)
				inWord = true
			}
		}
		end("")
		if len(cmds) > 0 {
			out = append(out, cmds)
		}
	}
	return out
}

// shellRedirectTarget reads the word after a redirection operator at *i.
func shellRedirectTarget(line string, i *int) string {
	j := *i + 1
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	k := j
	for k < len(line) && line[k] != ' ' && line[k] != '\t' && line[k] != ';' && line[k] != '&' && line[k] != '|' {
		k++
	}
	*i = k - 1
	return strings.Trim(line[j:k], `"'`)
}

// shellCommand emulates one command.
func (in *synfinInstance) shellCommand(c shellCmd) error {
	name := c.words[0]
	args := c.words[1:]
	base := path.Base(name)
	switch {
	case base == "defaults.sh":
		// packetdrill's gtests/net/common/defaults.sh: its sysctls (its tc
		// and ip tcp_metrics lines need nothing here: synfin has no qdisc
		// and no metrics cache). tcp_rmem's maximum, 15 MiB, is why the
		// corpus's SYN-ACKs announce wscale 8: the window scale is the shift
		// that brings the largest receive space under 64 KiB.
		for _, d := range PacketdrillDefaults {
			if err := in.sysctl(d.Name, d.Value, true); err != nil {
				return err
			}
		}
		in.note("defaults.sh: packetdrill's default sysctls applied")
		return nil
	case base == "set_sysctls.py":
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return fmt.Errorf("set_sysctls.py: bad argument %q", a)
			}
			name := sysctlName(k)
			in.restore = append(in.restore, sysctlSaved{name, in.sysctlValue(name)})
			if err := in.sysctl(name, v, false); err != nil {
				return err
			}
		}
		return nil
	case strings.HasPrefix(name, "/tmp/sysctl_restore_"):
		for i := len(in.restore) - 1; i >= 0; i-- {
			r := in.restore[i]
			if r.value == "" {
				continue
			}
			if err := in.sysctl(r.name, r.value, true); err != nil {
				return err
			}
		}
		in.restore = nil
		return nil
	case base == "sysctl":
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return &UnsupportedError{Feature: "shell command sysctl", Detail: "reading " + a}
			}
			if err := in.sysctl(sysctlName(k), v, false); err != nil {
				return err
			}
		}
		return nil
	case base == "echo":
		if c.redirect == "" {
			return nil
		}
		if strings.HasPrefix(c.redirect, "/proc/sys/") {
			return in.sysctl(sysctlName(c.redirect), strings.Join(args, " "), false)
		}
		if name, ok := strings.CutPrefix(c.redirect, "/sys/module/tcp_cubic/parameters/"); ok {
			return in.cubicParam(name, strings.Join(args, " "))
		}
		return &UnsupportedError{Feature: "shell command echo", Detail: "writing " + c.redirect}
	case base == "tc":
		// A qdisc that holds nothing (pfifo limit 0) is the scripts' way
		// to make transmissions fail; any other qdisc lets them through.
		if len(args) > 0 && args[0] == "qdisc" {
			blocked := false
			for i := 1; i+1 < len(args); i++ {
				if args[i] == "limit" && args[i+1] == "0" {
					blocked = true
				}
			}
			if in.st != nil {
				in.st.SetTxBlocked(blocked)
			}
			if blocked {
				return nil
			}
		}
		in.note("tc ignored (synfin has no qdisc): %s", strings.Join(c.words, " "))
		return nil
	case base == "ip" && len(args) > 0 && args[0] == "tcp_metrics":
		// The only metrics synfin keeps are TCP Fast Open's cookie cache.
		if len(args) > 1 && args[1] == "flush" {
			if in.st != nil {
				in.st.FlushFastOpenCache()
			}
			return nil
		}
		in.note("ip tcp_metrics ignored: %s", strings.Join(c.words, " "))
		return nil
	case base == "ip":
		return &UnsupportedError{Feature: "route attributes (ip route)", Detail: strings.Join(c.words, " ")}
	case base == "ethtool":
		return in.ethtool(args)
	case base == "nstat":
		if c.pipe {
			return &UnsupportedError{Feature: "SNMP/netstat counters (nstat)"}
		}
		in.note("nstat ignored")
		return nil
	case base == "sleep":
		if len(args) == 1 {
			if s, err := strconv.ParseFloat(args[0], 64); err == nil && s >= 0 && s < 1e6 {
				in.run(in.clk.now+time.Duration(s*float64(time.Second)), nil)
				return nil
			}
		}
		return &UnsupportedError{Feature: "shell command sleep", Detail: strings.Join(args, " ")}
	case base == "true" || base == ":":
		return nil
	case base == "false":
		return fmt.Errorf("false: exit status 1")
	}
	return &UnsupportedError{Feature: "shell command " + base}
}

// ethtool handles -K (offloads) for tun0: tso and gso turn the link's
// segmentation offload off or on.
func (in *synfinInstance) ethtool(args []string) error {
	if len(args) < 2 || (args[0] != "-K" && args[0] != "--offload" && args[0] != "--features") {
		in.note("ethtool %s ignored", strings.Join(args, " "))
		return nil
	}
	for i := 2; i+1 < len(args); i += 2 {
		on := args[i+1] == "on"
		switch args[i] {
		case "tso", "gso":
			if in.st != nil && in.gso != on {
				return &UnsupportedError{Feature: "changing TSO once the stack runs"}
			}
			in.gso = on
		default:
			in.note("ethtool %s %s ignored", args[i], args[i+1])
		}
	}
	return nil
}

// cubicParam writes one of tcp_cubic's module parameters
// (/sys/module/tcp_cubic/parameters/NAME): like a sysctl, it applies to the
// connections created afterwards.
func (in *synfinInstance) cubicParam(name, value string) error {
	c := &in.tcpCfg
	if err := c.CongestionParams.Cubic.SetModuleParam(name, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("echo > /sys/module/tcp_cubic/parameters/%s: %v", name, err)
	}
	if in.st != nil {
		if err := in.st.SetConfig(*c); err != nil {
			return fmt.Errorf("tcp_cubic %s=%s: %v", name, value, err)
		}
	}
	return nil
}

// sysctlName turns /proc/sys/net/ipv4/tcp_x and net/ipv4/tcp_x into
// net.ipv4.tcp_x.
func sysctlName(k string) string {
	k = strings.TrimPrefix(k, "/proc/sys/")
	return strings.ReplaceAll(k, "/", ".")
}

// sysctlValue reads back what synfin holds for a sysctl ("" when it does
// not track it), for set_sysctls.py's restore script.
func (in *synfinInstance) sysctlValue(name string) string {
	c := &in.tcpCfg
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	switch strings.TrimPrefix(name, "net.ipv4.") {
	case "tcp_timestamps":
		return b(c.Timestamps)
	case "tcp_sack":
		return b(c.SACK)
	case "tcp_window_scaling":
		return b(c.WindowScaling)
	case "tcp_rmem":
		return fmt.Sprintf("%d %d %d", c.RMem[0], c.RMem[1], c.RMem[2])
	case "tcp_wmem":
		return fmt.Sprintf("%d %d %d", c.WMem[0], c.WMem[1], c.WMem[2])
	case "tcp_syn_retries":
		return strconv.Itoa(c.SynRetries)
	case "tcp_synack_retries":
		return strconv.Itoa(c.SynackRetries)
	case "tcp_ecn":
		return strconv.Itoa(c.ECN)
	case "tcp_fastopen":
		return fmt.Sprintf("%#x", c.FastOpen)
	case "tcp_fastopen_key":
		return in.fastOpenKeyValue()
	}
	for _, d := range PacketdrillDefaults {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// sysctl sets one sysctl. fromDefaults is set for the values of
// packetdrill's defaults.sh: those synfin cannot honour are noted (every
// script starts with them), while a script asking for such a value itself
// is skipped.
func (in *synfinInstance) sysctl(name, value string, fromDefaults bool) error {
	value = strings.TrimSpace(value)
	c := &in.tcpCfg
	ints := func(n int) ([]int, error) {
		f := strings.Fields(value)
		if len(f) != n {
			return nil, fmt.Errorf("sysctl %s: want %d numbers, got %q", name, n, value)
		}
		out := make([]int, n)
		for i, s := range f {
			v, err := strconv.ParseInt(s, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("sysctl %s: bad value %q", name, value)
			}
			out[i] = int(v)
		}
		return out, nil
	}
	one := func() (int, error) {
		v, err := ints(1)
		if err != nil {
			return 0, err
		}
		return v[0], nil
	}
	// unsupported reports a sysctl synfin has no equivalent for: fine at
	// the value synfin behaves like (ok), a skip otherwise.
	unsupported := func(feature string, ok func(v string) bool) error {
		if ok != nil && ok(value) {
			return nil // synfin behaves so
		}
		if fromDefaults {
			in.note("sysctl %s=%s from defaults.sh: not emulated (%s)", name, value, feature)
			return nil
		}
		return &UnsupportedError{Feature: feature, Detail: "sysctl " + name + "=" + value}
	}
	is := func(vals ...string) func(string) bool {
		return func(v string) bool {
			n, err := strconv.ParseInt(v, 0, 64)
			for _, x := range vals {
				if v == x {
					return true
				}
				if m, err2 := strconv.ParseInt(x, 0, 64); err == nil && err2 == nil && m == n {
					return true
				}
			}
			return false
		}
	}
	var err error
	set := func(f func(v int)) error {
		v, e := one()
		if e != nil {
			return e
		}
		f(v)
		return nil
	}
	switch name {
	case "net.ipv4.tcp_timestamps":
		err = set(func(v int) { c.Timestamps = v != 0 })
	case "net.ipv4.tcp_sack":
		err = set(func(v int) { c.SACK = v != 0 })
	case "net.ipv4.tcp_window_scaling":
		err = set(func(v int) { c.WindowScaling = v != 0 })
	case "net.ipv4.tcp_syn_retries":
		err = set(func(v int) { c.SynRetries = v })
	case "net.ipv4.tcp_synack_retries":
		err = set(func(v int) { c.SynackRetries = v })
	case "net.ipv4.tcp_syn_linear_timeouts":
		err = set(func(v int) { c.SynLinearTimeouts = v })
	case "net.ipv4.tcp_retries1":
		err = set(func(v int) { c.Retries1 = v })
	case "net.ipv4.tcp_retries2":
		err = set(func(v int) { c.Retries2 = v })
	case "net.ipv4.tcp_orphan_retries":
		err = set(func(v int) { c.OrphanRetries = v })
	case "net.ipv4.tcp_fin_timeout":
		err = set(func(v int) { c.FinTimeout = time.Duration(v) * time.Second })
	case "net.ipv4.tcp_keepalive_time":
		err = set(func(v int) { c.KeepaliveTime = time.Duration(v) * time.Second })
	case "net.ipv4.tcp_keepalive_intvl":
		err = set(func(v int) { c.KeepaliveIntvl = time.Duration(v) * time.Second })
	case "net.ipv4.tcp_keepalive_probes":
		err = set(func(v int) { c.KeepaliveProbes = v })
	case "net.ipv4.tcp_adv_win_scale":
		err = set(func(v int) { c.AdvWinScale = v })
	case "net.ipv4.tcp_min_snd_mss":
		err = set(func(v int) { c.MinSndMSS = v })
	case "net.ipv4.tcp_challenge_ack_limit":
		err = set(func(v int) { c.ChallengeAckLimit = v })
	case "net.ipv4.tcp_invalid_ratelimit":
		err = set(func(v int) { c.InvalidRateLimit = time.Duration(v) * time.Millisecond })
	case "net.ipv4.tcp_stdurg":
		err = set(func(v int) { c.Stdurg = v != 0 })
	case "net.ipv4.tcp_rfc1337":
		err = set(func(v int) { c.RFC1337 = v != 0 })
	case "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem":
		var v []int
		if v, err = ints(3); err == nil {
			if name == "net.ipv4.tcp_rmem" {
				c.RMem = [3]int{v[0], v[1], v[2]}
			} else {
				c.WMem = [3]int{v[0], v[1], v[2]}
			}
		}
	case "net.ipv4.tcp_congestion_control":
		if contains(cc.Available(), value) {
			c.CongestionControl = value
		} else {
			err = unsupported("congestion control "+value, nil)
		}
	case "net.ipv4.tcp_syncookies":
		if in.st != nil {
			return unsupported("changing tcp_syncookies once the stack runs", is(strconv.Itoa(in.syncookies)))
		}
		err = set(func(v int) {
			if v == 0 {
				in.syncookies = -1
			} else {
				in.syncookies = v
			}
		})
	case "net.ipv4.tcp_ecn":
		// 0 off, 1 request and accept, 2 accept only (RFC 3168); Linux
		// 6.18's AccECN modes (3-5) are not implemented.
		var v int
		if v, err = one(); err == nil {
			if v >= 0 && v <= 2 {
				c.ECN = v
			} else {
				err = unsupported("AccECN (tcp_ecn 3..5)", nil)
			}
		}
	case "net.ipv4.tcp_ecn_fallback":
		err = set(func(v int) { c.ECNFallback = v != 0 })
	case "net.ipv4.tcp_fastopen":
		err = set(func(v int) { c.FastOpen = v })
	case "net.ipv4.tcp_fastopen_key":
		err = in.fastOpenKeySysctl(value)
	case "net.ipv4.tcp_fastopen_blackhole_timeout_sec":
		// Linux 6.x's default: no blackhole detection, as synfin.
		err = unsupported("TCP Fast Open blackhole detection", is("0"))
	case "net.ipv4.tcp_fastopen_cookies":
		// Gone from Linux (the cookies live in the TCP metrics): the
		// write fails, as it does there, and `|| ip tcp_metrics flush`
		// may follow.
		err = fmt.Errorf("sysctl: cannot stat /proc/sys/net/ipv4/tcp_fastopen_cookies: No such file or directory")
	case "net.ipv4.tcp_dsack":
		err = set(func(v int) { c.DSACK = v != 0 })
	case "net.ipv4.tcp_fack":
		err = unsupported("FACK", is("0"))
	case "net.ipv4.tcp_frto":
		err = set(func(v int) { c.FRTO = v })
	case "net.ipv4.tcp_reordering":
		err = set(func(v int) { c.Reordering = v })
	case "net.ipv4.tcp_max_reordering":
		err = set(func(v int) { c.MaxReordering = v })
	case "net.ipv4.tcp_slow_start_after_idle":
		err = set(func(v int) { c.SlowStartAfterIdle = v != 0 })
	case "net.ipv4.tcp_moderate_rcvbuf":
		err = set(func(v int) { c.ModerateRcvbuf = v != 0 })
	case "net.ipv4.tcp_early_retrans":
		err = set(func(v int) { c.EarlyRetrans = v })
	case "net.ipv4.tcp_recovery":
		err = set(func(v int) { c.Recovery = v })
	case "net.ipv4.tcp_min_tso_segs":
		err = set(func(v int) { c.MinTSOSegs = v })
	case "net.ipv4.tcp_tso_win_divisor":
		// synfin sends MSS-sized segments and the runner joins them
		// into the TSO packets a script expects: TSO sizing is not
		// visible to scripts.
		if !fromDefaults {
			in.note("sysctl %s=%s ignored: synfin has no TSO sizing to tune", name, value)
		}
	case "net.ipv4.tcp_pacing_ss_ratio", "net.ipv4.tcp_pacing_ca_ratio":
		err = unsupported("pacing", is("200", "120"))
	case "net.ipv4.tcp_notsent_lowat":
		var v int64
		if v, err = strconv.ParseInt(value, 0, 64); err == nil {
			if v < 0 || v >= 0xffffffff {
				v = 0
			}
			c.NotsentLowat = uint32(v)
		}
	case "net.ipv4.tcp_mtu_probing":
		err = unsupported("MTU probing", is("0"))
	case "net.ipv4.tcp_base_mss", "net.ipv4.tcp_mtu_probe_floor", "net.ipv4.tcp_probe_threshold", "net.ipv4.tcp_probe_interval":
		err = unsupported("MTU probing", nil)
	case "net.ipv4.tcp_min_rtt_wlen", "net.ipv4.tcp_limit_output_bytes", "net.ipv4.tcp_autocorking",
		"net.ipv4.tcp_no_metrics_save", "net.ipv4.tcp_tw_reuse",
		"net.ipv4.tcp_thin_linear_timeouts", "net.ipv4.tcp_workaround_signed_windows",
		"net.ipv4.tcp_comp_sack_nr", "net.ipv4.tcp_comp_sack_delay_ns", "net.ipv4.tcp_tso_rtt_log",
		"net.ipv4.tcp_shrink_window", "net.ipv4.tcp_backlog_ack_defer", "net.ipv4.tcp_pingpong_thresh":
		err = unsupported(strings.TrimPrefix(name, "net.ipv4."), nil)
	case "net.mptcp.enabled":
		err = unsupported("MPTCP", is("0", "1"))
	default:
		err = unsupported("sysctl "+name, nil)
	}
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("sysctl %s=%s: %v", name, value, err)
	}
	if in.st != nil {
		if err := in.st.SetConfig(*c); err != nil {
			return fmt.Errorf("sysctl %s=%s: %v", name, value, err)
		}
	}
	return nil
}

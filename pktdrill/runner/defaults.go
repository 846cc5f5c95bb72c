package runner

import (
	"regexp"
	"strings"
)

// Sysctl is one kernel setting: Name in dotted form
// ("net.ipv4.tcp_timestamps") and its value as sysctl(8) takes it.
type Sysctl struct {
	Name  string
	Value string
}

// PacketdrillDefaults are the settings of packetdrill's
// gtests/net/common/defaults.sh, which every corpus script runs first as
// `../common/defaults.sh` (the corpus only has a pointer to it). Besides
// these sysctls it flushes the TCP metrics cache (ip tcp_metrics flush all)
// and replaces tun0's qdisc with pfifo (tc qdisc add dev tun0 root pfifo).
// net.ipv4.tcp_fack is gone from current kernels and
// net.ipv4.tcp_notsent_lowat is set with errors ignored, as in the script.
var PacketdrillDefaults = []Sysctl{
	{"net.ipv4.tcp_rmem", "4096 540000 15728640"},
	{"net.ipv4.tcp_wmem", "4096 262144 4194304"},
	{"net.ipv4.tcp_timestamps", "1"},
	{"net.ipv4.tcp_syn_retries", "5"},
	{"net.ipv4.tcp_synack_retries", "5"},
	{"net.ipv4.tcp_frto", "2"},
	{"net.ipv4.tcp_sack", "1"},
	{"net.ipv4.tcp_dsack", "1"},
	{"net.ipv4.tcp_fack", "0"},
	{"net.ipv4.tcp_reordering", "3"},
	{"net.ipv4.tcp_congestion_control", "cubic"},
	{"net.ipv4.tcp_slow_start_after_idle", "0"},
	{"net.ipv4.tcp_early_retrans", "4"},
	{"net.ipv4.tcp_recovery", "1"},
	{"net.ipv4.tcp_tso_win_divisor", "3"},
	{"net.ipv4.tcp_ecn", "0"},
	{"net.ipv4.tcp_pacing_ss_ratio", "200"},
	{"net.ipv4.tcp_pacing_ca_ratio", "120"},
	{"net.ipv4.tcp_notsent_lowat", "4294967295"},
	{"net.ipv4.tcp_fastopen", "0x70403"},
	{"net.ipv4.tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"},
	{"net.ipv4.tcp_syncookies", "1"},
	{"net.mptcp.enabled", "1"},
}

// defaultsPathRE matches the corpus's references to defaults.sh
// (../common/defaults.sh, ../../common/defaults.sh, ...).
var defaultsPathRE = regexp.MustCompile(`(^|[\s;&|(])((?:\.\./)*(?:\./)?common/defaults\.sh)\b`)

// IsDefaultsCommand reports whether a shell word is a reference to
// packetdrill's defaults.sh.
func IsDefaultsCommand(word string) bool {
	return defaultsPathRE.MatchString(word)
}

// ReplaceDefaults replaces every reference to defaults.sh in a shell
// command with repl (a path to an equivalent script).
func ReplaceDefaults(cmd, repl string) string {
	return defaultsPathRE.ReplaceAllString(cmd, "${1}"+strings.ReplaceAll(repl, "$", "$$"))
}

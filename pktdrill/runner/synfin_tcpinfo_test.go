package runner

import (
	"testing"
)

// TestSynfinShell_IdleRcvbufTSO: the sysctls behind slow start after idle,
// receive-buffer auto-tuning and TSO packet sizing reach the stack's
// configuration.
func TestSynfinShell_IdleRcvbufTSO(t *testing.T) {
	in := openSynfin(t)
	for _, cmd := range []string{
		"sysctl -q net.ipv4.tcp_slow_start_after_idle=1",
		"sysctl -q net.ipv4.tcp_moderate_rcvbuf=0",
		"sysctl -q net.ipv4.tcp_min_tso_segs=10",
	} {
		if err := in.Shell(cmd); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	if c := in.tcpCfg; !c.SlowStartAfterIdle || c.ModerateRcvbuf || c.MinTSOSegs != 10 {
		t.Fatalf("config: slow start after idle %v, moderate rcvbuf %v, min TSO segs %d",
			c.SlowStartAfterIdle, c.ModerateRcvbuf, c.MinTSOSegs)
	}
	if err := openSynfin(t).Shell("sysctl -q net.ipv4.tcp_min_tso_segs=0"); err == nil {
		t.Errorf("tcp_min_tso_segs=0 accepted")
	}
}

// synfinTCPInfoExpect is what the corpus's tcp_info and slow_start scripts
// do on the synfin target: tcp_info's chrono figures (tcpi_busy_time,
// tcpi_rwnd_limited, tcpi_sndbuf_limited) and slow start after idle.
// slow-start-fq-ack-per-2pkt.pkt needs the fq qdisc's pacing; the kernel
// fails it too (see the corpus README).
var synfinTCPInfoExpect = map[string]string{
	"tcp_info/tcp-info-last_data_recv.pkt": "pass",
	"tcp_info/tcp-info-rwnd-limited.pkt":   "pass",
	"tcp_info/tcp-info-sndbuf-limited.pkt": "pass",

	"slow_start/slow-start-ack-per-1pkt.pkt":              "pass",
	"slow_start/slow-start-ack-per-2pkt-send-5pkt.pkt":    "pass",
	"slow_start/slow-start-ack-per-2pkt-send-6pkt.pkt":    "pass",
	"slow_start/slow-start-ack-per-2pkt.pkt":              "pass",
	"slow_start/slow-start-ack-per-4pkt.pkt":              "pass",
	"slow_start/slow-start-after-idle.pkt":                "pass",
	"slow_start/slow-start-after-win-update.pkt":          "pass",
	"slow_start/slow-start-app-limited-9-packets-out.pkt": "pass",
	"slow_start/slow-start-app-limited.pkt":               "pass",
	"slow_start/slow-start-fq-ack-per-2pkt.pkt":           "fail: fq pacing, not emulated; the kernel fails it too (`timing error`)",
}

func TestSynfinCorpus_TCPInfoSlowStart(t *testing.T) {
	runSynfinCorpus(t, []string{"tcp_info", "slow_start"}, synfinTCPInfoExpect)
}

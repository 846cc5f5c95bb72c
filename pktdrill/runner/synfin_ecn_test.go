package runner

import (
	"strings"
	"testing"
)

// TestSynfinECNCorpus: the corpus's ECN scripts on the synfin target end as
// they do on the kernel (docs/conformance.md). The ECN cwnd-moderation
// script is pinned with cwnd_moderation/ in synfinCorpusExpect.
func TestSynfinECNCorpus(t *testing.T) {
	runSynfinCorpus(t, []string{"ecn"}, map[string]string{"ecn/ecn-uses-ect0.pkt": "pass"})
}

// ecnScriptOpen is a passive open with tcp_ecn=2: the peer's ECN-setup SYN,
// our ECN-setup SYN-ACK.
const ecnScriptOpen = "`sysctl -q net.ipv4.tcp_ecn=2`\n" +
	"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
	"+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n" +
	"+0 bind(3, ..., ...) = 0\n" +
	"+0 listen(3, 1) = 0\n" +
	"+0 < [noecn] SEW 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n" +
	"+0 > [noecn] SE. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n" +
	"+.01 < [noecn] . 1:1(0) ack 1 win 320\n" +
	"+0 accept(3, ..., ...) = 4\n"

// TestSynfinECNScripts: the synfin target carries the IP ECN field both
// ways, so scripts can mark inbound packets and check outbound ones (RFC
// 3168 5, 6.1.2, 6.1.3), and a wrong codepoint fails the script.
func TestSynfinECNScripts(t *testing.T) {
	res := synfinRun(t, "ecn-echo.pkt", ecnScriptOpen+
		// CE-marked data: ECE on the ACK (sent at once), not ECT.
		"+.01 < [ce] P. 1:1001(1000) ack 1 win 320\n"+
		"+0 > [noecn] E. 1:1(0) ack 1001\n"+
		// Our data: ECT(0), ECE still set.
		"+.01 write(4, ..., 2000) = 2000\n"+
		"+0 > [ect0] PE. 1:2001(2000) ack 1001\n"+
		// The peer's CWR ends the echo (its data is acknowledged at
		// once); its ECE starts our reduction.
		"+.01 < [ect0] EW. 1001:2001(1000) ack 1001 win 320\n"+
		"+0 > [noecn] . 2001:2001(0) ack 2001\n"+
		"+0 %{ assert tcpi_ca_state == TCP_CA_CWR, tcpi_ca_state }%\n"+
		"+0 %{ assert tcpi_delivered_ce == 1, tcpi_delivered_ce }%\n"+
		"+0 %{ assert tcpi_options & TCPI_OPT_ECN, tcpi_options }%\n"+
		// The first new data after the reduction carries CWR.
		"+.01 write(4, ..., 1000) = 1000\n"+
		"+0 > [ect0] PW. 2001:3001(1000) ack 2001\n"+
		"+.01 < [ect0] . 2001:2001(0) ack 3001 win 320\n"+
		"+0 %{ assert tcpi_ca_state == TCP_CA_Open, tcpi_ca_state }%\n")
	wantStatus(t, res, Pass)

	res = synfinRun(t, "ecn-wrong.pkt", ecnScriptOpen+
		"+.01 write(4, ..., 1000) = 1000\n"+
		"+0 > [noecn] P. 1:1001(1000) ack 1\n")
	wantStatus(t, res, Fail)
	if !strings.Contains(res.Message, "ip_ecn") {
		t.Errorf("wrong codepoint: %q, want a message naming ip_ecn", res.Message)
	}
}

// TestSynfinECNSysctls: tcp_ecn 0..2 and tcp_ecn_fallback map onto the
// engine's knobs; AccECN's modes are reported as unsupported.
func TestSynfinECNSysctls(t *testing.T) {
	in := openSynfin(t)
	for _, v := range []string{"0", "1", "2"} {
		if err := in.Shell("sysctl -q net.ipv4.tcp_ecn=" + v); err != nil {
			t.Fatalf("tcp_ecn=%s: %v", v, err)
		}
		if got := in.sysctlValue("net.ipv4.tcp_ecn"); got != v {
			t.Errorf("tcp_ecn reads back %q, want %q", got, v)
		}
	}
	if err := in.Shell("sysctl -q net.ipv4.tcp_ecn_fallback=0"); err != nil || in.tcpCfg.ECNFallback {
		t.Errorf("tcp_ecn_fallback=0: %v, fallback %v", err, in.tcpCfg.ECNFallback)
	}
	if err := in.Shell("sysctl -q net.ipv4.tcp_ecn=3"); err == nil || !strings.Contains(err.Error(), "AccECN") {
		t.Errorf("tcp_ecn=3: %v, want unsupported AccECN", err)
	}
}

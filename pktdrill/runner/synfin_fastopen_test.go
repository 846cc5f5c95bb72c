package runner

import (
	"testing"
)

// synfinFastOpenExpect pins what each TCP Fast Open script of the corpus
// (RFC 7413; tcp/fastopen) does on the synfin target, as
// synfinCorpusExpect does for the directories: a change of outcome
// fails TestSynfinFastOpenCorpus. A skip names what synfin lacks; the one
// failure is the kernel's too (docs/conformance.md).
var synfinFastOpenExpect = map[string]string{
	"fastopen/client/blocking-connect-bypass-errno.pkt":                   "pass",
	"fastopen/client/blocking-connect-bypass.pkt":                         "pass",
	"fastopen/client/blocking-sendmsg-multi-iov.pkt":                      "pass",
	"fastopen/client/blocking-sendto-errnos.pkt":                          "pass",
	"fastopen/client/blocking-sendto.pkt":                                 "skip: tcp_info field tcpi_delivered",
	"fastopen/client/cookie-less-sendto.pkt":                              "pass",
	"fastopen/client/cookie-req-timeout.pkt":                              "pass",
	"fastopen/client/fallback-exp-opt.pkt":                                "pass",
	"fastopen/client/fastopen-connect-keepalive.pkt":                      "pass",
	"fastopen/client/nonblocking-connect-bypass-errno.pkt":                "pass",
	"fastopen/client/nonblocking-connect-bypass.pkt":                      "pass",
	"fastopen/client/nonblocking-sendmsg-multi-iov.pkt":                   "pass",
	"fastopen/client/nonblocking-sendto-empty-buf.pkt":                    "pass",
	"fastopen/client/nonblocking-sendto-errnos.pkt":                       "pass",
	"fastopen/client/nonblocking-sendto-over-mss.pkt":                     "pass",
	"fastopen/client/nonblocking-sendto.pkt":                              "pass",
	"fastopen/client/poll.pkt":                                            "pass",
	"fastopen/client/sendto-af-unspec.pkt":                                "pass",
	"fastopen/client/simultaneous-fast-open.pkt":                          "pass",
	"fastopen/client/syn-data-icmp-unreach-frag-needed-with-seq-ipv6.pkt": "skip: IPv6",
	"fastopen/client/syn-data-icmp-unreach-frag-needed-with-seq.pkt":      "pass",
	"fastopen/client/syn-data-icmp-unreach-frag-needed.pkt":               "pass",
	"fastopen/client/syn-data-mss.pkt":                                    "pass",
	"fastopen/client/syn-data-only-syn-acked.pkt":                         "skip: tcp_info field tcpi_delivered",
	"fastopen/client/syn-data-partial-or-over-ack.pkt":                    "pass",
	"fastopen/client/syn-data-rtt-from-syn-data.pkt":                      "pass",
	"fastopen/client/syn-data-timeout.pkt":                                "skip: tcp_info field tcpi_delivered",
	"fastopen/client/synack-data.pkt":                                     "pass",
	"fastopen/client/valid-cookie-format.pkt":                             "pass",
	"fastopen/server/basic-cookie-not-reqd.pkt":                           "pass",
	"fastopen/server/basic-non-tfo-listener.pkt":                          "pass",
	"fastopen/server/basic-rw.pkt":                                        "pass",
	"fastopen/server/basic-zero-payload.pkt":                              "pass",
	"fastopen/server/client-ack-dropped-then-recovery-ms-timestamps.pkt":  "fail: the window of data sent in SYN_RCVD (the kernel fails it on the same line)",
	"fastopen/server/fin-close-socket.pkt":                                "pass",
	"fastopen/server/icmp-baseline.pkt":                                   "pass",
	"fastopen/server/icmp-before-accept.pkt":                              "skip: SNMP/netstat counters (nstat)",
	"fastopen/server/listener-closed-trigger-rst.pkt":                     "pass",
	"fastopen/server/opt34/basic-cookie-not-reqd.pkt":                     "pass",
	"fastopen/server/opt34/basic-non-tfo-listener.pkt":                    "pass",
	"fastopen/server/opt34/basic-rw.pkt":                                  "pass",
	"fastopen/server/opt34/basic-zero-payload.pkt":                        "pass",
	"fastopen/server/opt34/fin-close-socket.pkt":                          "pass",
	"fastopen/server/opt34/icmp-before-accept.pkt":                        "skip: SNMP/netstat counters (nstat)",
	"fastopen/server/opt34/listener-closed-trigger-rst.pkt":               "pass",
	"fastopen/server/opt34/pure-syn-data.pkt":                             "pass",
	"fastopen/server/opt34/reset-after-accept.pkt":                        "pass",
	"fastopen/server/opt34/reset-before-accept.pkt":                       "pass",
	"fastopen/server/opt34/reset-close-with-unread-data.pkt":              "pass",
	"fastopen/server/opt34/reset-non-tfo-socket.pkt":                      "pass",
	"fastopen/server/opt34/simple1.pkt":                                   "pass",
	"fastopen/server/opt34/simple2.pkt":                                   "pass",
	"fastopen/server/opt34/simple3.pkt":                                   "pass",
	"fastopen/server/opt34/unread-data-closed-trigger-rst.pkt":            "pass",
	"fastopen/server/pure-syn-data.pkt":                                   "pass",
	"fastopen/server/reset-after-accept.pkt":                              "pass",
	"fastopen/server/reset-before-accept.pkt":                             "pass",
	"fastopen/server/reset-close-with-unread-data.pkt":                    "pass",
	"fastopen/server/reset-non-tfo-socket.pkt":                            "pass",
	"fastopen/server/simple1.pkt":                                         "skip: tcp_info field tcpi_delivered",
	"fastopen/server/simple2.pkt":                                         "pass",
	"fastopen/server/simple3.pkt":                                         "skip: tcp_info field tcpi_delivered",
	"fastopen/server/sockopt-fastopen-key.pkt":                            "pass",
	"fastopen/server/unread-data-closed-trigger-rst.pkt":                  "pass",
}

// TestSynfinFastOpenCorpus runs tcp/fastopen on the synfin target: cookie
// requests, SYNs with data and cookies of both option kinds, the cookie
// cache, TCP_FASTOPEN_CONNECT, MSG_FASTOPEN, and servers accepting data in
// SYNs with Linux's cookies.
func TestSynfinFastOpenCorpus(t *testing.T) {
	runSynfinCorpus(t, []string{"fastopen"}, synfinFastOpenExpect)
}

// TestSynfinFastOpenSysctls: net.ipv4.tcp_fastopen sets the stack's bits,
// net.ipv4.tcp_fastopen_key its server key in Linux's notation (read back
// the same way for set_sysctls.py's restore script), and
// `ip tcp_metrics flush` forgets the cookies the client cached.
func TestSynfinFastOpenSysctls(t *testing.T) {
	in := openSynfin(t)
	for _, cmd := range []string{
		"sysctl -q net.ipv4.tcp_fastopen=0x207",
		"sysctl -q net.ipv4.tcp_fastopen_key=a0bf63f7-ed803d81-cd641d30-cebc4a90",
		"sysctl -q net.ipv4.tcp_fastopen_blackhole_timeout_sec=0",
	} {
		if err := in.Shell(cmd); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	if in.tcpCfg.FastOpen != 0x207 {
		t.Errorf("tcp_fastopen %#x, want 0x207", in.tcpCfg.FastOpen)
	}
	if got := in.sysctlValue("net.ipv4.tcp_fastopen_key"); got != "a0bf63f7-ed803d81-cd641d30-cebc4a90" {
		t.Errorf("tcp_fastopen_key reads %q", got)
	}
	if err := in.ensureStack(); err != nil {
		t.Fatal(err)
	}
	key, _ := in.st.FastOpenKey()
	// Linux keeps the four words in the CPU's (little-endian) order.
	if want := [16]byte{0xf7, 0x63, 0xbf, 0xa0, 0x81, 0x3d, 0x80, 0xed, 0x30, 0x1d, 0x64, 0xcd, 0x90, 0x4a, 0xbc, 0xce}; key != want {
		t.Errorf("stack key %x, want %x", key, want)
	}
	for _, bad := range []string{"a0bf63f7-ed803d81", "zz-00000000-00000000-00000000"} {
		if err := in.Shell("sysctl -q net.ipv4.tcp_fastopen_key=" + bad); err == nil {
			t.Errorf("tcp_fastopen_key=%s accepted", bad)
		}
	}
	// tcp_fastopen_cookies is gone from Linux: the write fails, so that a
	// script's `|| ip tcp_metrics flush all` runs.
	if err := in.Shell("sysctl -q net.ipv4.tcp_fastopen_cookies=0 || ip tcp_metrics flush all"); err != nil {
		t.Errorf("fallback to ip tcp_metrics flush: %v", err)
	}
}

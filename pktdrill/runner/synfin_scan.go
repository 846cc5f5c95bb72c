package runner

import (
	"strings"

	"github.com/synfin/synfin/pktdrill"
)

// synfinMissingNames are constants whose use means a script needs a
// feature synfin lacks.
var synfinMissingNames = map[string]string{
	"TCP_MD5SIG":                 "TCP MD5 signatures",
	"TCP_MD5SIG_EXT":             "TCP MD5 signatures",
	"SO_TIMESTAMPING":            "SO_TIMESTAMPING",
	"SCM_TIMESTAMPING":           "SO_TIMESTAMPING",
	"SO_TIMESTAMP":               "SO_TIMESTAMP",
	"SO_TIMESTAMPNS":             "SO_TIMESTAMPNS",
	"SCM_TIMESTAMPING_OPT_STATS": "SO_TIMESTAMPING",
	"MSG_ERRQUEUE":               "socket error queue",
	"IP_RECVERR":                 "socket error queue",
	"IPV6_RECVERR":               "socket error queue",
	"TCP_ZEROCOPY_RECEIVE":       "TCP zerocopy receive",
	"SO_TXTIME":                  "SO_TXTIME",
	"TCP_REPAIR":                 "TCP_REPAIR",
	"TCP_SAVE_SYN":               "TCP_SAVE_SYN",
	"TCP_SAVED_SYN":              "TCP_SAVE_SYN",
	"TCP_ULP":                    "TCP ULPs (kTLS)",
	"TCP_CC_INFO":                "TCP_CC_INFO",
	"IPPROTO_MPTCP":              "MPTCP",
	"IPPROTO_UDP":                "UDP sockets",
	"SOCK_DGRAM":                 "UDP sockets",
}

// synfinMissingInfo are the struct tcp_info fields synfin does not keep
// (they read 0): a script that checks one is skipped. tcpi_sacked is one
// for connections (synfin has no SACK scoreboard), but listeners report it
// (the backlog), so it is not listed. tcpi_last_ack_sent and tcpi_fackets
// are not listed either: Linux 6.x never fills them in (they read 0 there
// too).
var synfinMissingInfo = []string{
	"tcpi_delivery_rate", "tcpi_pacing_rate", "tcpi_delivered",
	"tcpi_rehash", "tcpi_total_rto_recoveries", "tcpi_total_rto_time",
}

// synfinScan looks through a script, before it runs, for what synfin does
// not have, and returns an *UnsupportedError naming the first thing found.
func synfinScan(s *pktdrill.Script) error {
	var err error
	found := func(feature, detail string) {
		if err == nil {
			err = &UnsupportedError{Feature: feature, Detail: detail}
		}
	}
	pktdrill.Inspect(s, func(n pktdrill.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *pktdrill.Packet:
			if n.UDP != nil {
				found("UDP", "packet at "+n.Pos.String())
			}
		case *pktdrill.TCPOption:
			switch n.Kind {
			case pktdrill.OptMD5:
				found("TCP MD5 signatures", "md5 option at "+n.Pos.String())
			}
		case *pktdrill.Code:
			for _, f := range synfinMissingInfo {
				if containsIdent(n.Text, f) {
					found("tcp_info field "+f, "at "+n.Pos.String())
				}
			}
		case *pktdrill.Syscall:
			if f, ok := synfinMissingSyscalls[n.Name]; ok {
				found(f, n.Name+" at "+n.Pos.String())
			}
		case *pktdrill.Ident:
			if f, ok := synfinMissingNames[n.Name]; ok {
				found(f, n.Name+" at "+n.Pos.String())
			}
		}
		return true
	})
	return err
}

// containsIdent reports whether text uses the identifier name, not merely
// a longer one that starts with it (tcpi_delivered in tcpi_delivered_ce).
func containsIdent(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		end := i + j + len(name)
		if end == len(text) || !isIdentByte(text[end]) {
			return true
		}
		i = end
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

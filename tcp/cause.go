package tcp

// Cause names the rule that made a connection change state: the user call or
// the RFC 9293 section (or other RFC) whose processing fired. It is a string
// so that events carry a human-readable reason without allocating.
type Cause string

// The causes of state changes.
const (
	CauseActiveOpen        Cause = "OPEN call, active: SYN sent (RFC 9293 3.10.1)"
	CausePassiveOpen       Cause = "OPEN call, passive: waiting for a SYN (RFC 9293 3.10.1)"
	CauseSynReceived       Cause = "SYN arrived in LISTEN: SYN-ACK sent (RFC 9293 3.10.7.2)"
	CauseSimultaneousOpen  Cause = "SYN without ACK arrived in SYN_SENT: simultaneous open, SYN-ACK sent (RFC 9293 3.10.7.3)"
	CauseSynAckReceived    Cause = "SYN-ACK acknowledging our SYN arrived in SYN_SENT: ACK sent (RFC 9293 3.10.7.3)"
	CauseHandshakeAck      Cause = "ACK of our SYN arrived in SYN_RCVD (RFC 9293 3.10.7.4, fifth check)"
	CauseClose             Cause = "CLOSE call: FIN queued (RFC 9293 3.10.4)"
	CauseShutdownWrite     Cause = "shutdown(SHUT_WR): FIN queued (RFC 9293 3.10.4)"
	CauseCloseInSynSent    Cause = "CLOSE call in SYN_SENT: connection deleted (RFC 9293 3.10.4)"
	CauseCloseInListen     Cause = "CLOSE call in LISTEN: listener deleted (RFC 9293 3.10.4)"
	CauseFinAcked          Cause = "ACK of our FIN arrived (RFC 9293 3.10.7.4, fifth check)"
	CauseFinReceived       Cause = "FIN arrived: ACK sent (RFC 9293 3.10.7.4, eighth check)"
	CauseFinAckReceived    Cause = "FIN acknowledging our FIN arrived: ACK sent (RFC 9293 3.10.7.4, fifth and eighth checks)"
	CauseTimeWaitExpired   Cause = "2MSL timer expired in TIME_WAIT (RFC 9293 3.10.8)"
	CauseFinWait2Timeout   Cause = "orphaned FIN_WAIT_2 timed out (tcp_fin_timeout)"
	CauseResetReceived     Cause = "acceptable RST arrived (RFC 9293 3.10.7.4, second check)"
	CauseResetInSynSent    Cause = "RST acknowledging our SYN arrived in SYN_SENT: connection refused (RFC 9293 3.10.7.3)"
	CauseResetInSynRcvd    Cause = "RST arrived in SYN_RCVD of a passive open: back to LISTEN (RFC 9293 3.10.7.4)"
	CauseSynInWindow       Cause = "SYN arrived in a synchronized state (RFC 9293 3.10.7.4, fourth check)"
	CauseAbort             Cause = "ABORT call: RST sent (RFC 9293 3.10.5)"
	CauseCloseUnreadData   Cause = "CLOSE call with unread data: RST sent instead of FIN (RFC 2525 2.17, Linux)"
	CauseLingerZero        Cause = "CLOSE call with SO_LINGER 0: RST sent (Linux)"
	CauseRetransmitTimeout Cause = "retransmission limit reached (RFC 9293 3.8.3, R2)"
	CauseSynTimeout        Cause = "SYN retransmission limit reached (tcp_syn_retries)"
	CauseSynAckTimeout     Cause = "SYN-ACK retransmission limit reached (tcp_synack_retries)"
	CauseKeepaliveTimeout  Cause = "keep-alive probes unanswered (RFC 9293 3.8.4)"
	CauseUserTimeout       Cause = "TCP_USER_TIMEOUT expired (RFC 5482)"
	CauseLastAckAcked      Cause = "ACK of our FIN arrived in LAST_ACK (RFC 9293 3.10.7.4, fifth check)"
	CauseClosingAcked      Cause = "ACK of our FIN arrived in CLOSING (RFC 9293 3.10.7.4, fifth check)"
	CauseDataAfterClose    Cause = "new data arrived after CLOSE: RST sent (RFC 1122 4.2.2.13, Linux)"
)

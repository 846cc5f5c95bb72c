package tour

import (
	"bufio"
	"fmt"
	"io"

	"github.com/synfin/synfin/tcp"
)

// StateGuide explains one state in plain words: what it means, how a
// connection gets into it and out of it, what ss(8) shows, and what goes
// wrong with it in practice.
type StateGuide struct {
	// SS is the state's name in `ss -tan` output.
	SS                                   string
	Meaning, Enter, Leave, InSS, Trouble string
}

// Guide holds a StateGuide for each of the eleven states.
var Guide = map[tcp.State]StateGuide{
	tcp.Closed: {
		SS:      "(none) or UNCONN",
		Meaning: "No connection: there is no TCB. RFC 9293 calls it fictional, the state of a connection that does not exist.",
		Enter: "At the end of every connection: when TIME_WAIT's 2MSL timer expires, when the ACK of the FIN arrives in LAST_ACK, " +
			"when an acceptable RST arrives, on an abort (SO_LINGER 0, close() with unread data) or when retransmissions give up.",
		Leave: "Only by an OPEN: connect() sends a SYN and moves to SYN_SENT, listen() moves to LISTEN.",
		InSS: "Nothing for a connection that is gone. A socket created but neither connected nor listening shows as UNCONN " +
			"under ss -a.",
		Trouble: "A segment arriving for a connection in CLOSED is answered with an RST (RFC 9293 3.10.7.1): that is what " +
			"connection refused and connection reset by peer look like from the other end.",
	},
	tcp.Listen: {
		SS:      "LISTEN",
		Meaning: "Waiting for a SYN from any remote address on a local port (a passive open).",
		Enter:   "listen() (passive OPEN); or, per RFC 9293, an RST in SYN_RCVD when that state was reached from LISTEN.",
		Leave: "close() deletes the listener (CLOSED). An arriving SYN creates a connection in SYN_RCVD; on Linux the " +
			"listener itself stays in LISTEN and the new connection is a separate request socket. The RFC's SEND in LISTEN " +
			"(to SYN_SENT) has no counterpart in the sockets API.",
		InSS: "LISTEN, with Recv-Q the number of connections waiting in the accept queue and Send-Q the backlog limit.",
		Trouble: "An application that calls accept() too slowly fills the accept queue: Linux then drops handshakes " +
			"(nstat ListenOverflows, ListenDrops) and clients see slow or failed connects. A SYN flood fills the SYN queue; " +
			"net.ipv4.tcp_syncookies lets the listener answer without keeping state.",
	},
	tcp.SynSent: {
		SS:      "SYN-SENT",
		Meaning: "connect() has sent a SYN and waits for the SYN-ACK.",
		Enter:   "An active OPEN: connect(2).",
		Leave: "A SYN-ACK acknowledging the SYN: ACK sent, ESTABLISHED. A SYN without ACK (simultaneous open): SYN-ACK sent, " +
			"SYN_RCVD. An RST acknowledging the SYN: CLOSED, connect() fails with ECONNREFUSED. close(), or the SYN " +
			"retransmissions running out (tcp_syn_retries, about two minutes on Linux): CLOSED, ETIMEDOUT.",
		InSS: "SYN-SENT; ss -o shows the retransmission timer (timer:(on,...)) counting up the retries.",
		Trouble: "Sockets piling up in SYN-SENT towards one destination mean SYNs go unanswered: a firewall that drops " +
			"rather than rejects, a host that is down, a wrong address. The client hangs for the whole retry schedule " +
			"(1 s, then doubling) instead of failing at once as it would on an RST.",
	},
	tcp.SynReceived: {
		SS:      "SYN-RECV",
		Meaning: "A SYN has arrived and been answered with a SYN-ACK; waiting for the ACK of that SYN-ACK.",
		Enter:   "A SYN in LISTEN (the usual server side), or a SYN without ACK in SYN_SENT (simultaneous open).",
		Leave: "The ACK of our SYN: ESTABLISHED (on a listener, the connection joins the accept queue). An RST: back to " +
			"LISTEN after a passive open, CLOSED after an active one. close(): FIN_WAIT_1. The SYN-ACK retransmissions " +
			"running out (tcp_synack_retries): the connection is dropped.",
		InSS: "SYN-RECV. On Linux these are light request sockets kept in the listener's SYN queue, listed by " +
			"ss -tan state syn-recv.",
		Trouble: "Thousands of SYN-RECV entries from many addresses are a SYN flood (or clients behind a path that loses " +
			"the final ACK); Linux falls back to SYN cookies when the queue is full. A lost final ACK leaves the server " +
			"here until its SYN-ACK is retransmitted or the client's first data carries the ACK.",
	},
	tcp.Established: {
		SS:      "ESTAB",
		Meaning: "The connection is open: both sides' SYNs are acknowledged and data flows both ways.",
		Enter:   "The end of the handshake: a SYN-ACK in SYN_SENT, or the ACK of our SYN in SYN_RCVD.",
		Leave: "close() or shutdown(SHUT_WR): FIN sent, FIN_WAIT_1. The peer's FIN: ACK sent, CLOSE_WAIT. An RST, an " +
			"abort, or retransmissions giving up (tcp_retries2, about 15 minutes on Linux) or keep-alives unanswered: CLOSED.",
		InSS: "ESTAB, with Recv-Q the bytes received and not yet read, Send-Q the bytes sent and not yet acknowledged " +
			"(or not yet sent).",
		Trouble: "A peer that vanishes without FIN or RST (crash, pulled cable, a NAT that forgot the mapping) leaves an " +
			"idle connection ESTABLISHED for ever unless keep-alives or an application timeout notice. A Send-Q that keeps " +
			"growing means the peer is not reading or the path is stalled.",
	},
	tcp.FinWait1: {
		SS:      "FIN-WAIT-1",
		Meaning: "This end has closed: its FIN is sent (or queued behind unsent data) and waits to be acknowledged.",
		Enter:   "close() or shutdown(SHUT_WR) in ESTABLISHED (or in SYN_RCVD).",
		Leave: "The ACK of the FIN: FIN_WAIT_2. The peer's FIN without that ACK: CLOSING (simultaneous close). A FIN " +
			"that also acknowledges ours: straight to TIME_WAIT. An RST or the FIN's retransmissions running out: CLOSED.",
		InSS: "FIN-WAIT-1, often with Send-Q holding data still to be delivered before the FIN.",
		Trouble: "Sockets stuck in FIN-WAIT-1 usually have data queued for a peer that advertises a zero window or has " +
			"gone away: the FIN cannot be sent or is never acknowledged. For orphaned sockets Linux gives up after " +
			"tcp_orphan_retries.",
	},
	tcp.FinWait2: {
		SS: "FIN-WAIT-2",
		Meaning: "Our FIN is acknowledged; we send nothing more but may still receive (a half-closed connection), " +
			"waiting for the peer's FIN.",
		Enter: "The ACK of our FIN in FIN_WAIT_1.",
		Leave: "The peer's FIN: ACK sent, TIME_WAIT. On Linux an orphaned socket (the application has called close()) " +
			"gives up after tcp_fin_timeout (60 s) and goes to CLOSED.",
		InSS: "FIN-WAIT-2; ss -o shows the timer of an orphaned socket.",
		Trouble: "This end waits on the peer's application: if that one never closes (its side sits in CLOSE_WAIT), this " +
			"end stays here. After close() Linux bounds the wait with tcp_fin_timeout; after shutdown(SHUT_WR) with the " +
			"socket still open there is no limit.",
	},
	tcp.CloseWait: {
		SS: "CLOSE-WAIT",
		Meaning: "The peer has closed its direction (its FIN arrived, read() returns end of file); waiting for our " +
			"application to close. We may still send.",
		Enter: "The peer's FIN in ESTABLISHED.",
		Leave: "close() (or shutdown(SHUT_WR)): FIN sent, LAST_ACK. There is no timer: only the application gets the " +
			"connection out of here (or an RST from the peer).",
		InSS: "CLOSE-WAIT, frequently with Recv-Q showing data the application never read.",
		Trouble: "A pile of CLOSE-WAIT sockets is an application bug, not a network problem: the program does not notice " +
			"end of file (read() returning 0) or leaks the socket, and each one holds a file descriptor until the process " +
			"exits. The kernel will not time them out; the fix is in the code.",
	},
	tcp.Closing: {
		SS:      "CLOSING",
		Meaning: "Both ends closed at once: we sent a FIN and received the peer's FIN before ours was acknowledged.",
		Enter:   "A FIN in FIN_WAIT_1 that does not acknowledge our FIN (the two FINs crossed).",
		Leave:   "The ACK of our FIN: TIME_WAIT. An RST or the FIN's retransmissions running out: CLOSED.",
		InSS:    "CLOSING.",
		Trouble: "Rare and brief. Sockets that linger in CLOSING mean the ACK of our FIN is not getting through, and the FIN " +
			"is retransmitted until the retries run out.",
	},
	tcp.LastAck: {
		SS:      "LAST-ACK",
		Meaning: "The peer closed first and now we have closed too: our FIN is sent, waiting for its ACK.",
		Enter:   "close() in CLOSE_WAIT.",
		Leave: "The ACK of our FIN: CLOSED, with no TIME_WAIT on this side. An RST, or the FIN's retransmissions " +
			"running out: CLOSED.",
		InSS: "LAST-ACK.",
		Trouble: "If the final ACK is lost the FIN is retransmitted; a peer still in TIME_WAIT acknowledges it again, one " +
			"that is already gone answers with an RST. Many LAST-ACK sockets point at peers that disappear right after " +
			"closing, or at a middlebox eating their ACKs.",
	},
	tcp.TimeWait: {
		SS: "TIME-WAIT",
		Meaning: "The end that closed first waits 2MSL after the last ACK, so that a retransmitted FIN can be " +
			"acknowledged again and old duplicates of this connection die out before the same address and port pair is " +
			"used again.",
		Enter: "The peer's FIN in FIN_WAIT_2, the ACK of our FIN in CLOSING, or a FIN that acknowledges ours in FIN_WAIT_1.",
		Leave: "The 2MSL timer: CLOSED. Linux waits a fixed 60 s (TCP_TIMEWAIT_LEN, not a sysctl). A retransmitted FIN " +
			"is acknowledged again and restarts the timer.",
		InSS: "TIME-WAIT, no process attached; ss -o shows timer:(timewait,...). Linux keeps a small timewait socket, not " +
			"the full connection.",
		Trouble: "A client opening many short connections to one server piles up tens of thousands of TIME-WAIT entries and " +
			"can run out of ephemeral ports (connect() fails with EADDRNOTAVAIL). Remedies: reuse connections " +
			"(keep-alive, pools), net.ipv4.tcp_tw_reuse for outgoing connections, a wider ip_local_port_range; a restarted " +
			"server needs SO_REUSEADDR to bind its port while old entries remain. Aborting with SO_LINGER 0 avoids the " +
			"state by throwing away the protection it gives.",
	},
}

// VisitedStates returns the states either end of a trace went through, in
// the order they were first entered, CLOSED first.
func VisitedStates(t *Trace) []tcp.State {
	seen := map[tcp.State]bool{tcp.Closed: true}
	out := []tcp.State{tcp.Closed}
	for _, st := range t.Steps {
		for _, c := range st.Changes {
			if !seen[c.New] {
				seen[c.New] = true
				out = append(out, c.New)
			}
		}
	}
	return out
}

// WriteStates writes, for each state a trace visits, what the state means,
// how it is entered and left, what ss shows and what goes wrong with it in
// practice.
func WriteStates(w io.Writer, t *Trace) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "--- the states %s visits ---\n", t.Name)
	for _, st := range VisitedStates(t) {
		g := Guide[st]
		fmt.Fprintf(bw, "\n%s (ss: %s)\n", st, g.SS)
		for _, part := range []struct{ head, text string }{
			{"means", g.Meaning}, {"entered", g.Enter}, {"left", g.Leave}, {"ss", g.InSS}, {"trouble", g.Trouble},
		} {
			prefix := fmt.Sprintf("  %-8s ", part.head+":")
			for _, l := range wrap(part.text, TextWidth, prefix, "           ") {
				fmt.Fprintln(bw, l)
			}
		}
	}
	return bw.Flush()
}

package tour

import (
	"strings"
	"time"

	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func act(at time.Duration, s Side, op Op) Action { return Action{At: at, Side: s, Op: op} }

func write(at time.Duration, s Side, data string) Action {
	return Action{At: at, Side: s, Op: Write, Data: data}
}

// open is the usual start: the server listens, the client connects.
func open() []Action {
	return []Action{act(0, Server, Listen), act(0, Client, Connect)}
}

func actions(groups ...[]Action) []Action {
	var all []Action
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// Segment matchers for Loss rules.

func isPureACK(s *tcp.Segment) bool { return s.Flags == wire.FlagACK && len(s.Payload) == 0 }

func pureACKIn(state tcp.State) func(*tcp.Segment, tcp.State) bool {
	return func(s *tcp.Segment, st tcp.State) bool { return st == state && isPureACK(s) }
}

// reader is an application that reads whatever arrives; closer also closes
// on end of file.
var (
	reader = App{Read: true}
	closer = App{Read: true, CloseOnEOF: true}
)

const (
	request = "GET /index.html"
	reply   = "200 OK: hello, client"
)

// Scenarios returns the tour, in the order it is told. Each call returns
// fresh values.
func Scenarios() []*Scenario {
	return []*Scenario{
		{
			Name:  "handshake-data-close",
			Title: "three-way handshake, data both ways, four-way close",
			Description: "The server listens and the client connects: SYN, SYN-ACK, ACK is RFC 9293's three-way " +
				"handshake (3.5), in which each end announces its MSS, window scale, SACK permission and a " +
				"timestamp. The client sends a request and the server a reply, each acknowledged at once (Linux " +
				"acknowledges quickly at the start of a connection). The client closes first: its FIN takes it to " +
				"FIN_WAIT_1 and the server to CLOSE_WAIT, where the server reads end of file; the server's ACK takes " +
				"the client to FIN_WAIT_2. When the server closes, its FIN takes it to LAST_ACK and the client to " +
				"TIME_WAIT. The server is CLOSED as soon as the last ACK arrives; the client, which closed first, " +
				"waits 2MSL (60 s on Linux) in case that ACK was lost and the FIN comes again.",
			Apps: [2]App{reader, reader},
			Actions: actions(open(),
				[]Action{
					write(ms(100), Client, request),
					write(ms(200), Server, reply),
					act(ms(300), Client, Close),
					act(ms(400), Server, Close),
				}),
		},
		{
			Name:  "three-segment-close",
			Title: "three-segment close: the server's FIN carries the ACK, FIN_WAIT_1 straight to TIME_WAIT",
			Description: "A server that closes as soon as it reads end of file often answers the client's FIN with " +
				"one FIN+ACK segment, so the close takes three segments instead of four and the client goes from " +
				"FIN_WAIT_1 straight to TIME_WAIT without visiting FIN_WAIT_2: in one segment the fifth check of " +
				"RFC 9293 3.10.7.4 finds its FIN acknowledged and the eighth processes the server's FIN. Linux " +
				"gets there by delaying the ACK of a FIN; synfin's engine acknowledges a FIN at once, so here the " +
				"network loses that lone ACK, and the client sees what it would see from Linux: a FIN that " +
				"acknowledges its own.",
			Apps: [2]App{reader, closer},
			Actions: actions(open(),
				[]Action{act(ms(100), Client, Close)}),
			Losses: []Loss{{
				Side:  Server,
				What:  "the server's lone ACK of the client's FIN",
				Match: pureACKIn(tcp.CloseWait),
			}},
		},
		{
			Name:  "simultaneous-close",
			Title: "simultaneous close: both ends pass through CLOSING",
			Description: "Both applications call close() at the same moment, so the two FINs cross in the network. " +
				"Each end is in FIN_WAIT_1 when the other's FIN arrives without acknowledging its own: it " +
				"acknowledges that FIN and moves to CLOSING (RFC 9293 3.10.7.4, eighth check), the only way into " +
				"that state. When the ACK of its own FIN arrives it moves to TIME_WAIT, so both ends wait 2MSL, " +
				"where in an ordinary close only the end that closed first does.",
			Apps: [2]App{reader, reader},
			Actions: actions(open(),
				[]Action{
					act(ms(100), Client, Close),
					act(ms(100), Server, Close),
				}),
		},
		{
			Name:  "simultaneous-open",
			Title: "simultaneous open: both ends connect, both pass through SYN_RCVD",
			Names: [2]string{"A", "B"},
			Description: "A and B both call connect() towards each other at the same moment and nobody listens: " +
				"the two SYNs cross. Each end, in SYN_SENT, receives a SYN without ACK, answers with a SYN-ACK " +
				"that repeats its own SYN's sequence number, and moves to SYN_RCVD (RFC 9293 3.10.7.3, fourth " +
				"check). When the other's SYN-ACK arrives and acknowledges its SYN, it is ESTABLISHED. Each end " +
				"sent a SYN and a SYN-ACK, and neither was ever in LISTEN. Then A closes, and B closes as soon " +
				"as it reads end of file.",
			Apps: [2]App{reader, closer},
			Actions: []Action{
				act(0, A, Connect),
				act(0, B, Connect),
				act(ms(100), A, Close),
			},
		},
		{
			Name:  "lost-handshake-ack",
			Title: "lost final ACK of the handshake: the server waits in SYN_RCVD",
			Description: "The client receives the SYN-ACK, becomes ESTABLISHED and sends the handshake's last ACK, " +
				"which the network loses. The server stays in SYN_RCVD until its retransmission timer, still at " +
				"the initial 1 s because no round trip has been measured yet (RFC 6298 2.1), sends the SYN-ACK " +
				"again. The client, already synchronized, finds that old SYN out of its window and answers with an " +
				"ACK of where it stands (RFC 9293 3.10.7.4 first check, RFC 5961 4.2), which completes the " +
				"server's handshake. Had the client sent data first, its data would have carried the ACK.",
			Apps: [2]App{reader, closer},
			Actions: actions(open(),
				[]Action{act(ms(1500), Client, Close)}),
			Losses: []Loss{{
				Side:  Client,
				What:  "the handshake's final ACK",
				Match: pureACKIn(tcp.Established),
			}},
		},
		{
			Name:  "syn-retransmit",
			Title: "SYN retransmission: the first SYN is lost",
			Description: "The client's first SYN is lost. The client stays in SYN_SENT until its retransmission " +
				"timer fires after the initial RTO of 1 s (RFC 6298 2.1, Linux's TCP_TIMEOUT_INIT) and sends the " +
				"SYN again, same sequence number, new timestamp; like Linux 6.x it retries 1 s apart at first " +
				"(tcp_syn_linear_timeouts), then doubling, and connect() fails with ETIMEDOUT after about " +
				"two minutes. The second SYN gets through and the handshake completes a second " +
				"late. Then the client closes, and the server closes when it reads end of file.",
			Apps: [2]App{reader, closer},
			Actions: actions(open(),
				[]Action{act(ms(1200), Client, Close)}),
			Losses: []Loss{{
				Side:  Client,
				What:  "the client's first SYN",
				Match: func(s *tcp.Segment, _ tcp.State) bool { return s.Flags == wire.FlagSYN },
			}},
		},
		{
			Name:  "half-close",
			Title: "half-close: shutdown(SHUT_WR), the server goes on sending in CLOSE_WAIT",
			Description: "The client sends its request and calls shutdown(SHUT_WR): its FIN says it will send " +
				"nothing more, but it goes on reading. The server reads the request and end of file, and in " +
				"CLOSE_WAIT it may still send: its reply reaches the client in FIN_WAIT_2, where data is still " +
				"accepted (RFC 9293 3.10.7.4, seventh check). Only the server's close() sends the FIN that takes " +
				"the client to TIME_WAIT; the client's own close() afterwards sends nothing.",
			Apps: [2]App{closer, reader},
			Actions: actions(open(),
				[]Action{
					write(ms(100), Client, request),
					act(ms(100), Client, ShutdownWrite),
					write(ms(200), Server, reply),
					write(ms(300), Server, "and goodbye"),
					act(ms(400), Server, Close),
				}),
		},
		{
			Name:  "close-unread-rst",
			Title: "close() with unread data sends RST instead of FIN",
			Description: "The client sends a request that the server never reads. When the server calls close() " +
				"with that data still in its receive buffer, it sends no FIN but an RST, as RFC 9293 3.6.1 " +
				"recommends (SHLD-3) and Linux does, so that the client learns its data was not consumed. Both ends " +
				"go from ESTABLISHED straight to CLOSED, no TIME_WAIT anywhere, and the client's read fails with " +
				"ECONNRESET.",
			Apps: [2]App{reader, {}},
			Actions: actions(open(),
				[]Action{
					write(ms(100), Client, request),
					act(ms(200), Server, Close),
				}),
		},
		{
			Name:  "linger-abort",
			Title: "SO_LINGER with a zero timeout: close() aborts with RST",
			Description: "The client sets SO_LINGER on with a zero timeout and closes: Linux turns close() into an " +
				"abort (RFC 9293 3.10.5, ABORT) and sends an RST instead of a FIN. Neither end goes through " +
				"TIME_WAIT, which is why some programs do it, at the risk the 2MSL wait guards against: a delayed " +
				"segment of this connection could be taken for part of the next one between the same ports. The " +
				"server's read fails with ECONNRESET.",
			Apps: [2]App{reader, reader},
			Actions: actions(open(),
				[]Action{
					write(ms(100), Client, request),
					act(ms(200), Client, LingerZero),
					act(ms(200), Client, Close),
				}),
		},
		{
			Name:  "connection-refused",
			Title: "connection refused: an RST in SYN_SENT",
			Description: "Nothing listens on the server's port. The server's host answers the SYN as RFC 9293 " +
				"3.10.7.1 says for a connection that does not exist: with an RST that acknowledges it, " +
				"<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. The client, in SYN_SENT, accepts an RST that " +
				"acknowledges its SYN (3.10.7.3) and connect() fails with ECONNREFUSED.",
			Apps:    [2]App{{}, {NoSocket: true}},
			Actions: []Action{act(0, Client, Connect)},
		},
		{
			Name:  "time-wait-reack",
			Title: "TIME_WAIT re-ACK: the last ACK is lost, LAST_ACK retransmits its FIN",
			Description: "The client closes first and reaches TIME_WAIT, but its ACK of the server's FIN is lost. " +
				"The server, in LAST_ACK, sends its FIN again when its retransmission timer fires. The client is " +
				"still in TIME_WAIT, which exists for this moment: it acknowledges the FIN again and restarts the " +
				"2MSL timer (RFC 9293 3.10.7.4, TIME-WAIT STATE in the eighth check). Had the client been CLOSED " +
				"already, the FIN would have drawn an RST and the server's close would have ended in an error.",
			Apps: [2]App{reader, reader},
			Actions: actions(open(),
				[]Action{
					act(ms(100), Client, Close),
					act(ms(200), Server, Close),
				}),
			Losses: []Loss{{
				Side:  Client,
				What:  "the client's ACK of the server's FIN",
				Match: pureACKIn(tcp.TimeWait),
			}},
		},
		{
			Name:  "data-retransmit",
			Title: "loss and retransmission of a data segment",
			Description: "The client writes 3000 bytes, which leave as three segments, and the network loses the " +
				"first. The server gets the other two out of order and acknowledges each at once with a " +
				"duplicate ACK that carries a SACK block for the data it holds (RFC 5681 4.2, RFC 2018). Two " +
				"duplicate ACKs are not enough for RFC 5681's fast retransmit, which takes three, but the SACK " +
				"blocks show that data sent after the first segment has arrived: RACK (RFC 8985, Linux's default) " +
				"deems the first segment lost once it has been outstanding for a round trip plus a reordering " +
				"window, and its timer resends it long before the retransmission timer would (RFC 6298: at " +
				"least 200 ms on Linux). Recovery cuts cwnd, and one cumulative ACK covers all 3000 bytes.",
			Apps: [2]App{reader, closer},
			Actions: actions(open(),
				[]Action{
					write(ms(100), Client, strings.Repeat("0123456789", 300)),
					act(ms(1000), Client, Close),
				}),
			Losses: []Loss{{
				Side:  Client,
				What:  "the client's first data segment",
				Match: func(s *tcp.Segment, _ tcp.State) bool { return len(s.Payload) > 0 },
			}},
		},
	}
}

// Lookup returns the scenario called name.
func Lookup(name string) (*Scenario, bool) {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc, true
		}
	}
	return nil, false
}

// Names returns the scenarios' names, in tour order.
func Names() []string {
	var names []string
	for _, sc := range Scenarios() {
		names = append(names, sc.Name)
	}
	return names
}

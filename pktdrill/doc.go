// Package pktdrill parses packetdrill scripts into an abstract syntax tree.
// It is the front end of synfin's packetdrill-compatible script runner; it
// does not execute anything.
//
// # The language
//
// A script is a sequence of tokens; line breaks are white space, so a system
// call may span several lines. Comments are // to the end of the line and
// /* ... */. A script is, in order:
//
//	--name[=value] ...        options, command-line style (--tolerance_usecs=1000000)
//	`init command`            optional untimed shell command (`../common/defaults.sh`)
//	TIME ACTION ...           one or more timed events
//	`cleanup command`         optional untimed shell command at the end
//
// TIME is 0.100 (absolute: since the script started), +0.100 (relative: since
// the previous event), a~b or +a~+b (any time in a range), or * (any time).
// Seconds may be written 1, .1, 0.100. ACTION is one of:
//
//	< S 0:0(0) win 32792 <mss 1000,nop,wscale 7>     an inbound packet (injected)
//	> S. 0:0(0) ack 1 <...>                          an outbound packet (expected)
//	> [ect0] P. 1:1001(1000) ack 1                   with IP information
//	< udp (100)                                      UDP
//	< icmp unreachable frag_needed mtu 1480 [1:1461(1460)]   ICMP, quoting a TCP segment
//	connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
//	...0.100 read(4, ..., 2000) = 2000               a blocking call and when it returns
//	`sysctl -q net.ipv4.tcp_ecn=1`                   a shell command
//	%{ assert tcpi_rtt < 20000 }%                    a Python block (tcp_info assertions)
//
// # The tree
//
// Parse returns a *Script: its Options (and the Defines among them), the Init
// and Cleanup commands, and its Events. Every node has a Pos (file, line,
// byte column) of its first token; Inspect walks a tree.
//
// An *Event has a *Time and an Action, which is one of:
//
//   - *Packet: Direction (Inbound '<', Outbound '>'), optional *IPInfo (ECN
//     codepoint, TOS, flow label, TTL from [..] or (..)), and exactly one of
//     *TCPHeader, *UDPHeader, *ICMPHeader. A TCPHeader has optional Ports, the
//     Flags bits (FlagFIN ... FlagCWR; "." is FlagACK, "-" is none), the
//     relative SeqRange start:end(len), optional ack, win and urg (each with a
//     Has* flag) and optional *TCPOptions: either Any (written <...>) or a
//     List of *TCPOption whose Kind says which fields hold values (MSS,
//     WScale, SACK blocks, TSVal/TSEcr, FO/FOEXP Cookie, md5 Digest; nop, eol
//     and sackOK have none). An ICMPHeader has Type, Code, optional mtu and id
//     and the optional quoted packet (*ICMPEchoed).
//   - *Syscall: Name, Args and Result as expression trees, Errno, Note (the
//     parenthesised text) and End, the ...END time of a blocking call (in the
//     same frame as the start time: for +0...0.100 the call returns 0.100 s
//     after the previous event).
//   - *Command: the text between backquotes, verbatim.
//   - *Code: the text between %{ and }%, verbatim; its Pos gives the line.
//
// Expressions (Expr) are *Ellipsis (...), *Int (with its literal text),
// *Ident (named constants such as SOCK_STREAM, or unresolved defines),
// *String (C escapes decoded; Prefix for "..."...), *Or (A|B), *Field
// (name=value, and name(arg)=value for msghdr's msg_name(...)=... and
// msg_iov(N)=[...]), *Call (htons(80), inet_addr("...")), *AddrOf (&x),
// *Array ([..]) and *Struct ({..}). A Struct's Kind names the C structure its
// first field suggests (sockaddr, msghdr, iovec, pollfd, epoll_event, linger,
// cmsg, scm_timestamping, sock_extended_err); the fields are not checked.
//
// Times are int64 microseconds. Sequence and ack numbers are uint32, windows,
// ports, urgent pointers and MSS uint16.
//
// # Defines
//
// The runner's -D NAME=VALUE defines go in Config.Defines (ParseDefine splits
// them); --define=NAME=VALUE options of the script, also written
// -D NAME=VALUE, add to them (and win). A bare word, or ${NAME}
// outside commands, strings and code, that names a define is replaced by the
// tokens of its value while parsing (CODE -> host_unreachable,
// TFO_COOKIE -> 3021b9d889017eeb). Undefined names stay in the tree as
// written, so a later stage can resolve them. Commands keep ${NAME} verbatim;
// Expand substitutes known names and leaves the others (${PPID}) to the shell.
//
// # Errors and formatting
//
// Errors are *Error values reading "file.pkt:LINE:COL: syntax error: ...";
// parsing stops at the first. Parse never panics (FuzzParse checks this).
//
// Format prints any node back in normalised packetdrill notation: an event as
// a script line, a packet with its direction, FormatPacketBody without it
// (for "script packet: 0.100 S. 0:0(0) ack 1 <...>" messages); FormatUsecs
// prints times. Formatting a parsed line and parsing it again gives the same
// tree, positions aside.
//
// Not supported: the ipv4/ipv6/gre/mpls encapsulation prefixes of packet
// lines (unused by the corpus); they give a clear error.
package pktdrill

package pktdrill

import "fmt"

// Pos is a position in a script: file name, 1-based line and 1-based byte
// column. Every node of the AST carries the position of its first token.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col (file:line when the column is
// unknown).
func (p Pos) String() string {
	f := p.File
	if f == "" {
		f = "<script>"
	}
	if p.Col > 0 {
		return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d", f, p.Line)
}

// Node is implemented by every AST node.
type Node interface {
	Position() Pos
}

// Script is a parsed packetdrill script.
type Script struct {
	Pos Pos
	// Options are the command-line style --name[=value] lines at the top of the
	// script, in order. They override the runner's command-line options.
	Options []*Option
	// Defines are the --define=NAME=VALUE options of the script, in order.
	// They were already substituted while parsing (see Config.Defines).
	Defines []*Define
	// Init is the backquoted shell command before the first event (usually
	// `../common/defaults.sh`), or nil.
	Init *Command
	// Events are the timed events, in script order.
	Events []*Event
	// Cleanup is the untimed backquoted shell command after the last event,
	// or nil.
	Cleanup *Command
}

// Option is one --name or --name=value line. Value is the text after '=' as
// written (quotes kept); HasValue tells --name from --name=.
type Option struct {
	Pos      Pos
	Name     string
	Value    string
	HasValue bool
}

// Define is a NAME=VALUE definition from a --define option. Value is the
// text after NAME= as written (quotes kept); its tokens replace NAME.
type Define struct {
	Pos   Pos
	Name  string
	Value string
}

// Event is one timed line of the script: a time and an action.
type Event struct {
	Pos    Pos
	Time   *Time
	Action Action // *Packet, *Syscall, *Command or *Code
}

// Action is the thing an event does: *Packet, *Syscall, *Command or *Code.
type Action interface {
	Node
	action()
}

// TimeKind says how an event's time is written.
type TimeKind int

// The time kinds.
const (
	TimeAbsolute TimeKind = iota // 0.100: since the start of the script
	TimeRelative                 // +0.100: since the previous event
	TimeRange                    // 0.1~0.2 or +0.1~+0.2: any time in [Start, End]
	TimeAny                      // *: any time
)

func (k TimeKind) String() string {
	switch k {
	case TimeAbsolute:
		return "absolute"
	case TimeRelative:
		return "relative"
	case TimeRange:
		return "range"
	case TimeAny:
		return "any"
	}
	return fmt.Sprintf("TimeKind(%d)", int(k))
}

// Time is an event time. Values are in microseconds. For TimeAbsolute and
// TimeRelative only Start is set (End == Start). For TimeRange, Relative
// says whether both ends were written with '+' (relative to the previous
// event) or not (absolute). TimeAny has no values.
type Time struct {
	Pos      Pos
	Kind     TimeKind
	Relative bool
	Start    int64
	End      int64
}

// Direction is the direction of a scripted packet.
type Direction int

// Packet directions.
const (
	Inbound  Direction = iota // '<': injected into the stack under test
	Outbound                  // '>': expected from the stack under test
)

func (d Direction) String() string {
	if d == Inbound {
		return "<"
	}
	return ">"
}

// Packet is a packet line. Exactly one of TCP, UDP and ICMP is non-nil.
type Packet struct {
	Pos       Pos
	Direction Direction
	IP        *IPInfo // nil when no [..] or (..) IP information was written
	TCP       *TCPHeader
	UDP       *UDPHeader
	ICMP      *ICMPHeader
}

// ECN is the ECN codepoint of a packet's IP header as scripted.
type ECN int

// ECN values. ECNUnset means the script did not say.
const (
	ECNUnset  ECN = iota
	ECNNotECT     // noecn
	ECNECT0       // ect0
	ECNECT1       // ect1
	ECNCE         // ce
	ECNECT01      // ect01: either ECT(0) or ECT(1)
)

var ecnNames = map[ECN]string{ECNNotECT: "noecn", ECNECT0: "ect0", ECNECT1: "ect1", ECNCE: "ce", ECNECT01: "ect01"}

func (e ECN) String() string {
	if s, ok := ecnNames[e]; ok {
		return s
	}
	return "unset"
}

// IPInfo is the bracketed IP information after the direction: [ect0],
// [noecn], [tos 0x10], [flowlabel 0x12345], [ttl 64], [ect0,flowlabel 0x1].
type IPInfo struct {
	Pos          Pos
	ECN          ECN
	HasTOS       bool
	TOS          uint8
	HasFlowLabel bool
	FlowLabel    uint32
	HasTTL       bool
	TTL          uint8
}

// TCP flag bits as written in the flags word (F S R P U E W, '.' for ACK).
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Ports is an optional source>destination port pair written before the flags
// (TCP) or the length (UDP).
type Ports struct {
	Pos Pos
	Src uint16
	Dst uint16
}

// SeqRange is start:end(len), with relative sequence numbers.
type SeqRange struct {
	Pos   Pos
	Start uint32
	End   uint32
	Len   uint32
}

// TCPHeader is the TCP part of a packet line.
type TCPHeader struct {
	Pos   Pos
	Ports *Ports // nil when not written
	// Flags is a set of Flag* bits; 0 is written "-".
	Flags   uint8
	Seq     SeqRange
	HasAck  bool
	Ack     uint32
	HasWin  bool
	Win     uint16
	HasUrg  bool
	Urg     uint16
	Options *TCPOptions // nil when no <...> was written
}

// TCPOptions is the <...> part of a TCP packet line. Any is set for the
// literal <...> (any options accepted); otherwise List holds the options.
type TCPOptions struct {
	Pos  Pos
	Any  bool
	List []*TCPOption
}

// TCPOptionKind is the kind of a scripted TCP option.
type TCPOptionKind int

// TCP option kinds as they are named in scripts.
const (
	OptNOP         TCPOptionKind = iota // nop
	OptEOL                              // eol
	OptMSS                              // mss N
	OptWScale                           // wscale N
	OptSACKOK                           // sackOK
	OptSACK                             // sack L:R [L:R...]
	OptTimestamp                        // TS val N ecr N
	OptMD5                              // md5 HEX
	OptFastOpen                         // FO [COOKIE] (option 34)
	OptFastOpenExp                      // FOEXP [COOKIE] (experimental option 254)
)

var optNames = [...]string{"nop", "eol", "mss", "wscale", "sackOK", "sack", "TS", "md5", "FO", "FOEXP"}

func (k TCPOptionKind) String() string {
	if k >= 0 && int(k) < len(optNames) {
		return optNames[k]
	}
	return fmt.Sprintf("TCPOptionKind(%d)", int(k))
}

// SACKBlock is one L:R block of a sack option (relative sequence numbers).
type SACKBlock struct {
	Pos   Pos
	Left  uint32
	Right uint32
}

// TCPOption is one option of a TCP packet line; the fields used depend on
// Kind. Cookie (FO, FOEXP) and Digest (md5) hold the hex text as written; it
// may also be an unresolved define name such as TFO_COOKIE.
type TCPOption struct {
	Pos    Pos
	Kind   TCPOptionKind
	MSS    uint16
	WScale uint8
	SACK   []SACKBlock
	TSVal  uint32
	TSEcr  uint32
	Cookie string
	Digest string
}

// UDPHeader is the UDP part of a packet line: udp [SRC>DST] (LEN).
type UDPHeader struct {
	Pos   Pos
	Ports *Ports
	Len   uint32
}

// ICMPHeader is the ICMP part of a packet line:
// icmp TYPE [CODE] [mtu N] [id N] [ [echoed] ].
type ICMPHeader struct {
	Pos    Pos
	Type   string // e.g. unreachable, packet_too_big
	Code   string // e.g. frag_needed, host_unreachable; "" when not written
	HasMTU bool
	MTU    uint32
	HasID  bool
	ID     uint32
	Echoed *ICMPEchoed // the quoted packet, or nil
}

// EchoedKind says what an ICMP error quotes.
type EchoedKind int

// Echoed packet kinds.
const (
	EchoedTCP EchoedKind = iota // [start:end(len)]
	EchoedUDP                   // [udp (len)]
	EchoedRaw                   // [raw (len)]
)

// ICMPEchoed is the bracketed description of the packet an ICMP error quotes.
type ICMPEchoed struct {
	Pos  Pos
	Kind EchoedKind
	Seq  SeqRange // EchoedTCP
	Len  uint32   // EchoedUDP, EchoedRaw
}

// Syscall is a system call line: [...END] name(args) = result [ERRNO] [(note)].
type Syscall struct {
	Pos  Pos
	Name string
	Args []Expr
	// Result is the expected return value (usually *Int).
	Result Expr
	// Errno is the expected errno name ("" when not written).
	Errno string
	// Note is the parenthesised text after the result or errno, whitespace
	// normalised ("" when not written).
	Note string
	// End is the time a blocking call is expected to return (...END), or nil.
	End *BlockEnd
}

// BlockEnd is the ...END part of a blocking system call. Usecs is the value
// as written; it is interpreted in the same frame as the event's start time
// (relative start: relative to the previous event, like the start).
type BlockEnd struct {
	Pos   Pos
	Usecs int64
}

// Command is a backquoted shell command. Text is everything between the
// backquotes, verbatim (newlines kept; ${NAME} references not expanded, see
// Expand).
type Command struct {
	Pos  Pos
	Text string
}

// Code is a %{ ... }% Python block. Text is everything between %{ and }%,
// verbatim; Pos is the position of "%{" (its Line is the block's line number).
type Code struct {
	Pos  Pos
	Text string
}

func (*Packet) action()  {}
func (*Syscall) action() {}
func (*Command) action() {}
func (*Code) action()    {}

// Expr is a system call argument or result expression: *Ellipsis, *Int,
// *Ident, *String, *Or, *Field, *Call, *AddrOf, *Array or *Struct.
type Expr interface {
	Node
	expr()
}

// Ellipsis is "...": any value (or an elided argument).
type Ellipsis struct{ Pos Pos }

// Int is an integer literal. Text is the literal as written (e.g. "-1",
// "0x2"); Value its value (hex literals above MaxInt64 wrap to negative).
type Int struct {
	Pos   Pos
	Value int64
	Text  string
}

// Ident is a bare word: a named constant (SOCK_STREAM, O_NONBLOCK) or an
// unresolved define.
type Ident struct {
	Pos  Pos
	Name string
}

// String is a double-quoted string. Value is unescaped; Raw is the literal
// as written including quotes. Prefix is set for "..."... (STRING ELLIPSIS):
// the string is a prefix of the expected data.
type String struct {
	Pos    Pos
	Value  string
	Raw    string
	Prefix bool
}

// Or is a bit-or expression A|B|C.
type Or struct {
	Pos   Pos
	Terms []Expr
}

// Field is name=value inside a struct, or name(arg)=value as in msghdr's
// msg_name(...)=... and msg_iov(1)=[...]; Arg is nil for the plain form.
type Field struct {
	Pos   Pos
	Name  string
	Arg   Expr
	Value Expr
}

// Call is a function-like expression such as htons(8080),
// inet_addr("192.0.2.1") or in6addr("::1").
type Call struct {
	Pos  Pos
	Name string
	Args []Expr
}

// AddrOf is &expr.
type AddrOf struct {
	Pos Pos
	X   Expr
}

// Array is [a, b, ...] (possibly empty).
type Array struct {
	Pos   Pos
	Elems []Expr
}

// StructKind is what a {...} expression describes, guessed from its first
// element. The parser does not check the remaining fields.
type StructKind int

// Struct kinds.
const (
	StructGeneric         StructKind = iota // {a, b} or unrecognised fields
	StructSockaddr                          // {sa_family=..., sin_port=htons(..), sin_addr=inet_addr(..)}
	StructMsghdr                            // {msg_name(...)=..., msg_iov(N)=[..], msg_flags=.., msg_control=[..]}
	StructIovec                             // {..., LEN} or {"data", LEN}
	StructPollfd                            // {fd=.., events=.., revents=..}
	StructEpollEvent                        // {events=.., fd=..|ptr=..|u32=..|u64=..}
	StructLinger                            // {onoff=.., linger=..}
	StructCmsg                              // {cmsg_level=.., cmsg_type=.., cmsg_data=..}
	StructScmTimestamping                   // {scm_sec=.., scm_nsec=..}
	StructSockExtendedErr                   // {ee_errno=.., ee_origin=.., ee_type=.., ee_code=.., ee_info=.., ee_data=..}
)

var structNames = [...]string{"generic", "sockaddr", "msghdr", "iovec", "pollfd", "epoll_event", "linger", "cmsg", "scm_timestamping", "sock_extended_err"}

func (k StructKind) String() string {
	if k >= 0 && int(k) < len(structNames) {
		return structNames[k]
	}
	return fmt.Sprintf("StructKind(%d)", int(k))
}

// Struct is {elem, ...}: elements are *Field for name=value members and
// other expressions for positional members.
type Struct struct {
	Pos   Pos
	Kind  StructKind
	Elems []Expr
}

// Field returns the element name=... of the struct, or nil.
func (s *Struct) Field(name string) *Field {
	for _, e := range s.Elems {
		if f, ok := e.(*Field); ok && f.Name == name {
			return f
		}
	}
	return nil
}

func (*Ellipsis) expr() {}
func (*Int) expr()      {}
func (*Ident) expr()    {}
func (*String) expr()   {}
func (*Or) expr()       {}
func (*Field) expr()    {}
func (*Call) expr()     {}
func (*AddrOf) expr()   {}
func (*Array) expr()    {}
func (*Struct) expr()   {}

// Position methods.

func (n *Script) Position() Pos     { return n.Pos }
func (n *Option) Position() Pos     { return n.Pos }
func (n *Define) Position() Pos     { return n.Pos }
func (n *Event) Position() Pos      { return n.Pos }
func (n *Time) Position() Pos       { return n.Pos }
func (n *Packet) Position() Pos     { return n.Pos }
func (n *IPInfo) Position() Pos     { return n.Pos }
func (n *Ports) Position() Pos      { return n.Pos }
func (n *SeqRange) Position() Pos   { return n.Pos }
func (n *TCPHeader) Position() Pos  { return n.Pos }
func (n *TCPOptions) Position() Pos { return n.Pos }
func (n *TCPOption) Position() Pos  { return n.Pos }
func (n *SACKBlock) Position() Pos  { return n.Pos }
func (n *UDPHeader) Position() Pos  { return n.Pos }
func (n *ICMPHeader) Position() Pos { return n.Pos }
func (n *ICMPEchoed) Position() Pos { return n.Pos }
func (n *Syscall) Position() Pos    { return n.Pos }
func (n *BlockEnd) Position() Pos   { return n.Pos }
func (n *Command) Position() Pos    { return n.Pos }
func (n *Code) Position() Pos       { return n.Pos }
func (n *Ellipsis) Position() Pos   { return n.Pos }
func (n *Int) Position() Pos        { return n.Pos }
func (n *Ident) Position() Pos      { return n.Pos }
func (n *String) Position() Pos     { return n.Pos }
func (n *Or) Position() Pos         { return n.Pos }
func (n *Field) Position() Pos      { return n.Pos }
func (n *Call) Position() Pos       { return n.Pos }
func (n *AddrOf) Position() Pos     { return n.Pos }
func (n *Array) Position() Pos      { return n.Pos }
func (n *Struct) Position() Pos     { return n.Pos }

// Option returns the value of the last option named name (without the
// leading dashes) and whether it was present.
func (s *Script) Option(name string) (value string, ok bool) {
	for _, o := range s.Options {
		if o.Name == name {
			value, ok = o.Value, true
		}
	}
	return value, ok
}

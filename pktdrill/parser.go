package pktdrill

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Config controls parsing. The zero value (or a nil *Config) is valid.
type Config struct {
	// Defines are the runner's -D NAME=VALUE definitions. A bare word (or a
	// ${NAME} reference outside commands, strings and code) equal to a
	// defined name is replaced by the tokens of its value while parsing.
	// The script's own --define options take precedence. Names that are not
	// defined stay in the AST as they were written (an *Ident, an ICMP code,
	// an FO cookie...) so that a later stage can still resolve them.
	Defines map[string]string
}

// ParseFile reads and parses the script at path.
func ParseFile(path string, cfg *Config) (*Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src, cfg)
}

// Parse parses a packetdrill script. file names the script in positions and
// error messages. The error, if any, is an *Error. Parse never panics.
func Parse(file string, src []byte, cfg *Config) (*Script, error) {
	p := &parser{lx: newLexer(file, string(src))}
	if cfg != nil && len(cfg.Defines) > 0 {
		p.lx.defines = make(map[string]string, len(cfg.Defines))
		for k, v := range cfg.Defines {
			p.lx.defines[k] = v
		}
	}
	s, err := p.parse()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseDefine splits a command-line define "NAME=VALUE" (as given to -D).
func ParseDefine(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" || !isIdent(name) {
		return "", "", fmt.Errorf("define %q: want NAME=VALUE", s)
	}
	return name, value, nil
}

func isIdent(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

type parser struct {
	lx  *lexer
	tok token
}

// bailout carries a syntax error out of the recursive descent; parse
// recovers only this type.
type bailout struct{ err *Error }

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(bailout{&Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}})
}

func (p *parser) failTok(format string, args ...any) {
	p.fail(p.tok.pos, format, args...)
}

func (p *parser) next() {
	t, err := p.lx.next()
	if err != nil {
		panic(bailout{err})
	}
	p.tok = t
}

func (p *parser) expect(c byte, context string) Pos {
	if !p.tok.is(c) {
		p.failTok("expected %q %s, got %s", c, context, p.tok.describe())
	}
	pos := p.tok.pos
	p.next()
	return pos
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tWord && p.tok.text == w }

func (p *parser) parse() (s *Script, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			s, err = nil, b.err
		}
	}()
	s = &Script{Pos: Pos{File: p.lx.file, Line: 1, Col: 1}}
	p.next()
	for p.tok.kind == tOption {
		p.option(s)
	}
	if p.tok.kind == tBackquote {
		s.Init = &Command{Pos: p.tok.pos, Text: p.tok.text}
		p.next()
	}
	for p.tok.kind != tEOF {
		switch p.tok.kind {
		case tOption:
			p.failTok("option --%s after the first event: options must come first", p.tok.text)
		case tBackquote:
			cmd := &Command{Pos: p.tok.pos, Text: p.tok.text}
			p.next()
			if p.tok.kind != tEOF {
				p.fail(cmd.Pos, "backquoted command without a time: only the first (init) and last (cleanup) commands may omit the time")
			}
			s.Cleanup = cmd
			continue
		}
		s.Events = append(s.Events, p.event())
	}
	if len(s.Events) == 0 {
		p.failTok("script has no events")
	}
	return s, nil
}

func (p *parser) option(s *Script) {
	t := p.tok
	o := &Option{Pos: t.pos, Name: t.text, Value: t.val, HasValue: t.has}
	s.Options = append(s.Options, o)
	if o.Name == "define" {
		if !o.HasValue {
			p.fail(t.pos, "--define needs NAME=VALUE")
		}
		name, value, err := ParseDefine(o.Value)
		if err != nil {
			p.fail(t.pos, "--define=%s: want NAME=VALUE", o.Value)
		}
		s.Defines = append(s.Defines, &Define{Pos: t.pos, Name: name, Value: value})
		// A backquoted value is the output of a command: only the runner
		// can evaluate it, so it is recorded but not substituted.
		if !strings.HasPrefix(value, "`") {
			if p.lx.defines == nil {
				p.lx.defines = map[string]string{}
			}
			p.lx.defines[name] = value
		}
	}
	p.next()
}

func (p *parser) event() *Event {
	ev := &Event{Pos: p.tok.pos}
	ev.Time = p.eventTime()
	switch {
	case p.tok.is('<') || p.tok.is('>'):
		ev.Action = p.packet()
	case p.tok.kind == tBackquote:
		ev.Action = &Command{Pos: p.tok.pos, Text: p.tok.text}
		p.next()
	case p.tok.kind == tCode:
		ev.Action = &Code{Pos: p.tok.pos, Text: p.tok.text}
		p.next()
	case p.tok.kind == tWord || p.tok.kind == tEllipsis:
		ev.Action = p.syscall()
	default:
		p.failTok("expected a packet, system call, command or %%{ }%% block after the time, got %s", p.tok.describe())
	}
	return ev
}

// eventTime parses: * | [+]T | T~T | +T~+T.
func (p *parser) eventTime() *Time {
	t := &Time{Pos: p.tok.pos}
	if p.tok.is('*') {
		t.Kind = TimeAny
		p.next()
		return t
	}
	if p.tok.is('+') {
		t.Relative = true
		p.next()
	}
	t.Start = p.timeValue("event time")
	t.End = t.Start
	t.Kind = TimeAbsolute
	if t.Relative {
		t.Kind = TimeRelative
	}
	if p.tok.is('~') {
		p.next()
		rel := false
		if p.tok.is('+') {
			rel = true
			p.next()
		}
		if rel != t.Relative {
			p.failTok("both ends of a time range must be relative (+a~+b) or both absolute (a~b)")
		}
		endPos := p.tok.pos
		t.End = p.timeValue("end of time range")
		if t.End < t.Start {
			p.fail(endPos, "time range ends before it starts")
		}
		t.Kind = TimeRange
	}
	return t
}

// maxSeconds bounds time values so that microseconds fit easily in int64.
const maxSeconds = 1 << 32

// timeValue parses an INTEGER or FLOAT number of seconds into microseconds.
func (p *parser) timeValue(what string) int64 {
	t := p.tok
	if t.kind != tInt && t.kind != tFloat || strings.HasPrefix(t.text, "-") {
		if t.kind == tEOF || t.kind == tPunct || t.kind == tWord || t.kind == tEllipsis {
			p.failTok("expected %s (seconds, like 0.100), got %s", what, t.describe())
		}
		p.failTok("bad %s %s", what, t.describe())
	}
	us, ok := parseSeconds(t.text)
	if !ok {
		p.failTok("%s %s out of range", what, t.text)
	}
	p.next()
	return us
}

// parseSeconds converts "12", "0.100", ".1" to microseconds, rounding to
// the nearest microsecond.
func parseSeconds(s string) (int64, bool) {
	ip, fp, _ := strings.Cut(s, ".")
	var sec int64
	if ip != "" {
		v, err := strconv.ParseInt(ip, 10, 64)
		if err != nil || v > maxSeconds {
			return 0, false
		}
		sec = v
	}
	var us int64
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(fp) {
			us += int64(fp[i] - '0')
		}
	}
	if len(fp) > 6 && fp[6] >= '5' {
		us++
	}
	return sec*1e6 + us, true
}

func (p *parser) uintValue(what string, max uint64) uint64 {
	t := p.tok
	var v uint64
	var err error
	switch t.kind {
	case tInt:
		if strings.HasPrefix(t.text, "-") {
			p.failTok("%s must not be negative, got %s", what, t.text)
		}
		v, err = strconv.ParseUint(t.text, 10, 64)
	case tHex:
		v, err = strconv.ParseUint(t.text[2:], 16, 64)
	default:
		p.failTok("expected %s (an integer), got %s", what, t.describe())
	}
	if err != nil || v > max {
		p.failTok("%s %s out of range (max %d)", what, t.text, max)
	}
	p.next()
	return v
}

func (p *parser) u32(what string) uint32 { return uint32(p.uintValue(what, math.MaxUint32)) }
func (p *parser) u16(what string) uint16 { return uint16(p.uintValue(what, math.MaxUint16)) }
func (p *parser) u8(what string) uint8   { return uint8(p.uintValue(what, math.MaxUint8)) }

func (p *parser) packet() *Packet {
	pk := &Packet{Pos: p.tok.pos, Direction: Inbound}
	if p.tok.is('>') {
		pk.Direction = Outbound
	}
	p.next()
	if p.tok.kind == tWord {
		switch p.tok.text {
		case "ipv4", "ipv6", "gre", "mpls":
			p.failTok("%s encapsulation in packet lines is not supported", p.tok.text)
		}
	}
	if p.tok.is('[') || p.tok.is('(') {
		pk.IP = p.ipInfo()
	}
	switch {
	case p.isWord("udp"):
		pk.UDP = p.udp()
	case p.isWord("icmp"):
		pk.ICMP = p.icmp()
	default:
		pk.TCP = p.tcp()
	}
	return pk
}

// ipInfo parses [ip_info] or (ip_info): comma-separated ECN keyword,
// tos HEX, flowlabel HEX, ttl N.
func (p *parser) ipInfo() *IPInfo {
	info := &IPInfo{Pos: p.tok.pos}
	closer := byte(']')
	if p.tok.is('(') {
		closer = ')'
	}
	p.next()
	seenTOS := false
	for {
		if p.tok.kind != tWord {
			p.failTok("expected IP information (noecn, ect0, ect1, ce, ect01, tos, flowlabel, ttl), got %s", p.tok.describe())
		}
		w := p.tok.text
		kpos := p.tok.pos
		dup := func(b bool) {
			if b {
				p.fail(kpos, "%s given twice in IP information", w)
			}
		}
		switch w {
		case "noecn", "ect0", "ect1", "ce", "ect01":
			dup(seenTOS)
			seenTOS = true
			info.ECN = map[string]ECN{"noecn": ECNNotECT, "ect0": ECNECT0, "ect1": ECNECT1, "ce": ECNCE, "ect01": ECNECT01}[w]
			p.next()
		case "tos":
			dup(seenTOS)
			seenTOS = true
			p.next()
			info.HasTOS = true
			info.TOS = p.u8("tos value")
		case "flowlabel":
			dup(info.HasFlowLabel)
			p.next()
			info.HasFlowLabel = true
			info.FlowLabel = uint32(p.uintValue("flowlabel", 0xfffff))
		case "ttl":
			dup(info.HasTTL)
			p.next()
			info.HasTTL = true
			info.TTL = p.u8("ttl")
		default:
			p.failTok("unknown IP information %q (want noecn, ect0, ect1, ce, ect01, tos, flowlabel or ttl)", w)
		}
		if p.tok.is(',') {
			p.next()
			continue
		}
		p.expect(closer, "to close the IP information")
		return info
	}
}

func (p *parser) ports() *Ports {
	pt := &Ports{Pos: p.tok.pos}
	pt.Src = p.u16("source port")
	p.expect('>', "between ports")
	pt.Dst = p.u16("destination port")
	return pt
}

func (p *parser) seqRange() SeqRange {
	s := SeqRange{Pos: p.tok.pos}
	s.Start = p.u32("start sequence number")
	p.expect(':', "in sequence range start:end(len)")
	s.End = p.u32("end sequence number")
	p.expect('(', "in sequence range start:end(len)")
	s.Len = p.u32("sequence range length")
	p.expect(')', "in sequence range start:end(len)")
	if s.End-s.Start != s.Len {
		p.fail(s.Pos, "inconsistent sequence range %d:%d(%d): end - start must equal the length", s.Start, s.End, s.Len)
	}
	return s
}

const flagLetters = "FSRPUEW"

func (p *parser) tcp() *TCPHeader {
	h := &TCPHeader{Pos: p.tok.pos}
	if p.tok.kind == tInt {
		h.Ports = p.ports()
	}
	switch {
	case p.tok.is('.'):
		h.Flags = FlagACK
		p.next()
	case p.tok.is('-'):
		p.next()
	case p.tok.kind == tWord:
		for i := 0; i < len(p.tok.text); i++ {
			j := strings.IndexByte(flagLetters, p.tok.text[i])
			if j < 0 {
				p.failTok("bad TCP flags %q: flags are F S R P U E W and '.' for ACK", p.tok.text)
			}
			bit := []uint8{FlagFIN, FlagSYN, FlagRST, FlagPSH, FlagURG, FlagECE, FlagCWR}[j]
			if h.Flags&bit != 0 {
				p.failTok("TCP flag %c repeated in %q", p.tok.text[i], p.tok.text)
			}
			h.Flags |= bit
		}
		p.next()
		if p.tok.is('.') {
			h.Flags |= FlagACK
			p.next()
		}
	default:
		p.failTok("expected TCP flags (like S, S., P., F., R, '.'), udp or icmp, got %s", p.tok.describe())
	}
	h.Seq = p.seqRange()
	for p.tok.kind == tWord {
		w, kpos := p.tok.text, p.tok.pos
		var dup bool
		switch w {
		case "ack":
			dup = h.HasAck
			p.next()
			h.HasAck, h.Ack = true, p.u32("ack number")
		case "win":
			dup = h.HasWin
			p.next()
			h.HasWin, h.Win = true, p.u16("window")
		case "urg":
			dup = h.HasUrg
			p.next()
			h.HasUrg, h.Urg = true, p.u16("urgent pointer")
		default:
			p.fail(kpos, "unexpected %q in TCP packet (expected ack, win, urg or <options>)", w)
		}
		if dup {
			p.fail(kpos, "%s given twice", w)
		}
	}
	if p.tok.is('<') {
		h.Options = p.tcpOptions()
	}
	return h
}

func (p *parser) tcpOptions() *TCPOptions {
	opts := &TCPOptions{Pos: p.tok.pos}
	p.next()
	if p.tok.kind == tEllipsis {
		opts.Any = true
		p.next()
		p.expect('>', "after <...")
		return opts
	}
	for {
		opts.List = append(opts.List, p.tcpOption())
		if p.tok.is(',') {
			p.next()
			continue
		}
		p.expect('>', "or ',' in TCP options")
		return opts
	}
}

// hexBlob returns the text of a cookie or digest (a word or an integer).
func (p *parser) hexBlob() (string, bool) {
	if p.tok.kind == tWord || p.tok.kind == tInt {
		s := p.tok.text
		p.next()
		return s, true
	}
	return "", false
}

func (p *parser) tcpOption() *TCPOption {
	o := &TCPOption{Pos: p.tok.pos}
	if p.tok.kind != tWord {
		p.failTok("expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, md5, FO, FOEXP), got %s", p.tok.describe())
	}
	w := p.tok.text
	p.next()
	switch w {
	case "nop":
		o.Kind = OptNOP
	case "eol":
		o.Kind = OptEOL
	case "mss":
		o.Kind = OptMSS
		o.MSS = p.u16("mss")
	case "wscale":
		o.Kind = OptWScale
		o.WScale = p.u8("wscale")
	case "sackOK":
		o.Kind = OptSACKOK
	case "sack":
		o.Kind = OptSACK
		for p.tok.kind == tInt || p.tok.kind == tHex {
			b := SACKBlock{Pos: p.tok.pos}
			b.Left = p.u32("SACK block left edge")
			p.expect(':', "in SACK block L:R")
			b.Right = p.u32("SACK block right edge")
			o.SACK = append(o.SACK, b)
		}
		if len(o.SACK) == 0 {
			p.failTok("sack option needs at least one block L:R, got %s", p.tok.describe())
		}
	case "TS":
		o.Kind = OptTimestamp
		if !p.isWord("val") {
			p.failTok("expected \"val\" in TS option (TS val N ecr N), got %s", p.tok.describe())
		}
		p.next()
		o.TSVal = p.u32("TS val")
		if !p.isWord("ecr") {
			p.failTok("expected \"ecr\" in TS option (TS val N ecr N), got %s", p.tok.describe())
		}
		p.next()
		o.TSEcr = p.u32("TS ecr")
	case "md5":
		o.Kind = OptMD5
		s, ok := p.hexBlob()
		if !ok {
			p.failTok("md5 option needs a hex digest, got %s", p.tok.describe())
		}
		o.Digest = s
	case "FO", "FOEXP":
		o.Kind = OptFastOpen
		if w == "FOEXP" {
			o.Kind = OptFastOpenExp
		}
		o.Cookie, _ = p.hexBlob()
	default:
		p.fail(o.Pos, "unknown TCP option %q", w)
	}
	return o
}

func (p *parser) udp() *UDPHeader {
	h := &UDPHeader{Pos: p.tok.pos}
	p.next()
	if p.tok.kind == tInt {
		h.Ports = p.ports()
	}
	p.expect('(', "before the UDP payload length")
	h.Len = p.u32("UDP payload length")
	p.expect(')', "after the UDP payload length")
	return h
}

func (p *parser) icmp() *ICMPHeader {
	h := &ICMPHeader{Pos: p.tok.pos}
	p.next()
	if p.tok.kind != tWord {
		p.failTok("expected an ICMP type (like unreachable), got %s", p.tok.describe())
	}
	h.Type = p.tok.text
	p.next()
	if p.tok.kind == tWord && p.tok.text != "mtu" && p.tok.text != "id" {
		h.Code = p.tok.text
		p.next()
	}
	if p.isWord("mtu") {
		p.next()
		h.HasMTU, h.MTU = true, p.u32("mtu")
	}
	if p.isWord("id") {
		p.next()
		h.HasID, h.ID = true, p.u32("ICMP echo id")
	}
	if p.tok.is('[') {
		e := &ICMPEchoed{Pos: p.tok.pos}
		p.next()
		switch {
		case p.isWord("udp") || p.isWord("raw"):
			e.Kind = EchoedUDP
			if p.tok.text == "raw" {
				e.Kind = EchoedRaw
			}
			p.next()
			p.expect('(', "before the echoed length")
			e.Len = p.u32("echoed length")
			p.expect(')', "after the echoed length")
		default:
			e.Kind = EchoedTCP
			e.Seq = p.seqRange()
		}
		p.expect(']', "after the echoed packet")
		h.Echoed = e
	}
	return h
}

func (p *parser) syscall() *Syscall {
	sc := &Syscall{Pos: p.tok.pos}
	if p.tok.kind == tEllipsis {
		p.next()
		end := &BlockEnd{Pos: p.tok.pos}
		end.Usecs = p.timeValue("end time of blocking call (...END)")
		sc.End = end
	}
	if p.tok.kind != tWord {
		p.failTok("expected a system call name, got %s", p.tok.describe())
	}
	sc.Name = p.tok.text
	p.next()
	p.expect('(', "after the system call name")
	sc.Args = p.exprList(')', true)
	if !p.tok.is('=') {
		p.failTok("expected '=' and the expected result after %s(...), got %s", sc.Name, p.tok.describe())
	}
	p.next()
	sc.Result = p.expr(false)
	if p.tok.kind == tWord {
		sc.Errno = p.tok.text
		p.next()
	}
	if p.tok.is('(') {
		open := p.tok.pos
		if len(p.lx.pending) > 0 {
			p.fail(open, "define in a result note")
		}
		raw, ok := p.lx.rawUntil(')')
		if !ok {
			p.fail(open, "unterminated note: missing ')'")
		}
		sc.Note = strings.Join(strings.Fields(raw), " ")
		p.next()
	}
	return sc
}

// exprList parses expressions separated by commas up to the closing byte
// (which it consumes). The opening bracket has been consumed.
func (p *parser) exprList(closer byte, calls bool) []Expr {
	var list []Expr
	if p.tok.is(closer) {
		p.next()
		return list
	}
	for {
		list = append(list, p.expr(calls))
		if p.tok.is(',') {
			p.next()
			continue
		}
		if !p.tok.is(closer) {
			p.failTok("expected ',' or %q in list, got %s", closer, p.tok.describe())
		}
		p.next()
		return list
	}
}

// expr parses an expression: a unary expression, or several joined by '|'.
// calls allows WORD(...) forms (not after '=' of a result, where a
// parenthesis starts the note).
func (p *parser) expr(calls bool) Expr {
	x := p.unary(calls, 0)
	if !p.tok.is('|') {
		return x
	}
	or := &Or{Pos: x.Position(), Terms: []Expr{x}}
	for p.tok.is('|') {
		p.next()
		or.Terms = append(or.Terms, p.unary(calls, 0))
	}
	return or
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 100

func (p *parser) unary(calls bool, depth int) Expr {
	if depth > maxDepth {
		p.failTok("expression nested too deeply")
	}
	if p.tok.is('&') {
		pos := p.tok.pos
		p.next()
		return &AddrOf{Pos: pos, X: p.unary(calls, depth+1)}
	}
	return p.primary(calls, depth)
}

func (p *parser) nested(closer byte, depth int) []Expr {
	if depth > maxDepth {
		p.failTok("expression nested too deeply")
	}
	var list []Expr
	if p.tok.is(closer) {
		p.next()
		return list
	}
	for {
		x := p.unary(true, depth+1)
		if p.tok.is('|') {
			or := &Or{Pos: x.Position(), Terms: []Expr{x}}
			for p.tok.is('|') {
				p.next()
				or.Terms = append(or.Terms, p.unary(true, depth+1))
			}
			x = or
		}
		list = append(list, x)
		if p.tok.is(',') {
			p.next()
			continue
		}
		if !p.tok.is(closer) {
			p.failTok("expected ',' or %q, got %s", closer, p.tok.describe())
		}
		p.next()
		return list
	}
}

func (p *parser) primary(calls bool, depth int) Expr {
	t := p.tok
	switch t.kind {
	case tEllipsis:
		p.next()
		return &Ellipsis{Pos: t.pos}
	case tInt, tHex:
		n := &Int{Pos: t.pos, Text: t.text}
		var err error
		if t.kind == tHex {
			var u uint64
			u, err = strconv.ParseUint(t.text[2:], 16, 64)
			n.Value = int64(u)
		} else {
			n.Value, err = strconv.ParseInt(t.text, 10, 64)
			if err != nil && !strings.HasPrefix(t.text, "-") {
				var u uint64
				u, err = strconv.ParseUint(t.text, 10, 64)
				n.Value = int64(u)
			}
		}
		if err != nil {
			p.failTok("integer %s out of range", t.text)
		}
		p.next()
		return n
	case tString:
		p.next()
		s := &String{Pos: t.pos, Value: t.val, Raw: t.text}
		if p.tok.kind == tEllipsis {
			s.Prefix = true
			p.next()
		}
		return s
	case tWord:
		p.next()
		var args []Expr
		hasArgs := false
		if calls && p.tok.is('(') {
			p.next()
			args = p.nested(')', depth+1)
			hasArgs = true
		}
		if p.tok.is('=') {
			p.next()
			f := &Field{Pos: t.pos, Name: t.text}
			if hasArgs {
				if len(args) != 1 {
					p.fail(t.pos, "%s(...)= takes exactly one argument in parentheses", t.text)
				}
				f.Arg = args[0]
			}
			x := p.unary(true, depth+1)
			if p.tok.is('|') {
				or := &Or{Pos: x.Position(), Terms: []Expr{x}}
				for p.tok.is('|') {
					p.next()
					or.Terms = append(or.Terms, p.unary(true, depth+1))
				}
				x = or
			}
			f.Value = x
			return f
		}
		if hasArgs {
			return &Call{Pos: t.pos, Name: t.text, Args: args}
		}
		return &Ident{Pos: t.pos, Name: t.text}
	case tPunct:
		switch t.text[0] {
		case '[':
			p.next()
			return &Array{Pos: t.pos, Elems: p.nested(']', depth+1)}
		case '{':
			p.next()
			s := &Struct{Pos: t.pos, Elems: p.nested('}', depth+1)}
			s.Kind = classifyStruct(s)
			return s
		}
	}
	p.failTok("expected an expression, got %s", t.describe())
	return nil
}

func classifyStruct(s *Struct) StructKind {
	if len(s.Elems) == 0 {
		return StructGeneric
	}
	f, ok := s.Elems[0].(*Field)
	if !ok {
		if len(s.Elems) == 2 {
			switch s.Elems[0].(type) {
			case *Ellipsis, *String:
				return StructIovec
			}
		}
		return StructGeneric
	}
	switch f.Name {
	case "sa_family", "sin_family", "sin6_family":
		return StructSockaddr
	case "msg_name":
		return StructMsghdr
	case "fd":
		return StructPollfd
	case "events":
		return StructEpollEvent
	case "onoff":
		return StructLinger
	case "cmsg_level":
		return StructCmsg
	case "scm_sec":
		return StructScmTimestamping
	case "ee_errno":
		return StructSockExtendedErr
	}
	return StructGeneric
}

// Expand replaces each ${NAME} in s for which lookup reports a value and
// leaves the others (such as ${PPID}, expanded later by the shell) as they
// are. Runners use it on Command.Text with their defines.
func Expand(s string, lookup func(name string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		if v, ok := lookup(name); ok && isIdent(name) {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}

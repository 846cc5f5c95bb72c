package pktdrill

import (
	"fmt"
	"strconv"
	"strings"
)

// Format prints a node back in packetdrill notation, normalised: single
// spaces, canonical flag order (F S R P U E W then '.'), options without
// spaces after commas, times as seconds with at least three decimals
// ("+0.100") unless whole ("+1"), IP information in square brackets.
//
// For an *Event it prints the whole line ("+0.100 > S. 0:0(0) ack 1 <...>");
// for a *Packet the direction and packet ("> S. 0:0(0) ack 1 <...>"); use
// FormatPacketBody for the packet without its direction, as in failure
// messages ("script packet: 0.100 S. 0:0(0) ack 1 <...>"). A *Script prints
// one line per option, command and event.
func Format(n Node) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

// FormatPacketBody prints a packet without its direction.
func FormatPacketBody(p *Packet) string {
	var b strings.Builder
	writePacketBody(&b, p)
	return b.String()
}

// FormatUsecs prints a time in microseconds as seconds: "0.100", "1",
// "0.0015", "-0.250".
func FormatUsecs(us int64) string {
	sign := ""
	if us < 0 {
		sign = "-"
		us = -us
	}
	sec, frac := us/1e6, us%1e6
	if frac == 0 {
		return sign + strconv.FormatInt(sec, 10)
	}
	f := fmt.Sprintf("%06d", frac)
	for len(f) > 3 && f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return sign + strconv.FormatInt(sec, 10) + "." + f
}

func writeNode(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *Script:
		for _, o := range n.Options {
			writeNode(b, o)
			b.WriteByte('\n')
		}
		if n.Init != nil {
			writeNode(b, n.Init)
			b.WriteByte('\n')
		}
		for _, e := range n.Events {
			writeNode(b, e)
			b.WriteByte('\n')
		}
		if n.Cleanup != nil {
			writeNode(b, n.Cleanup)
			b.WriteByte('\n')
		}
	case *Option:
		b.WriteString("--" + n.Name)
		if n.HasValue {
			b.WriteString("=" + n.Value)
		}
	case *Define:
		b.WriteString(n.Name + "=" + n.Value)
	case *Event:
		writeTime(b, n.Time)
		if sc, ok := n.Action.(*Syscall); ok && sc.End != nil {
			b.WriteString("..." + FormatUsecs(sc.End.Usecs))
		}
		b.WriteByte(' ')
		if sc, ok := n.Action.(*Syscall); ok {
			writeSyscallCall(b, sc)
		} else if n.Action != nil {
			writeNode(b, n.Action)
		}
	case *Time:
		writeTime(b, n)
	case *Packet:
		b.WriteString(n.Direction.String() + " ")
		writePacketBody(b, n)
	case *IPInfo:
		writeIPInfo(b, n)
	case *TCPHeader:
		writeTCP(b, n)
	case *UDPHeader:
		writeUDP(b, n)
	case *ICMPHeader:
		writeICMP(b, n)
	case *ICMPEchoed:
		writeEchoed(b, n)
	case *TCPOptions:
		writeOptions(b, n)
	case *TCPOption:
		writeOption(b, n)
	case *SeqRange:
		writeSeq(b, *n)
	case *SACKBlock:
		fmt.Fprintf(b, "%d:%d", n.Left, n.Right)
	case *Ports:
		fmt.Fprintf(b, "%d>%d", n.Src, n.Dst)
	case *Syscall:
		if n.End != nil {
			b.WriteString("..." + FormatUsecs(n.End.Usecs) + " ")
		}
		writeSyscallCall(b, n)
	case *BlockEnd:
		b.WriteString("..." + FormatUsecs(n.Usecs))
	case *Command:
		b.WriteString("`" + n.Text + "`")
	case *Code:
		b.WriteString("%{" + n.Text + "}%")
	case Expr:
		writeExpr(b, n)
	}
}

func writeTime(b *strings.Builder, t *Time) {
	plus := ""
	if t.Relative || t.Kind == TimeRelative {
		plus = "+"
	}
	switch t.Kind {
	case TimeAny:
		b.WriteByte('*')
	case TimeAbsolute, TimeRelative:
		b.WriteString(plus + FormatUsecs(t.Start))
	case TimeRange:
		b.WriteString(plus + FormatUsecs(t.Start) + "~" + plus + FormatUsecs(t.End))
	}
}

func writePacketBody(b *strings.Builder, p *Packet) {
	if p.IP != nil {
		writeIPInfo(b, p.IP)
		b.WriteByte(' ')
	}
	switch {
	case p.TCP != nil:
		writeTCP(b, p.TCP)
	case p.UDP != nil:
		writeUDP(b, p.UDP)
	case p.ICMP != nil:
		writeICMP(b, p.ICMP)
	}
}

func writeIPInfo(b *strings.Builder, ip *IPInfo) {
	var parts []string
	if ip.ECN != ECNUnset {
		parts = append(parts, ip.ECN.String())
	}
	if ip.HasTOS {
		parts = append(parts, fmt.Sprintf("tos 0x%02x", ip.TOS))
	}
	if ip.HasFlowLabel {
		parts = append(parts, fmt.Sprintf("flowlabel 0x%x", ip.FlowLabel))
	}
	if ip.HasTTL {
		parts = append(parts, fmt.Sprintf("ttl %d", ip.TTL))
	}
	b.WriteString("[" + strings.Join(parts, ",") + "]")
}

// FlagsString prints TCP flag bits as in a script: "S.", "FP.", "SEW", "-".
func FlagsString(f uint8) string {
	var s []byte
	for i, bit := range []uint8{FlagFIN, FlagSYN, FlagRST, FlagPSH, FlagURG, FlagECE, FlagCWR} {
		if f&bit != 0 {
			s = append(s, flagLetters[i])
		}
	}
	if f&FlagACK != 0 {
		s = append(s, '.')
	}
	if len(s) == 0 {
		return "-"
	}
	return string(s)
}

func writeSeq(b *strings.Builder, s SeqRange) {
	fmt.Fprintf(b, "%d:%d(%d)", s.Start, s.End, s.Len)
}

func writeTCP(b *strings.Builder, h *TCPHeader) {
	if h.Ports != nil {
		fmt.Fprintf(b, "%d>%d ", h.Ports.Src, h.Ports.Dst)
	}
	b.WriteString(FlagsString(h.Flags) + " ")
	writeSeq(b, h.Seq)
	if h.HasAck {
		fmt.Fprintf(b, " ack %d", h.Ack)
	}
	if h.HasWin {
		fmt.Fprintf(b, " win %d", h.Win)
	}
	if h.HasUrg {
		fmt.Fprintf(b, " urg %d", h.Urg)
	}
	if h.Options != nil {
		b.WriteByte(' ')
		writeOptions(b, h.Options)
	}
}

func writeOptions(b *strings.Builder, o *TCPOptions) {
	if o.Any {
		b.WriteString("<...>")
		return
	}
	b.WriteByte('<')
	for i, opt := range o.List {
		if i > 0 {
			b.WriteByte(',')
		}
		writeOption(b, opt)
	}
	b.WriteByte('>')
}

func writeOption(b *strings.Builder, o *TCPOption) {
	b.WriteString(o.Kind.String())
	switch o.Kind {
	case OptMSS:
		fmt.Fprintf(b, " %d", o.MSS)
	case OptWScale:
		fmt.Fprintf(b, " %d", o.WScale)
	case OptSACK:
		for _, s := range o.SACK {
			fmt.Fprintf(b, " %d:%d", s.Left, s.Right)
		}
	case OptTimestamp:
		fmt.Fprintf(b, " val %d ecr %d", o.TSVal, o.TSEcr)
	case OptMD5:
		b.WriteString(" " + o.Digest)
	case OptFastOpen, OptFastOpenExp:
		if o.Cookie != "" {
			b.WriteString(" " + o.Cookie)
		}
	}
}

func writeUDP(b *strings.Builder, h *UDPHeader) {
	b.WriteString("udp ")
	if h.Ports != nil {
		fmt.Fprintf(b, "%d>%d ", h.Ports.Src, h.Ports.Dst)
	}
	fmt.Fprintf(b, "(%d)", h.Len)
}

func writeICMP(b *strings.Builder, h *ICMPHeader) {
	b.WriteString("icmp " + h.Type)
	if h.Code != "" {
		b.WriteString(" " + h.Code)
	}
	if h.HasMTU {
		fmt.Fprintf(b, " mtu %d", h.MTU)
	}
	if h.HasID {
		fmt.Fprintf(b, " id %d", h.ID)
	}
	if h.Echoed != nil {
		b.WriteByte(' ')
		writeEchoed(b, h.Echoed)
	}
}

func writeEchoed(b *strings.Builder, e *ICMPEchoed) {
	switch e.Kind {
	case EchoedTCP:
		b.WriteByte('[')
		writeSeq(b, e.Seq)
		b.WriteByte(']')
	case EchoedUDP:
		fmt.Fprintf(b, "[udp (%d)]", e.Len)
	case EchoedRaw:
		fmt.Fprintf(b, "[raw (%d)]", e.Len)
	}
}

func writeSyscallCall(b *strings.Builder, sc *Syscall) {
	b.WriteString(sc.Name + "(")
	writeExprList(b, sc.Args)
	b.WriteString(") = ")
	if sc.Result != nil {
		writeExpr(b, sc.Result)
	}
	if sc.Errno != "" {
		b.WriteString(" " + sc.Errno)
	}
	if sc.Note != "" {
		b.WriteString(" (" + sc.Note + ")")
	}
}

func writeExprList(b *strings.Builder, list []Expr) {
	for i, x := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, x)
	}
}

func writeExpr(b *strings.Builder, x Expr) {
	switch x := x.(type) {
	case *Ellipsis:
		b.WriteString("...")
	case *Int:
		if x.Text != "" {
			b.WriteString(x.Text)
		} else {
			b.WriteString(strconv.FormatInt(x.Value, 10))
		}
	case *Ident:
		b.WriteString(x.Name)
	case *String:
		if x.Raw != "" {
			b.WriteString(x.Raw)
		} else {
			b.WriteString(quoteC(x.Value))
		}
		if x.Prefix {
			b.WriteString("...")
		}
	case *Or:
		for i, t := range x.Terms {
			if i > 0 {
				b.WriteByte('|')
			}
			writeExpr(b, t)
		}
	case *Field:
		b.WriteString(x.Name)
		if x.Arg != nil {
			b.WriteByte('(')
			writeExpr(b, x.Arg)
			b.WriteByte(')')
		}
		b.WriteByte('=')
		writeExpr(b, x.Value)
	case *Call:
		b.WriteString(x.Name + "(")
		writeExprList(b, x.Args)
		b.WriteByte(')')
	case *AddrOf:
		b.WriteByte('&')
		writeExpr(b, x.X)
	case *Array:
		b.WriteByte('[')
		writeExprList(b, x.Elems)
		b.WriteByte(']')
	case *Struct:
		b.WriteByte('{')
		writeExprList(b, x.Elems)
		b.WriteByte('}')
	}
}

// quoteC quotes s as a C string literal.
func quoteC(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

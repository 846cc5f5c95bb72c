package pktdrill

import (
	"fmt"
	"sort"
	"strings"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF       tokKind = iota
	tInt               // 123, -1
	tHex               // 0x1f
	tFloat             // 0.100, .1
	tWord              // identifiers, and alphanumeric runs such as 00abaaabe8e954c2
	tString            // "..."
	tBackquote         // `...`
	tCode              // %{ ... }%
	tOption            // --name[=value]
	tEllipsis          // ...
	tPunct             // one of < > ( ) [ ] { } , : = | + * ~ & . -
)

type token struct {
	kind tokKind
	text string // source text; for tString the raw literal, for tBackquote/tCode the inner text
	val  string // tString: unescaped value; tOption: value after '='
	has  bool   // tOption: '=' present
	pos  Pos
	off  int // byte offset of the token's first character
	end  int // byte offset just past the token
}

func (t token) is(c byte) bool { return t.kind == tPunct && t.text[0] == c }

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return "string " + truncate(t.text)
	case tBackquote:
		return "backquoted command"
	case tCode:
		return "%{ }% code block"
	case tOption:
		return "option --" + t.text
	case tEllipsis:
		return "\"...\""
	}
	return fmt.Sprintf("%q", truncate(t.text))
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Error is a syntax error at a position. Its message reads
// "file.pkt:LINE:COL: syntax error: ...".
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": syntax error: " + e.Msg }

// lexer turns source text into tokens on demand. It never looks further ahead
// than the token it returns, so the parser can switch to raw scanning (for
// errno notes) right after a token.
type lexer struct {
	file       string
	src        string
	off        int
	lineStarts []int
	// base, when set, replaces every position (tokens lexed from a define's
	// value take the position of the name they replace).
	base *Pos
	// defines maps names to values substituted for words.
	defines map[string]string
	pending []token
}

func newLexer(file, src string) *lexer {
	lx := &lexer{file: file, src: src, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			lx.lineStarts = append(lx.lineStarts, i+1)
		}
	}
	return lx
}

func (lx *lexer) pos(off int) Pos {
	if lx.base != nil {
		return *lx.base
	}
	i := sort.Search(len(lx.lineStarts), func(i int) bool { return lx.lineStarts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return Pos{File: lx.file, Line: i + 1, Col: off - lx.lineStarts[i] + 1}
}

func (lx *lexer) errAt(off int, format string, args ...any) *Error {
	return &Error{Pos: lx.pos(off), Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func (lx *lexer) peekByte(i int) byte {
	if lx.off+i < len(lx.src) {
		return lx.src[lx.off+i]
	}
	return 0
}

// skipSpace skips white space and comments.
func (lx *lexer) skipSpace() *Error {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case isSpace(c):
			lx.off++
		case c == '/' && lx.peekByte(1) == '/':
			i := strings.IndexByte(lx.src[lx.off:], '\n')
			if i < 0 {
				lx.off = len(lx.src)
			} else {
				lx.off += i + 1
			}
		case c == '/' && lx.peekByte(1) == '*':
			i := strings.Index(lx.src[lx.off+2:], "*/")
			if i < 0 {
				return lx.errAt(lx.off, "unterminated /* comment")
			}
			lx.off += 2 + i + 2
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token, replacing words that name defines by the
// tokens of their values.
func (lx *lexer) next() (token, *Error) {
	for {
		if len(lx.pending) > 0 {
			t := lx.pending[0]
			lx.pending = lx.pending[1:]
			return t, nil
		}
		t, err := lx.scan()
		if err != nil || t.kind != tWord || lx.defines == nil {
			return t, err
		}
		name := t.text
		if strings.HasPrefix(name, "${") {
			name = name[2 : len(name)-1]
		}
		v, ok := lx.defines[name]
		if !ok {
			return t, nil
		}
		toks, err := lexDefine(t.pos, name, v)
		if err != nil {
			return t, err
		}
		for i := range toks {
			toks[i].off, toks[i].end = t.off, t.end
		}
		lx.pending = toks // empty for an empty value: the word disappears
	}
}

// lexDefine lexes a define's value into tokens positioned at the name.
func lexDefine(at Pos, name, value string) ([]token, *Error) {
	sub := newLexer(at.File, value)
	sub.base = &at
	var toks []token
	for {
		t, err := sub.scan()
		if err != nil {
			return nil, &Error{Pos: at, Msg: fmt.Sprintf("in the value of define %s: %s", name, err.Msg)}
		}
		if t.kind == tEOF {
			return toks, nil
		}
		toks = append(toks, t)
	}
}

func (lx *lexer) tok(kind tokKind, start int, text string) token {
	return token{kind: kind, text: text, pos: lx.pos(start), off: start, end: lx.off}
}

// scan lexes one token from the source (no define substitution).
func (lx *lexer) scan() (token, *Error) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	start := lx.off
	if lx.off >= len(lx.src) {
		return lx.tok(tEOF, start, ""), nil
	}
	c := lx.src[lx.off]
	switch {
	case c == '"':
		return lx.scanString()
	case c == '`':
		i := strings.IndexByte(lx.src[lx.off+1:], '`')
		if i < 0 {
			return token{}, lx.errAt(start, "unterminated backquoted command")
		}
		text := lx.src[lx.off+1 : lx.off+1+i]
		lx.off += i + 2
		return lx.tok(tBackquote, start, text), nil
	case c == '%' && lx.peekByte(1) == '{':
		i := strings.Index(lx.src[lx.off+2:], "}%")
		if i < 0 {
			return token{}, lx.errAt(start, "unterminated %%{ code block (missing }%%)")
		}
		text := lx.src[lx.off+2 : lx.off+2+i]
		lx.off += 2 + i + 2
		return lx.tok(tCode, start, text), nil
	case c == '-' && lx.peekByte(1) == '-' && isAlnum(lx.peekByte(2)):
		return lx.scanOption()
	case c == '-' && lx.peekByte(1) == 'D' && (lx.peekByte(2) == ' ' || lx.peekByte(2) == '\t' || isLetter(lx.peekByte(2))):
		return lx.scanDashD()
	case c == '-' && isDigit(lx.peekByte(1)):
		lx.off++
		return lx.scanNumber(start)
	case c == '.' && lx.peekByte(1) == '.' && lx.peekByte(2) == '.':
		lx.off += 3
		return lx.tok(tEllipsis, start, "..."), nil
	case c == '.' && isDigit(lx.peekByte(1)):
		return lx.scanNumber(start)
	case isDigit(c):
		return lx.scanNumber(start)
	case isLetter(c):
		for lx.off < len(lx.src) && isAlnum(lx.src[lx.off]) {
			lx.off++
		}
		return lx.tok(tWord, start, lx.src[start:lx.off]), nil
	case c == '$' && lx.peekByte(1) == '{':
		i := 2
		for isAlnum(lx.peekByte(i)) {
			i++
		}
		if i == 2 || lx.peekByte(i) != '}' {
			return token{}, lx.errAt(start, "malformed ${NAME} reference")
		}
		lx.off += i + 1
		return lx.tok(tWord, start, lx.src[start:lx.off]), nil
	case strings.IndexByte("<>()[]{},:=|+*~&.-", c) >= 0:
		lx.off++
		return lx.tok(tPunct, start, lx.src[start:lx.off]), nil
	}
	if c >= 0x80 || c < 0x20 {
		return token{}, lx.errAt(start, "unexpected character %q", rune(c))
	}
	return token{}, lx.errAt(start, "unexpected character %q", c)
}

// scanNumber lexes a number starting at start (lx.off is past an optional
// leading '-'). An alphanumeric run that is not a number (00abaa...) is a word.
func (lx *lexer) scanNumber(start int) (token, *Error) {
	digits := lx.off
	for lx.off < len(lx.src) && isDigit(lx.src[lx.off]) {
		lx.off++
	}
	if lx.off < len(lx.src) && lx.src[lx.off] == '.' && isDigit(lx.peekByte(1)) {
		lx.off++
		for lx.off < len(lx.src) && isDigit(lx.src[lx.off]) {
			lx.off++
		}
		if lx.off < len(lx.src) && isLetter(lx.src[lx.off]) {
			return token{}, lx.errAt(start, "malformed number %q", lx.src[start:lx.off+1])
		}
		return lx.tok(tFloat, start, lx.src[start:lx.off]), nil
	}
	for lx.off < len(lx.src) && isAlnum(lx.src[lx.off]) {
		lx.off++
	}
	text := lx.src[start:lx.off]
	run := lx.src[digits:lx.off]
	switch {
	case allDigits(run):
		return lx.tok(tInt, start, text), nil
	case len(run) > 2 && run[0] == '0' && (run[1] == 'x' || run[1] == 'X') && allHex(run[2:]) && start == digits:
		return lx.tok(tHex, start, text), nil
	}
	return lx.tok(tWord, start, text), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}

// scanString lexes a C-style double-quoted string.
func (lx *lexer) scanString() (token, *Error) {
	start := lx.off
	lx.off++
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) {
			return token{}, lx.errAt(start, "unterminated string")
		}
		c := lx.src[lx.off]
		if c == '"' {
			lx.off++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			lx.off++
			continue
		}
		if lx.off+1 >= len(lx.src) {
			return token{}, lx.errAt(start, "unterminated string")
		}
		e := lx.src[lx.off+1]
		lx.off += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && lx.off < len(lx.src) && isHex(lx.src[lx.off]) {
				v = v*16 + hexVal(lx.src[lx.off])
				lx.off++
				n++
			}
			if n == 0 {
				return token{}, lx.errAt(lx.off-2, "\\x with no hex digits in string")
			}
			b.WriteByte(byte(v))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, n := int(e-'0'), 1
			for n < 3 && lx.off < len(lx.src) && '0' <= lx.src[lx.off] && lx.src[lx.off] <= '7' {
				v = v*8 + int(lx.src[lx.off]-'0')
				lx.off++
				n++
			}
			b.WriteByte(byte(v))
		default: // \\ \" \' \? and anything else: the character itself
			b.WriteByte(e)
		}
	}
	t := lx.tok(tString, start, lx.src[start:lx.off])
	t.val = b.String()
	return t, nil
}

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// scanOption lexes --name[=value]. The value runs to the next white space,
// with "..." and `...` segments taken whole.
func (lx *lexer) scanOption() (token, *Error) {
	start := lx.off
	lx.off += 2
	for lx.off < len(lx.src) && (isAlnum(lx.src[lx.off]) || lx.src[lx.off] == '-') {
		lx.off++
	}
	name := lx.src[start+2 : lx.off]
	if lx.off >= len(lx.src) || lx.src[lx.off] != '=' {
		if lx.off < len(lx.src) && !isSpace(lx.src[lx.off]) {
			return token{}, lx.errAt(lx.off, "unexpected character %q in option --%s", lx.src[lx.off], name)
		}
		return lx.tok(tOption, start, name), nil
	}
	lx.off++
	return lx.optionValue(start, name)
}

// optionValue lexes an option's value: everything up to the next white
// space, with "..." and `...` segments taken whole.
func (lx *lexer) optionValue(start int, name string) (token, *Error) {
	vstart := lx.off
	for lx.off < len(lx.src) && !isSpace(lx.src[lx.off]) {
		switch q := lx.src[lx.off]; q {
		case '"', '`':
			i := lx.off + 1
			for i < len(lx.src) && lx.src[i] != q {
				if q == '"' && lx.src[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(lx.src) {
				return token{}, lx.errAt(lx.off, "unterminated %c in option --%s", q, name)
			}
			lx.off = i + 1
		default:
			lx.off++
		}
	}
	t := lx.tok(tOption, start, name)
	t.val = lx.src[vstart:lx.off]
	t.has = true
	return t, nil
}

// scanDashD lexes "-D NAME=VALUE" (or -DNAME=VALUE) as --define=NAME=VALUE.
func (lx *lexer) scanDashD() (token, *Error) {
	start := lx.off
	lx.off += 2
	for lx.off < len(lx.src) && (lx.src[lx.off] == ' ' || lx.src[lx.off] == '\t') {
		lx.off++
	}
	return lx.optionValue(start, "define")
}

// rawUntil returns the source text from the lexer's position up to (not
// including) the next close byte, and moves past it. Used for errno notes.
func (lx *lexer) rawUntil(close byte) (string, bool) {
	i := strings.IndexByte(lx.src[lx.off:], close)
	if i < 0 {
		return "", false
	}
	s := lx.src[lx.off : lx.off+i]
	lx.off += i + 1
	return s, true
}

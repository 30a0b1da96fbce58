package syntax

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a position in a query: 1-based line and column (in runes), and the
// 0-based byte offset.
type Pos struct {
	Line, Col int
	Offset    int
}

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

// Error is a query error at a position. Its text reads "line:col: message".
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf builds an *Error.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// TokenType is the lexical class of a token.
type TokenType int

// Token types.
const (
	EOF TokenType = iota
	Ident
	String
	Number
	Comma
	Dot
	LParen
	RParen
)

// Token is one lexeme with its position. For strings Text is the unquoted
// content; for other tokens it is the source text.
type Token struct {
	Type TokenType
	Text string
	Pos  Pos
}

// describe renders a token for error messages.
func (t Token) describe() string {
	switch t.Type {
	case EOF:
		return "end of query"
	case String:
		return "string " + strconv.Quote(t.Text)
	case Number:
		return "number " + t.Text
	case Ident:
		return "identifier " + strconv.Quote(t.Text)
	default:
		return strconv.Quote(t.Text)
	}
}

// lexer turns a query into tokens, one at a time.
type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col, Offset: l.off} }

func (l *lexer) peekRune() (rune, int) {
	if l.off >= len(l.src) {
		return -1, 0
	}
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	return r, n
}

func (l *lexer) advance() rune {
	r, n := l.peekRune()
	if n == 0 {
		return -1
	}
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func isIdentStart(r rune) bool { return r == '_' || (r < utf8.RuneSelf && unicode.IsLetter(r)) }

func isIdentPart(r rune) bool { return isIdentStart(r) || (r >= '0' && r <= '9') }

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// next returns the next token or a lexical error.
func (l *lexer) next() (Token, *Error) {
	for {
		r, _ := l.peekRune()
		if r < 0 || !isSpace(r) {
			break
		}
		l.advance()
	}
	start := l.pos()
	r, _ := l.peekRune()
	switch {
	case r < 0:
		return Token{Type: EOF, Pos: start}, nil
	case r == ',':
		l.advance()
		return Token{Type: Comma, Text: ",", Pos: start}, nil
	case r == '.':
		l.advance()
		return Token{Type: Dot, Text: ".", Pos: start}, nil
	case r == '(':
		l.advance()
		return Token{Type: LParen, Text: "(", Pos: start}, nil
	case r == ')':
		l.advance()
		return Token{Type: RParen, Text: ")", Pos: start}, nil
	case r == '\'' || r == '"':
		l.advance()
		from := l.off
		for {
			c, _ := l.peekRune()
			if c < 0 {
				return Token{}, Errorf(start, "unterminated string")
			}
			if c == r {
				text := l.src[from:l.off]
				l.advance()
				return Token{Type: String, Text: text, Pos: start}, nil
			}
			l.advance()
		}
	case isDigit(r) || r == '-' || r == '+':
		return l.number(start)
	case isIdentStart(r):
		from := l.off
		for {
			c, _ := l.peekRune()
			if c < 0 || !isIdentPart(c) {
				break
			}
			l.advance()
		}
		return Token{Type: Ident, Text: l.src[from:l.off], Pos: start}, nil
	}
	if r == utf8.RuneError {
		return Token{}, Errorf(start, "invalid character %q", l.src[l.off:l.off+1])
	}
	return Token{}, Errorf(start, "unexpected character %q", r)
}

func (l *lexer) digits() int {
	n := 0
	for {
		c, _ := l.peekRune()
		if !isDigit(c) {
			return n
		}
		l.advance()
		n++
	}
}

func (l *lexer) number(start Pos) (Token, *Error) {
	from := l.off
	if c, _ := l.peekRune(); c == '-' || c == '+' {
		l.advance()
	}
	if l.digits() == 0 {
		return Token{}, Errorf(start, "invalid number %q, expected digits", l.src[from:l.off])
	}
	if c, _ := l.peekRune(); c == '.' {
		// A dot followed by a digit is a decimal point; otherwise it is
		// left alone (the number then fails in the parser with a clear
		// message).
		if l.off+1 < len(l.src) && isDigit(rune(l.src[l.off+1])) {
			l.advance()
			l.digits()
		}
	}
	if c, _ := l.peekRune(); c == 'e' || c == 'E' {
		save := *l
		l.advance()
		if c, _ := l.peekRune(); c == '-' || c == '+' {
			l.advance()
		}
		if l.digits() == 0 {
			*l = save
		}
	}
	if c, _ := l.peekRune(); c >= 0 && (isIdentPart(c) || c == '.') {
		for {
			c, _ := l.peekRune()
			if c < 0 || !(isIdentPart(c) || c == '.') {
				break
			}
			l.advance()
		}
		return Token{}, Errorf(start, "invalid number %q", l.src[from:l.off])
	}
	return Token{Type: Number, Text: l.src[from:l.off], Pos: start}, nil
}

// upper returns the keyword form of an identifier.
func upper(s string) string { return strings.ToUpper(s) }

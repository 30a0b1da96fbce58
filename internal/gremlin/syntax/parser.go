package syntax

import (
	"math"
	"strconv"
	"strings"
)

// MaxDepth bounds the nesting of calls in arguments.
const MaxDepth = 16

// MaxLength bounds the size of a query, in bytes.
const MaxLength = 1 << 20

// Parse parses a query with the given signature table (nil: DefaultTable).
// Every error is an *Error.
func Parse(src string, table *Table) (*Query, error) {
	if table == nil {
		table = defaultTable
	}
	q, err := parse(src, table)
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	lex   *lexer
	tok   Token
	table *Table
}

func parse(src string, table *Table) (*Query, *Error) {
	if len(src) > MaxLength {
		return nil, Errorf(Pos{Line: 1, Col: 1}, "query is longer than %d bytes", MaxLength)
	}
	p := &parser{lex: newLexer(src), table: table}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.Type == EOF {
		return nil, Errorf(Pos{Line: 1, Col: 1}, "empty query")
	}
	if p.tok.Type != Ident || upper(p.tok.Text) != "G" {
		return nil, Errorf(p.tok.Pos, "unexpected %s, a query starts with G", p.tok.describe())
	}
	q := &Query{Source: src}
	q.Steps = append(q.Steps, &Step{Position: p.tok.Pos, Name: "G", Bare: true, Sig: table.Step("G")})
	if err := p.next(); err != nil {
		return nil, err
	}
	for p.tok.Type != EOF {
		if p.tok.Type == LParen && len(q.Steps) == 1 {
			return nil, Errorf(p.tok.Pos, "unexpected \"(\" after G, G takes no parentheses")
		}
		if p.tok.Type != Dot {
			return nil, Errorf(p.tok.Pos, "unexpected %s after %s, expected \".\"", p.tok.describe(), q.Steps[len(q.Steps)-1].Name+callSuffix(q.Steps[len(q.Steps)-1]))
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		s, err := p.step()
		if err != nil {
			return nil, err
		}
		q.Steps = append(q.Steps, s)
	}
	return q, nil
}

func callSuffix(s *Step) string {
	if s.Bare {
		return ""
	}
	return "()"
}

func (p *parser) next() *Error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) step() (*Step, *Error) {
	if p.tok.Type != Ident {
		return nil, Errorf(p.tok.Pos, "unexpected %s, expected a step name", p.tok.describe())
	}
	name, pos := p.tok.Text, p.tok.Pos
	sig := p.table.Step(name)
	if sig == nil || sig.Name == "G" {
		return nil, Errorf(pos, "unknown step %q", name)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.Type != LParen {
		return nil, Errorf(p.tok.Pos, "unexpected %s after %s, expected \"(\"", p.tok.describe(), name)
	}
	args, err := p.args(sig.Name+"()", 0)
	if err != nil {
		return nil, err
	}
	if err := sig.check(pos, args); err != nil {
		return nil, err
	}
	canonical := sig.Name
	for _, a := range sig.Aliases {
		if strings.EqualFold(a, name) {
			canonical = a
		}
	}
	return &Step{Position: pos, Name: canonical, Args: args, Sig: sig}, nil
}

// args parses "(" [value {"," value}] ")" with the current token on "(".
func (p *parser) args(call string, depth int) ([]Expr, *Error) {
	if err := p.next(); err != nil {
		return nil, err
	}
	var args []Expr
	if p.tok.Type == RParen {
		return args, p.next()
	}
	for {
		v, err := p.value(call, depth)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
		switch p.tok.Type {
		case Comma:
			if err := p.next(); err != nil {
				return nil, err
			}
		case RParen:
			return args, p.next()
		default:
			return nil, Errorf(p.tok.Pos, "unexpected %s in %s, expected \",\" or \")\"", p.tok.describe(), call)
		}
	}
}

// value parses one argument; it leaves the token after it current.
func (p *parser) value(call string, depth int) (Expr, *Error) {
	t := p.tok
	switch t.Type {
	case String:
		return &StringLit{Position: t.Pos, Value: t.Text}, p.next()
	case Number:
		n, err := parseNumber(t)
		if err != nil {
			return nil, err
		}
		return n, p.next()
	case Ident:
		if err := p.next(); err != nil {
			return nil, err
		}
		up := upper(t.Text)
		if p.tok.Type == LParen {
			sig := p.table.Predicate(t.Text)
			if sig == nil {
				if p.table.Step(t.Text) != nil {
					return nil, Errorf(t.Pos, "step %s() cannot be used as an argument of %s", t.Text, call)
				}
				return nil, Errorf(t.Pos, "unknown predicate %q in %s", t.Text, call)
			}
			if depth+1 >= MaxDepth {
				return nil, Errorf(t.Pos, "arguments nested too deeply")
			}
			args, err := p.args(sig.Name+"()", depth+1)
			if err != nil {
				return nil, err
			}
			if err := sig.check(t.Pos, args); err != nil {
				return nil, err
			}
			return &Call{Position: t.Pos, Name: sig.Name, Args: args}, nil
		}
		switch up {
		case "TRUE", "FALSE":
			return &BoolLit{Position: t.Pos, Value: up == "TRUE"}, nil
		case "ASC", "DESC", "NOW", "FOREVER":
			return &Const{Position: t.Pos, Name: up}, nil
		}
		if p.table.Predicate(t.Text) != nil {
			return nil, Errorf(p.tok.Pos, "unexpected %s after %s in %s, expected \"(\"", p.tok.describe(), t.Text, call)
		}
		return nil, Errorf(t.Pos, "unexpected %s in %s, expected a value", t.describe(), call)
	}
	return nil, Errorf(t.Pos, "unexpected %s in %s, expected a value", t.describe(), call)
}

func parseNumber(t Token) (*NumberLit, *Error) {
	n := &NumberLit{Position: t.Pos, Raw: t.Text}
	if !strings.ContainsAny(t.Text, ".eE") {
		if i, err := strconv.ParseInt(t.Text, 10, 64); err == nil {
			n.IsInt, n.Int = true, i
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(t.Text, 64)
	if err != nil && !(math.IsInf(f, 0)) {
		return nil, Errorf(t.Pos, "invalid number %q", t.Text)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, Errorf(t.Pos, "number %s is out of range", t.Text)
	}
	n.Float = f
	return n, nil
}

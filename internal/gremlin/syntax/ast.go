package syntax

import "strings"

// Query is a parsed query: G followed by steps. Steps[0] is always G.
type Query struct {
	Source string
	Steps  []*Step
}

// String renders the query in canonical form.
func (q *Query) String() string {
	var b strings.Builder
	for i, s := range q.Steps {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// Step is one call in the chain, e.g. Has('Name', 'eth0').
type Step struct {
	Position Pos // position of the step name
	Name     string
	Args     []Expr
	Sig      *Signature // the signature the step was checked against
	Bare     bool       // written without parentheses (only G)
}

// Pos returns the position of the step name.
func (s *Step) Pos() Pos { return s.Position }

func (s *Step) String() string {
	if s.Bare {
		return s.Name
	}
	return s.Name + "(" + joinArgs(s.Args) + ")"
}

func joinArgs(args []Expr) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

// Expr is a step argument.
type Expr interface {
	Pos() Pos
	Kind() Kind
	String() string
}

// StringLit is a quoted string.
type StringLit struct {
	Position Pos
	Value    string
}

// NumberLit is an integer or a float; IsInt tells which field is set.
type NumberLit struct {
	Position Pos
	Raw      string
	IsInt    bool
	Int      int64
	Float    float64
}

// Value returns the number as int64 or float64.
func (n *NumberLit) Value() any {
	if n.IsInt {
		return n.Int
	}
	return n.Float
}

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Position Pos
	Value    bool
}

// Const is one of the constants ASC, DESC, NOW, FOREVER (upper-cased).
type Const struct {
	Position Pos
	Name     string
}

// Call is a predicate or filter call used as an argument: NE(1500),
// Metadata('Name', 'eth0'), REGEX('.*'). Name is canonical (upper-case for
// predicates, "Metadata" for Metadata).
type Call struct {
	Position Pos
	Name     string
	Args     []Expr
}

func (e *StringLit) Pos() Pos { return e.Position }
func (e *NumberLit) Pos() Pos { return e.Position }
func (e *BoolLit) Pos() Pos   { return e.Position }
func (e *Const) Pos() Pos     { return e.Position }
func (e *Call) Pos() Pos      { return e.Position }

func (e *StringLit) Kind() Kind { return KString }
func (e *NumberLit) Kind() Kind { return KNumber }
func (e *BoolLit) Kind() Kind   { return KBool }
func (e *Const) Kind() Kind {
	switch e.Name {
	case "ASC", "DESC":
		return KOrder
	case "NOW":
		return KNow
	default:
		return KForever
	}
}
func (e *Call) Kind() Kind {
	if e.Name == "Metadata" {
		return KMetadata
	}
	return KPredicate
}

func (e *StringLit) String() string {
	if strings.Contains(e.Value, "'") {
		return `"` + e.Value + `"`
	}
	return "'" + e.Value + "'"
}
func (e *NumberLit) String() string { return e.Raw }
func (e *BoolLit) String() string {
	if e.Value {
		return "true"
	}
	return "false"
}
func (e *Const) String() string { return e.Name }
func (e *Call) String() string  { return e.Name + "(" + joinArgs(e.Args) + ")" }

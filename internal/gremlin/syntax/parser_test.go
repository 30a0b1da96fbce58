package syntax

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct{ src, canon string }{
		{"G", "G"},
		{"g.v()", "G.V()"},
		{"G.V().Has('Name', \"eth0\")", "G.V().Has('Name', 'eth0')"},
		{"G.V().Has('MTU', NE(1500)).Values('IPV4')", "G.V().Has('MTU', NE(1500)).Values('IPV4')"},
		{"G.V().Has('x', -1, 'y', 1.5, 'z', -2.5e3, 'b', TRUE, 'c', false)", "G.V().Has('x', -1, 'y', 1.5, 'z', -2.5e3, 'b', true, 'c', false)"},
		{"G.V().Has('IPV4', ipv4range('10.0.0.0/8'))", "G.V().Has('IPV4', IPV4RANGE('10.0.0.0/8'))"},
		{"G.V().Has('IPV4', IPRange('10.0.0.0/8'))", "G.V().Has('IPV4', IPV4RANGE('10.0.0.0/8'))"},
		{"G.V().Has('v', Within(1, 'a', true), 'w', without(2))", "G.V().Has('v', WITHIN(1, 'a', true), 'w', WITHOUT(2))"},
		{"G.V().Has('v', inside(1, 2), 'w', Outside(1, 2), 'x', Between(1,2))", "G.V().Has('v', INSIDE(1, 2), 'w', OUTSIDE(1, 2), 'x', BETWEEN(1, 2))"},
		{"G.V().ShortestPathTo(Metadata('Name', 'a', 'MTU', GT(1)), metadata('RelationType', 'layer2'))", "G.V().ShortestPathTo(Metadata('Name', 'a', 'MTU', GT(1)), Metadata('RelationType', 'layer2'))"},
		{"G.at('-1m').V()", "G.At('-1m').V()"},
		{"G.Context(NOW, forever).V()", "G.Context(NOW, FOREVER).V()"},
		{"G.V().Sort(desc, 'Name').Sort().Sort('x').Sort(ASC)", "G.V().Sort(DESC, 'Name').Sort().Sort('x').Sort(ASC)"},
		{"G.Flows().Has('Network.A', '10.0.0.1').Hops()", "G.Flows().Has('Network.A', '10.0.0.1').Hops()"},
		{"G.V().Has('s', 'it\"s')", "G.V().Has('s', 'it\"s')"},
		{" \n\tG . V ( ) \n", "G.V()"},
		{"G.V().Descendants('RelationType', 'ownership', 3)", "G.V().Descendants('RelationType', 'ownership', 3)"},
	}
	for _, tt := range tests {
		q, err := Parse(tt.src, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := q.String(); got != tt.canon {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.canon)
		}
	}
}

func TestPositions(t *testing.T) {
	q, err := Parse("G.V()\n  .Has('Name',\n    NE('x'))", nil)
	if err != nil {
		t.Fatal(err)
	}
	has := q.Steps[2]
	if has.Pos() != (Pos{Line: 2, Col: 4, Offset: 9}) {
		t.Errorf("Has at %v", has.Pos())
	}
	if p := has.Args[0].Pos(); p.Line != 2 || p.Col != 8 {
		t.Errorf("key at %v", p)
	}
	call := has.Args[1].(*Call)
	if p := call.Pos(); p.Line != 3 || p.Col != 5 {
		t.Errorf("NE at %v", p)
	}
	if p := call.Args[0].Pos(); p.Line != 3 || p.Col != 8 {
		t.Errorf("NE arg at %v", p)
	}
	n := mustParse(t, "G.V().Limit(12)").Steps[2].Args[0].(*NumberLit)
	if !n.IsInt || n.Int != 12 {
		t.Errorf("number %+v", n)
	}
	f := mustParse(t, "G.V().Has('a', 1.5)").Steps[2].Args[1].(*NumberLit)
	if f.IsInt || f.Float != 1.5 {
		t.Errorf("number %+v", f)
	}
	big := mustParse(t, "G.V().Has('a', 99999999999999999999)").Steps[2].Args[1].(*NumberLit)
	if big.IsInt || big.Float != 1e20 {
		t.Errorf("number %+v", big)
	}
}

func mustParse(t *testing.T, src string) *Query {
	t.Helper()
	q, err := Parse(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestMalformed: every malformed query gives a positioned *Error.
func TestMalformed(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "1:1: empty query"},
		{"   \n  ", "1:1: empty query"},
		{"G.V().Has('Name', )", `1:19: unexpected ")" in Has(), expected a value`},
		{"G.V().Has(", "1:11: unexpected end of query in Has(), expected a value"},
		{"G.V().Has('a'", `1:14: unexpected end of query in Has(), expected "," or ")"`},
		{"G.V().Has('a'))", `1:15: unexpected ")" after Has(), expected "."`},
		{"G.V()).Count()", `1:6: unexpected ")" after V(), expected "."`},
		{"G.V().Has(('a'))", `1:11: unexpected "(" in Has(), expected a value`},
		{"G.V().Out(NE(1)", `1:16: unexpected end of query in Out(), expected "," or ")"`},
		{"G.V().Foo()", `1:7: unknown step "Foo"`},
		{"G.V().G()", `1:7: unknown step "G"`},
		{"G.V().Count", `1:12: unexpected end of query after Count, expected "("`},
		{"G.V().Has('a', 'b', 'c')", `1:21: Has() expects key/value pairs, key 'c' has no value`},
		{"G.V().Has()", "1:7: Has() takes at least 1 argument, got 0"},
		{"G.V().HasKey('a', 'b')", "1:19: HasKey() takes at most 1 argument, got 2"},
		{"G.V().HasKey(1)", "1:14: HasKey() argument 1 must be a string, got number"},
		{"G.V().Values()", "1:7: Values() takes at least 1 argument, got 0"},
		{"G.V().Range(1)", "1:7: Range() takes at least 2 arguments, got 1"},
		{"G.V().Limit(1.5)", "1:13: Limit() argument 1 must be a non-negative integer, got 1.5"},
		{"G.V().Has('a', 'b", "1:16: unterminated string"},
		{"G.V().Has(\"a', 'b')", "1:11: unterminated string"},
		{"G.V().Has('a', NE())", "1:16: NE() takes at least 1 argument, got 0"},
		{"G.V().Has('a', NE(1, 2))", "1:22: NE() takes at most 1 argument, got 2"},
		{"G.V().Has('a', REGEX(1))", "1:22: REGEX() argument 1 must be a string, got number"},
		{"G.V().Has('a', INSIDE(1))", "1:16: INSIDE() takes at least 2 arguments, got 1"},
		{"G.V().Has('a', WITHIN())", "1:16: WITHIN() takes at least 1 argument, got 0"},
		{"G.V().Has('a', Metadata('a'))", "1:16: Metadata() takes at least 2 arguments, got 1"},
		{"G.V().ShortestPathTo()", "1:7: ShortestPathTo() takes at least 1 argument, got 0"},
		{"G.V().At(NOW, NOW)", "1:15: Context() argument 2 must be a string, number or FOREVER, got NOW"},
		{"G.V().Has('a', -)", `1:16: invalid number "-", expected digits`},
		{"G.V().Has('a', 1.2.3)", `1:16: invalid number "1.2.3"`},
		{"G.V().Has('a', 1x)", `1:16: invalid number "1x"`},
		{"G.V().Has('a', @)", `1:16: unexpected character '@'`},
		{"G.V().Has('a', \xff)", `1:16: invalid character "\xff"`},
		{"G\x00", `1:2: unexpected character '\x00'`},
		{"X.V()", `1:1: unexpected identifier "X", a query starts with G`},
		{"'G'.V()", `1:1: unexpected string "G", a query starts with G`},
		{"G.", "1:3: unexpected end of query, expected a step name"},
		{"G.V().", "1:7: unexpected end of query, expected a step name"},
		{"G.V.()", `1:4: unexpected "." after V, expected "("`},
		{"G.V()\n.Has('a',\n)", `3:1: unexpected ")" in Has(), expected a value`},
		{"G.V().Has('a', " + strings.Repeat("Metadata('a', ", 20), "1:"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src, nil)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want *Error", tt.src, err)
			continue
		}
		if se.Pos.Line < 1 || se.Pos.Col < 1 {
			t.Errorf("Parse(%q): bad position %v", tt.src, se.Pos)
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want %q", tt.src, err, tt.want)
		}
	}
}

func TestTableWith(t *testing.T) {
	base := DefaultTable()
	ext := base.With(&Signature{Name: "Flowz", Rest: KValue, Check: Pairs})
	if _, err := Parse("G.Flowz('a', 1)", ext); err != nil {
		t.Error(err)
	}
	if _, err := Parse("G.Flowz('a', 1)", base); err == nil {
		t.Error("base table was modified")
	}
	if s := (KString | KNumber).String(); s != "string or number" {
		t.Error(s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"G", "G.V().Has('Name', 'eth0').Out()", "G.V().Has('MTU', NE(1500)).Values('IPV4')",
		"G.V().ShortestPathTo(Metadata('Name', 'a'), Metadata('RelationType', 'layer2'))",
		"G.At('-1m', 300).V().Has('x', INSIDE(1, 2.5))", "g.v().has(\"a\", within(1, -2, 'x', true))",
		"G.V().Sort(DESC, 'Name').Range(1, 2)", "G.V().Has('a', ", "G.V().Has('a', 1e", "G.\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src, nil)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Pos.Line < 1 || se.Pos.Col < 1 {
				t.Fatalf("Parse(%q): %v is not a positioned *Error", src, err)
			}
			return
		}
		// A parsed query prints to a query that parses to the same text.
		again, err := Parse(q.String(), nil)
		if err != nil {
			t.Fatalf("reparse of %q (%q): %v", src, q.String(), err)
		}
		if again.String() != q.String() {
			t.Fatalf("reparse of %q: %q != %q", src, again.String(), q.String())
		}
	})
}

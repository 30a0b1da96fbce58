package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSkip: Skip takes a value exactly when encoding/json does, and stops
// right after it.
func TestSkip(t *testing.T) {
	for _, c := range []string{
		`{}`, `[]`, `"s"`, `1`, `-0.5e+3`, `true`, `false`, `null`, `{"a":[1,{"b":null}],"c":"d"}`,
		`{"a":}`, `[1,]`, `"\u0041"`, `01`, `{"a" 1}`, `tru`, `"` + "\xff" + `"`,
	} {
		p := Scanner{B: []byte(c)}
		ok := p.Skip() && p.End()
		if ok && !json.Valid([]byte(c)) {
			t.Errorf("%q: skipped, encoding/json refuses it", c)
		}
	}
	p := Scanner{B: []byte(`{"a":[1,2]} ,`)}
	if !p.Skip() || p.I != len(`{"a":[1,2]}`) {
		t.Errorf("Skip stopped at %d", p.I)
	}
}

// TestDepth: a deep document is left to encoding/json instead of
// recursing without bound.
func TestDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	p := Scanner{B: []byte(deep)}
	if p.Skip() {
		t.Error("a document deeper than maxDepth was taken")
	}
	ok := strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1)
	p = Scanner{B: []byte(ok)}
	if !p.Skip() || !p.End() {
		t.Error("a document of maxDepth-1 levels was refused")
	}
}

// TestInt: integers that fit are read; the rest are left, the scanner
// where it was.
func TestInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-7", -7, true}, {"123456789012345678", 123456789012345678, true},
		{"1234567890123456789", 0, false}, {"1.5", 0, false}, {"1e3", 0, false}, {"-", 0, false}, {"x", 0, false},
	} {
		p := Scanner{B: []byte(c.in)}
		v, ok := p.Int()
		if ok != c.ok || v != c.want || !ok && p.I != 0 {
			t.Errorf("Int(%q) = %d, %v at %d; want %d, %v", c.in, v, ok, p.I, c.want, c.ok)
		}
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}],"c":"d"}`, `[1,]`, `"x"`, `-1.5e3`, `{"a":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := Scanner{B: b}
		if p.Skip() && p.End() && !json.Valid(b) {
			t.Fatalf("%q: skipped, encoding/json refuses it", b)
		}
	})
}

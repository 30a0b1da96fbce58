// Package predicate holds compiled value predicates: the arguments of the
// query language's Has() and friends (NE, GT, WITHIN, REGEX, IPV4RANGE ...),
// shared by graph queries and flow filters.
//
// A predicate is compiled once (regular expressions and address ranges are
// parsed at construction) and then matched against many values. Values are
// the canonical metadata forms: string, bool, int64, float64 (other Go
// integer and float types are accepted too), []any and map[string]any. A
// list matches when any of its elements matches.
package predicate

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	rsyntax "regexp/syntax"
	"strings"

	"github.com/skydive-ng/skydive/internal/num"
)

// P is a compiled predicate. The zero value is not usable; use the
// constructors.
type P struct {
	name string
	// match tests one scalar value (lists are expanded by Match).
	match func(v any) bool
	// missing is the result for an absent key.
	missing bool
	text    string
	// args are the canonical arguments (EQ, NE, LT... WITHIN), for stores
	// that evaluate simple predicates themselves.
	args []any
	// prefix is IPV4RANGE's range (valid only for it).
	prefix netip.Prefix
}

// Args returns the predicate's arguments (nil for REGEX, IPV4RANGE ...).
func (p *P) Args() []any { return p.args }

// String renders the predicate as written in a query.
func (p *P) String() string { return p.text }

// Name is the predicate's canonical name ("NE", "REGEX", "EQ" ...).
func (p *P) Name() string { return p.name }

// Match reports whether a value matches; present is false when the key is
// absent (v is then ignored). A list value matches when any element does.
func (p *P) Match(v any, present bool) bool {
	if !present {
		return p.missing
	}
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if p.Match(e, true) {
				return true
			}
		}
		return false
	}
	return p.match(v)
}

// MatchValue is Match for a present value.
func (p *P) MatchValue(v any) bool { return p.Match(v, true) }

func newP(name, text string, missing bool, match func(any) bool) *P {
	return &P{name: name, text: text, missing: missing, match: match}
}

// Exists matches any present key.
func Exists() *P { return newP("EXISTS", "EXISTS()", false, func(any) bool { return true }) }

// Absent matches an absent key only.
func Absent() *P { return newP("ABSENT", "ABSENT()", true, func(any) bool { return false }) }

// Eq matches values equal to want (numbers compare across int and float).
func Eq(want any) *P {
	want = num.Canon(want)
	return withArgs(newP("EQ", render(want), false, equalTo(want)), want)
}

// equalTo is Equal(v, want) with the common case first: a value of want's
// own canonical type (int64, string) is compared as it is, without the
// conversions and type switches of Equal, which scans pay for every node.
func equalTo(want any) func(v any) bool {
	switch w := want.(type) {
	case int64:
		return func(v any) bool {
			if x, ok := v.(int64); ok {
				return x == w
			}
			return Equal(v, want)
		}
	case string:
		return func(v any) bool {
			if x, ok := v.(string); ok {
				return x == w
			}
			return Equal(v, want)
		}
	}
	return func(v any) bool { return Equal(v, want) }
}

// compareTo is Compare(v, want), with int64 against int64 first.
func compareTo(want any) func(v any) (int, bool) {
	if w, ok := want.(int64); ok {
		return func(v any) (int, bool) {
			if x, ok := v.(int64); ok {
				return cmpOrdered(x, w), true
			}
			return Compare(v, want)
		}
	}
	return func(v any) (int, bool) { return Compare(v, want) }
}

// NE matches present values different from want.
func NE(want any) *P {
	want = num.Canon(want)
	eq := equalTo(want)
	return withArgs(newP("NE", "NE("+render(want)+")", false, func(v any) bool { return !eq(v) }), want)
}

// NEE matches values different from want, and absent keys.
func NEE(want any) *P {
	want = num.Canon(want)
	eq := equalTo(want)
	return newP("NEE", "NEE("+render(want)+")", true, func(v any) bool { return !eq(v) })
}

func ordered(name string, want any, ok func(c int) bool) *P {
	want = num.Canon(want)
	compare := compareTo(want)
	return withArgs(newP(name, name+"("+render(want)+")", false, func(v any) bool {
		c, comparable := compare(v)
		return comparable && ok(c)
	}), want)
}

// LT matches values lower than want.
func LT(want any) *P { return ordered("LT", want, func(c int) bool { return c < 0 }) }

// LTE matches values lower than or equal to want.
func LTE(want any) *P { return ordered("LTE", want, func(c int) bool { return c <= 0 }) }

// GT matches values greater than want.
func GT(want any) *P { return ordered("GT", want, func(c int) bool { return c > 0 }) }

// GTE matches values greater than or equal to want.
func GTE(want any) *P { return ordered("GTE", want, func(c int) bool { return c >= 0 }) }

func interval(name string, a, b any, ok func(ca, cb int) bool) *P {
	a, b = num.Canon(a), num.Canon(b)
	return newP(name, name+"("+render(a)+", "+render(b)+")", false, func(v any) bool {
		ca, okA := Compare(v, a)
		cb, okB := Compare(v, b)
		return okA && okB && ok(ca, cb)
	})
}

// Inside matches a < x < b.
func Inside(a, b any) *P {
	return interval("INSIDE", a, b, func(ca, cb int) bool { return ca > 0 && cb < 0 })
}

// Outside matches x < a or x > b.
func Outside(a, b any) *P {
	return interval("OUTSIDE", a, b, func(ca, cb int) bool { return ca < 0 || cb > 0 })
}

// Between matches a ≤ x < b.
func Between(a, b any) *P {
	return interval("BETWEEN", a, b, func(ca, cb int) bool { return ca >= 0 && cb < 0 })
}

func renderList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = render(v)
	}
	return strings.Join(parts, ", ")
}

// Within matches values equal to one of vs.
func Within(vs ...any) *P {
	vs = canonList(vs)
	return withArgs(newP("WITHIN", "WITHIN("+renderList(vs)+")", false, func(v any) bool {
		for _, w := range vs {
			if Equal(v, w) {
				return true
			}
		}
		return false
	}), vs...)
}

// Without matches present values equal to none of vs.
func Without(vs ...any) *P {
	vs = canonList(vs)
	return newP("WITHOUT", "WITHOUT("+renderList(vs)+")", false, func(v any) bool {
		for _, w := range vs {
			if Equal(v, w) {
				return false
			}
		}
		return true
	})
}

// Regex matches strings matching the whole pattern (it is anchored: "eth.*"
// matches "eth0", not "veth0"). Numbers and booleans are matched in their
// text form.
func Regex(pattern string) (*P, error) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", pattern, unwrapRegexErr(err))
	}
	return newP("REGEX", "REGEX("+render(pattern)+")", false, func(v any) bool {
		switch t := v.(type) {
		case string:
			return re.MatchString(t)
		case bool, int64, float64:
			return re.MatchString(render(t))
		}
		return false
	}), nil
}

func unwrapRegexErr(err error) string {
	if e, ok := err.(*rsyntax.Error); ok {
		return string(e.Code)
	}
	return err.Error()
}

// IPRange matches address strings ("10.0.0.3") and CIDR strings
// ("10.0.0.3/24", by their address) inside a range given in CIDR notation
// (a bare address is a /32 or /128). It is IPV4RANGE, also spelled IPRANGE.
func IPRange(cidr string) (*P, error) {
	prefix, err := parsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("invalid address range %q, expected CIDR notation like 10.0.0.0/24", cidr)
	}
	p := newP("IPV4RANGE", "IPV4RANGE("+render(cidr)+")", false, func(v any) bool {
		s, ok := v.(string)
		if !ok {
			return false
		}
		addr, ok := parseAddr(s)
		return ok && prefix.Contains(addr)
	})
	p.prefix = prefix
	return p, nil
}

// Addrs is a value as IPV4RANGE reads it: the address of an address or
// CIDR string, the addresses of a list's such strings (nested lists too);
// nil when there is none (absent key, other types, malformed text). It is a
// netip.Addr for one address, a []netip.Addr for more. Parsing is what a
// range test costs: a graph may keep this form per value (a derived
// column) and test it with AddrTest on every query.
func Addrs(v any, present bool) any {
	if !present {
		return nil
	}
	var addrs []netip.Addr
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			if a, ok := parseAddr(t); ok {
				addrs = append(addrs, a)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	switch len(addrs) {
	case 0:
		return nil
	case 1:
		return addrs[0]
	}
	return addrs
}

// AddrTest returns the test of an Addrs form that gives what Match gives
// for the value; ok is false when p is not an address range.
func (p *P) AddrTest() (test func(form any) bool, ok bool) {
	if p.name != "IPV4RANGE" {
		return nil, false
	}
	prefix := p.prefix
	return func(form any) bool {
		switch t := form.(type) {
		case netip.Addr:
			return prefix.Contains(t)
		case []netip.Addr:
			for _, a := range t {
				if prefix.Contains(a) {
					return true
				}
			}
		}
		// No address, or an absent key: IPV4RANGE does not match those.
		return false
	}, true
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("mapped address")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// New builds a predicate by name (any case: "NE", "ipv4range", "IPRange"
// ...) from already-evaluated arguments. It is what the query compiler uses.
func New(name string, args []any) (*P, error) {
	up := strings.ToUpper(name)
	need := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s() takes %d %s, got %d", up, n, map[bool]string{true: "argument", false: "arguments"}[n == 1], len(args))
		}
		return nil
	}
	// Order predicates compare numbers, as the original's: a string there is
	// a mistake worth telling rather than a silent empty answer.
	numeric := func() error {
		for _, a := range args {
			switch num.Canon(a).(type) {
			case int64, float64:
			default:
				return fmt.Errorf("%s() takes numbers, got %s", up, render(a))
			}
		}
		return nil
	}
	switch up {
	case "LT", "LTE", "GT", "GTE", "INSIDE", "OUTSIDE", "BETWEEN":
		if err := numeric(); err != nil {
			return nil, err
		}
	}
	switch up {
	case "EQ", "NE", "NEE", "LT", "LTE", "GT", "GTE":
		if err := need(1); err != nil {
			return nil, err
		}
		return map[string]func(any) *P{"EQ": Eq, "NE": NE, "NEE": NEE, "LT": LT, "LTE": LTE, "GT": GT, "GTE": GTE}[up](args[0]), nil
	case "INSIDE", "OUTSIDE", "BETWEEN":
		if err := need(2); err != nil {
			return nil, err
		}
		return map[string]func(a, b any) *P{"INSIDE": Inside, "OUTSIDE": Outside, "BETWEEN": Between}[up](args[0], args[1]), nil
	case "WITHIN", "WITHOUT":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s() takes at least 1 argument", up)
		}
		if up == "WITHIN" {
			return Within(args...), nil
		}
		return Without(args...), nil
	case "REGEX", "IPV4RANGE", "IPRANGE":
		if err := need(1); err != nil {
			return nil, err
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s() takes a string", up)
		}
		if up == "REGEX" {
			return Regex(s)
		}
		return IPRange(s)
	}
	return nil, fmt.Errorf("unknown predicate %q", name)
}

func canonList(vs []any) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = num.Canon(v)
	}
	return out
}

func render(v any) string {
	switch t := v.(type) {
	case string:
		return "'" + t + "'"
	case float64:
		return fmt.Sprint(t)
	}
	return fmt.Sprint(v)
}

// Equal compares two scalar values: strings and booleans by value, numbers
// numerically across int and float kinds. Lists and maps are never equal to
// a scalar.
func Equal(a, b any) bool {
	a, b = num.Canon(a), num.Canon(b)
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64, float64:
		c, ok := compareNumbers(x, b)
		return ok && c == 0
	case nil:
		return b == nil
	}
	return false
}

// Compare orders two scalar values: numbers numerically (int and float
// mixed), strings lexically, false before true. ok is false when the values
// are not comparable (different kinds, lists, maps, NaN).
func Compare(a, b any) (c int, ok bool) {
	a, b = num.Canon(a), num.Canon(b)
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	case int64, float64:
		return compareNumbers(x, b)
	}
	return 0, false
}

func compareNumbers(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y), true
		case float64:
			return compareIntFloat(x, y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			c, ok := compareIntFloat(y, x)
			return -c, ok
		case float64:
			if math.IsNaN(x) || math.IsNaN(y) {
				return 0, false
			}
			return cmpOrdered(x, y), true
		}
	}
	return 0, false
}

// compareIntFloat compares exactly, without losing int64 precision.
func compareIntFloat(i int64, f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= 0x1p63:
		return -1, true
	case f < -0x1p63:
		return 1, true
	}
	t := math.Trunc(f)
	if c := cmpOrdered(i, int64(t)); c != 0 {
		return c, true
	}
	frac := f - t
	switch {
	case frac > 0:
		return -1, true
	case frac < 0:
		return 1, true
	}
	return 0, true
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func withArgs(p *P, args ...any) *P {
	p.args = args
	return p
}

package predicate

import (
	"math"
	"testing"
)

func mustP(p *P, err error) *P {
	if err != nil {
		panic(err)
	}
	return p
}

func TestPredicates(t *testing.T) {
	type c struct {
		v       any
		present bool
		want    bool
	}
	val := func(v any, want bool) c { return c{v, true, want} }
	missing := func(want bool) c { return c{nil, false, want} }
	tests := []struct {
		name  string
		p     *P
		cases []c
	}{
		{"eq string", Eq("eth0"), []c{val("eth0", true), val("eth1", false), val(int64(1), false), missing(false), val([]any{"a", "eth0"}, true)}},
		{"eq int/float", Eq(int64(1500)), []c{val(int64(1500), true), val(1500.0, true), val(1500.5, false), val("1500", false), val(1500, true)}},
		{"eq float", Eq(1.5), []c{val(1.5, true), val(int64(1), false)}},
		{"eq bool", Eq(true), []c{val(true, true), val(false, false), val("true", false), val([]any{false, true}, true)}},
		{"ne", NE(int64(1500)), []c{val(int64(1500), false), val(int64(9000), true), missing(false), val([]any{int64(1500)}, false)}},
		{"nee", NEE(int64(1500)), []c{val(int64(1500), false), val(int64(9000), true), missing(true)}},
		{"gt", GT(int64(10)), []c{val(int64(11), true), val(int64(10), false), val(10.5, true), val("11", false), missing(false), val([]any{int64(1), int64(20)}, true)}},
		{"gte", GTE(int64(10)), []c{val(int64(10), true), val(9.99, false)}},
		{"lt", LT(10.5), []c{val(int64(10), true), val(int64(11), false)}},
		{"lte", LTE(int64(10)), []c{val(int64(10), true), val(10.0, true), val(10.01, false)}},
		{"lt string", LT("b"), []c{val("a", true), val("c", false)}},
		{"inside", Inside(int64(1), int64(5)), []c{val(int64(1), false), val(int64(2), true), val(int64(5), false), val(4.9, true)}},
		{"outside", Outside(int64(1), int64(5)), []c{val(int64(0), true), val(int64(1), false), val(int64(3), false), val(int64(5), false), val(int64(6), true), missing(false)}},
		{"between", Between(int64(1), int64(5)), []c{val(int64(1), true), val(int64(4), true), val(int64(5), false), val(int64(0), false)}},
		{"within", Within(int64(1), int64(2), "x"), []c{val(int64(2), true), val(2.0, true), val("x", true), val(int64(3), false), missing(false)}},
		{"without", Without(int64(1), "x"), []c{val(int64(2), true), val(int64(1), false), val("x", false), missing(false)}},
		{"regex", mustP(Regex("eth.*")), []c{val("eth0", true), val("veth0", false), val("eth0x", true), val(int64(1), false), val([]any{"lo", "eth1"}, true)}},
		{"regex anchored", mustP(Regex("a|b")), []c{val("a", true), val("ab", false)}},
		{"regex number", mustP(Regex("15..")), []c{val(int64(1500), true)}},
		{"iprange", mustP(IPRange("10.0.0.0/24")), []c{val("10.0.0.3", true), val("10.0.1.3", false), val("10.0.0.20/16", true), val([]any{"192.168.0.1/24", "10.0.0.9/24"}, true), val("garbage", false), val(int64(1), false)}},
		{"iprange host", mustP(IPRange("10.0.0.3/32")), []c{val("10.0.0.3", true), val("10.0.0.4", false)}},
		{"iprange bare", mustP(IPRange("10.0.0.3")), []c{val("10.0.0.3/24", true), val("10.0.0.4", false)}},
		{"iprange v6", mustP(IPRange("fd00::/64")), []c{val("fd00::1", true), val("10.0.0.1", false)}},
		{"exists", Exists(), []c{val(int64(0), true), missing(false)}},
		{"absent", Absent(), []c{val(int64(0), false), missing(true)}},
	}
	for _, tt := range tests {
		for i, c := range tt.cases {
			if got := tt.p.Match(c.v, c.present); got != c.want {
				t.Errorf("%s case %d: %s.Match(%#v, %v) = %v, want %v", tt.name, i, tt.p, c.v, c.present, got, c.want)
			}
		}
	}
}

func TestNew(t *testing.T) {
	for _, name := range []string{"ne", "NEE", "Lt", "gt", "LTE", "GTE"} {
		if _, err := New(name, []any{int64(1)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"IPV4RANGE", "IPRANGE", "IPRange", "ipv4range"} {
		p, err := New(name, []any{"10.0.0.0/8"})
		if err != nil || !p.MatchValue("10.1.2.3") {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := []struct {
		name string
		args []any
	}{
		{"REGEX", []any{"("}}, {"IPV4RANGE", []any{"10.0.0/8"}}, {"IPV4RANGE", []any{int64(1)}},
		{"NE", nil}, {"INSIDE", []any{int64(1)}}, {"WITHIN", nil}, {"FOO", nil},
	}
	for _, b := range bad {
		if _, err := New(b.name, b.args); err == nil {
			t.Errorf("New(%s, %v) succeeded", b.name, b.args)
		}
	}
	if p, _ := New("between", []any{1, 3}); !p.MatchValue(int64(2)) {
		t.Error("between via New")
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b any
		c    int
		ok   bool
	}{
		{int64(1), int64(2), -1, true},
		{int64(2), 1.5, 1, true},
		{1.5, int64(2), -1, true},
		{int64(math.MaxInt64), float64(math.MaxInt64), -1, true},
		{int64(3), 3.0, 0, true},
		{"a", "b", -1, true},
		{false, true, -1, true},
		{"a", int64(1), 0, false},
		{math.NaN(), int64(1), 0, false},
		{[]any{}, int64(1), 0, false},
	}
	for _, tt := range tests {
		c, ok := Compare(tt.a, tt.b)
		if c != tt.c || ok != tt.ok {
			t.Errorf("Compare(%v, %v) = %d, %v; want %d, %v", tt.a, tt.b, c, ok, tt.c, tt.ok)
		}
	}
	if Equal([]any{int64(1)}, int64(1)) || !Equal(nil, nil) {
		t.Error("Equal on lists/nil")
	}
}

// TestAddrTestEqualsMatch proves the range test of parsed addresses (what a
// graph keeps per value) answers what Match answers on the value itself.
func TestAddrTestEqualsMatch(t *testing.T) {
	values := []any{
		"10.7.1.2", "10.7.1.2/24", "10.8.0.1/16", "10.7.0.0", " 10.7.1.2", "10.7.1.2 ",
		"10.7.1", "10.7.1.256", "abc/24", "/24", "", "10.7.1.2/abc", "10.7.1.2/33",
		"::ffff:10.7.1.2", "::ffff:10.7.1.2/120", "fe80::1", "fe80::1%eth0", "fe80::1/64", "2001:db8::1",
		int64(10), 10.7, true, nil,
		[]any{}, []any{"x", "10.7.200.1/24"}, []any{"10.1.1.1", "10.2.2.2"}, []any{int64(1), nil},
		[]any{[]any{"10.7.3.3"}}, []any{"fe80::1", "10.7.9.9/32", "garbage"},
		map[string]any{"IP": "10.7.1.2"},
	}
	for _, cidr := range []string{"10.7.0.0/16", "10.7.1.2", "0.0.0.0/0", "fe80::/10", "::/0", "2001:db8::1/128"} {
		p, err := IPRange(cidr)
		if err != nil {
			t.Fatal(err)
		}
		test, ok := p.AddrTest()
		if !ok {
			t.Fatalf("%s: no address test", cidr)
		}
		for _, v := range values {
			for _, present := range []bool{true, false} {
				if want, got := p.Match(v, present), test(Addrs(v, present)); got != want {
					t.Errorf("IPV4RANGE(%q) on %#v (present %v): addresses say %v, Match %v", cidr, v, present, got, want)
				}
			}
		}
	}
	for _, p := range []*P{Eq("10.7.1.2"), NE(int64(1)), Exists()} {
		if _, ok := p.AddrTest(); ok {
			t.Errorf("%s has an address test", p)
		}
	}
}

// TestFastPathsEqualSlowPaths: EQ, NE, NEE and the orderings with their
// fast paths (int64 and string compared as they are) answer what Equal and
// Compare answer.
func TestFastPathsEqualSlowPaths(t *testing.T) {
	values := []any{
		int64(1500), int64(1450), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		1500.0, 1500.5, 1449.9, math.NaN(), math.Inf(1), 0x1p63, float32(1500),
		1500, int32(1450), uint64(math.MaxUint64), uint8(7),
		"1500", "eth0", "", true, false, nil,
		[]any{}, []any{int64(1), "eth0"}, []any{1500.0}, map[string]any{"a": int64(1500)},
	}
	wants := []any{int64(1500), 1500.0, 1500.5, "eth0", "", int64(math.MaxInt64), true, nil, 1500, uint64(math.MaxUint64)}
	type slow func(v, want any) bool
	for _, w := range wants {
		for _, tc := range []struct {
			p    *P
			slow slow
		}{
			{Eq(w), func(v, want any) bool { return Equal(v, want) }},
			{NE(w), func(v, want any) bool { return !Equal(v, want) }},
			{NEE(w), func(v, want any) bool { return !Equal(v, want) }},
			{LT(w), func(v, want any) bool { c, ok := Compare(v, want); return ok && c < 0 }},
			{LTE(w), func(v, want any) bool { c, ok := Compare(v, want); return ok && c <= 0 }},
			{GT(w), func(v, want any) bool { c, ok := Compare(v, want); return ok && c > 0 }},
			{GTE(w), func(v, want any) bool { c, ok := Compare(v, want); return ok && c >= 0 }},
		} {
			for _, v := range values {
				want := tc.slow(v, w)
				if l, ok := v.([]any); ok {
					want = false
					for _, e := range l {
						want = want || tc.slow(e, w)
					}
				}
				if got := tc.p.MatchValue(v); got != want {
					t.Errorf("%s on %#v: %v, the slow path says %v", tc.p, v, got, want)
				}
			}
		}
	}
}

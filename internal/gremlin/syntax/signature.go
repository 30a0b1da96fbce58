package syntax

import (
	"maps"
	"strings"
)

// Kind is a set of argument kinds, as a bit mask.
type Kind uint16

// Argument kinds.
const (
	KString    Kind = 1 << iota // 'text'
	KNumber                     // 12, -1.5
	KBool                       // true, false
	KPredicate                  // NE(1), REGEX('x'), WITHIN(1, 2) ...
	KMetadata                   // Metadata('K', v, ...)
	KOrder                      // ASC, DESC
	KNow                        // NOW
	KForever                    // FOREVER

	KScalar = KString | KNumber | KBool
	KValue  = KScalar | KPredicate // what Has() accepts as a value
)

var kindNames = []string{"string", "number", "boolean", "predicate", "Metadata(...)", "ASC or DESC", "NOW", "FOREVER"}

// String names the kinds in a set: "string or number".
func (k Kind) String() string {
	if k == KValue {
		return "value"
	}
	var parts []string
	for i, n := range kindNames {
		if k&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	switch len(parts) {
	case 0:
		return "nothing"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// Signature describes the arguments a step or predicate accepts.
type Signature struct {
	Name    string   // canonical spelling, e.g. "ShortestPathTo"
	Aliases []string // other spellings, e.g. "At" for "Context"
	Args    []Kind   // kinds of the leading positional arguments
	Rest    Kind     // kind of any further argument; 0: no more arguments
	Min     int      // minimum number of arguments
	// Check validates what kinds alone cannot (pairs, integers ...). It
	// may be nil.
	Check func(call string, args []Expr) *Error
}

// check validates args against the signature; pos is the call's position.
func (s *Signature) check(pos Pos, args []Expr) *Error {
	call := s.Name + "()"
	if len(args) < s.Min {
		return Errorf(pos, "%s takes at least %d %s, got %d", call, s.Min, plural(s.Min, "argument"), len(args))
	}
	if s.Rest == 0 && len(args) > len(s.Args) {
		if len(s.Args) == 0 {
			return Errorf(args[0].Pos(), "%s takes no argument", call)
		}
		return Errorf(args[len(s.Args)].Pos(), "%s takes at most %d %s, got %d", call, len(s.Args), plural(len(s.Args), "argument"), len(args))
	}
	for i, a := range args {
		want := s.Rest
		if i < len(s.Args) {
			want = s.Args[i]
		}
		if a.Kind()&want == 0 {
			return Errorf(a.Pos(), "%s argument %d must be a %s, got %s", call, i+1, want, a.Kind())
		}
	}
	if s.Check != nil {
		return s.Check(call, args)
	}
	return nil
}

func plural(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// Table holds the step and predicate signatures a parser accepts. It is
// immutable once built; With returns an extended copy.
type Table struct {
	steps map[string]*Signature // by upper-case name and aliases
	preds map[string]*Signature
}

// With returns a copy of t where the given step signatures are added or
// replace those of the same name.
func (t *Table) With(steps ...*Signature) *Table {
	n := &Table{steps: maps.Clone(t.steps), preds: t.preds}
	for _, s := range steps {
		n.steps[upper(s.Name)] = s
		for _, a := range s.Aliases {
			n.steps[upper(a)] = s
		}
	}
	return n
}

// Step returns the signature of a step by any spelling.
func (t *Table) Step(name string) *Signature { return t.steps[upper(name)] }

// Predicate returns the signature of a predicate by any spelling.
func (t *Table) Predicate(name string) *Signature { return t.preds[upper(name)] }

// Checks reused by signatures.

// Pairs requires key/value pairs whose keys are strings.
func Pairs(call string, args []Expr) *Error {
	if len(args)%2 != 0 {
		return Errorf(args[len(args)-1].Pos(), "%s expects key/value pairs, key %s has no value", call, args[len(args)-1])
	}
	return keysAreStrings(call, args)
}

func keysAreStrings(call string, args []Expr) *Error {
	for i := 0; i < len(args); i += 2 {
		if args[i].Kind() != KString {
			return Errorf(args[i].Pos(), "%s argument %d must be a string key, got %s", call, i+1, args[i].Kind())
		}
		if i+1 < len(args) && args[i+1].Kind()&KValue == 0 {
			return Errorf(args[i+1].Pos(), "%s argument %d must be a value or predicate, got %s", call, i+2, args[i+1].Kind())
		}
	}
	return nil
}

// KeyOrPairs accepts a single key or key/value pairs (Has).
func KeyOrPairs(call string, args []Expr) *Error {
	if len(args) == 1 {
		if args[0].Kind() != KString {
			return Errorf(args[0].Pos(), "%s argument 1 must be a string key, got %s", call, args[0].Kind())
		}
		return nil
	}
	return Pairs(call, args)
}

// IDOrPairs accepts nothing, one ID string or key/value pairs (V, E).
func IDOrPairs(call string, args []Expr) *Error {
	if len(args) == 1 {
		if args[0].Kind() != KString {
			return Errorf(args[0].Pos(), "%s argument 1 must be a string ID, got %s", call, args[0].Kind())
		}
		return nil
	}
	return Pairs(call, args)
}

// PairsThenDepth accepts key/value pairs optionally followed by a depth.
func PairsThenDepth(call string, args []Expr) *Error {
	if len(args)%2 == 1 {
		last := args[len(args)-1]
		if err := nonNegativeInt(call, len(args), last); err != nil {
			return err
		}
		args = args[:len(args)-1]
	}
	return Pairs(call, args)
}

// NonNegativeInts requires every argument to be an integer ≥ 0.
func NonNegativeInts(call string, args []Expr) *Error {
	for i, a := range args {
		if err := nonNegativeInt(call, i+1, a); err != nil {
			return err
		}
	}
	return nil
}

func nonNegativeInt(call string, i int, a Expr) *Error {
	n, ok := a.(*NumberLit)
	if !ok || !n.IsInt || n.Int < 0 {
		return Errorf(a.Pos(), "%s argument %d must be a non-negative integer, got %s", call, i, a)
	}
	return nil
}

func sortCheck(call string, args []Expr) *Error {
	if len(args) == 2 && args[0].Kind() != KOrder {
		return Errorf(args[0].Pos(), "%s argument 1 must be ASC or DESC when a key follows, got %s", call, args[0])
	}
	if len(args) == 2 && args[1].Kind() != KString {
		return Errorf(args[1].Pos(), "%s argument 2 must be a string key, got %s", call, args[1].Kind())
	}
	return nil
}

func rangeCheck(call string, args []Expr) *Error {
	if err := NonNegativeInts(call, args); err != nil {
		return err
	}
	if args[0].(*NumberLit).Int > args[1].(*NumberLit).Int {
		return Errorf(args[0].Pos(), "%s start %s is after end %s", call, args[0], args[1])
	}
	return nil
}

// Steps of the core dialect. Flow-related steps are declared here so that
// every query of the dialect parses; their evaluation is supplied by the
// flow engine (see package eval).
func coreSteps() []*Signature {
	pairs := func(name string, aliases ...string) *Signature {
		return &Signature{Name: name, Aliases: aliases, Rest: KValue, Check: Pairs}
	}
	return []*Signature{
		{Name: "G"},
		{Name: "Context", Aliases: []string{"At"}, Args: []Kind{KString | KNumber | KNow, KString | KNumber | KForever}, Min: 1},
		{Name: "V", Rest: KValue, Check: IDOrPairs},
		{Name: "E", Rest: KValue, Check: IDOrPairs},
		{Name: "Has", Rest: KValue, Min: 1, Check: KeyOrPairs},
		{Name: "HasKey", Args: []Kind{KString}, Min: 1},
		{Name: "HasNot", Args: []Kind{KString}, Min: 1},
		{Name: "HasEither", Rest: KValue, Min: 2, Check: Pairs},
		pairs("Out"), pairs("In"), pairs("Both"),
		pairs("OutE"), pairs("InE"), pairs("BothE"),
		pairs("OutV"), pairs("InV"), pairs("BothV"),
		{Name: "Dedup", Rest: KString},
		{Name: "Count"},
		{Name: "Limit", Args: []Kind{KNumber}, Min: 1, Check: NonNegativeInts},
		{Name: "Range", Args: []Kind{KNumber, KNumber}, Min: 2, Check: rangeCheck},
		{Name: "Sort", Args: []Kind{KOrder | KString, KString}, Check: sortCheck},
		{Name: "Values", Args: []Kind{KString}, Min: 1},
		{Name: "ValueMap", Rest: KString},
		{Name: "Keys"},
		{Name: "Sum", Args: []Kind{KString}},
		{Name: "As", Args: []Kind{KString}, Min: 1},
		{Name: "Select", Rest: KString, Min: 1},
		{Name: "ShortestPathTo", Args: []Kind{KMetadata, KMetadata}, Min: 1},
		pairs("SubGraph"),
		{Name: "Descendants", Rest: KValue, Check: PairsThenDepth},
		{Name: "Ascendants", Rest: KValue, Check: PairsThenDepth},
		{Name: "Neighbors", Rest: KValue, Check: PairsThenDepth},
		{Name: "Diff", Args: []Kind{KString | KNumber | KNow}},
		// Flow engine and other extension steps.
		pairs("Flows"),
		{Name: "Hops"},
		{Name: "CaptureNode", Aliases: []string{"Node"}},
		{Name: "Nodes"},
		{Name: "Metrics", Args: []Kind{KString}},
		{Name: "Aggregates", Args: []Kind{KNumber}, Check: NonNegativeInts},
		{Name: "RawPackets"},
		{Name: "BPF", Args: []Kind{KString}, Min: 1},
		{Name: "Group", Args: []Kind{KString}},
		{Name: "MoreThan", Args: []Kind{KNumber}, Check: NonNegativeInts},
		{Name: "Sockets"},
		{Name: "NextHop", Args: []Kind{KString}, Min: 1},
		{Name: "MTUAudit"},
		{Name: "Trace"},
		{Name: "Workflow", Args: []Kind{KString}, Rest: KValue, Min: 1},
	}
}

func corePredicates() []*Signature {
	one := func(name string, k Kind, aliases ...string) *Signature {
		return &Signature{Name: name, Aliases: aliases, Args: []Kind{k}, Min: 1}
	}
	two := func(name string) *Signature {
		return &Signature{Name: name, Args: []Kind{KNumber | KString, KNumber | KString}, Min: 2}
	}
	return []*Signature{
		one("NE", KScalar), one("NEE", KScalar),
		one("LT", KNumber|KString), one("GT", KNumber|KString),
		one("LTE", KNumber|KString), one("GTE", KNumber|KString),
		two("INSIDE"), two("OUTSIDE"), two("BETWEEN"),
		{Name: "WITHIN", Rest: KScalar, Min: 1},
		{Name: "WITHOUT", Rest: KScalar, Min: 1},
		one("REGEX", KString),
		one("IPV4RANGE", KString, "IPRANGE"),
		{Name: "Metadata", Rest: KValue, Min: 2, Check: Pairs},
	}
}

var defaultTable = func() *Table {
	t := &Table{steps: map[string]*Signature{}, preds: map[string]*Signature{}}
	for _, p := range corePredicates() {
		t.preds[upper(p.Name)] = p
		for _, a := range p.Aliases {
			t.preds[upper(a)] = p
		}
	}
	return t.With(coreSteps()...)
}()

// DefaultTable returns the signatures of the Skydive dialect. The table is
// shared and immutable; extend it with With.
func DefaultTable() *Table { return defaultTable }

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
)

// Op is the comparison of a Cond.
type Op uint8

// Condition operators.
const (
	Eq Op = iota + 1 // field == Values[0]
	Ne               // field != Values[0]
	In               // field is one of Values
	Lt               // field < Values[0]
	Le               // field <= Values[0]
	Gt               // field > Values[0]
	Ge               // field >= Values[0]
)

func (o Op) String() string {
	switch o {
	case Eq:
		return "="
	case Ne:
		return "!="
	case In:
		return "IN"
	case Lt:
		return "<"
	case Le:
		return "<="
	case Gt:
		return ">"
	case Ge:
		return ">="
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Cond is a simple condition on a flow field that a backend can push down:
// the Gremlin layer turns the Has() steps it can express this way into
// Conds (Pushable tells which fields) and keeps flowstore.Query.Filter as
// the final check of everything.
//
// Field uses the names of the JSON flow record ("Network.A",
// "Transport.B", "Metric.ABBytes", "NodeTID" ...). Values are strings for
// string fields (protocols and ICMP types by name: "IPV4", "ECHO") and
// integers (int, int64, integral float64, json.Number) for numeric ones.
// A flow without the field (no Network layer ...) satisfies no Cond.
type Cond struct {
	Field  string
	Op     Op
	Values []any
}

// FieldKind is the type of a pushable field.
type FieldKind uint8

// Field kinds.
const (
	StringField FieldKind = iota + 1
	IntField
)

// Field describes a field conditions may use.
type Field struct {
	Name string
	Kind FieldKind
	// Get reads the field; ok is false when the flow lacks it.
	Get func(f *flow.Flow) (v any, ok bool)
}

func sf(name string, get func(f *flow.Flow) (string, bool)) Field {
	return Field{Name: name, Kind: StringField, Get: func(f *flow.Flow) (any, bool) { return get(f) }}
}

func nf(name string, get func(f *flow.Flow) (int64, bool)) Field {
	return Field{Name: name, Kind: IntField, Get: func(f *flow.Flow) (any, bool) { return get(f) }}
}

func layer(name string, l func(*flow.Flow) *flow.FlowLayer) []Field {
	return []Field{
		sf(name+".A", func(f *flow.Flow) (string, bool) {
			if x := l(f); x != nil {
				return x.A, true
			}
			return "", false
		}),
		sf(name+".B", func(f *flow.Flow) (string, bool) {
			if x := l(f); x != nil {
				return x.B, true
			}
			return "", false
		}),
		nf(name+".ID", func(f *flow.Flow) (int64, bool) {
			if x := l(f); x != nil {
				return x.ID, true
			}
			return 0, false
		}),
		sf(name+".Protocol", func(f *flow.Flow) (string, bool) {
			if x := l(f); x != nil {
				return x.Protocol.String(), true
			}
			return "", false
		}),
	}
}

func metric(name string, get func(*flow.Metric) int64) Field {
	return nf("Metric."+name, func(f *flow.Flow) (int64, bool) {
		if f.Metric == nil {
			return 0, false
		}
		return get(f.Metric), true
	})
}

func transport(name string, get func(*flow.TransportLayer) int64) Field {
	return nf("Transport."+name, func(f *flow.Flow) (int64, bool) {
		if f.Transport == nil {
			return 0, false
		}
		return get(f.Transport), true
	})
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

// fields is the table of pushable fields.
var fields = func() map[string]Field {
	list := []Field{
		sf("UUID", func(f *flow.Flow) (string, bool) { return nonEmpty(f.UUID) }),
		sf("LayersPath", func(f *flow.Flow) (string, bool) { return nonEmpty(f.LayersPath) }),
		sf("Application", func(f *flow.Flow) (string, bool) { return nonEmpty(f.Application) }),
		sf("TrackingID", func(f *flow.Flow) (string, bool) { return nonEmpty(f.TrackingID) }),
		sf("L3TrackingID", func(f *flow.Flow) (string, bool) { return nonEmpty(f.L3TrackingID) }),
		sf("ParentUUID", func(f *flow.Flow) (string, bool) { return f.ParentUUID, true }),
		sf("NodeTID", func(f *flow.Flow) (string, bool) { return nonEmpty(f.NodeTID) }),
		sf("CaptureID", func(f *flow.Flow) (string, bool) { return nonEmpty(f.CaptureID) }),
		nf("Start", func(f *flow.Flow) (int64, bool) { return f.Start, true }),
		nf("Last", func(f *flow.Flow) (int64, bool) { return f.Last, true }),
		nf("FinishType", func(f *flow.Flow) (int64, bool) { return int64(f.FinishType), true }),
		transport("A", func(t *flow.TransportLayer) int64 { return t.A }),
		transport("B", func(t *flow.TransportLayer) int64 { return t.B }),
		transport("ID", func(t *flow.TransportLayer) int64 { return t.ID }),
		sf("Transport.Protocol", func(f *flow.Flow) (string, bool) {
			if f.Transport == nil {
				return "", false
			}
			return f.Transport.Protocol.String(), true
		}),
		sf("ICMP.Type", func(f *flow.Flow) (string, bool) {
			if f.ICMP == nil {
				return "", false
			}
			return f.ICMP.Type.String(), true
		}),
		nf("ICMP.Code", func(f *flow.Flow) (int64, bool) {
			if f.ICMP == nil {
				return 0, false
			}
			return int64(f.ICMP.Code), true
		}),
		nf("ICMP.ID", func(f *flow.Flow) (int64, bool) {
			if f.ICMP == nil {
				return 0, false
			}
			return int64(f.ICMP.ID), true
		}),
		metric("ABPackets", func(m *flow.Metric) int64 { return m.ABPackets }),
		metric("ABBytes", func(m *flow.Metric) int64 { return m.ABBytes }),
		metric("BAPackets", func(m *flow.Metric) int64 { return m.BAPackets }),
		metric("BABytes", func(m *flow.Metric) int64 { return m.BABytes }),
		metric("RTT", func(m *flow.Metric) int64 { return m.RTT }),
		metric("Start", func(m *flow.Metric) int64 { return m.Start }),
		metric("Last", func(m *flow.Metric) int64 { return m.Last }),
	}
	list = append(list, layer("Link", func(f *flow.Flow) *flow.FlowLayer { return f.Link })...)
	list = append(list, layer("Network", func(f *flow.Flow) *flow.FlowLayer { return f.Network })...)
	m := make(map[string]Field, len(list))
	for _, f := range list {
		m[f.Name] = f
	}
	return m
}()

// Pushable tells whether conditions on the field can be pushed down to the
// stores (and its kind).
func Pushable(field string) (FieldKind, bool) {
	f, ok := fields[field]
	return f.Kind, ok
}

// PushableFields lists the fields Cond accepts, sorted.
func PushableFields() []string {
	out := make([]string, 0, len(fields))
	for n := range fields {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupField returns the description of a pushable field.
func LookupField(name string) (Field, bool) {
	f, ok := fields[name]
	return f, ok
}

// Normalize checks c and returns it with its values in canonical form
// (string or int64).
func (c Cond) Normalize() (Cond, error) {
	f, ok := fields[c.Field]
	if !ok {
		return c, fmt.Errorf("store: field %q cannot be pushed down", c.Field)
	}
	if c.Op < Eq || c.Op > Ge {
		return c, fmt.Errorf("store: %s: unknown operator %d", c.Field, c.Op)
	}
	if len(c.Values) == 0 || (c.Op != In && len(c.Values) != 1) {
		return c, fmt.Errorf("store: %s %s: want %s", c.Field, c.Op, map[bool]string{true: "values", false: "one value"}[c.Op == In])
	}
	vs := make([]any, len(c.Values))
	for i, v := range c.Values {
		switch f.Kind {
		case StringField:
			s, ok := v.(string)
			if !ok {
				return c, fmt.Errorf("store: %s %s: want a string, got %T", c.Field, c.Op, v)
			}
			vs[i] = s
		case IntField:
			n, err := toInt(v)
			if err != nil {
				return c, fmt.Errorf("store: %s %s: %w", c.Field, c.Op, err)
			}
			vs[i] = n
		}
	}
	c.Values = vs
	return c, nil
}

func toInt(v any) (int64, error) {
	switch t := v.(type) {
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case int64:
		return t, nil
	case uint32:
		return int64(t), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<62 {
			return int64(t), nil
		}
	case json.Number:
		return t.Int64()
	}
	return 0, fmt.Errorf("want an integer, got %v (%T)", v, v)
}

// Match evaluates a normalized condition on a flow.
func (c *Cond) Match(fl *flow.Flow) bool {
	f := fields[c.Field]
	v, ok := f.Get(fl)
	if !ok {
		return false
	}
	switch f.Kind {
	case StringField:
		return cmpMatch(c.Op, v.(string), c.Values)
	case IntField:
		return cmpMatch(c.Op, v.(int64), c.Values)
	}
	return false
}

func cmpMatch[T string | int64](op Op, v T, values []any) bool {
	x, _ := values[0].(T)
	switch op {
	case Eq:
		return v == x
	case Ne:
		return v != x
	case In:
		return slices.ContainsFunc(values, func(a any) bool { y, _ := a.(T); return y == v })
	case Lt:
		return v < x
	case Le:
		return v <= x
	case Gt:
		return v > x
	case Ge:
		return v >= x
	}
	return false
}

// FlowQuery is a flowstore.Query with conditions pushed down to the backend.
// Query.NodeTIDs and CaptureIDs become In conditions; Query.Filter stays the
// final check.
type FlowQuery struct {
	flowstore.Query
	Conds []Cond
}

// CondQuerier is implemented by the stores that push conditions down; the
// flow steps may type-assert their Querier to it.
type CondQuerier interface {
	FlowsWhere(ctx context.Context, q FlowQuery) ([]*flow.Flow, error)
}

package eval

import (
	"encoding/json"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Kind is the type of what a step produces; steps are chosen by the kind of
// their input at compile time. Extensions may define their own kinds
// (e.g. "flows").
type Kind string

// Core kinds.
const (
	// KindAny is produced by steps whose output is only known at run time
	// (the flow placeholders): the steps after them are not type-checked.
	KindAny    Kind = "any"
	KindStart  Kind = "start" // the input of G
	KindGraph  Kind = "graph"
	KindNodes  Kind = "nodes"
	KindEdges  Kind = "edges"
	KindValues Kind = "values"
	KindNumber Kind = "number"
	KindPaths  Kind = "paths"
	KindObject Kind = "object"
)

// Value is the result of a step. Every Value marshals to the JSON the
// original returned for it.
type Value interface {
	Kind() Kind
}

// Graph is a whole graph (G, At(), SubGraph()); JSON [{"Nodes":[...],"Edges":[...]}].
type Graph struct{ View graph.View }

// Nodes is a list of nodes; JSON array of node objects.
type Nodes []*graph.Node

// Edges is a list of edges; JSON array of edge objects.
type Edges []*graph.Edge

// Values is a flat list of values (Values, ValueMap, Keys); JSON array.
type Values []any

// Number is a count or a sum: int64 or float64; JSON bare number.
type Number struct{ V any }

// Paths are node paths (ShortestPathTo); JSON [[node,...],...].
type Paths [][]*graph.Node

// Object is a map-shaped result, wrapped as the original did in a
// one-element JSON array: [V].
type Object struct{ V any }

func (Graph) Kind() Kind  { return KindGraph }
func (Nodes) Kind() Kind  { return KindNodes }
func (Edges) Kind() Kind  { return KindEdges }
func (Values) Kind() Kind { return KindValues }
func (Number) Kind() Kind { return KindNumber }
func (Paths) Kind() Kind  { return KindPaths }
func (Object) Kind() Kind { return KindObject }

// MarshalJSON writes [{"Nodes":[...],"Edges":[...]}].
func (g Graph) MarshalJSON() ([]byte, error) {
	var ns Nodes
	var es Edges
	if g.View != nil {
		ns, es = g.View.Nodes(), g.View.Edges()
	}
	return json.Marshal([]struct {
		Nodes Nodes `json:"Nodes"`
		Edges Edges `json:"Edges"`
	}{{ns, es}})
}

// MarshalJSON writes an array, never null.
func (n Nodes) MarshalJSON() ([]byte, error) {
	if n == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]*graph.Node(n))
}

// MarshalJSON writes an array, never null.
func (e Edges) MarshalJSON() ([]byte, error) {
	if e == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]*graph.Edge(e))
}

// MarshalJSON writes an array, never null.
func (v Values) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]any(v))
}

// MarshalJSON writes the bare number.
func (n Number) MarshalJSON() ([]byte, error) { return json.Marshal(n.V) }

// MarshalJSON writes an array of arrays, never null.
func (p Paths) MarshalJSON() ([]byte, error) {
	out := make([]Nodes, len(p))
	for i, path := range p {
		out[i] = path
	}
	return json.Marshal(out)
}

// MarshalJSON writes [V].
func (o Object) MarshalJSON() ([]byte, error) { return json.Marshal([]any{o.V}) }

package workflows

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// Extend adds the Workflow('idOrName', args...) step to opts: it calls the
// workflow and answers its result. A result with Nodes and Edges is a
// graph (JSON [{"Nodes":...,"Edges":...}], as G answers); any other value
// is answered as the original did, in a one-element array.
func Extend(opts eval.Options, s *Service) eval.Options {
	opts.Steps = append(slices.Clip(opts.Steps), eval.StepDef{Name: "Workflow", Compile: s.compileStep})
	return opts
}

func (s *Service) compileStep(c *eval.Compiler, st *syntax.Step, _ eval.Kind) (eval.StepFunc, eval.Kind, error) {
	name, ok := st.Args[0].(*syntax.StringLit)
	if !ok {
		return nil, "", c.Errorf(st.Args[0].Pos(), "Workflow(): the first argument must be a workflow's UUID or name")
	}
	var params []any
	for _, a := range st.Args[1:] {
		switch v := a.(type) {
		case *syntax.StringLit:
			params = append(params, v.Value)
		case *syntax.NumberLit:
			params = append(params, v.Value())
		case *syntax.BoolLit:
			params = append(params, v.Value)
		default:
			return nil, "", c.Errorf(a.Pos(), "Workflow(): %s: an argument must be a string, a number or a boolean", a)
		}
	}
	return func(r *eval.Run, _ eval.Value) (eval.Value, error) {
		raw, err := s.Call(r.Ctx, name.Value, params)
		if err != nil {
			return nil, err
		}
		return resultValue(raw)
	}, eval.KindAny, nil
}

// resultValue makes a workflow's JSON result a query value.
func resultValue(raw json.RawMessage) (eval.Value, error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) == nil && probe["Nodes"] != nil && probe["Edges"] != nil {
		var sub struct {
			Nodes []*graph.Node
			Edges []*graph.Edge
		}
		if err := json.Unmarshal(raw, &sub); err != nil {
			return nil, fmt.Errorf("the workflow's Nodes and Edges are not a graph: %w", err)
		}
		g := graph.New()
		for _, n := range sub.Nodes {
			if n == nil || n.ID == "" {
				continue
			}
			if err := g.AddNode(n); err != nil {
				return nil, fmt.Errorf("the workflow's node %s: %w", n.ID, err)
			}
		}
		for _, e := range sub.Edges {
			if e == nil || g.Node(e.Parent) == nil || g.Node(e.Child) == nil {
				continue
			}
			if err := g.AddEdge(e); err != nil {
				return nil, fmt.Errorf("the workflow's edge %s: %w", e.ID, err)
			}
		}
		return eval.Graph{View: g}, nil
	}
	return eval.Object{V: raw}, nil
}

// Package topoquery answers the API's Gremlin queries with the evaluator:
// it compiles the query, runs it on the graph and sorts its errors into the
// client's (400) and the server's.
package topoquery

import (
	"context"
	"errors"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/httpapi"
)

// Runner runs queries on one graph.
type Runner struct {
	engine     *eval.Engine
	env        eval.Env
	incomplete func(env eval.Env, v eval.Value) []string
}

// Options are what queries run against.
type Options struct {
	Graph graph.View
	// History answers G.At(...); nil: "Backend does not support history".
	History eval.History
	// Flows is the flow source of the flow steps in Extensions.
	Flows      any
	Extensions eval.Options
	// Incomplete, when set, tells why an answer may be short (the flow
	// steps' flowsteps.Incomplete); the API sends it in a header.
	Incomplete func(env eval.Env, v eval.Value) []string
}

// New returns a runner.
func New(opts Options) *Runner {
	return &Runner{engine: eval.NewEngine(opts.Extensions), env: eval.Env{Graph: opts.Graph, History: opts.History, Flows: opts.Flows},
		incomplete: opts.Incomplete}
}

// NewLive returns a runner on the live graph g only.
func NewLive(g graph.View) httpapi.QueryRunner { return New(Options{Graph: g}) }

// Query compiles and runs src.
func (r *Runner) Query(ctx context.Context, src string) (any, error) {
	q, err := r.engine.Compile(src)
	if err != nil {
		return nil, httpapi.BadRequest(err)
	}
	v, err := q.Run(ctx, r.env)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		// As the original: a query that cannot run is the query's fault.
		return nil, httpapi.BadRequest(err)
	}
	if r.incomplete != nil {
		if why := r.incomplete(r.env, v); len(why) > 0 {
			return httpapi.Incomplete{Value: v, Reasons: why}, nil
		}
	}
	return v, nil
}

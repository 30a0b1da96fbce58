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
	engine *eval.Engine
	env    eval.Env
}

// Options are what queries run against.
type Options struct {
	Graph graph.View
	// History answers G.At(...); nil: "Backend does not support history".
	History eval.History
	// Flows is the flow source of the flow steps in Extensions.
	Flows      any
	Extensions eval.Options
}

// New returns a runner.
func New(opts Options) *Runner {
	return &Runner{engine: eval.NewEngine(opts.Extensions), env: eval.Env{Graph: opts.Graph, History: opts.History, Flows: opts.Flows}}
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
	return v, nil
}

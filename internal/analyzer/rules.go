package analyzer

import (
	"context"
	"log/slog"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/rules"
)

// ruleHandlers makes the topology rules manager (rules kept in the
// cluster's store: data_dir/rules.json, or etcd, every analyzer applying
// them; their nodes and edges the analyzer's own), serves /api/noderule and
// /api/edgerule and returns the manager's Run.
func ruleHandlers(mux httpapi.Mux, api *httpapi.Server, cfg *config.Config, cs *clusterState, g *graph.Graph, log *slog.Logger) (func(context.Context) error, error) {
	m, err := rules.New(rules.Options{
		Graph:  g,
		Host:   cfg.HostID,
		Origin: "analyzer." + cfg.HostID,
		Store:  cs.store,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.NodeRule]{
		Name: "noderule", Title: "NodeRule",
		List:   func() any { return m.NodeRules() },
		Get:    m.NodeRule,
		Create: m.CreateNodeRule,
		Delete: func(id string) error { return m.DeleteNodeRule(context.Background(), id) },
	})
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.EdgeRule]{
		Name: "edgerule", Title: "EdgeRule",
		List:   func() any { return m.EdgeRules() },
		Get:    m.EdgeRule,
		Create: func(_ context.Context, r *v1.EdgeRule) (*v1.EdgeRule, error) { return m.CreateEdgeRule(r) },
		Delete: m.DeleteEdgeRule,
	})
	return m.Run, nil
}

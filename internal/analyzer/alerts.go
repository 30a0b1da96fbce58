package analyzer

import (
	"context"
	"log/slog"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/alerts"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/replicate"
)

// alertHandlers makes the alert manager (its alerts kept in the cluster's
// store: data_dir/alerts.json, or etcd; evaluated by the API's query runner
// on the alerting leader, notified to the /ws/subscriber clients), serves
// /api/alert and returns the manager's Run.
func alertHandlers(mux httpapi.Mux, api *httpapi.Server, cfg *config.Config, cs *clusterState, g *graph.Graph, subs *replicate.Subscribers, log *slog.Logger) (func(context.Context) error, error) {
	engine := eval.NewEngine(flowsteps.Options())
	leader, grace := cs.alertsLeader()
	m, err := alerts.New(alerts.Options{
		Graph:      g,
		Query:      api.Queries.Query,
		Check:      func(s string) error { _, err := engine.Compile(s); return err },
		Notify:     subs.Broadcast,
		Store:      cs.store,
		Leader:     leader,
		ResetGrace: grace,
		Logger:     log,
		// JavaScript alerts: their time limit, and request() on the API.
		JSTimeout: time.Duration(cfg.Analyzer.Alert.JSTimeout) * time.Second,
		Handler:   mux,
	})
	if err != nil {
		return nil, err
	}
	cs.onAlertsLeadership(m.LeadershipChanged)
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.Alert]{
		Name: "alert", Title: "Alert",
		List:   func() any { return m.List() },
		Get:    m.Get,
		Create: func(_ context.Context, a *v1.Alert) (*v1.Alert, error) { return m.Create(a) },
		Update: func(_ context.Context, id string, a *v1.Alert) (*v1.Alert, error) { return m.Update(id, a) },
		Delete: m.Delete,
	})
	return m.Run, nil
}

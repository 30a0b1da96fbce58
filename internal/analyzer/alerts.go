package analyzer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/alerts"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/replicate"
)

// alertHandlers makes the alert manager (its alerts kept in
// data_dir/alerts.json, evaluated by the API's query runner, notified to the
// /ws/subscriber clients), serves /api/alert and returns the manager's Run.
func alertHandlers(mux *http.ServeMux, api *httpapi.Server, cfg *config.Config, g *graph.Graph, subs *replicate.Subscribers, log *slog.Logger) (func(context.Context) error, error) {
	engine := eval.NewEngine(flowsteps.Options())
	m, err := alerts.New(alerts.Options{
		Graph:  g,
		Query:  api.Queries.Query,
		Check:  func(s string) error { _, err := engine.Compile(s); return err },
		Notify: subs.Broadcast,
		File:   filepath.Join(cfg.Analyzer.DataDir, "alerts.json"),
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.Alert]{
		Name: "alert", Title: "Alert",
		List: func() any { return m.List() },
		Get:  m.Get,
		Create: func(_ context.Context, a *v1.Alert) (*v1.Alert, error) {
			created, err := m.Create(a)
			return created, alertError(err)
		},
		Update: func(_ context.Context, id string, a *v1.Alert) (*v1.Alert, error) {
			updated, err := m.Update(id, a)
			return updated, alertError(err)
		},
		Delete: func(id string) error { return alertError(m.Delete(id)) },
	})
	return m.Run, nil
}

// alertError gives the alert manager's errors their status.
func alertError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*alerts.InvalidError)):
		return httpapi.BadRequest(err)
	case errors.Is(err, alerts.ErrNotFound):
		return httpapi.WithStatus(http.StatusNotFound, err)
	}
	return err
}

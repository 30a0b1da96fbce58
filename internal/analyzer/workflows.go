package analyzer

import (
	"log/slog"
	"path/filepath"

	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/workflows"
)

// newWorkflows loads the workflows; users' ones are kept in
// <data_dir>/workflows.json.
func newWorkflows(cfg *config.Config, log *slog.Logger) (*workflows.Service, error) {
	return workflows.New(workflows.Options{File: filepath.Join(cfg.Analyzer.DataDir, "workflows.json"), Logger: log})
}

// withWorkflowStep adds the Gremlin Workflow() step to the query engine's
// extensions.
func withWorkflowStep(opts eval.Options, wf *workflows.Service) eval.Options {
	return workflows.Extend(opts, wf)
}

// workflowHandlers serves /api/workflow and gives the workflows the API's
// query engine and the final mux, which their request() calls in process.
func workflowHandlers(mux httpapi.Mux, api *httpapi.Server, wf *workflows.Service) {
	wf.Bind(api.Queries.Query, mux)
	workflows.Register(mux, api, wf)
}

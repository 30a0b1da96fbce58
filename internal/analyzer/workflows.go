package analyzer

import (
	"log/slog"

	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/workflows"
)

// newWorkflows loads the workflows; users' ones are kept in the cluster's
// store (<data_dir>/workflows.json, or etcd), which the service follows
// with the cluster.
func newWorkflows(cs *clusterState, log *slog.Logger) (*workflows.Service, error) {
	wf, err := workflows.New(workflows.Options{Store: cs.store, Logger: log})
	if err != nil {
		return nil, err
	}
	cs.addRun(wf.Run)
	return wf, nil
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

package analyzer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/latency"
)

// defaultLatencySince is the window of GET /api/latency without since.
const defaultLatencySince = 5 * time.Minute

// flowQuerier answers flow queries (a store, the live flows).
type flowQuerier interface {
	Flows(ctx context.Context, q flowstore.Query) ([]*flow.Flow, error)
}

// latencyHandlers serve GET /api/latency?since=5m: the RTTs between hosts
// of the flows stored over the last since, and of those alive now.
func latencyHandlers(mux httpapi.Mux, g *graph.Graph, store, live flowQuerier) {
	mux.HandleFunc("GET /api/latency", func(w http.ResponseWriter, r *http.Request) {
		since := defaultLatencySince
		if s := r.URL.Query().Get("since"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				http.Error(w, fmt.Sprintf("since: a positive duration (5m, 1h), not %q", s), http.StatusBadRequest)
				return
			}
			since = d
		}
		now := time.Now()
		stored, err := store.Flows(r.Context(), flowstore.Query{Window: &flowstore.Window{From: now.Add(-since), To: now}})
		if err != nil {
			http.Error(w, "flows: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		alive, err := live.Flows(r.Context(), flowstore.Query{})
		if err != nil {
			http.Error(w, "flows: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, latency.Compute(g.Nodes(), append(append([]*flow.Flow{}, stored...), alive...)))
	})
}

package analyzer

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/latency"
)

// latencyProbeHandler serves POST /api/latency/probe?count=5&interval=200ms:
// pings injected between every pair of hosts that share a subnet, captured
// where they leave so that their RTT lands in the latency map. It answers
// once the pings are on their way, with when the map will have them.
func latencyProbeHandler(ctx context.Context, mux httpapi.Mux, p *latency.Prober) {
	mux.HandleFunc("POST /api/latency/probe", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		count, interval := 5, 200*time.Millisecond
		if s := q.Get("count"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 100 {
				http.Error(w, fmt.Sprintf("count: 1 to 100 pings, not %q", s), http.StatusBadRequest)
				return
			}
			count = n
		}
		if s := q.Get("interval"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 10*time.Millisecond || d > 10*time.Second {
				http.Error(w, fmt.Sprintf("interval: a duration from 10ms to 10s, not %q", s), http.StatusBadRequest)
				return
			}
			interval = d
		}
		ans, err := p.Start(r.Context(), ctx, count, interval, 15*time.Second)
		if err != nil {
			http.Error(w, "latency probe: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, ans)
	})
}

// captureActive tells whether capture id runs on node (its Captures).
func captureActive(g *graph.Graph) func(id string, node graph.Identifier) bool {
	return func(id string, node graph.Identifier) bool {
		n := g.Node(node)
		if n == nil {
			return false
		}
		caps, _ := n.Metadata["Captures"].([]any)
		for _, c := range caps {
			if m, ok := c.(map[string]any); ok && m["ID"] == id && m["State"] == "active" {
				return true
			}
		}
		return false
	}
}

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

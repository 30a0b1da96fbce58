package analyzer

import (
	"net/http"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/report"
)

// reportHandlers serves GET /api/report/tenants: bytes and packets per
// Neutron tenant and application over a window (?since=1h or
// ?from=...&to=... in RFC 3339), as JSON or ?format=csv.
func reportHandlers(mux httpapi.Mux, g *graph.Graph, src report.Source) {
	mux.HandleFunc("GET /api/report/tenants", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		win, err := report.ParseWindow(q.Get("since"), q.Get("from"), q.Get("to"), time.Now())
		if err != nil {
			http.Error(w, "report: "+err.Error(), http.StatusBadRequest)
			return
		}
		format := q.Get("format")
		if format != "" && format != "json" && format != "csv" {
			http.Error(w, "report: format must be json or csv", http.StatusBadRequest)
			return
		}
		rows, err := report.Build(r.Context(), src, g.Nodes(), win)
		if err != nil {
			http.Error(w, "report: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			_ = report.WriteCSV(w, rows)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, rows)
	})
}

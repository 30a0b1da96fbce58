package analyzer

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/report"
)

// reportHandlers serves GET /api/report/tenants: bytes and packets per
// Neutron tenant and application over a window (?since=1h or
// ?from=...&to=... in RFC 3339), as JSON or ?format=csv.
// The answer's Incomplete says what may make it short: gaps in the window
// and captures that dropped packets. With CSV the reasons come in the
// Skydive-Incomplete header, "; "-separated.
func reportHandlers(mux httpapi.Mux, g *graph.Graph, src report.Source, gaps flowsteps.GapFinder) {
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
		incomplete := append(gaps.Gaps(win.From, win.To, nil), droppingCaptures(g.Nodes())...)
		if format == "csv" {
			if len(incomplete) > 0 {
				w.Header().Set(httpapi.HeaderIncomplete, strings.Join(incomplete, "; "))
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			_ = report.WriteCSV(w, rows)
			return
		}
		if rows == nil {
			rows = []report.Row{}
		}
		if incomplete == nil {
			incomplete = []string{}
		}
		httpapi.WriteJSON(w, http.StatusOK, report.Answer{Rows: rows, Incomplete: incomplete})
	})
}

// droppingCaptures names the captures that sample or whose kernel dropped
// packets.
func droppingCaptures(nodes []*graph.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, flowsteps.CaptureGaps(n, "")...)
	}
	slices.Sort(out)
	return out
}

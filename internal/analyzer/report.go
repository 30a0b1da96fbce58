package analyzer

import (
	"fmt"
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
				w.Header().Set("Skydive-Incomplete", strings.Join(incomplete, "; "))
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

// droppingCaptures names the active captures whose kernel dropped packets.
func droppingCaptures(nodes []*graph.Node) []string {
	var out []string
	for _, n := range nodes {
		caps, _ := n.Metadata["Captures"].([]any)
		for _, c := range caps {
			m, _ := c.(map[string]any)
			if d := toInt(m["PacketsDropped"]) + toInt(m["PacketsIfDropped"]); d > 0 {
				out = append(out, fmt.Sprintf("the capture on %s of %s dropped %d packets", n.Metadata.String("Name"), n.Host, d))
			}
		}
	}
	slices.Sort(out)
	return out
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

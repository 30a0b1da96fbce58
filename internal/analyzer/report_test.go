package analyzer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
)

type gapsOf []string

func (g gapsOf) Gaps(time.Time, time.Time, []string) []string { return g }

// The report's reasons: in the JSON answer's Incomplete, and for CSV in the
// Skydive-Incomplete header; a capture that dropped packets is one of them.
func TestReportIncomplete(t *testing.T) {
	g := graph.New()
	g.AddNode(&graph.Node{Element: graph.Element{ID: "n", Host: "h1", Metadata: graph.Metadata{"Name": "eth0",
		"Captures": []any{map[string]any{"ID": "c", "Type": "afpacket", "PacketsDropped": int64(5)}}}}})
	mux := httpapi.NewRouter()
	reportHandlers(mux, g, flowstore.NewMemory(flowstore.MemoryOptions{}), gapsOf{"agent h2 disconnected"})
	want := []string{"agent h2 disconnected", "the capture on eth0 of h1 dropped 5 packets"}

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/report/tenants?since=1h", nil))
	var ans struct {
		Rows       []any
		Incomplete []string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != http.StatusOK || ans.Rows == nil || strings.Join(ans.Incomplete, "|") != strings.Join(want, "|") {
		t.Errorf("JSON: %d %s (%v)", rec.Code, rec.Body, err)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/report/tenants?since=1h&format=csv", nil))
	if got := rec.Header().Get(httpapi.HeaderIncomplete); got != strings.Join(want, "; ") {
		t.Errorf("CSV header %q", got)
	}
}

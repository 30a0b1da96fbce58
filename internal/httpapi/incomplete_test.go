package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type cannedQueries struct{ res any }

func (c cannedQueries) Query(context.Context, string) (any, error) { return c.res, nil }

// An answer with reasons keeps its body as it is and says the reasons in
// the Skydive-Incomplete header; one without has no such header.
func TestQueryIncompleteHeader(t *testing.T) {
	for _, tc := range []struct {
		name       string
		res        any
		body, head string
	}{
		{"plain", []int{1, 2}, "[1,2]", ""},
		{"incomplete", Incomplete{Value: []int{1}, Reasons: []string{"agent a disconnected", "the capture on eth0 of b dropped 3 packets"}},
			"[1]", "agent a disconnected; the capture on eth0 of b dropped 3 packets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Queries: cannedQueries{tc.res}}
			rec := httptest.NewRecorder()
			s.query(rec, httptest.NewRequest(http.MethodPost, "/api/topology", strings.NewReader(`{"GremlinQuery":"G.Flows()"}`)))
			if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != tc.body || rec.Header().Get(HeaderIncomplete) != tc.head {
				t.Errorf("%d %q header %q, want %q %q", rec.Code, rec.Body.String(), rec.Header().Get(HeaderIncomplete), tc.body, tc.head)
			}
		})
	}
}

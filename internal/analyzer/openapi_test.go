package analyzer

import (
	"slices"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/openapi"
)

// TestOpenAPIMatchesTheRouter fails when a route is served without its
// description in /api/openapi.json, or described without being served.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	var routes []string
	startAnalyzerWith(t, t.TempDir(), nil, func(o *Options) { o.Routes = func(p []string) { routes = p } })
	described := map[string]bool{}
	for _, r := range openapi.Routes() {
		described[r.Method+" "+r.Path] = true
	}
	// Patterns without a method are mounts (the UI, the workflows'
	// sub-router, whose own routes are listed); GET /api/{$} is /api.
	mounts := []string{"/", "/api/workflow", "/api/workflow/", "GET /api/{$}"}
	served := map[string]bool{}
	for _, p := range routes {
		if slices.Contains(mounts, p) {
			continue
		}
		if !strings.Contains(p, " ") {
			t.Errorf("pattern %q has no method: give it one or list it as a mount", p)
			continue
		}
		served[p] = true
		if !described[p] {
			t.Errorf("%s is served but not in the OpenAPI document", p)
		}
	}
	// The guard serves the login itself.
	for p := range described {
		if !served[p] && p != "POST /login" && p != "GET /logout" {
			t.Errorf("%s is described but not served", p)
		}
	}
}

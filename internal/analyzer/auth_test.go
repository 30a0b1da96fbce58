package analyzer

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// authConfig turns basic authentication on: admin is an admin, viewer a
// guest.
func authConfig(cfg *config.Config) {
	cfg.Auth = map[string]config.AuthBackend{"local": {Type: "basic", Users: map[string]string{"admin": "adm-pw", "viewer": "view-pw"}}}
	cfg.Analyzer.Auth.API.Backend = "local"
	cfg.RBAC.Policy = []string{"g, viewer, guest"}
}

// requestOf makes a request of a router pattern ("GET /api/capture/{id}",
// "/api/workflow/"), with made-up path values.
func requestOf(t *testing.T, base, pattern string) *http.Request {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	for strings.Contains(path, "{") {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + "x" + path[j+1:]
	}
	if strings.HasSuffix(path, "/") && path != "/" {
		path += "x"
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(path, "/ws/") {
		// A websocket upgrade, refused before the handshake.
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	return req
}

// TestEveryRouteNeedsCredentials walks the router's own list of routes:
// with basic auth on, each answers 401 to an anonymous request, but the
// login and the UI's static files.
func TestEveryRouteNeedsCredentials(t *testing.T) {
	var routes []string
	addr := startAnalyzerWith(t, t.TempDir(), authConfig, func(o *Options) { o.Routes = func(p []string) { routes = p } })
	base := "http://" + addr
	if len(routes) < 20 {
		t.Fatalf("only %d routes: %v", len(routes), routes)
	}
	var ws int
	for _, pattern := range routes {
		req := requestOf(t, base, pattern)
		if strings.HasPrefix(req.URL.Path, "/ws/") {
			ws++
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		if req.URL.Path == "/" || req.URL.Path == "/x" {
			want = http.StatusOK // the UI
		}
		if resp.StatusCode != want {
			t.Errorf("%s (%s %s): %d, want %d", pattern, req.Method, req.URL.Path, resp.StatusCode, want)
		}
	}
	if ws < 3 {
		t.Errorf("%d websocket routes in %v", ws, routes)
	}
	for _, path := range []string{"/metrics", "/api/nope", "/ws/nope"} {
		if code, _ := call(t, "GET", base+path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", path, code)
		}
	}

	// A guest reads but may not create a capture; an admin may.
	do := func(user, pw, method, path, body string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.SetBasicAuth(user, pw)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	capture := `{"GremlinQuery": "G.V().Has('Name', 'eth0')"}`
	for _, tc := range []struct {
		user, pw, method, path, body string
		want                         int
	}{
		{"viewer", "view-pw", "GET", "/api/status", "", 200},
		{"viewer", "view-pw", "POST", "/api/topology", `{"GremlinQuery": "G.V().Count()"}`, 200},
		{"viewer", "view-pw", "GET", "/api/capture", "", 200},
		{"viewer", "view-pw", "POST", "/api/capture", capture, 403},
		{"viewer", "view-pw", "POST", "/api/alert", `{"Expression": "G.V()"}`, 403},
		{"viewer", "wrong", "GET", "/api/status", "", 401},
		{"admin", "adm-pw", "POST", "/api/capture", capture, 201},
	} {
		if code := do(tc.user, tc.pw, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s %s: %d, want %d", tc.user, tc.method, tc.path, code, tc.want)
		}
	}

	// The UI's login.
	resp, err := http.PostForm(base+"/login", url.Values{"username": {"viewer"}, "password": {"view-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 2 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// TestOriginalClientWithCredentials replays the bodies the original's
// client sends, with the Basic credentials its --username/--password give:
// each is taken (2xx or, for the ones naming what this empty analyzer does
// not have, 4xx that is neither 401 nor 403); without them, each is 401.
func TestOriginalClientWithCredentials(t *testing.T) {
	raw, err := os.ReadFile(testutil.RepoFile(t, "tests/e2e/testdata/original-client-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Requests []struct {
			Method, Path string
			Body         json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	base := "http://" + startAnalyzerWith(t, t.TempDir(), authConfig, nil)
	for _, r := range rec.Requests {
		for _, creds := range []bool{false, true} {
			req, _ := http.NewRequest(r.Method, base+r.Path, strings.NewReader(string(r.Body)))
			req.Header.Set("Content-Type", "application/json")
			if creds {
				req.SetBasicAuth("admin", "adm-pw")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case !creds && resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("%s %s without credentials: %d", r.Method, r.Path, resp.StatusCode)
			case creds && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500):
				t.Errorf("%s %s with credentials: %d %s", r.Method, r.Path, resp.StatusCode, body)
			}
		}
	}
}

package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestAccess(t *testing.T) {
	for _, tc := range []struct{ method, path, obj, act string }{
		{"GET", "/api", "status", "read"},
		{"GET", "/api/status", "status", "read"},
		{"POST", "/api/topology", "topology", "read"},
		{"GET", "/api/capture", "capture", "read"},
		{"POST", "/api/capture", "capture", "write"},
		{"DELETE", "/api/capture/x", "capture", "write"},
		{"GET", "/api/capture/x/pcap", "capture", "rawpackets"},
		{"POST", "/api/workflow/x/call", "workflow.call", "write"},
		{"PATCH", "/api/alert/x", "alert", "write"},
		{"POST", "/api/noderule", "noderule", "write"},
		{"GET", "/api/node/x", "node", "read"},
		{"POST", "/api/pcap", "pcap", "write"},
		{"GET", "/ws/subscriber", "websocket", "/ws/subscriber"},
		{"GET", "/ws/subscriber/flow/", "websocket", "/ws/subscriber/flow"},
		{"GET", "/metrics", "metrics", "read"},
		{"GET", "/api/latency", "latency", "read"},
		{"POST", "/api/latency/probe", "latency", "write"},
		{"GET", "/api/report/tenants", "report", "read"},
	} {
		if obj, act := Access(tc.method, tc.path); obj != tc.obj || act != tc.act {
			t.Errorf("%s %s: %s %s, want %s %s", tc.method, tc.path, obj, act, tc.obj, tc.act)
		}
	}
	for path, want := range map[string]bool{"/": true, "/assets/x.js": true, "/login": true, "/api": false, "/api/status": false, "/ws/publisher": false, "/metrics": false} {
		if Public(path) != want {
			t.Errorf("Public(%s) != %v", path, want)
		}
	}
}

// htpasswdFile writes bcrypt entries, as `htpasswd -B` does.
func htpasswdFile(t testing.TB, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(h) + "\n")
	}
	f := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func guardFor(t testing.TB) (*Guard, http.Handler) {
	t.Helper()
	api, err := New("basic", Options{Type: "basic", File: htpasswdFile(t, map[string]string{"admin": "pw1", "viewer": "pw2"})})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := New("cluster", Options{Type: "basic", Users: map[string]string{"agent": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	rbac, err := NewRBAC(ModelSections{}, []string{"g, viewer, guest"})
	if err != nil {
		t.Fatal(err)
	}
	g := &Guard{API: api, Cluster: cluster, RBAC: rbac}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok " + User(r.Context())))
	}))
	return g, h
}

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestGuard(t *testing.T) {
	_, h := guardFor(t)
	do := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	admin := map[string]string{"Authorization": basicHeader("admin", "pw1")}
	guest := map[string]string{"Authorization": basicHeader("viewer", "pw2")}
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		code               int
	}{
		{"static file, anonymous", "GET", "/assets/app.js", nil, 200},
		{"API, anonymous", "GET", "/api/status", nil, 401},
		{"websocket, anonymous", "GET", "/ws/subscriber", nil, 401},
		{"metrics, anonymous", "GET", "/metrics", nil, 401},
		{"wrong password", "GET", "/api/status", map[string]string{"Authorization": basicHeader("admin", "nope")}, 401},
		{"malformed basic", "GET", "/api/status", map[string]string{"Authorization": "Basic !!!"}, 401},
		{"admin reads", "GET", "/api/status", admin, 200},
		{"admin creates a capture", "POST", "/api/capture", admin, 200},
		{"guest reads the topology", "POST", "/api/topology", guest, 200},
		{"guest lists captures", "GET", "/api/capture", guest, 200},
		{"guest creates a capture", "POST", "/api/capture", guest, 403},
		{"guest deletes an alert", "DELETE", "/api/alert/x", guest, 403},
		{"guest calls a workflow", "POST", "/api/workflow/x/call", guest, 403},
		{"guest subscribes", "GET", "/ws/subscriber", guest, 200},
		{"guest publishes", "GET", "/ws/publisher", guest, 403},
		{"agent with cluster credentials", "GET", "/ws/agent/topology", map[string]string{"Authorization": basicHeader("agent", "s3cret")}, 200},
		{"agent with an admin's API credentials", "GET", "/ws/agent/topology", admin, 200},
		{"agent with a guest's API credentials", "GET", "/ws/agent/topology", guest, 403},
		{"agent without credentials", "GET", "/ws/agent/topology", nil, 401},
		{"original basic token in X-Auth-Token", "GET", "/api/status", map[string]string{"X-Auth-Token": base64.StdEncoding.EncodeToString([]byte("admin:pw1"))}, 200},
	} {
		w := do(tc.method, tc.path, tc.hdr)
		if w.Code != tc.code {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, w.Code, w.Body, tc.code)
		}
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
	if w := do("GET", "/api/status", map[string]string{"X-Skydive-UI": "1"}); w.Code != 401 || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("the UI's request: %d, challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

func TestLogin(t *testing.T) {
	_, h := guardFor(t)
	login := func(body, ctype string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	form := "application/x-www-form-urlencoded"
	if w := login(url.Values{"username": {"viewer"}, "password": {"bad"}}.Encode(), form); w.Code != 401 {
		t.Fatalf("bad password: %d", w.Code)
	}
	w := login(url.Values{"username": {"viewer"}, "password": {"pw2"}}.Encode(), form)
	var ans LoginAnswer
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &ans) != nil || ans.Token == "" {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	allowed := map[string]bool{}
	for _, p := range ans.Permissions {
		allowed[p.Object+" "+p.Action] = p.Allowed
	}
	if !allowed["topology read"] || allowed["capture write"] || allowed["alert write"] {
		t.Fatalf("guest permissions %v", allowed)
	}
	var tokenCookie, permCookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		switch c.Name {
		case TokenCookie:
			tokenCookie = c
		case PermissionsCookie:
			permCookie = c
		}
	}
	if tokenCookie == nil || tokenCookie.Value != ans.Token || !tokenCookie.HttpOnly || permCookie == nil {
		t.Fatalf("cookies %v", w.Result().Cookies())
	}
	// The session token authenticates, as a cookie or a header.
	for _, set := range []func(*http.Request){
		func(r *http.Request) { r.AddCookie(tokenCookie) },
		func(r *http.Request) { r.Header.Set("X-Auth-Token", ans.Token) },
		func(r *http.Request) { r.URL.RawQuery = "x-auth-token=" + ans.Token },
	} {
		r := httptest.NewRequest("GET", "/api/status", nil)
		set(r)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 || rec.Body.String() != "ok viewer" {
			t.Fatalf("with the token: %d %s", rec.Code, rec.Body)
		}
	}
	if w := login(`{"Username":"admin","Password":"pw1"}`, "application/json"); w.Code != 200 {
		t.Fatalf("JSON login: %d %s", w.Code, w.Body)
	}
}

func TestHtpasswdReread(t *testing.T) {
	f := htpasswdFile(t, map[string]string{"a": "1"})
	b, err := New("b", Options{Type: "basic", File: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Login(t.Context(), "c", "3"); err == nil {
		t.Fatal("unknown user logged in")
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("3"), bcrypt.MinCost)
	if err := os.WriteFile(f, []byte("c:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A later modification time, whatever the file system's resolution.
	later := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(f, later, later)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Login(t.Context(), "c", "3"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("user added to the file not taken")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Type: "ldap"}, "auth.x.type"},
		{Options{Type: "basic"}, "needs a file"},
		{Options{Type: "basic", File: "/nonexistent/htpasswd"}, "auth.x.file"},
		{Options{Type: "keystone"}, "auth_url"},
	} {
		if _, err := New("x", tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := NewRBAC(ModelSections{}, []string{"x, a, b"}); err == nil || !strings.Contains(err.Error(), "rbac.policy[0]") {
		t.Errorf("bad policy line: %v", err)
	}
}

// BenchmarkBasicRequest: a request with Basic credentials through the
// guard, as the CLI sends every one (htpasswd bcrypt entry; the first check
// pays bcrypt, the next ones are remembered a minute).
func BenchmarkBasicRequest(b *testing.B) {
	g, _ := guardFor(b)
	h := g.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	auth := basicHeader("admin", "pw1")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/status", nil)
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

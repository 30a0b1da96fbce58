package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, p string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	return rec
}

func TestSPA(t *testing.T) {
	h := NewHandler(fstest.MapFS{
		"index.html":            {Data: []byte("<html>app</html>")},
		"assets/index-abc1.js":  {Data: []byte("console.log(1)")},
		"assets/index-abc1.css": {Data: []byte("body{}")},
		"favicon.svg":           {Data: []byte("<svg/>")},
	})
	cases := []struct {
		path, ctype, cache, body string
		code                     int
	}{
		{"/", "text/html", "no-cache", "app", 200},
		{"/topology", "text/html", "no-cache", "app", 200},
		{"/some/client/route", "text/html", "no-cache", "app", 200},
		{"/assets/index-abc1.js", "javascript", "immutable", "console.log", 200},
		{"/assets/index-abc1.css", "text/css", "immutable", "body", 200},
		{"/favicon.svg", "image/svg+xml", "no-cache", "svg", 200},
		{"/assets/gone-123.js", "", "", "", 404},
		{"/missing.png", "", "", "", 404},
		{"/api/capture", "", "", "", 404},
		{"/ws/publisher", "", "", "", 404},
	}
	for _, c := range cases {
		rec := get(t, h, c.path)
		if rec.Code != c.code {
			t.Errorf("%s: code %d, want %d", c.path, rec.Code, c.code)
			continue
		}
		if c.code != 200 {
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, c.ctype) {
			t.Errorf("%s: content type %q, want %q", c.path, ct, c.ctype)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, c.cache) {
			t.Errorf("%s: cache control %q, want %q", c.path, cc, c.cache)
		}
		if !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s: body %q", c.path, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/capture", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /api/capture: %d", rec.Code)
	}
}

func TestNotBuilt(t *testing.T) {
	rec := get(t, NewHandler(fstest.MapFS{".gitkeep": {}}), "/anything")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "UI not built: run") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestEmbedded(t *testing.T) {
	rec := get(t, Handler(), "/")
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

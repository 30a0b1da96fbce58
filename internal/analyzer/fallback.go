package analyzer

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// fallbackPatterns are the method-less patterns of the API and websocket
// trees: what the mux routes to them has no handler of its own.
var fallbackPatterns = []string{"/api", "/api/", "/ws/"}

// methods are tried to tell a path served with other methods (405 and its
// Allow) from an unknown one (404).
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// registerFallbacks answers, under /api and /ws/, 405 with an Allow header
// for a path that mux serves with other methods, else 404 (the SPA's
// catch-all "/" would answer 404 even to a known path asked with a wrong
// method).
func registerFallbacks(mux *http.ServeMux) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pat := mux.Handler(probe); pat != "" && pat != "/" && !isFallback(pat) {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")), http.StatusMethodNotAllowed)
	})
	for _, p := range fallbackPatterns {
		mux.Handle(p, h)
	}
}

func isFallback(pat string) bool {
	for _, p := range fallbackPatterns {
		if pat == p {
			return true
		}
	}
	return false
}

// checkQuery answers 400 to a request whose query string does not parse
// (bad percent escapes, semicolons) rather than serving it as if it had no
// query.
func checkQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			http.Error(w, "bad query string: "+err.Error(), http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

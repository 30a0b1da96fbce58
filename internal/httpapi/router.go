package httpapi

import (
	"net/http"
	"slices"
	"sync"
)

// Mux is what handlers register on, and what serves them in process (the
// workflows' request()): an *http.ServeMux, or a Router.
type Mux interface {
	http.Handler
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request))
}

// Router is an http.ServeMux that remembers its patterns, so that a test
// can walk every route (authentication on each) and nothing is served that
// no one knows of.
type Router struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

// NewRouter returns an empty router.
func NewRouter() *Router { return &Router{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern.
func (r *Router) Handle(pattern string, h http.Handler) {
	r.remember(pattern)
	r.ServeMux.Handle(pattern, h)
}

// HandleFunc registers f for pattern.
func (r *Router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	r.remember(pattern)
	r.ServeMux.HandleFunc(pattern, f)
}

// Note records patterns that a handler registered under a wider pattern
// serves itself (a sub-router), so that Patterns lists them too.
func (r *Router) Note(patterns ...string) {
	for _, p := range patterns {
		r.remember(p)
	}
}

func (r *Router) remember(pattern string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.patterns = append(r.patterns, pattern)
}

// Patterns returns the registered patterns ("GET /api/status", "/ws/..."),
// sorted.
func (r *Router) Patterns() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.patterns)
	slices.Sort(out)
	return out
}

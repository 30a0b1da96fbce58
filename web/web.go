// Package web embeds the web UI built from this folder (npm run build →
// dist/) and serves it as a single-page application.
//
// The analyzer mounts it last, after the API and websocket routes:
//
//	mux.Handle("/", web.Handler())
//
// Only dist/.gitkeep is committed, so `go build` works before the UI is
// built; the handler then answers a short page saying how to build it.
package web

import (
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// notBuilt is served when dist/ holds no index.html.
const notBuilt = `<!doctype html>
<html><head><meta charset="utf-8"><title>Skydive</title></head>
<body style="font-family:sans-serif;margin:2em">
<h1>Skydive</h1>
<p>UI not built: run <code>make ui</code> (or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>) and rebuild the binary.</p>
<p>The REST API is at <a href="/api">/api</a>.</p>
</body></html>
`

// Handler serves the embedded UI.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return NewHandler(sub)
}

// NewHandler serves the SPA held in files: existing files as they are
// (hashed assets under assets/ cached for a year), any other GET path
// that looks like a client route answered with index.html.
func NewHandler(files fs.FS) http.Handler {
	index, _ := fs.ReadFile(files, "index.html")
	modTime := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// API and websocket paths the mux did not route are not the SPA's:
		// a 404 tells the UI this analyzer does not serve that resource.
		if p := r.URL.Path; p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ws/") {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if index == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, notBuilt)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if f, err := files.Open(name); err == nil {
				st, err := f.Stat()
				if err == nil && !st.IsDir() {
					defer f.Close()
					if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
						w.Header().Set("Content-Type", ct)
					}
					if strings.HasPrefix(name, "assets/") {
						w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
					} else {
						w.Header().Set("Cache-Control", "no-cache")
					}
					if rs, ok := f.(io.ReadSeeker); ok {
						http.ServeContent(w, r, name, modTime, rs)
						return
					}
					w.WriteHeader(http.StatusOK)
					_, _ = io.Copy(w, f)
					return
				}
				f.Close()
			}
			// A missing file with an extension (or under assets/) is a 404,
			// not the SPA: a stale hashed asset must not come back as HTML.
			if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(index)
		}
	})
}

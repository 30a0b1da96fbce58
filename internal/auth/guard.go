package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// Paths of the cluster's own websockets: agents and peer analyzers, which
// authenticate with the cluster backend (not subject to the RBAC), or as an
// API user the RBAC allows.
var clusterPaths = map[string]bool{"/ws/agent/topology": true, "/ws/replication": true}

// Cookie names, as the original's UI reads them.
const (
	TokenCookie       = "authtoken"
	PermissionsCookie = "permissions"
)

// Guard authenticates every request but the login and the UI's static
// files, and checks the RBAC. A nil API backend leaves the API open.
type Guard struct {
	API     Backend
	Cluster Backend // nil: the API backend
	RBAC    *RBAC
	// Secure marks the cookies Secure (served over TLS).
	Secure bool
	Logger *slog.Logger
}

type userKey struct{}

// User returns the authenticated user of a request's context ("" if none).
func User(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// Public tells whether a path answers anonymously: the login and the UI's
// static files.
func Public(path string) bool {
	switch {
	case path == "/login" || path == "/logout":
		return true
	case path == "/api" || strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/ws/"), path == "/metrics":
		return false
	}
	return true
}

// Access names the RBAC object and action of a request: the resource under
// /api (workflow calls are "workflow.call", a capture's pcap "capture
// rawpackets"), the websocket's path, GET and HEAD reading, the rest
// writing.
func Access(method, path string) (obj, act string) {
	act = "write"
	if method == http.MethodGet || method == http.MethodHead {
		act = "read"
	}
	if strings.HasPrefix(path, "/ws/") {
		return "websocket", strings.TrimRight(path, "/")
	}
	if path == "/metrics" {
		return "metrics", "read"
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 || parts[0] != "api" {
		return "status", act // /api itself
	}
	obj = parts[1]
	switch {
	case obj == "workflow" && len(parts) == 4 && parts[3] == "call":
		return "workflow.call", "write"
	case obj == "capture" && len(parts) == 4 && parts[3] == "pcap":
		return "capture", "rawpackets"
	case obj == "topology":
		return "topology", "read" // a query reads, whatever its method
	case obj == "openapi.json":
		return "status", "read"
	}
	return obj, act
}

// Wrap returns h behind the guard.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	if g.API == nil && g.Cluster == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/login" && r.Method == http.MethodPost:
			g.login(w, r)
			return
		case path == "/logout":
			g.logout(w, r)
			return
		case Public(path):
			h.ServeHTTP(w, r)
			return
		}
		serve := func(user string) {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
		}
		// Agents and peers present the cluster credentials, trusted without
		// the RBAC; a user of the API may connect them too if the RBAC
		// lets it (admin).
		if clusterPaths[path] && g.Cluster != nil {
			user, err := g.authenticate(r, g.Cluster)
			if err == nil {
				serve(user)
				return
			}
			if g.API == nil {
				g.unauthorized(w, r, err)
				return
			}
		}
		if g.API == nil {
			h.ServeHTTP(w, r)
			return
		}
		user, err := g.authenticate(r, g.API)
		if err != nil {
			g.unauthorized(w, r, err)
			return
		}
		g.RBAC.ensureRole(user, g.API.Role())
		if obj, act := Access(r.Method, path); !g.RBAC.Allowed(user, obj, act) {
			// The original answered 405; refusing a known user is 403.
			http.Error(w, fmt.Sprintf("'%s' has no '%s' permission on '%s'", user, act, obj), http.StatusForbidden)
			return
		}
		serve(user)
	})
}

// authenticate reads the credentials the original's clients send: the
// authtoken cookie, Authorization (Basic, or a bare token), X-Auth-Token,
// or x-auth-token in the query (websockets from browsers).
func (g *Guard) authenticate(r *http.Request, b Backend) (string, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		if raw, ok := strings.CutPrefix(h, "Basic "); ok {
			user, password, ok := basicToken(raw)
			if !ok {
				return "", errors.New("malformed Basic credentials")
			}
			if _, err := b.Login(ctx, user, password); err != nil {
				return "", err
			}
			return user, nil
		}
		return b.Token(ctx, strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")))
	}
	for _, tok := range []string{cookie(r, TokenCookie), r.Header.Get("X-Auth-Token"), r.URL.Query().Get("x-auth-token")} {
		if tok != "" {
			return b.Token(ctx, tok)
		}
	}
	return "", errors.New("authentication required")
}

func cookie(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

func (g *Guard) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, ErrWrongCredentials) && err.Error() != "authentication required" {
		g.logger().Warn("authentication failed", "path", r.URL.Path, "err", err)
	}
	// Browsers pop their own dialog on a Basic challenge; the UI has a
	// login form of its own and says so (its websockets cannot send the
	// header: no challenge on a browser's websocket upgrade).
	browserWS := strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && r.Header.Get("Origin") != ""
	if r.Header.Get("X-Skydive-UI") == "" && !browserWS {
		w.Header().Set("WWW-Authenticate", `Basic realm="Skydive Authentication"`)
	}
	http.Error(w, "Unauthorized: "+err.Error(), http.StatusUnauthorized)
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.Default()
	}
	return g.Logger
}

// LoginAnswer is the body of a successful POST /login.
type LoginAnswer struct {
	Token       string       `json:"Token"`
	Permissions []Permission `json:"Permissions"`
}

// login takes a form (username, password) as the original's UI and client
// send it, or the same as JSON.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	if g.API == nil {
		http.Error(w, "no authentication backend: every request is allowed", http.StatusNotFound)
		return
	}
	var user, password string
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var creds struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
			http.Error(w, "invalid body: "+err.Error(), http.StatusBadRequest)
			return
		}
		user, password = creds.Username, creds.Password
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "invalid form: "+err.Error(), http.StatusBadRequest)
			return
		}
		user, password = r.PostForm.Get("username"), r.PostForm.Get("password")
	}
	tok, err := g.API.Login(r.Context(), user, password)
	if err != nil {
		g.unauthorized(w, r, err)
		return
	}
	g.RBAC.ensureRole(user, g.API.Role())
	perms := g.RBAC.Permissions(user)
	raw, _ := json.Marshal(perms)
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: tok, Path: "/", HttpOnly: true, Secure: g.Secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: PermissionsCookie, Value: base64.StdEncoding.EncodeToString(raw), Path: "/", Secure: g.Secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(LoginAnswer{Token: tok, Permissions: perms})
}

func (g *Guard) logout(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{TokenCookie, PermissionsCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1})
	}
	http.Redirect(w, r, "/", http.StatusFound)
}

// Package auth authenticates the users of the REST API, the UI and the
// websockets with the original's backends (noauth, basic with an htpasswd
// file or inline users, keystone), and checks what each may do with the
// original's casbin RBAC model (rbac.go). Guard (guard.go) wraps the whole
// router once, so that no handler can forget it.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrWrongCredentials is a refused user, password or token.
var ErrWrongCredentials = errors.New("wrong credentials")

// DefaultRole is the role of a user that the policy gives none, unless its
// backend says otherwise (the original's default).
const DefaultRole = "admin"

// Backend checks credentials.
type Backend interface {
	// Name is the backend's section name (auth.<name>).
	Name() string
	// Login checks a user's password and returns a token that the user
	// may present instead later (cookie authtoken, X-Auth-Token).
	Login(ctx context.Context, user, password string) (token string, err error)
	// Token returns the user a token stands for.
	Token(ctx context.Context, token string) (user string, err error)
	// Role is the role of a user the policy gives none.
	Role() string
}

// Options are the keys of an auth.<name> section.
type Options struct {
	Type string
	// basic: an htpasswd file and/or inline users (plain or htpasswd
	// hashed passwords).
	File  string
	Users map[string]string
	// keystone
	AuthURL    string
	TenantName string
	DomainName string
	// Role is the role of users the policy gives none (default admin).
	Role string
}

// New makes the backend of section name.
func New(name string, o Options) (Backend, error) {
	role := o.Role
	if role == "" {
		role = DefaultRole
	}
	switch o.Type {
	case "noauth":
		return noAuth{name: name}, nil
	case "basic":
		return newBasic(name, o.File, o.Users, role)
	case "keystone":
		return newKeystone(name, o, role)
	}
	return nil, fmt.Errorf("auth.%s.type: %q is not one of noauth, basic, keystone", name, o.Type)
}

// noAuth takes everyone as an admin, as the original's noauth.
type noAuth struct{ name string }

func (n noAuth) Name() string { return n.name }
func (n noAuth) Role() string { return DefaultRole }

func (noAuth) Login(_ context.Context, user, _ string) (string, error) { return "", nil }
func (noAuth) Token(context.Context, string) (string, error)           { return "admin", nil }

// sessions are the tokens /login issued, so that the UI's cookie is not the
// user's password. They live on this analyzer only; a client of another
// analyzer sends its credentials again (the CLI does on every request).
type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]session
}

type session struct {
	user    string
	expires time.Time
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]session{}}
}

func (s *sessions) issue(user string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[tok] = session{user: user, expires: now.Add(s.ttl)}
	return tok
}

func (s *sessions) user(tok string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[tok]
	if !ok || time.Now().After(v.expires) {
		return "", false
	}
	return v.user, true
}

// basicToken splits the original's basic token, base64 of "user:password",
// still accepted from its clients.
func basicToken(tok string) (user, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// either tries its backends in order: the first that takes the credentials
// answers.
type either []Backend

// Either is a backend that takes what one of bs takes (nil ones skipped).
func Either(bs ...Backend) Backend {
	var out either
	for _, b := range bs {
		if b != nil {
			out = append(out, b)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

func (e either) Name() string { return e[0].Name() }
func (e either) Role() string { return e[0].Role() }

func (e either) Login(ctx context.Context, user, password string) (string, error) {
	var err error
	for _, b := range e {
		var tok string
		if tok, err = b.Login(ctx, user, password); err == nil {
			return tok, nil
		}
	}
	return "", err
}

func (e either) Token(ctx context.Context, tok string) (string, error) {
	var err error
	for _, b := range e {
		var user string
		if user, err = b.Token(ctx, tok); err == nil {
			return user, nil
		}
	}
	return "", err
}

// Internal is a backend of users known to this process only: the agent of
// an allinone reaching its own analyzer.
func Internal(users map[string]string) Backend {
	b, _ := newBasic("internal", "", users, DefaultRole)
	return b
}

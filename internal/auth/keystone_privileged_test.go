//go:build privileged

package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/skydive-ng/skydive/internal/testutil/keystonetest"
)

// TestKeystoneBackend logs in against a real Keystone (Debian's), takes
// its token back, refuses a wrong password and a token of another project.
func TestKeystoneBackend(t *testing.T) {
	ks := keystonetest.Start(t, "")
	b, err := New("ks", Options{Type: "keystone", AuthURL: ks.AuthURL(), TenantName: keystonetest.ProjectName, DomainName: keystonetest.DomainName})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Login(ctx, keystonetest.Username, "wrong"); err != ErrWrongCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	tok, err := b.Login(ctx, keystonetest.Username, keystonetest.Password)
	if err != nil || tok == "" {
		t.Fatalf("login: %q %v", tok, err)
	}
	// A fresh backend has no cache: the token is checked by Keystone.
	fresh, _ := New("ks", Options{Type: "keystone", AuthURL: ks.AuthURL(), TenantName: keystonetest.ProjectName})
	if user, err := fresh.Token(ctx, tok); err != nil || user != keystonetest.Username {
		t.Fatalf("token: %q %v", user, err)
	}
	if _, err := fresh.Token(ctx, "not-a-token"); err == nil {
		t.Fatal("a made-up token was taken")
	}
	// The admin's token is of the project admin, not service.
	other, _ := New("ks", Options{Type: "keystone", AuthURL: ks.AuthURL(), TenantName: keystonetest.AdminProject})
	adminTok, err := other.Login(ctx, keystonetest.AdminUsername, keystonetest.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Token(ctx, adminTok); err == nil {
		t.Fatal("a token of another project was taken")
	}

	// Through the guard: the Basic credentials of the CLI, and a token.
	rbac, _ := NewRBAC(ModelSections{}, nil)
	h := (&Guard{API: b, RBAC: rbac}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(User(r.Context()))) }))
	for name, set := range map[string]func(*http.Request){
		"basic": func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(keystonetest.Username+":"+keystonetest.Password)))
		},
		"token": func(r *http.Request) { r.Header.Set("X-Auth-Token", tok) },
	} {
		r := httptest.NewRequest("GET", "/api/status", nil)
		set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != keystonetest.Username {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}

package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// keystone logs users in with Keystone v3 (password, scoped to the project
// tenant_name of domain domain_name) and takes Keystone tokens, checked
// against Keystone (a token may validate itself) and kept for a minute.
type keystone struct {
	name, role         string
	authURL            string
	tenant, domainName string

	mu    sync.Mutex
	cache map[string]cachedToken // by token, and by hash of user and password
}

type cachedToken struct {
	user    string
	expires time.Time
}

// tokenCacheTTL bounds how long a revoked token is still taken.
const tokenCacheTTL = time.Minute

func newKeystone(name string, o Options, role string) (*keystone, error) {
	if o.AuthURL == "" {
		return nil, fmt.Errorf("auth.%s.auth_url: required by a keystone backend", name)
	}
	k := &keystone{name: name, role: role, authURL: strings.TrimRight(o.AuthURL, "/"), tenant: o.TenantName,
		domainName: o.DomainName, cache: map[string]cachedToken{}}
	if k.tenant == "" {
		k.tenant = "admin"
	}
	if k.domainName == "" {
		k.domainName = "Default"
	}
	return k, nil
}

func (k *keystone) Name() string { return k.name }
func (k *keystone) Role() string { return k.role }

func (k *keystone) endpoint() string {
	if strings.HasSuffix(k.authURL, "/v3") {
		return k.authURL + "/"
	}
	return k.authURL + "/v3/"
}

func (k *keystone) Login(ctx context.Context, user, password string) (string, error) {
	// A client sending Basic credentials on every request must not cost a
	// Keystone authentication each time.
	sum := sha256.Sum256([]byte(user + "\x00" + password))
	pwKey := "pw:" + hex.EncodeToString(sum[:])
	k.mu.Lock()
	c, ok := k.cache[pwKey]
	k.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.user, nil
	}
	pc, err := openstack.NewClient(k.authURL)
	if err != nil {
		return "", fmt.Errorf("keystone %s: %w", k.authURL, err)
	}
	err = openstack.Authenticate(ctx, pc, gophercloud.AuthOptions{IdentityEndpoint: k.authURL, Username: user, Password: password,
		DomainName: k.domainName, TenantName: k.tenant})
	if err != nil {
		if gophercloud.ResponseCodeIs(err, 401) {
			return "", ErrWrongCredentials
		}
		return "", fmt.Errorf("keystone %s: %w", k.authURL, err)
	}
	tok := pc.Token()
	k.remember(tok, user, time.Now().Add(tokenCacheTTL))
	k.remember(pwKey, tok, time.Now().Add(tokenCacheTTL))
	return tok, nil
}

func (k *keystone) remember(tok, user string, until time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	for t, c := range k.cache {
		if now.After(c.expires) {
			delete(k.cache, t)
		}
	}
	k.cache[tok] = cachedToken{user: user, expires: until}
}

func (k *keystone) Token(ctx context.Context, tok string) (string, error) {
	k.mu.Lock()
	c, ok := k.cache[tok]
	k.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.user, nil
	}
	pc := &gophercloud.ProviderClient{}
	pc.SetToken(tok)
	sc := &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: k.endpoint()}
	res := tokens.Get(ctx, sc, tok)
	if res.Err != nil {
		if gophercloud.ResponseCodeIs(res.Err, 401) || gophercloud.ResponseCodeIs(res.Err, 404) {
			return "", ErrWrongCredentials
		}
		return "", fmt.Errorf("keystone %s: %w", k.authURL, res.Err)
	}
	user, err := res.ExtractUser()
	if err != nil {
		return "", fmt.Errorf("keystone token: %w", err)
	}
	// As the original: the token must be of the configured project.
	if p, err := res.ExtractProject(); err != nil || p == nil || p.Name != k.tenant {
		return "", errors.Join(ErrWrongCredentials, fmt.Errorf("the token is not scoped to the project %s", k.tenant))
	}
	until := time.Now().Add(tokenCacheTTL)
	if t, err := res.ExtractToken(); err == nil && t.ExpiresAt.Before(until) {
		until = t.ExpiresAt
	}
	k.remember(tok, user.Name, until)
	return user.Name, nil
}

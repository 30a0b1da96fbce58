package auth

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/skydive-ng/skydive/internal/config"
)

// FromConfig builds a service's guard from the auth sections, the rbac
// section and the service's auth keys (analyzer.auth or agent.auth); secure
// marks the cookies for TLS. Without an api backend the guard lets all pass.
func FromConfig(backends map[string]config.AuthBackend, rbac config.RBAC, use config.ServiceAuth, secure bool, log *slog.Logger) (*Guard, error) {
	backend := func(key, name string) (Backend, error) {
		if name == "" {
			return nil, nil
		}
		sec, ok := backends[name]
		if !ok {
			return nil, fmt.Errorf("%s: no section auth.%s", key, name)
		}
		return New(name, Options{Type: sec.Type, File: sec.File, Users: sec.Users, AuthURL: sec.AuthURL,
			TenantName: sec.TenantName, DomainName: sec.DomainName, Role: sec.Role})
	}
	api, err := backend("auth.api.backend", use.API.Backend)
	if err != nil {
		return nil, err
	}
	cluster, err := backend("auth.cluster.backend", use.Cluster.Backend)
	if err != nil {
		return nil, err
	}
	m := rbac.Model
	r, err := NewRBAC(ModelSections{RequestDefinition: m.RequestDefinition, PolicyDefinition: m.PolicyDefinition,
		RoleDefinition: m.RoleDefinition, PolicyEffect: m.PolicyEffect, Matchers: m.Matchers}, rbac.Policy)
	if err != nil {
		return nil, err
	}
	return &Guard{API: api, Cluster: cluster, RBAC: r, Secure: secure, Logger: log}, nil
}

// Warnings are what an operator should know of a service's exposure: an
// API open to anyone on a non-loopback address.
func (g *Guard) Warnings(listen string) []string {
	if g.API != nil {
		if _, ok := g.API.(noAuth); !ok {
			return nil
		}
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		return nil
	}
	return []string{fmt.Sprintf("listening on %s without authentication: anyone who reaches it can read and change everything (set analyzer.auth.api.backend)", listen)}
}

// Backend names the API backend ("" if none).
func (g *Guard) Backend() string {
	if g.API == nil {
		return ""
	}
	return g.API.Name()
}

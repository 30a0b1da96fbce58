package config

import (
	"errors"
	"fmt"
	"os"
)

// AuthBackend is an auth.<name> section, as the original's.
type AuthBackend struct {
	// Type is noauth, basic or keystone.
	Type string `yaml:"type"`
	// basic: an htpasswd file and/or inline users.
	File  string            `yaml:"file"`
	Users map[string]string `yaml:"users"`
	// keystone
	AuthURL    string `yaml:"auth_url"`
	TenantName string `yaml:"tenant_name"`
	DomainName string `yaml:"domain_name"`
	// Role is the role of a user the RBAC policy gives none (admin).
	Role string `yaml:"role"`
}

// AuthUse selects a backend for an endpoint, with the credentials this
// process presents to others (cluster).
type AuthUse struct {
	Backend  string `yaml:"backend"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// ServiceAuth is analyzer.auth and agent.auth: api for the REST API, the UI
// and the websockets of clients; cluster for agents and peer analyzers.
type ServiceAuth struct {
	API     AuthUse `yaml:"api"`
	Cluster AuthUse `yaml:"cluster"`
}

// RBAC is the rbac section: model sections and extra policy lines.
type RBAC struct {
	Model struct {
		RequestDefinition []string `yaml:"request_definition"`
		PolicyDefinition  []string `yaml:"policy_definition"`
		RoleDefinition    []string `yaml:"role_definition"`
		PolicyEffect      []string `yaml:"policy_effect"`
		Matchers          []string `yaml:"matchers"`
	} `yaml:"model"`
	// Policy lines: "p, role, object, action, allow|deny" or "g, user, role".
	Policy []string `yaml:"policy"`
}

// TLS is the tls section: with server_cert and server_key, every server
// speaks https/wss; client_cert and client_key are presented to the others;
// ca_cert checks them all.
type TLS struct {
	CACert            string `yaml:"ca_cert"`
	ServerCert        string `yaml:"server_cert"`
	ServerKey         string `yaml:"server_key"`
	ClientCert        string `yaml:"client_cert"`
	ClientKey         string `yaml:"client_key"`
	RequireClientCert bool   `yaml:"require_client_cert"`
}

// Enabled tells whether the servers speak TLS.
func (t TLS) Enabled() bool { return t.ServerCert != "" || t.ServerKey != "" }

func (c *Config) validateSecurity() error {
	for name, b := range c.Auth {
		switch b.Type {
		case "noauth", "basic", "keystone":
		default:
			return fmt.Errorf("auth.%s.type: %q is not one of noauth, basic, keystone", name, b.Type)
		}
	}
	for key, use := range map[string]string{
		"analyzer.auth.api.backend": c.Analyzer.Auth.API.Backend, "analyzer.auth.cluster.backend": c.Analyzer.Auth.Cluster.Backend,
		"agent.auth.api.backend": c.Agent.Auth.API.Backend,
	} {
		if _, ok := c.Auth[use]; use != "" && !ok {
			return fmt.Errorf("%s: no section auth.%s", key, use)
		}
	}
	t := c.TLS
	if (t.ServerCert == "") != (t.ServerKey == "") {
		return errors.New("tls.server_cert and tls.server_key: give both or neither")
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return errors.New("tls.client_cert and tls.client_key: give both or neither")
	}
	for key, f := range map[string]string{"tls.ca_cert": t.CACert, "tls.server_cert": t.ServerCert, "tls.server_key": t.ServerKey,
		"tls.client_cert": t.ClientCert, "tls.client_key": t.ClientKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if t.RequireClientCert && t.CACert == "" {
		return errors.New("tls.require_client_cert: needs tls.ca_cert to check the clients' certificates")
	}
	return nil
}

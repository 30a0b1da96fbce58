package neutron

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the agent.topology.neutron block of the original.
type Config struct {
	AuthURL      string // auth_url: keystone, e.g. http://keystone:5000/v3
	Username     string // username, default neutron
	Password     string // password
	TenantName   string // tenant_name: the project, default service
	RegionName   string // region_name, default RegionOne
	DomainName   string // domain_name, default Default
	EndpointType string // endpoint_type: public (default), internal or admin
	SSLInsecure  bool   // ssl_insecure: skip TLS verification
	// EndpointURL (lab, noauth neutron): talk to http://host:9696 directly,
	// without keystone; the keystone keys are then ignored.
	EndpointURL string
	// PollInterval is the period of the port list, default 5 s.
	PollInterval time.Duration
}

// Defaults of the original's keys.
const (
	DefaultUsername     = "neutron"
	DefaultTenantName   = "service"
	DefaultRegionName   = "RegionOne"
	DefaultDomainName   = "Default"
	DefaultEndpointType = "public"
	DefaultPollInterval = 5 * time.Second
)

const keyPrefix = "agent.topology.neutron."

// withDefaults fills the keys left empty with the original's defaults.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if strings.TrimSpace(*s) == "" {
			*s = v
		}
	}
	def(&c.Username, DefaultUsername)
	def(&c.TenantName, DefaultTenantName)
	def(&c.RegionName, DefaultRegionName)
	def(&c.DomainName, DefaultDomainName)
	def(&c.EndpointType, DefaultEndpointType)
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c
}

// Validate checks the configuration, defaults applied; errors name the key.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.PollInterval < 0 {
		return fmt.Errorf("%spoll_interval: %s is negative", keyPrefix, c.PollInterval)
	}
	if c.EndpointURL != "" {
		if err := checkURL(c.EndpointURL); err != nil {
			return fmt.Errorf("%sendpoint_url: %w", keyPrefix, err)
		}
		return nil
	}
	if c.AuthURL == "" {
		return fmt.Errorf("%sauth_url: required (the keystone URL, e.g. http://keystone:5000/v3), or set %sendpoint_url for a neutron without keystone", keyPrefix, keyPrefix)
	}
	if err := checkURL(c.AuthURL); err != nil {
		return fmt.Errorf("%sauth_url: %w", keyPrefix, err)
	}
	if c.Password == "" {
		return fmt.Errorf("%spassword: required with auth_url", keyPrefix)
	}
	switch c.EndpointType {
	case "public", "internal", "admin":
	default:
		return fmt.Errorf("%sendpoint_type: %q is not public, internal or admin", keyPrefix, c.EndpointType)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: not an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}

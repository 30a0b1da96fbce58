package neutron

import (
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Keystone itself cannot run here: its authentication is only checked this
// far (configuration), the noauth path against a real neutron-server.
func TestConfigValidate(t *testing.T) {
	keystone := Config{AuthURL: "http://keystone:5000/v3", Password: "secret"}
	tests := []struct {
		name string
		cfg  Config
		err  string // "" for valid; else a part of the error
	}{
		{"keystone, defaults", keystone, ""},
		{"keystone, all keys", Config{AuthURL: "https://k:5000/v3", Username: "u", Password: "p", TenantName: "t",
			RegionName: "r", DomainName: "d", EndpointType: "internal", SSLInsecure: true}, ""},
		{"noauth endpoint", Config{EndpointURL: "http://127.0.0.1:9696"}, ""},
		{"noauth endpoint with version", Config{EndpointURL: "http://127.0.0.1:9696/v2.0/"}, ""},
		{"nothing", Config{}, "agent.topology.neutron.auth_url: required"},
		{"no password", Config{AuthURL: "http://k:5000/v3"}, "agent.topology.neutron.password: required"},
		{"auth_url not a URL", Config{AuthURL: "keystone:5000", Password: "p"}, "agent.topology.neutron.auth_url"},
		{"auth_url without host", Config{AuthURL: "http://", Password: "p"}, "agent.topology.neutron.auth_url"},
		{"endpoint_url ftp", Config{EndpointURL: "ftp://x"}, "agent.topology.neutron.endpoint_url"},
		{"endpoint_type", Config{AuthURL: "http://k/v3", Password: "p", EndpointType: "publicURL"}, "agent.topology.neutron.endpoint_type"},
		{"negative poll", Config{EndpointURL: "http://x:9696", PollInterval: -time.Second}, "agent.topology.neutron.poll_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
	d := keystone.withDefaults()
	if d.Username != "neutron" || d.TenantName != "service" || d.RegionName != "RegionOne" || d.DomainName != "Default" ||
		d.EndpointType != "public" || d.PollInterval != 5*time.Second {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestNewChecks(t *testing.T) {
	w := &topology.Writer{G: graph.New()}
	if _, err := New(Options{Writer: w, Overlays: topology.NewOverlays()}); err == nil || !strings.Contains(err.Error(), "auth_url") {
		t.Fatalf("New with no config: %v", err)
	}
	if _, err := New(Options{Writer: w, Config: Config{EndpointURL: "http://x:1"}}); err == nil {
		t.Fatal("New without overlays")
	}
	p, err := New(Options{Writer: w, Overlays: topology.NewOverlays(), Config: Config{EndpointURL: "http://x:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.State() != "starting" {
		t.Fatalf("state %q", p.State())
	}
}

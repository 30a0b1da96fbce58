package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Analyzer.Listen != "127.0.0.1:8082" || c.Agent.Listen != "127.0.0.1:8081" || c.HostID == "" {
		t.Fatalf("defaults %+v", c)
	}
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        []string
		wantErr    string
		check      func(*Config) bool
	}{
		{name: "file", yaml: "host_id: h1\nanalyzers: [10.0.0.1:8082]\nagent:\n  topology:\n    probes: [ovsdb, docker]\n",
			check: func(c *Config) bool {
				return c.HostID == "h1" && c.AnalyzerAddrs()[0] == "10.0.0.1:8082" && c.HasProbe("ovsdb") && c.UnavailableProbes()[0] == "docker"
			}},
		{name: "alias", yaml: "analyzer_servers: [a:1]\n", check: func(c *Config) bool { return c.AnalyzerAddrs()[0] == "a:1" }},
		{name: "env overrides file", yaml: "analyzer:\n  listen: 1.2.3.4:1\n",
			env: []string{"SKYDIVE_ANALYZER_LISTEN=0.0.0.0:9999", "SKYDIVE_ANALYZERS=a:1,b:2", "SKYDIVE_AGENT_TOPOLOGY_NETLINK_METRICS_UPDATE=5"},
			check: func(c *Config) bool {
				return c.Analyzer.Listen == "0.0.0.0:9999" && len(c.Analyzers) == 2 && c.Agent.Topology.Netlink.MetricsUpdate == 5
			}},
		{name: "unknown key", yaml: "analyzer:\n  lisen: x\n", wantErr: "lisen"},
		{name: "unknown section", yaml: "foo: 1\n", wantErr: "foo"},
		{name: "bad type", yaml: "agent:\n  topology:\n    netlink:\n      metrics_update: soon\n", wantErr: "soon"},
		{name: "bad listen", yaml: "analyzer:\n  listen: nowhere\n", wantErr: "analyzer.listen"},
		{name: "bad env", env: []string{"SKYDIVE_AGENT_TOPOLOGY_NETLINK_METRICS_UPDATE=x"}, wantErr: "agent.topology.netlink.metrics_update"},
		{name: "unknown probe", yaml: "agent:\n  topology:\n    probes: [nope]\n", wantErr: "agent.topology.probes[0]"},
		{name: "bad level", yaml: "logging:\n  level: loud\n", wantErr: "logging.level"},
		{name: "openstack", yaml: "agent:\n  topology:\n    probes: [neutron, libvirt, runc, lldp]\n    neutron:\n      endpoint_url: http://10.0.0.1:9696\n      poll_interval: 2\n    runc:\n      run_path: [/x]\nanalyzer:\n  topology:\n    probes: [ovn, k8s]\n    ovn:\n      address: tcp:10.0.0.1:6641\n    fabric:\n      - TOR1 -> TOR1_PORT1\n",
			check: func(c *Config) bool {
				n := c.Agent.Topology.Neutron
				return len(c.UnavailableProbes()) == 1 && c.UnavailableProbes()[0] == "k8s" && c.HasAnalyzerProbe("ovn") &&
					n.EndpointURL == "http://10.0.0.1:9696" && n.PollInterval == 2 && n.Username == "neutron" && n.TenantName == "service" &&
					c.Agent.Topology.Runc.RunPath[0] == "/x" && c.Agent.Topology.Libvirt.URL == "qemu:///system" && len(c.Analyzer.Topology.Fabric) == 1
			}},
		{name: "ovn without address", yaml: "analyzer:\n  topology:\n    probes: [ovn]\n", wantErr: "analyzer.topology.ovn.address"},
		{name: "unknown analyzer probe", yaml: "analyzer:\n  topology:\n    probes: [nope]\n", wantErr: "analyzer.topology.probes[0]"},
		{name: "alert js timeout", yaml: "analyzer:\n  alert:\n    js_timeout: 3\n", env: []string{"SKYDIVE_ANALYZER_LISTEN=0.0.0.0:9999"},
			check: func(c *Config) bool {
				return c.Analyzer.Alert.JSTimeout == 3 && Default().Analyzer.Alert.JSTimeout == 1
			}},
		{name: "bad alert js timeout", yaml: "analyzer:\n  alert:\n    js_timeout: 0\n", wantErr: "analyzer.alert.js_timeout"},
		{name: "bad poll interval", yaml: "agent:\n  topology:\n    neutron:\n      poll_interval: 0\n", wantErr: "agent.topology.neutron.poll_interval"},
		{name: "mpls udp port", yaml: "opencontrail:\n  mpls_udp_port: 6000\n",
			check: func(c *Config) bool {
				return c.OpenContrail.MPLSUDPPort == 6000 && Default().OpenContrail.MPLSUDPPort == 51234
			}},
		{name: "mpls udp port from env", env: []string{"SKYDIVE_OPENCONTRAIL_MPLS_UDP_PORT=7000"},
			check: func(c *Config) bool { return c.OpenContrail.MPLSUDPPort == 7000 }},
		{name: "bad mpls udp port", yaml: "opencontrail:\n  mpls_udp_port: 70000\n", wantErr: "opencontrail.mpls_udp_port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			if tc.yaml != "" {
				files = []string{write(t, tc.yaml)}
			}
			c, err := Load(files, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestEveryKeyHasAnEnvName(t *testing.T) {
	keys := Keys()
	if len(keys) < 10 {
		t.Fatalf("keys %v", keys)
	}
	if EnvName("analyzer.listen") != "SKYDIVE_ANALYZER_LISTEN" {
		t.Fatal(EnvName("analyzer.listen"))
	}
}

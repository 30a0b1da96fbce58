// Package config loads Skydive's YAML configuration: defaults, a strict file
// load (an unknown key or a bad value is an error naming the key) and
// SKYDIVE_* environment overrides, with the original's key names.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/skydive-ng/skydive/internal/store"
)

// Config is the whole configuration. yaml tags are the original's key names.
type Config struct {
	HostID string `yaml:"host_id"`
	// Analyzers lists the analyzers an agent reports to ("host:port").
	Analyzers []string `yaml:"analyzers"`
	// AnalyzerServers is an alias of Analyzers.
	AnalyzerServers []string `yaml:"analyzer_servers"`
	Analyzer        Analyzer `yaml:"analyzer"`
	Agent           Agent    `yaml:"agent"`
	Logging         Logging  `yaml:"logging"`
	HTTP            HTTP     `yaml:"http"`
	OVS             OVS      `yaml:"ovs"`
	Flow            Flow     `yaml:"flow"`
	// OpenContrail holds the original's opencontrail keys this build uses.
	OpenContrail OpenContrail `yaml:"opencontrail"`
	// Storage is where topology history and flows are kept (embedded by
	// default, ClickHouse to scale out, memory for none).
	Storage store.Config `yaml:"storage"`
	// Auth are the authentication backends by name (security.go).
	Auth map[string]AuthBackend `yaml:"auth"`
	RBAC RBAC                   `yaml:"rbac"`
	TLS  TLS                    `yaml:"tls"`
	Etcd Etcd                   `yaml:"etcd"`
}

// Flow configures the agents' flow tables.
type Flow struct {
	// Expire ends a flow without packets for that many seconds.
	Expire int `yaml:"expire"`
	// Update is the period, in seconds, of flow updates to the analyzer.
	// The original sent them every 60 s; here they are live (1 s) since the
	// analyzer answers flow queries from them.
	Update int `yaml:"update"`
}

// OpenContrail configures what the agents know of the Contrail vRouter.
type OpenContrail struct {
	// MPLSUDPPort is the UDP port of the vRouter's MPLS over UDP, which the
	// flow tables decode besides RFC 7510's 6635.
	MPLSUDPPort int `yaml:"mpls_udp_port"`
}

// OVS configures the Open vSwitch probe.
type OVS struct {
	// OVSDB is the database address: unix:///path or tcp:host:port.
	OVSDB string `yaml:"ovsdb"`
	// EnableStats puts interface statistics in Ovs.Metric.
	EnableStats bool `yaml:"enable_stats"`
}

// Analyzer is the analyzer section.
type Analyzer struct {
	Listen   string           `yaml:"listen"`
	Topology AnalyzerTopology `yaml:"topology"`
	// DataDir keeps what must survive a restart (capture definitions).
	DataDir string        `yaml:"data_dir"`
	Alert   AnalyzerAlert `yaml:"alert"`
	Auth    ServiceAuth   `yaml:"auth"`
	Flow    AnalyzerFlow  `yaml:"flow"`
}

// AnalyzerAlert configures the alerts' evaluation.
type AnalyzerAlert struct {
	// JSTimeout is how long, in seconds, one evaluation of a JavaScript
	// alert may run before it is interrupted.
	JSTimeout int `yaml:"js_timeout"`
}

// AnalyzerTopology configures the analyzer's graph.
type AnalyzerTopology struct {
	// HistoryRetention is how long, in seconds, past revisions stay queryable
	// with G.At(...) (kept in memory).
	HistoryRetention int `yaml:"history_retention"`
	// Probes are the analyzer's extra probes (ovn); fabric and peering
	// always run.
	Probes []string `yaml:"probes"`
	// Fabric lists static objects and links in the original's syntax:
	// "TOR1[Name=tor1] -> TOR1_PORT1[Name=port1]", "TOR1_PORT1 -> *[Type=host]/eth0".
	Fabric []string  `yaml:"fabric"`
	OVN    OVNConfig `yaml:"ovn"`
	// Backend is the original's topology backend key; only memory exists
	// here (history lives in storage), accepted for compatibility.
	Backend string `yaml:"backend"`
}

// OVNConfig configures the analyzer's OVN probe.
type OVNConfig struct {
	// Address of the OVN northbound database: unix:/path, tcp:host:port.
	Address string `yaml:"address"`
	Cert    string `yaml:"cert"`
	Key     string `yaml:"key"`
	CACert  string `yaml:"cacert"`
}

// Agent is the agent section.
type Agent struct {
	Listen   string        `yaml:"listen"`
	Topology AgentTopology `yaml:"topology"`
	Capture  AgentCapture  `yaml:"capture"`
	// Metadata is added to the host node.
	Metadata map[string]any `yaml:"metadata"`
	Auth     ServiceAuth    `yaml:"auth"`
	Flow     AgentFlow      `yaml:"flow"`
}

// AgentCapture configures the agent's captures.
type AgentCapture struct {
	// StatsUpdate is the period, in seconds, at which the Captures metadata
	// of a node under capture gets its packet counters (the original's key).
	StatsUpdate int `yaml:"stats_update"`
}

// AgentTopology configures the agent's probes.
type AgentTopology struct {
	Probes  []string      `yaml:"probes"`
	Netlink NetlinkConfig `yaml:"netlink"`
	Netns   NetnsConfig   `yaml:"netns"`
	Neutron NeutronConfig `yaml:"neutron"`
	Libvirt LibvirtConfig `yaml:"libvirt"`
	Runc    RuncConfig    `yaml:"runc"`
	LLDP    LLDPConfig    `yaml:"lldp"`
}

// NeutronConfig holds the original's agent.topology.neutron keys (Keystone
// v3 password authentication), plus endpoint_url for a noauth neutron-server.
type NeutronConfig struct {
	AuthURL      string `yaml:"auth_url"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	TenantName   string `yaml:"tenant_name"`
	RegionName   string `yaml:"region_name"`
	DomainName   string `yaml:"domain_name"`
	SSLInsecure  bool   `yaml:"ssl_insecure"`
	EndpointType string `yaml:"endpoint_type"`
	// EndpointURL talks to neutron-server directly, without Keystone.
	EndpointURL string `yaml:"endpoint_url"`
	// PollInterval is the period, in seconds, of the port list.
	PollInterval int `yaml:"poll_interval"`
}

// LibvirtConfig configures the libvirt probe.
type LibvirtConfig struct {
	URL string `yaml:"url"`
}

// RuncConfig configures the runc probe.
type RuncConfig struct {
	RunPath []string `yaml:"run_path"`
}

// LLDPConfig configures the LLDP probe.
type LLDPConfig struct {
	// Interfaces to listen on; empty means every interface of the host
	// namespace that is up.
	Interfaces []string `yaml:"interfaces"`
}

// NetlinkConfig configures the netlink probe.
type NetlinkConfig struct {
	// MetricsUpdate is the period of interface counter updates, in seconds.
	MetricsUpdate int `yaml:"metrics_update"`
}

// NetnsConfig configures the netns probe.
type NetnsConfig struct {
	RunPath string `yaml:"run_path"`
}

// Logging configures log/slog.
type Logging struct {
	Level string `yaml:"level"`
}

// HTTP holds websocket settings.
type HTTP struct {
	WS WS `yaml:"ws"`
}

// WS holds websocket keep-alive settings, in seconds.
type WS struct {
	PingDelay   int `yaml:"ping_delay"`
	PongTimeout int `yaml:"pong_timeout"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		HostID:   host,
		Analyzer: Analyzer{Listen: "127.0.0.1:8082", Topology: AnalyzerTopology{HistoryRetention: 3600}, DataDir: "/var/lib/skydive", Alert: AnalyzerAlert{JSTimeout: 1}},
		Agent: Agent{
			Listen: "127.0.0.1:8081",
			Topology: AgentTopology{
				Probes:  []string{"ovsdb"},
				Netlink: NetlinkConfig{MetricsUpdate: 30},
				Netns:   NetnsConfig{RunPath: "/var/run/netns"},
				Neutron: NeutronConfig{Username: "neutron", TenantName: "service", RegionName: "RegionOne",
					DomainName: "Default", EndpointType: "public", PollInterval: 5},
				Libvirt: LibvirtConfig{URL: "qemu:///system"},
				Runc:    RuncConfig{RunPath: []string{"/run/containerd/runc", "/run/runc", "/run/runc-ctrs"}},
			},
			Capture: AgentCapture{StatsUpdate: 1},
		},
		Logging: Logging{Level: "info"},
		HTTP:    HTTP{WS: WS{PingDelay: 2, PongTimeout: 5}},
		OVS:     OVS{OVSDB: "unix:///var/run/openvswitch/db.sock"},
		Flow:    Flow{Expire: 600, Update: 1},

		OpenContrail: OpenContrail{MPLSUDPPort: 51234},
	}
}

// Probes the agent always runs, and those of the original this build lacks
// (accepted in a configuration, reported as unavailable).
var (
	builtinProbes = map[string]bool{"host": true, "netlink": true, "netns": true, "ovsdb": true,
		"neutron": true, "libvirt": true, "runc": true, "lldp": true}
	laterProbes = map[string]bool{
		"docker": true, "opencontrail": true, "socketinfo": true,
		"lxd": true, "vpp": true, "bess": true, "blockdev": true,
	}
	// analyzerProbes are the analyzer.topology.probes this build has;
	// laterAnalyzerProbes the original's others, accepted and reported.
	analyzerProbes      = map[string]bool{"ovn": true, "fabric": true, "peering": true}
	laterAnalyzerProbes = map[string]bool{"k8s": true, "istio": true, "ovnk8s": true}
)

// Load builds the configuration from defaults, the given files (in order) and
// the environment (environ, as os.Environ returns it).
func Load(files []string, environ []string) (*Config, error) {
	cfg := Default()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeStrict(data, cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", f, err)
		}
	}
	if err := applyEnv(cfg, environ); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func decodeStrict(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s", strings.Join(te.Errors, "; "))
	}
	return err
}

// AnalyzerAddrs returns the analyzers an agent reports to.
func (c *Config) AnalyzerAddrs() []string {
	return append(append([]string(nil), c.Analyzers...), c.AnalyzerServers...)
}

// Validate checks values the YAML types cannot.
func (c *Config) Validate() error {
	if c.HostID == "" {
		return errors.New("host_id: must not be empty")
	}
	for key, addr := range map[string]string{"analyzer.listen": c.Analyzer.Listen, "agent.listen": c.Agent.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s: %q is not host:port: %w", key, addr, err)
		}
	}
	for i, a := range c.AnalyzerAddrs() {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("analyzers[%d]: %q is not host:port: %w", i, a, err)
		}
	}
	for i, p := range c.Agent.Topology.Probes {
		if !builtinProbes[p] && !laterProbes[p] {
			return fmt.Errorf("agent.topology.probes[%d]: unknown probe %q", i, p)
		}
	}
	for i, p := range c.Analyzer.Topology.Probes {
		if !analyzerProbes[p] && !laterAnalyzerProbes[p] {
			return fmt.Errorf("analyzer.topology.probes[%d]: unknown probe %q", i, p)
		}
	}
	if c.HasAnalyzerProbe("ovn") && c.Analyzer.Topology.OVN.Address == "" {
		return errors.New("analyzer.topology.ovn.address: must be set when the ovn probe is on (unix:/path or tcp:host:port)")
	}
	if c.Agent.Topology.Neutron.PollInterval <= 0 {
		return fmt.Errorf("agent.topology.neutron.poll_interval: must be > 0 seconds, got %d", c.Agent.Topology.Neutron.PollInterval)
	}
	if c.Analyzer.Topology.HistoryRetention < 0 {
		return fmt.Errorf("analyzer.topology.history_retention: must be >= 0 seconds, got %d", c.Analyzer.Topology.HistoryRetention)
	}
	if c.Analyzer.Alert.JSTimeout <= 0 {
		return fmt.Errorf("analyzer.alert.js_timeout: must be > 0 seconds, got %d", c.Analyzer.Alert.JSTimeout)
	}
	if c.Agent.Topology.Netlink.MetricsUpdate <= 0 {
		return fmt.Errorf("agent.topology.netlink.metrics_update: must be > 0 seconds, got %d", c.Agent.Topology.Netlink.MetricsUpdate)
	}
	switch strings.ToLower(c.Logging.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return fmt.Errorf("logging.level: unknown level %q (debug, info, warn, error)", c.Logging.Level)
	}
	if err := c.Storage.Validate(); err != nil {
		return err
	}
	if c.Agent.Capture.StatsUpdate <= 0 {
		return fmt.Errorf("agent.capture.stats_update: must be > 0 seconds, got %d", c.Agent.Capture.StatsUpdate)
	}
	if c.Flow.Expire <= 0 || c.Flow.Update <= 0 {
		return fmt.Errorf("flow.expire and flow.update: must be > 0 seconds, got %d and %d", c.Flow.Expire, c.Flow.Update)
	}
	if p := c.OpenContrail.MPLSUDPPort; p <= 0 || p > 65535 {
		return fmt.Errorf("opencontrail.mpls_udp_port: %d is out of range (1..65535)", p)
	}
	if err := c.validateFlow(); err != nil {
		return err
	}
	if c.HTTP.WS.PingDelay <= 0 || c.HTTP.WS.PongTimeout <= 0 {
		return errors.New("http.ws.ping_delay and http.ws.pong_timeout: must be > 0 seconds")
	}
	if err := c.validateEtcd(); err != nil {
		return err
	}
	return c.validateSecurity()
}

// HasProbe tells whether a probe is configured.
func (c *Config) HasProbe(name string) bool {
	for _, p := range c.Agent.Topology.Probes {
		if p == name {
			return true
		}
	}
	return false
}

// HasAnalyzerProbe tells whether an analyzer probe is configured.
func (c *Config) HasAnalyzerProbe(name string) bool {
	for _, p := range c.Analyzer.Topology.Probes {
		if p == name {
			return true
		}
	}
	return false
}

// UnavailableProbes returns the configured probes this build does not have.
func (c *Config) UnavailableProbes() []string {
	var out []string
	for _, p := range c.Agent.Topology.Probes {
		if laterProbes[p] {
			out = append(out, p)
		}
	}
	for _, p := range c.Analyzer.Topology.Probes {
		if laterAnalyzerProbes[p] {
			out = append(out, p)
		}
	}
	return out
}

// EnvName returns the environment variable that overrides a dotted key.
func EnvName(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "SKYDIVE_" + strings.ToUpper(r.Replace(key))
}

// Keys lists every dotted key of the configuration.
func Keys() []string {
	var out []string
	walkFields(reflect.ValueOf(Default()).Elem(), "", func(key string, _ reflect.Value) error {
		out = append(out, key)
		return nil
	})
	sort.Strings(out)
	return out
}

func walkFields(v reflect.Value, prefix string, fn func(key string, field reflect.Value) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			if err := walkFields(f, key+".", fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, f); err != nil {
			return err
		}
	}
	return nil
}

func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return walkFields(reflect.ValueOf(cfg).Elem(), "", func(key string, f reflect.Value) error {
		name := EnvName(key)
		val, ok := env[name]
		if !ok {
			return nil
		}
		if err := setFromString(f, val); err != nil {
			return fmt.Errorf("%s (from %s=%q): %w", key, name, val, err)
		}
		return nil
	})
}

func setFromString(f reflect.Value, s string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64:
		if f.Type() == reflect.TypeOf(time.Duration(0)) {
			d, err := time.ParseDuration(s)
			if err != nil {
				return err
			}
			f.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		f.SetBool(b)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

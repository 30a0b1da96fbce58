package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Etcd is the etcd section, with the original's keys. The analyzers of a
// cluster share their resources and elect their leaders through etcd: an
// external cluster (servers), or a member embedded in each analyzer
// (embedded, peers). Unlike the original, whose analyzer embedded a member
// by default, etcd is off unless one of them is set, so that a single
// analyzer (allinone) keeps its resources in files under analyzer.data_dir.
type Etcd struct {
	// Embedded runs an etcd member in the analyzer.
	Embedded bool `yaml:"embedded"`
	// Listen is the embedded member's client address; its peer address
	// is the next port (default 127.0.0.1:12379, peers on 12380).
	Listen string `yaml:"listen"`
	// DataDir keeps the embedded member's data (default
	// /var/lib/skydive/etcd).
	DataDir      string `yaml:"data_dir"`
	MaxWALFiles  int    `yaml:"max_wal_files"`
	MaxSnapFiles int    `yaml:"max_snap_files"`
	// Servers are the etcd client URLs the analyzer uses (http://host:port
	// or host:port); with embedded and none, the member's own.
	Servers []string `yaml:"servers"`
	// Name is the embedded member's name (default host_id).
	Name string `yaml:"name"`
	// Peers are the embedded cluster's members, name: peer URL
	// (http://host:12380), this one among them or not.
	Peers map[string]string `yaml:"peers"`
	// ClientTimeout bounds each etcd request, in seconds (default 5).
	ClientTimeout int `yaml:"client_timeout"`
}

// ClusterMode tells whether the analyzer works with etcd: several
// analyzers sharing their resources and electing their leaders.
func (c *Config) ClusterMode() bool { return c.Etcd.Embedded || len(c.Etcd.Servers) > 0 }

// validateEtcd fills the etcd section's defaults and checks it.
func (c *Config) validateEtcd() error {
	e := &c.Etcd
	if e.Listen == "" {
		e.Listen = "127.0.0.1:12379"
	}
	if e.DataDir == "" {
		e.DataDir = "/var/lib/skydive/etcd"
	}
	if e.Name == "" {
		e.Name = c.HostID
	}
	if e.MaxWALFiles == 0 {
		e.MaxWALFiles = 5
	}
	if e.MaxSnapFiles == 0 {
		e.MaxSnapFiles = 5
	}
	if e.ClientTimeout == 0 {
		e.ClientTimeout = 5
	}
	if e.ClientTimeout < 0 || e.MaxWALFiles < 0 || e.MaxSnapFiles < 0 {
		return fmt.Errorf("etcd.client_timeout, etcd.max_wal_files and etcd.max_snap_files: must be > 0, got %d, %d and %d",
			e.ClientTimeout, e.MaxWALFiles, e.MaxSnapFiles)
	}
	if _, _, err := net.SplitHostPort(e.Listen); err != nil {
		return fmt.Errorf("etcd.listen: %q is not host:port: %w", e.Listen, err)
	}
	for i, s := range e.Servers {
		if err := checkURL(s, true); err != nil {
			return fmt.Errorf("etcd.servers[%d]: %w", i, err)
		}
	}
	for name, u := range e.Peers {
		if err := checkURL(u, false); err != nil {
			return fmt.Errorf("etcd.peers.%s: %w", name, err)
		}
	}
	return nil
}

// checkURL accepts http(s)://host:port, and host:port when bare is.
func checkURL(s string, bare bool) error {
	if !strings.Contains(s, "://") {
		if !bare {
			return fmt.Errorf("%q is not a URL (http://host:port)", s)
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("%q is neither a URL nor host:port", s)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an http(s)://host:port URL", s)
	}
	return nil
}

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// EmbeddedOptions are the original's etcd.* keys of an embedded member.
type EmbeddedOptions struct {
	// Name of the member (etcd.name, default host_id).
	Name string
	// Listen is the client address host:port (etcd.listen); peers talk to
	// the next port.
	Listen string
	// DataDir keeps the member's data (etcd.data_dir).
	DataDir string
	// Peers are the members of the cluster, name -> peer URL (etcd.peers);
	// empty: this member alone.
	Peers map[string]string
	// MaxWALFiles and MaxSnapFiles bound the files kept (0: etcd's default).
	MaxWALFiles, MaxSnapFiles uint
}

func (o EmbeddedOptions) clientURL() string { return "http://" + o.Listen }

// peerURL is the listen address's host with the next port.
func (o EmbeddedOptions) peerURL() (string, error) {
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return "", fmt.Errorf("etcd.listen %q: %w", o.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p >= 65535 {
		return "", fmt.Errorf("etcd.listen %q: bad port", o.Listen)
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

// InitialCluster is the etcd --initial-cluster of o: every peer, and this
// member at its peer URL.
func (o EmbeddedOptions) InitialCluster() (string, error) {
	self, err := o.peerURL()
	if err != nil {
		return "", err
	}
	members := map[string]string{o.Name: self}
	for name, u := range o.Peers {
		if name == o.Name {
			continue
		}
		if _, err := url.Parse(u); err != nil || !strings.Contains(u, "://") {
			return "", fmt.Errorf("etcd.peers.%s: %q is not a URL (http://host:port)", name, u)
		}
		members[name] = u
	}
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+members[n])
	}
	return strings.Join(parts, ","), nil
}

// Member is an etcd member embedded in this process.
type Member struct {
	*embed.Etcd
	closing *atomic.Bool
}

// Close stops the member (quietly).
func (m *Member) Close() {
	m.closing.Store(true)
	m.Etcd.Close()
}

// StartEmbedded starts an etcd member and waits until it serves (a member
// of several waits for a quorum of its peers, as long as ctx lasts).
func StartEmbedded(ctx context.Context, o EmbeddedOptions, log *slog.Logger) (*Member, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("etcd.name: empty")
	}
	cfg := embed.NewConfig()
	cfg.Name = o.Name
	cfg.Dir = o.DataDir
	closing := &atomic.Bool{}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newEtcdLogger(log, closing))
	if o.MaxWALFiles > 0 {
		cfg.MaxWalFiles = o.MaxWALFiles
	}
	if o.MaxSnapFiles > 0 {
		cfg.MaxSnapFiles = o.MaxSnapFiles
	}
	cu, err := url.Parse(o.clientURL())
	if err != nil {
		return nil, fmt.Errorf("etcd.listen %q: %w", o.Listen, err)
	}
	ps, err := o.peerURL()
	if err != nil {
		return nil, err
	}
	pu, _ := url.Parse(ps)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	if cfg.InitialCluster, err = o.InitialCluster(); err != nil {
		return nil, err
	}
	cfg.InitialClusterToken = "skydive"
	if entries, err := os.ReadDir(filepath.Join(o.DataDir, "member")); err == nil && len(entries) > 0 {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd.data_dir: %w", err)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	m := &Member{Etcd: e, closing: closing}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-e.Server.ReadyNotify():
			log.Info("embedded etcd serves", "name", o.Name, "client", o.clientURL(), "peer", ps, "cluster", cfg.InitialCluster)
			return m, nil
		case err := <-e.Err():
			m.Close()
			return nil, fmt.Errorf("embedded etcd: %w", err)
		case <-tick.C:
			log.Info("embedded etcd waits for its peers", "cluster", cfg.InitialCluster)
		case <-ctx.Done():
			m.Close()
			return nil, fmt.Errorf("embedded etcd: not ready: %w", ctx.Err())
		}
	}
}

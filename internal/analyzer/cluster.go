package analyzer

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/injections"
	"github.com/skydive-ng/skydive/internal/replicate"
	"github.com/skydive-ng/skydive/internal/rules"
)

// PeerOptions are what an analyzer presents to its peers on
// /ws/replication: the TLS client configuration (nil: ws://) and the
// cluster credentials (analyzer.auth.cluster.username and password).
type PeerOptions struct {
	TLS                *tls.Config
	Username, Password string
}

// clusterState is where the analyzer keeps its resources and, with etcd
// (cluster mode), how it works with the other analyzers: the shared store,
// the elections of the alerting and capture leaders, the replication of the
// graph with its peers, and the leases of the agents it holds.
type clusterState struct {
	cfg   *config.Config
	log   *slog.Logger
	store cluster.Store

	// Cluster mode only.
	c        *cluster.Cluster
	alerts   *cluster.Election
	captures *cluster.Election
	peers    *replicate.Peers
	origins  *cluster.Origins

	mu   sync.Mutex
	runs []func(context.Context) error
}

// openCluster opens the store: etcd when etcd.servers or etcd.embedded is
// set, else the files of analyzer.data_dir as a single analyzer always kept
// them (captures.json, alerts.json, workflows.json, rules.json).
func openCluster(ctx context.Context, cfg *config.Config, log *slog.Logger) (*clusterState, error) {
	cs := &clusterState{cfg: cfg, log: log}
	if !cfg.ClusterMode() {
		dir := cfg.Analyzer.DataDir
		files := rules.FileRefs(filepath.Join(dir, "rules.json"))
		files[cluster.KindCapture] = cluster.FileRef{Path: filepath.Join(dir, "captures.json")}
		files[cluster.KindAlert] = cluster.FileRef{Path: filepath.Join(dir, "alerts.json")}
		files[cluster.KindWorkflow] = cluster.FileRef{Path: filepath.Join(dir, "workflows.json")}
		st, err := cluster.NewFileStore(files)
		if err != nil {
			return nil, err
		}
		cs.store = st
		return cs, nil
	}
	e := cfg.Etcd
	opts := cluster.Options{HostID: cfg.HostID, Servers: e.Servers, Logger: log,
		ClientTimeout: time.Duration(e.ClientTimeout) * time.Second,
		// A dead analyzer's leaderships and agents are given up after the
		// time a websocket peer would be: its pong timeout.
		SessionTTL: time.Duration(cfg.HTTP.WS.PongTimeout) * time.Second}
	if e.Embedded {
		opts.Embedded = &cluster.EmbeddedOptions{Name: e.Name, Listen: e.Listen, DataDir: e.DataDir, Peers: e.Peers,
			MaxWALFiles: uint(e.MaxWALFiles), MaxSnapFiles: uint(e.MaxSnapFiles)}
	}
	c, err := cluster.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cs.c, cs.store = c, c.Store()
	cs.alerts = c.Election(cluster.ElectionAlerts)
	cs.captures = c.Election(cluster.ElectionCaptures)
	cs.addRun(cs.alerts.Run)
	cs.addRun(cs.captures.Run)
	return cs, nil
}

// Close leaves the cluster: the leaderships and leases go at once.
func (cs *clusterState) Close() {
	if cs.c != nil {
		cs.c.Close()
	}
}

func (cs *clusterState) addRun(f func(context.Context) error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.runs = append(cs.runs, f)
}

// attach replicates the graph with the peers (the analyzers list, this one
// skipped) and keeps the leases of the agents connected here; it returns
// the OnConnect of the agents' server, which calls next.
func (cs *clusterState) attach(g *graph.Graph, agents *replicate.Server, po PeerOptions, next func(host string)) func(host string) {
	if cs.c == nil {
		return next
	}
	ws := cs.cfg.HTTP.WS
	cs.peers = replicate.NewPeers(replicate.PeersOptions{Graph: g, HostID: cs.cfg.HostID, Listen: cs.cfg.Analyzer.Listen,
		Analyzers: cs.cfg.AnalyzerAddrs(), Agents: agents, TLS: po.TLS, Username: po.Username, Password: po.Password,
		PingDelay: time.Duration(ws.PingDelay) * time.Second, PongWait: time.Duration(ws.PingDelay+ws.PongTimeout) * time.Second,
		Logger: cs.log})
	// An origin claimed (an agent connected here, or a new session) is sent
	// whole to the peers, which take it from its former analyzer.
	cs.origins = cs.c.Origins(cs.peers.LocalOrigins, cs.peers.OriginClaimed)
	cs.addRun(cs.peers.Run)
	cs.addRun(cs.origins.Run)
	cs.addRun(func(ctx context.Context) error {
		// The subgraphs whose analyzer died (its lease expired) go.
		cs.c.WatchOrigins(ctx, func(holders map[string]string) {
			for origin := range cs.peers.RemoteOrigins() {
				if _, ok := holders[origin]; !ok {
					cs.peers.DropOrigin(origin)
				}
			}
		}, cs.peers.DropOrigin)
		return nil
	})
	return func(host string) {
		cs.origins.Claim("agent." + host)
		if next != nil {
			next(host)
		}
	}
}

// register serves /ws/replication in cluster mode.
func (cs *clusterState) register(mux httpapi.Mux) {
	if cs.peers != nil {
		mux.Handle("GET "+replicate.ReplicationPath, cs.peers)
	}
}

// peersStatus, alertsStatus and capturesStatus are parts of /api/status; a
// single analyzer leads everything.
func (cs *clusterState) peersStatus() v1.Peers {
	if cs.peers == nil {
		return v1.Peers{Incomers: map[string]v1.ConnStatus{}, Outgoers: map[string]v1.ConnStatus{}}
	}
	return cs.peers.Status()
}

func (cs *clusterState) alertsStatus() v1.ElectionStatus {
	return v1.ElectionStatus{IsMaster: cs.alerts == nil || cs.alerts.IsLeader()}
}

func (cs *clusterState) capturesStatus() v1.ElectionStatus {
	return v1.ElectionStatus{IsMaster: cs.captures == nil || cs.captures.IsLeader()}
}

// alertsLeader is the alert manager's Leader (nil: always) and the grace of
// its resets after a takeover: the time for a dead analyzer's agents to be
// back on another.
func (cs *clusterState) alertsLeader() (func() bool, time.Duration) {
	if cs.alerts == nil {
		return nil, 0
	}
	ws := cs.cfg.HTTP.WS
	return cs.alerts.IsLeader, 2 * time.Duration(ws.PingDelay+ws.PongTimeout) * time.Second
}

// onAlertsLeadership calls f when the alerting leadership changes.
func (cs *clusterState) onAlertsLeadership(f func()) {
	if cs.alerts != nil {
		cs.alerts.OnChange(func(bool) { f() })
	}
}

// newInjections makes the injection manager, its running injections in
// the store, and runs it with the cluster.
func newInjections(cs *clusterState, g *graph.Graph, agents *replicate.Server, log *slog.Logger) (*injections.Manager, error) {
	m, err := injections.NewManager(injections.Options{Graph: g, Agents: agents, Store: cs.store, Logger: log})
	if err != nil {
		return nil, err
	}
	cs.addRun(m.Run)
	return m, nil
}

// Run runs what the cluster needs (elections, replication, leases,
// followers of the store) until ctx ends.
func (cs *clusterState) Run(ctx context.Context) error {
	cs.mu.Lock()
	runs := append([]func(context.Context) error{}, cs.runs...)
	cs.mu.Unlock()
	grp, ctx := errgroup.WithContext(ctx)
	for _, run := range runs {
		grp.Go(func() error { return run(ctx) })
	}
	return grp.Wait()
}

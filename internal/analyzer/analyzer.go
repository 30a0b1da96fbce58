// Package analyzer is the composition root of `skydive analyzer`: the merged
// graph of every agent, the REST API and the websocket endpoints.
package analyzer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/auth"
	"github.com/skydive-ng/skydive/internal/captures"
	"github.com/skydive-ng/skydive/internal/completeness"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/export"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	historypkg "github.com/skydive-ng/skydive/internal/history"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/latency"
	"github.com/skydive-ng/skydive/internal/metrics"
	"github.com/skydive-ng/skydive/internal/openapi"
	"github.com/skydive-ng/skydive/internal/probe/fabric"
	"github.com/skydive-ng/skydive/internal/probe/ovn"
	"github.com/skydive-ng/skydive/internal/probe/peering"
	"github.com/skydive-ng/skydive/internal/probe/utilisation"
	"github.com/skydive-ng/skydive/internal/replicate"
	storepkg "github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/backends"
	"github.com/skydive-ng/skydive/internal/tlsconfig"
	"github.com/skydive-ng/skydive/internal/topology"
	"github.com/skydive-ng/skydive/internal/topoquery"
	"github.com/skydive-ng/skydive/internal/userelements"
	"github.com/skydive-ng/skydive/internal/version"
	"github.com/skydive-ng/skydive/web"
)

// Options are the analyzer's dependencies.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Listener, when set, is used instead of listening on analyzer.listen.
	Listener net.Listener
	// Ready, when set, is closed once the analyzer serves.
	Ready chan<- struct{}
	// ClusterUsers are extra credentials of agents and peers, known to
	// this process only (allinone's own agent).
	ClusterUsers map[string]string
	// Routes, when set, is given the router's patterns before serving.
	Routes func(patterns []string)
}

// Run runs the analyzer until ctx ends.
func Run(ctx context.Context, opts Options) error {
	cfg, log := opts.Config, opts.Logger
	if log == nil {
		log = slog.Default()
	}
	g := graph.New()
	// The resources' store: files, or etcd shared with the other analyzers.
	cl, err := openCluster(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The durable store keeps the topology history and the flows; with
	// storage.backend memory, both stay in memory (lost at restart).
	var (
		history eval.History
		store   flowstore.Store
		durable *storepkg.Store
	)
	if cfg.Storage.Backend != storepkg.BackendMemory {
		st, err := backends.Open(ctx, cfg.Storage, backends.Env{DataDir: cfg.Analyzer.DataDir, Instance: cfg.HostID, Logger: log})
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		durable, history, store = st, st, st
		defer st.Close()
		defer st.Attach(g)()
	} else {
		hist := historypkg.New(historypkg.Options{Retention: time.Duration(cfg.Analyzer.Topology.HistoryRetention) * time.Second})
		defer hist.Attach(g)()
		history, store = hist, flowstore.NewMemory(flowstore.MemoryOptions{})
		go func(ctx context.Context) { _ = hist.Run(ctx) }(ctx) // ctx is reassigned below
	}
	imported := flowstore.NewMemory(flowstore.MemoryOptions{Expire: importedForever, Hold: importedForever})
	flowSubs := &flowSubscribers{}
	var connectedAgents func() int // once the agents' server exists
	promRegistry, promAnalyzer, stopCounting := metrics.NewAnalyzer(metrics.AnalyzerSources{Graph: g,
		Agents: func() int { return connectedAgents() }, Store: storeQueue(durable)})
	defer stopCounting()
	// analyzer.flow.export: the flow updates to IPFIX collectors and files.
	flowExports, err := export.New(cfg.Analyzer.Flow.Export, export.Options{Graph: g, Logger: log})
	if err != nil {
		return err
	}
	publishFlows := func(flows []*flow.Flow) {
		promAnalyzer.FlowUpdates(len(flows))
		flowSubs.publish(flows)
		flowExports.Publish(flows)
	}
	// What traces and reports cannot see in the flows: agents away, flows
	// the store lost.
	gaps := completeness.New(nil)
	agents := &replicate.Server{Graph: g, Logger: log, OnMessage: flowUpdates(ctx, store, publishFlows, gaps.StoreFailed, log),
		OnDisconnect: gaps.AgentDisconnected,
		PingDelay:    time.Duration(cfg.HTTP.WS.PingDelay) * time.Second,
		PongWait:     time.Duration(cfg.HTTP.WS.PingDelay+cfg.HTTP.WS.PongTimeout) * time.Second}
	publishers := &replicate.Publishers{Graph: g, Logger: log}
	subscribers := &replicate.Subscribers{Graph: g, Logger: log, PingDelay: time.Duration(cfg.HTTP.WS.PingDelay) * time.Second}
	// The analyzer's own probes write nodes of their own (origin
	// analyzer.<host>), which agents' syncs never remove.
	own := &topology.Writer{G: g, Host: cfg.HostID, Origin: "analyzer." + cfg.HostID}
	fab, err := fabric.New(fabric.Options{Writer: own, Definitions: cfg.Analyzer.Topology.Fabric, Logger: log})
	if err != nil {
		return err
	}
	// utilisation: the interfaces' Utilisation of their Speed, here where
	// the node rules' Speed is seen.
	probeRuns := []func(context.Context) error{fab.Run, peering.New(own, log).Run, utilisation.New(g).Run}
	probeNames := []string{"fabric", "peering", "utilisation"}
	if cfg.HasAnalyzerProbe("ovn") {
		p, err := ovn.New(ovn.Options{Writer: own, Address: cfg.Analyzer.Topology.OVN.Address, Logger: log})
		if err != nil {
			return err
		}
		probeRuns = append(probeRuns, p.Run)
		probeNames = append(probeNames, "ovn")
	}
	wf, err := newWorkflows(cl, log)
	if err != nil {
		return err
	}
	serverTLS, err := tlsconfig.Server(cfg.TLS)
	if err != nil {
		return err
	}
	guard, err := auth.FromConfig(cfg.Auth, cfg.RBAC, cfg.Analyzer.Auth, serverTLS != nil, log)
	if err != nil {
		return err
	}
	if len(opts.ClusterUsers) > 0 {
		guard.Cluster = auth.Either(guard.Cluster, auth.Internal(opts.ClusterUsers))
	}
	security := &v1.SecurityStatus{AuthBackend: guard.Backend(), TLS: serverTLS != nil, Warnings: guard.Warnings(cfg.Analyzer.Listen)}
	for _, w := range security.Warnings {
		log.Warn(w)
	}
	api := &httpapi.Server{
		Info:  v1.APIInfo{Host: cfg.HostID, Version: version.Version, Service: "analyzer"},
		Graph: g,
		Queries: topoquery.New(topoquery.Options{Graph: g, History: history, Extensions: withWorkflowStep(flowsteps.Options(), wf),
			Flows: &flowsteps.Source{Live: liveFlows{main: store, imported: imported}, Store: store, Gaps: gaps}, Incomplete: flowsteps.Incomplete}),
		Logger: log,
		Status: func() any {
			return v1.AnalyzerStatus{
				Agents:      agents.Agents(),
				Peers:       cl.peersStatus(),
				Publishers:  publishers.Status(),
				Subscribers: subscribers.Status(),
				Alerts:      cl.alertsStatus(),
				Captures:    cl.capturesStatus(),
				Probes:      probeNames,
				Storage:     storageStatus(durable),
				Security:    security,
			}
		},
	}
	capMgr, err := captures.New(captures.Options{Graph: g, Store: cl.store, Agents: agents, Logger: log})
	if err != nil {
		return err
	}
	peerTLS, err := tlsconfig.Client(cfg.TLS)
	if err != nil {
		return err
	}
	// Cluster mode: replication with the peers, leases of the agents here.
	agents.OnConnect = cl.attach(g, agents, PeerOptions{TLS: peerTLS, Username: cfg.Analyzer.Auth.Cluster.Username,
		Password: cfg.Analyzer.Auth.Cluster.Password}, func(host string) {
		gaps.AgentConnected(host)
		capMgr.AgentConnected(host)
	})
	inj, err := newInjections(cl, g, agents, log)
	if err != nil {
		return err
	}
	mux := httpapi.NewRouter()
	connectedAgents = func() int {
		n := 0
		for _, a := range agents.Agents() {
			if a.IsConnected {
				n++
			}
		}
		return n
	}
	api.OnQuery = promAnalyzer.Query
	api.Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(promRegistry))
	mux.Handle("GET "+openapi.Path, openapi.Handler(version.Version))
	captureHandlers(mux, api, capMgr, store)
	reportHandlers(mux, g, liveFlows{main: store, imported: imported}, gaps)
	injectionHandlers(mux, api, inj)
	workflowHandlers(mux, api, wf)
	latencyHandlers(mux, g, store, liveFlows{main: store, imported: imported})
	latencyProbeHandler(ctx, mux, &latency.Prober{Graph: g, Captures: capMgr, Injector: inj, Active: captureActive(g)})
	runAlerts, err := alertHandlers(mux, api, cfg, cl, g, subscribers, log)
	if err != nil {
		return err
	}
	runRules, err := ruleHandlers(mux, api, cfg, cl, g, log)
	if err != nil {
		return err
	}
	// /api/node and /api/edge: clients' elements, the analyzer's own.
	userelements.New(g, cfg.HostID).Register(mux, api)
	mux.HandleFunc("POST /api/pcap", pcapHandler(store, imported))
	mux.Handle("GET /ws/subscriber/flow", flowSubs)
	mux.Handle("/", web.Handler())
	mux.Handle("GET "+replicate.AgentTopologyPath, agents)
	mux.Handle("GET "+replicate.SubscriberPath, subscribers)
	mux.Handle("GET "+replicate.PublisherPath, publishers)
	cl.register(mux)
	registerFallbacks(mux.ServeMux)
	if opts.Routes != nil {
		opts.Routes(mux.Patterns())
	}

	l := opts.Listener
	if l == nil {
		var err error
		l, err = net.Listen("tcp", cfg.Analyzer.Listen)
		if err != nil {
			return err
		}
	}
	if opts.Ready != nil {
		close(opts.Ready)
	}
	grp, ctx := errgroup.WithContext(ctx)
	if durable != nil {
		grp.Go(func() error { return durable.Run(ctx) })
		grp.Go(func() error {
			gaps.WatchStoreDrops(ctx, 5*time.Second, func() uint64 { return durable.Status().DroppedFlows })
			return nil
		})
	}
	grp.Go(func() error { return capMgr.Run(ctx) })
	grp.Go(func() error { return cl.Run(ctx) })
	for _, run := range probeRuns {
		grp.Go(func() error { return run(ctx) })
	}
	grp.Go(func() error { return runAlerts(ctx) })
	grp.Go(func() error { return runRules(ctx) })
	grp.Go(func() error { return flowExports.Run(ctx) })
	grp.Go(func() error {
		return httpapi.ServeTLS(ctx, l, cfg.Analyzer.Listen, guard.Wrap(checkQuery(mux)), log.With("server", "analyzer"), serverTLS)
	})
	log.Info("analyzer started", "host_id", cfg.HostID, "listen", l.Addr().String())
	return grp.Wait()
}

// storeQueue reads the store's queue for the metrics (nil without a store).
func storeQueue(st *storepkg.Store) func() (int, int, uint64, uint64) {
	if st == nil {
		return nil
	}
	return func() (int, int, uint64, uint64) {
		s := st.Status()
		return s.QueuedFlows + s.QueuedRevisions, s.QueueFlowsMax + s.QueueRevisionMax, s.DroppedFlows, s.DroppedRevisions
	}
}

// storageStatus is the Storage part of /api/status.
func storageStatus(st *storepkg.Store) any {
	if st == nil {
		return map[string]any{"Backend": storepkg.BackendMemory}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return map[string]any{"Status": st.Status(), "SizeOnDisk": st.SizeOnDisk(ctx)}
}

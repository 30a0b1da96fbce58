// Package agent is the composition root of `skydive agent`: the host node,
// the netlink and netns probes, the local API and the forwarder to the
// analyzer.
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/auth"
	"github.com/skydive-ng/skydive/internal/capture"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/metrics"
	"github.com/skydive-ng/skydive/internal/ondemand"
	hostprobe "github.com/skydive-ng/skydive/internal/probe/host"
	libvirtprobe "github.com/skydive-ng/skydive/internal/probe/libvirt"
	lldpprobe "github.com/skydive-ng/skydive/internal/probe/lldp"
	nlprobe "github.com/skydive-ng/skydive/internal/probe/netlink"
	nsprobe "github.com/skydive-ng/skydive/internal/probe/netns"
	neutronprobe "github.com/skydive-ng/skydive/internal/probe/neutron"
	ovsprobe "github.com/skydive-ng/skydive/internal/probe/ovsdb"
	runcprobe "github.com/skydive-ng/skydive/internal/probe/runc"
	"github.com/skydive-ng/skydive/internal/replicate"
	"github.com/skydive-ng/skydive/internal/tlsconfig"
	"github.com/skydive-ng/skydive/internal/topology"
	"github.com/skydive-ng/skydive/internal/topoquery"
	"github.com/skydive-ng/skydive/internal/version"
)

// Options are the agent's dependencies.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Listener, when set, is used instead of listening on agent.listen.
	Listener net.Listener
}

// Run runs the agent until ctx ends.
func Run(ctx context.Context, opts Options) error {
	cfg, log := opts.Config, opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if missing := cfg.UnavailableProbes(); len(missing) > 0 {
		log.Warn("probes configured but not available in this build", "probes", missing)
	}
	g := graph.New()
	w := &topology.Writer{G: g, Host: cfg.HostID, Origin: "agent." + cfg.HostID}
	hostID := hostprobe.NodeID(cfg.HostID)
	if err := w.AddNode(hostID, hostprobe.Metadata(cfg.HostID, cfg.Agent.Metadata)); err != nil {
		return fmt.Errorf("host node: %w", err)
	}
	period := time.Duration(cfg.Agent.Topology.Netlink.MetricsUpdate) * time.Second
	peers := nlprobe.NewVethLinker()
	overlays := topology.NewOverlays()
	hostLinks, err := nlprobe.New(nlprobe.Options{Writer: w, Owner: hostID, Peers: peers, Overlays: overlays, MetricsPeriod: period, Logger: log})
	if err != nil {
		return fmt.Errorf("netlink probe: %w", err)
	}
	peers.AddNamespace("", hostLinks.NsHandle())
	namespaces := nsprobe.New(nsprobe.Options{Writer: w, Host: hostID, RunPath: cfg.Agent.Topology.Netns.RunPath,
		Peers: peers, Overlays: overlays, MetricsPeriod: period, Logger: log})

	// Each probe's state for the status: fixed for those that cannot fail
	// after start, asked of those that follow a remote service.
	states := probeStates{"host": running, "netlink": running, "netns": running}
	var runs []func(context.Context) error
	var ovs *ovsprobe.Probe
	if cfg.HasProbe("ovsdb") {
		ovs = ovsprobe.New(ovsprobe.Options{Writer: w, Host: hostID, Address: cfg.OVS.OVSDB, Overlays: overlays,
			EnableStats: cfg.OVS.EnableStats, Logger: log})
		states["ovsdb"] = running
		runs = append(runs, ovs.Run)
	}
	if cfg.HasProbe("neutron") {
		nc := cfg.Agent.Topology.Neutron
		p, err := neutronprobe.New(neutronprobe.Options{Writer: w, Overlays: overlays, Logger: log, Config: neutronprobe.Config{
			AuthURL: nc.AuthURL, Username: nc.Username, Password: nc.Password, TenantName: nc.TenantName,
			RegionName: nc.RegionName, DomainName: nc.DomainName, EndpointType: nc.EndpointType, SSLInsecure: nc.SSLInsecure,
			EndpointURL: nc.EndpointURL, PollInterval: time.Duration(nc.PollInterval) * time.Second}})
		if err != nil {
			return err
		}
		states["neutron"] = p.State
		runs = append(runs, p.Run)
	}
	if cfg.HasProbe("libvirt") {
		p, err := libvirtprobe.New(libvirtprobe.Options{Writer: w, Host: hostID, Overlays: overlays, URL: cfg.Agent.Topology.Libvirt.URL, Logger: log})
		if err != nil {
			return err
		}
		states["libvirt"] = p.State
		runs = append(runs, p.Run)
	}
	if cfg.HasProbe("runc") {
		p := runcprobe.New(runcprobe.Options{Writer: w, Host: hostID, Netns: namespaces, RunPaths: cfg.Agent.Topology.Runc.RunPath, Logger: log})
		states["runc"] = running
		runs = append(runs, p.Run)
	}
	if cfg.HasProbe("lldp") {
		p := lldpprobe.New(lldpprobe.Options{Writer: w, Host: hostID, Interfaces: cfg.Agent.Topology.LLDP.Interfaces, Logger: log})
		states["lldp"] = p.State
		runs = append(runs, p.Run)
	}

	serverTLS, err := tlsconfig.Server(cfg.TLS)
	if err != nil {
		return err
	}
	clientTLS, err := tlsconfig.Client(cfg.TLS)
	if err != nil {
		return err
	}
	guard, err := auth.FromConfig(cfg.Auth, cfg.RBAC, config.ServiceAuth{API: cfg.Agent.Auth.API}, serverTLS != nil, log)
	if err != nil {
		return err
	}
	fwd := &replicate.Forwarder{Graph: g, HostID: cfg.HostID, Analyzers: cfg.AnalyzerAddrs(), Logger: log,
		TLS: clientTLS, Username: cfg.Agent.Auth.Cluster.Username, Password: cfg.Agent.Auth.Cluster.Password,
		PongWait: time.Duration(cfg.HTTP.WS.PingDelay+cfg.HTTP.WS.PongTimeout) * time.Second,
		Greeting: func() []v1.Message { return []v1.Message{states.message()} }}
	registry, flowMetrics := metrics.Agent(g)
	captures := ondemand.New(ondemand.Options{Graph: g, Send: fwd.Send, Logger: log, OnFlows: flowMetrics.Observe,
		FlowUpdate: time.Duration(cfg.Flow.Update) * time.Second, FlowExpire: time.Duration(cfg.Flow.Expire) * time.Second,
		StatsUpdate: time.Duration(cfg.Agent.Capture.StatsUpdate) * time.Second,
		MPLSUDPPort: cfg.OpenContrail.MPLSUDPPort,
		NetFlowAddr: cfg.Agent.Flow.NetFlow.BindAddress, NetFlowMinPort: cfg.Agent.Flow.NetFlow.PortMin, NetFlowMaxPort: cfg.Agent.Flow.NetFlow.PortMax})
	fwd.OnMessage = captures.HandleMessage
	if ovs != nil {
		captures.EnableOVSSFlow(ovs)
		captures.EnableOVSMirror(ovs)
		captures.EnableOVSNetFlow(ovs)
	}

	api := &httpapi.Server{
		Info:    v1.APIInfo{Host: cfg.HostID, Version: version.Version, Service: "agent"},
		Graph:   g,
		Queries: topoquery.NewLive(g),
		Logger:  log,
		Status: func() any {
			return v1.AgentStatus{
				Clients:        map[string]v1.ConnStatus{},
				Analyzers:      fwd.Status(),
				TopologyProbes: states.snapshot(),
				FlowProbes:     capture.Types,
			}
		},
	}
	mux := http.NewServeMux()
	api.Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(registry))

	grp, ctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return hostLinks.Run(ctx) })
	grp.Go(func() error { return namespaces.Run(ctx) })
	grp.Go(func() error { return captures.Run(ctx) })
	for _, run := range runs {
		grp.Go(func() error { return run(ctx) })
	}
	if len(cfg.AnalyzerAddrs()) > 0 {
		grp.Go(func() error { return fwd.Run(ctx) })
		grp.Go(func() error { states.report(ctx, fwd.Send); return nil })
	} else {
		log.Info("no analyzer configured: standalone agent")
	}
	grp.Go(func() error {
		return httpapi.ServeTLS(ctx, opts.Listener, cfg.Agent.Listen, guard.Wrap(mux), log.With("server", "agent"), serverTLS)
	})
	log.Info("agent started", "host_id", cfg.HostID, "listen", cfg.Agent.Listen, "analyzers", cfg.AnalyzerAddrs())
	return grp.Wait()
}

func running() string { return "running" }

// probeStates gives each probe's state, as /api/status and the analyzer
// show it.
type probeStates map[string]func() string

func (s probeStates) snapshot() map[string]string {
	out := make(map[string]string, len(s))
	for name, state := range s {
		out[name] = state()
	}
	return out
}

func (s probeStates) message() v1.Message {
	raw, _ := json.Marshal(s.snapshot())
	return v1.Message{Namespace: v1.NamespaceStatus, Type: v1.ProbeStatusMsgType, Status: http.StatusOK, Obj: raw}
}

// report sends the states to the analyzer when they change (the forwarder
// sends them after each Sync too).
func (s probeStates) report(ctx context.Context, send func(v1.Message)) {
	last := s.message()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if m := s.message(); string(m.Obj) != string(last.Obj) {
				send(m)
				last = m
			}
		}
	}
}

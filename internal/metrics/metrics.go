// Package metrics exposes Skydive in the Prometheus exposition format. An
// agent exposes its own host's interfaces (from the graph its netlink probe
// keeps, read at scrape time) and its captures' flows; an analyzer exposes
// its own health only, so that its series stay bounded at any graph size.
// Each process has its own registry: no global state.
package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Handler serves reg's metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// interfaceLabels are the labels of every interface series.
var interfaceLabels = []string{"host", "namespace", "interface", "network", "tenant"}

// counterKeys maps the netlink probe's Metric keys to series.
var counterKeys = []struct {
	key  string
	desc *prometheus.Desc
}{
	{"RxBytes", desc("receive_bytes_total", "Bytes received by the interface.")},
	{"TxBytes", desc("transmit_bytes_total", "Bytes sent by the interface.")},
	{"RxPackets", desc("receive_packets_total", "Packets received by the interface.")},
	{"TxPackets", desc("transmit_packets_total", "Packets sent by the interface.")},
	{"RxErrors", desc("receive_errors_total", "Receive errors of the interface.")},
	{"TxErrors", desc("transmit_errors_total", "Transmit errors of the interface.")},
	{"RxDropped", desc("receive_drops_total", "Received packets dropped by the interface.")},
	{"TxDropped", desc("transmit_drops_total", "Packets to send dropped by the interface.")},
}

func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("skydive_interface_"+name, help, interfaceLabels, nil)
}

// interfaces reads the interface counters from the graph at each scrape:
// they are the kernel's (agent.topology.netlink.metrics_update old at most).
type interfaces struct{ g *graph.Graph }

func (c interfaces) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range counterKeys {
		ch <- k.desc
	}
}

func (c interfaces) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, n := range c.g.Nodes() {
		m, ok := n.Metadata[topology.KeyMetric].(map[string]any)
		if !ok {
			continue
		}
		labels := []string{n.Host, c.namespace(n), n.Metadata.String(graph.KeyName),
			stringAt(n.Metadata, "Neutron.NetworkName"), stringAt(n.Metadata, "Neutron.TenantID")}
		// Two series with the same labels would fail the whole scrape.
		id := strings.Join(labels[:3], "\x00")
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, k := range counterKeys {
			// The probe leaves out zero counters, as the original.
			ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, number(m[k.key]), labels...)
		}
	}
}

// namespace is the name of the netns owning n ("" for the host's).
func (c interfaces) namespace(n *graph.Node) string {
	for _, e := range c.g.InEdges(n.ID) {
		if e.Metadata.String(graph.KeyRelationType) != topology.OwnershipLink {
			continue
		}
		if p := c.g.Node(e.Parent); p != nil && p.Metadata.String(graph.KeyType) == topology.TypeNetns {
			return p.Metadata.String(graph.KeyName)
		}
	}
	return ""
}

func stringAt(m graph.Metadata, path string) string {
	v, _ := m.Get(path)
	s, _ := v.(string)
	return s
}

func number(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case float64:
		return n
	case uint64:
		return float64(n)
	}
	return 0
}

// Flows counts an agent's captured flows by capture and application.
type Flows struct {
	flows   *prometheus.CounterVec
	packets *prometheus.CounterVec
	bytes   *prometheus.CounterVec
	rtt     *prometheus.HistogramVec
}

// Agent returns an agent's registry: its interfaces (from g) and its
// captures' flows (fed through Flows.Observe).
func Agent(g *graph.Graph) (*prometheus.Registry, *Flows) {
	reg := newRegistry()
	reg.MustRegister(interfaces{g: g})
	labels := []string{"capture", "application"}
	f := &Flows{
		flows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skydive_capture_flows_total",
			Help: "Flows created by the capture."}, labels),
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skydive_capture_packets_total",
			Help: "Packets of the capture's flows, both directions."}, labels),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skydive_capture_bytes_total",
			Help: "Bytes of the capture's flows, both directions."}, labels),
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skydive_capture_flow_rtt_seconds",
			Help:    "Round-trip time of the capture's flows (TCP handshake, ICMP echo), once per flow.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10)}, labels),
	}
	reg.MustRegister(f.flows, f.packets, f.bytes, f.rtt)
	return reg, f
}

// Observe counts a batch of flow updates of a capture: each flow's packets
// and bytes since the last update, a flow whose first update it is, and its
// RTT when first known.
func (f *Flows) Observe(captureID string, flows []*flow.Flow) {
	for _, fl := range flows {
		app := fl.Application
		if app == "" {
			app = "unknown"
		}
		lu, m := fl.LastUpdateMetric, fl.Metric
		if lu == nil || m == nil {
			continue
		}
		first := lu.Start == m.Start
		if first {
			f.flows.WithLabelValues(captureID, app).Inc()
		}
		f.packets.WithLabelValues(captureID, app).Add(float64(lu.ABPackets + lu.BAPackets))
		f.bytes.WithLabelValues(captureID, app).Add(float64(lu.ABBytes + lu.BABytes))
		if m.RTT > 0 && (first || lu.RTT > 0) {
			f.rtt.WithLabelValues(captureID, app).Observe(time.Duration(m.RTT).Seconds())
		}
	}
}

// AnalyzerSources are what an analyzer's gauges read at scrape time.
type AnalyzerSources struct {
	Graph *graph.Graph
	// Agents returns the number of connected agents.
	Agents func() int
	// Store returns the store's queue depth and its drops (nil: no store).
	Store func() (queued, maxQueued int, droppedFlows, droppedRevisions uint64)
}

// Analyzer is an analyzer's own health.
type Analyzer struct {
	graphEvents   *prometheus.CounterVec
	flowUpdates   prometheus.Counter
	queryDuration *prometheus.HistogramVec
}

// NewAnalyzer returns an analyzer's registry and the instruments its
// components feed. The graph's events are counted from now.
func NewAnalyzer(src AnalyzerSources) (*prometheus.Registry, *Analyzer, func()) {
	reg := newRegistry()
	a := &Analyzer{
		graphEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skydive_graph_events_total",
			Help: "Changes of the merged graph, by kind (NodeAdded, EdgeUpdated ...)."}, []string{"type"}),
		flowUpdates: prometheus.NewCounter(prometheus.CounterOpts{Name: "skydive_flow_updates_total",
			Help: "Flow updates received from the agents."}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skydive_query_duration_seconds",
			Help: "Time to answer Gremlin queries, by outcome.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"outcome"}),
	}
	reg.MustRegister(a.graphEvents, a.flowUpdates, a.queryDuration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skydive_graph_nodes", Help: "Nodes of the merged graph."},
			func() float64 { n, _ := src.Graph.Len(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skydive_graph_edges", Help: "Edges of the merged graph."},
			func() float64 { _, e := src.Graph.Len(); return float64(e) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skydive_agents_connected", Help: "Agents connected to this analyzer."},
			func() float64 { return float64(src.Agents()) }))
	if src.Store != nil {
		reg.MustRegister(storeCollector{src.Store})
	}
	remove := src.Graph.AddListener(func(ev graph.Event) { a.graphEvents.WithLabelValues(ev.Type.String()).Inc() })
	return reg, a, remove
}

// FlowUpdates counts n flow updates.
func (a *Analyzer) FlowUpdates(n int) { a.flowUpdates.Add(float64(n)) }

// Query records a query's duration.
func (a *Analyzer) Query(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	a.queryDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

var (
	storeQueued  = prometheus.NewDesc("skydive_store_queue_depth", "Flows and topology revisions waiting to be written.", nil, nil)
	storeMax     = prometheus.NewDesc("skydive_store_queue_capacity", "Bound of the store's queue.", nil, nil)
	storeDropped = prometheus.NewDesc("skydive_store_dropped_total", "Items the store dropped (queue full), by kind.", []string{"kind"}, nil)
)

type storeCollector struct {
	read func() (queued, maxQueued int, droppedFlows, droppedRevisions uint64)
}

func (s storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeQueued
	ch <- storeMax
	ch <- storeDropped
}

func (s storeCollector) Collect(ch chan<- prometheus.Metric) {
	q, maxQ, df, dr := s.read()
	ch <- prometheus.MustNewConstMetric(storeQueued, prometheus.GaugeValue, float64(q))
	ch <- prometheus.MustNewConstMetric(storeMax, prometheus.GaugeValue, float64(maxQ))
	ch <- prometheus.MustNewConstMetric(storeDropped, prometheus.CounterValue, float64(df), "flow")
	ch <- prometheus.MustNewConstMetric(storeDropped, prometheus.CounterValue, float64(dr), "revision")
}

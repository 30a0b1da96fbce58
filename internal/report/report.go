// Package report makes the tenant traffic report: bytes and packets per
// Neutron project (tenant) and per application over a time window, from the
// stored flows.
//
// A flow belongs to the tenant of the interface it was captured on (its
// NodeTID → the graph node with that TID → Neutron.TenantID) or, when that
// node has none, to the tenant of the interface owning its Network.A or
// Network.B address (node IPV4/IPV6 or Neutron.IPV4/IPV6) that has Neutron
// metadata. Flows of no tenant are under "". A flow seen by several captures
// (one TrackingID) counts once.
package report

import (
	"context"
	"encoding/csv"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
)

// Row is one line of the report.
type Row struct {
	Tenant      string `json:"Tenant"`
	Application string `json:"Application"`
	Packets     int64  `json:"Packets"`
	Bytes       int64  `json:"Bytes"`
	Flows       int64  `json:"Flows"`
}

// Answer is GET /api/report/tenants' JSON: the rows, and the reasons they
// may be short (agents away, captures dropping, store losses in the window).
type Answer struct {
	Rows       []Row    `json:"Rows"`
	Incomplete []string `json:"Incomplete"`
}

// Tenants tells a flow's tenant from the graph's nodes.
type Tenants struct {
	byTID map[string]string
	byIP  map[string]string
}

// NewTenants indexes the nodes' Neutron tenants by TID and by address.
func NewTenants(nodes []*graph.Node) *Tenants {
	t := &Tenants{byTID: map[string]string{}, byIP: map[string]string{}}
	for _, n := range nodes {
		m := n.Metadata
		if m == nil {
			continue
		}
		tenant := stringAt(m, "Neutron.TenantID")
		if tenant == "" {
			continue
		}
		if tid := m.String("TID"); tid != "" {
			t.byTID[tid] = tenant
		}
		for _, k := range []string{"IPV4", "IPV6", "Neutron.IPV4", "Neutron.IPV6"} {
			v, ok := m.Get(k)
			if !ok {
				continue
			}
			for _, a := range addrs(v) {
				if _, dup := t.byIP[a]; !dup {
					t.byIP[a] = tenant
				}
			}
		}
	}
	return t
}

func stringAt(m graph.Metadata, path string) string {
	v, ok := m.Get(path)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

// addrs reads addresses ("10.0.0.1" or "10.0.0.1/24") from a string or a
// list of them, normalized.
func addrs(v any) []string {
	var out []string
	add := func(s string) {
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap().String())
		}
	}
	switch t := v.(type) {
	case string:
		add(t)
	case []string:
		for _, s := range t {
			add(s)
		}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return out
}

func normAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

// Of returns the tenant of f, "" when none.
func (t *Tenants) Of(f *flow.Flow) string {
	if x := t.byTID[f.NodeTID]; x != "" && f.NodeTID != "" {
		return x
	}
	if f.Network != nil {
		if x := t.byIP[normAddr(f.Network.A)]; x != "" {
			return x
		}
		if x := t.byIP[normAddr(f.Network.B)]; x != "" {
			return x
		}
	}
	return ""
}

// Source is what the report reads of the flow store.
type Source interface {
	Flows(ctx context.Context, q flowstore.Query) ([]*flow.Flow, error)
	Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error)
}

// Build makes the report of the flows alive in w. A flow started within w
// counts with its whole Metric; one started before counts with its metric
// updates within w (its whole Metric when none is kept).
func Build(ctx context.Context, src Source, nodes []*graph.Node, w flowstore.Window) ([]Row, error) {
	flows, err := src.Flows(ctx, flowstore.Query{Window: &w})
	if err != nil {
		return nil, err
	}
	var older []string
	fromMs := w.From.UnixMilli()
	for _, f := range flows {
		if f.Start < fromMs {
			older = append(older, f.UUID)
		}
	}
	var hist map[string][]flow.Metric
	if len(older) > 0 {
		if hist, err = src.Metrics(ctx, older, &w); err != nil {
			return nil, err
		}
	}
	return Aggregate(flows, hist, fromMs, NewTenants(nodes)), nil
}

type counted struct {
	tenant, app    string
	packets, bytes int64
}

// Aggregate sums flows per tenant and application, one per TrackingID (the
// capture that counted the most bytes; the tenant of any of them).
func Aggregate(flows []*flow.Flow, hist map[string][]flow.Metric, fromMs int64, tenants *Tenants) []Row {
	byTrack := map[string]*counted{}
	var order []string
	for _, f := range flows {
		p, b := volume(f, hist, fromMs)
		key := f.TrackingID
		if key == "" {
			key = "uuid:" + f.UUID
		}
		tenant := tenants.Of(f)
		c := byTrack[key]
		if c == nil {
			byTrack[key] = &counted{tenant: tenant, app: f.Application, packets: p, bytes: b}
			order = append(order, key)
			continue
		}
		if b > c.bytes || (b == c.bytes && p > c.packets) {
			c.packets, c.bytes = p, b
		}
		if c.tenant == "" {
			c.tenant = tenant
		}
		if c.app == "" {
			c.app = f.Application
		}
	}
	rows := map[[2]string]*Row{}
	for _, k := range order {
		c := byTrack[k]
		rk := [2]string{c.tenant, c.app}
		r := rows[rk]
		if r == nil {
			r = &Row{Tenant: c.tenant, Application: c.app}
			rows[rk] = r
		}
		r.Packets += c.packets
		r.Bytes += c.bytes
		r.Flows++
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Application < out[j].Application
	})
	return out
}

func volume(f *flow.Flow, hist map[string][]flow.Metric, fromMs int64) (packets, bytes int64) {
	if f.Start < fromMs {
		if ms, ok := hist[f.UUID]; ok {
			for _, m := range ms {
				packets += m.ABPackets + m.BAPackets
				bytes += m.ABBytes + m.BABytes
			}
			return packets, bytes
		}
	}
	if m := f.Metric; m != nil {
		return m.ABPackets + m.BAPackets, m.ABBytes + m.BABytes
	}
	return 0, 0
}

// TenantName is how a tenant shows: "(none)" for "".
func TenantName(t string) string {
	if t == "" {
		return "(none)"
	}
	return t
}

// CSVHeader is the first line of WriteCSV.
var CSVHeader = []string{"Tenant", "Application", "Packets", "Bytes", "Flows"}

// WriteCSV writes rows as CSV with a header line; the tenant "" is "(none)".
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{TenantName(r.Tenant), r.Application, strconv.FormatInt(r.Packets, 10),
			strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(r.Flows, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

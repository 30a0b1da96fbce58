package flowsteps

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
)

// getter reads a field of a flow: int64, string or bool values, or a
// []any for the Network/Link/Transport shortcuts (A or B).
type getter func(f *flow.Flow) (any, bool)

// fieldGetter compiles a dotted flow key ("Network.A", "Metric.ABPackets",
// "ICMP.Type" ...) with the names of the JSON flow record. Keys not known
// here (DNS.*, TCPMetric.* ...) are read from the flow's JSON form.
func fieldGetter(key string) getter {
	key = strings.TrimPrefix(key, "Metadata.")
	if g := knownField(key); g != nil {
		return g
	}
	return func(f *flow.Flow) (any, bool) {
		return graph.Metadata(jsonMap(f)).Get(key)
	}
}

func jsonMap(f *flow.Flow) map[string]any {
	b, err := json.Marshal(f)
	if err != nil {
		return nil
	}
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return nil
	}
	return normalize(m).(map[string]any)
}

// normalize turns json.Numbers into int64 (or float64).
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

func str(s string) (any, bool) { return s, true }

func layerGetter(get func(f *flow.Flow) *flow.FlowLayer, field string) getter {
	return func(f *flow.Flow) (any, bool) {
		l := get(f)
		if l == nil {
			return nil, false
		}
		switch field {
		case "":
			return []any{l.A, l.B}, true
		case "A":
			return l.A, true
		case "B":
			return l.B, true
		case "ID":
			return l.ID, true
		case "Protocol":
			return l.Protocol.String(), true
		}
		return nil, false
	}
}

func metricGetter(get func(f *flow.Flow) *flow.Metric, field string) getter {
	var fn func(m *flow.Metric) int64
	switch field {
	case "ABPackets":
		fn = func(m *flow.Metric) int64 { return m.ABPackets }
	case "ABBytes":
		fn = func(m *flow.Metric) int64 { return m.ABBytes }
	case "BAPackets":
		fn = func(m *flow.Metric) int64 { return m.BAPackets }
	case "BABytes":
		fn = func(m *flow.Metric) int64 { return m.BABytes }
	case "Start":
		fn = func(m *flow.Metric) int64 { return m.Start }
	case "Last":
		fn = func(m *flow.Metric) int64 { return m.Last }
	case "RTT":
		fn = func(m *flow.Metric) int64 { return m.RTT }
	default:
		return nil
	}
	return func(f *flow.Flow) (any, bool) {
		m := get(f)
		if m == nil {
			return nil, false
		}
		return fn(m), true
	}
}

// knownField returns a direct getter for the common keys, nil otherwise.
func knownField(key string) getter {
	head, rest, _ := strings.Cut(key, ".")
	switch head {
	case "UUID":
		return func(f *flow.Flow) (any, bool) { return f.UUID, f.UUID != "" }
	case "LayersPath":
		return func(f *flow.Flow) (any, bool) { return f.LayersPath, f.LayersPath != "" }
	case "Application":
		return func(f *flow.Flow) (any, bool) { return f.Application, f.Application != "" }
	case "TrackingID":
		return func(f *flow.Flow) (any, bool) { return f.TrackingID, f.TrackingID != "" }
	case "L3TrackingID":
		return func(f *flow.Flow) (any, bool) { return f.L3TrackingID, f.L3TrackingID != "" }
	case "ParentUUID":
		return func(f *flow.Flow) (any, bool) { return str(f.ParentUUID) }
	case "NodeTID":
		return func(f *flow.Flow) (any, bool) { return f.NodeTID, f.NodeTID != "" }
	case "CaptureID":
		return func(f *flow.Flow) (any, bool) { return f.CaptureID, f.CaptureID != "" }
	case "Start":
		return func(f *flow.Flow) (any, bool) { return f.Start, true }
	case "Last":
		return func(f *flow.Flow) (any, bool) { return f.Last, true }
	case "FinishType":
		return func(f *flow.Flow) (any, bool) { return int64(f.FinishType), true }
	case "RawPacketsCaptured":
		return func(f *flow.Flow) (any, bool) { return f.RawPacketsCaptured, true }
	case "Link":
		if rest == "" || slices.Contains([]string{"A", "B", "ID", "Protocol"}, rest) {
			return layerGetter(func(f *flow.Flow) *flow.FlowLayer { return f.Link }, rest)
		}
	case "Network":
		if rest == "" || slices.Contains([]string{"A", "B", "ID", "Protocol"}, rest) {
			return layerGetter(func(f *flow.Flow) *flow.FlowLayer { return f.Network }, rest)
		}
	case "Transport":
		get := func(f *flow.Flow) (*flow.TransportLayer, bool) { return f.Transport, f.Transport != nil }
		switch rest {
		case "":
			return func(f *flow.Flow) (any, bool) {
				t, ok := get(f)
				if !ok {
					return nil, false
				}
				return []any{t.A, t.B}, true
			}
		case "A":
			return func(f *flow.Flow) (any, bool) {
				t, ok := get(f)
				if !ok {
					return nil, false
				}
				return t.A, true
			}
		case "B":
			return func(f *flow.Flow) (any, bool) {
				t, ok := get(f)
				if !ok {
					return nil, false
				}
				return t.B, true
			}
		case "ID":
			return func(f *flow.Flow) (any, bool) {
				t, ok := get(f)
				if !ok {
					return nil, false
				}
				return t.ID, true
			}
		case "Protocol":
			return func(f *flow.Flow) (any, bool) {
				t, ok := get(f)
				if !ok {
					return nil, false
				}
				return t.Protocol.String(), true
			}
		}
	case "ICMP":
		switch rest {
		case "Type":
			return func(f *flow.Flow) (any, bool) {
				if f.ICMP == nil {
					return nil, false
				}
				return f.ICMP.Type.String(), true
			}
		case "Code":
			return func(f *flow.Flow) (any, bool) {
				if f.ICMP == nil {
					return nil, false
				}
				return int64(f.ICMP.Code), true
			}
		case "ID":
			return func(f *flow.Flow) (any, bool) {
				if f.ICMP == nil {
					return nil, false
				}
				return int64(f.ICMP.ID), true
			}
		}
	case "Metric":
		return metricGetter(func(f *flow.Flow) *flow.Metric { return f.Metric }, rest)
	case "LastUpdateMetric":
		return metricGetter(func(f *flow.Flow) *flow.Metric { return f.LastUpdateMetric }, rest)
	}
	return nil
}

// flowKeys returns the dotted keys of a flow's JSON form.
func flowKeys(f *flow.Flow) []string {
	return graph.Metadata(jsonMap(f)).Keys()
}

package flowsteps

import (
	"encoding/json"
	"io"
	"maps"
	"slices"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
)

// Kinds produced by the flow steps.
const (
	KindFlows      eval.Kind = "flows"
	KindMetrics    eval.Kind = "flowmetrics"
	KindRawPackets eval.Kind = "rawpackets"
	KindGroups     eval.Kind = "flowgroups"
)

// Flows is a list of flows; JSON: an array of flow records.
type Flows []*flow.Flow

// Kind implements eval.Value.
func (Flows) Kind() eval.Kind { return KindFlows }

// MarshalJSON writes an array, never null.
func (f Flows) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]*flow.Flow(f))
}

// Metrics are flow metrics by flow UUID; JSON [{"<uuid>":[metric...]}],
// [] when empty.
type Metrics map[string][]flow.Metric

// Kind implements eval.Value.
func (Metrics) Kind() eval.Kind { return KindMetrics }

// MarshalJSON writes the one-element array of the original.
func (m Metrics) MarshalJSON() ([]byte, error) { return wrapMap(m) }

// RawPackets are raw packets by flow UUID; JSON
// [{"<uuid>":[{Timestamp,Index,Data,LinkType}...]}], [] when empty.
type RawPackets map[string][]rawpacket.Packet

// Kind implements eval.Value.
func (RawPackets) Kind() eval.Kind { return KindRawPackets }

// MarshalJSON writes the one-element array of the original.
func (r RawPackets) MarshalJSON() ([]byte, error) { return wrapMap(r) }

// WritePcap writes the packets as one pcap file (flows in UUID order),
// what the API returns for "Accept: application/vnd.tcpdump.pcap".
func (r RawPackets) WritePcap(w io.Writer) error {
	var all []rawpacket.Packet
	for _, id := range slices.Sorted(maps.Keys(r)) {
		all = append(all, r[id]...)
	}
	return rawpacket.WritePcap(w, all)
}

// Groups are flows grouped by a key; JSON [{"<value>":[flows]}].
type Groups map[string]Flows

// Kind implements eval.Value.
func (Groups) Kind() eval.Kind { return KindGroups }

// MarshalJSON writes the one-element array of the original.
func (g Groups) MarshalJSON() ([]byte, error) { return wrapMap(g) }

func wrapMap[M ~map[string]V, V any](m M) ([]byte, error) {
	if len(m) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]map[string]V{m})
}

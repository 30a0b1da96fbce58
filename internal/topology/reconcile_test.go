package topology

import (
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
)

func TestTouches(t *testing.T) {
	node := func(m graph.Metadata) *graph.Node { return &graph.Node{Element: graph.Element{ID: "n", Metadata: m}} }
	tap := graph.Metadata{"Name": "tap1", "MAC": "fa:16:3e:00:00:01", "ExtID": map[string]any{"iface-id": "p1"}, "Metric": map[string]any{"RxPackets": int64(1)}}
	counted := tap.Clone()
	counted["Metric"] = map[string]any{"RxPackets": int64(2)}
	renamed := tap.Clone()
	renamed["ExtID"] = map[string]any{"iface-id": "p2"}
	for _, tc := range []struct {
		name string
		ev   graph.Event
		keys []string
		want bool
	}{
		{"added with the key", graph.Event{Type: graph.NodeAdded, Node: node(tap)}, []string{"MAC"}, true},
		{"added without", graph.Event{Type: graph.NodeAdded, Node: node(tap)}, []string{"PeerIntfMAC"}, false},
		{"deleted with the key", graph.Event{Type: graph.NodeDeleted, Node: node(tap)}, []string{"ExtID.iface-id"}, true},
		{"counters only", graph.Event{Type: graph.NodeUpdated, Node: node(counted), OldNode: node(tap)}, []string{"MAC", "ExtID.iface-id"}, false},
		{"nested key changed", graph.Event{Type: graph.NodeUpdated, Node: node(renamed), OldNode: node(tap)}, []string{"ExtID.iface-id"}, true},
		{"key removed", graph.Event{Type: graph.NodeUpdated, Node: node(graph.Metadata{"Name": "tap1"}), OldNode: node(tap)}, []string{"MAC"}, true},
		{"edge", graph.Event{Type: graph.EdgeAdded, Edge: &graph.Edge{}}, []string{"MAC"}, false},
	} {
		if got := Touches(tc.ev, tc.keys...); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	own := &graph.Edge{Element: graph.Element{Metadata: graph.Metadata{graph.KeyRelationType: OwnershipLink}}}
	if !EdgeOf(graph.Event{Type: graph.EdgeAdded, Edge: own}, OwnershipLink) || EdgeOf(graph.Event{Type: graph.EdgeUpdated, Edge: own}, OwnershipLink) ||
		EdgeOf(graph.Event{Type: graph.EdgeDeleted, Edge: own}, Layer2Link) {
		t.Error("EdgeOf")
	}
}

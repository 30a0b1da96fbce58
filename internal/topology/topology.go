// Package topology names the node types, edge relations and metadata keys of
// Skydive's topology model, and gives probes the small set of writes they all
// need (stable IDs, ownership and layer2 links).
package topology

import (
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Relation types of edges, as the original names them.
const (
	OwnershipLink = "ownership"
	Layer2Link    = "layer2"
)

// Node types.
const (
	TypeHost  = "host"
	TypeNetns = "netns"
	TypeVeth  = "veth"
)

// Metadata keys.
const (
	KeyTID        = "TID"
	KeyIfIndex    = "IfIndex"
	KeyPath       = "Path"
	KeyState      = "State"
	KeyMTU        = "MTU"
	KeyMAC        = "MAC"
	KeyIPV4       = "IPV4"
	KeyIPV6       = "IPV6"
	KeyPeerIndex  = "PeerIfIndex"
	KeyMaster     = "MasterIndex"
	KeyMetric     = "Metric"
	KeyLastMetric = "LastUpdateMetric"
	KeyCaptures   = "Captures"
)

// namespace of the deterministic (v5) IDs, the ISO OID namespace as the original uses.
var idNamespace = uuid.NameSpaceOID

// GenID returns a deterministic ID made from parts.
func GenID(parts ...string) graph.Identifier {
	return graph.Identifier(uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "/"))).String())
}

// EdgeID is the deterministic ID of the edge parent -> child of a relation.
func EdgeID(parent, child graph.Identifier, relation string) graph.Identifier {
	return GenID(string(parent), string(child), relation)
}

// Writer stamps the elements one source creates with its host and origin.
type Writer struct {
	G      *graph.Graph
	Host   string
	Origin string
}

// AddNode creates a node, or replaces the metadata of the existing one
// (but for the capture state, which the capture manager owns).
func (w *Writer) AddNode(id graph.Identifier, m graph.Metadata) error {
	if w.G.Node(id) != nil {
		return w.replace(id, m)
	}
	err := w.G.AddNode(&graph.Node{Element: graph.Element{ID: id, Metadata: m, Host: w.Host, Origin: w.Origin}})
	if errors.Is(err, graph.ErrExists) { // raced with another writer of the same node
		return w.replace(id, m)
	}
	return err
}

func (w *Writer) replace(id graph.Identifier, m graph.Metadata) error {
	return w.G.UpdateNodeMetadata(id, func(cur graph.Metadata) bool {
		captures, kept := cur[KeyCaptures]
		for k := range cur {
			delete(cur, k)
		}
		for k, v := range m {
			cur[k] = v
		}
		if _, set := m[KeyCaptures]; kept && !set {
			cur[KeyCaptures] = captures
		}
		return true
	})
}

// Link ensures the edge parent -> child of relation exists with the extra
// metadata, and returns its ID.
func (w *Writer) Link(parent, child graph.Identifier, relation string, extra graph.Metadata) (graph.Identifier, error) {
	id := EdgeID(parent, child, relation)
	m := graph.Metadata{graph.KeyRelationType: relation}
	for k, v := range extra {
		m[k] = v
	}
	if w.G.Edge(id) != nil {
		return id, w.G.UpdateEdgeMetadata(id, func(cur graph.Metadata) bool {
			for k, v := range m {
				cur[k] = v
			}
			return true
		})
	}
	err := w.G.AddEdge(&graph.Edge{Element: graph.Element{ID: id, Metadata: m, Host: w.Host, Origin: w.Origin}, Parent: parent, Child: child})
	if errors.Is(err, graph.ErrExists) {
		return id, nil
	}
	return id, err
}

// Unlink removes the edge parent -> child of relation, if present.
func (w *Writer) Unlink(parent, child graph.Identifier, relation string) {
	_ = w.G.DeleteEdge(EdgeID(parent, child, relation))
}

// DeleteSubtree removes a node and every node it owns, transitively.
func (w *Writer) DeleteSubtree(root graph.Identifier) {
	var ids []graph.Identifier
	seen := map[graph.Identifier]bool{}
	var walk func(graph.Identifier)
	walk = func(id graph.Identifier) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, e := range w.G.OutEdges(id) {
			if e.Metadata.String(graph.KeyRelationType) == OwnershipLink {
				walk(e.Child)
			}
		}
		ids = append(ids, id)
	}
	walk(root)
	for _, id := range ids {
		_ = w.G.DeleteNode(id)
	}
}

package netlink

import (
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// VethEnd is what one namespace knows of a veth: its index, and its peer's
// index in the namespace the kernel names by a namespace ID.
type VethEnd struct {
	Ns          string // namespace path, "" for the agent's own
	IfIndex     int
	PeerNs      string // resolved namespace of the peer; "?nsid" when not yet known
	PeerIfIndex int
	Writer      *topology.Writer
}

type endKey struct {
	ns      string
	ifindex int
}

// VethLinker joins the two ends of every veth with a layer2 edge, even when
// they live in different namespaces watched by different probes. The kernel
// tells each end only the peer's ifindex and a namespace ID local to its own
// namespace, so the linker keeps every watched namespace's handle to turn
// those IDs into namespaces.
type VethLinker struct {
	mu         sync.Mutex
	namespaces map[string]netns.NsHandle
	ends       map[graph.Identifier]VethEnd
	byKey      map[endKey]graph.Identifier
	paired     map[graph.Identifier]graph.Identifier
	watchers   map[int]chan<- struct{}
	nextWatch  int
}

// NewVethLinker returns an empty linker.
func NewVethLinker() *VethLinker {
	return &VethLinker{
		namespaces: map[string]netns.NsHandle{},
		ends:       map[graph.Identifier]VethEnd{},
		byKey:      map[endKey]graph.Identifier{},
		paired:     map[graph.Identifier]graph.Identifier{},
		watchers:   map[int]chan<- struct{}{},
	}
}

// Watch asks for a token on ch (never blocking: a buffered channel of one
// is enough) whenever a namespace is added, so that a probe can resolve
// the peer namespaces it did not know. stop ends the watch.
func (v *VethLinker) Watch(ch chan<- struct{}) (stop func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := v.nextWatch
	v.nextWatch++
	v.watchers[id] = ch
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		delete(v.watchers, id)
	}
}

// AddNamespace registers a watched namespace; ends waiting for it are linked.
func (v *VethLinker) AddNamespace(path string, h netns.NsHandle) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.namespaces[path] = h
	for id, e := range v.ends {
		if e.PeerNs == "?nsid" {
			v.relinkLocked(id)
		}
	}
	for _, ch := range v.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// RemoveNamespace forgets a namespace.
func (v *VethLinker) RemoveNamespace(path string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.namespaces, path)
}

// NamespaceOf resolves a namespace ID seen from the namespace of h.
func (v *VethLinker) NamespaceOf(h *netlink.Handle, nsid int) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for path, nh := range v.namespaces {
		if id, err := h.GetNetNsIdByFd(int(nh)); err == nil && id == nsid {
			return path, true
		}
	}
	return "", false
}

// Set records or updates one end and links it to its peer when known.
func (v *VethLinker) Set(id graph.Identifier, e VethEnd) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.ends[id]; ok {
		delete(v.byKey, endKey{old.Ns, old.IfIndex})
	}
	v.ends[id] = e
	v.byKey[endKey{e.Ns, e.IfIndex}] = id
	v.relinkLocked(id)
	// The peer may have been waiting for this end.
	if peer, ok := v.byKey[endKey{e.PeerNs, e.PeerIfIndex}]; ok {
		v.relinkLocked(peer)
	}
}

// Remove forgets an end (its node's edges go with the node).
func (v *VethLinker) Remove(id graph.Identifier) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.ends[id]
	if !ok {
		return
	}
	delete(v.ends, id)
	if v.byKey[endKey{e.Ns, e.IfIndex}] == id {
		delete(v.byKey, endKey{e.Ns, e.IfIndex})
	}
	v.unpairLocked(id)
}

func (v *VethLinker) unpairLocked(id graph.Identifier) {
	peer, ok := v.paired[id]
	if !ok {
		return
	}
	delete(v.paired, id)
	delete(v.paired, peer)
	if e, ok := v.ends[id]; ok {
		parent, child := order(id, peer)
		e.Writer.Unlink(parent, child, topology.Layer2Link)
	} else if e, ok := v.ends[peer]; ok {
		parent, child := order(id, peer)
		e.Writer.Unlink(parent, child, topology.Layer2Link)
	}
}

func order(a, b graph.Identifier) (graph.Identifier, graph.Identifier) {
	if a < b {
		return a, b
	}
	return b, a
}

func (v *VethLinker) relinkLocked(id graph.Identifier) {
	e := v.ends[id]
	peer, ok := v.byKey[endKey{e.PeerNs, e.PeerIfIndex}]
	if !ok || peer == id {
		v.unpairLocked(id)
		return
	}
	pe := v.ends[peer]
	// Both ends must name each other: ifindexes repeat across namespaces.
	if pe.PeerIfIndex != e.IfIndex || (pe.PeerNs != e.Ns && pe.PeerNs != "?nsid") {
		return
	}
	if v.paired[id] == peer {
		return
	}
	v.unpairLocked(id)
	v.unpairLocked(peer)
	parent, child := order(id, peer)
	if _, err := e.Writer.Link(parent, child, topology.Layer2Link, graph.Metadata{"Type": "veth"}); err == nil {
		v.paired[id] = peer
		v.paired[peer] = id
	}
}

package replicate

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// ReplicationPath is the analyzers' endpoint for their peers.
const ReplicationPath = "/ws/replication"

// Messages of /ws/replication (namespace Graph), besides the graph events
// (NodeAdded ... EdgeDeleted, each element carrying its Origin).
const (
	// PeerSyncMsgType carries every local origin of the sender (PeerSync):
	// the receiver makes its copy of the sender's origins equal to it.
	PeerSyncMsgType = "Sync"
	// OriginSyncMsgType carries one origin (OriginSync): the sender holds
	// it now (an agent connected to it).
	OriginSyncMsgType = "OriginSync"
)

// PeerSync is the Obj of a peer's Sync: its local origins' elements.
type PeerSync struct {
	Origins map[string]GraphObj `json:"Origins"`
}

// OriginSync is the Obj of an OriginSync message.
type OriginSync struct {
	Origin string        `json:"Origin"`
	Nodes  []*graph.Node `json:"Nodes"`
	Edges  []*graph.Edge `json:"Edges"`
}

// PeersOptions configure an analyzer's replication with its peers.
type PeersOptions struct {
	Graph *graph.Graph
	// HostID is this analyzer's host ID: its own elements' origin is
	// analyzer.<HostID>.
	HostID string
	// Listen is this analyzer's address, skipped in Analyzers.
	Listen string
	// Analyzers lists the analyzers of the cluster (host:port), this one
	// among them or not.
	Analyzers []string
	// Agents are the agents connected here: their subgraphs are local.
	Agents *Server
	// TLS, when set, dials the peers with wss:// and this configuration.
	TLS *tls.Config
	// Username and Password are the cluster credentials (Basic).
	Username, Password string
	// PingDelay and PongWait are the websocket keep-alive (defaults 2 s and
	// 10 s).
	PingDelay, PongWait time.Duration
	// QueueSize bounds the events waiting for a slow peer; beyond it the
	// connection starts over with a Sync (default 10000).
	QueueSize int
	// MaxBackoff bounds the wait between two dials of a peer (default 2 s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Peers replicates the graph between analyzers: it connects to every other
// analyzer and sends there the elements of its local origins (its agents'
// subgraphs and its own analyzer.<host> elements): a Sync, then their
// changes. From the peers connected to it, it takes theirs; when a peer's
// connection ends, that peer's origins leave the graph. An origin belongs
// to the peer that last sent it whole (Sync, OriginSync): the events of an
// agent's former analyzer that arrive late are ignored. A local element
// wins over a peer's of the same ID (the analyzers' own probes make the
// same nodes on each).
type Peers struct {
	opts PeersOptions
	log  *slog.Logger

	mu       sync.Mutex
	owners   map[string]*peerIn // origin -> the connection it came from
	incomers map[string]*peerIn // host -> connection
	outgoers map[string]v1.ConnStatus
	sessions map[*peerOut]struct{}
}

// peerIn is a connection from a peer.
type peerIn struct {
	host   string
	conn   *websocket.Conn
	status v1.ConnStatus
}

// peerOut is a connection to a peer: its queue of graph events and claims.
type peerOut struct {
	queue    chan peerItem
	overflow chan struct{}
	once     sync.Once
}

type peerItem struct {
	ev    graph.Event
	claim string // an origin to send whole, instead of ev
}

func (o *peerOut) push(it peerItem) {
	select {
	case o.queue <- it:
	default:
		// The peer is too slow: start over with a Sync rather than lose a
		// change.
		o.once.Do(func() { close(o.overflow) })
	}
}

// NewPeers returns the replication of an analyzer; serve it on
// ReplicationPath and Run it.
func NewPeers(opts PeersOptions) *Peers {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PingDelay <= 0 {
		opts.PingDelay = 2 * time.Second
	}
	if opts.PongWait <= 0 {
		opts.PongWait = 10 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Second
	}
	return &Peers{opts: opts, log: opts.Logger.With("component", "replication"), owners: map[string]*peerIn{},
		incomers: map[string]*peerIn{}, outgoers: map[string]v1.ConnStatus{}, sessions: map[*peerOut]struct{}{}}
}

// Addrs are the peers this analyzer connects to.
func (p *Peers) Addrs() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range p.opts.Analyzers {
		a = strings.TrimSpace(a)
		if a == "" || a == p.opts.Listen || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// Connected tells whether the agent of host is connected here now.
func (s *Server) Connected(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.agents[host]
	return ok
}

// IsLocal tells whether origin is held here: this analyzer's own elements,
// or the subgraph of an agent connected here.
func (p *Peers) IsLocal(origin string) bool {
	if origin == "analyzer."+p.opts.HostID {
		return true
	}
	host, ok := strings.CutPrefix(origin, "agent.")
	return ok && p.opts.Agents != nil && p.opts.Agents.Connected(host)
}

// LocalOrigins lists the origins held here.
func (p *Peers) LocalOrigins() []string {
	out := []string{"analyzer." + p.opts.HostID}
	if p.opts.Agents != nil {
		for host := range p.opts.Agents.Agents() {
			out = append(out, "agent."+host)
		}
	}
	return out
}

// Status is the Peers part of /api/status: the peers connected here
// (Incomers, by host ID) and those this analyzer connects to (Outgoers, by
// address).
func (p *Peers) Status() v1.Peers {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := v1.Peers{Incomers: map[string]v1.ConnStatus{}, Outgoers: map[string]v1.ConnStatus{}}
	for h, in := range p.incomers {
		st.Incomers[h] = in.status
	}
	for a, s := range p.outgoers {
		st.Outgoers[a] = s
	}
	return st
}

// OriginClaimed sends origin whole to every peer: this analyzer holds it
// now (an agent connected here and sent its graph).
func (p *Peers) OriginClaimed(origin string) {
	p.mu.Lock()
	delete(p.owners, origin)
	for o := range p.sessions {
		o.push(peerItem{claim: origin})
	}
	p.mu.Unlock()
}

// DropOrigin removes the subgraph of an origin no analyzer holds any more
// (its holder died: its lease expired), unless it is local.
func (p *Peers) DropOrigin(origin string) {
	if p.IsLocal(origin) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.owners, origin)
	n := p.opts.Graph.DeleteWhere(func(e *graph.Element) bool { return e.Origin == origin })
	if n > 0 {
		p.log.Info("subgraph of a lost origin removed", "origin", origin, "nodes", n)
	}
}

// RemoteOrigins lists the origins that came from peers, by peer host.
func (p *Peers) RemoteOrigins() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.owners))
	for o, in := range p.owners {
		out[o] = in.host
	}
	return out
}

// Run connects to every peer, and again after each loss, until ctx ends.
func (p *Peers) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, addr := range p.Addrs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.follow(ctx, addr)
		}()
	}
	wg.Wait()
	return nil
}

// errSelf is a peer address that is this analyzer.
var errSelf = errors.New("this analyzer")

func (p *Peers) follow(ctx context.Context, addr string) {
	backoff := 100 * time.Millisecond
	failures := 0
	for ctx.Err() == nil {
		connected, err := p.session(ctx, addr)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSelf) {
			p.log.Info("analyzers entry is this analyzer, skipped", "addr", addr)
			p.mu.Lock()
			delete(p.outgoers, addr)
			p.mu.Unlock()
			return
		}
		if connected {
			backoff, failures = 100*time.Millisecond, 0
			p.log.Warn("lost the peer, reconnecting", "peer", addr, "err", err)
		} else if failures++; failures == 1 {
			p.log.Warn("cannot reach the peer, retrying", "peer", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, p.opts.MaxBackoff)
	}
}

func (p *Peers) setOutgoer(addr string, s v1.ConnStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outgoers[addr] = s
}

// session runs one connection to the peer at addr.
func (p *Peers) session(ctx context.Context, addr string) (connected bool, err error) {
	u := url.URL{Scheme: "ws", Host: addr, Path: ReplicationPath}
	if p.opts.TLS != nil {
		u.Scheme = "wss"
	}
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: p.opts.TLS}
	conn, resp, err := dialer.DialContext(ctx, u.String(), ClientHeader(p.opts.HostID, "analyzer", p.opts.Username, p.opts.Password))
	if err != nil {
		if resp != nil {
			if resp.StatusCode == http.StatusConflict && resp.Header.Get(v1.HeaderHostID) == p.opts.HostID {
				return false, errSelf
			}
			return false, fmt.Errorf("dial %s: %s: %w", u.String(), resp.Status, err)
		}
		return false, fmt.Errorf("dial %s: %w", u.String(), err)
	}
	defer conn.Close()
	remote := addr
	if resp != nil && resp.Header.Get(v1.HeaderHostID) != "" {
		remote = resp.Header.Get(v1.HeaderHostID)
	}

	out := &peerOut{queue: make(chan peerItem, p.opts.QueueSize), overflow: make(chan struct{})}
	nodes, edges, remove := p.opts.Graph.SnapshotAndListen(func(ev graph.Event) {
		if p.IsLocal(eventOrigin(ev)) {
			out.push(peerItem{ev: ev})
		}
	})
	defer remove()
	p.mu.Lock()
	p.sessions[out] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.sessions, out)
		p.mu.Unlock()
	}()

	host, port := splitHostPort(conn.LocalAddr().String())
	p.setOutgoer(addr, v1.ConnStatus{ServiceType: "analyzer", ClientProtocol: "json", Addr: host, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: remote, RemoteServiceType: "analyzer"})
	defer func() {
		p.mu.Lock()
		if s, ok := p.outgoers[addr]; ok {
			s.IsConnected = false
			p.outgoers[addr] = s
		}
		p.mu.Unlock()
	}()

	sync := PeerSync{Origins: map[string]GraphObj{}}
	for _, n := range nodes {
		if p.IsLocal(n.Origin) {
			o := sync.Origins[n.Origin]
			o.Nodes = append(o.Nodes, n)
			sync.Origins[n.Origin] = o
		}
	}
	for _, e := range edges {
		if p.IsLocal(e.Origin) {
			o := sync.Origins[e.Origin]
			o.Edges = append(o.Edges, e)
			sync.Origins[e.Origin] = o
		}
	}
	if err := p.write(conn, PeerSyncMsgType, sync); err != nil {
		return true, fmt.Errorf("send sync: %w", err)
	}
	p.log.Info("replicating to peer", "peer", addr, "host", remote, "origins", len(sync.Origins))

	readErr := make(chan error, 1)
	_ = conn.SetReadDeadline(time.Now().Add(p.opts.PongWait))
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(p.opts.PongWait))
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "analyzer stopping"), time.Now().Add(time.Second))
			return true, nil
		case err := <-readErr:
			return true, fmt.Errorf("read: %w", err)
		case <-out.overflow:
			return true, errors.New("event queue overflow, resyncing")
		case it := <-out.queue:
			if it.claim != "" {
				if err := p.write(conn, OriginSyncMsgType, p.originSync(it.claim)); err != nil {
					return true, fmt.Errorf("send %s: %w", OriginSyncMsgType, err)
				}
				continue
			}
			msg, err := EventMessage(it.ev)
			if err != nil {
				return true, err
			}
			_ = conn.SetWriteDeadline(time.Now().Add(p.opts.PongWait))
			if err := conn.WriteJSON(msg); err != nil {
				return true, fmt.Errorf("send %s: %w", msg.Type, err)
			}
		}
	}
}

// originSync is an origin's elements now. The events queued after the
// claim are sent after it: replayed on it, they give the same final state
// (each event carries its whole element).
func (p *Peers) originSync(origin string) OriginSync {
	o := OriginSync{Origin: origin, Nodes: []*graph.Node{}, Edges: []*graph.Edge{}}
	for _, n := range p.opts.Graph.Nodes() {
		if n.Origin == origin {
			o.Nodes = append(o.Nodes, n)
		}
	}
	for _, e := range p.opts.Graph.Edges() {
		if e.Origin == origin {
			o.Edges = append(o.Edges, e)
		}
	}
	return o
}

func (p *Peers) write(conn *websocket.Conn, typ string, obj any) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(p.opts.PongWait))
	return conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: typ, Status: http.StatusOK, Obj: raw})
}

func eventOrigin(ev graph.Event) string {
	if ev.Node != nil {
		return ev.Node.Origin
	}
	if ev.Edge != nil {
		return ev.Edge.Origin
	}
	return ""
}

// ServeHTTP handles /ws/replication: a peer's Sync and changes.
func (p *Peers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := headerOrQuery(r, v1.HeaderHostID)
	w.Header().Set(v1.HeaderHostID, p.opts.HostID)
	if host == "" {
		http.Error(w, "missing "+v1.HeaderHostID+" header", http.StatusBadRequest)
		return
	}
	if host == p.opts.HostID {
		http.Error(w, "an analyzer does not replicate with itself", http.StatusConflict)
		return
	}
	respHeader := http.Header{}
	respHeader.Set(v1.HeaderServiceType, "analyzer")
	respHeader.Set(v1.HeaderHostID, p.opts.HostID)
	w.Header().Del(v1.HeaderHostID) // the upgrader writes respHeader
	conn, err := upgrader.Upgrade(w, r, respHeader)
	if err != nil {
		return
	}
	defer conn.Close()
	addr, port := splitHostPort(r.RemoteAddr)
	in := &peerIn{host: host, conn: conn, status: v1.ConnStatus{ServiceType: "analyzer", ClientProtocol: "json", Addr: addr, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: host, RemoteServiceType: "analyzer"}}
	p.mu.Lock()
	old := p.incomers[host]
	p.incomers[host] = in
	p.mu.Unlock()
	if old != nil {
		// The newer connection of a peer wins (the old one is half dead).
		_ = old.conn.Close()
	}
	log := p.log.With("peer", host)
	log.Info("peer connected", "addr", r.RemoteAddr)
	defer func() {
		p.mu.Lock()
		if p.incomers[host] == in {
			delete(p.incomers, host)
		}
		n := p.dropOwnedLocked(in)
		p.mu.Unlock()
		log.Info("peer disconnected, its subgraphs removed", "nodes", n)
	}()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(p.opts.PingDelay)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(p.opts.PongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(p.opts.PongWait)) })
	conn.SetReadLimit(256 << 20)
	var frames frameReader
	for {
		data, err := frames.next(conn)
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(p.opts.PongWait))
		if err := p.apply(in, data); err != nil {
			log.Warn("bad message from peer", "err", err)
		}
	}
}

// dropOwnedLocked removes the origins that came from in (and are not held
// here now); it returns how many nodes went.
func (p *Peers) dropOwnedLocked(in *peerIn) int {
	gone := map[string]bool{}
	for origin, owner := range p.owners {
		if owner == in {
			delete(p.owners, origin)
			if !p.IsLocal(origin) {
				gone[origin] = true
			}
		}
	}
	if len(gone) == 0 {
		return 0
	}
	return p.opts.Graph.DeleteWhere(func(e *graph.Element) bool { return gone[e.Origin] })
}

// takeLocked tells whether a message of in about origin applies: never to
// a local origin; a whole origin (claim) always takes it from another
// peer, an event only when in owns it (or no one does).
func (p *Peers) takeLocked(in *peerIn, origin string, claim bool) bool {
	if origin == "" || p.IsLocal(origin) {
		return false
	}
	owner := p.owners[origin]
	if owner == nil || owner == in || claim {
		p.owners[origin] = in
		return true
	}
	return false
}

// apply merges one message of a peer.
func (p *Peers) apply(in *peerIn, data []byte) error {
	var msg v1.Message
	if err := json.Unmarshal(data, &msg); err != nil {
		return fmt.Errorf("not a message: %w", err)
	}
	if msg.Namespace != v1.NamespaceGraph {
		return fmt.Errorf("unexpected namespace %q", msg.Namespace)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch msg.Type {
	case PeerSyncMsgType:
		var s PeerSync
		if err := json.Unmarshal(msg.Obj, &s); err != nil {
			return fmt.Errorf("%s: %w", msg.Type, err)
		}
		// The origins this peer held and no longer sends are gone.
		gone := map[string]bool{}
		for origin, owner := range p.owners {
			if _, ok := s.Origins[origin]; owner == in && !ok {
				delete(p.owners, origin)
				gone[origin] = !p.IsLocal(origin)
			}
		}
		p.opts.Graph.DeleteWhere(func(e *graph.Element) bool { return gone[e.Origin] })
		for origin, obj := range s.Origins {
			if p.takeLocked(in, origin, true) {
				p.syncLocked(origin, obj.Nodes, obj.Edges)
			}
		}
		return nil
	case OriginSyncMsgType:
		var s OriginSync
		if err := json.Unmarshal(msg.Obj, &s); err != nil {
			return fmt.Errorf("%s: %w", msg.Type, err)
		}
		if p.takeLocked(in, s.Origin, true) {
			p.syncLocked(s.Origin, s.Nodes, s.Edges)
		}
		return nil
	case v1.NodeAddedMsgType, v1.NodeUpdatedMsgType, v1.NodeDeletedMsgType:
		var n graph.Node
		if err := graph.DecodeNode(msg.Obj, &n); err != nil {
			return fmt.Errorf("%s: %w", msg.Type, err)
		}
		if !p.takeLocked(in, n.Origin, false) {
			return nil
		}
		old := p.opts.Graph.Node(n.ID)
		if old != nil && old.Origin != n.Origin && p.IsLocal(old.Origin) {
			return nil // a local element of the same ID wins
		}
		if msg.Type == v1.NodeDeletedMsgType {
			if old != nil {
				_ = p.opts.Graph.DeleteNode(n.ID)
			}
			return nil
		}
		_ = p.opts.Graph.ReplaceNodeOwned(&n)
		return nil
	case v1.EdgeAddedMsgType, v1.EdgeUpdatedMsgType, v1.EdgeDeletedMsgType:
		var e graph.Edge
		if err := graph.DecodeEdge(msg.Obj, &e); err != nil {
			return fmt.Errorf("%s: %w", msg.Type, err)
		}
		if !p.takeLocked(in, e.Origin, false) {
			return nil
		}
		old := p.opts.Graph.Edge(e.ID)
		if old != nil && old.Origin != e.Origin && p.IsLocal(old.Origin) {
			return nil
		}
		if msg.Type == v1.EdgeDeletedMsgType {
			if old != nil {
				_ = p.opts.Graph.DeleteEdge(e.ID)
			}
			return nil
		}
		// An edge whose ends are not here (yet) is skipped.
		_ = p.opts.Graph.ReplaceEdgeOwned(&e)
		return nil
	}
	return fmt.Errorf("unknown message type %q", msg.Type)
}

// syncLocked makes origin's subgraph equal to nodes and edges, touching
// only what differs and never a local element of the same ID.
func (p *Peers) syncLocked(origin string, nodes []*graph.Node, edges []*graph.Edge) {
	g := p.opts.Graph
	keep := map[graph.Identifier]bool{}
	for _, n := range nodes {
		keep[n.ID] = true
	}
	for _, e := range edges {
		keep[e.ID] = true
	}
	g.DeleteWhere(func(e *graph.Element) bool { return e.Origin == origin && !keep[e.ID] })
	for _, n := range nodes {
		n.Origin = origin
		old := g.Node(n.ID)
		if old != nil && (old.Origin != origin && p.IsLocal(old.Origin) ||
			old.Origin == origin && old.Revision == n.Revision && old.Metadata.Equal(n.Metadata)) {
			continue
		}
		_ = g.ReplaceNodeOwned(n)
	}
	for _, e := range edges {
		e.Origin = origin
		old := g.Edge(e.ID)
		if old != nil && (old.Origin != origin && p.IsLocal(old.Origin) ||
			old.Origin == origin && old.Revision == e.Revision && old.Metadata.Equal(e.Metadata)) {
			continue
		}
		_ = g.ReplaceEdgeOwned(e)
	}
}

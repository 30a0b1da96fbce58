package replicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/jsonscan"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Server is the analyzer's end: it merges the subgraph of every connected
// agent into one graph, and removes an agent's subgraph when it leaves.
type Server struct {
	Graph     *graph.Graph
	PingDelay time.Duration
	PongWait  time.Duration
	Logger    *slog.Logger
	// OnConnect is called when an agent has sent its graph (Sync) and its
	// connection is ready for Send.
	OnConnect func(host string)
	// OnMessage receives an agent's messages other than graph ones (flow
	// updates ...), on the connection's reader goroutine.
	OnMessage func(host string, msg v1.Message)
	// OnDisconnect is called when an agent's connection has ended and its
	// subgraph is removed.
	OnDisconnect func(host string)

	mu     sync.Mutex
	agents map[string]v1.ConnStatus
	outs   map[string]chan v1.Message
}

// Send queues a message for the agent of host; it fails when the agent is
// not connected or does not keep up.
func (s *Server) Send(host string, msg v1.Message) error {
	s.mu.Lock()
	out, ok := s.outs[host]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("agent %q is not connected", host)
	}
	select {
	case out <- msg:
		return nil
	default:
		return fmt.Errorf("agent %q: send queue full", host)
	}
}

// Hosts lists the connected agents.
func (s *Server) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.outs))
	for h := range s.outs {
		out = append(out, h)
	}
	return out
}

// Agents reports the connected agents, keyed by host.
func (s *Server) Agents() map[string]v1.ConnStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]v1.ConnStatus, len(s.agents))
	for k, v := range s.agents {
		out[k] = v
	}
	return out
}

// setProbes records an agent's probe states, shown in its ConnStatus.
func (s *Server) setProbes(host string, msg v1.Message, log *slog.Logger) {
	var probes map[string]string
	if msg.Type != v1.ProbeStatusMsgType || json.Unmarshal(msg.Obj, &probes) != nil {
		log.Warn("bad status message from agent", "type", msg.Type)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.agents[host]; ok {
		st.TopologyProbes = probes
		s.agents[host] = st
	}
}

var upgrader = websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 4 << 10}

// ServeHTTP handles /ws/agent/topology.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := headerOrQuery(r, v1.HeaderHostID)
	if host == "" {
		http.Error(w, "missing "+v1.HeaderHostID+" header", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.agents == nil {
		s.agents = map[string]v1.ConnStatus{}
	}
	if _, dup := s.agents[host]; dup {
		s.mu.Unlock()
		http.Error(w, fmt.Sprintf("an agent with host ID %q is already connected", host), http.StatusConflict)
		return
	}
	addr, port := splitHostPort(r.RemoteAddr)
	proto := headerOrQuery(r, v1.HeaderClientProtocol)
	if proto == "" {
		proto = "json"
	}
	clientType := headerOrQuery(r, v1.HeaderClientType)
	if clientType == "" {
		clientType = "agent"
	}
	s.agents[host] = v1.ConnStatus{ServiceType: clientType, ClientProtocol: proto, Addr: addr, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: host, RemoteServiceType: clientType}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.agents, host)
		s.mu.Unlock()
	}()

	respHeader := http.Header{}
	respHeader.Set(v1.HeaderServiceType, "analyzer")
	conn, err := upgrader.Upgrade(w, r, respHeader)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	log := s.logger().With("agent", host)
	log.Info("agent connected", "addr", r.RemoteAddr)
	origin := "agent." + host
	// The agent owns its subgraph: when it leaves, so does the subgraph.
	defer func() {
		n := s.Graph.DeleteWhere(func(e *graph.Element) bool { return e.Origin == origin })
		log.Info("agent disconnected, its subgraph removed", "nodes", n)
		if s.OnDisconnect != nil {
			s.OnDisconnect(host)
		}
	}()

	stop := make(chan struct{})
	defer close(stop)
	out := make(chan v1.Message, 1024)
	s.mu.Lock()
	if s.outs == nil {
		s.outs = map[string]chan v1.Message{}
	}
	s.outs[host] = out
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.outs, host)
		s.mu.Unlock()
	}()
	go s.ping(conn, stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case m := <-out:
				_ = conn.SetWriteDeadline(time.Now().Add(s.pongWait()))
				if err := conn.WriteJSON(m); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(s.pongWait()))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(s.pongWait()))
	})
	conn.SetReadLimit(256 << 20)
	edges := s.Graph.NewEdgeDecoder()
	// A frame moves the read deadline on, by an eighth of the wait at
	// least: setting it for each of a hundred thousand frames a second
	// cost more than reading them.
	wait := s.pongWait()
	refreshed := time.Now()
	ahead := readAhead(conn, func(data []byte) prepared { return prepareAny(origin, data, false, edges) },
		func() {
			if now := time.Now(); now.Sub(refreshed) >= wait/8 {
				refreshed = now
				_ = conn.SetReadDeadline(now.Add(wait))
			}
		})
	defer ahead.stop()
	synced := false
	for batch := ahead.next(); batch != nil; batch = ahead.next() {
		for i := range batch {
			m := &batch[i]
			if m.err == nil && m.msg.Namespace != v1.NamespaceGraph {
				if m.msg.Namespace == v1.NamespaceStatus {
					s.setProbes(host, m.msg, log)
				} else if s.OnMessage != nil {
					s.OnMessage(host, m.msg)
				}
				continue
			}
			if err := s.apply(m); err != nil {
				// A bad message is reported and skipped, never fatal.
				log.Warn("bad message from agent", "err", err)
				continue
			}
			// The agent is ready once its graph is here: what is sent to
			// it (capture assignments) is computed on that graph.
			if !synced && m.op == opSync {
				synced = true
				if s.OnConnect != nil {
					s.OnConnect(host)
				}
			}
		}
		ahead.recycle(batch)
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) pongWait() time.Duration {
	if s.PongWait <= 0 {
		return 10 * time.Second
	}
	return s.PongWait
}

func (s *Server) ping(conn *websocket.Conn, stop <-chan struct{}) {
	d := s.PingDelay
	if d <= 0 {
		d = 2 * time.Second
	}
	t := time.NewTicker(d)
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
}

func (s *Server) apply(m *prepared) error {
	refused, err := m.apply(s.Graph)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		// An agent's own elements are not checked against the schemas; what
		// the graph cannot take (an edge to a node it never sent) is logged.
		s.logger().Warn("elements refused", "origin", m.origin, "count", len(refused), "first", refused[0].ID, "err", refused[0].Error)
	}
	return nil
}

// errNotJSON marks a frame that is not JSON at all, as opposed to JSON of
// the wrong shape.
var errNotJSON = errors.New("frame is not JSON")

// decodeMessage reads a frame's envelope; its Obj may be in data.
func decodeMessage(data []byte) (v1.Message, error) {
	if msg, ok := fastMessage(data); ok {
		return msg, nil
	}
	var msg v1.Message
	if err := json.Unmarshal(data, &msg); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
			return msg, fmt.Errorf("%w: %v", errNotJSON, err)
		}
		return msg, fmt.Errorf("not a message: %w", err)
	}
	return msg, nil
}

// fastMessage reads an envelope of the usual shape (the fields by their
// exact names, strings without escapes, an integer Status) in one pass,
// as json.Unmarshal would (TestFastMessage); ok is false for anything
// else, which json.Unmarshal then reads. Obj is in data (json.Unmarshal
// copies it): a message kept past the next frame's read, into the same
// buffer, needs a copy of it.
func fastMessage(data []byte) (msg v1.Message, ok bool) {
	p := jsonscan.Scanner{B: data}
	p.Space()
	str := func(dst *string) bool {
		s, ok := p.RawStr()
		*dst = knownString(s)
		return ok
	}
	ok = p.Members(func(k []byte) bool {
		switch string(k) {
		case "Namespace":
			return str(&msg.Namespace)
		case "Type":
			return str(&msg.Type)
		case "UUID":
			return str(&msg.UUID)
		case "Status":
			v, ok := p.Int()
			msg.Status = int(v)
			return ok
		case "Obj":
			start := p.I
			if p.Peek() == 'n' || !p.Skip() {
				return false // null: encoding/json's RawMessage holds "null"
			}
			msg.Obj = data[start:p.I:p.I]
			return true
		}
		return false
	})
	return msg, ok && p.End()
}

// knownString returns the envelope's usual words (graph events'
// Namespace and Type) without allocating.
func knownString(b []byte) string {
	for _, w := range [...]string{v1.NamespaceGraph, v1.NodeAddedMsgType, v1.NodeUpdatedMsgType, v1.NodeDeletedMsgType,
		v1.EdgeAddedMsgType, v1.EdgeUpdatedMsgType, v1.EdgeDeletedMsgType, v1.SyncMsgType} {
		if string(b) == w {
			return w
		}
	}
	return string(b)
}

// prepared is a graph message decoded and checked, ready to be applied:
// all of a message's work that does not need the graph, so that it can
// be done ahead, on another goroutine (see readAhead).
type prepared struct {
	msg    v1.Message // Obj only for messages of other namespaces (a copy)
	err    error      // the message cannot be read: nothing to apply
	origin string
	// refused: the elements validation refused, reported when applied.
	refused []v1.ElementError
	op      prepOp
	node    *graph.Node
	edge    *graph.Edge
	sync    *GraphObj
}

type prepOp uint8

const (
	opNone prepOp = iota // nothing to apply (refused, or another namespace)
	opReplaceNode
	opDeleteNode
	opReplaceEdge
	opDeleteEdge
	opSync
)

// prepare is prepareDecoded on a frame, whose Obj it reads in place (the
// frame's buffer may be reused once it returns). A message is of a source
// whose elements carry origin; validate checks what the original's JSON
// schemas required. Applied, the elements that cannot be taken are
// returned as refusals and the others kept; a message that cannot be read
// at all is an error.
func prepare(origin string, data []byte, validate bool, edges *graph.EdgeDecoder) prepared {
	msg, err := decodeMessage(data)
	if err != nil {
		return prepared{err: err}
	}
	return prepareDecoded(origin, msg, validate, edges)
}

// prepareDecoded decodes and checks a graph message's object; validate
// checks what the original's JSON schemas required. edges, if not nil,
// decodes the edges (a reader's, see graph.EdgeDecoder).
func prepareDecoded(origin string, msg v1.Message, validate bool, edges *graph.EdgeDecoder) (p prepared) {
	if msg.Namespace != v1.NamespaceGraph {
		p.err = fmt.Errorf("unexpected namespace %q", msg.Namespace)
		return p
	}
	p.msg = v1.Message{Namespace: msg.Namespace, Type: msg.Type}
	p.origin = origin
	refuse := func(id graph.Identifier, err error) {
		p.refused = append(p.refused, v1.ElementError{ID: string(id), Error: err.Error()})
	}
	switch msg.Type {
	case v1.SyncMsgType:
		obj := &GraphObj{}
		if err := json.Unmarshal(msg.Obj, obj); err != nil {
			p.err = fmt.Errorf("%s: %w", v1.SyncMsgType, err)
			return p
		}
		if validate {
			obj.Nodes = keepValid(obj.Nodes, func(n *graph.Node) error { return topology.ValidateNode(n) }, func(n *graph.Node, err error) { refuse(n.ID, err) })
			obj.Edges = keepValid(obj.Edges, func(e *graph.Edge) error { return topology.ValidateEdge(e) }, func(e *graph.Edge, err error) { refuse(e.ID, err) })
		}
		p.op, p.sync = opSync, obj
	case v1.NodeAddedMsgType, v1.NodeUpdatedMsgType, v1.NodeDeletedMsgType:
		n := &graph.Node{}
		if err := graph.DecodeNode(msg.Obj, n); err != nil {
			p.err = fmt.Errorf("%s: %w", msg.Type, err)
			return p
		}
		n.Origin = origin
		p.node = n
		p.op = opReplaceNode
		if msg.Type == v1.NodeDeletedMsgType {
			p.op = opDeleteNode
		} else if validate {
			if err := topology.ValidateNode(n); err != nil {
				refuse(n.ID, err)
				p.op = opNone
			}
		}
	case v1.EdgeAddedMsgType, v1.EdgeUpdatedMsgType, v1.EdgeDeletedMsgType:
		e := &graph.Edge{}
		decode := graph.DecodeEdge
		if edges != nil {
			decode = edges.Decode
		}
		if err := decode(msg.Obj, e); err != nil {
			p.err = fmt.Errorf("%s: %w", msg.Type, err)
			return p
		}
		e.Origin = origin
		p.edge = e
		p.op = opReplaceEdge
		if msg.Type == v1.EdgeDeletedMsgType {
			p.op = opDeleteEdge
		} else if validate {
			if err := topology.ValidateEdge(e); err != nil {
				refuse(e.ID, err)
				p.op = opNone
			}
		}
	default:
		p.err = fmt.Errorf("unknown message type %q", msg.Type)
	}
	return p
}

// apply applies a prepared message to g and returns what was refused (by
// validation when prepared, or by the graph), or why the message could
// not be read.
func (p *prepared) apply(g *graph.Graph) (refused []v1.ElementError, err error) {
	if p.err != nil {
		return nil, p.err
	}
	refused = p.refused
	refuse := func(id graph.Identifier, err error) {
		refused = append(refused, v1.ElementError{ID: string(id), Error: err.Error()})
	}
	switch p.op {
	case opReplaceNode:
		if err := g.ReplaceNodeOwned(p.node); err != nil {
			refuse(p.node.ID, err)
		}
	case opDeleteNode:
		_ = g.DeleteNode(p.node.ID)
	case opReplaceEdge:
		if err := g.ReplaceEdgeOwned(p.edge); err != nil {
			refuse(p.edge.ID, err)
		}
	case opDeleteEdge:
		_ = g.DeleteEdge(p.edge.ID)
	case opSync:
		syncOrigin(g, p.origin, p.sync, refuse)
	}
	return refused, nil
}

// keepValid filters elems in place to those check accepts, reporting the others.
func keepValid[T any](elems []T, check func(T) error, refuse func(T, error)) []T {
	kept := elems[:0]
	for _, el := range elems {
		if err := check(el); err != nil {
			refuse(el, err)
			continue
		}
		kept = append(kept, el)
	}
	return kept
}

// syncOrigin makes the origin's subgraph equal to obj, touching only what differs.
func syncOrigin(g *graph.Graph, origin string, obj *GraphObj, refuse func(graph.Identifier, error)) {
	keepN := map[graph.Identifier]bool{}
	keepE := map[graph.Identifier]bool{}
	for _, n := range obj.Nodes {
		keepN[n.ID] = true
	}
	for _, e := range obj.Edges {
		keepE[e.ID] = true
	}
	g.DeleteWhere(func(e *graph.Element) bool {
		return e.Origin == origin && !keepN[e.ID] && !keepE[e.ID]
	})
	for _, n := range obj.Nodes {
		n.Origin = origin
		if old := g.Node(n.ID); old != nil && old.Revision == n.Revision && old.Metadata.Equal(n.Metadata) {
			continue
		}
		if err := g.ReplaceNodeOwned(n); err != nil {
			refuse(n.ID, err)
		}
	}
	for _, e := range obj.Edges {
		e.Origin = origin
		if old := g.Edge(e.ID); old != nil && old.Revision == e.Revision && old.Metadata.Equal(e.Metadata) {
			continue
		}
		if err := g.ReplaceEdgeOwned(e); err != nil {
			refuse(e.ID, err)
		}
	}
}

func headerOrQuery(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return r.URL.Query().Get(strings.ToLower(name))
}

func splitHostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

// frameReader reads a connection's messages into one buffer, reused from
// message to message instead of a new one each: what is decoded from a
// message is copied out of it (encoding/json copies strings and
// RawMessages), so the buffer is free once the message is applied. A
// buffer that a large message (a Sync) grew past maxKeptFrame is let go
// after it.
type frameReader struct{ buf bytes.Buffer }

const maxKeptFrame = 1 << 20

func (r *frameReader) next(conn *websocket.Conn) ([]byte, error) {
	if r.buf.Cap() > maxKeptFrame {
		r.buf = bytes.Buffer{}
	}
	r.buf.Reset()
	_, rd, err := conn.NextReader()
	if err != nil {
		return nil, err
	}
	if _, err := r.buf.ReadFrom(rd); err != nil {
		return nil, err
	}
	return r.buf.Bytes(), nil
}

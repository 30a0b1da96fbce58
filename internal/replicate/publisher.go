package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// PublisherPath is the endpoint of external publishers.
const PublisherPath = "/ws/publisher"

// HeaderPersistencePolicy tells whether a publisher's elements outlive it.
const HeaderPersistencePolicy = "X-Persistence-Policy"

// Publishers serves /ws/publisher: external sources (scripts, `skydive
// client topology import`) add nodes and edges with the agents' messages.
// Their elements carry the origin "<client type>.<host>"; with the policy
// DeleteOnDisconnect (the default) they leave with the publisher.
type Publishers struct {
	Graph  *graph.Graph
	Logger *slog.Logger

	mu      sync.Mutex
	clients map[string]v1.ConnStatus
}

// Status reports the connected publishers.
func (p *Publishers) Status() map[string]v1.ConnStatus {
	return statusCopy(&p.mu, p.clients)
}

func (p *Publishers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := headerOrQuery(r, v1.HeaderHostID)
	if host == "" {
		host = "publisher"
	}
	clientType := headerOrQuery(r, v1.HeaderClientType)
	if clientType == "" {
		clientType = "publisher"
	}
	policy := headerOrQuery(r, HeaderPersistencePolicy)
	switch policy {
	case "", "DeleteOnDisconnect", "Persistent":
	default:
		http.Error(w, fmt.Sprintf("%s: unknown policy %q (Persistent or DeleteOnDisconnect)", HeaderPersistencePolicy, policy), http.StatusBadRequest)
		return
	}
	conn, err := upgrader.Upgrade(w, r, http.Header{v1.HeaderServiceType: {"analyzer"}})
	if err != nil {
		return
	}
	defer conn.Close()
	origin := clientType + "." + host
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("publisher", origin)
	addr, port := splitHostPort(r.RemoteAddr)
	key := origin + "@" + r.RemoteAddr
	p.mu.Lock()
	if p.clients == nil {
		p.clients = map[string]v1.ConnStatus{}
	}
	p.clients[key] = v1.ConnStatus{ServiceType: clientType, ClientProtocol: "json", Addr: addr, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: host, RemoteServiceType: clientType}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.clients, key)
		p.mu.Unlock()
		if policy != "Persistent" {
			p.Graph.DeleteWhere(func(e *graph.Element) bool { return e.Origin == origin })
		}
	}()
	conn.SetReadLimit(256 << 20)
	edges := p.Graph.NewEdgeDecoder()
	ahead := readAhead(conn, func(data []byte) prepared { return prepare(origin, data, true, edges) }, nil)
	defer ahead.stop()
	for batch := ahead.next(); batch != nil; batch = ahead.next() {
		for i := range batch {
			if !p.apply(conn, &batch[i], log) {
				return
			}
		}
		ahead.recycle(batch)
	}
}

// apply applies a prepared message and tells the publisher what was
// refused and why; false when the connection is to end.
func (p *Publishers) apply(conn *websocket.Conn, m *prepared, log *slog.Logger) bool {
	refused, err := m.apply(p.Graph)
	if errors.Is(err, errNotJSON) {
		// Not a message at all: the stream is broken, as the original
		// answered it (1007, invalid frame payload data).
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, err.Error()), time.Now().Add(time.Second))
		return false
	}
	if err != nil {
		refused = []v1.ElementError{{Error: err.Error()}}
	}
	// The connection is kept.
	for _, r := range refused {
		log.Debug("element refused", "id", r.ID, "err", r.Error)
		obj, _ := json.Marshal(r)
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.ErrorMsgType, Status: http.StatusBadRequest, Obj: obj}) != nil {
			return false
		}
	}
	return true
}

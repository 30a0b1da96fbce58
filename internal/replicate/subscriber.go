package replicate

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// SubscriberPath is the endpoint of graph event subscribers (UI, clients).
const SubscriberPath = "/ws/subscriber"

// Subscribers serves /ws/subscriber: every graph event is pushed to each
// client; a client's SyncRequest is answered with the whole graph.
type Subscribers struct {
	Graph     *graph.Graph
	PingDelay time.Duration
	QueueSize int
	Logger    *slog.Logger

	mu      sync.Mutex
	clients map[string]v1.ConnStatus
	pushers map[string]func(v1.Message)
	seq     atomic.Int64
}

// Broadcast queues msg to every connected subscriber without blocking; a
// subscriber whose queue is full is disconnected, as for graph events.
func (s *Subscribers) Broadcast(msg v1.Message) {
	s.mu.Lock()
	pushers := slices.Collect(maps.Values(s.pushers))
	s.mu.Unlock()
	for _, push := range pushers {
		push(msg)
	}
}

// statusCopy copies a status map under its lock; it is never nil, so that
// an empty one is {} in /api/status.
func statusCopy(mu *sync.Mutex, m map[string]v1.ConnStatus) map[string]v1.ConnStatus {
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]v1.ConnStatus, len(m))
	maps.Copy(out, m)
	return out
}

// Status reports the connected subscribers.
func (s *Subscribers) Status() map[string]v1.ConnStatus {
	return statusCopy(&s.mu, s.clients)
}

func (s *Subscribers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, http.Header{v1.HeaderServiceType: {"analyzer"}})
	if err != nil {
		return
	}
	defer conn.Close()
	host := headerOrQuery(r, v1.HeaderHostID)
	key := fmt.Sprintf("%s-%d", host, s.seq.Add(1))
	addr, port := splitHostPort(r.RemoteAddr)
	clientType := headerOrQuery(r, v1.HeaderClientType)
	s.mu.Lock()
	if s.clients == nil {
		s.clients = map[string]v1.ConnStatus{}
	}
	s.clients[key] = v1.ConnStatus{ServiceType: clientType, ClientProtocol: "json", Addr: addr, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: host, RemoteServiceType: clientType}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, key)
		delete(s.pushers, key)
		s.mu.Unlock()
	}()

	qsize := s.QueueSize
	if qsize <= 0 {
		qsize = 10000
	}
	out := make(chan v1.Message, qsize)
	overflow := make(chan struct{})
	var once sync.Once
	push := func(m v1.Message) {
		select {
		case out <- m:
		default:
			// A client that cannot keep up is dropped; it resyncs on reconnect.
			once.Do(func() { close(overflow) })
		}
	}
	remove := s.Graph.AddListener(func(ev graph.Event) {
		if m, err := EventMessage(ev); err == nil {
			push(m)
		}
	})
	defer remove()
	s.mu.Lock()
	if s.pushers == nil {
		s.pushers = map[string]func(v1.Message){}
	}
	s.pushers[key] = push
	s.mu.Unlock()

	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			var msg v1.Message
			if err := json.Unmarshal(data, &msg); err != nil {
				push(v1.Message{Namespace: v1.NamespaceGraph, Type: "Error", Status: http.StatusBadRequest,
					Obj: jsonString(fmt.Sprintf("not a message: %v", err))})
				continue
			}
			if msg.Namespace == v1.NamespaceGraph && msg.Type == v1.SyncRequestMsgType {
				raw, err := json.Marshal(GraphObj{Nodes: s.Graph.Nodes(), Edges: s.Graph.Edges()})
				if err != nil {
					continue
				}
				push(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.SyncReplyMsgType, UUID: msg.UUID, Status: http.StatusOK, Obj: raw})
			}
		}
	}()
	d := s.PingDelay
	if d <= 0 {
		d = 2 * time.Second
	}
	ping := time.NewTicker(d)
	defer ping.Stop()
	for {
		select {
		case <-readErr:
			return
		case <-overflow:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow, resync"), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
				return
			}
		case m := <-out:
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := conn.WriteJSON(m); err != nil {
				return
			}
		}
	}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

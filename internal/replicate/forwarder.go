// Package replicate keeps an analyzer's graph in step with each agent's: the
// agent sends its whole subgraph when it connects (Sync), then every change;
// after a reconnection it sends everything again. The analyzer merges each
// agent's subgraph under that agent's host.
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
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// AgentTopologyPath is the analyzer's endpoint for agents.
const AgentTopologyPath = "/ws/agent/topology"

// GraphObj is the Obj of Sync and SyncReply messages.
type GraphObj struct {
	Nodes []*graph.Node `json:"Nodes"`
	Edges []*graph.Edge `json:"Edges"`
}

// EventMessage turns a graph event into its websocket message.
func EventMessage(ev graph.Event) (v1.Message, error) {
	var obj any
	if ev.Node != nil {
		obj = ev.Node
	} else {
		obj = ev.Edge
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return v1.Message{}, fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	return v1.Message{Namespace: v1.NamespaceGraph, Type: ev.Type.String(), Status: http.StatusOK, Obj: raw}, nil
}

// Forwarder sends an agent's graph to the first analyzer that answers.
type Forwarder struct {
	Graph      *graph.Graph
	HostID     string
	Analyzers  []string // host:port
	QueueSize  int
	PongWait   time.Duration
	Logger     *slog.Logger
	MaxBackoff time.Duration
	// OnMessage receives the analyzer's messages other than graph ones
	// (capture assignments ...). It runs on the reader goroutine.
	OnMessage func(v1.Message)
	// Greeting, when set, gives the messages sent right after each Sync
	// (the probes' states), so a restarted analyzer has them at once.
	Greeting func() []v1.Message
	// OutboxSize bounds the messages (flow updates) kept while the analyzer
	// is away; beyond it the oldest are dropped and counted.
	OutboxSize int
	// TLS, when set, makes the connection wss:// with this configuration.
	TLS *tls.Config
	// Username and Password are the cluster credentials (Basic).
	Username, Password string

	mu      sync.Mutex
	status  map[string]v1.ConnStatus
	outbox  []v1.Message
	notify  chan struct{}
	dropped int64
}

// Send queues a message for the analyzer (sent in order, after the graph's
// changes of the moment). It never blocks: when the queue is full the oldest
// message is dropped and counted.
func (f *Forwarder) Send(msg v1.Message) {
	f.mu.Lock()
	size := f.OutboxSize
	if size <= 0 {
		size = 10000
	}
	if len(f.outbox) >= size {
		f.outbox = f.outbox[1:]
		f.dropped++
	}
	f.outbox = append(f.outbox, msg)
	n := f.notifyLocked()
	f.mu.Unlock()
	select {
	case n <- struct{}{}:
	default:
	}
}

func (f *Forwarder) notifyLocked() chan struct{} {
	if f.notify == nil {
		f.notify = make(chan struct{}, 1)
	}
	return f.notify
}

// Dropped counts the queued messages lost while the analyzer was away.
func (f *Forwarder) Dropped() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *Forwarder) takeOutbox() []v1.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.outbox
	f.outbox = nil
	return out
}

func (f *Forwarder) requeue(msgs []v1.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outbox = append(msgs, f.outbox...)
}

// Status reports the connection to each analyzer.
func (f *Forwarder) Status() map[string]v1.ConnStatus {
	return statusCopy(&f.mu, f.status)
}

func (f *Forwarder) setStatus(addr string, s v1.ConnStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		f.status = map[string]v1.ConnStatus{}
	}
	f.status[addr] = s
}

// Run connects, forwards, and reconnects until ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	if len(f.Analyzers) == 0 {
		return errors.New("no analyzer to forward to")
	}
	log := f.Logger
	if log == nil {
		log = slog.Default()
	}
	maxBackoff := f.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 2 * time.Second
	}
	backoff := 100 * time.Millisecond
	failures := 0
	for i := 0; ctx.Err() == nil; i = (i + 1) % len(f.Analyzers) {
		addr := f.Analyzers[i]
		connected, err := f.session(ctx, addr)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff, failures = 100*time.Millisecond, 0
			log.Warn("lost the analyzer, reconnecting", "analyzer", addr, "err", err)
		} else {
			failures++
			// One line when the analyzer is unreachable, not one per retry.
			if failures == 1 {
				log.Warn("cannot reach analyzer, retrying", "analyzer", addr, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
	return nil
}

// ClientHeader is the handshake of a cluster client (agent, peer analyzer):
// its identity and, if any, its Basic credentials.
func ClientHeader(hostID, clientType, username, password string) http.Header {
	h := http.Header{}
	h.Set(v1.HeaderHostID, hostID)
	h.Set(v1.HeaderClientType, clientType)
	h.Set(v1.HeaderClientProtocol, "json")
	if username != "" {
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(username, password)
		h.Set("Authorization", r.Header.Get("Authorization"))
	}
	return h
}

// session runs one connection; connected tells whether it got that far.
func (f *Forwarder) session(ctx context.Context, addr string) (connected bool, err error) {
	u := url.URL{Scheme: "ws", Host: addr, Path: AgentTopologyPath}
	if f.TLS != nil {
		u.Scheme = "wss"
	}
	h := ClientHeader(f.HostID, "agent", f.Username, f.Password)
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: f.TLS}
	conn, resp, err := dialer.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("dial %s: %s: %w", u.String(), resp.Status, err)
		}
		return false, fmt.Errorf("dial %s: %w", u.String(), err)
	}
	defer conn.Close()

	qsize := f.QueueSize
	if qsize <= 0 {
		qsize = 10000
	}
	queue := make(chan graph.Event, qsize)
	overflow := make(chan struct{})
	var once sync.Once
	nodes, edges, remove := f.Graph.SnapshotAndListen(func(ev graph.Event) {
		select {
		case queue <- ev:
		default:
			// The analyzer is too slow: start over with a full sync rather
			// than silently lose a change.
			once.Do(func() { close(overflow) })
		}
	})
	defer remove()

	host, port := splitHostPort(conn.LocalAddr().String())
	f.setStatus(addr, v1.ConnStatus{ServiceType: "analyzer", ClientProtocol: "json", Addr: host, Port: port,
		IsConnected: true, ConnectTime: time.Now().UTC(), RemoteHost: addr, RemoteServiceType: "analyzer"})
	defer func() {
		s := f.Status()[addr]
		s.IsConnected = false
		f.setStatus(addr, s)
	}()

	raw, err := json.Marshal(GraphObj{Nodes: nodes, Edges: edges})
	if err != nil {
		return true, err
	}
	if err := conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.SyncMsgType, Status: http.StatusOK, Obj: raw}); err != nil {
		return true, fmt.Errorf("send sync: %w", err)
	}
	if f.Greeting != nil {
		for _, m := range f.Greeting() {
			if err := conn.WriteJSON(m); err != nil {
				return true, fmt.Errorf("send %s: %w", m.Type, err)
			}
		}
	}

	// The reader answers pings and notices a dead analyzer.
	pongWait := f.PongWait
	if pongWait <= 0 {
		pongWait = 10 * time.Second
	}
	readErr := make(chan error, 1)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			var msg v1.Message
			if json.Unmarshal(data, &msg) == nil && f.OnMessage != nil {
				f.OnMessage(msg)
			}
		}
	}()
	f.mu.Lock()
	notify := f.notifyLocked()
	f.mu.Unlock()
	select {
	case notify <- struct{}{}: // what was queued while away
	default:
	}
	for {
		select {
		case <-notify:
			msgs := f.takeOutbox()
			for i, m := range msgs {
				_ = conn.SetWriteDeadline(time.Now().Add(pongWait))
				if err := conn.WriteJSON(m); err != nil {
					f.requeue(msgs[i:])
					return true, fmt.Errorf("send %s: %w", m.Type, err)
				}
			}
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "agent stopping"), time.Now().Add(time.Second))
			return true, nil
		case err := <-readErr:
			return true, fmt.Errorf("read: %w", err)
		case <-overflow:
			return true, errors.New("event queue overflow, resyncing")
		case ev := <-queue:
			msg, err := EventMessage(ev)
			if err != nil {
				return true, err
			}
			_ = conn.SetWriteDeadline(time.Now().Add(pongWait))
			if err := conn.WriteJSON(msg); err != nil {
				return true, fmt.Errorf("send %s: %w", msg.Type, err)
			}
		}
	}
}

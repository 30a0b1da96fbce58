package analyzer

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/flow"
)

// flowSubscribers serves /ws/subscriber/flow: every flow update the agents
// send is pushed, as the original's {"Namespace": "flow", "Type": "store"}
// messages; the namespace "flow/<CaptureID>" (X-Websocket-Namespace header
// or query parameter) keeps one capture's flows.
type flowSubscribers struct {
	mu      sync.Mutex
	clients map[*flowClient]struct{}
}

type flowClient struct {
	capture string
	out     chan []byte
}

var flowUpgrader = websocket.Upgrader{}

func (s *flowSubscribers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ns := r.Header.Get("X-Websocket-Namespace")
	if ns == "" {
		ns = r.URL.Query().Get("x-websocket-namespace")
	}
	c := &flowClient{out: make(chan []byte, 256)}
	if id, ok := strings.CutPrefix(ns, "flow/"); ok {
		c.capture = id
	}
	conn, err := flowUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	s.mu.Lock()
	if s.clients == nil {
		s.clients = map[*flowClient]struct{}{}
	}
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(5 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-closed:
			return
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
				return
			}
		case b, ok := <-c.out:
			if !ok {
				return // too slow: dropped
			}
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if conn.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
		}
	}
}

// publish pushes flows to the subscribers; a subscriber that does not keep
// up is disconnected rather than slowing the analyzer.
func (s *flowSubscribers) publish(flows []*flow.Flow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clients) == 0 {
		return
	}
	encode := func(fs []*flow.Flow) []byte {
		raw, err := json.Marshal(fs)
		if err != nil {
			return nil
		}
		b, _ := json.Marshal(v1.Message{Namespace: "flow", Type: "store", Status: http.StatusOK, Obj: raw})
		return b
	}
	var all []byte
	for c := range s.clients {
		var b []byte
		if c.capture == "" {
			if all == nil {
				all = encode(flows)
			}
			b = all
		} else {
			var mine []*flow.Flow
			for _, f := range flows {
				if f.CaptureID == c.capture {
					mine = append(mine, f)
				}
			}
			if len(mine) == 0 {
				continue
			}
			b = encode(mine)
		}
		select {
		case c.out <- b:
		default:
			close(c.out)
			delete(s.clients, c)
		}
	}
}

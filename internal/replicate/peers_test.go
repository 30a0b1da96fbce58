package replicate

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// testAnalyzer is an analyzer's graph, agents' server and peers, served
// on a test server.
type testAnalyzer struct {
	name   string
	g      *graph.Graph
	agents *Server
	peers  *Peers
	hs     *httptest.Server
	conns  *trackingListener
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func newTestAnalyzers(t *testing.T, names ...string) []*testAnalyzer {
	t.Helper()
	var out []*testAnalyzer
	var addrs []string
	for _, n := range names {
		a := &testAnalyzer{name: n, g: graph.New(), done: make(chan struct{})}
		a.agents = &Server{Graph: a.g, PingDelay: 50 * time.Millisecond, PongWait: time.Second}
		mux := http.NewServeMux()
		mux.Handle(AgentTopologyPath, a.agents)
		var peers *Peers
		var mu sync.Mutex
		mux.HandleFunc(ReplicationPath, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			p := peers
			mu.Unlock()
			p.ServeHTTP(w, r)
		})
		a.hs = httptest.NewUnstartedServer(mux)
		a.conns = &trackingListener{Listener: a.hs.Listener}
		a.hs.Listener = a.conns
		a.hs.Start()
		a.addr = strings.TrimPrefix(a.hs.URL, "http://")
		addrs = append(addrs, a.addr)
		defer func() {
			mu.Lock()
			peers = a.peers
			mu.Unlock()
		}()
		out = append(out, a)
	}
	for _, a := range out {
		a.peers = NewPeers(PeersOptions{Graph: a.g, HostID: a.name, Listen: a.addr, Analyzers: addrs, Agents: a.agents,
			PingDelay: 50 * time.Millisecond, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond})
		// Without etcd, the claim is immediate.
		a.agents.OnConnect = func(host string) { a.peers.OriginClaimed("agent." + host) }
		ctx, cancel := context.WithCancel(context.Background())
		a.cancel = cancel
		go func() { defer close(a.done); _ = a.peers.Run(ctx) }()
		t.Cleanup(a.stop)
	}
	return out
}

// stop kills the analyzer: its connections end at once, websockets too.
func (a *testAnalyzer) stop() {
	a.cancel()
	a.conns.closeAll()
	a.hs.Close()
	<-a.done
}

// trackingListener remembers its connections, to close them all (the test
// server forgets the hijacked ones).
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
}

// count is the number of nodes of origin in g.
func count(g *graph.Graph, origin string) int {
	n := 0
	for _, nd := range g.Nodes() {
		if nd.Origin == origin {
			n++
		}
	}
	return n
}

func agentGraph(host string, ifaces int) *graph.Graph {
	g := graph.New()
	o := "agent." + host
	_ = g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(host), Host: host, Origin: o, Metadata: graph.Metadata{"Type": "host", "Name": host}}})
	for i := 0; i < ifaces; i++ {
		id := graph.Identifier(fmt.Sprintf("%s-if%d", host, i))
		_ = g.AddNode(&graph.Node{Element: graph.Element{ID: id, Host: host, Origin: o, Metadata: graph.Metadata{"Type": "veth", "Name": string(id)}}})
		_ = g.AddEdge(&graph.Edge{Element: graph.Element{ID: id + "-own", Host: host, Origin: o, Metadata: graph.Metadata{"RelationType": "ownership"}},
			Parent: graph.Identifier(host), Child: id})
	}
	return g
}

func TestPeersReplicateAndFailOver(t *testing.T) {
	as := newTestAnalyzers(t, "a", "b", "c")
	a, b, c := as[0], as[1], as[2]
	// Each analyzer has an element of its own; the same fabric node on all
	// three (their probes make it on each): never replaced by a peer's.
	for _, an := range as {
		must(t, an.g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier("own-" + an.name), Host: an.name, Origin: "analyzer." + an.name,
			Metadata: graph.Metadata{"Type": "fabric", "Name": an.name}}}))
		must(t, an.g.AddNode(&graph.Node{Element: graph.Element{ID: "tor", Host: an.name, Origin: "analyzer." + an.name,
			Metadata: graph.Metadata{"Type": "switch", "Name": "tor"}}}))
	}
	xg, yg := agentGraph("x", 3), agentGraph("y", 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fx := &Forwarder{Graph: xg, HostID: "x", Analyzers: []string{a.addr, b.addr}, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond}
	fy := &Forwarder{Graph: yg, HostID: "y", Analyzers: []string{b.addr, c.addr}, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond}
	go func() { _ = fx.Run(ctx) }()
	go func() { _ = fy.Run(ctx) }()

	everywhere := func(what string, want map[string]int, on ...*testAnalyzer) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, what, func() error {
			for _, an := range on {
				for origin, n := range want {
					if got := count(an.g, origin); got != n {
						return fmt.Errorf("%s has %d nodes of %s, want %d", an.name, got, origin, n)
					}
				}
			}
			return nil
		})
	}
	everywhere("every subgraph everywhere", map[string]int{"agent.x": 4, "agent.y": 3, "analyzer.a": 2, "analyzer.b": 1, "analyzer.c": 1}, a)
	everywhere("every subgraph everywhere", map[string]int{"agent.x": 4, "agent.y": 3, "analyzer.a": 1, "analyzer.b": 2, "analyzer.c": 1}, b)
	everywhere("every subgraph everywhere", map[string]int{"agent.x": 4, "agent.y": 3, "analyzer.a": 1, "analyzer.b": 1, "analyzer.c": 2}, c)
	for _, an := range as {
		if o := an.g.Node("tor").Origin; o != "analyzer."+an.name {
			t.Fatalf("%s: its own tor node replaced by a peer's (%s)", an.name, o)
		}
	}
	st := b.peers.Status()
	if !st.Incomers["a"].IsConnected || !st.Incomers["c"].IsConnected || !st.Outgoers[a.addr].IsConnected || !st.Outgoers[c.addr].IsConnected || len(st.Outgoers) != 2 {
		t.Fatalf("status of b: %+v", st)
	}

	// Changes follow.
	must(t, xg.UpdateNodeMetadata("x-if0", func(m graph.Metadata) bool { m["MTU"] = 9000; return true }))
	must(t, xg.DeleteNode("x-if2"))
	testutil.Eventually(t, 5*time.Second, "changes replicated", func() error {
		n := c.g.Node("x-if0")
		if n == nil || n.Metadata["MTU"] != int64(9000) || c.g.Node("x-if2") != nil {
			return fmt.Errorf("x-if0 %v, x-if2 %v", n, c.g.Node("x-if2"))
		}
		return nil
	})

	// a dies: its subgraphs leave b and c; x fails over to b, and its
	// subgraph is back everywhere, once.
	a.stop()
	everywhere("after a's death", map[string]int{"agent.x": 3, "agent.y": 3, "analyzer.a": 0}, b, c)
	testutil.EventuallyTrue(t, 5*time.Second, "x on b", func() bool { return b.agents.Connected("x") })
	if n, _ := b.g.Len(); n != 3+3+2+1 {
		t.Fatalf("b has %d nodes, want %d (duplicates?)", n, 9)
	}
	st = b.peers.Status()
	if _, ok := st.Incomers["a"]; ok || st.Outgoers[a.addr].IsConnected {
		t.Fatalf("a still connected to b: %+v", st)
	}
	// Later changes of x reach c through b.
	must(t, xg.UpdateNodeMetadata("x-if1", func(m graph.Metadata) bool { m["MTU"] = 1400; return true }))
	testutil.Eventually(t, 5*time.Second, "x's change through b", func() error {
		if n := c.g.Node("x-if1"); n == nil || n.Metadata["MTU"] != int64(1400) {
			return fmt.Errorf("x-if1 %v", n)
		}
		return nil
	})
}

func TestPeersIgnoreTheFormerHoldersLateEvents(t *testing.T) {
	as := newTestAnalyzers(t, "a", "b", "c")
	a, b, c := as[0], as[1], as[2]
	xg := agentGraph("x", 2)
	ctx, cancel := context.WithCancel(context.Background())
	fx := &Forwarder{Graph: xg, HostID: "x", Analyzers: []string{a.addr}, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = fx.Run(ctx) }()
	testutil.EventuallyTrue(t, 5*time.Second, "x on c through a", func() bool { return count(c.g, "agent.x") == 3 })
	// x moves to b (a is alive): a removes x's subgraph and tells its
	// peers, b sends it whole; whatever the order, c ends with it.
	cancel()
	<-done
	fx2 := &Forwarder{Graph: xg, HostID: "x", Analyzers: []string{b.addr}, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { _ = fx2.Run(ctx2) }()
	for _, an := range as {
		testutil.EventuallyTrue(t, 5*time.Second, "x everywhere after its move", func() bool { return count(an.g, "agent.x") == 3 })
	}
	// A late event of a about x (it no longer holds x) changes nothing.
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+c.addr+ReplicationPath, ClientHeader("a2", "analyzer", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	must(t, conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: PeerSyncMsgType, Obj: []byte(`{"Origins":{}}`)}))
	must(t, conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.NodeDeletedMsgType,
		Obj: []byte(`{"ID":"x-if0","Origin":"agent.x","Host":"x","Metadata":{}}`)}))
	must(t, conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.NodeAddedMsgType,
		Obj: []byte(`{"ID":"stray","Origin":"agent.z","Host":"z","Metadata":{"Type":"host","Name":"z"}}`)}))
	testutil.EventuallyTrue(t, 5*time.Second, "stray node of an unowned origin taken", func() bool { return c.g.Node("stray") != nil })
	if c.g.Node("x-if0") == nil {
		t.Fatal("a late delete of a former holder was applied")
	}
	// Its connection ends: what it brought goes, the rest stays.
	conn.Close()
	testutil.EventuallyTrue(t, 5*time.Second, "origins of a closed peer dropped", func() bool { return c.g.Node("stray") == nil })
	if count(c.g, "agent.x") != 3 {
		t.Fatal("another peer's origin dropped")
	}
	// An origin dropped by its lease (its analyzer died) goes, unless local.
	b.peers.DropOrigin("agent.x")
	c.peers.DropOrigin("agent.x")
	if count(b.g, "agent.x") != 3 || count(c.g, "agent.x") != 0 {
		t.Fatalf("DropOrigin: b has %d, c %d", count(b.g, "agent.x"), count(c.g, "agent.x"))
	}
	_ = a
}

func TestPeersSkipThemselves(t *testing.T) {
	g := graph.New()
	p := NewPeers(PeersOptions{Graph: g, HostID: "me", Listen: "127.0.0.1:1", Analyzers: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:2"}})
	if got := p.Addrs(); len(got) != 1 || got[0] != "127.0.0.1:2" {
		t.Fatalf("addrs %v", got)
	}
	// Reached under another name, an analyzer finds itself and stops.
	hs := httptest.NewServer(p)
	defer hs.Close()
	p2 := NewPeers(PeersOptions{Graph: g, HostID: "me", Listen: "x:1", Analyzers: []string{strings.TrimPrefix(hs.URL, "http://")}})
	done := make(chan struct{})
	go func() { defer close(done); _ = p2.Run(context.Background()) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an analyzer keeps dialing itself")
	}
}

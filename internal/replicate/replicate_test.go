package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
)

func node(id string, m graph.Metadata) *graph.Node {
	return &graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: m, Host: "h1", Origin: "agent.h1"}}
}

func TestForwarderKeepsAnalyzerInStep(t *testing.T) {
	agentG, analyzerG := graph.New(), graph.New()
	srv := &Server{Graph: analyzerG, PingDelay: 50 * time.Millisecond, PongWait: time.Second}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	addr := strings.TrimPrefix(hs.URL, "http://")

	must(t, agentG.AddNode(node("host", graph.Metadata{"Type": "host", "Name": "h1"})))
	must(t, agentG.AddNode(node("if1", graph.Metadata{"Type": "veth", "Name": "v1", "MTU": 1500})))
	must(t, agentG.AddEdge(&graph.Edge{Element: graph.Element{ID: "e1", Metadata: graph.Metadata{"RelationType": "ownership"}, Origin: "agent.h1"}, Parent: "host", Child: "if1"}))

	ctx, cancel := context.WithCancel(context.Background())
	fwd := &Forwarder{Graph: agentG, HostID: "h1", Analyzers: []string{addr}, PongWait: time.Second, MaxBackoff: 50 * time.Millisecond}
	done := make(chan error)
	go func() { done <- fwd.Run(ctx) }()

	testutil.EventuallyTrue(t, 5*time.Second, "sync", func() bool { n, e := analyzerG.Len(); return n == 2 && e == 1 })
	testutil.EventuallyTrue(t, 5*time.Second, "agent listed", func() bool { return srv.Agents()["h1"].IsConnected })

	must(t, agentG.UpdateNodeMetadata("if1", func(m graph.Metadata) bool { m["MTU"] = 1450; return true }))
	must(t, agentG.AddNode(node("if2", graph.Metadata{"Type": "veth", "Name": "v2"})))
	must(t, agentG.DeleteEdge("e1"))
	testutil.EventuallyTrue(t, 5*time.Second, "deltas", func() bool {
		n := analyzerG.Node("if1")
		_, e := analyzerG.Len()
		return n != nil && n.Metadata["MTU"] == int64(1450) && n.Revision == 2 && analyzerG.Node("if2") != nil && e == 0
	})

	// A second agent with the same host ID is refused.
	h := http.Header{}
	h.Set(v1.HeaderHostID, "h1")
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+AgentTopologyPath, h); err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate host: %v", err)
	}

	cancel()
	<-done
	testutil.EventuallyTrue(t, 5*time.Second, "subgraph removed on disconnect", func() bool { n, _ := analyzerG.Len(); return n == 0 })

	// Changes made while away arrive with the resync.
	must(t, agentG.DeleteNode("if2"))
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { _ = fwd.Run(ctx2) }()
	testutil.EventuallyTrue(t, 5*time.Second, "resync", func() bool { n, _ := analyzerG.Len(); return n == 2 && analyzerG.Node("if2") == nil })
}

func TestServerSkipsBadMessages(t *testing.T) {
	g := graph.New()
	hs := httptest.NewServer(&Server{Graph: g})
	defer hs.Close()
	h := http.Header{}
	h.Set(v1.HeaderHostID, "h9")
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1)+AgentTopologyPath, h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, bad := range []string{"garbage", `{"Namespace":"Graph","Type":"NodeAdded","Obj":"x"}`, `{"Namespace":"Nope"}`,
		`{"Namespace":"Graph","Type":"Bogus","Obj":{}}`, `{"Namespace":"Graph","Type":"EdgeAdded","Obj":{"ID":"e","Parent":"a","Child":"b"}}`} {
		must(t, conn.WriteMessage(websocket.TextMessage, []byte(bad)))
	}
	good := fmt.Sprintf(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n1","Metadata":{"Name":"x","Type":"host"},"Host":"h9","Revision":1,"CreatedAt":%d}}`, time.Now().UnixMilli())
	must(t, conn.WriteMessage(websocket.TextMessage, []byte(good)))
	testutil.EventuallyTrue(t, 5*time.Second, "good message applied after bad ones", func() bool {
		n := g.Node("n1")
		return n != nil && n.Origin == "agent.h9"
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSubscriberGetsSyncAndEvents(t *testing.T) {
	g := graph.New()
	must(t, g.AddNode(node("n1", graph.Metadata{"Name": "a", "Type": "host"})))
	hs := httptest.NewServer(&Subscribers{Graph: g})
	defer hs.Close()
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	must(t, conn.WriteMessage(websocket.TextMessage, []byte("not json")))
	must(t, conn.WriteJSON(v1.Message{Namespace: v1.NamespaceGraph, Type: v1.SyncRequestMsgType, UUID: "req1"}))
	var msg v1.Message
	must(t, conn.ReadJSON(&msg))
	if msg.Type != "Error" || msg.Status != http.StatusBadRequest {
		t.Fatalf("garbage answered with %+v", msg)
	}
	must(t, conn.ReadJSON(&msg))
	if msg.Type != v1.SyncReplyMsgType || msg.UUID != "req1" || !strings.Contains(string(msg.Obj), `"n1"`) {
		t.Fatalf("sync reply %+v", msg)
	}
	must(t, g.AddNode(node("n2", graph.Metadata{"Name": "b", "Type": "veth"})))
	must(t, conn.ReadJSON(&msg))
	if msg.Type != v1.NodeAddedMsgType || !strings.Contains(string(msg.Obj), `"n2"`) {
		t.Fatalf("event %+v", msg)
	}
}

func TestPublisherValidatesAndFollowsPolicy(t *testing.T) {
	g := graph.New()
	hs := httptest.NewServer(&Publishers{Graph: g})
	defer hs.Close()
	dial := func(policy string) *websocket.Conn {
		h := http.Header{}
		h.Set(v1.HeaderHostID, "ext")
		h.Set(v1.HeaderClientType, "cli")
		h.Set(HeaderPersistencePolicy, policy)
		c, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1), h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial("Persistent")
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"t1","Metadata":{"Name":"tor1"}}}`)))
	var msg v1.Message
	must(t, c.ReadJSON(&msg))
	if msg.Status != http.StatusBadRequest || !strings.Contains(string(msg.Obj), "Metadata.Type") {
		t.Fatalf("invalid node answered %+v", msg)
	}
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"t1","Metadata":{"Name":"tor1","Type":"switch"}}}`)))
	testutil.EventuallyTrue(t, 5*time.Second, "published node", func() bool { n := g.Node("t1"); return n != nil && n.Origin == "cli.ext" })
	c.Close()
	time.Sleep(100 * time.Millisecond)
	if g.Node("t1") == nil {
		t.Fatal("persistent node removed on disconnect")
	}
	c2 := dial("DeleteOnDisconnect")
	must(t, c2.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"t2","Metadata":{"Name":"tor2","Type":"switch"}}}`)))
	testutil.EventuallyTrue(t, 5*time.Second, "second node", func() bool { return g.Node("t2") != nil })
	c2.Close()
	testutil.EventuallyTrue(t, 5*time.Second, "removed with its publisher", func() bool { return g.Node("t2") == nil })
}

func TestMessagesBothWays(t *testing.T) {
	agentG, analyzerG := graph.New(), graph.New()
	got := make(chan v1.Message, 10)
	srv := &Server{Graph: analyzerG, OnMessage: func(host string, m v1.Message) {
		if host == "h1" {
			got <- m
		}
	}}
	srv.OnConnect = func(host string) {
		_ = srv.Send(host, v1.Message{Namespace: "OnDemandCapture", Type: "Set", Obj: []byte(`[]`)})
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	toAgent := make(chan v1.Message, 10)
	fwd := &Forwarder{Graph: agentG, HostID: "h1", Analyzers: []string{strings.TrimPrefix(hs.URL, "http://")},
		OnMessage: func(m v1.Message) { toAgent <- m }, OutboxSize: 2}
	// Queued before any connection: the oldest beyond the bound is dropped.
	for i := 0; i < 3; i++ {
		fwd.Send(v1.Message{Namespace: "Flow", Type: "Update", Obj: []byte(fmt.Sprint(i))})
	}
	if fwd.Dropped() != 1 {
		t.Fatalf("dropped %d", fwd.Dropped())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = fwd.Run(ctx) }()
	for _, want := range []string{"1", "2"} {
		select {
		case m := <-got:
			if string(m.Obj) != want {
				t.Fatalf("got %s, want %s", m.Obj, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("flow message not received")
		}
	}
	select {
	case m := <-toAgent:
		if m.Namespace != "OnDemandCapture" {
			t.Fatalf("agent got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("agent did not get the analyzer's message")
	}
}

func TestSubscribersBroadcast(t *testing.T) {
	g := graph.New()
	subs := &Subscribers{Graph: g}
	hs := httptest.NewServer(subs)
	defer hs.Close()
	subs.Broadcast(v1.Message{Namespace: "Alert", Type: "Alert"}) // nobody yet: must not block
	var conns []*websocket.Conn
	for range 2 {
		c, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "two subscribers registered", func() bool {
		subs.mu.Lock()
		defer subs.mu.Unlock()
		return len(subs.pushers) == 2
	})
	subs.Broadcast(v1.Message{Namespace: "Alert", Type: "Alert", Status: http.StatusOK, Obj: []byte(`{"UUID":"a1"}`)})
	for i, c := range conns {
		must(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		var msg v1.Message
		must(t, c.ReadJSON(&msg))
		if msg.Namespace != "Alert" || msg.Type != "Alert" || !strings.Contains(string(msg.Obj), `"a1"`) {
			t.Errorf("subscriber %d got %+v", i, msg)
		}
	}
	conns[0].Close()
	testutil.EventuallyTrue(t, 5*time.Second, "closed subscriber forgotten", func() bool {
		subs.mu.Lock()
		defer subs.mu.Unlock()
		return len(subs.pushers) == 1
	})
}

// An agent's probe states reach the analyzer's status: the greeting after
// each Sync, then changes; a malformed status message is skipped.
func TestProbeStatesInAgentStatus(t *testing.T) {
	srv := &Server{Graph: graph.New()}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	state := func(neutron string) v1.Message {
		return v1.Message{Namespace: v1.NamespaceStatus, Type: v1.ProbeStatusMsgType, Obj: []byte(`{"neutron":"` + neutron + `"}`)}
	}
	fwd := &Forwarder{Graph: graph.New(), HostID: "h1", Analyzers: []string{strings.TrimPrefix(hs.URL, "http://")},
		Greeting: func() []v1.Message { return []v1.Message{state("running")} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = fwd.Run(ctx) }()
	probes := func() string { return srv.Agents()["h1"].TopologyProbes["neutron"] }
	testutil.EventuallyTrue(t, 5*time.Second, "greeting's states", func() bool { return probes() == "running" })
	fwd.Send(v1.Message{Namespace: v1.NamespaceStatus, Type: v1.ProbeStatusMsgType, Obj: []byte(`["not", "a", "map"]`)})
	fwd.Send(state("error: neutron unreachable"))
	testutil.EventuallyTrue(t, 5*time.Second, "changed state", func() bool { return probes() == "error: neutron unreachable" })
}

// On /ws/publisher, JSON of the wrong shape is answered and the connection
// kept; a frame that is not JSON at all closes it with 1007.
func TestPublisherClosesOnNotJSON(t *testing.T) {
	hs := httptest.NewServer(&Publishers{Graph: graph.New()})
	defer hs.Close()
	h := http.Header{}
	h.Set(v1.HeaderHostID, "ext")
	c, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`[1, 2, 3]`)))
	var msg v1.Message
	must(t, c.ReadJSON(&msg))
	if msg.Type != "Error" || msg.Status != http.StatusBadRequest {
		t.Fatalf("wrong-shape JSON answered %+v", msg)
	}
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type`)))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("after a frame that is not JSON: %v, want close 1007", err)
	}
}

// Each refused element is answered {"ID","Error"} naming the field, its good
// neighbours are kept, and the connection stays open, for single messages and
// inside a Sync.
func TestPublisherRefusesBadElementsKeepsGoodOnes(t *testing.T) {
	g := graph.New()
	c := dialPersistentPublisher(t, g, "ext")
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	sync := `{"Namespace":"Graph","Type":"Sync","Obj":{"Nodes":[
	  {"ID":"ns-ok","Metadata":{"Name":"ns1","Type":"netns","Path":"/var/run/netns/ns1"}},
	  {"ID":"ns-nopath","Metadata":{"Name":"ns2","Type":"netns"}},
	  {"ID":"port-nouuid","Metadata":{"Name":"p1","Type":"ovsport"}},
	  {"ID":"noname","Metadata":{"Type":"switch"}},
	  {"ID":"sw","Metadata":{"Name":"tor","Type":"switch"}}],
	 "Edges":[
	  {"ID":"e-ok","Parent":"sw","Child":"ns-ok","Metadata":{"RelationType":"layer2"}},
	  {"ID":"e-norel","Parent":"sw","Child":"ns-ok","Metadata":{}},
	  {"ID":"e-dangling","Parent":"sw","Child":"ns-nopath","Metadata":{"RelationType":"layer2"}}]}}`
	must(t, c.WriteMessage(websocket.TextMessage, []byte(sync)))
	want := map[string]string{
		"ns-nopath":   "Metadata.Path",
		"port-nouuid": "Metadata.UUID",
		"noname":      "Metadata.Name",
		"e-norel":     "Metadata.RelationType",
		"e-dangling":  "not found",
	}
	for range want {
		var msg v1.Message
		must(t, c.ReadJSON(&msg))
		var refused v1.ElementError
		if msg.Namespace != v1.NamespaceGraph || msg.Type != v1.ErrorMsgType || json.Unmarshal(msg.Obj, &refused) != nil {
			t.Fatalf("refusal %s", msg.Obj)
		}
		field, ok := want[refused.ID]
		if !ok || !strings.Contains(refused.Error, field) {
			t.Fatalf("refusal %+v, want one of %v", refused, want)
		}
		delete(want, refused.ID)
	}
	for _, id := range []graph.Identifier{"ns-ok", "sw"} {
		if g.Node(id) == nil {
			t.Errorf("good node %s not kept", id)
		}
	}
	if g.Edge("e-ok") == nil {
		t.Error("good edge not kept")
	}
	for _, id := range []graph.Identifier{"ns-nopath", "port-nouuid", "noname"} {
		if g.Node(id) != nil {
			t.Errorf("refused node %s in the graph", id)
		}
	}
	// Still connected: a later good element lands.
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"later","Metadata":{"Name":"later","Type":"switch"}}}`)))
	testutil.EventuallyTrue(t, 5*time.Second, "node after refusals", func() bool { return g.Node("later") != nil })
}

// Frames are read and decoded ahead of the graph: a burst sent just before
// the publisher hangs up is applied whole and in order (each node's update
// after its add, each edge after its ends), and a lone frame after it is
// not held back waiting for more.
func TestPublisherAppliesABurstWholeAndInOrder(t *testing.T) {
	g := graph.New()
	c := dialPersistentPublisher(t, g, "burst")
	const n = 3 * readAheadMax
	send := func(typ, obj string) {
		t.Helper()
		must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"`+typ+`","Obj":`+obj+`}`)))
	}
	for i := range n {
		send("NodeAdded", fmt.Sprintf(`{"ID":"n%d","Metadata":{"Type":"veth","Name":"n%d","MTU":1500}}`, i, i))
		send("NodeUpdated", fmt.Sprintf(`{"ID":"n%d","Metadata":{"Type":"veth","Name":"n%d","MTU":%d},"Revision":2}`, i, i, 1000+i))
		if i > 0 {
			send("EdgeAdded", fmt.Sprintf(`{"ID":"e%d","Parent":"n%d","Child":"n%d","Metadata":{"RelationType":"layer2"}}`, i, i-1, i))
		}
	}
	testutil.EventuallyTrue(t, 5*time.Second, "the burst applied", func() bool { nodes, edges := g.Len(); return nodes == n && edges == n-1 })
	send("NodeAdded", `{"ID":"lone","Metadata":{"Type":"host","Name":"lone"}}`)
	testutil.EventuallyTrue(t, 5*time.Second, "a lone frame after it", func() bool { return g.Node("lone") != nil })
	for i := range n - 1 {
		send("NodeDeleted", fmt.Sprintf(`{"ID":"n%d"}`, i))
	}
	send("NodeAdded", `{"ID":"last","Metadata":{"Type":"host","Name":"last"}}`)
	must(t, c.Close())
	testutil.EventuallyTrue(t, 5*time.Second, "what was sent before the hang-up", func() bool { return g.Node("last") != nil })
	if nodes, edges := g.Len(); nodes != 3 || edges != 0 {
		t.Fatalf("after the deletions: %d nodes, %d edges, want 3 and 0", nodes, edges)
	}
	if mtu := g.Node(graph.Identifier(fmt.Sprintf("n%d", n-1))).Metadata["MTU"]; mtu != int64(1000+n-1) {
		t.Fatalf("the last node's MTU %v: its update not applied after its add", mtu)
	}
}

// dialPersistentPublisher connects a Persistent publisher of host to a
// Publishers of g served for the test's time.
func dialPersistentPublisher(t *testing.T, g *graph.Graph, host string) *websocket.Conn {
	t.Helper()
	hs := httptest.NewServer(&Publishers{Graph: g})
	t.Cleanup(hs.Close)
	h := http.Header{}
	h.Set(v1.HeaderHostID, host)
	h.Set(HeaderPersistencePolicy, "Persistent")
	c, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1), h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A publisher that sends its elements and closes at once (as `client
// topology import` does) reads every refusal before the analyzer's close:
// frames are applied after they are read, and the close is answered only
// once they are.
func TestPublisherRefusalsBeforeTheClose(t *testing.T) {
	g := graph.New()
	c := dialPersistentPublisher(t, g, "closing")
	defer c.Close()
	for i := range 50 {
		must(t, c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"ok%d","Metadata":{"Name":"ok","Type":"host"}}}`, i))))
	}
	must(t, c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"bad","Metadata":{"Name":"bad"}}}`)))
	must(t, c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second)))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var msg v1.Message
	if err := c.ReadJSON(&msg); err != nil {
		t.Fatalf("the refusal of the last node: %v", err)
	}
	if msg.Type != v1.ErrorMsgType || !strings.Contains(string(msg.Obj), `"bad"`) {
		t.Fatalf("answered %+v, want the refusal of bad", msg)
	}
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("after the refusal: %v, want the close answered", err)
	}
	if n, _ := g.Len(); n != 50 {
		t.Fatalf("%d nodes, want 50", n)
	}
}

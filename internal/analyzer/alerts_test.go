package analyzer

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/config"
	storepkg "github.com/skydive-ng/skydive/internal/store"
)

// startAnalyzer runs a whole analyzer (memory storage) on a free port.
func startAnalyzer(t *testing.T, dataDir string) string {
	t.Helper()
	return startAnalyzerWith(t, dataDir, nil, nil)
}

// startAnalyzerWith is startAnalyzer with changes to its configuration and
// options.
func startAnalyzerWith(t testing.TB, dataDir string, conf func(*config.Config), opt func(*Options)) string {
	t.Helper()
	cfg := config.Default()
	cfg.HostID = "an-test"
	cfg.Analyzer.DataDir = dataDir
	cfg.Storage.Backend = storepkg.BackendMemory
	if conf != nil {
		conf(cfg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := Options{Config: cfg, Logger: log, Listener: l, Ready: ready}
	if opt != nil {
		opt(&opts)
	}
	go func() { done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("analyzer: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("analyzer did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("analyzer: %v", err)
	}
	return l.Addr().String()
}

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAlertsAndRulesOverHTTP drives the resources through the analyzer's
// handlers: a node rule makes a node, an alert on that node fires to a
// /ws/subscriber client, an edge rule links two rule nodes; the resources
// survive a restart.
func TestAlertsAndRulesOverHTTP(t *testing.T) {
	dir := t.TempDir()
	base := "http://" + startAnalyzer(t, dir)
	for _, tc := range []struct {
		method, path, body string
		code               int
		text               string
	}{
		{"POST", "/api/alert", `{"Name":"x"}`, 400, "Expression: required"},
		{"POST", "/api/alert", `{"Expression":"G.V().Has("}`, 400, "Expression: 1:"},
		{"POST", "/api/alert", `{"Expression":"G.V()","Trigger":"duration:x"}`, 400, "Trigger:"},
		{"POST", "/api/alert", `{"Expression":"G.V()","Action":"ftp://x"}`, 400, "Action:"},
		{"POST", "/api/noderule", `{"Metadata":{"Name":"x"}}`, 400, "Name and Type fields are required"},
		{"POST", "/api/noderule", `{"Action":"update","Query":"G.V()","Metadata":{"Type":"x"}}`, 400, "Name and Type fields can not be changed"},
		{"POST", "/api/edgerule", `{"Src":"G.V()","Dst":"G.V()","Metadata":{}}`, 400, "RelationType"},
		{"GET", "/api/alert/nope", "", 404, "Alert 'nope' not found"},
		{"DELETE", "/api/noderule/nope", "", 404, "NodeRule 'nope' not found"},
		{"PATCH", "/api/noderule/nope", `[]`, 400, "resource not updatable"},
		{"PATCH", "/api/edgerule/nope", `[]`, 400, "resource not updatable"},
	} {
		if code, text := call(t, tc.method, base+tc.path, tc.body); code != tc.code || !strings.Contains(text, tc.text) {
			t.Errorf("%s %s %s: %d %q, want %d with %q", tc.method, tc.path, tc.body, code, text, tc.code, tc.text)
		}
	}

	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/ws/subscriber", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	code, text := call(t, "POST", base+"/api/alert", `{"Name":"src here","Expression":"G.V().Has('Name','br-srcnode')"}`)
	if code != http.StatusCreated {
		t.Fatalf("create alert: %d %s", code, text)
	}
	var alert v1.Alert
	if err := json.Unmarshal([]byte(text), &alert); err != nil || alert.UUID == "" || alert.Trigger != "graph" || alert.CreateTime.IsZero() {
		t.Fatalf("created alert %s (%v)", text, err)
	}
	for _, r := range []struct{ path, body string }{
		{"/api/noderule", `{"Name":"src","Metadata":{"Name":"br-srcnode","Type":"bridge"},"Action":"create"}`},
		{"/api/noderule", `{"Name":"dst","Metadata":{"Name":"br-dstnode","Type":"bridge"},"Action":"create"}`},
		{"/api/edgerule", `{"Name":"l2","Src":"G.V().Has('Name','br-srcnode')","Dst":"G.V().Has('Name','br-dstnode')","Metadata":{"RelationType":"layer2"}}`},
	} {
		if code, text := call(t, "POST", base+r.path, r.body); code != http.StatusCreated || !strings.Contains(text, `"UUID":"`) {
			t.Fatalf("POST %s: %d %s", r.path, code, text)
		}
	}
	// The alert's notification comes among the graph events.
	if err := ws.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		var msg v1.Message
		if err := ws.ReadJSON(&msg); err != nil {
			t.Fatalf("no alert notification: %v", err)
		}
		if msg.Namespace != v1.NamespaceAlert {
			continue
		}
		var am v1.AlertMessage
		if err := json.Unmarshal(msg.Obj, &am); err != nil || msg.Type != v1.AlertMsgType || am.UUID != alert.UUID || !strings.Contains(string(am.ReasonData), "br-srcnode") {
			t.Fatalf("notification %+v %s (%v)", msg, msg.Obj, err)
		}
		break
	}
	// The original's query: in Skydive's Gremlin, OutV of an edge is its child.
	linked := func() bool {
		_, text := call(t, "POST", base+"/api/topology", `{"GremlinQuery":"G.V().Has('Name','br-srcnode').OutE().Has('RelationType','layer2').OutV().Has('Name','br-dstnode')"}`)
		return strings.Contains(text, "br-dstnode")
	}
	poll(t, "edge rule's edge", linked)

	code, text = call(t, "PATCH", base+"/api/alert/"+alert.UUID, `[{"op":"add","path":"/Name","value":"renamed"},{"op":"replace","path":"/Trigger","value":"duration:1m"}]`)
	if code != http.StatusOK || !strings.Contains(text, `"Name":"renamed"`) || !strings.Contains(text, `"Trigger":"duration:1m"`) {
		t.Fatalf("PATCH alert: %d %s", code, text)
	}
	if code, text := call(t, "PATCH", base+"/api/alert/"+alert.UUID, `[{"op":"replace","path":"/Expression","value":""}]`); code != 400 || !strings.Contains(text, "Expression") {
		t.Fatalf("invalid PATCH: %d %s", code, text)
	}

	// A restart on the same data_dir keeps the resources and the rules' graph.
	again := "http://" + startAnalyzer(t, dir)
	if _, text := call(t, "GET", again+"/api/alert/"+alert.UUID, ""); !strings.Contains(text, `"Name":"renamed"`) {
		t.Fatalf("alert after restart: %s", text)
	}
	for _, path := range []string{"/api/noderule", "/api/edgerule"} {
		_, text := call(t, "GET", again+path, "")
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &m); err != nil || (path == "/api/noderule") != (len(m) == 2) || len(m) == 0 {
			t.Fatalf("GET %s after restart: %s", path, text)
		}
	}
	base = again
	poll(t, "edge rule's edge after restart", linked)
	_, text = call(t, "GET", base+"/api/edgerule", "")
	var ers map[string]v1.EdgeRule
	if err := json.Unmarshal([]byte(text), &ers); err != nil {
		t.Fatal(err)
	}
	for id := range ers {
		if code, text := call(t, "DELETE", base+"/api/edgerule/"+id, ""); code != http.StatusOK {
			t.Fatalf("DELETE edge rule: %d %s", code, text)
		}
	}
	if linked() {
		t.Fatal("edge kept after its rule was deleted")
	}
}

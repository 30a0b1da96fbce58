package workflows

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/topoquery"
)

// server serves the API as the analyzer wires it: the topology query (with
// the Workflow step) and the workflows, bound to the same mux.
func server(t *testing.T, g graph.View, timeout time.Duration) (*httptest.Server, *Service) {
	t.Helper()
	svc, err := New(Options{File: filepath.Join(t.TempDir(), "workflows.json"), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	api := &httpapi.Server{Graph: g, Queries: topoquery.New(topoquery.Options{Graph: g, Extensions: Extend(eval.Options{}, svc)})}
	mux := http.NewServeMux()
	api.Register(mux)
	Register(mux, api, svc)
	svc.Bind(api.Queries.Query, mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, svc
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHTTPResource(t *testing.T) {
	srv, _ := server(t, testGraph(t, 1500, 1500, 1500), 0)
	const js = "application/json"
	code, body := do(t, srv, "POST", "/api/workflow", js, mustJSON(t, v1.Workflow{Name: "Sum", Source: "function (a, b) { return a + b }",
		Parameters: []v1.WorkflowParameter{{Name: "a", Type: "integer"}, {Name: "b", Type: "integer", Default: 10}}}))
	var created v1.Workflow
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || created.UUID == "" || created.Name != "Sum" {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := do(t, srv, "POST", "/api/workflow", js, `{"Name":"Flag","Parameters":[{"Name":"on","Type":"boolean"}],"Source":"function (on) { return typeof on + ':' + on }"}`); code != 201 {
		t.Fatalf("create Flag: %d %s", code, body)
	}
	yamlDoc := "Name: Hello\nParameters:\n  - Name: who\n    Type: string\nSource: |\n  function (who) {\n    return 'hello ' + who\n  }\n"
	code, body = do(t, srv, "POST", "/api/workflow", "application/yaml", yamlDoc)
	var hello v1.Workflow
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &hello) != nil || hello.Name != "Hello" || len(hello.Parameters) != 1 {
		t.Fatalf("create from YAML: %d %s", code, body)
	}

	for _, tc := range []struct {
		name, method, path, ctype, body string
		code                            int
		want                            string
	}{
		{"list", "GET", "/api/workflow", "", "", 200, created.UUID},
		{"list has the built-in ones", "GET", "/api/workflow", "", "", 200, checkMTUID},
		{"get", "GET", "/api/workflow/" + hello.UUID, "", "", 200, `"Name":"Hello"`},
		{"get built-in", "GET", "/api/workflow/" + checkConnectivityID, "", "", 200, `"Name":"CheckConnectivity"`},
		{"get unknown", "GET", "/api/workflow/nope", "", "", 404, "Workflow 'nope' not found"},
		{"invalid names the field", "POST", "/api/workflow", js, `{"Name":"x","Source":"function ("}`, 400, "Source:"},
		{"missing name", "POST", "/api/workflow", js, `{"Source":"function () {}"}`, 400, "Name: required"},
		{"unknown JSON field", "POST", "/api/workflow", js, `{"Name":"x","Nom":"y"}`, 400, "Nom"},
		{"duplicate", "POST", "/api/workflow", js, `{"Name":"Sum","Source":"function () {}"}`, 400, "Duplicate workflow"},
		{"duplicate in YAML", "POST", "/api/workflow", "text/yaml", yamlDoc, 400, "Duplicate workflow"},
		{"invalid YAML field", "POST", "/api/workflow", "application/yaml", "Name: y\nParameters:\n  - Name: p\n    Type: float\nSource: function () {}\n", 400, "Parameters[0].Type"},
		{"built-in not deletable", "DELETE", "/api/workflow/" + checkMTUID, "", "", 400, "cannot be deleted"},
		{"delete unknown", "DELETE", "/api/workflow/nope", "", "", 404, "not found"},
		{"call by UUID, strings converted", "POST", "/api/workflow/" + created.UUID + "/call", js, `{"Params":["2","3"]}`, 200, "5"},
		{"call by name, default filled", "POST", "/api/workflow/Sum/call", js, `{"Params":[1]}`, 200, "11"},
		{"call with a bad integer", "POST", "/api/workflow/Sum/call", js, `{"Params":["two"]}`, 400, `Params[0] (a): "two" is not an integer`},
		{"call without body", "POST", "/api/workflow/Hello/call", "", "", 200, `"hello undefined"`},
		{"call unknown", "POST", "/api/workflow/nope/call", js, `{"Params":[]}`, 404, "Workflow 'nope' not found"},
		{"call with bad body", "POST", "/api/workflow/Sum/call", js, `{"Parms":[]}`, 400, "Parms"},
		{"Workflow step", "POST", "/api/topology", js, `{"GremlinQuery":"G.Workflow('Sum', 20, 22)"}`, 200, "[42]"},
		{"Workflow step error", "POST", "/api/topology", js, `{"GremlinQuery":"G.Workflow('nope')"}`, 400, "not found"},
		{"Workflow step with a predicate", "POST", "/api/topology", js, `{"GremlinQuery":"G.Workflow('Sum', NE(1))"}`, 400, "an argument must be a string, a number or a boolean"},
		{"call with a bad boolean", "POST", "/api/workflow/Flag/call", js, `{"Params":["maybe"]}`, 400, `Params[0] (on): "maybe" is not a boolean`},
		{"call with a boolean", "POST", "/api/workflow/Flag/call", js, `{"Params":["true"]}`, 200, `"boolean:true"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, srv, tc.method, tc.path, tc.ctype, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, body, tc.code, tc.want)
			}
		})
	}

	if code, body := do(t, srv, "DELETE", "/api/workflow/"+hello.UUID, "", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := do(t, srv, "GET", "/api/workflow/"+hello.UUID, "", ""); code != 404 {
		t.Fatalf("deleted workflow answers %d", code)
	}
}

func TestHTTPCalls(t *testing.T) {
	srv, svc := server(t, testGraph(t, 1500, 1500, 1500), 500*time.Millisecond)
	for _, w := range []v1.Workflow{
		{Name: "Later", Source: "function () { return new Promise(function (ok) { setTimeout(function () { ok({State: true}) }, 10) }) }"},
		{Name: "Thrower", Source: "function () {\n  throw new Error('it broke')\n}"},
		{Name: "Rejecter", Source: "function () { return sleep(1).then(function () { throw new Error('it rejected') }) }"},
		{Name: "Forever", Source: "function () { while (true) {} }"},
		{Name: "Graph", Source: "function () { var n = JSON.parse(Gremlin(\"G.V().Has('Name', REGEX('if-[ab]'))\")); var e = JSON.parse(Gremlin(\"G.E()\")); return {Nodes: n, Edges: e} }"},
		// request() against the real handlers: a workflow that creates a workflow.
		{Name: "Maker", Source: "function (name) { return JSON.parse(request('/api/workflow', 'POST', JSON.stringify({Name: name, Source: 'function () { return 7 }'}))).UUID }"},
	} {
		if _, err := svc.Store().Create(&w); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path, body string
		code             int
		want             []string
	}{
		{"promise", "/api/workflow/Later/call", `{"Params":[]}`, 200, []string{`{"State":true}`}},
		{"thrown error with its position", "/api/workflow/Thrower/call", `{"Params":[]}`, 400, []string{"Error: it broke", "Thrower:2:"}},
		{"rejection", "/api/workflow/Rejecter/call", `{"Params":[]}`, 400, []string{"Error: it rejected"}},
		{"timeout", "/api/workflow/Forever/call", `{"Params":[]}`, 504, []string{"interrupted", "deadline exceeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, srv, "POST", tc.path, "application/json", tc.body)
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s does not contain %q", body, w)
				}
			}
		})
	}

	t.Run("request creates a resource", func(t *testing.T) {
		code, body := do(t, srv, "POST", "/api/workflow/Maker/call", "application/json", `{"Params":["Made"]}`)
		var id string
		if code != 200 || json.Unmarshal([]byte(body), &id) != nil {
			t.Fatalf("%d %s", code, body)
		}
		made, err := svc.Store().Get(id)
		if err != nil || made.Name != "Made" {
			t.Fatalf("made %+v, %v", made, err)
		}
		if code, body := do(t, srv, "POST", "/api/workflow/Made/call", "", ""); code != 200 || body != "7" {
			t.Fatalf("calling the made workflow: %d %s", code, body)
		}
	})

	t.Run("Workflow step answering a graph", func(t *testing.T) {
		code, body := do(t, srv, "POST", "/api/topology", "application/json", `{"GremlinQuery":"G.Workflow('Graph')"}`)
		var res []struct {
			Nodes []graph.Node
			Edges []graph.Edge
		}
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res) != 1 {
			t.Fatalf("%d %s", code, body)
		}
		// The edge b - c has an end outside the nodes: it is left out.
		if len(res[0].Nodes) != 2 || len(res[0].Edges) != 1 || res[0].Edges[0].Parent != "a" || res[0].Edges[0].Child != "b" {
			t.Fatalf("graph %s", body)
		}
	})

	t.Run("Workflow step followed by steps", func(t *testing.T) {
		for q, want := range map[string]string{
			"G.Workflow('Graph').V().Count()":                                  "2",
			"G.Workflow('Graph').E().Count()":                                  "1",
			"G.Workflow('Graph').V().Has('Name', 'if-a').Out().Values('Name')": `["if-b"]`,
		} {
			code, body := do(t, srv, "POST", "/api/topology", "application/json", string(mustJSON(t, v1.TopologyQuery{GremlinQuery: q})))
			if code != 200 || strings.TrimSpace(body) != want {
				t.Errorf("%s: %d %s, want %s", q, code, body, want)
			}
		}
	})
}

func TestCheckMTU(t *testing.T) {
	for _, tc := range []struct {
		name             string
		mtuA, mtuB, mtuC int
		from, to         string
		code             int
		want             string
	}{
		{"equal", 1500, 1500, 1500, "a", "c", 200, "true"},
		{"increasing", 1400, 1500, 9000, "a", "c", 200, "true"},
		{"decreasing", 1500, 1400, 1500, "a", "c", 200, "false"},
		{"decreasing at the end", 1500, 1500, 1400, "a", "c", 200, "false"},
		{"reverse path", 1500, 1500, 1400, "c", "a", 200, "true"},
		{"by TID", 1500, 1400, 1500, "tid-a", "tid-c", 200, "false"},
		{"no path", 1500, 1500, 1500, "a", "d", 400, "no layer2 path from a to d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := server(t, testGraph(t, tc.mtuA, tc.mtuB, tc.mtuC), 0)
			body := mustJSON(t, v1.WorkflowCall{Params: []any{tc.from, tc.to}})
			code, out := do(t, srv, "POST", "/api/workflow/"+checkMTUID+"/call", "application/json", body)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("%d %s, want %d with %q", code, out, tc.code, tc.want)
			}
			// The same through the query language, by name.
			if tc.code == 200 {
				code, out = do(t, srv, "POST", "/api/topology", "application/json",
					mustJSON(t, v1.TopologyQuery{GremlinQuery: "G.Workflow('CheckMTU', '" + tc.from + "', '" + tc.to + "')"}))
				if code != 200 || out != "["+tc.want+"]" {
					t.Fatalf("Workflow step: %d %s", code, out)
				}
			}
		})
	}
}

func TestCheckMTUPath(t *testing.T) {
	for _, tc := range []struct {
		name             string
		mtuA, mtuB, mtuC int
		from, to         string
		code             int
		want             []string
	}{
		{"equal", 1500, 1500, 1500, "a", "c", 200, []string{`"Path":[{"ID":"a","Name":"if-a","Type":"veth","MTU":1500},{"ID":"b"`, `"MaxPacket":1500`, `"Bottleneck":"if-a"`, `"Verdict":"ok: 1500 passes"`}},
		{"smaller in the middle, by TID", 1500, 1400, 9000, "tid-a", "tid-c", 200, []string{`"Tunnels":[]`, `"MaxPacket":1400`, `"Bottleneck":"if-b"`, `"Verdict":"instance MTU 1500 but MTU 1400 on if-b: 1400 needed"`}},
		{"no path", 1500, 1500, 1500, "a", "d", 400, []string{"no path from a to d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := server(t, testGraph(t, tc.mtuA, tc.mtuB, tc.mtuC), 0)
			body := mustJSON(t, v1.WorkflowCall{Params: []any{tc.from, tc.to}})
			code, out := do(t, srv, "POST", "/api/workflow/"+checkMTUPathID+"/call", "application/json", body)
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, out, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %s", out, w)
				}
			}
		})
	}
}

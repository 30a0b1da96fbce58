package userelements

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
)

func TestAPI(t *testing.T) {
	g := graph.New()
	mux := http.NewServeMux()
	New(g, "h1").Register(mux, &httpapi.Server{Graph: g})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The steps run in order, each on the graph the previous ones left.
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     []string // substrings of the answer
	}{
		{"create node", "POST", "/api/node", `{"ID":"n1","Metadata":{"Name":"a","Type":"device","TID":"t1","K":1}}`, 201,
			[]string{`"ID":"n1"`, `"Host":"h1"`, `"Origin":"analyzer.h1"`, `"Revision":1`, `"K":1`}},
		{"create node given origin", "POST", "/api/node", `{"ID":"n2","Metadata":{"Name":"b","Type":"netns","Path":"/run/netns/b"},"Host":"other","Origin":"cli.x","CreatedAt":1000}`, 201,
			[]string{`"Host":"other"`, `"Origin":"cli.x"`, `"CreatedAt":1000`}},
		{"duplicate node", "POST", "/api/node", `{"ID":"n1","Metadata":{"Name":"a","Type":"device"}}`, 409, []string{"Node 'n1' already exists"}},
		{"node without ID", "POST", "/api/node", `{"Metadata":{"Name":"a","Type":"device"}}`, 400, []string{"ID: required"}},
		{"node without Metadata", "POST", "/api/node", `{"ID":"x"}`, 400, []string{"Metadata: required"}},
		{"node without Name", "POST", "/api/node", `{"ID":"x","Metadata":{"Type":"device"}}`, 400, []string{"Metadata.Name: required"}},
		{"node with empty Type", "POST", "/api/node", `{"ID":"x","Metadata":{"Name":"a","Type":""}}`, 400, []string{"Metadata.Type: required"}},
		{"node with a number Name", "POST", "/api/node", `{"ID":"x","Metadata":{"Name":3,"Type":"device"}}`, 400, []string{"Metadata.Name: required"}},
		{"netns without Path", "POST", "/api/node", `{"ID":"x","Metadata":{"Name":"a","Type":"netns"}}`, 400, []string{"Metadata.Path: required on a netns node"}},
		{"ovsport without UUID", "POST", "/api/node", `{"ID":"x","Metadata":{"Name":"a","Type":"ovsport"}}`, 400, []string{"Metadata.UUID: required on a ovsport node"}},
		{"unknown field", "POST", "/api/node", `{"ID":"x","Nope":1,"Metadata":{"Name":"a","Type":"device"}}`, 400, []string{"Nope"}},
		{"wrong type", "POST", "/api/node", `{"ID":5}`, 400, []string{`field "Element.ID"`}},
		{"empty body", "POST", "/api/node", ``, 400, []string{"empty body"}},
		{"create edge", "POST", "/api/edge", `{"ID":"e1","Parent":"n1","Child":"n2","Metadata":{"RelationType":"ownership"}}`, 201,
			[]string{`"Parent":"n1"`, `"Child":"n2"`, `"Origin":"analyzer.h1"`}},
		{"edge to a missing node", "POST", "/api/edge", `{"ID":"e2","Parent":"n1","Child":"nope","Metadata":{"RelationType":"layer2"}}`, 400, []string{"Child: node 'nope' not found"}},
		{"edge without Parent", "POST", "/api/edge", `{"ID":"e2","Child":"n1","Metadata":{"RelationType":"layer2"}}`, 400, []string{"Parent: required"}},
		{"edge without RelationType", "POST", "/api/edge", `{"ID":"e2","Parent":"n1","Child":"n2","Metadata":{}}`, 400, []string{"Metadata.RelationType: required"}},
		{"duplicate edge", "POST", "/api/edge", `{"ID":"e1","Parent":"n1","Child":"n2","Metadata":{"RelationType":"ownership"}}`, 409, []string{"Edge 'e1' already exists"}},
		{"list nodes", "GET", "/api/node", "", 200, []string{`"n1":{"ID":"n1"`, `"n2":{"ID":"n2"`}},
		{"list edges", "GET", "/api/edge", "", 200, []string{`"e1":{"ID":"e1"`}},
		{"get node", "GET", "/api/node/n1", "", 200, []string{`"ID":"n1"`}},
		{"get unknown node", "GET", "/api/node/nope", "", 404, []string{"Node 'nope' not found"}},
		{"get edge", "GET", "/api/edge/e1", "", 200, []string{`"ID":"e1"`}},
		{"patch node", "PATCH", "/api/node/n1", `[{"op":"add","path":"/Metadata/Team","value":"net"},{"op":"remove","path":"/Metadata/K"}]`, 200,
			[]string{`"Team":"net"`, `"Revision":2`, `"TID":"t1"`}},
		{"same patch again", "PATCH", "/api/node/n1", `[{"op":"add","path":"/Metadata/Team","value":"net"}]`, 304, nil},
		{"test op on Name", "PATCH", "/api/node/n1", `[{"op":"test","path":"/Metadata/Name","value":"a"},{"op":"add","path":"/Metadata/A","value":{"B":1}}]`, 200, []string{`"A":{"B":1}`}},
		{"patch of Name", "PATCH", "/api/node/n1", `[{"op":"replace","path":"/Metadata/Name","value":"z"}]`, 400, []string{`"/Metadata/Name"`}},
		{"patch of TID", "PATCH", "/api/node/n1", `[{"op":"remove","path":"/Metadata/TID"}]`, 400, []string{`"/Metadata/TID"`}},
		{"move of Type", "PATCH", "/api/node/n1", `[{"op":"move","from":"/Metadata/Type","path":"/Metadata/T"}]`, 400, []string{`"/Metadata/Type"`}},
		{"replace whole Metadata", "PATCH", "/api/node/n1", `[{"op":"replace","path":"/Metadata","value":{"Name":"a","Type":"other","TID":"t1"}}]`, 400, []string{"/Metadata/Type cannot be changed"}},
		{"patch outside Metadata", "PATCH", "/api/node/n1", `[{"op":"replace","path":"/Host","value":"x"}]`, 400, []string{`"/Host"`}},
		{"netns loses Path", "PATCH", "/api/node/n2", `[{"op":"remove","path":"/Metadata/Path"}]`, 400, []string{"Metadata.Path"}},
		{"patch of a missing key", "PATCH", "/api/node/n1", `[{"op":"replace","path":"/Metadata/Nope","value":1}]`, 400, []string{"patch: "}},
		{"malformed patch", "PATCH", "/api/node/n1", `[{"op":"frobnicate","path":"/Metadata/A"}]`, 400, []string{"patch: "}},
		{"patch not a list", "PATCH", "/api/node/n1", `{"op":"add"}`, 400, []string{"patch: "}},
		{"patch of invalid JSON", "PATCH", "/api/node/n1", `[{`, 400, []string{"invalid body"}},
		{"patch of unknown node", "PATCH", "/api/node/nope", `[{"op":"add","path":"/Metadata/A","value":1}]`, 404, []string{"Node 'nope' not found"}},
		{"patch edge", "PATCH", "/api/edge/e1", `[{"op":"add","path":"/Metadata/Speed","value":10}]`, 200, []string{`"Speed":10`, `"Revision":2`}},
		{"same edge patch again", "PATCH", "/api/edge/e1", `[{"op":"replace","path":"/Metadata/Speed","value":10}]`, 304, nil},
		{"edge loses RelationType", "PATCH", "/api/edge/e1", `[{"op":"remove","path":"/Metadata/RelationType"}]`, 400, []string{"Metadata.RelationType"}},
		{"patch of unknown edge", "PATCH", "/api/edge/nope", `[]`, 404, []string{"Edge 'nope' not found"}},
		{"delete edge", "DELETE", "/api/edge/e1", "", 200, nil},
		{"edge gone", "GET", "/api/edge/e1", "", 404, []string{"Edge 'e1' not found"}},
		{"delete unknown edge", "DELETE", "/api/edge/e1", "", 404, []string{"Edge 'e1' not found"}},
		{"delete node", "DELETE", "/api/node/n1", "", 200, nil},
		{"delete unknown node", "DELETE", "/api/node/n1", "", 404, []string{"Node 'n1' not found"}},
		{"list after delete", "GET", "/api/node", "", 200, []string{`"n2":`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("answer %s lacks %s", b, w)
				}
			}
		})
	}

	// What the API made is in the graph, and what it refused is not.
	if n := g.Node("n2"); n == nil || n.Metadata.String("Path") != "/run/netns/b" {
		t.Errorf("n2 = %+v", n)
	}
	if g.Node("n1") != nil || g.Node("x") != nil || g.Edge("e2") != nil {
		t.Error("deleted or refused elements remain")
	}
	var list map[string]json.RawMessage
	resp, err := http.Get(srv.URL + "/api/node")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list) != 1 {
		t.Errorf("list %v %v, want n2 alone", list, err)
	}
}

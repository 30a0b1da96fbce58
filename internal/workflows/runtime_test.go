package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
	"github.com/skydive-ng/skydive/internal/topoquery"
)

// testGraph is three interfaces joined by layer2 edges: a - b - c, with the
// given MTUs, and an isolated one, d.
func testGraph(t *testing.T, mtuA, mtuB, mtuC int) *graph.Graph {
	t.Helper()
	g := graph.New()
	w := &topology.Writer{G: g, Host: "h1", Origin: "test"}
	for _, n := range []struct {
		id  string
		mtu int
	}{{"a", mtuA}, {"b", mtuB}, {"c", mtuC}, {"d", 1500}} {
		if err := w.AddNode(graph.Identifier(n.id), graph.Metadata{"Name": "if-" + n.id, "Type": "veth", "MTU": n.mtu, "TID": "tid-" + n.id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"a", "b"}, {"b", "c"}} {
		if _, err := w.Link(graph.Identifier(l[0]), graph.Identifier(l[1]), topology.Layer2Link, nil); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func queryOn(g graph.View) QueryFunc {
	return topoquery.New(topoquery.Options{Graph: g}).Query
}

func TestRunResults(t *testing.T) {
	g := testGraph(t, 1500, 1500, 1500)
	env := Env{Query: queryOn(g)}
	for _, tc := range []struct {
		name, src string
		params    []any
		want      string
	}{
		{"value", `function (a, b) { return a + b }`, []any{2, 3}, `5`},
		{"object params", `function (o) { return {n: o.x.length, first: o.x[0]} }`, []any{map[string]any{"x": []any{"p", "q"}}}, `{"n":2,"first":"p"}`},
		{"undefined is null", `function () {}`, nil, `null`},
		{"promise", `function () { return new Promise(function (ok) { setTimeout(function () { ok({done: true}) }, 20) }) }`, nil, `{"done":true}`},
		{"async chain", `async function () { await sleep(5); var n = await client.G.V().Has('Type', 'veth').Count(); return n * 2 }`, nil, `8`},
		{"clearTimeout", `function () { return new Promise(function (ok) { var t = setTimeout(function () { ok('late') }, 10); clearTimeout(t); setTimeout(function () { ok('kept') }, 20) }) }`, nil, `"kept"`},
		{"interval", `function () { return new Promise(function (ok) { var n = 0; var t = setInterval(function () { if (++n == 3) { clearInterval(t); ok(n) } }, 5) }) }`, nil, `3`},
		{"Gremlin is JSON text", `function () { var s = Gremlin("G.V().Has('Name', 'if-b').Values('MTU')"); return typeof s + ':' + s }`, nil, `"string:[1500]"`},
		{"client.gremlin builder", `function () { return client.gremlin.G().V().Has('Name', REGEX('if-[ab]')).Values('Name').result() }`, nil, `["if-a","if-b"]`},
		{"builder quoting", `function () { return client.gremlin.G().V().Has('Name', "it's").query() }`, nil, `"G.V().Has('Name', \"it's\")"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Run(context.Background(), env, "test", tc.src, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %s, want %s", out, tc.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	env := Env{Query: queryOn(testGraph(t, 1500, 1500, 1500)), Timeout: 300 * time.Millisecond}
	for _, tc := range []struct {
		name, src string
		want      []string
		timeout   bool
	}{
		{"throw", "function () {\n  var x = 1\n  throw new Error('boom ' + x)\n}", []string{"Error: boom 1", "test:3:"}, false},
		{"rejection", "function () { return Promise.reject(new Error('denied')) }", []string{"Error: denied", "at "}, false},
		{"async throw", "async function () { await sleep(1); throw new TypeError('bad type') }", []string{"TypeError: bad type"}, false},
		{"syntax", "function ( {", []string{"test"}, false},
		{"not a function", "42", []string{"must be a function"}, false},
		{"bad query", "function () { return Gremlin('G.V().Nope()') }", []string{"Gremlin", "Nope"}, false},
		{"never settles", "function () { return new Promise(function () {}) }", []string{"never settles"}, false},
		{"busy loop", "function () { for (;;) {} }", []string{"interrupted", "deadline"}, true},
		{"long sleep", "function () { sleep(10000); return 1 }", []string{"interrupted"}, true},
		{"pending timer", "function () { return new Promise(function (ok) { setTimeout(ok, 10000) }) }", []string{"interrupted"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Run(context.Background(), env, "test", tc.src, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var te *TimeoutError
			if got := errors.As(err, &te); got != tc.timeout {
				t.Errorf("TimeoutError: %v, want %v (%v)", got, tc.timeout, err)
			}
			if tc.timeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v is not DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestRequestCreatesResource(t *testing.T) {
	var got []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/thing", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, r.Header.Get("Content-Type")+" "+v["Name"].(string))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"UUID":"u1","Name":"` + v["Name"].(string) + `"}`))
	})
	mux.HandleFunc("DELETE /api/thing/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Thing '"+r.PathValue("id")+"' not found", http.StatusNotFound)
	})
	env := Env{Handler: mux}
	out, err := Run(context.Background(), env, "test",
		`function () { return JSON.parse(request('/api/thing', 'POST', JSON.stringify({Name: 'x'}))).UUID }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `"u1"` || len(got) != 1 || got[0] != "application/json x" {
		t.Fatalf("out %s, server saw %q", out, got)
	}
	_, err = Run(context.Background(), env, "test", `function () { request('/api/thing/zz', 'DELETE', '') }`, nil)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Thing 'zz' not found") {
		t.Fatalf("error %v, want the 404 and its message", err)
	}
}

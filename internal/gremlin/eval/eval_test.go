package eval_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

func smallGraph(t testing.TB) *graph.Graph {
	t.Helper()
	clock := graph.Time(1000)
	g := graph.New(graph.WithClock(func() graph.Time { clock++; return clock }))
	add := func(id, typ, name string, extra map[string]any) {
		md := graph.Metadata{"Type": typ, "Name": name}
		for k, v := range extra {
			md[k] = v
		}
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: md}}); err != nil {
			t.Fatal(err)
		}
	}
	link := func(id, p, c, rel string) {
		if err := g.AddEdge(&graph.Edge{Element: graph.Element{ID: graph.Identifier(id), Metadata: graph.Metadata{"RelationType": rel}}, Parent: graph.Identifier(p), Child: graph.Identifier(c)}); err != nil {
			t.Fatal(err)
		}
	}
	add("h", "host", "h", nil)
	add("ns", "netns", "ns", nil)
	add("a", "veth", "a", map[string]any{"MTU": 1500, "IPV4": []any{"10.0.0.1/24"}})
	add("b", "veth", "b", map[string]any{"MTU": 9000, "IPV4": []any{"10.0.0.2/24"}})
	link("h-ns", "h", "ns", "ownership")
	link("ns-a", "ns", "a", "ownership")
	link("h-b", "h", "b", "ownership")
	link("a-b", "a", "b", "layer2")
	return g
}

func run(t *testing.T, g graph.View, src string) (eval.Value, error) {
	t.Helper()
	q, err := eval.Compile(src)
	if err != nil {
		return nil, err
	}
	return q.Run(context.Background(), eval.Env{Graph: g})
}

func TestResultKinds(t *testing.T) {
	g := smallGraph(t)
	tests := []struct {
		src  string
		kind eval.Kind
		json string
	}{
		{"G.V().Count()", eval.KindNumber, "4"},
		{"G.V().Values('Name')", eval.KindValues, `["h","ns","a","b"]`},
		{"G.V().Has('Type', 'nothing')", eval.KindNodes, `[]`},
		{"G.E().Has('RelationType', 'nothing')", eval.KindEdges, `[]`},
		{"G.V().Has('Type', 'nothing').Values('Name')", eval.KindValues, `[]`},
		{"G.V().Has('Name', 'a').ShortestPathTo(Metadata('Name', 'nothing'))", eval.KindPaths, `[]`},
		{"G.V().Has('MTU', GT(1500)).Sum('MTU')", eval.KindNumber, "9000"},
		{"G.V().Has('Type', 'nothing').SubGraph()", eval.KindGraph, `[{"Nodes":[],"Edges":[]}]`},
	}
	for _, tt := range tests {
		q, err := eval.Compile(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if q.Kind() != tt.kind {
			t.Errorf("%s: kind %s, want %s", tt.src, q.Kind(), tt.kind)
		}
		res, err := q.Run(context.Background(), eval.Env{Graph: g})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if res.Kind() != tt.kind {
			t.Errorf("%s: result kind %s", tt.src, res.Kind())
		}
		b, _ := json.Marshal(res)
		if string(b) != tt.json {
			t.Errorf("%s: %s, want %s", tt.src, b, tt.json)
		}
	}
}

func TestErrorsArePositioned(t *testing.T) {
	g := smallGraph(t)
	for _, src := range []string{"G.V().Count().Out()", "G.V('x')", "G.At('-1m')", "G.Flows()", "G.V().Has(", ""} {
		_, err := run(t, g, src)
		var se *syntax.Error
		if !errors.As(err, &se) {
			t.Errorf("%q: %v is not a *syntax.Error", src, err)
		}
	}
	_, err := run(t, g, "G.V().Count().Out()")
	if err == nil || err.Error() != "1:15: Out() cannot follow Count()" {
		t.Errorf("got %v", err)
	}
}

func TestCancel(t *testing.T) {
	g := smallGraph(t)
	q, _ := eval.Compile("G.V().Out()")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Run(ctx, eval.Env{Graph: g}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	g := smallGraph(t)
	q, err := eval.Compile("G.V().Has('Type', 'veth').As('v').Out().Select('v').Count()")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				res, err := q.Run(context.Background(), eval.Env{Graph: g})
				if err != nil || res.(eval.Number).V != int64(2) {
					t.Errorf("%v %v", res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// flowKind and the steps below show how the flow engine plugs in.
const flowKind eval.Kind = "flows"

type flowList []map[string]any

func (flowList) Kind() eval.Kind { return flowKind }

func TestExtension(t *testing.T) {
	g := smallGraph(t)
	eng := eval.NewEngine(eval.Options{Steps: []eval.StepDef{
		{Name: "Flows", In: []eval.Kind{eval.KindGraph}, Compile: func(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
			f, err := c.Filter(s.Args)
			if len(s.Args) == 0 {
				f, err = nil, nil
			}
			if err != nil {
				return nil, "", err
			}
			return func(r *eval.Run, _ eval.Value) (eval.Value, error) {
				src, _ := r.Env.Flows.(flowList)
				var out flowList
				for _, fl := range src {
					if f.Map(fl) {
						out = append(out, fl)
					}
				}
				return out, nil
			}, flowKind, nil
		}},
		{Name: "Count", In: []eval.Kind{flowKind}, Compile: func(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
			return func(r *eval.Run, v eval.Value) (eval.Value, error) {
				return eval.Number{V: int64(len(v.(flowList)))}, nil
			}, eval.KindNumber, nil
		}},
	}})
	flows := flowList{{"Application": "ICMPv4", "Network": map[string]any{"A": "10.0.0.1"}}, {"Application": "DNS"}}
	q, err := eng.Compile("G.Flows('Network.A', IPV4RANGE('10.0.0.0/24')).Count()")
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Run(context.Background(), eval.Env{Graph: g, Flows: flows})
	if err != nil || res.(eval.Number).V != int64(1) {
		t.Fatalf("%v %v", res, err)
	}
	// Core steps still work; the default engine is unchanged.
	if _, err := eng.Compile("G.V().Count()"); err != nil {
		t.Error(err)
	}
	if _, err := eval.Compile("G.Flows().Count()"); err != nil {
		t.Error(err)
	}
	if _, err := run(t, g, "G.Flows().Count()"); err == nil || !strings.Contains(err.Error(), "no flow source") {
		t.Errorf("default engine: %v", err)
	}
	// Has on flows is not defined by this extension.
	if _, err := eng.Compile("G.Flows().Has('a', 1)"); err == nil || err.Error() != "1:11: Has() cannot follow Flows()" {
		t.Errorf("got %v", err)
	}
}

type fakeHistory struct{ at, from, to time.Time }

func (h *fakeHistory) At(t time.Time) graph.View { h.at = t; return graph.New() }
func (h *fakeHistory) Window(from, to time.Time) graph.View {
	h.from, h.to = from, to
	return graph.New()
}

func TestTimeArguments(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		src      string
		at, from time.Time
	}{
		{"G.At('-1m')", now.Add(-time.Minute), time.Time{}},
		{"G.At(NOW)", now, time.Time{}},
		{"G.At(1479899809)", time.Unix(1479899809, 0), time.Time{}},
		{"G.At(1479899809123)", time.UnixMilli(1479899809123), time.Time{}},
		{"G.At('Sun, 27 Nov 2016 15:53:58 UTC')", time.Date(2016, 11, 27, 15, 53, 58, 0, time.UTC), time.Time{}},
		{"G.At('2016-11-27T15:53:58Z')", time.Date(2016, 11, 27, 15, 53, 58, 0, time.UTC), time.Time{}},
		{"G.At('-1m', 300)", now.Add(-time.Minute), now.Add(-6 * time.Minute)},
		{"G.Context(NOW, '1h')", now, now.Add(-time.Hour)},
		{"G.Context(NOW, FOREVER)", now, time.UnixMilli(0)},
	}
	for _, tt := range tests {
		h := &fakeHistory{}
		q, err := eval.Compile(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if _, err := q.Run(context.Background(), eval.Env{Graph: graph.New(), History: h, Now: func() time.Time { return now }}); err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if tt.from.IsZero() {
			if !h.at.Equal(tt.at) {
				t.Errorf("%s: at %v, want %v", tt.src, h.at, tt.at)
			}
		} else if !h.to.Equal(tt.at) || !h.from.Equal(tt.from) {
			t.Errorf("%s: window %v..%v, want %v..%v", tt.src, h.from, h.to, tt.from, tt.at)
		}
	}
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"G.V().Has('Type', 'veth').Out()", "G.V().Has('MTU', NE(1500)).Values('IPV4')",
		"G.V().Has('Name', 'a').ShortestPathTo(Metadata('Name', 'b'), Metadata('RelationType', 'layer2'))",
		"G.E().Dedup('RelationType').BothV().Sort(DESC, 'MTU').Range(0, 2)", "G.V().As('x').In().Select('x').Count()",
		"G.V().Descendants(0).ValueMap('Name').Has('Name', Regex('a|b'))", "G.V().SubGraph().E().InV().Keys()",
		"G.At('-1m').V().Diff('-2m')", "G.V().Neighbors('RelationType', 'layer2', 2).Sum('MTU')",
		"G.V().Has('IPV4', IPRange('10.0.0.0/24')).Values('MTU').Dedup()", "G.Flows().Count()",
	} {
		f.Add(s)
	}
	g := smallGraph(f)
	h := &fakeHistory{}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := eval.Compile(src)
		if err != nil {
			var se *syntax.Error
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %T %v", src, err, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := q.Run(ctx, eval.Env{Graph: g, History: h})
		if err != nil {
			var se *syntax.Error
			if !errors.As(err, &se) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run(%q): %T %v", src, err, err)
			}
			return
		}
		if q.Kind() != eval.KindAny && res.Kind() != q.Kind() {
			t.Fatalf("Run(%q): kind %s, compiled %s", src, res.Kind(), q.Kind())
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("Run(%q): marshal: %v", src, err)
		}
	})
}

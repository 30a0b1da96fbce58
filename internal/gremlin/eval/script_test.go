package eval_test

import (
	"context"
	"encoding/json"
	"flag"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/scripttest"
)

var update = flag.Bool("update", false, "rewrite the expected results of testdata/*.test")

// The scripts (testdata/*.test) use the directives of package scripttest,
// with a clock that starts at 1000 and advances by 1 per element, plus:
//
//	set <id> {json}            merge metadata into a node or edge (null deletes a key)
//	del <id>                   delete a node (and its edges) or an edge
//	now <ms>                   the query clock (Env.Now); default: the graph clock
func TestScripts(t *testing.T) {
	var (
		s   *scripttest.Script
		now int64
	)
	scripttest.Run(t, *update, scripttest.Options{
		Clock:            1000,
		TickOnAdd:        true,
		HistoryRetention: time.Hour,
		New: func(sc *scripttest.Script) {
			s, now = sc, 0
		},
		Directive: func(cmd, arg string) (bool, error) {
			switch cmd {
			case "now":
				now, _ = strconv.ParseInt(arg, 10, 64)
			case "set":
				id, js, _ := strings.Cut(arg, " ")
				var m map[string]any
				if err := json.Unmarshal([]byte(js), &m); err != nil {
					return true, err
				}
				change := func(md graph.Metadata) bool {
					for k, v := range m {
						if v == nil {
							delete(md, k)
						} else {
							md[k] = v
						}
					}
					return true
				}
				if s.Graph.Node(graph.Identifier(id)) != nil {
					return true, s.Graph.UpdateNodeMetadata(graph.Identifier(id), change)
				}
				return true, s.Graph.UpdateEdgeMetadata(graph.Identifier(id), change)
			case "del":
				if s.Graph.Node(graph.Identifier(arg)) != nil {
					return true, s.Graph.DeleteNode(graph.Identifier(arg))
				}
				return true, s.Graph.DeleteEdge(graph.Identifier(arg))
			default:
				return false, nil
			}
			return true, nil
		},
		Eval: func(src string, ids bool) string {
			q, err := eval.Compile(src)
			if err != nil {
				return scripttest.Result(nil, err)
			}
			env := eval.Env{Graph: s.Graph}
			if s.History != nil {
				env.History = s.History
			}
			at := now
			if at == 0 {
				at = s.Clock
			}
			env.Now = func() time.Time { return time.UnixMilli(at) }
			res, err := q.Run(context.Background(), env)
			if err != nil || !ids {
				return scripttest.Result(res, err)
			}
			return scripttest.Result(idsOf(res), nil)
		},
	})
}

func idsOf(v eval.Value) any {
	switch t := v.(type) {
	case eval.Nodes:
		out := []string{}
		for _, n := range t {
			out = append(out, string(n.ID))
		}
		return out
	case eval.Edges:
		out := []string{}
		for _, e := range t {
			out = append(out, string(e.ID))
		}
		return out
	case eval.Paths:
		out := [][]string{}
		for _, p := range t {
			out = append(out, idsOf(eval.Nodes(p)).([]string))
		}
		return out
	case eval.Graph:
		return map[string]any{"Nodes": idsOf(eval.Nodes(t.View.Nodes())), "Edges": idsOf(eval.Edges(t.View.Edges()))}
	case eval.Object:
		if d, ok := t.V.(eval.DiffResult); ok {
			ch := []any{}
			for _, c := range d.Changed {
				ch = append(ch, map[string]any{"ID": c.ID, "Keys": c.Keys})
			}
			return map[string]any{"Added": idsOf(d.Added), "Removed": idsOf(d.Removed), "Changed": ch}
		}
	}
	return v
}

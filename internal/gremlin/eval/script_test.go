package eval_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/history"
)

var update = flag.Bool("update", false, "rewrite the expected results of testdata/*.test")

// The script format (testdata/*.test), one directive per line:
//
//	# comment
//	clock <ms>                 the graph clock for the next changes (default 1000, +1 per element)
//	history                    record history from now on (enables At/Context/Diff)
//	node {json}                add a node (graph.Node JSON)
//	edge {json}                add an edge
//	set <id> {json}            merge metadata into a node or edge (null deletes a key)
//	del <id>                   delete a node (and its edges) or an edge
//	now <ms>                   the query clock (Env.Now); default: the graph clock
//	eval <query>               run a query; the next line is the expected result:
//	=> <json>                  the JSON of the result
//	=> error <message>         the error text
//	ids <query>                like eval, but nodes/edges are shown as their IDs
//
// A query continues on the following lines that start with a blank.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type script struct {
	t       *testing.T
	g       *graph.Graph
	clock   int64
	now     int64
	hist    *history.Store
	out     bytes.Buffer
	changed bool
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &script{t: t, clock: 1000}
	s.g = graph.New(graph.WithClock(func() graph.Time { return graph.Time(s.clock) }))
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		s.out.WriteString(line + "\n")
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s:%d: %s", file, i+1, fmt.Sprintf(format, args...))
		}
		cmd, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		switch cmd {
		case "", "#":
		case "clock":
			s.clock, _ = strconv.ParseInt(rest, 10, 64)
		case "now":
			s.now, _ = strconv.ParseInt(rest, 10, 64)
		case "history":
			s.hist = history.New(history.Options{Retention: time.Hour, Now: func() time.Time { return time.UnixMilli(s.clock) }})
			s.hist.Attach(s.g)
		case "node":
			var n graph.Node
			if err := json.Unmarshal([]byte(rest), &n); err != nil {
				fail("%v", err)
			}
			s.clock++
			if err := s.g.AddNode(&n); err != nil {
				fail("%v", err)
			}
		case "edge":
			var e graph.Edge
			if err := json.Unmarshal([]byte(rest), &e); err != nil {
				fail("%v", err)
			}
			s.clock++
			if err := s.g.AddEdge(&e); err != nil {
				fail("%v", err)
			}
		case "set":
			id, js, _ := strings.Cut(rest, " ")
			var m map[string]any
			if err := json.Unmarshal([]byte(js), &m); err != nil {
				fail("%v", err)
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
			if s.g.Node(graph.Identifier(id)) != nil {
				err = s.g.UpdateNodeMetadata(graph.Identifier(id), change)
			} else {
				err = s.g.UpdateEdgeMetadata(graph.Identifier(id), change)
			}
			if err != nil {
				fail("%v", err)
			}
		case "del":
			if s.g.Node(graph.Identifier(rest)) != nil {
				err = s.g.DeleteNode(graph.Identifier(rest))
			} else {
				err = s.g.DeleteEdge(graph.Identifier(rest))
			}
			if err != nil {
				fail("%v", err)
			}
		case "eval", "ids":
			for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
				i++
				rest += "\n" + lines[i]
				s.out.WriteString(lines[i] + "\n")
			}
			got := s.eval(rest, cmd == "ids")
			want := ""
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "=> ") {
				i++
				want = strings.TrimPrefix(lines[i], "=> ")
			}
			s.out.WriteString("=> " + got + "\n")
			if !sameResult(got, want) {
				if *update {
					s.changed = true
				} else {
					fail("%s\n got: %s\nwant: %s", rest, got, want)
				}
			}
		default:
			fail("unknown directive %q", cmd)
		}
	}
	if *update && s.changed {
		if err := os.WriteFile(file, s.out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *script) eval(src string, ids bool) string {
	q, err := eval.Compile(src)
	if err != nil {
		return "error " + err.Error()
	}
	env := eval.Env{Graph: s.g}
	if s.hist != nil {
		env.History = s.hist
	}
	now := s.now
	if now == 0 {
		now = s.clock
	}
	env.Now = func() time.Time { return time.UnixMilli(now) }
	res, err := q.Run(context.Background(), env)
	if err != nil {
		return "error " + err.Error()
	}
	var b []byte
	if ids {
		b, err = json.Marshal(idsOf(res))
	} else {
		b, err = json.Marshal(res)
	}
	if err != nil {
		return "marshal error " + err.Error()
	}
	return string(b)
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

func sameResult(got, want string) bool {
	if got == want {
		return true
	}
	if strings.HasPrefix(want, "error ") || strings.HasPrefix(got, "error ") {
		return false
	}
	var a, b any
	if json.Unmarshal([]byte(got), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

var _ = bufio.NewReader

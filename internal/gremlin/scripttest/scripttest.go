// Package scripttest runs the Gremlin script tests (testdata/*.test) of the
// eval and flowsteps packages: the directives they share (graph, clock,
// history, queries and their expected results, -update) are here; each
// package adds its own directives and runs its queries.
//
// The format, one directive per line:
//
//	# comment
//	clock <ms>          the graph clock for the next changes
//	history             record history from now on (At/Context/Diff)
//	node {json}         add a node (graph.Node JSON)
//	edge {json}         add an edge
//	eval <query>        run a query; the next line is the expected result:
//	=> <json>           the JSON of the result, or
//	=> error <message>  the error text
//	ids <query>         like eval, elements shown as their IDs
//
// A query continues on the following lines that start with a blank.
package scripttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/history"
)

// Script is the state a script runs against.
type Script struct {
	Graph   *graph.Graph
	Clock   int64 // milliseconds
	History *history.Store
}

// Options describe a package's scripts.
type Options struct {
	// Clock is the clock at the start of a script.
	Clock int64
	// TickOnAdd advances the clock by 1 before each node or edge.
	TickOnAdd bool
	// HistoryRetention of the "history" directive.
	HistoryRetention time.Duration
	// New, when set, prepares the package's own state for a new script.
	New func(s *Script)
	// Directive runs a directive of the package's own; known is false for
	// an unknown one.
	Directive func(cmd, arg string) (known bool, err error)
	// Eval runs a query: the JSON of its result, or "error <message>".
	Eval func(query string, ids bool) string
}

// Run runs every testdata/*.test script of the package; with update, the
// expected results that differ are rewritten instead of failing.
func Run(t *testing.T, update bool, opts Options) {
	t.Helper()
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runFile(t, f, update, opts) })
	}
}

// Result is the JSON text of v, or the error text.
func Result(v any, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "marshal error " + err.Error()
	}
	return string(b)
}

func runFile(t *testing.T, file string, update bool, opts Options) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &Script{Clock: opts.Clock}
	s.Graph = graph.New(graph.WithClock(func() graph.Time { return graph.Time(s.Clock) }))
	if opts.New != nil {
		opts.New(s)
	}
	var out strings.Builder
	changed := false
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		out.WriteString(lines[i] + "\n")
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s:%d: %s", file, i+1, fmt.Sprintf(format, args...))
		}
		cmd, rest, _ := strings.Cut(strings.TrimSpace(lines[i]), " ")
		rest = strings.TrimSpace(rest)
		switch cmd {
		case "", "#":
		case "clock":
			s.Clock, _ = strconv.ParseInt(rest, 10, 64)
		case "history":
			s.History = history.New(history.Options{Retention: opts.HistoryRetention, Now: func() time.Time { return time.UnixMilli(s.Clock) }})
			s.History.Attach(s.Graph)
		case "node":
			var n graph.Node
			if err := json.Unmarshal([]byte(rest), &n); err != nil {
				fail("%v", err)
				continue
			}
			if opts.TickOnAdd {
				s.Clock++
			}
			if err := s.Graph.AddNode(&n); err != nil {
				fail("%v", err)
			}
		case "edge":
			var e graph.Edge
			if err := json.Unmarshal([]byte(rest), &e); err != nil {
				fail("%v", err)
				continue
			}
			if opts.TickOnAdd {
				s.Clock++
			}
			if err := s.Graph.AddEdge(&e); err != nil {
				fail("%v", err)
			}
		case "eval", "ids":
			for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
				i++
				rest += "\n" + lines[i]
				out.WriteString(lines[i] + "\n")
			}
			got := opts.Eval(rest, cmd == "ids")
			want := ""
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "=> ") {
				i++
				want = strings.TrimPrefix(lines[i], "=> ")
			}
			out.WriteString("=> " + got + "\n")
			if !sameResult(got, want) {
				if update {
					changed = true
				} else {
					fail("%s\n got: %s\nwant: %s", rest, got, want)
				}
			}
		default:
			known := false
			if opts.Directive != nil {
				known, err = opts.Directive(cmd, rest)
				if err != nil {
					fail("%v", err)
				}
			}
			if !known {
				fail("unknown directive %q", cmd)
			}
		}
	}
	if update && changed {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameResult compares two results as JSON values (key order aside).
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

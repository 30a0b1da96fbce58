package flowsteps_test

import (
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

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/history"
)

var update = flag.Bool("update", false, "rewrite the expected results of testdata/*.test")

// The script format (testdata/*.test), one directive per line:
//
//	# comment
//	clock <ms>          the graph and store clock (default 1000000)
//	history             record graph history from now on (At/Context)
//	node {json}         add a node
//	edge {json}         add an edge
//	flow {json}         insert a flow (flow.Flow JSON) into the store
//	raw <uuid> <hex>    keep a raw Ethernet packet for a flow
//	source live|store|both|none   what Env.Flows holds (default both:
//	                    the store answers live and time-context queries)
//	eval <query>        run a query; the next line is the expected result:
//	=> <json>           the JSON of the result, or
//	=> error <message>
//	ids <query>         like eval, flows shown as UUIDs and nodes as IDs
var engine = flowsteps.NewEngine()

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
	g      *graph.Graph
	clock  int64
	hist   *history.Store
	store  *flowstore.Memory
	source string
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &script{clock: 1000000, source: "both"}
	s.g = graph.New(graph.WithClock(func() graph.Time { return graph.Time(s.clock) }))
	s.store = flowstore.NewMemory(flowstore.MemoryOptions{Now: func() time.Time { return time.UnixMilli(s.clock) }})
	var out strings.Builder
	changed := false
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out.WriteString(line + "\n")
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
		case "source":
			s.source = rest
		case "history":
			s.hist = history.New(history.Options{Retention: 24 * time.Hour, Now: func() time.Time { return time.UnixMilli(s.clock) }})
			s.hist.Attach(s.g)
		case "node":
			var n graph.Node
			if err := json.Unmarshal([]byte(rest), &n); err != nil {
				fail("%v", err)
			} else if err := s.g.AddNode(&n); err != nil {
				fail("%v", err)
			}
		case "edge":
			var e graph.Edge
			if err := json.Unmarshal([]byte(rest), &e); err != nil {
				fail("%v", err)
			} else if err := s.g.AddEdge(&e); err != nil {
				fail("%v", err)
			}
		case "flow":
			var f flow.Flow
			if err := json.Unmarshal([]byte(rest), &f); err != nil {
				fail("%v", err)
			} else if err := s.store.Insert(context.Background(), []*flow.Flow{&f}); err != nil {
				fail("%v", err)
			}
		case "raw":
			id, hexData, _ := strings.Cut(rest, " ")
			var b []byte
			if _, err := fmt.Sscanf(hexData, "%x", &b); err != nil {
				fail("%v", err)
			}
			old, _ := s.store.RawPackets(context.Background(), []string{id})
			p := rawpacket.Packet{Timestamp: s.clock, Index: int64(len(old[id])), Data: b, LinkType: 1}
			if err := s.store.InsertRawPackets(context.Background(), map[string][]rawpacket.Packet{id: {p}}); err != nil {
				fail("%v", err)
			}
		case "eval", "ids":
			for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
				i++
				rest += "\n" + lines[i]
				out.WriteString(lines[i] + "\n")
			}
			got := s.eval(rest, cmd == "ids")
			want := ""
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "=> ") {
				i++
				want = strings.TrimPrefix(lines[i], "=> ")
			}
			out.WriteString("=> " + got + "\n")
			if !sameResult(got, want) {
				if *update {
					changed = true
				} else {
					fail("%s\n got: %s\nwant: %s", rest, got, want)
				}
			}
		default:
			fail("unknown directive %q", cmd)
		}
	}
	if *update && changed {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *script) eval(src string, ids bool) string {
	q, err := engine.Compile(src)
	if err != nil {
		return "error " + err.Error()
	}
	env := eval.Env{Graph: s.g, Now: func() time.Time { return time.UnixMilli(s.clock) }}
	if s.hist != nil {
		env.History = s.hist
	}
	switch s.source {
	case "both":
		env.Flows = s.store
	case "live":
		env.Flows = &flowsteps.Source{Live: s.store}
	case "store":
		env.Flows = flowsteps.Source{Store: s.store}
	}
	res, err := q.Run(context.Background(), env)
	if err != nil {
		return "error " + err.Error()
	}
	var v any = res
	if ids {
		v = idsOf(res)
	}
	b, err := json.Marshal(v)
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
	case flowsteps.Flows:
		out := []string{}
		for _, f := range t {
			out = append(out, f.UUID)
		}
		return out
	case flowsteps.Groups:
		out := map[string]any{}
		for k, fs := range t {
			out[k] = idsOf(fs)
		}
		return []any{out}
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

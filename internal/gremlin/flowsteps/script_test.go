package flowsteps_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/gremlin/scripttest"
)

var update = flag.Bool("update", false, "rewrite the expected results of testdata/*.test")

var engine = flowsteps.NewEngine()

// The scripts (testdata/*.test) use the directives of package scripttest,
// with a clock (graph and flow store) that starts at 1000000, plus:
//
//	flow {json}         insert a flow (flow.Flow JSON) into the store
//	raw <uuid> <hex>    keep a raw Ethernet packet for a flow
//	source live|store|both|none   what Env.Flows holds (default both:
//	                    the store answers live and time-context queries)
func TestScripts(t *testing.T) {
	var (
		s      *scripttest.Script
		store  *flowstore.Memory
		source string
	)
	ctx := context.Background()
	scripttest.Run(t, *update, scripttest.Options{
		Clock:            1000000,
		HistoryRetention: 24 * time.Hour,
		New: func(sc *scripttest.Script) {
			s, source = sc, "both"
			store = flowstore.NewMemory(flowstore.MemoryOptions{Now: func() time.Time { return time.UnixMilli(s.Clock) }})
		},
		Directive: func(cmd, arg string) (bool, error) {
			switch cmd {
			case "source":
				source = arg
			case "flow":
				var f flow.Flow
				if err := json.Unmarshal([]byte(arg), &f); err != nil {
					return true, err
				}
				return true, store.Insert(ctx, []*flow.Flow{&f})
			case "raw":
				id, hexData, _ := strings.Cut(arg, " ")
				var b []byte
				if _, err := fmt.Sscanf(hexData, "%x", &b); err != nil {
					return true, err
				}
				old, _ := store.RawPackets(ctx, []string{id})
				p := rawpacket.Packet{Timestamp: s.Clock, Index: int64(len(old[id])), Data: b, LinkType: 1}
				return true, store.InsertRawPackets(ctx, map[string][]rawpacket.Packet{id: {p}})
			default:
				return false, nil
			}
			return true, nil
		},
		Eval: func(src string, ids bool) string {
			q, err := engine.Compile(src)
			if err != nil {
				return scripttest.Result(nil, err)
			}
			env := eval.Env{Graph: s.Graph, Now: func() time.Time { return time.UnixMilli(s.Clock) }}
			if s.History != nil {
				env.History = s.History
			}
			switch source {
			case "both":
				env.Flows = store
			case "live":
				env.Flows = &flowsteps.Source{Live: store}
			case "store":
				env.Flows = flowsteps.Source{Store: store}
			}
			res, err := q.Run(ctx, env)
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

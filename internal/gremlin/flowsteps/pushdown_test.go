package flowsteps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/store"
)

// condStore is a memory store that records the conditions pushed to it.
type condStore struct {
	*flowstore.Memory
	got []store.Cond
}

func (c *condStore) FlowsWhere(ctx context.Context, q store.FlowQuery) ([]*flow.Flow, error) {
	c.got = q.Conds
	return c.Flows(ctx, q.Query)
}

func TestHasAfterFlowsIsPushedDown(t *testing.T) {
	now := time.Now()
	mem := flowstore.NewMemory(flowstore.MemoryOptions{})
	var fs []*flow.Flow
	for i := range 4 {
		f := flowstore.SuiteFlow(fmt.Sprintf("%016x", i), "tid", "c", now.Add(-time.Minute), now, int64(10*i))
		f.Network.A = fmt.Sprintf("10.0.1.%d", i)
		f.Network.B = "10.0.2.1"
		fs = append(fs, f)
	}
	if err := mem.Insert(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		conds string
		count int
	}{
		{"G.Flows().Has('Network.A', '10.0.1.1').Count()", "[{Network.A = [10.0.1.1]}]", 1},
		{"G.Flows().Has('Network.A', '10.0.1.1').Has('Metric.ABPackets', GT(5)).Count()", "[{Network.A = [10.0.1.1]} {Metric.ABPackets > [5]}]", 1},
		// NE also keeps flows without the field: filtered, not pushed.
		{"G.Flows().Has('Network.A', NE('10.0.1.1')).Count()", "[]", 3},
		// Network means A or B: filtered, not pushed.
		{"G.Flows().Has('Network', '10.0.1.2').Count()", "[]", 1},
		// HasEither is an OR: a filter after the query.
		{"G.Flows().HasEither('Network.A', '10.0.1.1', 'Network.A', '10.0.1.2').Count()", "[]", 2},
	} {
		cs := &condStore{Memory: mem}
		q, err := flowsteps.NewEngine().Compile(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		v, err := q.Run(context.Background(), eval.Env{Graph: graph.New(), Flows: &flowsteps.Source{Live: cs, Store: cs}})
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if got, _ := json.Marshal(v); string(got) != fmt.Sprint(tc.count) {
			t.Errorf("%s = %s, want %d", tc.query, got, tc.count)
		}
		if got := fmt.Sprint(cs.got); got != tc.conds && !(tc.conds == "[]" && cs.got == nil) {
			t.Errorf("%s pushed %s, want %s", tc.query, got, tc.conds)
		}
	}
}

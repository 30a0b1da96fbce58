package embedded

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/store"
)

// TestMetricHistoryAcrossReopen writes the updates of one flow, some of
// them after a reopen (cold cache: the writer reads the record back), and
// checks that every LastUpdateMetric is answered, then pruned.
func TestMetricHistoryAcrossReopen(t *testing.T) {
	base := time.UnixMilli(1_750_000_000_000)
	ms := func(d time.Duration) int64 { return base.Add(d).UnixMilli() }
	upd := func(i int, lu bool) *flow.Flow {
		f := flowstore.SuiteFlow("9e3779b97f4a7c15", "node-1", "cap", base, base.Add(time.Duration(i)*time.Minute), int64(i))
		if lu {
			f.LastUpdateMetric = &flow.Metric{ABPackets: int64(i), Start: ms(time.Duration(i-1) * time.Minute), Last: ms(time.Duration(i) * time.Minute)}
		}
		return f
	}
	steps := []struct {
		name   string
		reopen bool
		flows  []*flow.Flow
	}{
		{"first", false, []*flow.Flow{upd(1, true)}},
		{"two in a batch", false, []*flow.Flow{upd(2, true), upd(3, true)}},
		{"same window again", false, []*flow.Flow{upd(3, true)}},
		{"after reopen", true, []*flow.Flow{upd(4, true)}},
		{"no metric", false, []*flow.Flow{upd(5, false)}},
		{"after reopen again", true, []*flow.Flow{upd(70, true)}}, // next hour bucket
	}
	dir := t.TempDir()
	ctx := context.Background()
	d, err := Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close() }()
	var want []flow.Metric
	for _, st := range steps {
		if st.reopen {
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if d, err = Open(Options{Dir: dir, NoSync: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Write(ctx, &store.Batch{Flows: st.flows}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, f := range st.flows {
			if lu := f.LastUpdateMetric; lu != nil && (len(want) == 0 || want[len(want)-1].Start != lu.Start) {
				want = append(want, *lu)
			}
		}
		got, err := d.Metrics(ctx, []string{"9e3779b97f4a7c15"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got["9e3779b97f4a7c15"], want) {
			t.Fatalf("%s: metrics\n%+v\nwant\n%+v", st.name, got["9e3779b97f4a7c15"], want)
		}
		last := st.flows[len(st.flows)-1]
		fs, err := d.Flows(ctx, store.BackendQuery{Window: flowstore.Window{From: base, To: base.Add(2 * time.Hour)},
			Conds: []store.Cond{{Field: "NodeTID", Op: store.Eq, Values: []any{"node-1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || !reflect.DeepEqual(fs[0], last) {
			t.Fatalf("%s: flows %+v, want the last update %+v", st.name, fs, last)
		}
		c, err := d.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Flows != 1 || c.Metrics != len(want) {
			t.Fatalf("%s: counts %+v, want 1 flow and %d metrics", st.name, c, len(want))
		}
	}
	if err := d.Prune(ctx, base.Add(3*time.Hour), base); err != nil {
		t.Fatal(err)
	}
	got, err := d.Metrics(ctx, []string{"9e3779b97f4a7c15"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("after prune: metrics %v, %v", got, err)
	}
	if c, _ := d.Counts(ctx); c.Flows != 0 || c.Metrics != 0 {
		t.Fatalf("after prune: counts %+v", c)
	}
}

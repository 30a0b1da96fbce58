package flowstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
)

func TestMemorySuite(t *testing.T) {
	flowstore.TestSuite(t, func() flowstore.Store { return flowstore.NewMemory(flowstore.MemoryOptions{}) })
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestMemoryBounds(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	tests := []struct {
		name      string
		opts      flowstore.MemoryOptions
		steps     int
		advance   time.Duration
		wantFlows int
	}{
		{"max flows", flowstore.MemoryOptions{MaxFlows: 16}, 100, time.Millisecond, 16},
		{"retention", flowstore.MemoryOptions{Retention: time.Minute}, 100, 2 * time.Second, 31},
		{"unbounded", flowstore.MemoryOptions{}, 100, time.Millisecond, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = clk.now
			s := flowstore.NewMemory(tc.opts)
			for i := range tc.steps {
				clk.t = clk.t.Add(tc.advance)
				f := flowstore.SuiteFlow(fmt.Sprintf("f%03d", i), "n", "c", clk.t, clk.t, 1)
				if err := s.Insert(ctx, []*flow.Flow{f}); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			// Eviction is amortised: allow the slack of the bound.
			if st.Flows < tc.wantFlows || st.Flows > tc.wantFlows+tc.wantFlows/16+1 {
				t.Errorf("%d flows kept, want about %d (stats %+v)", st.Flows, tc.wantFlows, st)
			}
			if tc.name != "unbounded" && st.Evicted == 0 {
				t.Errorf("nothing evicted")
			}
			// The newest flow is always kept.
			fs, _ := s.Flows(ctx, flowstore.Query{Window: &flowstore.Window{From: clk.t, To: clk.t}})
			if len(fs) != 1 || fs[0].UUID != fmt.Sprintf("f%03d", tc.steps-1) {
				t.Errorf("newest flow missing: %v", fs)
			}
		})
	}
}

func TestMemoryMetricBound(t *testing.T) {
	ctx := context.Background()
	s := flowstore.NewMemory(flowstore.MemoryOptions{MaxMetrics: 3})
	now := time.Now()
	for i := range 10 {
		f := flowstore.SuiteFlow("x", "n", "c", now, now, 1)
		f.LastUpdateMetric = &flow.Metric{Start: int64(i), Last: int64(i + 1)}
		if err := s.Insert(ctx, []*flow.Flow{f}); err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := s.Metrics(ctx, []string{"x"}, nil)
	if len(ms["x"]) != 3 || ms["x"][0].Start != 7 {
		t.Errorf("history = %v, want the last 3 updates", ms["x"])
	}
	if st := s.Stats(); st.Metrics != 3 {
		t.Errorf("Stats().Metrics = %d, want 3", st.Metrics)
	}
}

func TestFeed(t *testing.T) {
	s := flowstore.NewMemory(flowstore.MemoryOptions{})
	now := time.Now()
	feed := flowstore.Feed(context.Background(), s, func(err error) { t.Error(err) })
	feed(flow.Batch{Flows: []*flow.Flow{flowstore.SuiteFlow("a", "n", "c", now, now, 1)}})
	if st := s.Stats(); st.Flows != 1 {
		t.Errorf("Feed did not insert: %+v", st)
	}
}

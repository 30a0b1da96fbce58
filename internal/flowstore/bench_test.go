package flowstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
)

func benchFlows(n, nodes int, now time.Time) []*flow.Flow {
	fs := make([]*flow.Flow, n)
	for i := range fs {
		fs[i] = flowstore.SuiteFlow(fmt.Sprintf("%016x", i), fmt.Sprintf("node-%d", i%nodes), "cap", now.Add(-time.Minute), now, int64(i))
		fs[i].LastUpdateMetric = &flow.Metric{ABPackets: 1, Start: now.Add(-time.Minute).UnixMilli(), Last: now.UnixMilli()}
	}
	return fs
}

// BenchmarkInsert inserts batches of 100 updated flows into a store of
// 100000 flows (steady state: updates of known flows).
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	s := flowstore.NewMemory(flowstore.MemoryOptions{})
	fs := benchFlows(100000, 100, now)
	if err := s.Insert(ctx, fs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := (i * 100) % len(fs)
		batch := fs[j : j+100]
		for _, f := range batch {
			f.LastUpdateMetric.Last++ // a new update window
		}
		if err := s.Insert(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/flow")
}

func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	s := flowstore.NewMemory(flowstore.MemoryOptions{})
	if err := s.Insert(ctx, benchFlows(100000, 100, now)); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		q    flowstore.Query
	}{
		{"all-alive-100k", flowstore.Query{}},
		{"one-node-1k", flowstore.Query{NodeTIDs: []string{"node-7"}}},
		{"filter-100k", flowstore.Query{Filter: func(f *flow.Flow) bool { return f.Metric.ABPackets == 42 }}},
		{"window-100k", flowstore.Query{Window: &flowstore.Window{From: now.Add(-time.Hour), To: now}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := s.Flows(ctx, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

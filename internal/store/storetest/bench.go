package storetest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/store"
)

// BenchFlow returns the i-th benchmark flow: a TCP flow of 5 minutes
// starting at start, from 10.0.x.y (1000 distinct sources) to 10.1.0.1:80.
func BenchFlow(i int, start time.Time) *flow.Flow {
	last := start.Add(5 * time.Minute)
	f := flowstore.SuiteFlow(fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), fmt.Sprintf("node-%d", i%100), "cap", start, last, int64(i%1000))
	src := i % 1000
	f.LayersPath, f.Application, f.ICMP = "Ethernet/IPv4/TCP", "TCP", nil
	f.Link = &flow.FlowLayer{Protocol: flow.ProtoEthernet, A: fmt.Sprintf("02:00:00:00:%02x:%02x", src/256, src%256), B: "02:00:00:00:ff:01"}
	f.Network = &flow.FlowLayer{Protocol: flow.ProtoIPv4, A: fmt.Sprintf("10.0.%d.%d", src/256, src%256), B: "10.1.0.1"}
	f.Transport = &flow.TransportLayer{Protocol: flow.ProtoTCP, A: int64(10000 + i%50000), B: 80}
	f.LastUpdateMetric = &flow.Metric{ABPackets: 10, ABBytes: 1000, BAPackets: 10, BABytes: 5000, Start: last.Add(-time.Minute).UnixMilli(), Last: last.UnixMilli()}
	return f
}

// BenchFlowCount is the number of flows BenchFlowQueryNetworkA stores:
// $SKYDIVE_BENCH_FLOWS or 1 000 000.
func BenchFlowCount() int {
	if n, err := strconv.Atoi(os.Getenv("SKYDIVE_BENCH_FLOWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func insertPaced(tb testing.TB, s *store.Store, fs []*flow.Flow) {
	ctx := context.Background()
	if s.Status().QueuedFlows+len(fs) > store.DefaultQueueFlows/2 {
		if err := s.Flush(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Insert(ctx, fs); err != nil {
		tb.Fatal(err)
	}
}

// BenchFlowInsert measures flow records written per second through the
// queue into the backend: batches of 1000 flows, new ones (started now)
// and, one time in two, an update of a flow of the previous batch; flushed
// at the end.
func BenchFlowInsert(b *testing.B, newStore NewStore) {
	s := newStore(b, store.Options{})
	defer s.Close()
	// Steady state: flows that started after the store opened (the
	// embedded store then knows a flow missing from its cache is new).
	base := time.Now().Add(2 * time.Minute)
	const batch = 1000
	fs := make([]*flow.Flow, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i
		if i%2 == 1 && i > batch {
			j = i - batch // an update of a flow written before
		}
		f := BenchFlow(j, base.Add(time.Duration(j)*time.Microsecond))
		f.Last += int64(i - j)
		f.LastUpdateMetric.Last += int64(i - j)
		fs = append(fs, f)
		if len(fs) == batch || i == b.N-1 {
			insertPaced(b, s, fs)
			fs = make([]*flow.Flow, 0, batch)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	if st := s.Status(); st.DroppedFlows > 0 || st.WrittenFlows != uint64(b.N) {
		b.Fatalf("status %+v", st)
	}
}

// BenchFlowQueryNetworkA stores BenchFlowCount flows spread over the last
// 24 h and measures the equivalent of
// G.At('-1h').Flows().Has('Network.A', '10.0.0.1'): with the condition
// pushed down (Cond) and with the Go filter only; it reports the bytes per
// stored flow.
func BenchFlowQueryNetworkA(b *testing.B, newStore NewStore, compact func(*store.Store)) {
	n := BenchFlowCount()
	s := newStore(b, store.Options{})
	defer s.Close()
	now := time.Now()
	day := 24 * time.Hour
	loadStart := time.Now()
	fs := make([]*flow.Flow, 0, 10000)
	for i := range n {
		fs = append(fs, BenchFlow(i, now.Add(-day+time.Duration(int64(day)/int64(n)*int64(i)))))
		if len(fs) == cap(fs) || i == n-1 {
			insertPaced(b, s, fs)
			fs = make([]*flow.Flow, 0, 10000)
		}
	}
	ctx := context.Background()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	load := time.Since(loadStart)
	if compact != nil {
		compact(s)
	}
	size := s.SizeOnDisk(ctx)
	b.Logf("%d flows loaded in %v (%.0f flows/s), %d bytes on disk, %.0f bytes/flow",
		n, load.Round(time.Millisecond), float64(n)/load.Seconds(), size, float64(size)/float64(n))
	at := now.Add(-time.Hour)
	w := &flowstore.Window{From: at, To: at}
	filter := func(f *flow.Flow) bool { return f.Network != nil && f.Network.A == "10.0.0.1" }
	cases := []struct {
		name string
		q    store.FlowQuery
	}{
		{"pushed-down", store.FlowQuery{Query: flowstore.Query{Window: w, Filter: filter},
			Conds: []store.Cond{{Field: "Network.A", Op: store.Eq, Values: []any{"10.0.0.1"}}}}},
		{"filter-only", store.FlowQuery{Query: flowstore.Query{Window: w, Filter: filter}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var got int
			for i := 0; i < b.N; i++ {
				res, err := s.FlowsWhere(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				got = len(res)
			}
			b.ReportMetric(float64(got), "flows")
			b.ReportMetric(float64(size)/float64(n), "B/flow")
		})
	}
}

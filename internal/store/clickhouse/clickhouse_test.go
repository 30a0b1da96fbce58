package clickhouse_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/clickhouse"
	"github.com/skydive-ng/skydive/internal/store/storetest"
)

var dbSeq atomic.Int64

func opener(srv *server) storetest.NewStore {
	return func(t testing.TB, opts store.Options) *store.Store {
		db, err := clickhouse.Open(clickhouse.Options{
			ClickHouseConfig: store.ClickHouseConfig{Addresses: []string{srv.addr()}, Database: fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e6, dbSeq.Add(1))},
			Analyzer:         "test",
		})
		if err != nil {
			t.Fatal(err)
		}
		opts.FlushInterval = 50 * time.Millisecond
		return store.New(db, opts)
	}
}

func TestClickHouse(t *testing.T) {
	srv := startServer(t)
	t.Run("FlowSuite", func(t *testing.T) { storetest.FlowSuite(t, opener(srv)) })
	t.Run("TopologySuite", func(t *testing.T) { storetest.TopologySuite(t, opener(srv)) })
}

// TestOutage stops ClickHouse for 10 s while flows arrive: once it is back,
// no flow is lost.
func TestOutage(t *testing.T) {
	srv := startServer(t)
	s := opener(srv)(t, store.Options{RetryMax: 500 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	n := 0
	send := func(count int) {
		var fs []*flow.Flow
		for range count {
			f := flowstore.SuiteFlow(fmt.Sprintf("o%05d", n), "n1", "c1", now.Add(-time.Minute), now, int64(n))
			f.LastUpdateMetric = &flow.Metric{ABPackets: 1, Start: now.Add(-time.Minute).UnixMilli(), Last: now.UnixMilli()}
			fs = append(fs, f)
			n++
		}
		if err := s.Insert(ctx, fs); err != nil {
			t.Fatalf("Insert: %v", err)
		}
	}
	send(100)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	stopped := time.Now()
	for time.Since(stopped) < 10*time.Second {
		send(50)
		time.Sleep(100 * time.Millisecond)
	}
	st := s.Status()
	if st.OutageSince.IsZero() || st.LastError == "" {
		t.Errorf("status during the outage: %+v, want OutageSince and LastError", st)
	}
	if st.QueuedFlows == 0 {
		t.Errorf("status during the outage: nothing queued: %+v", st)
	}
	t.Logf("during the outage: %+v", st)
	srv.start(t)
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatalf("flush after the outage: %v (status %+v)", err, s.Status())
	}
	st = s.Status()
	if !st.OutageSince.IsZero() || st.DroppedFlows != 0 || st.WrittenFlows != uint64(n) {
		t.Errorf("status after the outage: %+v, want no outage, no drop, %d written", st, n)
	}
	fs, err := s.Flows(ctx, flowstore.Query{Window: &flowstore.Window{From: now.Add(-time.Hour), To: now}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != n {
		t.Errorf("%d flows after the outage, want %d", len(fs), n)
	}
}

// TestCheckpointDuringOutage: a checkpoint of more rows than the queue
// holds, while ClickHouse is down, returns (dropping what the queue cannot
// take, counted) instead of waiting for a backend that may not come back.
func TestCheckpointDuringOutage(t *testing.T) {
	srv := startServer(t)
	s := opener(srv)(t, store.Options{QueueRevisions: 40, RetryMax: 200 * time.Millisecond})
	defer s.Close()
	g := graph.New()
	for i := range 300 {
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("n%d", i)), Metadata: graph.Metadata{"Type": "host"}}}); err != nil {
			t.Fatal(err)
		}
	}
	defer s.Attach(g)()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.DroppedRevisions != 0 || st.WrittenRevisions != 300 {
		t.Fatalf("after Attach: %+v, want 300 rows written, none dropped", st)
	}
	srv.stop(t)
	defer srv.start(t)
	// a write that fails
	if err := g.AddNode(&graph.Node{Element: graph.Element{ID: "probe", Metadata: graph.Metadata{"Type": "host"}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Status().OutageSince.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no outage seen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() {
		s.Checkpoint(time.Now())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Checkpoint waits for a backend that is down")
	}
	if st := s.Status(); st.DroppedRevisions == 0 {
		t.Errorf("status %+v: want the rows the queue could not take counted as dropped", st)
	}
}

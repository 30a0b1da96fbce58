package flowstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// TestSuite checks a Store implementation; every backend's tests call it
// with a constructor returning an empty store with default options (the
// clock is the real one: flows are dated relative to time.Now()).
func TestSuite(t *testing.T, newStore func() Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"LatestState", suiteLatestState},
		{"MetricHistory", suiteMetricHistory},
		{"Window", suiteWindow},
		{"AliveNow", suiteAliveNow},
		{"Selection", suiteSelection},
		{"RawPackets", suiteRawPackets},
		{"Concurrent", suiteConcurrent},
		{"Closed", suiteClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			defer s.Close()
			tc.run(t, s)
		})
	}
}

// SuiteFlow returns a flow for tests: an ICMP flow started at start and
// last seen at last, with the given counters.
func SuiteFlow(uuid, nodeTID, captureID string, start, last time.Time, abPackets int64) *flow.Flow {
	s, l := start.UnixMilli(), last.UnixMilli()
	return &flow.Flow{
		UUID:        uuid,
		LayersPath:  "Ethernet/IPv4/ICMPv4",
		Application: "ICMPv4",
		Network:     &flow.FlowLayer{Protocol: flow.ProtoIPv4, A: "10.0.0.1", B: "10.0.0.2"},
		ICMP:        &flow.ICMPLayer{Type: flow.ICMPEcho, ID: 1},
		Metric:      &flow.Metric{ABPackets: abPackets, BAPackets: abPackets, ABBytes: 98 * abPackets, BABytes: 98 * abPackets, Start: s, Last: l},
		Start:       s,
		Last:        l,
		TrackingID:  "t-" + uuid,
		NodeTID:     nodeTID,
		CaptureID:   captureID,
	}
}

func mustInsert(t *testing.T, s Store, fs ...*flow.Flow) {
	t.Helper()
	if err := s.Insert(context.Background(), fs); err != nil {
		t.Fatalf("Insert: %v", err)
	}
}

func mustFlows(t *testing.T, s Store, q Query) []*flow.Flow {
	t.Helper()
	fs, err := s.Flows(context.Background(), q)
	if err != nil {
		t.Fatalf("Flows(%+v): %v", q, err)
	}
	return fs
}

func uuids(fs []*flow.Flow) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.UUID
	}
	return out
}

func suiteLatestState(t *testing.T, s Store) {
	now := time.Now()
	mustInsert(t, s, SuiteFlow("a", "n1", "c1", now.Add(-10*time.Second), now.Add(-5*time.Second), 1))
	mustInsert(t, s, SuiteFlow("a", "n1", "c1", now.Add(-10*time.Second), now.Add(-time.Second), 7))
	fs := mustFlows(t, s, Query{})
	if len(fs) != 1 || fs[0].Metric.ABPackets != 7 || fs[0].Last != now.Add(-time.Second).UnixMilli() {
		t.Fatalf("want the latest state of flow a, got %v", fs)
	}
	if st := s.Stats(); st.Flows != 1 {
		t.Errorf("Stats().Flows = %d, want 1", st.Flows)
	}
}

func suiteMetricHistory(t *testing.T, s Store) {
	ctx := context.Background()
	base := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	for i := range 3 {
		f := SuiteFlow("m", "n1", "c1", base, base.Add(time.Duration(i+1)*time.Minute), int64(i+1))
		f.LastUpdateMetric = &flow.Metric{ABPackets: 1, Start: base.Add(time.Duration(i) * time.Minute).UnixMilli(),
			Last: base.Add(time.Duration(i+1) * time.Minute).UnixMilli()}
		mustInsert(t, s, f)
		mustInsert(t, s, f) // the same update twice counts once
	}
	got, err := s.Metrics(ctx, []string{"m", "unknown"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got["m"]) != 3 || len(got) != 1 {
		t.Fatalf("Metrics(nil window) = %v, want 3 entries for m only", got)
	}
	for i, m := range got["m"] {
		if want := base.Add(time.Duration(i) * time.Minute).UnixMilli(); m.Start != want {
			t.Errorf("metric %d Start = %d, want %d", i, m.Start, want)
		}
	}
	w := &Window{From: base.Add(90 * time.Second), To: base.Add(150 * time.Second)}
	got, err = s.Metrics(ctx, []string{"m"}, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(got["m"]) != 2 {
		t.Fatalf("Metrics(window 1m30-2m30) = %v, want the 2nd and 3rd updates", got)
	}
}

func suiteWindow(t *testing.T, s Store) {
	base := time.Unix(1454659514, 0) // an old trace: windows still find it
	mustInsert(t, s,
		SuiteFlow("w1", "n1", "c1", base, base.Add(10*time.Second), 1),
		SuiteFlow("w2", "n1", "c1", base.Add(20*time.Second), base.Add(30*time.Second), 1),
		SuiteFlow("w3", "n2", "c2", base.Add(40*time.Second), base.Add(50*time.Second), 1),
	)
	tests := []struct {
		from, to time.Duration
		want     []string
	}{
		{0, 5 * time.Second, []string{"w1"}},
		{5 * time.Second, 25 * time.Second, []string{"w1", "w2"}},
		{10 * time.Second, 40 * time.Second, []string{"w1", "w2", "w3"}},
		{11 * time.Second, 19 * time.Second, nil},
		{-time.Hour, time.Hour, []string{"w1", "w2", "w3"}},
	}
	for _, tc := range tests {
		fs := mustFlows(t, s, Query{Window: &Window{From: base.Add(tc.from), To: base.Add(tc.to)}})
		if got := uuids(fs); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("window [%v, %v]: got %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	if fs := mustFlows(t, s, Query{}); len(fs) != 0 {
		t.Errorf("old flows must not be alive now, got %v", uuids(fs))
	}
}

func suiteAliveNow(t *testing.T, s Store) {
	now := time.Now()
	live := SuiteFlow("live", "n1", "c1", now.Add(-time.Minute), now.Add(-time.Second), 1)
	idle := SuiteFlow("idle", "n1", "c1", now.Add(-time.Hour), now.Add(-30*time.Minute), 1)
	ended := SuiteFlow("ended", "n1", "c1", now.Add(-time.Minute), now.Add(-time.Second), 1)
	ended.FinishType = flow.Timeout
	fin := SuiteFlow("fin", "n1", "c1", now.Add(-time.Minute), now.Add(-time.Second), 1)
	fin.FinishType = flow.TCPFin
	oldFin := SuiteFlow("oldfin", "n1", "c1", now.Add(-time.Minute), now.Add(-40*time.Second), 1)
	oldFin.FinishType = flow.TCPRst
	mustInsert(t, s, live, idle, ended, fin, oldFin)
	got := uuids(mustFlows(t, s, Query{}))
	slices.Sort(got)
	if want := []string{"fin", "live"}; !slices.Equal(got, want) {
		t.Errorf("alive now = %v, want %v", got, want)
	}
	w := &Window{From: now.Add(-2 * time.Hour), To: now}
	if got := mustFlows(t, s, Query{Window: w}); len(got) != 5 {
		t.Errorf("window of 2h = %v, want all 5 flows", uuids(got))
	}
}

func suiteSelection(t *testing.T, s Store) {
	now := time.Now()
	var fs []*flow.Flow
	for i := range 12 {
		fs = append(fs, SuiteFlow(fmt.Sprintf("s%02d", i), fmt.Sprintf("n%d", i%3), fmt.Sprintf("c%d", i%2),
			now.Add(time.Duration(i-20)*time.Second), now.Add(-time.Second), int64(i)))
	}
	mustInsert(t, s, fs...)
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"all by Start", Query{}, []string{"s00", "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11"}},
		{"node", Query{NodeTIDs: []string{"n1"}}, []string{"s01", "s04", "s07", "s10"}},
		{"nodes", Query{NodeTIDs: []string{"n1", "n2", "n1"}}, []string{"s01", "s02", "s04", "s05", "s07", "s08", "s10", "s11"}},
		{"capture", Query{CaptureIDs: []string{"c1"}}, []string{"s01", "s03", "s05", "s07", "s09", "s11"}},
		{"node and capture", Query{NodeTIDs: []string{"n0"}, CaptureIDs: []string{"c1"}}, []string{"s03", "s09"}},
		{"filter", Query{Filter: func(f *flow.Flow) bool { return f.Metric.ABPackets >= 10 }}, []string{"s10", "s11"}},
		{"limit", Query{Limit: 2, NodeTIDs: []string{"n2"}}, []string{"s02", "s05"}},
		{"unknown node", Query{NodeTIDs: []string{"zz"}}, nil},
	}
	for _, tc := range tests {
		if got := uuids(mustFlows(t, s, tc.q)); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func suiteRawPackets(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	mustInsert(t, s, SuiteFlow("r", "n1", "c1", now.Add(-time.Second), now, 2))
	pk := func(i int64) rawpacket.Packet {
		return rawpacket.Packet{Timestamp: now.UnixMilli(), Index: i, Data: []byte{byte(i), 1, 2}, LinkType: 1}
	}
	if err := s.InsertRawPackets(ctx, map[string][]rawpacket.Packet{"r": {pk(0), pk(1)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRawPackets(ctx, map[string][]rawpacket.Packet{"r": {pk(1), pk(2)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RawPackets(ctx, []string{"r", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got["r"]) != 3 || got["r"][2].Index != 2 || got["r"][0].Data[0] != 0 {
		t.Fatalf("RawPackets = %+v, want packets 0, 1, 2 of r", got)
	}
}

func suiteConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				f := SuiteFlow(fmt.Sprintf("c%d-%d", c, i%50), fmt.Sprintf("n%d", c), fmt.Sprintf("cap%d", c), now.Add(-time.Minute), now, int64(i))
				f.LastUpdateMetric = &flow.Metric{ABPackets: 1, Start: int64(i), Last: int64(i + 1)}
				if err := s.Insert(ctx, []*flow.Flow{f}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := s.Flows(ctx, Query{NodeTIDs: []string{fmt.Sprintf("n%d", c)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if fs := mustFlows(t, s, Query{}); len(fs) != 200 {
		t.Errorf("got %d flows, want 200", len(fs))
	}
	ms, err := s.Metrics(ctx, []string{"c0-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms["c0-0"]) != 4 {
		t.Errorf("c0-0 has %d metrics, want 4", len(ms["c0-0"]))
	}
}

func suiteClosed(t *testing.T, s Store) {
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flows(context.Background(), Query{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Flows after Close: %v, want ErrClosed", err)
	}
	if err := s.Insert(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Insert after Close: %v, want ErrClosed", err)
	}
}

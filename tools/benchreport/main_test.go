package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/skydive-ng/skydive/internal/flow
cpu: Test CPU
BenchmarkMillionUDPFlows/create-2   	 1000000	       450.0 ns/op	   1500000 pkts/s	     900 B/op	      12 allocs/op
BenchmarkMillionUDPFlows/create-2   	 1000000	       550.0 ns/op	   1700000 pkts/s	     900 B/op	      14 allocs/op
BenchmarkMillionUDPFlows/known-2    	 5000000	       300.0 ns/op	   2000000 pkts/s	       0 B/op	       0 allocs/op
BenchmarkMillionUDPFlows/create-batch-2   	 100000	       9000 ns/op	   1600000 pkts/s	     900 B/op	      0 allocs/op
BenchmarkMillionUDPFlows/known-batch-2    	 500000	       6000 ns/op	   2000000 pkts/s	       0 B/op	       0 allocs/op
PASS
pkg: github.com/skydive-ng/skydive/internal/topoquery
BenchmarkIssue14Queries/20k/netns-out-mtu-2         	      50	   1173139 ns/op	         1.173 ms/query	  366483 B/op	     144 allocs/op
BenchmarkIssue14Queries/20k/ipv4range-2            	      50	   4214407 ns/op	         4.214 ms/query	   11088 B/op	      91 allocs/op
pkg: github.com/skydive-ng/skydive/internal/store/clickhouse
BenchmarkFlowInsert-2   	  200000	      9000 ns/op	     10 flows/s
pkg: github.com/skydive-ng/skydive/internal/store/embedded
BenchmarkFlowInsert-2   	  200000	      9000 ns/op	     90000 flows/s
`

func TestReport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "raw.txt")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	perf := filepath.Join(dir, "perf.json")
	if err := os.WriteFile(perf, []byte(`{"nodes": 10000, "collapsed_first_visit": {"wall_ms": 1234}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, perf, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 14 | all-new flows per second, one core (Table.FeedBatch, as captures and pcap readers feed tables; one packet at a time: MillionUDPFlows/create) | MillionUDPFlows/create-batch | ≥ 1.00M pkts/s | 1.60M pkts/s | met |",
		"| 14 | packets of known flows per second, one core (1,000,000 flows in the table, Table.FeedBatch; one packet at a time: MillionUDPFlows/known) | MillionUDPFlows/known-batch | ≥ 2.50M pkts/s | 2.00M pkts/s | not met |",
		"flows written per second to the embedded store | FlowInsert | ≥ 100.0k flows/s | 90.0k flows/s | not met |",
		"| 13 allocs/op | met |",
		"ui/collapsed_first_visit.wall_ms | ≤ 2000 ms | 1234 ms | met |",
		"not measured",
		"| 14 | G.V().Has('Type','netns').Out().Has('MTU',1450).Count(), 20k nodes (the original: 60.6 ms) | Issue14Queries/20k/netns-out-mtu | ≤ 6 ms/query | 1.173 ms/query | met |",
		"| Issue14Queries/20k/ipv4range | ≤ 3.1 ms/query | 4.214 ms/query | not met |",
		"| Issue14Queries/500k/name | ≤ 1 ms/query | — | not measured |",
		"| cores |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Fatal(err)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{5}, 5}, {[]float64{3, 1, 100}, 3}, {[]float64{4, 1, 2, 100}, 3}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

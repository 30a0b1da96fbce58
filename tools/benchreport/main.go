// Command benchreport turns the output of `go test -bench` (and the UI's
// perf.json) into bench/REPORT.md and bench/report.json: each figure with
// its unit, the machine, and, where an issue set a target, whether it is
// met. `make bench` runs it; the files are generated, not committed.
//
//	go run ./tools/benchreport -in bench/raw.txt -perf tests/ui/artifacts/perf.json -out bench
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// Figure is one measured value.
type Figure struct {
	Package   string  `json:"package"`
	Benchmark string  `json:"benchmark"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Runs      int     `json:"runs"`
}

// Target is a figure an issue asks for.
type Target struct {
	Issue     int    `json:"issue"`
	What      string `json:"what"`
	Package   string `json:"package,omitempty"` // suffix of the package path, when names repeat
	Benchmark string `json:"benchmark"`         // package-relative name, e.g. "MillionUDPFlows/create"
	Unit      string `json:"unit"`
	// AtMost or AtLeast the limit.
	AtMost  bool    `json:"at_most"`
	Limit   float64 `json:"limit"`
	Comment string  `json:"comment,omitempty"`

	Measured *float64 `json:"measured"`
	Status   string   `json:"status"` // met, not met, not measured
}

// targets are the figures issues asked for that a benchmark of `make bench`
// measures; the others of those issues are listed as not measured.
var targets = []Target{
	{Issue: 14, What: "all-new flows per second, one core", Benchmark: "MillionUDPFlows/create-batch", Unit: "pkts/s", Limit: 1e6,
		Comment: "Table.FeedBatch, as captures and pcap readers feed tables; one packet at a time: MillionUDPFlows/create"},
	{Issue: 14, What: "packets of known flows per second, one core", Benchmark: "MillionUDPFlows/known-batch", Unit: "pkts/s", Limit: 2.5e6,
		Comment: "1,000,000 flows in the table, Table.FeedBatch; one packet at a time: MillionUDPFlows/known"},
	{Issue: 14, What: "pcap flows end to end (read, decode, table, JSON), CPU per packet ≤ 0.4 µs", Package: "cli/pcapcmd", Benchmark: "PcapFlowsEndToEnd/default", Unit: "cpu-ns/pkt", AtMost: true, Limit: 400,
		Comment: "300,000 packets, 5,000 flows; the original: 5,600-9,600"},
	{Issue: 14, What: "flows written per second to the embedded store", Package: "store/embedded", Benchmark: "FlowInsert", Unit: "flows/s", Limit: 100000},
	{Issue: 14, What: "bytes per flow in the embedded store", Package: "store/embedded", Benchmark: "FlowQueryNetworkA/pushed-down", Unit: "B/flow", AtMost: true, Limit: 200},
	{Issue: 14, What: "a flow's first packet: allocations", Benchmark: "MillionUDPFlows/create", Unit: "allocs/op", AtMost: true, Limit: 15,
		Comment: "the issue measured 15; entries come in slabs of 128 to 4,096"},
	{Issue: 14, What: "UI's first sync of 10,000 nodes, page load to first render", Benchmark: "ui/collapsed_first_visit.wall_ms", Unit: "ms", AtMost: true, Limit: 2000},
	// The issue's queries over POST /api/topology, on its synthetic
	// OpenStack-like graph: a tenth of the original's time at 20,000 nodes;
	// at 500,000 nodes (BENCH=full) Has('Name') under a millisecond, the
	// others under 100 ms.
	{Issue: 14, What: "G.V().Has('Name', X), 20k nodes", Package: "topoquery", Benchmark: "Issue14Queries/20k/name", Unit: "ms/query", AtMost: true, Limit: 2.5,
		Comment: "the original: 24.8 ms"},
	{Issue: 14, What: "G.V().Has('MTU', NE(1500)).Count(), 20k nodes", Package: "topoquery", Benchmark: "Issue14Queries/20k/mtu-ne-count", Unit: "ms/query", AtMost: true, Limit: 3.1,
		Comment: "the original: 31.2 ms"},
	{Issue: 14, What: "G.V().Has('Type','netns').Out().Has('MTU',1450).Count(), 20k nodes", Package: "topoquery", Benchmark: "Issue14Queries/20k/netns-out-mtu", Unit: "ms/query", AtMost: true, Limit: 6.0,
		Comment: "the original: 60.6 ms"},
	{Issue: 14, What: "G.V().Has('IPV4', IPV4RANGE('10.7.0.0/16')).Count(), 20k nodes", Package: "topoquery", Benchmark: "Issue14Queries/20k/ipv4range", Unit: "ms/query", AtMost: true, Limit: 3.1,
		Comment: "the original: 30.9 ms"},
	{Issue: 14, What: "G.V().Has('Name', X).Out().Out().Count(), 20k nodes", Package: "topoquery", Benchmark: "Issue14Queries/20k/name-out-out", Unit: "ms/query", AtMost: true, Limit: 2.3,
		Comment: "the original: 22.8 ms"},
	{Issue: 14, What: "Has('Name', X) at 500,000 nodes over REST", Package: "topoquery", Benchmark: "Issue14Queries/500k/name", Unit: "ms/query", AtMost: true, Limit: 1, Comment: "BENCH=full"},
	{Issue: 14, What: "G.V().Has('MTU', NE(1500)).Count(), 500k nodes", Package: "topoquery", Benchmark: "Issue14Queries/500k/mtu-ne-count", Unit: "ms/query", AtMost: true, Limit: 100, Comment: "BENCH=full"},
	{Issue: 14, What: "G.V().Has('Type','netns').Out().Has('MTU',1450).Count(), 500k nodes", Package: "topoquery", Benchmark: "Issue14Queries/500k/netns-out-mtu", Unit: "ms/query", AtMost: true, Limit: 100, Comment: "BENCH=full"},
	{Issue: 14, What: "G.V().Has('IPV4', IPV4RANGE('10.7.0.0/16')).Count(), 500k nodes", Package: "topoquery", Benchmark: "Issue14Queries/500k/ipv4range", Unit: "ms/query", AtMost: true, Limit: 100, Comment: "BENCH=full"},
	{Issue: 14, What: "G.V().Has('Name', X).Out().Out().Count(), 500k nodes", Package: "topoquery", Benchmark: "Issue14Queries/500k/name-out-out", Unit: "ms/query", AtMost: true, Limit: 100, Comment: "BENCH=full"},
	{Issue: 14, What: "500,000 nodes and 792,000 edges through one publisher: RSS of the analyzer (embedded store, history included)", Package: "analyzer", Benchmark: "AnalyzerRSS500k", Unit: "MB", AtMost: true, Limit: 1024, Comment: "BENCH=full"},
	{Issue: 14, What: "graph events ingested per second, one agent connection (graph and history)", Package: "replicate", Benchmark: "Ingest/agent", Unit: "events/s", Limit: 100000,
		Comment: "the sender shares the two cores"},
	{Issue: 14, What: "graph events ingested per second, one publisher connection (validated)", Package: "replicate", Benchmark: "Ingest/publisher", Unit: "events/s", Limit: 100000},
	{Issue: 14, What: "graph events ingested per second by the whole analyzer (validated, embedded store, probes) while it grows to 500,000 nodes", Package: "analyzer", Benchmark: "AnalyzerRSS500k", Unit: "events/s", Limit: 100000,
		Comment: "BENCH=full; the sender shares the two cores"},
}

func main() {
	in := flag.String("in", "bench/raw.txt", "go test -bench output")
	perf := flag.String("perf", "", "the UI's perf.json (optional)")
	out := flag.String("out", "bench", "folder of REPORT.md and report.json")
	flag.Parse()
	if err := run(*in, *perf, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(in, perf, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	figs, err := parse(f, in)
	if err != nil {
		return err
	}
	if perf != "" {
		ui, err := uiFigures(perf)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		figs = append(figs, ui...)
	}
	ts := evaluate(targets, figs)
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Figures: figs, Targets: ts}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "REPORT.md"), []byte(rep.markdown()), 0o644)
}

// Report is report.json.
type Report struct {
	Date    string            `json:"date"`
	Machine map[string]string `json:"machine"`
	Figures []Figure          `json:"figures"`
	Targets []Target          `json:"targets"`
}

// parse reads the benchmark lines; of repeated runs (-count), the median
// is kept: on a shared machine a run now and then is slowed by others, and
// a mean would carry it.
func parse(r io.Reader, name string) ([]Figure, error) {
	type key struct{ pkg, bench, unit string }
	vals := map[key][]float64{}
	var order []key
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		pkg := res.GetConfig("pkg")
		bench := strings.TrimPrefix(string(res.Name.Full()), "Benchmark")
		bench = trimProcs(bench)
		for _, v := range res.Values {
			// ns/op comes back as sec/op with OrigUnit set; other units as they are.
			unit, val := v.OrigUnit, v.OrigValue
			if unit == "" {
				unit, val = v.Unit, v.Value
			}
			k := key{pkg, bench, unit}
			if _, seen := vals[k]; !seen {
				order = append(order, k)
			}
			vals[k] = append(vals[k], val)
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	out := make([]Figure, 0, len(order))
	for _, k := range order {
		out = append(out, Figure{Package: k.pkg, Benchmark: k.bench, Unit: k.unit, Value: median(vals[k]), Runs: len(vals[k])})
	}
	return out, nil
}

// median is the middle value (the mean of the two middle ones for an even
// count).
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// trimProcs drops the -N GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

// uiFigures reads the UI's perf.json: its numbers, nested objects flattened
// to dotted names; keys ending in Ms or _ms are milliseconds.
func uiFigures(file string) ([]Figure, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Figure
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch x := v.(type) {
			case float64:
				unit := ""
				if strings.HasSuffix(k, "Ms") || strings.HasSuffix(k, "_ms") {
					unit = "ms"
				}
				out = append(out, Figure{Package: "tests/ui", Benchmark: "ui/" + prefix + k, Value: x, Unit: unit, Runs: 1})
			case map[string]any:
				walk(prefix+k+".", x)
			}
		}
	}
	walk("", m)
	sort.Slice(out, func(i, j int) bool { return out[i].Benchmark < out[j].Benchmark })
	return out, nil
}

func evaluate(ts []Target, figs []Figure) []Target {
	out := make([]Target, len(ts))
	for i, t := range ts {
		t.Status = "not measured"
		for _, f := range figs {
			if t.Benchmark != "" && f.Benchmark == t.Benchmark && f.Unit == t.Unit && strings.HasSuffix(f.Package, t.Package) {
				v := f.Value
				t.Measured = &v
				met := v >= t.Limit
				if t.AtMost {
					met = v <= t.Limit
				}
				t.Status = map[bool]string{true: "met", false: "not met"}[met]
				break
			}
		}
		out[i] = t
	}
	return out
}

func machine() map[string]string {
	m := map[string]string{"cores": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m["memory"] = fmt.Sprintf("%.1f GB", kb/1024/1024)
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func (r Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report\n\nGenerated by `make bench` on %s.\n\n", r.Date)
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("| machine | |\n|---|---|\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s |\n", k, r.Machine[k])
	}
	b.WriteString("\n## Targets\n\n| issue | what | benchmark | target | measured | status |\n|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		op := "≥"
		if t.AtMost {
			op = "≤"
		}
		measured := "—"
		if t.Measured != nil {
			measured = human(*t.Measured) + " " + t.Unit
		}
		what := t.What
		if t.Comment != "" {
			what += " (" + t.Comment + ")"
		}
		bench := t.Benchmark
		if bench == "" {
			bench = "—"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s %s %s | %s | %s |\n", t.Issue, what, bench, op, human(t.Limit), t.Unit, measured, t.Status)
	}
	b.WriteString("\n## Every figure\n\n| package | benchmark | value | unit | runs |\n|---|---|---|---|---|\n")
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", strings.TrimPrefix(f.Package, "github.com/skydive-ng/skydive/"), f.Benchmark, human(f.Value), f.Unit, f.Runs)
	}
	return b.String()
}

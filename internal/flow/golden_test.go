package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// harnessOpts are the options of the original's flowsFromPCAP test helper:
// ExtraTCPMetric, ReassembleTCP and IPDefrag on, L2 key mode.
func harnessOpts() Options {
	return Options{ExtraTCPMetric: true, ReassembleTCP: true, IPDefrag: true}
}

func pcapFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pcap in testdata: %v", err)
	}
	return files
}

func flowsFromFile(t testing.TB, file string, opts Options) []*Flow {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flows, err := FlowsFromPcap(context.Background(), f, opts)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	checkParents(t, file, flows)
	return flows
}

// checkParents asserts that every ParentUUID resolves to a flow of the
// same table, as the original's helper does.
func checkParents(t testing.TB, file string, flows []*Flow) {
	t.Helper()
	uuids := map[string]bool{}
	for _, f := range flows {
		if uuids[f.UUID] {
			t.Errorf("%s: duplicate UUID %s", file, f.UUID)
		}
		uuids[f.UUID] = true
	}
	for _, f := range flows {
		if f.ParentUUID != "" && !uuids[f.ParentUUID] {
			t.Errorf("%s: flow %s has unknown parent %s", file, f.UUID, f.ParentUUID)
		}
		if f.Start <= 0 || f.Last < f.Start {
			t.Errorf("%s: flow %s has Start %d Last %d", file, f.UUID, f.Start, f.Last)
		}
	}
}

// TestGolden decodes every trace of testdata with the original harness
// options, in both key modes, and compares the flows (JSON) with
// testdata/golden/<trace>.<mode>.json. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, file := range pcapFiles(t) {
		for _, mode := range []LayerKeyMode{L2, L3} {
			name := strings.TrimSuffix(filepath.Base(file), ".pcap") + "." + mode.String()
			t.Run(name, func(t *testing.T) {
				opts := harnessOpts()
				opts.LayerKeyMode = mode
				opts.ExtraLayers = ExtraAll
				flows := flowsFromFile(t, file, opts)
				got, err := json.MarshalIndent(flows, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				golden := filepath.Join("testdata", "golden", name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("flows of %s differ from %s (run go test -update and review the diff):\n%s", file, golden, got)
				}
			})
		}
	}
}

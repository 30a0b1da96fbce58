package pcapcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/flow"
)

func run(args ...string) (string, error) {
	cmd := NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestFlows(t *testing.T) {
	for mode, want := range map[string]int{"L2": 2, "L3": 1} {
		out, err := run("flows", "../../flow/testdata/layer-key-mode.pcap", "--layer-key-mode", mode)
		if err != nil {
			t.Fatal(err)
		}
		var flows []*flow.Flow
		if err := json.Unmarshal([]byte(out), &flows); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(flows) != want || flows[0].L3TrackingID != "9e42a86914a043b8" {
			t.Errorf("%s: %d flows, want %d:\n%s", mode, len(flows), want, out)
		}
	}
}

func TestFlowsErrors(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("this is not a pcap file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"flows", "/nonexistent/x.pcap"}, "/nonexistent/x.pcap"},
		{[]string{"flows", garbage}, garbage + ": not a pcap"},
		{[]string{"flows", garbage, "--layer-key-mode", "L4"}, "unknown layer key mode"},
		{[]string{"flows"}, "accepts 1 arg"},
	} {
		_, err := run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlowSections(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yml")
	body := `agent:
  flow:
    netflow:
      bind_address: 0.0.0.0
      port_min: 7000
      port_max: 7010
analyzer:
  flow:
    export:
      - type: ipfix
        gremlin: "G.Flows().Has('Application', 'ICMPv4')"
        address: 127.0.0.1:4739
      - type: jsonl
        dir: /tmp/flows
        rotate_mb: 10
        keep: 3
`
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if nf := c.Agent.Flow.NetFlow; nf.BindAddress != "0.0.0.0" || nf.PortMin != 7000 || nf.PortMax != 7010 {
		t.Fatalf("netflow %+v", nf)
	}
	ex := c.Analyzer.Flow.Export
	if len(ex) != 2 || ex[0].Type != "ipfix" || ex[0].Address != "127.0.0.1:4739" || ex[1].Dir != "/tmp/flows" || ex[1].RotateMB != 10 || ex[1].Keep != 3 {
		t.Fatalf("export %+v", ex)
	}
	if _, err := Load(nil, []string{"SKYDIVE_AGENT_FLOW_NETFLOW_PORT_MIN=7000", "SKYDIVE_AGENT_FLOW_NETFLOW_PORT_MAX=7001"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ body, want string }{
		{"agent:\n  flow:\n    netflow:\n      port_min: 7000\n      port_max: 6000\n", "agent.flow.netflow.port_min"},
		{"agent:\n  flow:\n    netflow:\n      bind_address: nowhere\n", "agent.flow.netflow.bind_address"},
		{"analyzer:\n  flow:\n    export:\n      - type: netflow\n", "analyzer.flow.export[0].type"},
		{"analyzer:\n  flow:\n    export:\n      - type: ipfix\n        address: nowhere\n", "analyzer.flow.export[0].address"},
		{"analyzer:\n  flow:\n    export:\n      - type: jsonl\n", "analyzer.flow.export[0].dir"},
		{"analyzer:\n  flow:\n    export:\n      - type: jsonl\n        dir: /x\n        rotate_mb: -1\n", "analyzer.flow.export[0]: rotate_mb"},
	} {
		if err := os.WriteFile(f, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load([]string{f}, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}

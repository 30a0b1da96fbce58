package config

import (
	"fmt"
	"net"
	"strings"
)

// AgentFlow is agent.flow: where the agent's flow collectors listen.
type AgentFlow struct {
	NetFlow NetFlowListen `yaml:"netflow"`
}

// NetFlowListen is agent.flow.netflow, the original's keys: the address and
// the UDP port range of netflow and ovsnetflow captures (a capture takes the
// first free port, or its own Port). Zero values are the defaults:
// 127.0.0.1, 6365 and 6375.
type NetFlowListen struct {
	BindAddress string `yaml:"bind_address"`
	PortMin     int    `yaml:"port_min"`
	PortMax     int    `yaml:"port_max"`
}

// AnalyzerFlow is analyzer.flow.
type AnalyzerFlow struct {
	// Export sends the flows the analyzer receives elsewhere, each entry
	// to its own destination.
	Export []FlowExport `yaml:"export"`
}

// Flow export types.
const (
	FlowExportIPFIX = "ipfix"
	FlowExportJSONL = "jsonl"
)

// FlowExport is one analyzer.flow.export entry.
type FlowExport struct {
	// Type is ipfix (records over UDP to Address) or jsonl (a file of
	// one flow per line in Dir).
	Type string `yaml:"type"`
	// Gremlin selects the flows exported: G.Flows() and its filtering
	// steps, or G.V()....Flows()... ("" is G.Flows(): every flow).
	Gremlin string `yaml:"gremlin"`
	// Address is the IPFIX collector, host:port (UDP).
	Address string `yaml:"address"`
	// Dir is where jsonl files are written: flows.jsonl, rotated into
	// flows-<time>.jsonl.
	Dir string `yaml:"dir"`
	// RotateMB rotates the jsonl file once it reaches that many MiB
	// (0: 100).
	RotateMB int `yaml:"rotate_mb"`
	// Keep is the number of rotated jsonl files kept (0: all).
	Keep int `yaml:"keep"`
}

// validateFlow checks agent.flow and analyzer.flow.
func (c *Config) validateFlow() error {
	nf := c.Agent.Flow.NetFlow
	if nf.PortMin < 0 || nf.PortMax < 0 || nf.PortMin > 65535 || nf.PortMax > 65535 || nf.PortMax != 0 && nf.PortMin > nf.PortMax {
		return fmt.Errorf("agent.flow.netflow.port_min, port_max: bad port range %d..%d", nf.PortMin, nf.PortMax)
	}
	if nf.BindAddress != "" && net.ParseIP(nf.BindAddress) == nil {
		return fmt.Errorf("agent.flow.netflow.bind_address: %q is not an IP address", nf.BindAddress)
	}
	for i, e := range c.Analyzer.Flow.Export {
		key := fmt.Sprintf("analyzer.flow.export[%d]", i)
		switch e.Type {
		case FlowExportIPFIX:
			if _, _, err := net.SplitHostPort(e.Address); err != nil {
				return fmt.Errorf("%s.address: %q is not host:port: %w", key, e.Address, err)
			}
		case FlowExportJSONL:
			if strings.TrimSpace(e.Dir) == "" {
				return fmt.Errorf("%s.dir: required for a jsonl export", key)
			}
		default:
			return fmt.Errorf("%s.type: %q is not one of ipfix, jsonl", key, e.Type)
		}
		if e.RotateMB < 0 || e.Keep < 0 {
			return fmt.Errorf("%s: rotate_mb and keep must be >= 0", key)
		}
	}
	return nil
}

package ovsdb

import (
	"context"
	"fmt"
)

// netflowRow is a row of the NetFlow table.
type netflowRow struct {
	UUID             string            `ovsdb:"_uuid"`
	Targets          []string          `ovsdb:"targets"`
	ActiveTimeout    int               `ovsdb:"active_timeout"`
	EngineType       *int              `ovsdb:"engine_type"`
	EngineID         *int              `ovsdb:"engine_id"`
	AddIDToInterface bool              `ovsdb:"add_id_to_interface"`
	ExternalIDs      map[string]string `ovsdb:"external_ids"`
}

// DefaultNetFlowActiveTimeout is the active timeout (seconds) of the
// NetFlow an ovsnetflow capture sets: a long flow is reported every so
// often while it lasts, not only when it ends (OVS's own default, 0, is
// 600 s).
const DefaultNetFlowActiveTimeout = 10

// NetFlowSettings is what an ovsnetflow capture asks of a bridge.
type NetFlowSettings struct {
	Target string // host:port of the collector
	// ActiveTimeout in seconds (0: DefaultNetFlowActiveTimeout, -1: none).
	ActiveTimeout int
	// EngineType and EngineID identify the bridge in the records (0..255).
	EngineType, EngineID int
	// CaptureID names the row (external_ids:skydive-capture-id).
	CaptureID string
}

// EnableNetFlow points the NetFlow of bridge at a collector, through OVSDB
// (a NetFlow row in the bridge's netflow column); the returned function
// removes it. It fails while OVSDB is unreachable, and when the bridge
// already sends NetFlow.
func (p *Probe) EnableNetFlow(ctx context.Context, bridgeName string, s NetFlowSettings) (disable func(context.Context) error, err error) {
	if s.EngineType < 0 || s.EngineType > 255 || s.EngineID < 0 || s.EngineID > 255 {
		return nil, fmt.Errorf("NetFlow engine type and id must be in 0..255, got %d and %d", s.EngineType, s.EngineID)
	}
	timeout := s.ActiveTimeout
	if timeout == 0 {
		timeout = DefaultNetFlowActiveTimeout
	}
	engineType, engineID := s.EngineType, s.EngineID
	row := &netflowRow{UUID: "skydivenetflow", Targets: []string{s.Target}, ActiveTimeout: timeout,
		EngineType: &engineType, EngineID: &engineID, ExternalIDs: map[string]string{"skydive-capture-id": s.CaptureID}}
	return p.attach(ctx, bridgeName, "NetFlow", row, row.UUID, func(b *bridge) **string { return &b.Netflow })
}

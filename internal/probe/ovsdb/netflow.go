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
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("OVSDB %s is not connected", p.opts.Address)
	}
	if s.EngineType < 0 || s.EngineType > 255 || s.EngineID < 0 || s.EngineID > 255 {
		return nil, fmt.Errorf("NetFlow engine type and id must be in 0..255, got %d and %d", s.EngineType, s.EngineID)
	}
	var bridges []bridge
	if err := c.List(ctx, &bridges); err != nil {
		return nil, fmt.Errorf("list bridges: %w", err)
	}
	var br *bridge
	for i := range bridges {
		if bridges[i].Name == bridgeName {
			br = &bridges[i]
		}
	}
	if br == nil {
		return nil, fmt.Errorf("no OVS bridge named %q", bridgeName)
	}
	if br.Netflow != nil {
		return nil, fmt.Errorf("bridge %s already sends NetFlow (row %s): one NetFlow configuration per bridge", bridgeName, *br.Netflow)
	}
	timeout := s.ActiveTimeout
	if timeout == 0 {
		timeout = DefaultNetFlowActiveTimeout
	}
	engineType, engineID := s.EngineType, s.EngineID
	row := &netflowRow{UUID: "skydivenetflow", Targets: []string{s.Target}, ActiveTimeout: timeout,
		EngineType: &engineType, EngineID: &engineID, ExternalIDs: map[string]string{"skydive-capture-id": s.CaptureID}}
	create, err := c.Create(row)
	if err != nil {
		return nil, fmt.Errorf("NetFlow row: %w", err)
	}
	named := row.UUID
	target := &bridge{UUID: br.UUID, Netflow: &named}
	update, err := c.Where(target).Update(target, &target.Netflow)
	if err != nil {
		return nil, fmt.Errorf("bridge update: %w", err)
	}
	if err := p.transact(ctx, c, append(create, update...)); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		p.mu.Lock()
		c := p.client
		p.mu.Unlock()
		if c == nil {
			return fmt.Errorf("OVSDB %s is not connected: the NetFlow of %s stays", p.opts.Address, bridgeName)
		}
		clear := &bridge{UUID: br.UUID}
		ops, err := c.Where(clear).Update(clear, &clear.Netflow)
		if err != nil {
			return err
		}
		// The NetFlow row, no longer referenced, is garbage-collected by OVSDB.
		return p.transact(ctx, c, ops)
	}, nil
}

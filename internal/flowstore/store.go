// Package flowstore keeps the flows reported by the captures (flow.Batch
// from the agents' tables) and answers flow queries: the latest state of
// every flow and the history of its LastUpdateMetric, over a time window or
// for the flows alive now.
//
// Store is the interface every backend implements; Memory is the in-memory
// one. TestSuite checks any backend against the same expectations.
package flowstore

import (
	"context"
	"errors"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("flow store closed")

// Window is a closed time interval [From, To].
type Window struct {
	From, To time.Time
}

// Contains tells whether a flow with the given Start and Last (ms) was
// alive at some point of the window.
func (w *Window) Contains(startMs, lastMs int64) bool {
	return startMs <= w.To.UnixMilli() && lastMs >= w.From.UnixMilli()
}

// Query selects flows. The zero Query selects every flow alive now.
type Query struct {
	// Window selects the flows alive at some point of [From, To]; nil
	// selects the flows alive now: not ended and seen within the
	// store's Expire (a flow ended by a FIN or RST stays for Hold).
	Window *Window
	// NodeTIDs and CaptureIDs, when not empty, keep the flows whose
	// NodeTID (resp. CaptureID) is in the set.
	NodeTIDs   []string
	CaptureIDs []string
	// Filter, when set, keeps the flows for which it returns true. It is
	// called with the store's lock held: it must be quick and must not
	// call the store.
	Filter func(*flow.Flow) bool
	// Limit, when > 0, stops after that many flows (in result order).
	Limit int
}

// Store keeps flows. Implementations are safe for concurrent use. Flows
// returned by queries are shared, read-only values: callers must not
// modify them (clone first).
type Store interface {
	// Insert adds or updates flows (by UUID) and appends their
	// LastUpdateMetric to their history. The flows may be kept: the
	// caller must not modify them afterwards.
	Insert(ctx context.Context, flows []*flow.Flow) error
	// InsertRawPackets keeps raw packets by flow UUID (appended to those
	// already kept for the flow).
	InsertRawPackets(ctx context.Context, pkts map[string][]rawpacket.Packet) error
	// Flows returns the flows matching q, by Start then UUID.
	Flows(ctx context.Context, q Query) ([]*flow.Flow, error)
	// Metrics returns, for each given flow UUID, its LastUpdateMetric
	// history (by Start) within w; w nil: the whole history kept.
	Metrics(ctx context.Context, uuids []string, w *Window) (map[string][]flow.Metric, error)
	// RawPackets returns the raw packets kept for the given flows.
	RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error)
	// Stats describes the content of the store.
	Stats() Stats
	// Close releases the store.
	Close() error
}

// Stats describes a store's content.
type Stats struct {
	Flows   int   // flows kept
	Metrics int   // metric history entries kept
	Evicted int64 // flows removed by retention or the size bound
}

// Feed returns a flow.Options.OnUpdate callback inserting every batch into
// s (errors are passed to onErr, if not nil).
func Feed(ctx context.Context, s Store, onErr func(error)) func(flow.Batch) {
	return func(b flow.Batch) {
		if err := s.Insert(ctx, b.Flows); err != nil && onErr != nil {
			onErr(err)
		}
	}
}

// Package store keeps the analyzer's durable history: every revision of
// every topology node and edge (TopologyStore) and every flow update
// (flowstore.Store), with time-window queries for G.At(...), Context,
// G.Flows() in the past and Metrics().
//
// A Store is the backend-independent front: a bounded write queue with
// back-pressure metrics (Status) in front of a Backend (the embedded Pebble
// store by default, or ClickHouse), the topology revision logic shared by
// every backend, and the final checks of the flow queries. Writes never
// block: Insert and Handle only append to the queue; a single writer
// goroutine writes batches, retries a backend that is down (reporting the
// outage) and counts what the full queue drops. Reads wait (bounded by their
// context and Options.ReadWait) for the writes queued before them, so a
// reader sees its own writes while the backend is up.
//
// Topology revisions are append-only rows: a row sets (or deletes) an
// element from its Time on; the row that follows for the same element ends
// it. Every CheckpointInterval/2 the store writes a checkpoint row for each
// live element, so At(t) needs only the rows of [t-CheckpointInterval, t],
// retention is a plain drop of old rows (or partitions) and no row is ever
// updated in place — the shape both Pebble and ClickHouse like.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
)

// ErrQueueFull is returned (wrapped, with the count) by writes that the
// full queue dropped in part or in whole.
var ErrQueueFull = errors.New("store queue full")

// ErrBadData marks a write error that retrying cannot fix: the writer drops
// the batch (counted) instead of retrying it.
var ErrBadData = errors.New("store: bad data")

// TopologyStore keeps the revisions of the topology and answers the graph as
// it was (it implements eval.History).
type TopologyStore interface {
	// Attach records the graph's current elements and every later change;
	// it returns a function that stops listening.
	Attach(g *graph.Graph) (detach func())
	// Handle records one graph event (a graph.Listener): it never blocks.
	Handle(ev graph.Event)
	// At returns the graph as it was at t.
	At(t time.Time) graph.View
	// Window returns every revision alive at some point of [from, to].
	Window(from, to time.Time) graph.View
	// Prune drops what the retention no longer keeps.
	Prune(ctx context.Context, now time.Time) error
}

// ElemKind tells a node from an edge.
type ElemKind uint8

// Element kinds.
const (
	KindNode ElemKind = 1
	KindEdge ElemKind = 2
)

// RevOp is what a revision row does.
type RevOp uint8

// Revision row operations.
const (
	// OpSet starts a new revision of the element at Time.
	OpSet RevOp = 1
	// OpDelete ends the element at Time.
	OpDelete RevOp = 2
	// OpCheckpoint restates the current revision (which started at From)
	// so that readers of a bounded time range find it.
	OpCheckpoint RevOp = 3
)

// Revision is one topology row.
type Revision struct {
	// Time orders the rows (ms); Seq orders the rows of one millisecond.
	Time graph.Time
	Seq  uint64
	Kind ElemKind
	Op   RevOp
	// From is when the element's revision began (Time, except for
	// checkpoints).
	From graph.Time
	// Node or Edge is the element (set for every op).
	Node *graph.Node
	Edge *graph.Edge
}

// ID returns the element's identifier.
func (r *Revision) ID() graph.Identifier {
	if r.Node != nil {
		return r.Node.ID
	}
	if r.Edge != nil {
		return r.Edge.ID
	}
	return ""
}

func (r *Revision) element() *graph.Element {
	if r.Node != nil {
		return &r.Node.Element
	}
	if r.Edge != nil {
		return &r.Edge.Element
	}
	return nil
}

// Batch is what the writer hands to a backend in one call.
type Batch struct {
	Flows     []*flow.Flow
	Raw       map[string][]rawpacket.Packet
	Revisions []Revision
}

// Len returns the number of items of the batch.
func (b *Batch) Len() int {
	n := len(b.Flows) + len(b.Revisions)
	for _, ps := range b.Raw {
		n += len(ps)
	}
	return n
}

// BackendQuery is a flow query as a backend sees it: a time window (always
// set) and conditions. A backend may return more flows than asked (the
// Store checks every flow again) but never fewer.
type BackendQuery struct {
	Window flowstore.Window
	Conds  []Cond
	// Limit, when > 0, is a hint: the Store needs no more than that many
	// flows matching (only set when there is no Go filter left).
	Limit int
}

// Counts describe a backend's content.
type Counts struct {
	Flows      int
	Metrics    int
	Revisions  int
	SizeOnDisk int64
}

// Backend is a durable store the Store writes to and reads from. Writes are
// idempotent (a batch may be written twice after a retry). Implementations
// are safe for concurrent use.
type Backend interface {
	// Name is "embedded", "clickhouse" ...
	Name() string
	// Write writes a batch: flows (latest state, metric history from
	// LastUpdateMetric, indexes), raw packets and revision rows. It keeps
	// none of b's slices once it returns (the writer reuses them).
	Write(ctx context.Context, b *Batch) error
	// Flows returns the latest state of (at least) every flow alive at
	// some point of q.Window that satisfies q.Conds.
	Flows(ctx context.Context, q BackendQuery) ([]*flow.Flow, error)
	// Metrics returns the LastUpdateMetric history of the flows within w
	// (nil: all), each sorted by Start, without duplicates.
	Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error)
	// RawPackets returns the packets kept for the flows, by Index,
	// without duplicates.
	RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error)
	// Revisions returns the revision rows whose Time is in [from, to],
	// ordered by Time then Seq.
	Revisions(ctx context.Context, from, to graph.Time) ([]Revision, error)
	// Prune drops the flows whose Last is before flowsBefore (with their
	// metrics and packets) and the revision rows before revsBefore.
	Prune(ctx context.Context, flowsBefore, revsBefore time.Time) error
	// Counts describes the content.
	Counts(ctx context.Context) (Counts, error)
	// Close releases the backend.
	Close() error
}

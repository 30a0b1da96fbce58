package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
)

// Defaults of Options.
const (
	DefaultQueueFlows         = 200000
	DefaultQueueRevisions     = 100000
	DefaultMaxBatch           = 10000
	DefaultRetryMin           = 100 * time.Millisecond
	DefaultRetryMax           = 5 * time.Second
	DefaultCheckpointInterval = time.Hour
	DefaultReadWait           = 10 * time.Second
	DefaultCloseTimeout       = 10 * time.Second
	DefaultRetention          = 7 * 24 * time.Hour
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
	// QueueFlows bounds the flows (and raw packets) waiting to be written
	// (DefaultQueueFlows); QueueRevisions bounds the topology rows
	// (DefaultQueueRevisions). What does not fit is dropped and counted.
	QueueFlows, QueueRevisions int
	// MaxBatch bounds the items of one backend write (DefaultMaxBatch).
	MaxBatch int
	// FlushInterval is how long the writer waits to fill a batch (0: it
	// writes what is queued at once; ClickHouse likes about a second).
	// A reader waiting for its writes cuts the wait short.
	FlushInterval time.Duration
	// RetryMin and RetryMax bound the back-off between the retries of a
	// failed write.
	RetryMin, RetryMax time.Duration
	// FlowRetention and TopologyRetention: how long flows (after their
	// last update) and topology revisions (after they ended) are kept
	// (DefaultRetention each).
	FlowRetention, TopologyRetention time.Duration
	// CheckpointInterval: every live element gets a row at least every
	// CheckpointInterval/2; At(t) reads the rows of [t-CheckpointInterval,
	// t] (DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// PruneInterval is the period of Run's pruning (1/24 of the shortest
	// retention, at least a minute).
	PruneInterval time.Duration
	// ReadWait bounds how long a read waits for the writes queued before
	// it (DefaultReadWait); it does not wait during an outage.
	ReadWait time.Duration
	// CloseTimeout bounds how long Close tries to write what is queued.
	CloseTimeout time.Duration
	// Expire and Hold define the flows alive now, as in
	// flowstore.MemoryOptions.
	Expire, Hold time.Duration
	// MaxRawPackets bounds the raw packets returned per flow
	// (rawpacket.MaxLimit).
	MaxRawPackets int
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueFlows, DefaultQueueFlows)
	def(&o.QueueRevisions, DefaultQueueRevisions)
	def(&o.MaxBatch, DefaultMaxBatch)
	def(&o.MaxRawPackets, rawpacket.MaxLimit)
	defD(&o.RetryMin, DefaultRetryMin)
	defD(&o.RetryMax, DefaultRetryMax)
	defD(&o.FlowRetention, DefaultRetention)
	defD(&o.TopologyRetention, DefaultRetention)
	defD(&o.CheckpointInterval, DefaultCheckpointInterval)
	defD(&o.PruneInterval, max(min(o.FlowRetention, o.TopologyRetention)/24, time.Minute))
	defD(&o.ReadWait, DefaultReadWait)
	defD(&o.CloseTimeout, DefaultCloseTimeout)
	defD(&o.Expire, flow.DefaultExpire)
	defD(&o.Hold, flow.DefaultHold)
}

// Status is the state of a store's write path, for /api/status.
type Status struct {
	Backend string `json:"Backend"`
	// Queued items (flows + raw packets, topology rows) and the bounds.
	QueuedFlows      int `json:"QueuedFlows"`
	QueuedRevisions  int `json:"QueuedRevisions"`
	QueueFlowsMax    int `json:"QueueFlowsMax"`
	QueueRevisionMax int `json:"QueueRevisionsMax"`
	// Written and Dropped count items since the store was opened.
	WrittenFlows     uint64 `json:"WrittenFlows"`
	WrittenRevisions uint64 `json:"WrittenRevisions"`
	DroppedFlows     uint64 `json:"DroppedFlows"`
	DroppedRevisions uint64 `json:"DroppedRevisions"`
	Batches          uint64 `json:"Batches"`
	// LastError is the last write error (empty: none yet).
	LastError   string    `json:"LastError,omitempty"`
	LastErrorAt time.Time `json:"LastErrorAt,omitzero"`
	// OutageSince is set while writes fail: the time of the first failure.
	OutageSince time.Time `json:"OutageSince,omitzero"`
	// LastWrite is the time of the last successful write.
	LastWrite time.Time `json:"LastWrite,omitzero"`
}

type queued struct {
	flows []*flow.Flow
	raw   map[string][]rawpacket.Packet
	revs  []Revision
	seq   uint64
	// merges: rows of graph events, which later ones may join (see
	// enqueueRevision).
	merges bool
}

func (q *queued) counts() (flows, revs int) {
	flows = len(q.flows)
	for _, ps := range q.raw {
		flows += len(ps)
	}
	return flows, len(q.revs)
}

// Store is a durable flow and topology store: a bounded queue in front of
// a Backend. It implements flowstore.Store, TopologyStore (and so
// eval.History) and CondQuerier.
type Store struct {
	b    Backend
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	closed     bool
	closing    bool
	closeBy    time.Time
	queue      []*queued
	qFlows     int
	qRevs      int
	enqueued   uint64 // seq of the last queued op
	written    uint64 // seq of the last op written (or dropped)
	progress   chan struct{}
	kick       chan struct{}
	st         Status
	writerDone chan struct{}
	// freeRevs: chunks of maxMergedRevisions rows, written, for reuse.
	freeRevs [][]Revision

	topoMu sync.Mutex
	revSeq uint64
	// The live elements, by kind.
	liveNodes *liveSet[*graph.Node]
	liveEdges *liveSet[*graph.Edge]
	lastCkpt  time.Time
}

var (
	_ flowstore.Store = (*Store)(nil)
	_ TopologyStore   = (*Store)(nil)
	_ CondQuerier     = (*Store)(nil)
)

// New returns a Store writing to and reading from b; it starts the writer
// goroutine (Close stops it). Run does the periodic pruning and checkpoints.
func New(b Backend, opts Options) *Store {
	opts.setDefaults()
	s := &Store{
		b:          b,
		opts:       opts,
		log:        opts.Logger.With("store", b.Name()),
		progress:   make(chan struct{}),
		kick:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
		revSeq:     uint64(opts.Now().UnixNano()),
		liveNodes:  newLiveSet[*graph.Node](),
		liveEdges:  newLiveSet[*graph.Edge](),
	}
	s.st.Backend = b.Name()
	s.st.QueueFlowsMax, s.st.QueueRevisionMax = opts.QueueFlows, opts.QueueRevisions
	go s.writer()
	return s
}

// Backend returns the backend.
func (s *Store) Backend() Backend { return s.b }

// Status returns the state of the write path.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.QueuedFlows, st.QueuedRevisions = s.qFlows, s.qRevs
	return st
}

// SizeOnDisk returns the bytes the backend uses (-1 if unknown).
func (s *Store) SizeOnDisk(ctx context.Context) int64 {
	c, err := s.b.Counts(ctx)
	if err != nil {
		return -1
	}
	return c.SizeOnDisk
}

// maxMergedRevisions bounds the rows of graph events that enqueueRevision
// gathers in one queued op.
const maxMergedRevisions = 256

// enqueueRevision queues the row of one graph event. Graph events come one
// at a time: rather than an op (and its slice) of one row each, the row
// joins the last op of the queue when that op is rows only and the writer
// has not taken it; it is dropped (and counted) when the queue is full.
func (s *Store) enqueueRevision(r Revision) {
	s.mu.Lock()
	if n := len(s.queue); n > 0 && !s.closed && !s.closing && s.qRevs < s.opts.QueueRevisions {
		if last := s.queue[n-1]; last.merges && len(last.revs) < maxMergedRevisions {
			last.revs = append(last.revs, r)
			s.enqueued++
			last.seq = s.enqueued
			s.qRevs++
			if s.opts.FlushInterval <= 0 || s.qFlows+s.qRevs >= s.opts.MaxBatch {
				s.kickLocked()
			}
			s.mu.Unlock()
			return
		}
	}
	var revs []Revision
	if n := len(s.freeRevs); n > 0 {
		revs = s.freeRevs[n-1]
		s.freeRevs[n-1] = nil
		s.freeRevs = s.freeRevs[:n-1]
	}
	s.mu.Unlock()
	if revs == nil {
		// Rows come in bursts or slowly: a burst fills its chunks, which
		// the writer gives back (freeRevs); a slow stream takes a small
		// chunk per write.
		revs = make([]Revision, 0, 8)
	}
	s.enqueue(&queued{revs: append(revs, r), merges: true}) // drops are counted in Status
}

// maxFreeRevs bounds the chunks of merged rows kept for reuse.
const maxFreeRevs = 64

// recycleLocked keeps the full chunks of rows of ops for enqueueRevision.
func (s *Store) recycleLocked(ops []*queued) {
	for _, q := range ops {
		if q.merges && cap(q.revs) >= maxMergedRevisions && len(s.freeRevs) < maxFreeRevs {
			clear(q.revs)
			s.freeRevs = append(s.freeRevs, q.revs[:0])
		}
		q.revs = nil
	}
}

// enqueueBulk queues rows of the store's own making (checkpoints, what
// Attach finds) without dropping any, however many: a quarter of the queue
// at a time, each when the queue is at most half full, so that graph
// events, which never wait, keep room (the queue's bound is for them). It
// returns when the last rows are queued, the store closes or ctx ends;
// during an outage of the backend it waits no more.
func (s *Store) enqueueBulk(ctx context.Context, revs []Revision) error {
	chunk := max(s.opts.QueueRevisions/4, 1)
	for len(revs) > 0 {
		n := min(chunk, len(revs))
		s.mu.Lock()
		if s.closed || s.closing {
			s.mu.Unlock()
			return flowstore.ErrClosed
		}
		if !s.st.OutageSince.IsZero() {
			// The backend is down: waiting could last as long (and hold
			// an analyzer's start); what the queue cannot take is
			// dropped and counted, as graph events are.
			_, _, err := s.enqueueLocked(&queued{revs: revs})
			s.mu.Unlock()
			return err
		}
		if s.qRevs > 0 && s.qRevs+n > s.opts.QueueRevisions/2 {
			// A second at most: the store closing is seen on the next round.
			if _, err := s.awaitWriteLocked(ctx, time.After(time.Second)); err != nil {
				return fmt.Errorf("%d topology rows not queued: %w", len(revs), err)
			}
			continue
		}
		_, _, err := s.enqueueLocked(&queued{revs: revs[:n:n]})
		s.mu.Unlock()
		if err != nil {
			return err
		}
		revs = revs[n:]
	}
	return nil
}

// enqueue appends an op, dropping what does not fit; it returns the number
// of flows and revisions dropped.
func (s *Store) enqueue(q *queued) (droppedFlows, droppedRevs int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(q)
}

func (s *Store) enqueueLocked(q *queued) (droppedFlows, droppedRevs int, err error) {
	if s.closed || s.closing {
		return 0, 0, flowstore.ErrClosed
	}
	if room := s.opts.QueueFlows - s.qFlows; len(q.flows) > room {
		room = max(room, 0)
		droppedFlows = len(q.flows) - room
		q.flows = q.flows[:room]
	}
	if len(q.raw) > 0 {
		n := 0
		for _, ps := range q.raw {
			n += len(ps)
		}
		if s.qFlows+len(q.flows)+n > s.opts.QueueFlows {
			droppedFlows += n
			q.raw = nil
		}
	}
	if room := s.opts.QueueRevisions - s.qRevs; len(q.revs) > room {
		room = max(room, 0)
		droppedRevs = len(q.revs) - room
		q.revs = q.revs[:room]
	}
	s.st.DroppedFlows += uint64(droppedFlows)
	s.st.DroppedRevisions += uint64(droppedRevs)
	nf, nr := q.counts()
	if nf+nr > 0 {
		s.enqueued++
		q.seq = s.enqueued
		wasEmpty := len(s.queue) == 0
		s.queue = append(s.queue, q)
		s.qFlows += nf
		s.qRevs += nr
		// The writer sleeps on kick when the queue is empty, and waits
		// FlushInterval (or a kick) to fill a batch.
		if wasEmpty || s.opts.FlushInterval <= 0 || s.qFlows+s.qRevs >= s.opts.MaxBatch {
			s.kickLocked()
		}
	}
	if droppedFlows+droppedRevs > 0 {
		return droppedFlows, droppedRevs, fmt.Errorf("%w: dropped %d flow items and %d topology rows", ErrQueueFull, droppedFlows, droppedRevs)
	}
	return 0, 0, nil
}

func (s *Store) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// take waits for queued ops and returns up to MaxBatch items of them; nil
// when the store is closing and the queue is empty.
func (s *Store) take() []*queued {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			if s.opts.FlushInterval > 0 && !s.closing && s.qFlows+s.qRevs < s.opts.MaxBatch {
				s.mu.Unlock()
				select {
				case <-s.kick:
				case <-time.After(s.opts.FlushInterval):
				}
				s.mu.Lock()
			}
			n, items := 0, 0
			for n < len(s.queue) && (n == 0 || items < s.opts.MaxBatch) {
				f, r := s.queue[n].counts()
				items += f + r
				n++
			}
			ops := slices.Clone(s.queue[:n])
			clear(s.queue[:n])
			s.queue = s.queue[n:]
			s.mu.Unlock()
			return ops
		}
		if s.closing {
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		<-s.kick
	}
}

func (s *Store) writer() {
	defer close(s.writerDone)
	// The batch's rows are copied into one slice, kept from a write to the
	// next: at a graph's ingest, a new one a write was a tenth of the
	// garbage.
	var revs []Revision
	for {
		ops := s.take()
		if ops == nil {
			return
		}
		b := &Batch{Revisions: revs[:0]}
		for _, q := range ops {
			b.Flows = append(b.Flows, q.flows...)
			b.Revisions = append(b.Revisions, q.revs...)
			if len(q.raw) > 0 {
				if b.Raw == nil {
					b.Raw = map[string][]rawpacket.Packet{}
				}
				for id, ps := range q.raw {
					b.Raw[id] = append(b.Raw[id], ps...)
				}
			}
		}
		ok := s.writeWithRetry(b)
		clear(b.Revisions)
		if cap(b.Revisions) <= 4*s.opts.MaxBatch {
			revs = b.Revisions[:0]
		}
		nf, nr := 0, 0
		for _, q := range ops {
			f, r := q.counts()
			nf += f
			nr += r
		}
		s.mu.Lock()
		s.qFlows -= nf
		s.qRevs -= nr
		if ok {
			s.st.WrittenFlows += uint64(nf)
			s.st.WrittenRevisions += uint64(nr)
			s.st.Batches++
		} else {
			s.st.DroppedFlows += uint64(nf)
			s.st.DroppedRevisions += uint64(nr)
		}
		s.written = ops[len(ops)-1].seq
		s.recycleLocked(ops)
		close(s.progress)
		s.progress = make(chan struct{})
		s.mu.Unlock()
	}
}

// writeWithRetry writes b until it succeeds; it gives up (false) on
// ErrBadData or when the store is closing and its CloseTimeout passed.
func (s *Store) writeWithRetry(b *Batch) bool {
	delay := s.opts.RetryMin
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := s.b.Write(ctx, b)
		cancel()
		now := s.opts.Now()
		s.mu.Lock()
		if err == nil {
			if !s.st.OutageSince.IsZero() {
				s.log.Info("store back", "outage", now.Sub(s.st.OutageSince).Round(time.Millisecond))
			}
			s.st.OutageSince = time.Time{}
			s.st.LastWrite = now
			s.mu.Unlock()
			return true
		}
		s.st.LastError, s.st.LastErrorAt = err.Error(), now
		if s.st.OutageSince.IsZero() {
			s.st.OutageSince = now
			s.log.Warn("store write failed, retrying", "err", err)
		}
		close(s.progress) // readers waiting stop waiting: outage
		s.progress = make(chan struct{})
		giveUp := errors.Is(err, ErrBadData) || (s.closing && time.Now().After(s.closeBy))
		s.mu.Unlock()
		if giveUp {
			s.log.Error("store write dropped", "items", b.Len(), "err", err)
			return false
		}
		time.Sleep(delay)
		delay = min(delay*2, s.opts.RetryMax)
	}
}

// sync waits until what was queued before the call is written, the writer
// is in an outage, ctx ends or ReadWait passes.
func (s *Store) sync(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return flowstore.ErrClosed
	}
	target := s.enqueued
	s.mu.Unlock()
	timer := time.NewTimer(s.opts.ReadWait)
	defer timer.Stop()
	return s.waitWritten(ctx, target, true, timer.C)
}

// Flush waits until everything queued before the call is written (or ctx
// ends); unlike reads, it also waits during an outage.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.enqueued
	s.mu.Unlock()
	return s.waitWritten(ctx, target, false, nil)
}

// waitWritten waits until what was queued up to target is written, ctx
// ends or timeout fires (nil: never); with stopAtOutage, an outage of the
// writer ends the wait too. It kicks the writer on every round.
func (s *Store) waitWritten(ctx context.Context, target uint64, stopAtOutage bool, timeout <-chan time.Time) error {
	for {
		s.mu.Lock()
		if s.written >= target || (stopAtOutage && !s.st.OutageSince.IsZero()) {
			s.mu.Unlock()
			return nil
		}
		if timedOut, err := s.awaitWriteLocked(ctx, timeout); timedOut || err != nil {
			return err
		}
	}
}

// awaitWriteLocked kicks the writer and waits, s.mu released, for its next
// write, the end of ctx (its error) or timeout (timedOut; nil: never).
func (s *Store) awaitWriteLocked(ctx context.Context, timeout <-chan time.Time) (timedOut bool, err error) {
	ch := s.progress
	s.kickLocked()
	s.mu.Unlock()
	select {
	case <-ch:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-timeout:
		return true, nil
	}
}

// Close writes what is queued (for at most CloseTimeout), stops the writer
// and closes the backend.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed || s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.closeBy = time.Now().Add(s.opts.CloseTimeout)
	s.kickLocked()
	s.mu.Unlock()
	<-s.writerDone
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.b.Close()
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.closing
}

// Insert implements flowstore.Store: it queues the flows and never blocks.
// A full queue drops flows: the error wraps ErrQueueFull.
func (s *Store) Insert(ctx context.Context, flows []*flow.Flow) error {
	if s.isClosed() {
		return flowstore.ErrClosed
	}
	if len(flows) == 0 {
		return nil
	}
	fs := make([]*flow.Flow, 0, len(flows))
	for _, f := range flows {
		if f != nil && f.UUID != "" {
			fs = append(fs, f)
		}
	}
	_, _, err := s.enqueue(&queued{flows: fs})
	return err
}

// InsertRawPackets implements flowstore.Store.
func (s *Store) InsertRawPackets(ctx context.Context, pkts map[string][]rawpacket.Packet) error {
	if len(pkts) == 0 {
		return nil
	}
	_, _, err := s.enqueue(&queued{raw: pkts})
	return err
}

// Flows implements flowstore.Store.
func (s *Store) Flows(ctx context.Context, q flowstore.Query) ([]*flow.Flow, error) {
	return s.FlowsWhere(ctx, FlowQuery{Query: q})
}

// FlowsWhere implements CondQuerier: the conditions go down to the
// backend, q.Filter is the final check.
func (s *Store) FlowsWhere(ctx context.Context, q FlowQuery) ([]*flow.Flow, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	conds := make([]Cond, 0, len(q.Conds)+2)
	for _, c := range q.Conds {
		nc, err := c.Normalize()
		if err != nil {
			return nil, err
		}
		conds = append(conds, nc)
	}
	if len(q.NodeTIDs) > 0 {
		conds = append(conds, Cond{Field: "NodeTID", Op: In, Values: anys(q.NodeTIDs)})
	}
	if len(q.CaptureIDs) > 0 {
		conds = append(conds, Cond{Field: "CaptureID", Op: In, Values: anys(q.CaptureIDs)})
	}
	now := s.opts.Now()
	var w flowstore.Window
	alive := q.Window == nil
	if alive {
		w = flowstore.Window{From: now.Add(-max(s.opts.Expire, s.opts.Hold)), To: now}
	} else {
		w = *q.Window
	}
	bq := BackendQuery{Window: w, Conds: conds}
	if q.Filter == nil && !alive {
		bq.Limit = q.Limit
	}
	fs, err := s.b.Flows(ctx, bq)
	if err != nil {
		return nil, fmt.Errorf("store %s: flows: %w", s.b.Name(), err)
	}
	nowMs := now.UnixMilli()
	out := fs[:0]
	for _, f := range fs {
		if alive {
			if !s.alive(f, nowMs) {
				continue
			}
		} else if !w.Contains(f.Start, f.Last) {
			continue
		}
		if !matchAll(conds, f) || (q.Filter != nil && !q.Filter(f)) {
			continue
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *flow.Flow) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.UUID, b.UUID))
	})
	out = slices.CompactFunc(out, func(a, b *flow.Flow) bool { return a.UUID == b.UUID })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit:q.Limit]
	}
	return out, nil
}

func matchAll(conds []Cond, f *flow.Flow) bool {
	for i := range conds {
		if !conds[i].Match(f) {
			return false
		}
	}
	return true
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *Store) alive(f *flow.Flow, now int64) bool {
	idle := now - f.Last
	switch f.FinishType {
	case flow.NotFinished:
		return idle < s.opts.Expire.Milliseconds()
	case flow.TCPFin, flow.TCPRst:
		return idle < s.opts.Hold.Milliseconds()
	}
	return false
}

// Metrics implements flowstore.Store.
func (s *Store) Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	m, err := s.b.Metrics(ctx, uuids, w)
	if err != nil {
		return nil, fmt.Errorf("store %s: metrics: %w", s.b.Name(), err)
	}
	return m, nil
}

// RawPackets implements flowstore.Store.
func (s *Store) RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	m, err := s.b.RawPackets(ctx, uuids)
	if err != nil {
		return nil, fmt.Errorf("store %s: raw packets: %w", s.b.Name(), err)
	}
	for id, ps := range m {
		if len(ps) > s.opts.MaxRawPackets {
			m[id] = ps[:s.opts.MaxRawPackets]
		}
	}
	return m, nil
}

// Stats implements flowstore.Store (from the backend's counts; zero when
// the backend cannot answer within 5 s).
func (s *Store) Stats() flowstore.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.sync(ctx); err != nil {
		return flowstore.Stats{}
	}
	c, err := s.b.Counts(ctx)
	if err != nil {
		s.log.Debug("store counts", "err", err)
		return flowstore.Stats{}
	}
	return flowstore.Stats{Flows: c.Flows, Metrics: c.Metrics}
}

// Run prunes by retention and writes the topology checkpoints until ctx
// ends.
func (s *Store) Run(ctx context.Context) error {
	ckpt := time.NewTicker(max(s.opts.CheckpointInterval/2, time.Second))
	defer ckpt.Stop()
	prune := time.NewTicker(s.opts.PruneInterval)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ckpt.C:
			s.checkpoint(ctx, s.opts.Now())
		case <-prune.C:
			if err := s.Prune(ctx, s.opts.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("store prune", "err", err)
			}
		}
	}
}

// Prune implements TopologyStore: it drops the flows and the topology rows
// the retentions no longer keep.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	flows := now.Add(-s.opts.FlowRetention)
	revs := now.Add(-s.opts.TopologyRetention - s.opts.CheckpointInterval)
	if err := s.b.Prune(ctx, flows, revs); err != nil {
		return fmt.Errorf("store %s: prune: %w", s.b.Name(), err)
	}
	return nil
}

// Package export sends the flows the analyzer receives to other systems, as
// configured in analyzer.flow.export: IPFIX records over UDP to a collector
// (an RFC 5103 biflow record per flow update, with the update's packet and
// byte deltas of each direction), or JSON-lines files (the API's Flow JSON, one flow
// update per line) rotated by size.
//
// Each export selects its flows with a Gremlin query compiled once, when the
// analyzer starts: each batch of updates the agents send is the flow source
// the query runs on (G.Flows().Has(...), G.V().Has(...).Flows(), any
// filtering flow step), so a flow is exported as its updates arrive, with
// what the query keeps of each batch. Running the query periodically over
// the store instead would miss the updates of flows that ended between two
// runs and have to remember what was already sent; testing each batch sends
// every update once, as it comes.
package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
)

// queueLen is the number of batches an export may be behind before new
// ones are dropped (counted in Stats().Dropped).
const queueLen = 1024

// Options are the exports' dependencies.
type Options struct {
	// Graph is what G.V()... queries walk (the analyzer's graph).
	Graph  graph.View
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// sink writes the flows an export kept.
type sink interface {
	write(flows []*flow.Flow) error
	close() error
}

// Exporter is one analyzer.flow.export entry.
type Exporter struct {
	spec    config.FlowExport
	query   *eval.Query
	graph   graph.View
	sink    sink
	log     *slog.Logger
	in      chan []*flow.Flow
	dropped atomic.Int64
	sent    atomic.Int64
	errs    atomic.Int64
}

// Set is the analyzer's exports.
type Set struct {
	list []*Exporter
}

// New compiles the exports' queries and opens their destinations (an
// IPFIX export's UDP socket; a jsonl export's file opens on first write).
func New(specs []config.FlowExport, opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	eng := flowsteps.NewEngine()
	s := &Set{}
	for i, sp := range specs {
		src := strings.TrimSpace(sp.Gremlin)
		if src == "" {
			src = "G.Flows()"
		}
		q, err := eng.Compile(src)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("analyzer.flow.export[%d].gremlin: %w", i, err)
		}
		if q.Kind() != flowsteps.KindFlows {
			s.close()
			return nil, fmt.Errorf("analyzer.flow.export[%d].gremlin: must give flows, %q gives %s", i, src, q.Kind())
		}
		e := &Exporter{spec: sp, query: q, graph: opts.Graph, in: make(chan []*flow.Flow, queueLen),
			log: opts.Logger.With("component", "flow-export", "type", sp.Type, "index", i)}
		switch sp.Type {
		case config.FlowExportIPFIX:
			conn, err := net.Dial("udp", sp.Address)
			if err != nil {
				s.close()
				return nil, fmt.Errorf("analyzer.flow.export[%d].address: %w", i, err)
			}
			e.sink = &ipfixSink{conn: conn, enc: Encoder{Domain: 1}, now: opts.Now}
		case config.FlowExportJSONL:
			mb := sp.RotateMB
			if mb == 0 {
				mb = DefaultRotateMB
			}
			e.sink = &jsonlSink{w: &JSONLWriter{Dir: sp.Dir, RotateBytes: int64(mb) << 20, Keep: sp.Keep, Now: opts.Now}}
		default:
			s.close()
			return nil, fmt.Errorf("analyzer.flow.export[%d].type: unknown %q", i, sp.Type)
		}
		s.list = append(s.list, e)
	}
	return s, nil
}

func (s *Set) close() {
	for _, e := range s.list {
		_ = e.sink.close()
	}
}

// Len is the number of exports.
func (s *Set) Len() int { return len(s.list) }

// Publish hands a batch of flow updates to every export; it never blocks
// (an export that is behind drops the batch). The flows must not be
// modified afterwards.
func (s *Set) Publish(flows []*flow.Flow) {
	if s == nil || len(flows) == 0 {
		return
	}
	for _, e := range s.list {
		select {
		case e.in <- flows:
		default:
			e.dropped.Add(int64(len(flows)))
		}
	}
}

// Stats are an export's counters.
type Stats struct {
	Sent, Dropped, Errors int64
}

// Stats returns each export's counters, in configuration order.
func (s *Set) Stats() []Stats {
	out := make([]Stats, len(s.list))
	for i, e := range s.list {
		out[i] = Stats{Sent: e.sent.Load(), Dropped: e.dropped.Load(), Errors: e.errs.Load()}
	}
	return out
}

// Run exports until ctx ends, then writes what is queued and closes the
// destinations.
func (s *Set) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, e := range s.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

func (e *Exporter) run(ctx context.Context) {
	defer func() {
		if err := e.sink.close(); err != nil {
			e.log.Warn("close flow export", "err", err)
		}
	}()
	lastWarn := time.Time{}
	handle := func(flows []*flow.Flow) {
		kept, err := e.filter(ctx, flows)
		if err == nil && len(kept) > 0 {
			err = e.sink.write(kept)
			if err == nil {
				e.sent.Add(int64(len(kept)))
			}
		}
		if err != nil && ctx.Err() == nil {
			e.errs.Add(1)
			if time.Since(lastWarn) > time.Minute {
				lastWarn = time.Now()
				e.log.Warn("flow export", "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case flows := <-e.in:
					handle(flows)
				default:
					return
				}
			}
		case flows := <-e.in:
			handle(flows)
		}
	}
}

// filter runs the export's query on a batch.
func (e *Exporter) filter(ctx context.Context, flows []*flow.Flow) ([]*flow.Flow, error) {
	if ctx.Err() != nil {
		ctx = context.Background() // the last batches, after the end
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := e.query.Run(qctx, eval.Env{Graph: e.graph, Flows: &flowsteps.Source{Live: batch(flows)}})
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	fs, ok := v.(flowsteps.Flows)
	if !ok {
		return nil, fmt.Errorf("query gave %s, not flows", v.Kind())
	}
	return fs, nil
}

// batch is a batch of updates as the flow source of a query: every flow of
// it is "alive" (ended flows too: their last update is exported).
type batch []*flow.Flow

func (b batch) Flows(_ context.Context, q flowstore.Query) ([]*flow.Flow, error) {
	if q.Window != nil {
		return nil, errors.New("a flow export sees the updates as they come: no time context")
	}
	in := func(set []string, v string) bool {
		if len(set) == 0 {
			return true
		}
		for _, s := range set {
			if s == v {
				return true
			}
		}
		return false
	}
	var out []*flow.Flow
	for _, f := range b {
		if !in(q.NodeTIDs, f.NodeTID) || !in(q.CaptureIDs, f.CaptureID) || q.Filter != nil && !q.Filter(f) {
			continue
		}
		out = append(out, f)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (batch) Metrics(context.Context, []string, *flowstore.Window) (map[string][]flow.Metric, error) {
	return map[string][]flow.Metric{}, nil
}

func (batch) RawPackets(context.Context, []string) (map[string][]rawpacket.Packet, error) {
	return map[string][]rawpacket.Packet{}, nil
}

// ipfixSink sends each update as an IPFIX biflow record.
type ipfixSink struct {
	conn net.Conn
	enc  Encoder
	now  func() time.Time
}

func (s *ipfixSink) write(flows []*flow.Flow) error {
	var recs []Record
	for _, f := range flows {
		if r, ok := RecordOf(f); ok {
			recs = append(recs, r)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	var errs []error
	for _, m := range s.enc.Encode(s.now(), recs) {
		if _, err := s.conn.Write(m); err != nil {
			errs = append(errs, err) // e.g. the collector is not listening (yet)
		}
	}
	return errors.Join(errs...)
}

func (s *ipfixSink) close() error { return s.conn.Close() }

type jsonlSink struct {
	w *JSONLWriter
}

func (s *jsonlSink) write(flows []*flow.Flow) error { return s.w.Write(flows) }
func (s *jsonlSink) close() error                   { return s.w.Close() }

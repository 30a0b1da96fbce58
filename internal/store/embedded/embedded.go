// Package embedded is the default store backend: a Pebble database under
// the analyzer's data directory, with no configuration.
//
// Why Pebble rather than bbolt: measured on the development machine (2
// cores) writing 300 000 flows of ~600 bytes of JSON plus 4 index keys each,
// in batches of 1000: Pebble 17 000 flows/s and 240 bytes/flow on disk
// (12 000/s with an fsync per batch); bbolt 7 000 flows/s and 1 095
// bytes/flow (5 000/s with fsync). Pebble's LSM turns the random keys of
// flow updates into sequential writes, compresses blocks (Snappy),
// prefix-compresses the index keys, and drops old data with cheap range
// deletions; bbolt's B+tree rewrites pages in place, stores everything
// uncompressed and has a single writer whose page allocation grows with
// the data. Pebble's write-ahead log makes a killed process lose nothing
// that was committed.
//
// Layout (big-endian integers so that keys sort by time):
//
//	f uuid                              -> start, last, lu.start, lu.last (8 B each) + flow JSON
//	m uuid 0 lu.start lu.last           -> the LastUpdateMetric (7 × 8 B)
//	p uuid 0 index                      -> raw packet: timestamp, link type, data
//	x hour(4) 0 uuid                    -> start, last: the flows alive during the hour
//	x hour(4) field(1) value 0 uuid     -> (empty) secondary index of the hour
//	r time(8) seq(8)                    -> topology row: kind, op, from + element JSON
//	c name                              -> counters (flows, metrics)
//
// A flow has an "x" entry in every hour from its Start to its Last, so a
// window query reads the hours of the window only; with an equality on an
// indexed field (NodeTID, CaptureID, Network.A, Network.B, Application,
// TrackingID) it reads only that field's entries. Retention deletes whole
// hours of index entries and topology rows with range deletions.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/store"
)

// BucketWidth is the time width of the flow index buckets.
const BucketWidth = time.Hour

// Options configure the embedded backend.
type Options struct {
	// Dir is the database directory (created if missing).
	Dir string
	// NoSync skips the fsync of each batch: a killed process still loses
	// nothing written (the log is in the OS's cache), a machine crash may
	// lose the last batches.
	NoSync bool
	// CacheSize is the block cache in bytes (default 64 MiB).
	CacheSize int64
	// MemTableSize in bytes (default 32 MiB).
	MemTableSize uint64
	Logger       *slog.Logger
}

// indexed fields and their index ids (0 is the bucket's list of flows).
var indexed = []struct {
	id    byte
	field string
	get   func(f *flow.Flow) string
}{
	{1, "NodeTID", func(f *flow.Flow) string { return f.NodeTID }},
	{2, "CaptureID", func(f *flow.Flow) string { return f.CaptureID }},
	{3, "Network.A", func(f *flow.Flow) string {
		if f.Network != nil {
			return f.Network.A
		}
		return ""
	}},
	{4, "Network.B", func(f *flow.Flow) string {
		if f.Network != nil {
			return f.Network.B
		}
		return ""
	}},
	{5, "Application", func(f *flow.Flow) string { return f.Application }},
	{6, "TrackingID", func(f *flow.Flow) string { return f.TrackingID }},
}

// maxSpan bounds the buckets indexed for one flow (a flow claiming to span
// more is indexed in its last buckets only).
const maxSpan = 24 * 62

// maxCache bounds the flows the write cache remembers.
const maxCache = 1 << 22

func (d *DB) resetCache() {
	clear(d.cache)
	d.cacheSince = time.Now().UnixMilli()
}

type flowMeta struct {
	bucket          uint32
	luStart, luLast int64
}

// DB is the embedded backend.
type DB struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger
	wo   *pebble.WriteOptions

	wmu        sync.Mutex // serialises Write and Prune
	cache      map[string]flowMeta
	cacheSince int64 // ms: the cache knows every flow written since
	nFlows     int64
	nMetrics   int64
	cmu        sync.Mutex // guards the counters for readers
	closed     bool
}

var _ store.Backend = (*DB)(nil)

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}

// Open opens (or creates) the database in opts.Dir.
func Open(opts Options) (*DB, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded store: no directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 32 << 20
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:        cache,
		MemTableSize: opts.MemTableSize,
		Logger:       pebbleLogger{opts.Logger},
		Levels:       make([]pebble.LevelOptions, 7),
	}
	for i := range po.Levels {
		// Bloom filters make the lookup of a flow never seen (every
		// new flow) cheap.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("embedded store: open %s: %w", opts.Dir, err)
	}
	d := &DB{db: db, opts: opts, log: opts.Logger, cache: map[string]flowMeta{}, cacheSince: time.Now().UnixMilli(), wo: pebble.Sync}
	if opts.NoSync {
		d.wo = pebble.NoSync
	}
	d.nFlows = d.counter("flows")
	d.nMetrics = d.counter("metrics")
	return d, nil
}

func (d *DB) counter(name string) int64 {
	v, c, err := d.db.Get([]byte("c" + name))
	if err != nil {
		return 0
	}
	defer c.Close()
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// Name implements store.Backend.
func (d *DB) Name() string { return "embedded" }

func bucketOf(ms int64) uint32 {
	if ms < 0 {
		return 0
	}
	return uint32(ms / BucketWidth.Milliseconds())
}

func u64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func flowKey(uuid string) []byte { return append([]byte{'f'}, uuid...) }

func idxAll(b uint32, uuid string) []byte {
	k := make([]byte, 0, 6+len(uuid))
	k = append(k, 'x')
	k = binary.BigEndian.AppendUint32(k, b)
	k = append(k, 0)
	return append(k, uuid...)
}

func idxPrefix(b uint32, id byte, value string) []byte {
	k := make([]byte, 0, 7+len(value))
	k = append(k, 'x')
	k = binary.BigEndian.AppendUint32(k, b)
	k = append(k, id)
	k = append(k, value...)
	return append(k, 0)
}

func bucketKey(b uint32) []byte { return binary.BigEndian.AppendUint32([]byte{'x'}, b) }

func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// cacheSkew is the clock skew between the agents and the analyzer that
// meta tolerates.
const cacheSkew = time.Minute

// meta returns what the store knows of a flow: from the cache, which holds
// every flow written since cacheSince, so that a flow that started after
// that (plus the skew) and is not in the cache is new without a lookup;
// else from the database.
func (d *DB) meta(uuid string, start int64) (flowMeta, bool, error) {
	if m, ok := d.cache[uuid]; ok {
		return m, true, nil
	}
	if start > d.cacheSince+cacheSkew.Milliseconds() {
		return flowMeta{}, false, nil
	}
	v, c, err := d.db.Get(flowKey(uuid))
	if errors.Is(err, pebble.ErrNotFound) {
		return flowMeta{}, false, nil
	}
	if err != nil {
		return flowMeta{}, false, err
	}
	defer c.Close()
	if len(v) < 32 {
		return flowMeta{}, false, nil
	}
	return flowMeta{
		bucket:  bucketOf(int64(binary.BigEndian.Uint64(v[8:]))),
		luStart: int64(binary.BigEndian.Uint64(v[16:])),
		luLast:  int64(binary.BigEndian.Uint64(v[24:])),
	}, true, nil
}

// Write implements store.Backend.
func (d *DB) Write(ctx context.Context, in *store.Batch) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed {
		return flowstore.ErrClosed
	}
	b := d.db.NewBatch()
	defer b.Close()
	var dFlows, dMetrics int64
	seen := map[string]flowMeta{}
	fail := func(err error) error {
		d.resetCache() // the batch is not written: forget what it taught
		return err
	}
	for _, f := range in.Flows {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		m, known := seen[f.UUID]
		if !known {
			var err error
			m, known, err = d.meta(f.UUID, f.Start)
			if err != nil {
				return fail(fmt.Errorf("read flow %s: %w", f.UUID, err))
			}
		}
		js, err := json.Marshal(f)
		if err != nil {
			d.log.Warn("embedded store: flow not encodable, skipped", "uuid", f.UUID, "err", err)
			continue
		}
		sl := u64(u64(nil, f.Start), f.Last)
		bk := bucketOf(f.Last)
		from := bucketOf(f.Start)
		switch {
		case !known:
			dFlows++
		case bk > m.bucket:
			b.Set(idxAll(m.bucket, f.UUID), sl, nil)
			from = m.bucket + 1
		default:
			from = bk + 1 // nothing new to index
		}
		if bk >= maxSpan && from < bk-maxSpan {
			from = bk - maxSpan
		}
		for x := from; x <= bk; x++ {
			for _, ix := range indexed {
				if v := ix.get(f); v != "" && !bytes.ContainsRune([]byte(v), 0) {
					b.Set(append(idxPrefix(x, ix.id, v), f.UUID...), nil, nil)
				}
			}
			b.Set(idxAll(x, f.UUID), sl, nil)
		}
		if bk < m.bucket && known {
			bk = m.bucket
		} else {
			b.Set(idxAll(bk, f.UUID), sl, nil)
		}
		nm := flowMeta{bucket: bk, luStart: m.luStart, luLast: m.luLast}
		if lu := f.LastUpdateMetric; lu != nil {
			if !known || lu.Start != m.luStart || lu.Last != m.luLast {
				b.Set(metricKey(f.UUID, lu.Start, lu.Last), encodeMetric(lu), nil)
				dMetrics++
			}
			nm.luStart, nm.luLast = lu.Start, lu.Last
		}
		rec := make([]byte, 0, 32+len(js))
		rec = u64(u64(u64(u64(rec, f.Start), f.Last), nm.luStart), nm.luLast)
		b.Set(flowKey(f.UUID), append(rec, js...), nil)
		seen[f.UUID] = nm
	}
	for uuid, ps := range in.Raw {
		for _, p := range ps {
			k := append(append(append([]byte{'p'}, uuid...), 0), u64(nil, p.Index)...)
			v := u64(u64(nil, p.Timestamp), int64(p.LinkType))
			b.Set(k, append(v, p.Data...), nil)
		}
	}
	for i := range in.Revisions {
		k, v, err := encodeRevision(&in.Revisions[i])
		if err != nil {
			d.log.Warn("embedded store: revision not encodable, skipped", "err", err)
			continue
		}
		b.Set(k, v, nil)
	}
	d.cmu.Lock()
	nf, nm := d.nFlows+dFlows, d.nMetrics+dMetrics
	d.cmu.Unlock()
	if dFlows != 0 || dMetrics != 0 {
		b.Set([]byte("cflows"), u64(nil, nf), nil)
		b.Set([]byte("cmetrics"), u64(nil, nm), nil)
	}
	if err := b.Commit(d.wo); err != nil {
		return fail(fmt.Errorf("embedded store: commit: %w", err))
	}
	d.cmu.Lock()
	d.nFlows, d.nMetrics = nf, nm
	d.cmu.Unlock()
	if len(d.cache) > maxCache {
		d.resetCache()
	}
	for k, v := range seen {
		d.cache[k] = v
	}
	return nil
}

func metricKey(uuid string, start, last int64) []byte {
	k := make([]byte, 0, 18+len(uuid))
	k = append(append(append(k, 'm'), uuid...), 0)
	return u64(u64(k, start), last)
}

func encodeMetric(m *flow.Metric) []byte {
	b := make([]byte, 0, 56)
	for _, v := range [...]int64{m.ABPackets, m.ABBytes, m.BAPackets, m.BABytes, m.Start, m.Last, m.RTT} {
		b = u64(b, v)
	}
	return b
}

func decodeMetric(b []byte) (flow.Metric, bool) {
	if len(b) < 56 {
		return flow.Metric{}, false
	}
	g := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[8*i:])) }
	return flow.Metric{ABPackets: g(0), ABBytes: g(1), BAPackets: g(2), BABytes: g(3), Start: g(4), Last: g(5), RTT: g(6)}, true
}

func revKey(t graph.Time, seq uint64) []byte {
	k := make([]byte, 0, 17)
	k = append(k, 'r')
	k = u64(k, max(int64(t), 0))
	return binary.BigEndian.AppendUint64(k, seq)
}

func encodeRevision(r *store.Revision) (k, v []byte, err error) {
	var js []byte
	if r.Node != nil {
		js, err = json.Marshal(r.Node)
	} else {
		js, err = json.Marshal(r.Edge)
	}
	if err != nil {
		return nil, nil, err
	}
	v = make([]byte, 0, 10+len(js))
	v = append(v, byte(r.Kind), byte(r.Op))
	v = u64(v, int64(r.From))
	return revKey(r.Time, r.Seq), append(v, js...), nil
}

func decodeRevision(k, v []byte) (store.Revision, error) {
	if len(k) != 17 || len(v) < 10 {
		return store.Revision{}, fmt.Errorf("bad revision row %x", k)
	}
	r := store.Revision{
		Time: graph.Time(binary.BigEndian.Uint64(k[1:])),
		Seq:  binary.BigEndian.Uint64(k[9:]),
		Kind: store.ElemKind(v[0]),
		Op:   store.RevOp(v[1]),
		From: graph.Time(binary.BigEndian.Uint64(v[2:])),
	}
	switch r.Kind {
	case store.KindNode:
		r.Node = &graph.Node{}
		if err := json.Unmarshal(v[10:], r.Node); err != nil {
			return r, err
		}
	case store.KindEdge:
		r.Edge = &graph.Edge{}
		if err := json.Unmarshal(v[10:], r.Edge); err != nil {
			return r, err
		}
	default:
		return r, fmt.Errorf("bad revision kind %d", r.Kind)
	}
	return r, nil
}

func (d *DB) iter(lo, hi []byte) (*pebble.Iterator, error) {
	return d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
}

func (d *DB) checkOpen() error {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	if d.closed {
		return flowstore.ErrClosed
	}
	return nil
}

// Flows implements store.Backend.
func (d *DB) Flows(ctx context.Context, q store.BackendQuery) ([]*flow.Flow, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	w0, w1 := q.Window.From.UnixMilli(), q.Window.To.UnixMilli()
	if w1 < w0 {
		return nil, nil
	}
	// The most selective usable index: an equality (or IN) on an indexed
	// field.
	var ixID byte
	var ixValues []string
	for _, c := range q.Conds {
		if c.Op != store.Eq && c.Op != store.In {
			continue
		}
		for _, ix := range indexed {
			if ix.field == c.Field && (ixID == 0 || len(c.Values) < len(ixValues)) {
				ixID, ixValues = ix.id, nil
				for _, v := range c.Values {
					ixValues = append(ixValues, v.(string))
				}
			}
		}
	}
	b0, b1 := bucketOf(w0), bucketOf(w1)
	it, err := d.iter(bucketKey(b0), bucketKey(b1+1))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	uuids := map[string]struct{}{}
	n := 0
	for b := b0; b <= b1; {
		if !it.SeekGE(bucketKey(b)) {
			break
		}
		kb := binary.BigEndian.Uint32(it.Key()[1:5])
		if kb > b1 {
			break
		}
		if ixID == 0 {
			p := append(bucketKey(kb), 0)
			for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
				if n++; n&4095 == 0 && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				v := it.Value()
				if len(v) == 16 {
					s, l := int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
					if s > w1 || l < w0 {
						continue
					}
				}
				uuids[string(it.Key()[len(p):])] = struct{}{}
			}
		} else {
			for _, val := range ixValues {
				p := idxPrefix(kb, ixID, val)
				for ok := it.SeekGE(p); ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
					uuids[string(it.Key()[len(p):])] = struct{}{}
				}
			}
		}
		b = kb + 1
	}
	ids := make([]string, 0, len(uuids))
	for id := range uuids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*flow.Flow, 0, len(ids))
	for i, id := range ids {
		if i&1023 == 1023 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f, err := d.getFlow(id, w0, w1)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

func (d *DB) getFlow(uuid string, w0, w1 int64) (*flow.Flow, error) {
	v, c, err := d.db.Get(flowKey(uuid))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if len(v) < 32 {
		return nil, nil
	}
	s, l := int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
	if s > w1 || l < w0 {
		return nil, nil
	}
	f := &flow.Flow{}
	if err := json.Unmarshal(v[32:], f); err != nil {
		return nil, fmt.Errorf("flow %s: %w", uuid, err)
	}
	return f, nil
}

// Metrics implements store.Backend.
func (d *DB) Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error) {
	return perFlow(d, 'm', uuids, func(_, _, v []byte) (flow.Metric, bool) {
		m, good := decodeMetric(v)
		return m, good && (w == nil || w.Contains(m.Start, m.Last))
	})
}

// RawPackets implements store.Backend.
func (d *DB) RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error) {
	return perFlow(d, 'p', uuids, func(p, k, v []byte) (rawpacket.Packet, bool) {
		if len(k) != len(p)+8 || len(v) < 16 {
			return rawpacket.Packet{}, false
		}
		pk := rawpacket.Packet{
			Index:     int64(binary.BigEndian.Uint64(k[len(p):])),
			Timestamp: int64(binary.BigEndian.Uint64(v)),
			Data:      slices.Clone(v[16:]),
		}
		pk.LinkType = linkType(binary.BigEndian.Uint64(v[8:]))
		pk.Length = len(pk.Data)
		return pk, true
	})
}

// perFlow reads the records of each flow kept under the key prefix
// kind+uuid+0, keeping those decode accepts; flows without any are left
// out of the answer.
func perFlow[T any](d *DB, kind byte, uuids []string, decode func(prefix, k, v []byte) (T, bool)) (map[string][]T, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	out := make(map[string][]T, len(uuids))
	for _, id := range uuids {
		p := append(append([]byte{kind}, id...), 0)
		it, err := d.iter(p, prefixEnd(p))
		if err != nil {
			return nil, err
		}
		var recs []T
		for ok := it.First(); ok; ok = it.Next() {
			if r, keep := decode(p, it.Key(), it.Value()); keep {
				recs = append(recs, r)
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			out[id] = recs
		}
	}
	return out, nil
}

// Revisions implements store.Backend.
func (d *DB) Revisions(ctx context.Context, from, to graph.Time) ([]store.Revision, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if to < from {
		return nil, nil
	}
	it, err := d.iter(revKey(max(from, 0), 0), revKey(to+1, 0))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []store.Revision
	for ok := it.First(); ok; ok = it.Next() {
		if len(out)&1023 == 1023 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r, err := decodeRevision(it.Key(), it.Value())
		if err != nil {
			d.log.Warn("embedded store: bad revision row", "err", err)
			continue
		}
		out = append(out, r)
	}
	return out, it.Error()
}

// Prune implements store.Backend.
func (d *DB) Prune(ctx context.Context, flowsBefore, revsBefore time.Time) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed {
		return flowstore.ErrClosed
	}
	b := d.db.NewBatch()
	defer b.Close()
	revEnd := revKey(graph.TimeOf(revsBefore), 0)
	b.DeleteRange([]byte{'r'}, revEnd, nil)

	cb := bucketOf(flowsBefore.UnixMilli())
	it, err := d.iter(bucketKey(0), bucketKey(cb))
	if err != nil {
		return err
	}
	var dFlows, dMetrics int64
	done := map[string]bool{}
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 6 || k[5] != 0 {
			// Skip to the next bucket's flow list.
			ok = it.SeekGE(bucketKey(binary.BigEndian.Uint32(k[1:5]) + 1))
			continue
		}
		uuid := string(k[6:])
		ok = it.Next()
		if done[uuid] {
			continue
		}
		done[uuid] = true
		if err := ctx.Err(); err != nil {
			it.Close()
			return err
		}
		m, found, err := d.meta(uuid, 0)
		if err != nil {
			it.Close()
			return err
		}
		if !found || m.bucket >= cb {
			continue
		}
		b.Delete(flowKey(uuid), nil)
		dFlows++
		for _, pfx := range []byte{'m', 'p'} {
			p := append(append([]byte{pfx}, uuid...), 0)
			if pfx == 'm' {
				mi, err := d.iter(p, prefixEnd(p))
				if err == nil {
					for ok := mi.First(); ok; ok = mi.Next() {
						dMetrics++
					}
					mi.Close()
				}
			}
			b.DeleteRange(p, prefixEnd(p), nil)
		}
		delete(d.cache, uuid)
	}
	if err := it.Close(); err != nil {
		return err
	}
	b.DeleteRange(bucketKey(0), bucketKey(cb), nil)
	d.cmu.Lock()
	nf, nm := max(d.nFlows-dFlows, 0), max(d.nMetrics-dMetrics, 0)
	d.cmu.Unlock()
	b.Set([]byte("cflows"), u64(nil, nf), nil)
	b.Set([]byte("cmetrics"), u64(nil, nm), nil)
	if err := b.Commit(d.wo); err != nil {
		return fmt.Errorf("embedded store: prune: %w", err)
	}
	d.cmu.Lock()
	d.nFlows, d.nMetrics = nf, nm
	d.cmu.Unlock()
	if dFlows > 0 {
		d.log.Info("embedded store: pruned", "flows", dFlows, "metrics", dMetrics)
	}
	return nil
}

// Compact compacts the whole database (after a large prune, to give the
// space back at once; Pebble also compacts in the background).
func (d *DB) Compact(ctx context.Context) error {
	if err := d.checkOpen(); err != nil {
		return err
	}
	return d.db.Compact([]byte{0}, []byte{0xff}, false)
}

// Counts implements store.Backend.
func (d *DB) Counts(ctx context.Context) (store.Counts, error) {
	if err := d.checkOpen(); err != nil {
		return store.Counts{}, err
	}
	d.cmu.Lock()
	c := store.Counts{Flows: int(d.nFlows), Metrics: int(d.nMetrics)}
	d.cmu.Unlock()
	c.SizeOnDisk = int64(d.db.Metrics().DiskSpaceUsage())
	return c, nil
}

// Close implements store.Backend.
func (d *DB) Close() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.cmu.Lock()
	if d.closed {
		d.cmu.Unlock()
		return nil
	}
	d.closed = true
	d.cmu.Unlock()
	return d.db.Close()
}

func linkType(v uint64) layers.LinkType { return layers.LinkType(v) }

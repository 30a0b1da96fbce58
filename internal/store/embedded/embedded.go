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
// Layout, format 2 (big-endian integers so that keys sort by time; uid is
// a flow UUID in 9 bytes when it is a hexadecimal uint64, as flow UUIDs
// are, see appendUID):
//
//	V                                   -> format version ("2")
//	f uid                               -> flow record (binary, codec.go)
//	m uid lu.start(8) lu.last(8)        -> an earlier LastUpdateMetric's counters (varints)
//	p uid index(8)                      -> raw packet: timestamp, link type, data
//	x hour(4) uid                       -> start, last-start, index digest
//	s id(4)                             -> dictionary string id
//	r time(8) seq(8)                    -> topology row: kind, op, from + element JSON
//	c name                              -> counters (flows, metrics)
//
// A flow has an "x" entry in every hour from its Start to its Last, so a
// window query reads the hours of the window only. The entry's digest holds
// the dictionary codes of NodeTID, CaptureID, Network.A, Network.B and
// Application and a hash of TrackingID: an equality (or IN) on one of them
// is checked on the entries, and only the matching flows' records are read.
// The flow record holds the latest LastUpdateMetric; an "m" row is written
// when a later update replaces it, so a flow updated once has no row.
// Blocks are compressed with zstd (32 KiB: the records of neighbouring
// flows share strings and the index entries share their layout), except in
// level 0: a memtable flushed there is compacted into the levels below
// soon after, so Snappy, which costs a fraction of zstd's CPU and
// allocates nothing, does there; zstd then compresses each block once.
//
// Measured with storetest's benchmarks (1 000 000 flows over 24 h, two
// cores): format 1 (JSON records, one index key per field and hour) took
// 851 bytes a flow and wrote 32 000 flows/s; format 2 takes 149 bytes and
// writes 160 000 flows/s (fsync per batch both). The price: an equality on
// an indexed field reads every entry of the window's hours (15 ms for an
// hour of 42 000 flows instead of 6 ms). A directory of format 1 is refused
// at Open (ErrFormat): its flows are not converted. Retention deletes whole
// hours of index entries and topology rows with range deletions; the
// dictionary is never pruned (bounded by maxDict).
package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	// MemTableSize in bytes (default 16 MiB). Pebble keeps up to two
	// memtables in memory (one filling, one being flushed): at 32 MiB,
	// they were a tenth of an analyzer's memory with 500,000 nodes.
	MemTableSize uint64
	Logger       *slog.Logger
}

// indexed are the fields an equality (or IN) condition checks on the index
// entries (their position in the digest); TrackingID is hashed (it is
// unique per flow, a dictionary would not help), the others are coded by
// the dictionary.
var indexed = []struct {
	field string
	get   func(f *flow.Flow) string
}{
	{"NodeTID", func(f *flow.Flow) string { return f.NodeTID }},
	{"CaptureID", func(f *flow.Flow) string { return f.CaptureID }},
	{"Network.A", func(f *flow.Flow) string {
		if f.Network != nil {
			return f.Network.A
		}
		return ""
	}},
	{"Network.B", func(f *flow.Flow) string {
		if f.Network != nil {
			return f.Network.B
		}
		return ""
	}},
	{"Application", func(f *flow.Flow) string { return f.Application }},
	{"TrackingID", func(f *flow.Flow) string { return f.TrackingID }},
}

// trackingIx is the position of TrackingID in indexed.
const trackingIx = 5

// formatVersion is the on-disk format this code reads and writes.
const formatVersion = "2"

// ErrFormat is returned (wrapped) by Open for a directory of another
// format.
var ErrFormat = errors.New("embedded store: unsupported on-disk format")

// maxSpan bounds the buckets indexed for one flow (a flow claiming to span
// more is indexed in its last buckets only).
const maxSpan = 24 * 62

// maxCache bounds the flows the write cache remembers (about 150 bytes
// each).
const maxCache = 1 << 21

func (d *DB) resetCache() {
	clear(d.cache)
	d.cacheSince = time.Now().UnixMilli()
}

// flowMeta is what the writer needs of a flow it wrote: its last bucket
// and its LastUpdateMetric, which the flow's record holds until the next
// update turns it into a history row.
type flowMeta struct {
	bucket uint32
	hasLU  bool
	lu     flow.Metric
}

// DB is the embedded backend.
type DB struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger
	wo   *pebble.WriteOptions
	dict *dict

	wmu        sync.Mutex // serialises Write and Prune
	cache      map[string]flowMeta
	cacheSince int64 // ms: the cache knows every flow written since
	enc        encoder
	buf        []byte      // the writer's scratch space (under wmu)
	sorted     sortedBatch // the write being built (under wmu)
	uid        []byte      // the uid of the flow being written (under wmu)
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

// Open opens (or creates) the database in opts.Dir. A directory written in
// another format is refused with an error wrapping ErrFormat.
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
		opts.MemTableSize = 16 << 20
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
		po.Levels[i].Compression = pebble.ZstdCompression
		if i == 0 {
			po.Levels[i].Compression = pebble.SnappyCompression
		}
		po.Levels[i].BlockSize = 32 << 10
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("embedded store: open %s: %w", opts.Dir, err)
	}
	d := &DB{db: db, opts: opts, log: opts.Logger, cache: map[string]flowMeta{}, cacheSince: time.Now().UnixMilli(), wo: pebble.Sync, dict: newDict()}
	d.enc.d = d.dict
	if opts.NoSync {
		d.wo = pebble.NoSync
	}
	if err := d.checkFormat(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := d.loadDict(); err != nil {
		_ = db.Close()
		return nil, err
	}
	d.nFlows = d.counter("flows")
	d.nMetrics = d.counter("metrics")
	return d, nil
}

// checkFormat reads the format version; an empty database gets the
// current one, a database without one is of format 1.
func (d *DB) checkFormat() error {
	v, c, err := d.db.Get([]byte("V"))
	if err == nil {
		ver := string(v)
		c.Close()
		if ver != formatVersion {
			return fmt.Errorf("%w: %s holds format %q, this version reads format %s only; move the directory away (its flows and topology history are not converted)", ErrFormat, d.opts.Dir, ver, formatVersion)
		}
		return nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("embedded store: read format: %w", err)
	}
	it, err := d.db.NewIter(nil)
	if err != nil {
		return err
	}
	nonEmpty := it.First()
	if err := it.Close(); err != nil {
		return err
	}
	if nonEmpty {
		return fmt.Errorf("%w: %s holds format 1 (JSON flow records, before the binary records), this version reads format %s only; move the directory away (its flows and topology history are not converted)", ErrFormat, d.opts.Dir, formatVersion)
	}
	return d.db.Set([]byte("V"), []byte(formatVersion), pebble.Sync)
}

func dictKey(id uint32) []byte { return binary.BigEndian.AppendUint32([]byte{'s'}, id) }

// loadDict reads the dictionary: ids are dense, written in order.
func (d *DB) loadDict() error {
	it, err := d.iter([]byte{'s'}, []byte{'t'})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 5 || binary.BigEndian.Uint32(k[1:]) != uint32(d.dict.len()) {
			return fmt.Errorf("embedded store: %s: dictionary key %x out of sequence", d.opts.Dir, k)
		}
		d.dict.add(string(it.Value()))
	}
	return it.Error()
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

func flowKey(b []byte, uuid string) []byte { return appendUID(append(b, 'f'), uuid) }

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
	v, c, err := d.db.Get(flowKey(nil, uuid))
	if errors.Is(err, pebble.ErrNotFound) {
		return flowMeta{}, false, nil
	}
	if err != nil {
		return flowMeta{}, false, err
	}
	defer c.Close()
	f, err := decodeFlow(uuid, v, d.dict)
	if err != nil {
		return flowMeta{}, false, nil
	}
	m := flowMeta{bucket: bucketOf(f.Last)}
	if lu := f.LastUpdateMetric; lu != nil {
		m.hasLU, m.lu = true, *lu
	}
	return m, true, nil
}

// appendDigest appends the index digest of f, whose record the encoder
// just wrote: the dictionary codes of the indexed fields and the hash of
// its TrackingID.
func (d *DB) appendDigest(b []byte, f *flow.Flow) []byte {
	for _, c := range d.enc.codes {
		b = binary.AppendUvarint(b, c)
	}
	return binary.BigEndian.AppendUint32(b, hash32(f.TrackingID))
}

// sortedBatch gathers a write's keys and values so that they go to
// Pebble in key order: the memtable's skiplist then inserts each key next
// to the previous one instead of searching from the top, which halves the
// cost of a write (random flow UUIDs otherwise land all over it).
type sortedBatch struct {
	arena []byte
	ents  []sortedEnt
}

// sortedEnt is an entry of the arena; pfx is the first 8 bytes of its key
// (zero-padded), which orders most pairs with one comparison.
type sortedEnt struct {
	pfx        uint64
	k0, k1, v1 int
}

func (s *sortedBatch) reset() {
	if cap(s.arena) > 64<<20 {
		s.arena = nil // do not keep the memory of an exceptional batch
	}
	s.arena, s.ents = s.arena[:0], s.ents[:0]
}

// put copies k and v.
func (s *sortedBatch) put(k, v []byte) {
	k0 := len(s.arena)
	s.arena = append(append(s.arena, k...), v...)
	var p [8]byte
	copy(p[:], k)
	s.ents = append(s.ents, sortedEnt{binary.BigEndian.Uint64(p[:]), k0, k0 + len(k), len(s.arena)})
}

// apply sets the entries in b in key order; of equal keys the last put
// wins, as it would in put order.
func (s *sortedBatch) apply(b *pebble.Batch) error {
	a := s.arena
	// Equal keys keep their put order (k0 grows with it): a stable
	// sort, at the price of an unstable one.
	slices.SortFunc(s.ents, func(x, y sortedEnt) int {
		if x.pfx != y.pfx {
			return cmp.Compare(x.pfx, y.pfx)
		}
		return cmp.Or(bytes.Compare(a[x.k0:x.k1], a[y.k0:y.k1]), cmp.Compare(x.k0, y.k0))
	})
	for _, e := range s.ents {
		if err := b.Set(a[e.k0:e.k1], a[e.k1:e.v1], nil); err != nil {
			return err
		}
	}
	return nil
}

// Write implements store.Backend.
func (d *DB) Write(ctx context.Context, in *store.Batch) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed {
		return flowstore.ErrClosed
	}
	var dFlows, dMetrics int64
	if len(d.cache) > maxCache {
		d.resetCache()
	}
	dictLen := d.dict.len()
	d.enc.added = d.enc.added[:0]
	d.enc.resetMemo()
	fail := func(err error) error {
		d.resetCache() // the batch is not written: forget what it taught
		d.dict.truncate(dictLen)
		return err
	}
	sb := &d.sorted
	sb.reset()
	buf := d.buf[:0]
	for _, f := range in.Flows {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		m, known, err := d.meta(f.UUID, f.Start)
		if err != nil {
			return fail(fmt.Errorf("read flow %s: %w", f.UUID, err))
		}
		rec, err := d.enc.appendFlow(buf[:0], f)
		if err != nil {
			d.log.Warn("embedded store: flow not encodable, skipped", "uuid", f.UUID, "err", err)
			continue
		}
		nr := len(rec)
		// The flow's keys share its uid: the writer encodes it once.
		d.uid = appendUID(d.uid[:0], f.UUID)
		uid := d.uid
		rec = vi(vi(rec, f.Start), f.Last-f.Start)
		rec = d.appendDigest(rec, f)
		xv := rec[nr:]
		kstart := len(rec)
		bk := bucketOf(f.Last)
		from := bucketOf(f.Start)
		switch {
		case !known:
			dFlows++
		case bk > m.bucket:
			from = m.bucket
		default:
			from = bk + 1 // nothing new to index
		}
		if bk >= maxSpan && from < bk-maxSpan {
			from = bk - maxSpan
		}
		for x := from; x <= bk; x++ {
			sb.put(append(binary.BigEndian.AppendUint32(append(rec[kstart:], 'x'), x), uid...), xv)
		}
		switch {
		case known && bk < m.bucket:
			bk = m.bucket
		case from > bk:
			// Same bucket as before: its entry gets the new times.
			sb.put(append(binary.BigEndian.AppendUint32(append(rec[kstart:], 'x'), bk), uid...), xv)
		}
		// The record keeps the latest LastUpdateMetric; the one it
		// replaces becomes a history row (the record of a flow updated
		// once, most of them, needs no row).
		nm := flowMeta{bucket: bk}
		lu := f.LastUpdateMetric
		newLU := lu != nil && (!known || !m.hasLU || lu.Start != m.lu.Start || lu.Last != m.lu.Last)
		if known && m.hasLU && (lu == nil || newLU) {
			mk := u64(u64(append(append(rec[kstart:], 'm'), uid...), m.lu.Start), m.lu.Last)
			sb.put(mk, encodeMetric(mk[len(mk):], &m.lu))
		}
		switch {
		case newLU:
			dMetrics++
			nm.hasLU, nm.lu = true, *lu
		case lu != nil:
			nm.hasLU, nm.lu = true, *lu
		case known && m.hasLU:
			// No metric in this update: the record loses it, the
			// history row written above keeps it.
		}
		sb.put(append(append(rec[kstart:], 'f'), uid...), rec[:nr])
		// The cache learns at once (a later update of the batch needs
		// it); a batch that fails empties it.
		d.cache[f.UUID] = nm
		buf = rec
	}
	d.buf = buf[:0]
	for uuid, ps := range in.Raw {
		for _, p := range ps {
			k := u64(appendUID([]byte{'p'}, uuid), p.Index)
			v := u64(u64(nil, p.Timestamp), int64(p.LinkType))
			sb.put(k, append(v, p.Data...))
		}
	}
	var row []byte // put copies: one buffer serves every row
	for i := range in.Revisions {
		k, v, err := encodeRevision(&in.Revisions[i], row[:0])
		if err != nil {
			d.log.Warn("embedded store: revision not encodable, skipped", "err", err)
			continue
		}
		sb.put(k, v)
		row = v
	}
	for _, id := range d.enc.added {
		s, _ := d.dict.str(uint64(id))
		sb.put(dictKey(id), []byte(s))
	}
	d.cmu.Lock()
	nf, nm := d.nFlows+dFlows, d.nMetrics+dMetrics
	d.cmu.Unlock()
	if dFlows != 0 || dMetrics != 0 {
		sb.put([]byte("cflows"), u64(nil, nf))
		sb.put([]byte("cmetrics"), u64(nil, nm))
	}
	b := d.db.NewBatchWithSize(len(sb.arena) + 16*len(sb.ents))
	defer b.Close()
	if err := sb.apply(b); err != nil {
		return fail(fmt.Errorf("embedded store: batch: %w", err))
	}
	if err := b.Commit(d.wo); err != nil {
		return fail(fmt.Errorf("embedded store: commit: %w", err))
	}
	d.cmu.Lock()
	d.nFlows, d.nMetrics = nf, nm
	d.cmu.Unlock()
	return nil
}

func metricPrefix(b []byte, uuid string) []byte { return appendUID(append(b, 'm'), uuid) }

func metricKey(b []byte, uuid string, start, last int64) []byte {
	return u64(u64(metricPrefix(b, uuid), start), last)
}

func encodeMetric(b []byte, m *flow.Metric) []byte {
	return vi(vi(vi(vi(vi(b, m.ABPackets), m.ABBytes), m.BAPackets), m.BABytes), m.RTT)
}

// decodeMetric decodes a metric row: the key's times after the prefix,
// the value's counters.
func decodeMetric(times, v []byte) (flow.Metric, bool) {
	if len(times) != 16 {
		return flow.Metric{}, false
	}
	r := &decoder{b: v}
	m := flow.Metric{ABPackets: r.varint(), ABBytes: r.varint(), BAPackets: r.varint(), BABytes: r.varint(), RTT: r.varint()}
	m.Start, m.Last = int64(binary.BigEndian.Uint64(times)), int64(binary.BigEndian.Uint64(times[8:]))
	return m, r.err == nil && len(r.b) == 0
}

func revKey(t graph.Time, seq uint64) []byte {
	k := make([]byte, 0, 17)
	k = append(k, 'r')
	k = u64(k, max(int64(t), 0))
	return binary.BigEndian.AppendUint64(k, seq)
}

// encodeRevision returns a history row's key and its value, appended to buf.
func encodeRevision(r *store.Revision, buf []byte) (k, v []byte, err error) {
	v = append(buf, byte(r.Kind), byte(r.Op))
	v = u64(v, int64(r.From))
	if r.Node != nil {
		v, err = r.Node.AppendJSON(v)
	} else {
		v, err = r.Edge.AppendJSON(v)
	}
	if err != nil {
		return nil, nil, err
	}
	return revKey(r.Time, r.Seq), v, nil
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
		if err := graph.DecodeNode(v[10:], r.Node); err != nil {
			return r, err
		}
	case store.KindEdge:
		r.Edge = &graph.Edge{}
		if err := graph.DecodeEdge(v[10:], r.Edge); err != nil {
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
	// The most selective usable condition on the digest: an equality (or
	// IN) on an indexed field, the one of fewest values.
	ixPos := -1
	var ixValues []string
	for _, c := range q.Conds {
		if c.Op != store.Eq && c.Op != store.In {
			continue
		}
		for i, ix := range indexed {
			if ix.field == c.Field && (ixPos < 0 || len(c.Values) < len(ixValues)) {
				ixPos, ixValues = i, nil
				for _, v := range c.Values {
					s, ok := v.(string)
					if !ok {
						ixPos = -1
						break
					}
					ixValues = append(ixValues, s)
				}
			}
		}
	}
	// want holds the digest values that may match: dictionary codes (1,
	// a string kept inline, may be any) or TrackingID hashes.
	var want map[uint64]bool
	if ixPos >= 0 {
		want = map[uint64]bool{}
		for _, v := range ixValues {
			switch {
			case ixPos == trackingIx:
				want[uint64(hash32(v))] = true
			case v == "":
				want[0] = true
			default:
				want[1] = true
				if id, ok := d.dict.lookup(v); ok {
					want[uint64(id)+2] = true
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
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n&4095 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		k := it.Key()
		if len(k) < 6 {
			continue
		}
		r := decoder{b: it.Value()}
		s := r.varint()
		l := s + r.varint()
		if r.err == nil && (s > w1 || l < w0) {
			continue
		}
		if want != nil && r.err == nil {
			var v uint64
			if ixPos == trackingIx {
				for range trackingIx {
					r.uvarint()
				}
				if len(r.b) >= 4 {
					v = uint64(binary.BigEndian.Uint32(r.b))
				}
			} else {
				for range ixPos {
					r.uvarint()
				}
				v = r.uvarint()
			}
			if r.err == nil && !want[v] {
				continue
			}
		}
		id, _, good := readUID(k[5:])
		if !good {
			continue
		}
		uuids[id] = struct{}{}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	// The records are read in key order: neighbours share Pebble's
	// blocks (32 KiB, compressed), each then read once.
	type keyed struct {
		key []byte
		id  string
	}
	ids := make([]keyed, 0, len(uuids))
	for id := range uuids {
		ids = append(ids, keyed{flowKey(nil, id), id})
	}
	slices.SortFunc(ids, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	// One iterator seeks forward from key to key: cheaper than a Get
	// each (which builds an iterator and checks the filters).
	fit, err := d.iter([]byte{'f'}, []byte{'g'})
	if err != nil {
		return nil, err
	}
	defer fit.Close()
	out := make([]*flow.Flow, 0, len(ids))
	for i, k := range ids {
		if i&1023 == 1023 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !fit.SeekGE(k.key) || !bytes.Equal(fit.Key(), k.key) {
			continue
		}
		f, err := decodeFlow(k.id, fit.Value(), d.dict)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", k.id, err)
		}
		if f.Start <= w1 && f.Last >= w0 {
			out = append(out, f)
		}
	}
	if err := fit.Error(); err != nil {
		return nil, err
	}
	return out, nil
}

// getFlow reads the record of the flow uuid: nil when missing or not
// within [w0, w1].
func (d *DB) getFlow(uuid string, w0, w1 int64) (*flow.Flow, error) {
	v, c, err := d.db.Get(flowKey(nil, uuid))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f, err := decodeFlow(uuid, v, d.dict)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", uuid, err)
	}
	if f.Start > w1 || f.Last < w0 {
		return nil, nil
	}
	return f, nil
}

// Metrics implements store.Backend: the history rows and the flow
// record's LastUpdateMetric.
func (d *DB) Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error) {
	rows, err := perFlow(d, 'm', uuids, func(p, k, v []byte) (flow.Metric, bool) {
		return decodeMetric(k[len(p):], v)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]flow.Metric, len(uuids))
	for i, id := range uuids {
		if i&1023 == 1023 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ms := rows[id]
		f, err := d.getFlow(id, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		if f != nil && f.LastUpdateMetric != nil {
			lu := *f.LastUpdateMetric
			ms = slices.DeleteFunc(ms, func(m flow.Metric) bool { return m.Start == lu.Start && m.Last == lu.Last })
			ms = append(ms, lu)
			slices.SortStableFunc(ms, func(a, b flow.Metric) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Last, b.Last)) })
		}
		if w != nil {
			ms = slices.DeleteFunc(ms, func(m flow.Metric) bool { return !w.Contains(m.Start, m.Last) })
		}
		if len(ms) > 0 {
			out[id] = ms
		}
	}
	return out, nil
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
// kind+uid, keeping those decode accepts; flows without any are left out
// of the answer.
func perFlow[T any](d *DB, kind byte, uuids []string, decode func(prefix, k, v []byte) (T, bool)) (map[string][]T, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	out := make(map[string][]T, len(uuids))
	for _, id := range uuids {
		p := appendUID([]byte{kind}, id)
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
	if err := b.DeleteRange([]byte{'r'}, revEnd, nil); err != nil {
		return err
	}

	cb := bucketOf(flowsBefore.UnixMilli())
	it, err := d.iter(bucketKey(0), bucketKey(cb))
	if err != nil {
		return err
	}
	var dFlows, dMetrics int64
	done := map[string]bool{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 6 {
			continue
		}
		uuid, _, good := readUID(k[5:])
		if !good || done[uuid] {
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
		if m.hasLU {
			dMetrics++
		}
		if err := b.Delete(flowKey(nil, uuid), nil); err != nil {
			it.Close()
			return err
		}
		dFlows++
		for _, pfx := range []byte{'m', 'p'} {
			p := appendUID([]byte{pfx}, uuid)
			if pfx == 'm' {
				mi, err := d.iter(p, prefixEnd(p))
				if err == nil {
					for ok := mi.First(); ok; ok = mi.Next() {
						dMetrics++
					}
					mi.Close()
				}
			}
			if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
				it.Close()
				return err
			}
		}
		delete(d.cache, uuid)
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := b.DeleteRange(bucketKey(0), bucketKey(cb), nil); err != nil {
		return err
	}
	d.cmu.Lock()
	nf, nm := max(d.nFlows-dFlows, 0), max(d.nMetrics-dMetrics, 0)
	d.cmu.Unlock()
	if err := b.Set([]byte("cflows"), u64(nil, nf), nil); err != nil {
		return err
	}
	if err := b.Set([]byte("cmetrics"), u64(nil, nm), nil); err != nil {
		return err
	}
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

// space back at once; Pebble also compacts in the background).
func (d *DB) Compact(ctx context.Context) error {
	if err := d.checkOpen(); err != nil {
		return err
	}
	if err := d.db.Compact([]byte{0}, []byte{0xff}, false); err != nil {
		return err
	}
	// Pebble deletes the replaced tables in the background: wait (a
	// little) for the space to be given back, which is the point.
	for range 100 {
		if d.db.Metrics().Table.ObsoleteSize == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
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

// Package clickhouse is the scale-out store backend: flows, raw packets and
// topology revisions in ClickHouse tables, written in batches over the
// native protocol, with time windows and field conditions pushed down.
//
// Minimum server version: 18.16 (Debian 12's clickhouse-server). The schema
// uses only what 18.16 has: MergeTree with PARTITION BY toYYYYMMDD(day),
// Date/Int64/UInt64/String columns (no DateTime64, no Map, no JSON
// functions: the flow and element JSON are stored as strings and decoded by
// the analyzer). Retention drops whole day partitions (ALTER TABLE ... DROP
// PARTITION), which every version supports; on 19.6 and later the tables
// also get a TTL so that the server drops old data by itself. The
// clickhouse-go HTTP protocol does not work with 18.16: use the native
// port (9000).
//
// Tables (created on first start, CREATE ... IF NOT EXISTS, so several
// analyzers can share a database): flows (one row per flow update: the
// flow's fields as columns, its LastUpdateMetric, its JSON), raw_packets and
// revisions (append-only topology rows). Rows carry the writing analyzer's
// name; reads see every analyzer's rows and deduplicate (the latest update
// of a flow wins), so retried inserts and analyzers writing the same data
// are harmless.
package clickhouse

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/store"
)

// Options configure the backend.
type Options struct {
	store.ClickHouseConfig
	// Analyzer names the writer in the rows (the analyzer's host ID).
	Analyzer string
	// TopologyRetention and FlowRetention set the tables' TTL (19.6+).
	TopologyRetention, FlowRetention time.Duration
	Logger                           *slog.Logger
}

// DB is the ClickHouse backend.
type DB struct {
	conn    driver.Conn
	opts    Options
	db      string
	log     *slog.Logger
	version atomic.Value // string

	initMu sync.Mutex
	ready  bool
	closed atomic.Bool
}

var _ store.Backend = (*DB)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open returns the backend. It does not need the server to be up: the
// tables are created at the first successful write or read.
func Open(opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.Addresses) == 0 {
		opts.Addresses = []string{"127.0.0.1:9000"}
	}
	if opts.Database == "" {
		opts.Database = "skydive"
	}
	if !identRE.MatchString(opts.Database) {
		return nil, fmt.Errorf("clickhouse store: bad database name %q", opts.Database)
	}
	if opts.Username == "" {
		opts.Username = "default"
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	co := &ch.Options{
		Addr:         opts.Addresses,
		Auth:         ch.Auth{Database: "default", Username: opts.Username, Password: opts.Password},
		DialTimeout:  opts.DialTimeout,
		MaxOpenConns: 8,
		MaxIdleConns: 4,
	}
	if opts.Secure {
		co.TLS = &tls.Config{}
	}
	conn, err := ch.Open(co)
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: %w", err)
	}
	return &DB{conn: conn, opts: opts, db: opts.Database, log: opts.Logger}, nil
}

// Name implements store.Backend.
func (d *DB) Name() string { return "clickhouse" }

// ServerVersion returns the server's version once known.
func (d *DB) ServerVersion() string {
	v, _ := d.version.Load().(string)
	return v
}

// versionAtLeast compares a "major.minor..." version.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// init creates the database and the tables once.
func (d *DB) init(ctx context.Context) error {
	if d.closed.Load() {
		return flowstore.ErrClosed
	}
	d.initMu.Lock()
	defer d.initMu.Unlock()
	if d.ready {
		return nil
	}
	var v string
	if err := d.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return fmt.Errorf("clickhouse: version: %w", err)
	}
	d.version.Store(v)
	ttl := func(r time.Duration) string {
		if r <= 0 || !versionAtLeast(v, 19, 6) {
			return ""
		}
		days := int((r + 24*time.Hour - 1) / (24 * time.Hour))
		return fmt.Sprintf(" TTL day + toIntervalDay(%d)", days+1)
	}
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + d.db,
		`CREATE TABLE IF NOT EXISTS ` + d.db + `.flows (
	day Date, analyzer String, version UInt64,
	uuid String, start_ms Int64, last_ms Int64,
	node_tid String, capture_id String, tracking_id String, l3_tracking_id String, parent_uuid String,
	application String, layers_path String,
	link_protocol String, link_a String, link_b String, link_id Int64,
	network_protocol String, network_a String, network_b String, network_id Int64,
	transport_protocol String, transport_a Int64, transport_b Int64, transport_id Int64,
	icmp_type String, icmp_code Int64, icmp_id Int64, finish_type Int64,
	ab_packets Int64, ab_bytes Int64, ba_packets Int64, ba_bytes Int64, rtt Int64, m_start Int64, m_last Int64,
	has_lu UInt8, lu_start Int64, lu_last Int64, lu_ab_packets Int64, lu_ab_bytes Int64,
	lu_ba_packets Int64, lu_ba_bytes Int64, lu_rtt Int64,
	json String
) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(day) ORDER BY (last_ms, uuid)` + ttl(d.opts.FlowRetention),
		`CREATE TABLE IF NOT EXISTS ` + d.db + `.raw_packets (
	day Date, analyzer String, uuid String, idx Int64, ts Int64, link_type UInt8, data String
) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(day) ORDER BY (uuid, idx)` + ttl(d.opts.FlowRetention),
		`CREATE TABLE IF NOT EXISTS ` + d.db + `.revisions (
	day Date, analyzer String, time_ms Int64, seq UInt64, kind UInt8, op UInt8, from_ms Int64, id String, json String
) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(day) ORDER BY (time_ms, seq)` + ttl(d.opts.TopologyRetention),
	}
	for _, s := range stmts {
		if err := d.conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("clickhouse: create: %w", err)
		}
	}
	d.ready = true
	d.log.Info("clickhouse store ready", "version", v, "database", d.db)
	return nil
}

func day(ms int64) time.Time {
	return time.UnixMilli(ms).UTC().Truncate(24 * time.Hour)
}

func dayLit(ms int64) string { return "'" + day(ms).Format("2006-01-02") + "'" }

var versionSeq atomic.Uint64

func nextVersion() uint64 {
	now := uint64(time.Now().UnixNano())
	for {
		old := versionSeq.Load()
		v := max(now, old+1)
		if versionSeq.CompareAndSwap(old, v) {
			return v
		}
	}
}

// Write implements store.Backend.
func (d *DB) Write(ctx context.Context, b *store.Batch) error {
	if err := d.init(ctx); err != nil {
		return err
	}
	if len(b.Flows) > 0 {
		if err := d.writeFlows(ctx, b.Flows); err != nil {
			return err
		}
	}
	if len(b.Raw) > 0 {
		bt, err := d.conn.PrepareBatch(ctx, "INSERT INTO "+d.db+".raw_packets (day, analyzer, uuid, idx, ts, link_type, data)")
		if err != nil {
			return fmt.Errorf("clickhouse: raw packets: %w", err)
		}
		for uuid, ps := range b.Raw {
			for _, p := range ps {
				if err := bt.Append(day(p.Timestamp), d.opts.Analyzer, uuid, p.Index, p.Timestamp, uint8(p.LinkType), string(p.Data)); err != nil {
					bt.Abort()
					return fmt.Errorf("clickhouse: raw packets: %w", err)
				}
			}
		}
		if err := bt.Send(); err != nil {
			return fmt.Errorf("clickhouse: raw packets: %w", err)
		}
	}
	if len(b.Revisions) > 0 {
		bt, err := d.conn.PrepareBatch(ctx, "INSERT INTO "+d.db+".revisions (day, analyzer, time_ms, seq, kind, op, from_ms, id, json)")
		if err != nil {
			return fmt.Errorf("clickhouse: revisions: %w", err)
		}
		for i := range b.Revisions {
			r := &b.Revisions[i]
			var js []byte
			if r.Node != nil {
				js, err = r.Node.AppendJSON(nil)
			} else {
				js, err = r.Edge.AppendJSON(nil)
			}
			if err != nil {
				d.log.Warn("clickhouse store: revision not encodable, skipped", "err", err)
				continue
			}
			if err := bt.Append(day(int64(r.Time)), d.opts.Analyzer, int64(r.Time), r.Seq, uint8(r.Kind), uint8(r.Op), int64(r.From), string(r.ID()), string(js)); err != nil {
				bt.Abort()
				return fmt.Errorf("clickhouse: revisions: %w", err)
			}
		}
		if err := bt.Send(); err != nil {
			return fmt.Errorf("clickhouse: revisions: %w", err)
		}
	}
	return nil
}

func (d *DB) writeFlows(ctx context.Context, fs []*flow.Flow) error {
	bt, err := d.conn.PrepareBatch(ctx, "INSERT INTO "+d.db+".flows ("+flowColumns+")")
	if err != nil {
		return fmt.Errorf("clickhouse: flows: %w", err)
	}
	for _, f := range fs {
		js, err := json.Marshal(f)
		if err != nil {
			d.log.Warn("clickhouse store: flow not encodable, skipped", "uuid", f.UUID, "err", err)
			continue
		}
		var link, network flow.FlowLayer
		if f.Link != nil {
			link = *f.Link
		}
		if f.Network != nil {
			network = *f.Network
		}
		var tr flow.TransportLayer
		trProto := ""
		if f.Transport != nil {
			tr, trProto = *f.Transport, f.Transport.Protocol.String()
		}
		linkProto, netProto := "", ""
		if f.Link != nil {
			linkProto = f.Link.Protocol.String()
		}
		if f.Network != nil {
			netProto = f.Network.Protocol.String()
		}
		var icmp flow.ICMPLayer
		icmpType := ""
		if f.ICMP != nil {
			icmp, icmpType = *f.ICMP, f.ICMP.Type.String()
		}
		var m, lu flow.Metric
		if f.Metric != nil {
			m = *f.Metric
		}
		hasLU := uint8(0)
		if f.LastUpdateMetric != nil {
			lu, hasLU = *f.LastUpdateMetric, 1
		}
		err = bt.Append(day(f.Last), d.opts.Analyzer, nextVersion(),
			f.UUID, f.Start, f.Last,
			f.NodeTID, f.CaptureID, f.TrackingID, f.L3TrackingID, f.ParentUUID,
			f.Application, f.LayersPath,
			linkProto, link.A, link.B, link.ID,
			netProto, network.A, network.B, network.ID,
			trProto, tr.A, tr.B, tr.ID,
			icmpType, int64(icmp.Code), int64(icmp.ID), int64(f.FinishType),
			m.ABPackets, m.ABBytes, m.BAPackets, m.BABytes, m.RTT, m.Start, m.Last,
			hasLU, lu.Start, lu.Last, lu.ABPackets, lu.ABBytes, lu.BAPackets, lu.BABytes, lu.RTT,
			string(js))
		if err != nil {
			bt.Abort()
			return fmt.Errorf("clickhouse: flows: %w", err)
		}
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("clickhouse: flows: %w", err)
	}
	return nil
}

const flowColumns = `day, analyzer, version, uuid, start_ms, last_ms,
	node_tid, capture_id, tracking_id, l3_tracking_id, parent_uuid, application, layers_path,
	link_protocol, link_a, link_b, link_id, network_protocol, network_a, network_b, network_id,
	transport_protocol, transport_a, transport_b, transport_id, icmp_type, icmp_code, icmp_id, finish_type,
	ab_packets, ab_bytes, ba_packets, ba_bytes, rtt, m_start, m_last,
	has_lu, lu_start, lu_last, lu_ab_packets, lu_ab_bytes, lu_ba_packets, lu_ba_bytes, lu_rtt, json`

// columns maps the pushable fields to columns; mutable ones change with
// updates and are checked on the latest row (HAVING).
var columns = map[string]struct {
	col     string
	mutable bool
}{
	"UUID": {"uuid", false}, "LayersPath": {"layers_path", true}, "Application": {"application", true},
	"TrackingID": {"tracking_id", false}, "L3TrackingID": {"l3_tracking_id", false}, "ParentUUID": {"parent_uuid", false},
	"NodeTID": {"node_tid", false}, "CaptureID": {"capture_id", false},
	"Start": {"start_ms", false}, "Last": {"last_ms", true}, "FinishType": {"finish_type", true},
	"Link.A": {"link_a", false}, "Link.B": {"link_b", false}, "Link.ID": {"link_id", false}, "Link.Protocol": {"link_protocol", false},
	"Network.A": {"network_a", false}, "Network.B": {"network_b", false}, "Network.ID": {"network_id", false}, "Network.Protocol": {"network_protocol", false},
	"Transport.A": {"transport_a", false}, "Transport.B": {"transport_b", false}, "Transport.ID": {"transport_id", false}, "Transport.Protocol": {"transport_protocol", false},
	"ICMP.Type": {"icmp_type", false}, "ICMP.Code": {"icmp_code", false}, "ICMP.ID": {"icmp_id", false},
	"Metric.ABPackets": {"ab_packets", true}, "Metric.ABBytes": {"ab_bytes", true}, "Metric.BAPackets": {"ba_packets", true},
	"Metric.BABytes": {"ba_bytes", true}, "Metric.RTT": {"rtt", true}, "Metric.Start": {"m_start", true}, "Metric.Last": {"m_last", true},
}

// quote returns a ClickHouse string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func literal(v any) string {
	switch t := v.(type) {
	case string:
		return quote(t)
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return "NULL"
}

// condSQL renders a normalized condition on expr.
func condSQL(expr string, c store.Cond) string {
	if c.Op == store.In {
		vs := make([]string, len(c.Values))
		for i, v := range c.Values {
			vs[i] = literal(v)
		}
		return expr + " IN (" + strings.Join(vs, ", ") + ")"
	}
	return expr + " " + c.Op.String() + " " + literal(c.Values[0])
}

// FlowsSQL returns the query of q (exported for the tests and to show what
// is pushed down).
func (d *DB) FlowsSQL(q store.BackendQuery) string {
	w0, w1 := q.Window.From.UnixMilli(), q.Window.To.UnixMilli()
	where := []string{
		"day >= " + dayLit(w0),
		"last_ms >= " + strconv.FormatInt(w0, 10),
		"start_ms <= " + strconv.FormatInt(w1, 10),
	}
	var having []string
	for _, c := range q.Conds {
		col, ok := columns[c.Field]
		if !ok {
			continue // checked by the Store
		}
		if col.mutable {
			having = append(having, condSQL("argMax("+col.col+", version)", c))
		} else {
			where = append(where, condSQL(col.col, c))
		}
	}
	s := "SELECT argMax(json, version) FROM " + d.db + ".flows WHERE " + strings.Join(where, " AND ") + " GROUP BY uuid"
	if len(having) > 0 {
		s += " HAVING " + strings.Join(having, " AND ")
	}
	if q.Limit > 0 {
		s += " ORDER BY min(start_ms), uuid LIMIT " + strconv.Itoa(q.Limit)
	}
	return s
}

// Flows implements store.Backend.
func (d *DB) Flows(ctx context.Context, q store.BackendQuery) ([]*flow.Flow, error) {
	if err := d.init(ctx); err != nil {
		return nil, err
	}
	rows, err := d.conn.Query(ctx, d.FlowsSQL(q))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: flows: %w", err)
	}
	defer rows.Close()
	var out []*flow.Flow
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return nil, fmt.Errorf("clickhouse: flows: %w", err)
		}
		f := &flow.Flow{}
		if err := json.Unmarshal([]byte(js), f); err != nil {
			return nil, fmt.Errorf("clickhouse: flow: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func inList(ids []string) string {
	qs := make([]string, len(ids))
	for i, id := range ids {
		qs[i] = quote(id)
	}
	return "(" + strings.Join(qs, ", ") + ")"
}

// Metrics implements store.Backend.
func (d *DB) Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error) {
	if err := d.init(ctx); err != nil {
		return nil, err
	}
	out := map[string][]flow.Metric{}
	if len(uuids) == 0 {
		return out, nil
	}
	q := "SELECT uuid, lu_start, lu_last, any(lu_ab_packets), any(lu_ab_bytes), any(lu_ba_packets), any(lu_ba_bytes), any(lu_rtt) FROM " +
		d.db + ".flows WHERE has_lu = 1 AND uuid IN " + inList(uuids)
	if w != nil {
		q += fmt.Sprintf(" AND lu_start <= %d AND lu_last >= %d AND last_ms >= %d", w.To.UnixMilli(), w.From.UnixMilli(), w.From.UnixMilli())
	}
	q += " GROUP BY uuid, lu_start, lu_last ORDER BY uuid, lu_start, lu_last"
	rows, err := d.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: metrics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var m flow.Metric
		if err := rows.Scan(&id, &m.Start, &m.Last, &m.ABPackets, &m.ABBytes, &m.BAPackets, &m.BABytes, &m.RTT); err != nil {
			return nil, fmt.Errorf("clickhouse: metrics: %w", err)
		}
		out[id] = append(out[id], m)
	}
	return out, rows.Err()
}

// RawPackets implements store.Backend.
func (d *DB) RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error) {
	if err := d.init(ctx); err != nil {
		return nil, err
	}
	out := map[string][]rawpacket.Packet{}
	if len(uuids) == 0 {
		return out, nil
	}
	rows, err := d.conn.Query(ctx, "SELECT uuid, idx, any(ts), any(link_type), any(data) FROM "+d.db+
		".raw_packets WHERE uuid IN "+inList(uuids)+" GROUP BY uuid, idx ORDER BY uuid, idx")
	if err != nil {
		return nil, fmt.Errorf("clickhouse: raw packets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, data string
		var p rawpacket.Packet
		var lt uint8
		if err := rows.Scan(&id, &p.Index, &p.Timestamp, &lt, &data); err != nil {
			return nil, fmt.Errorf("clickhouse: raw packets: %w", err)
		}
		p.LinkType, p.Data = layers.LinkType(lt), []byte(data)
		p.Length = len(p.Data)
		out[id] = append(out[id], p)
	}
	return out, rows.Err()
}

// Revisions implements store.Backend.
func (d *DB) Revisions(ctx context.Context, from, to graph.Time) ([]store.Revision, error) {
	if err := d.init(ctx); err != nil {
		return nil, err
	}
	if to < from {
		return nil, nil
	}
	q := fmt.Sprintf("SELECT time_ms, seq, kind, op, from_ms, id, json FROM %s.revisions WHERE day >= %s AND day <= %s AND time_ms >= %d AND time_ms <= %d ORDER BY time_ms, seq",
		d.db, dayLit(int64(from)), dayLit(int64(to)), from, to)
	rows, err := d.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: revisions: %w", err)
	}
	defer rows.Close()
	var out []store.Revision
	for rows.Next() {
		var tm, fr int64
		var seq uint64
		var kind, op uint8
		var id, js string
		if err := rows.Scan(&tm, &seq, &kind, &op, &fr, &id, &js); err != nil {
			return nil, fmt.Errorf("clickhouse: revisions: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].Time == graph.Time(tm) && out[n-1].Seq == seq && out[n-1].ID() == graph.Identifier(id) {
			continue // the same row written twice (a retried insert)
		}
		r := store.Revision{Time: graph.Time(tm), Seq: seq, Kind: store.ElemKind(kind), Op: store.RevOp(op), From: graph.Time(fr)}
		switch r.Kind {
		case store.KindNode:
			r.Node = &graph.Node{}
			err = graph.DecodeNode([]byte(js), r.Node)
		case store.KindEdge:
			r.Edge = &graph.Edge{}
			err = graph.DecodeEdge([]byte(js), r.Edge)
		default:
			err = fmt.Errorf("bad kind %d", kind)
		}
		if err != nil {
			d.log.Warn("clickhouse store: bad revision row", "id", id, "err", err)
			continue
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Prune implements store.Backend: it drops the day partitions entirely
// before the limits.
func (d *DB) Prune(ctx context.Context, flowsBefore, revsBefore time.Time) error {
	if err := d.init(ctx); err != nil {
		return err
	}
	limits := map[string]time.Time{"flows": flowsBefore, "raw_packets": flowsBefore, "revisions": revsBefore}
	for _, table := range []string{"flows", "raw_packets", "revisions"} {
		cut, _ := strconv.Atoi(limits[table].UTC().Format("20060102"))
		rows, err := d.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = "+quote(d.db)+" AND table = "+quote(table)+" AND active")
		if err != nil {
			return fmt.Errorf("clickhouse: partitions: %w", err)
		}
		var drop []int
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			if n, err := strconv.Atoi(strings.Trim(p, "'")); err == nil && n < cut {
				drop = append(drop, n)
			}
		}
		rows.Close()
		slices.Sort(drop)
		for _, p := range slices.Compact(drop) {
			if err := d.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", d.db, table, p)); err != nil {
				return fmt.Errorf("clickhouse: drop partition %s %d: %w", table, p, err)
			}
			d.log.Info("clickhouse store: dropped partition", "table", table, "partition", p)
		}
	}
	return nil
}

// Counts implements store.Backend.
func (d *DB) Counts(ctx context.Context) (store.Counts, error) {
	if err := d.init(ctx); err != nil {
		return store.Counts{}, err
	}
	var c store.Counts
	var flows, metrics, revs uint64
	if err := d.conn.QueryRow(ctx, "SELECT uniqExact(uuid) FROM "+d.db+".flows").Scan(&flows); err != nil {
		return c, fmt.Errorf("clickhouse: counts: %w", err)
	}
	if err := d.conn.QueryRow(ctx, "SELECT count() FROM (SELECT DISTINCT uuid, lu_start, lu_last FROM "+d.db+".flows WHERE has_lu = 1)").Scan(&metrics); err != nil {
		return c, fmt.Errorf("clickhouse: counts: %w", err)
	}
	if err := d.conn.QueryRow(ctx, "SELECT count() FROM "+d.db+".revisions").Scan(&revs); err != nil {
		return c, fmt.Errorf("clickhouse: counts: %w", err)
	}
	c.Flows, c.Metrics, c.Revisions = int(flows), int(metrics), int(revs)
	var size uint64
	if err := d.conn.QueryRow(ctx, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = "+quote(d.db)+" AND active").Scan(&size); err != nil {
		if err2 := d.conn.QueryRow(ctx, "SELECT sum(bytes) FROM system.parts WHERE database = "+quote(d.db)+" AND active").Scan(&size); err2 != nil {
			return c, errors.Join(err, err2)
		}
	}
	c.SizeOnDisk = int64(size)
	return c, nil
}

// DropDatabase removes the database (tests).
func (d *DB) DropDatabase(ctx context.Context) error {
	return d.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+d.db)
}

// Close implements store.Backend.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.conn.Close()
}

package embedded

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/skydive-ng/skydive/internal/flow"
)

// The flow record of format 2 (see the package comment). Why a binary
// record rather than JSON: the JSON of a flow repeats every field name and
// its strings (node, capture, layers path, addresses) in every record; the
// binary record keeps integers as varints (times as deltas from the flow's
// Start) and the strings that repeat across flows as dictionary ids, which
// makes it 4 to 6 times smaller and about 10 times faster to encode.
//
// Record layout (varint: zig-zag signed; uvarint: unsigned):
//
//	uvarint presence bits (hasLink ... hasIPMetric)
//	dstr LayersPath, dstr Application, varint Start, varint Last-Start
//	str TrackingID, str L3TrackingID, str ParentUUID, dstr NodeTID,
//	dstr CaptureID, varint RawPacketsCaptured, varint FinishType
//	then each present part in the order of the bits
//
// str is uvarint length + bytes; dstr is uvarint code: 0 "", 1 inline str
// follows, n+2 the dictionary's string n.

const (
	hasLink = 1 << iota
	hasNetwork
	hasTransport
	hasICMP
	hasDHCPv4
	hasDNS
	hasVRRPv2
	hasMetric
	hasLastUpdateMetric
	hasTCPMetric
	hasIPMetric
)

// maxDict bounds the dictionary: strings met once it is full are written
// inline (addresses of a very large network, mostly).
const maxDict = 1 << 20

// maxDictLen bounds the strings the dictionary takes (longer ones are
// unlikely to repeat).
const maxDictLen = 256

// dict maps the strings that repeat across flows to small ids. Ids are
// never reused nor forgotten, so a code in a record stays valid; the
// strings are persisted ("s" keys) in the batch of the first record that
// uses them.
type dict struct {
	mu   sync.RWMutex
	ids  map[string]uint32
	strs []string
}

func newDict() *dict { return &dict{ids: map[string]uint32{}} }

// lookup returns the id of s.
func (d *dict) lookup(s string) (uint32, bool) {
	d.mu.RLock()
	id, ok := d.ids[s]
	d.mu.RUnlock()
	return id, ok
}

// str returns the string of id.
func (d *dict) str(id uint64) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if id >= uint64(len(d.strs)) {
		return "", false
	}
	return d.strs[id], true
}

// add appends s (the caller, the single writer, checked it is missing).
func (d *dict) add(s string) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := uint32(len(d.strs))
	d.strs = append(d.strs, s)
	d.ids[s] = id
	return id
}

// truncate forgets the ids from n on (those of a batch not written).
func (d *dict) truncate(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.strs[n:] {
		delete(d.ids, s)
	}
	clear(d.strs[n:])
	d.strs = d.strs[:n]
}

func (d *dict) len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.strs)
}

// encoder encodes flow records; it belongs to the writer. New strings go
// to d and are listed in added (to be persisted with the batch).
type encoder struct {
	d     *dict
	added []uint32
	// codes of the last record's indexed fields, in the order of
	// indexed (see appendDigest).
	codes [trackingIx]uint64
	memo  [nSlots]memo
}

// code returns the dstr code of s, adding s to the dictionary if it fits.
func (e *encoder) code(s string) uint64 {
	if s == "" {
		return 0
	}
	// The writer is the dictionary's only mutator: it reads it without
	// the lock (the lock orders its writes with the readers' reads).
	if id, ok := e.d.ids[s]; ok {
		return uint64(id) + 2
	}
	if len(s) > maxDictLen || len(e.d.strs) >= maxDict {
		return 1
	}
	id := e.d.add(s)
	e.added = append(e.added, id)
	return uint64(id) + 2
}

// Slots of the encoder's memo: each string field remembers its last
// string and code, since consecutive flows mostly share them (node,
// capture, layers, application, often addresses).
const (
	slotLayers = iota
	slotApp
	slotNode
	slotCapture
	slotLinkA
	slotLinkB
	slotNetA
	slotNetB
	nSlots
)

type memo struct {
	s string
	c uint64
}

// resetMemo forgets the memo (at each write: a failed one takes its new
// dictionary ids back).
func (e *encoder) resetMemo() { e.memo = [nSlots]memo{} }

func (e *encoder) dstr(b []byte, slot int, s string) []byte {
	b, _ = e.dstrCode(b, slot, s)
	return b
}

// dstrCode appends s as a dstr and returns its code.
func (e *encoder) dstrCode(b []byte, slot int, s string) ([]byte, uint64) {
	m := &e.memo[slot]
	var c uint64
	if m.c != 0 && m.s == s {
		c = m.c
	} else {
		c = e.code(s)
		*m = memo{s, c}
	}
	b = binary.AppendUvarint(b, c)
	if c == 1 {
		b = appendStr(b, s)
	}
	return b, c
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func vi(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendMetric(b []byte, m *flow.Metric, base int64) []byte {
	b = vi(vi(vi(vi(b, m.ABPackets), m.ABBytes), m.BAPackets), m.BABytes)
	return vi(vi(vi(b, m.Start-base), m.Last-m.Start), m.RTT)
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// appendFlow appends the record of f (its UUID is the key's).
func (e *encoder) appendFlow(b []byte, f *flow.Flow) ([]byte, error) {
	var bits uint64
	for i, p := range [...]bool{f.Link != nil, f.Network != nil, f.Transport != nil, f.ICMP != nil, f.DHCPv4 != nil,
		f.DNS != nil, f.VRRPv2 != nil, f.Metric != nil, f.LastUpdateMetric != nil, f.TCPMetric != nil, f.IPMetric != nil} {
		if p {
			bits |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, bits)
	e.codes = [trackingIx]uint64{}
	b = e.dstr(b, slotLayers, f.LayersPath)
	b, e.codes[4] = e.dstrCode(b, slotApp, f.Application)
	b = vi(vi(b, f.Start), f.Last-f.Start)
	b = appendStr(appendStr(appendStr(b, f.TrackingID), f.L3TrackingID), f.ParentUUID)
	b, e.codes[0] = e.dstrCode(b, slotNode, f.NodeTID)
	b, e.codes[1] = e.dstrCode(b, slotCapture, f.CaptureID)
	b = vi(vi(b, f.RawPacketsCaptured), int64(f.FinishType))
	if l := f.Link; l != nil {
		b = vi(b, int64(l.Protocol))
		b = e.dstr(e.dstr(b, slotLinkA, l.A), slotLinkB, l.B)
		b = vi(b, l.ID)
	}
	if l := f.Network; l != nil {
		b = vi(b, int64(l.Protocol))
		b, e.codes[2] = e.dstrCode(b, slotNetA, l.A)
		b, e.codes[3] = e.dstrCode(b, slotNetB, l.B)
		b = vi(b, l.ID)
	}
	if t := f.Transport; t != nil {
		b = vi(vi(vi(vi(b, int64(t.Protocol)), t.A), t.B), t.ID)
	}
	if i := f.ICMP; i != nil {
		b = vi(vi(vi(b, int64(i.Type)), int64(i.Code)), int64(i.ID))
	}
	if d := f.DHCPv4; d != nil {
		b = appendStr(appendStr(b, d.File), d.ServerName)
		b = vi(vi(vi(vi(b, int64(d.Flags)), int64(d.HardwareLen)), int64(d.HardwareOpts)), int64(d.Secs))
	}
	if f.DNS != nil {
		// DNS messages are rare and deeply nested: JSON is exact and
		// simple enough for them.
		js, err := json.Marshal(f.DNS)
		if err != nil {
			return nil, err
		}
		b = appendStr(b, string(js))
	}
	if v := f.VRRPv2; v != nil {
		b = vi(vi(vi(vi(b, int64(v.AdverInt)), int64(v.Priority)), int64(v.Version)), int64(v.VirtualRtrID))
	}
	if m := f.Metric; m != nil {
		b = appendMetric(b, m, f.Start)
	}
	if m := f.LastUpdateMetric; m != nil {
		b = appendMetric(b, m, f.Start)
	}
	if t := f.TCPMetric; t != nil {
		for _, v := range [...]int64{t.ABSynStart - f.Start, t.BASynStart - f.Start, int64(t.ABSynTTL), int64(t.BASynTTL),
			t.ABFinStart - f.Start, t.BAFinStart - f.Start, t.ABRstStart - f.Start, t.BARstStart - f.Start,
			t.ABSegmentOutOfOrder, t.ABSegmentSkipped, t.ABSegmentSkippedBytes, t.ABPackets, t.ABBytes,
			boolInt(t.ABSawStart), boolInt(t.ABSawEnd),
			t.BASegmentOutOfOrder, t.BASegmentSkipped, t.BASegmentSkippedBytes, t.BAPackets, t.BABytes,
			boolInt(t.BASawStart), boolInt(t.BASawEnd)} {
			b = vi(b, v)
		}
	}
	if m := f.IPMetric; m != nil {
		b = vi(vi(b, m.Fragments), m.FragmentErrors)
	}
	return b, nil
}

// errCorrupt marks a record that does not decode.
var errCorrupt = errors.New("corrupt flow record")

// decoder reads a record; the first error sticks and zero values follow.
type decoder struct {
	b   []byte
	d   *dict
	err error
}

func (r *decoder) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *decoder) dstr() string {
	switch c := r.uvarint(); c {
	case 0:
		return ""
	case 1:
		return r.str()
	default:
		s, ok := r.d.str(c - 2)
		if !ok {
			r.err = fmt.Errorf("%w: dictionary id %d unknown", errCorrupt, c-2)
			r.b = nil
		}
		return s
	}
}

func (r *decoder) metric(base int64) *flow.Metric {
	m := &flow.Metric{ABPackets: r.varint(), ABBytes: r.varint(), BAPackets: r.varint(), BABytes: r.varint()}
	m.Start = base + r.varint()
	m.Last = m.Start + r.varint()
	m.RTT = r.varint()
	return m
}

func u32(v int64) uint32 { return uint32(v) }
func u16(v int64) uint16 { return uint16(v) }
func u8(v int64) uint8   { return uint8(v) }

// decodeFlow decodes a record of the flow uuid.
func decodeFlow(uuid string, b []byte, d *dict) (*flow.Flow, error) {
	r := &decoder{b: b, d: d}
	bits := r.uvarint()
	if bits >= 1<<11 {
		return nil, fmt.Errorf("%w: unknown parts %#x", errCorrupt, bits)
	}
	f := &flow.Flow{UUID: uuid}
	f.LayersPath, f.Application = r.dstr(), r.dstr()
	f.Start = r.varint()
	f.Last = f.Start + r.varint()
	f.TrackingID, f.L3TrackingID, f.ParentUUID = r.str(), r.str(), r.str()
	f.NodeTID, f.CaptureID = r.dstr(), r.dstr()
	f.RawPacketsCaptured = r.varint()
	f.FinishType = flow.FinishType(r.varint())
	layer := func() *flow.FlowLayer {
		l := &flow.FlowLayer{Protocol: flow.Protocol(r.varint())}
		l.A, l.B = r.dstr(), r.dstr()
		l.ID = r.varint()
		return l
	}
	if bits&hasLink != 0 {
		f.Link = layer()
	}
	if bits&hasNetwork != 0 {
		f.Network = layer()
	}
	if bits&hasTransport != 0 {
		f.Transport = &flow.TransportLayer{Protocol: flow.Protocol(r.varint()), A: r.varint(), B: r.varint(), ID: r.varint()}
	}
	if bits&hasICMP != 0 {
		f.ICMP = &flow.ICMPLayer{Type: flow.ICMPType(r.varint()), Code: u32(r.varint()), ID: u32(r.varint())}
	}
	if bits&hasDHCPv4 != 0 {
		f.DHCPv4 = &flow.DHCPv4{File: r.str(), ServerName: r.str()}
		f.DHCPv4.Flags, f.DHCPv4.HardwareLen, f.DHCPv4.HardwareOpts, f.DHCPv4.Secs = u16(r.varint()), u8(r.varint()), u8(r.varint()), u16(r.varint())
	}
	if bits&hasDNS != 0 {
		js := r.str()
		if r.err == nil {
			f.DNS = &flow.DNS{}
			if err := json.Unmarshal([]byte(js), f.DNS); err != nil {
				return nil, fmt.Errorf("%w: DNS: %v", errCorrupt, err)
			}
		}
	}
	if bits&hasVRRPv2 != 0 {
		f.VRRPv2 = &flow.VRRPv2{AdverInt: u8(r.varint()), Priority: u8(r.varint()), Version: u8(r.varint()), VirtualRtrID: u8(r.varint())}
	}
	if bits&hasMetric != 0 {
		f.Metric = r.metric(f.Start)
	}
	if bits&hasLastUpdateMetric != 0 {
		f.LastUpdateMetric = r.metric(f.Start)
	}
	if bits&hasTCPMetric != 0 {
		t := &flow.TCPMetric{}
		t.ABSynStart, t.BASynStart = f.Start+r.varint(), f.Start+r.varint()
		t.ABSynTTL, t.BASynTTL = u32(r.varint()), u32(r.varint())
		t.ABFinStart, t.BAFinStart, t.ABRstStart, t.BARstStart = f.Start+r.varint(), f.Start+r.varint(), f.Start+r.varint(), f.Start+r.varint()
		t.ABSegmentOutOfOrder, t.ABSegmentSkipped, t.ABSegmentSkippedBytes, t.ABPackets, t.ABBytes = r.varint(), r.varint(), r.varint(), r.varint(), r.varint()
		t.ABSawStart, t.ABSawEnd = r.varint() != 0, r.varint() != 0
		t.BASegmentOutOfOrder, t.BASegmentSkipped, t.BASegmentSkippedBytes, t.BAPackets, t.BABytes = r.varint(), r.varint(), r.varint(), r.varint(), r.varint()
		t.BASawStart, t.BASawEnd = r.varint() != 0, r.varint() != 0
		f.TCPMetric = t
	}
	if bits&hasIPMetric != 0 {
		f.IPMetric = &flow.IPMetric{Fragments: r.varint(), FragmentErrors: r.varint()}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return f, nil
}

// UUID keys. Flow UUIDs are hexadecimal uint64s (flow.hexID): such a UUID
// is kept as its 8 bytes (tag 1, the canonical form; tag 3, zero-padded to
// 16 digits), any other as its bytes (tag 2) ended by a 0. Each form is
// prefix-free, so keys that follow the UUID decode unambiguously.
const (
	uidHex    = 1
	uidRaw    = 2
	uidHexPad = 3
)

func appendUID(b []byte, uuid string) []byte {
	if tag := hexForm(uuid); tag != 0 {
		v, _ := strconv.ParseUint(uuid, 16, 64)
		return binary.BigEndian.AppendUint64(append(b, tag), v)
	}
	return append(append(append(b, uidRaw), uuid...), 0)
}

// hexForm returns the tag of a UUID kept as 8 bytes, 0 for the others.
func hexForm(uuid string) byte {
	n := len(uuid)
	if n == 0 || n > 16 {
		return 0
	}
	for i := 0; i < n; i++ {
		if c := uuid[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0
		}
	}
	switch {
	case n == 16:
		return uidHexPad
	case uuid[0] != '0' || n == 1:
		return uidHex
	}
	return 0
}

// readUID decodes the UUID at the start of b and returns the rest.
func readUID(b []byte) (string, []byte, bool) {
	if len(b) == 0 {
		return "", nil, false
	}
	switch b[0] {
	case uidHex, uidHexPad:
		if len(b) < 9 {
			return "", nil, false
		}
		v := binary.BigEndian.Uint64(b[1:])
		if b[0] == uidHex {
			return strconv.FormatUint(v, 16), b[9:], true
		}
		return hex.EncodeToString(b[1:9]), b[9:], true
	case uidRaw:
		for i := 1; i < len(b); i++ {
			if b[i] == 0 {
				return string(b[1:i]), b[i+1:], true
			}
		}
	}
	return "", nil, false
}

// hash32 is the digest of a TrackingID in the index entries (FNV-1a: stable
// across processes, unlike maphash).
func hash32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"

	"github.com/skydive-ng/skydive/internal/flow"
)

// Bounds of what a collector keeps of its exporters' templates.
const (
	maxNFExporters = 256   // transport sessions with templates
	maxNFTemplates = 256   // templates of one session
	maxNFFields    = 16384 // fields of the templates of one session
	v5HeaderLen    = 24
	v5RecordLen    = 48
	v5MaxRecords   = 30 // Cisco's limit: a larger count is not NetFlow v5
)

// reversePEN is the enterprise number of RFC 5103's reverse information
// elements (biflows): the same element numbers, for the reverse direction.
const reversePEN = 29305

var (
	errNFShort   = errors.New("datagram too short")
	errNFVersion = errors.New("not NetFlow v5, v9 nor IPFIX")
)

// nfDecoder decodes NetFlow v5, v9 and IPFIX datagrams with goflow2's
// decoders into flow.Records. It keeps the v9 and IPFIX templates of each
// transport session (the exporter's address and port, RFC 7011 §8), each
// observation domain (v9: source ID) apart. Safe for concurrent use.
type nfDecoder struct {
	mu        sync.Mutex
	exporters map[netip.AddrPort]*nfTemplates
}

func newNFDecoder() *nfDecoder {
	return &nfDecoder{exporters: map[netip.AddrPort]*nfTemplates{}}
}

func (d *nfDecoder) templatesOf(from netip.AddrPort) *nfTemplates {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.exporters[from]
	if ts == nil {
		if len(d.exporters) >= maxNFExporters {
			for k := range d.exporters { // forget one session
				delete(d.exporters, k)
				break
			}
		}
		ts = &nfTemplates{m: map[uint64]any{}}
		d.exporters[from] = ts
	}
	return ts
}

// Decode decodes one datagram received from an exporter and gives emit the
// records of its flows (an IPFIX biflow record gives two). Records decoded
// before an error (e.g. a data set whose template is not known yet) are
// given too.
func (d *nfDecoder) Decode(data []byte, from netip.AddrPort, now time.Time, emit func(flow.Record)) error {
	if len(data) < 4 {
		return errNFShort
	}
	switch binary.BigEndian.Uint16(data) {
	case 5:
		return decodeV5(data, emit)
	case 9, 10:
		if err := precheckSets(data); err != nil {
			return err
		}
		var v9 netflow.NFv9Packet
		var ipfix netflow.IPFIXPacket
		err := netflow.DecodeMessageVersion(bytes.NewBuffer(data), d.templatesOf(from), &v9, &ipfix)
		h := nfHeader{version: 10, exportMs: int64(ipfix.ExportTime) * 1000, bootMs: unknownTime}
		sets := ipfix.FlowSets
		if v9.Version == 9 {
			h = nfHeader{version: 9, exportMs: int64(v9.UnixSeconds) * 1000, bootMs: int64(v9.UnixSeconds)*1000 - int64(v9.SystemUptime)}
			sets = v9.FlowSets
		}
		if h.exportMs == 0 {
			// no export time: the exporter's clock is not set
			h.exportMs, h.bootMs = now.UnixMilli(), unknownTime
		}
		for _, s := range sets {
			if ds, ok := s.(netflow.DataFlowSet); ok {
				for _, rec := range ds.Records {
					h.records(rec.Values, emit)
				}
			}
		}
		return err
	}
	return errNFVersion
}

// decodeV5 decodes a NetFlow v5 datagram (goflow2 allocates as many
// records as the header's count says: the count is checked first).
func decodeV5(data []byte, emit func(flow.Record)) error {
	count := int(binary.BigEndian.Uint16(data[2:]))
	if count > v5MaxRecords {
		return fmt.Errorf("NetFlow v5: %d records (at most %d)", count, v5MaxRecords)
	}
	if len(data) < v5HeaderLen+count*v5RecordLen {
		return fmt.Errorf("NetFlow v5: %d records in %d bytes: %w", count, len(data), errNFShort)
	}
	var p netflowlegacy.PacketNetFlowV5
	if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(data), &p); err != nil {
		return err
	}
	// First and Last are the exporter's uptime (ms) at the first and
	// last packet; the header gives the uptime at export and the time.
	bootMs := int64(p.UnixSecs)*1000 + int64(p.UnixNSecs)/1e6 - int64(p.SysUptime)
	for _, r := range p.Records {
		rec := flow.Record{
			Src:      addr4(uint32(r.SrcAddr)),
			Dst:      addr4(uint32(r.DstAddr)),
			Proto:    r.Proto,
			SrcPort:  r.SrcPort,
			DstPort:  r.DstPort,
			TCPFlags: r.TCPFlags,
			Packets:  uint64(r.DPkts),
			Bytes:    uint64(r.DOctets),
			Start:    time.UnixMilli(bootMs + int64(r.First)),
			End:      time.UnixMilli(bootMs + int64(r.Last)),
		}
		icmpFromPorts(&rec)
		if rec.Packets > 0 {
			emit(rec)
		}
	}
	return nil
}

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// icmpFromPorts reads the ICMP type and code of an ICMP record from its
// ports: NetFlow puts type*256+code in the destination port (Cisco, RFC
// 3954's practice); Open vSwitch puts the type in the source port and the
// code in the destination port.
func icmpFromPorts(r *flow.Record) {
	if r.Proto != flow.ProtoNumICMP && r.Proto != flow.ProtoNumICMPv6 || r.ICMPType != 0 || r.ICMPCode != 0 {
		return
	}
	switch {
	case r.DstPort > 0xff:
		r.ICMPType, r.ICMPCode = uint8(r.DstPort>>8), uint8(r.DstPort)
	case r.SrcPort != 0 && r.SrcPort <= 0xff:
		r.ICMPType, r.ICMPCode = uint8(r.SrcPort), uint8(r.DstPort)
	default:
		r.ICMPCode = uint8(r.DstPort)
	}
	r.SrcPort, r.DstPort = 0, 0
}

// nfHeader is what the data records of a v9 or IPFIX message need of its
// header to date their flows.
type nfHeader struct {
	version  uint16
	exportMs int64 // export time
	bootMs   int64 // v9: the exporter's boot time (uptime 0), or unknownTime
}

// IPFIX / NetFlow v9 information elements read from data records.
const (
	ieOctetDeltaCount       = 1
	iePacketDeltaCount      = 2
	ieProtocolIdentifier    = 4
	ieTCPControlBits        = 6
	ieSourceTransportPort   = 7
	ieSourceIPv4Address     = 8
	ieDestTransportPort     = 11
	ieDestIPv4Address       = 12
	ieFlowEndSysUpTime      = 21
	ieFlowStartSysUpTime    = 22
	iePostOctetDeltaCount   = 23
	iePostPacketDeltaCount  = 24
	ieSourceIPv6Address     = 27
	ieDestIPv6Address       = 28
	ieICMPTypeCodeIPv4      = 32
	ieOctetTotalCount       = 85
	iePacketTotalCount      = 86
	ieICMPTypeCodeIPv6      = 139
	ieFlowStartSeconds      = 150
	ieFlowEndSeconds        = 151
	ieFlowStartMilliseconds = 152
	ieFlowEndMilliseconds   = 153
	ieFlowStartMicroseconds = 154
	ieFlowEndMicroseconds   = 155
	ieFlowStartNanoseconds  = 156
	ieFlowEndNanoseconds    = 157
	ieFlowStartDeltaMicro   = 158
	ieFlowEndDeltaMicro     = 159
	ieSystemInitTimeMillis  = 160
	ieICMPTypeIPv4          = 176
	ieICMPCodeIPv4          = 177
	ieICMPTypeIPv6          = 178
	ieICMPCodeIPv6          = 179
	ntpEpochOffsetSeconds   = 2208988800 // 1900-01-01 to 1970-01-01
	unknownTime             = -1 << 62
)

// uintOf reads an unsigned integer of 1 to 8 bytes (IPFIX reduced-size
// encoding); ok false for another size.
func uintOf(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// ntpMs converts an NTP timestamp (RFC 7011 dateTimeMicroseconds and
// dateTimeNanoseconds) to Unix milliseconds.
func ntpMs(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	sec := int64(binary.BigEndian.Uint32(b)) - ntpEpochOffsetSeconds
	frac := int64(binary.BigEndian.Uint32(b[4:]))
	return sec*1000 + frac*1000>>32, true
}

// dirCounts are one direction's counters and times of a data record.
type dirCounts struct {
	bytes, packets       uint64
	hasBytes, hasPackets bool
	flags                uint8
	startMs, endMs       int64
}

func (c *dirCounts) counter(typ uint16, v uint64) {
	switch typ {
	case ieOctetDeltaCount:
		c.bytes, c.hasBytes = v, true
	case iePacketDeltaCount:
		c.packets, c.hasPackets = v, true
	case iePostOctetDeltaCount, ieOctetTotalCount:
		if !c.hasBytes {
			c.bytes = v
		}
	case iePostPacketDeltaCount, iePacketTotalCount:
		if !c.hasPackets {
			c.packets = v
		}
	case ieTCPControlBits:
		c.flags = uint8(v)
	}
}

// absTime reads the absolute time elements into *ms.
func absTime(typ uint16, val []byte, start, end *int64) {
	var ms int64
	var ok bool
	switch typ {
	case ieFlowStartSeconds, ieFlowEndSeconds:
		var v uint64
		v, ok = uintOf(val)
		ms = int64(v&0xffffffff) * 1000
	case ieFlowStartMilliseconds, ieFlowEndMilliseconds:
		var v uint64
		v, ok = uintOf(val)
		ms = int64(v & (1<<62 - 1))
	case ieFlowStartMicroseconds, ieFlowEndMicroseconds, ieFlowStartNanoseconds, ieFlowEndNanoseconds:
		ms, ok = ntpMs(val)
	default:
		return
	}
	if !ok {
		return
	}
	switch typ {
	case ieFlowStartSeconds, ieFlowStartMilliseconds, ieFlowStartMicroseconds, ieFlowStartNanoseconds:
		*start = ms
	default:
		*end = ms
	}
}

// records turns a data record into one flow record, two for an RFC 5103
// biflow record with reverse counters.
func (h nfHeader) records(values []netflow.DataField, emit func(flow.Record)) {
	var r flow.Record
	fwd := dirCounts{startMs: unknownTime, endMs: unknownTime}
	rev := dirCounts{startMs: unknownTime, endMs: unknownTime}
	upStart, upEnd, deltaStart, deltaEnd := int64(unknownTime), int64(unknownTime), int64(unknownTime), int64(unknownTime)
	initMs := int64(unknownTime)
	var icmpTC [2]uint8
	hasICMP := false
	for _, f := range values {
		val, ok := f.Value.([]byte)
		if !ok {
			continue
		}
		if f.PenProvided {
			if f.Pen == reversePEN {
				if v, ok := uintOf(val); ok {
					rev.counter(f.Type, v)
				}
				absTime(f.Type, val, &rev.startMs, &rev.endMs)
			}
			continue
		}
		v, isUint := uintOf(val)
		switch f.Type {
		case ieOctetDeltaCount, iePacketDeltaCount, iePostOctetDeltaCount, iePostPacketDeltaCount,
			ieOctetTotalCount, iePacketTotalCount, ieTCPControlBits:
			if isUint {
				fwd.counter(f.Type, v)
			}
		case ieProtocolIdentifier:
			r.Proto = uint8(v)
		case ieSourceTransportPort:
			r.SrcPort = uint16(v)
		case ieDestTransportPort:
			r.DstPort = uint16(v)
		case ieSourceIPv4Address, ieSourceIPv6Address:
			if a, ok := netip.AddrFromSlice(val); ok {
				r.Src = a
			}
		case ieDestIPv4Address, ieDestIPv6Address:
			if a, ok := netip.AddrFromSlice(val); ok {
				r.Dst = a
			}
		case ieICMPTypeCodeIPv4, ieICMPTypeCodeIPv6:
			if isUint {
				icmpTC, hasICMP = [2]uint8{uint8(v >> 8), uint8(v)}, true
			}
		case ieICMPTypeIPv4, ieICMPTypeIPv6:
			icmpTC[0], hasICMP = uint8(v), true
		case ieICMPCodeIPv4, ieICMPCodeIPv6:
			icmpTC[1], hasICMP = uint8(v), true
		case ieFlowStartSysUpTime:
			upStart = int64(v & 0xffffffff)
		case ieFlowEndSysUpTime:
			upEnd = int64(v & 0xffffffff)
		case ieFlowStartDeltaMicro:
			deltaStart = int64(v&0xffffffff) / 1000
		case ieFlowEndDeltaMicro:
			deltaEnd = int64(v&0xffffffff) / 1000
		case ieSystemInitTimeMillis:
			initMs = int64(v & (1<<62 - 1))
		default:
			absTime(f.Type, val, &fwd.startMs, &fwd.endMs)
		}
	}
	if !r.Src.IsValid() || !r.Dst.IsValid() {
		return
	}
	// Times: absolute elements, else uptimes (v9: from the header's boot
	// time; IPFIX: from systemInitTimeMilliseconds), else deltas from the
	// export time, else the export time.
	boot := h.bootMs
	if initMs != unknownTime {
		boot = initMs
	}
	if boot != unknownTime {
		if fwd.startMs == unknownTime && upStart != unknownTime {
			fwd.startMs = boot + upStart
		}
		if fwd.endMs == unknownTime && upEnd != unknownTime {
			fwd.endMs = boot + upEnd
		}
	}
	if fwd.startMs == unknownTime && deltaStart != unknownTime {
		fwd.startMs = h.exportMs - deltaStart
	}
	if fwd.endMs == unknownTime && deltaEnd != unknownTime {
		fwd.endMs = h.exportMs - deltaEnd
	}
	if fwd.endMs == unknownTime {
		fwd.endMs = h.exportMs
	}
	if fwd.startMs == unknownTime {
		fwd.startMs = fwd.endMs
	}
	r.Packets, r.Bytes, r.TCPFlags = fwd.packets, fwd.bytes, fwd.flags
	r.Start, r.End = time.UnixMilli(fwd.startMs), time.UnixMilli(fwd.endMs)
	icmp := r.Proto == flow.ProtoNumICMP || r.Proto == flow.ProtoNumICMPv6
	if icmp && hasICMP {
		r.ICMPType, r.ICMPCode = icmpTC[0], icmpTC[1]
		r.SrcPort, r.DstPort = 0, 0
	} else {
		icmpFromPorts(&r)
	}
	if r.Packets > 0 {
		emit(r)
	}
	if rev.packets == 0 {
		return
	}
	back := flow.Record{Src: r.Dst, Dst: r.Src, Proto: r.Proto, SrcPort: r.DstPort, DstPort: r.SrcPort,
		TCPFlags: rev.flags, Packets: rev.packets, Bytes: rev.bytes, Start: r.Start, End: r.End}
	if icmp {
		// The answer to an echo request is an echo reply.
		back.ICMPType, back.ICMPCode = r.ICMPType, r.ICMPCode
		switch r.ICMPType {
		case 8:
			back.ICMPType = 0
		case 128:
			back.ICMPType = 129
		}
	}
	if rev.startMs != unknownTime {
		back.Start = time.UnixMilli(rev.startMs)
	}
	if rev.endMs != unknownTime {
		back.End = time.UnixMilli(rev.endMs)
	}
	emit(back)
}

// precheckSets walks the (options) template sets of a v9 or IPFIX message
// as goflow2 will, and refuses a message whose template records announce
// more fields than their set holds: goflow2 allocates the announced fields
// (up to 65535, 1.5 MB) before reading them, for each record of 4 bytes.
func precheckSets(data []byte) error {
	version := binary.BigEndian.Uint16(data)
	hdr := 20
	if version == 10 {
		hdr = 16
	}
	if len(data) < hdr {
		return errNFShort
	}
	p := data[hdr:]
	for len(p) >= 4 {
		id, l := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if l < 4 {
			return nil // goflow2 stops there
		}
		l = min(l, len(p))
		body := p[4:l]
		p = p[l:]
		var err error
		switch {
		case version == 9 && id == 0, version == 10 && id == 2:
			err = precheckTemplates(body, version == 10, false)
		case version == 10 && id == 3:
			err = precheckTemplates(body, true, true)
		case version == 9 && id == 1:
			for len(body) >= 4 && err == nil {
				if len(body) < 6 {
					break
				}
				n := int(binary.BigEndian.Uint16(body[2:]))/4*4 + int(binary.BigEndian.Uint16(body[4:]))/4*4
				if n > len(body)-6 {
					err = fmt.Errorf("NetFlow v9 options template of %d bytes in %d", n, len(body)-6)
				}
				body = body[min(len(body), 6+n):]
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// precheckTemplates checks the (IPFIX options) template records of a set.
func precheckTemplates(body []byte, ipfix, options bool) error {
	for len(body) >= 4 {
		count := int(binary.BigEndian.Uint16(body[2:]))
		hl := 4
		if options {
			if len(body) < 6 {
				return nil
			}
			if scope := int(binary.BigEndian.Uint16(body[4:])); scope > count {
				return fmt.Errorf("IPFIX options template: %d scope fields of %d", scope, count)
			}
			hl = 6
		}
		body = body[hl:]
		for i := 0; i < count; i++ {
			if len(body) < 4 {
				return fmt.Errorf("template of %d fields cut at %d", count, i)
			}
			enterprise := ipfix && body[0]&0x80 != 0
			body = body[4:]
			if enterprise {
				if len(body) < 4 {
					return fmt.Errorf("template of %d fields cut at %d", count, i)
				}
				body = body[4:]
			}
		}
	}
	return nil
}

// nfTemplates is the template system of one transport session, bounded
// (templates, fields), refusing templates a data set cannot be decoded
// with safely: goflow2 loops forever on the data of a template whose
// records take no byte, and allocates a value per field per record (a
// template of fields of length 0 but one would make 64 K records of
// thousands of fields of a datagram). So every field must take a byte
// (a length above 0, or variable). A template without fields (RFC 7011's
// withdrawal) or refused removes the template of its ID.
type nfTemplates struct {
	mu     sync.Mutex
	m      map[uint64]any
	fields int // of the templates kept
}

var _ netflow.NetFlowTemplateSystem = (*nfTemplates)(nil)

func nfTemplateKey(version uint16, obsDomainID uint32, templateID uint16) uint64 {
	return uint64(version)<<48 | uint64(obsDomainID)<<16 | uint64(templateID)
}

// fieldCount returns the number of fields of a usable template: at least
// one, each taking a byte of a record (0: not usable).
func fieldCount(t any) int {
	var lists [][]netflow.Field
	switch t := t.(type) {
	case netflow.TemplateRecord:
		lists = [][]netflow.Field{t.Fields}
	case netflow.IPFIXOptionsTemplateRecord:
		lists = [][]netflow.Field{t.Scopes, t.Options}
	case netflow.NFv9OptionsTemplateRecord:
		lists = [][]netflow.Field{t.Scopes, t.Options}
	}
	n := 0
	for _, fs := range lists {
		for _, f := range fs {
			if f.Length == 0 {
				return 0
			}
			n++
		}
	}
	return n
}

func (ts *nfTemplates) AddTemplate(version uint16, obsDomainID uint32, templateID uint16, template any) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := nfTemplateKey(version, obsDomainID, templateID)
	if old, ok := ts.m[k]; ok {
		ts.fields -= fieldCount(old)
		delete(ts.m, k)
	}
	n := fieldCount(template)
	if n == 0 {
		return nil
	}
	if len(ts.m) >= maxNFTemplates || ts.fields+n > maxNFFields {
		return fmt.Errorf("more than %d templates or %d fields", maxNFTemplates, maxNFFields)
	}
	ts.m[k] = template
	ts.fields += n
	return nil
}

func (ts *nfTemplates) GetTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.m[nfTemplateKey(version, obsDomainID, templateID)]; ok {
		return t, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

func (ts *nfTemplates) RemoveTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	k := nfTemplateKey(version, obsDomainID, templateID)
	if t, ok := ts.m[k]; ok {
		ts.fields -= fieldCount(t)
		delete(ts.m, k)
		return t, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

func (ts *nfTemplates) GetTemplates() netflow.FlowBaseTemplateSet {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make(netflow.FlowBaseTemplateSet, len(ts.m))
	for k, v := range ts.m {
		out[k] = v
	}
	return out
}

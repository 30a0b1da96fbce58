package flow

import (
	"cmp"
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Defaults of the table options (the original agent's flow.* settings).
const (
	DefaultExpire     = 600 * time.Second
	DefaultUpdate     = 60 * time.Second
	DefaultHold       = 15 * time.Second
	DefaultMaxEntries = 500000
	DefaultTick       = time.Second
)

// DefaultAppTimeouts are the per-application idle timeouts of the original
// (flow.application_timeout): ARP and DNS flows end after 10 s.
func DefaultAppTimeouts() map[string]time.Duration {
	return map[string]time.Duration{"ARP": 10 * time.Second, "DNS": 10 * time.Second}
}

// AppPorts maps TCP and UDP ports to application names (the original's
// flow.application_ports). The source port is looked up first.
type AppPorts struct {
	TCP map[uint16]string
	UDP map[uint16]string
}

// Options configure a Table. The zero value is usable: zero durations and
// sizes take the defaults above.
type Options struct {
	NodeTID   string // TID of the capturing node, copied into flows
	CaptureID string // ID of the capture, copied into flows

	LayerKeyMode   LayerKeyMode
	ExtraTCPMetric bool // SYN/FIN/RST times and TTLs
	ReassembleTCP  bool // out of order / skipped segment counters
	IPDefrag       bool // reassemble IPv4 fragments
	ExtraLayers    ExtraLayers
	AppPorts       *AppPorts
	// MPLSUDPPort is the UDP port of MPLS over UDP decoded besides RFC
	// 7510's 6635 (the original's opencontrail.mpls_udp_port): 0 means
	// DefaultMPLSUDPPort (51234, the Contrail vRouter's), a negative value
	// or one above 65535 none.
	MPLSUDPPort int

	Expire     time.Duration            // idle time after which a flow ends (600 s)
	Update     time.Duration            // period of updates (60 s)
	Hold       time.Duration            // time a FIN/RST flow is kept (15 s)
	AppTimeout map[string]time.Duration // idle timeout per Application; nil: DefaultAppTimeouts
	MaxEntries int                      // maximum number of flows (500000)
	Tick       time.Duration            // period of Run's timer (1 s)

	// Now is the clock used by Run (time.Now if nil).
	Now func() time.Time
	// OnUpdate receives updated and ended flows, from Tick/Run/Flush. The
	// flows are copies the receiver may keep.
	OnUpdate func(Batch)
	// Logger, slog.Default() if nil.
	Logger *slog.Logger
}

// Batch is what a table reports on each update: flows updated since the
// previous update (with LastUpdateMetric set) and flows that ended.
type Batch struct {
	Flows []*Flow
	Stats Stats
}

// Stats are the capture statistics sent with flow updates.
type Stats struct {
	CaptureID         string `json:"CaptureID,omitempty"`
	FlowCount         int64  `json:"FlowCount"`
	FlowDropped       int64  `json:"FlowDropped"`
	KernelFlowDropped int64  `json:"KernelFlowDropped"`
	PacketsDropped    int64  `json:"PacketsDropped"`
	PacketsReceived   int64  `json:"PacketsReceived"`
}

type rttMode uint8

const (
	rttNone  rttMode = iota
	rttTCP           // SYN -> SYN/ACK or RST
	rttEcho          // ICMP echo request -> reply
	rttFirst         // first packet -> first packet back (other protocols)
)

// entry is a flow of the table and its private state, packed: values, no
// strings, no pointer (what points elsewhere is in the index's sides), so
// that a new flow writes few bytes and the collector does not scan the
// entries. The Flow is made from it when the flow is read (flowTo), its
// strings formatted then. The fields used by every packet come first (the
// key, its hash, the A side, the Metric: TestEntryLayout) and the entry is
// a whole number of cache lines, so a packet of a known flow touches three
// cache lines of its entry.
type entry struct {
	k       key    // the flow's key (index)
	h       uint64 // its hash
	hasLink bool
	hasNet  bool
	tcpFlow bool
	rtt     rttMode
	updated bool
	aICMP   uint8
	aPort   uint16
	aMAC    [6]byte
	aIP     [16]byte // As16 of the A side's address (netVer tells the version)
	firstNs int64
	m       Metric
	id      uint32 // 1 + its number in the index
	hasTCPM bool   // side: tcpm
	hasTCP  bool   // side: tcp
	hasX    bool   // side: x

	serial  uint64
	prev    Metric // totals at the previous update
	appTO   int64  // application timeout in ms, 0 if none
	start   int64  // Flow.Start
	lastUpd Metric // Flow.LastUpdateMetric when hasLastUpd
	ipm     IPMetric

	l3, l2, uuid, parentUUID uint64 // L3TrackingID, TrackingID, UUID, ParentUUID (when hasParent)

	vlan, networkID  int64
	icmpCode, icmpID uint32
	icmpType         ICMPType
	finish           FinishType
	path             uint16 // LayersPath: 1 + its index in Table.pathList, 0: x.path or none
	bPort            uint16
	bMAC             [6]byte
	bIP              [16]byte
	netVer           uint8
	l4               l4Kind
	hasICMP          bool
	hasIPM           bool
	hasParent        bool
	hasLastUpd       bool

	// to 448 bytes, a multiple of 64 (TestEntryLayout): entries come in
	// slabs, page aligned, so each starts on a cache line
	_ [16]byte
}

// entryExtra holds the rare parts of a flow (side.x).
type entryExtra struct {
	path   string // LayersPath when not interned (Table.paths is full)
	app    string // Application from Options.AppPorts
	hasApp bool
	dns    *DNS // replaced, never changed: snapshots share it
	dhcp   *DHCPv4
	vrrp   *VRRPv2
}

// extra returns the rare parts of e, made if need be.
func (t *Table) extra(e *entry) *entryExtra {
	sd := t.flows.side(e)
	if sd.x == nil {
		sd.x, e.hasX = new(entryExtra), true
	}
	return sd.x
}

// Table is a flow table for one capture. Packets are fed with FeedPacket
// (from one goroutine or several: a mutex serialises them); flows are read
// with Flows and reported through Options.OnUpdate.
type Table struct {
	mu      sync.Mutex
	opts    Options
	log     *slog.Logger
	dec     decoder
	batch   *batch // FeedBatch's, made on its first call
	key     key    // the key of the sub-packet being fed
	flows   index
	serial  uint64
	stats   Stats
	lastUpd time.Time

	expireMs, holdMs int64

	dns  layers.DNS
	dhcp layers.DHCPv4
	vrrp layers.VRRPv2

	rec [recordHeaderMax]byte // FeedRecord's packet header (record.go)

	// paths interns LayersPath: flows of one kind share their string.
	paths     map[pathKey]uint16 // 1 + index in pathList
	pathList  []string
	lastPath  pathKey // the last path looked up, its number in lastPathN
	lastPathN uint16
}

// pathKey is the layer types of a LayersPath (their count is the index of
// the first zero).
type pathKey [maxLayers + 4]gopacket.LayerType

// maxPaths bounds the interned LayersPaths: past it a path is a string of
// its own (a crafted trace cannot grow the table's memory without bound).
const maxPaths = 1024

// layersPath returns the LayersPath of a sub-packet and its number in
// t.pathList (1 + its index; 0 when the path is empty or t.paths is
// full, the path then kept by the entry): flows of one kind share it.
func (t *Table) layersPath(sp *subPacket) (path string, n uint16) {
	var k pathKey
	l := copy(k[:], sp.layers[:sp.nLayers])
	l = t.restLayerTypes(sp, k[:l], len(k))
	if l == 0 {
		return "", 0
	}
	if t.lastPathN != 0 && k == t.lastPath {
		// new flows often come in runs of one kind: an equality test of
		// the key, not a hash of its 160 bytes
		return t.pathList[t.lastPathN-1], t.lastPathN
	}
	if n, ok := t.paths[k]; ok {
		t.lastPath, t.lastPathN = k, n
		return t.pathList[n-1], n
	}
	var b []byte
	for i, lt := range k[:l] {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, lt.String()...)
	}
	path = string(b)
	if len(t.pathList) >= maxPaths {
		return path, 0
	}
	if t.paths == nil {
		t.paths = make(map[pathKey]uint16)
	}
	t.pathList = append(t.pathList, path)
	n = uint16(len(t.pathList))
	t.paths[k] = n
	t.lastPath, t.lastPathN = k, n
	return path, n
}

// application is the last layer of a LayersPath.
func application(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// NewTable returns an empty table.
func NewTable(opts Options) *Table {
	if opts.Expire <= 0 {
		opts.Expire = DefaultExpire
	}
	if opts.Update <= 0 {
		opts.Update = DefaultUpdate
	}
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	if opts.AppTimeout == nil {
		opts.AppTimeout = DefaultAppTimeouts()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Table{
		opts:     opts,
		log:      opts.Logger,
		flows:    newIndex(),
		expireMs: opts.Expire.Milliseconds(),
		holdMs:   opts.Hold.Milliseconds(),
	}
	runtime.AddCleanup(t, (*mappedSlabs).release, t.flows.mapped)
	if t.log == nil {
		t.log = slog.Default()
	}
	if opts.IPDefrag {
		t.dec.defrag = newDefragger()
	}
	switch p := opts.MPLSUDPPort; {
	case p == 0:
		t.dec.mplsPort = DefaultMPLSUDPPort
	case p > 0 && p <= 65535:
		t.dec.mplsPort = uint16(p)
	}
	t.stats.CaptureID = opts.CaptureID
	return t
}

// FeedPacket decodes one frame of the given link type and updates the
// flows it belongs to: one flow per level of encapsulation, each inner
// flow pointing at its outer flow through ParentUUID. ci.Length is the
// frame length on the wire (bytes are counted from it when known).
func (t *Table) FeedPacket(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
	t.feed(data, firstLayerType(lt), ci)
}

// FeedPacketFrom is FeedPacket for a frame starting with the given layer
// type (e.g. layers.LayerTypeIPv4 for a GRE tunnel interface).
func (t *Table) FeedPacketFrom(data []byte, ci gopacket.CaptureInfo, first gopacket.LayerType) {
	t.feed(data, first, ci)
}

func (t *Table) feed(data []byte, first gopacket.LayerType, ci gopacket.CaptureInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.PacketsReceived++
	n := t.dec.decode(data, first, ci.Length, ci.Timestamp)
	t.feedDecoded(&t.dec, n, ci, nil, 0)
}

// feedDecoded updates the flows of the n sub-packets decoded in d; k0 and
// h0, when k0 is not nil, are the first sub-packet's key and hash, already
// computed (FeedBatch).
func (t *Table) feedDecoded(d *decoder, n int, ci gopacket.CaptureInfo, k0 *key, h0 uint64) {
	tsNs := ci.Timestamp.UnixNano()
	tsMs := ci.Timestamp.UnixMilli()
	var parent *entry
	for i := range n {
		sp := &d.subs[i]
		if !sp.hasLink && sp.netVer == 0 {
			break // nothing to key a flow on
		}
		k, h := k0, h0
		if i > 0 || k0 == nil {
			var ps uint64
			if parent != nil {
				ps = parent.serial
			}
			k = &t.key
			sp.setKey(k, t.opts.LayerKeyMode, ps)
			h = t.flows.hash(k)
		}
		e := t.flows.get(k, h)
		if e == nil {
			if e = t.create(k, h, sp, parent, tsNs, tsMs); e == nil {
				break
			}
		}
		t.update(e, sp, tsNs, tsMs)
		parent = e
	}
}

func (t *Table) create(k *key, h uint64, sp *subPacket, parent *entry, tsNs, tsMs int64) *entry {
	if t.flows.n >= t.opts.MaxEntries {
		t.stats.FlowDropped++
		return nil
	}
	o := &t.opts
	e := t.flows.add(h)
	e.k = *k
	e.firstNs, e.m, e.start = tsNs, Metric{Start: tsMs, Last: tsMs}, tsMs
	path, pn := t.layersPath(sp)
	e.path = pn
	if pn == 0 && path != "" {
		t.extra(e).path = path
	}
	app := ""
	if path != "" {
		app = application(path)
	}

	if sp.hasLink {
		e.hasLink, e.aMAC, e.bMAC, e.vlan = true, sp.srcMAC, sp.dstMAC, sp.vlan
	}
	if sp.netVer != 0 {
		e.hasNet, e.netVer, e.networkID = true, sp.netVer, sp.networkID
		e.aIP, e.bIP = sp.srcIP.As16(), sp.dstIP.As16()
		e.hasIPM = o.IPDefrag && sp.netVer == 4
		if sp.hasICMP {
			e.hasICMP, e.icmpType, e.icmpCode = true, sp.icmpType, uint32(sp.icmpCode)
			if !sp.icmpV6 || sp.icmpV6Key {
				e.icmpID = uint32(sp.icmpID)
			}
			e.aICMP = sp.icmpRaw
			if sp.isEchoRequest() {
				e.rtt = rttEcho
			}
		}
		if sp.l4 != l4None {
			e.l4, e.aPort, e.bPort = sp.l4, sp.srcPort, sp.dstPort
			var ports map[uint16]string
			switch sp.l4 {
			case l4TCP:
				if o.AppPorts != nil {
					ports = o.AppPorts.TCP
				}
				e.tcpFlow = true
				if o.ExtraTCPMetric || o.ReassembleTCP {
					t.flows.side(e).tcpm, e.hasTCPM = &TCPMetric{}, true
				}
				if o.ReassembleTCP {
					t.flows.side(e).tcp, e.hasTCP = &tcpTracker{}, true
				}
				if sp.tcpFlags&(tcpSYN|tcpACK) == tcpSYN {
					e.rtt = rttTCP
				}
			case l4UDP:
				if o.AppPorts != nil {
					ports = o.AppPorts.UDP
				}
			}
			a, ok := ports[sp.srcPort]
			if !ok {
				a, ok = ports[sp.dstPort]
			}
			if ok {
				app = a
				x := t.extra(e)
				x.app, x.hasApp = a, true
			}
			if sp.l4 != l4TCP {
				e.rtt = rttFirst
			}
		}
		if o.ExtraLayers&ExtraDHCPv4 != 0 && sp.restType == layers.LayerTypeDHCPv4 {
			if t.dhcp.DecodeFromBytes(sp.rest, gopacket.NilDecodeFeedback) == nil {
				t.extra(e).dhcp = &DHCPv4{
					File:         string(t.dhcp.File),
					Flags:        t.dhcp.Flags,
					HardwareLen:  t.dhcp.HardwareLen,
					HardwareOpts: t.dhcp.RelayHops,
					ServerName:   string(t.dhcp.ServerName),
					Secs:         t.dhcp.Secs,
				}
			}
		}
		if o.ExtraLayers&ExtraVRRP != 0 && sp.restType == layers.LayerTypeVRRP {
			if t.vrrp.DecodeFromBytes(sp.rest, gopacket.NilDecodeFeedback) == nil {
				t.extra(e).vrrp = &VRRPv2{
					AdverInt:     t.vrrp.AdverInt,
					Priority:     t.vrrp.Priority,
					Version:      t.vrrp.Version,
					VirtualRtrID: t.vrrp.VirtualRtrID,
				}
			}
		}
	}
	if d, ok := o.AppTimeout[app]; ok && d > 0 {
		e.appTO = d.Milliseconds()
	}

	// the parent's UUID, in hexadecimal, is hashed into the flow's
	var pu []byte
	var puArr [16]byte
	if parent != nil {
		e.hasParent, e.parentUUID = true, parent.uuid
		pu = strconv.AppendUint(puArr[:0], parent.uuid, 16)
	}
	l3, l2, full := sp.ids(o.LayerKeyMode, pu)
	e.l3, e.l2, e.uuid = l3, l2, flowUUID(full, tsMs, o.NodeTID)

	t.serial++
	e.serial = t.serial
	e.prev = Metric{Start: tsMs}
	return e
}

// snapshot returns a copy of the flow.
func (t *Table) snapshot(e *entry) *Flow {
	cp := new(flowCopy)
	t.flowTo(e, cp)
	return &cp.flow
}

// flowTo makes the Flow of an entry in cp. Its string fields made from
// the packet (the link and network addresses, A the first packet's
// source, the TrackingIDs and the UUIDs) are substrings of one string.
func (t *Table) flowTo(e *entry, cp *flowCopy) {
	o := &t.opts
	f := &cp.flow
	*f = Flow{
		Start:      e.start,
		Last:       e.m.Last,
		NodeTID:    o.NodeTID,
		CaptureID:  o.CaptureID,
		FinishType: e.finish,
	}
	var x *entryExtra
	var sd *side
	if e.hasX || e.hasTCPM {
		sd = t.flows.side(e)
		x = sd.x
	}
	if e.path != 0 {
		f.LayersPath = t.pathList[e.path-1]
	} else if x != nil {
		f.LayersPath = x.path
	}
	if x != nil && x.hasApp {
		f.Application = x.app
	} else if f.LayersPath != "" {
		f.Application = application(f.LayersPath)
	}

	var arr [2*17 + 2*46 + 4*16]byte
	b := arr[:0]
	var ends [8]int
	if e.hasLink {
		b = appendMAC(b, &e.aMAC)
		ends[0] = len(b)
		b = appendMAC(b, &e.bMAC)
	}
	ends[1] = len(b)
	if e.hasNet {
		b = appendAddr(b, e.netVer, &e.aIP)
		ends[2] = len(b)
		b = appendAddr(b, e.netVer, &e.bIP)
	} else {
		ends[2] = len(b)
	}
	ends[3] = len(b)
	b = strconv.AppendUint(b, e.l3, 16)
	ends[4] = len(b)
	b = strconv.AppendUint(b, e.l2, 16)
	ends[5] = len(b)
	b = strconv.AppendUint(b, e.uuid, 16)
	ends[6] = len(b)
	if e.hasParent {
		b = strconv.AppendUint(b, e.parentUUID, 16)
	}
	ends[7] = len(b)
	s := string(b)
	f.L3TrackingID = s[ends[3]:ends[4]]
	f.TrackingID = s[ends[4]:ends[5]]
	f.UUID = s[ends[5]:ends[6]]
	f.ParentUUID = s[ends[6]:ends[7]]

	if e.hasLink {
		cp.link = FlowLayer{Protocol: ProtoEthernet, A: s[:ends[0]], B: s[ends[0]:ends[1]], ID: e.vlan}
		f.Link = &cp.link
	}
	if e.hasNet {
		proto := ProtoIPv4
		if e.netVer == 6 {
			proto = ProtoIPv6
		}
		cp.network = FlowLayer{Protocol: proto, A: s[ends[1]:ends[2]], B: s[ends[2]:ends[3]], ID: e.networkID}
		f.Network = &cp.network
		if e.hasIPM {
			cp.ipm = e.ipm
			f.IPMetric = &cp.ipm
		}
	}
	if e.hasICMP {
		cp.icmp = ICMPLayer{Type: e.icmpType, Code: e.icmpCode, ID: e.icmpID}
		f.ICMP = &cp.icmp
	}
	if e.l4 != l4None {
		cp.transport = TransportLayer{Protocol: l4Protocol(e.l4), A: int64(e.aPort), B: int64(e.bPort)}
		f.Transport = &cp.transport
	}
	if x != nil {
		if x.dhcp != nil {
			d := *x.dhcp
			f.DHCPv4 = &d
		}
		if x.vrrp != nil {
			v := *x.vrrp
			f.VRRPv2 = &v
		}
		f.DNS = x.dns
	}
	cp.metric = e.m
	f.Metric = &cp.metric
	if e.hasLastUpd {
		cp.lastUpd = e.lastUpd
		f.LastUpdateMetric = &cp.lastUpd
	}
	if e.hasTCPM {
		m := *sd.tcpm
		f.TCPMetric = &m
	}
}

func l4Protocol(l l4Kind) Protocol {
	switch l {
	case l4TCP:
		return ProtoTCP
	case l4UDP:
		return ProtoUDP
	}
	return ProtoSCTP
}

// appendMAC appends a MAC address as net.HardwareAddr.String does.
func appendMAC(b []byte, mac *[6]byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendAddr appends an address (As16, of IP version ver) as the
// netip.Addr the decoder made of it prints.
func appendAddr(b []byte, ver uint8, a *[16]byte) []byte {
	if ver == 4 {
		return netip.AddrFrom4([4]byte(a[12:])).AppendTo(b)
	}
	return netip.AddrFrom16(*a).AppendTo(b)
}

// isAB tells whether a packet goes from A to B (inventory §14.1).
func (e *entry) isAB(sp *subPacket, mode LayerKeyMode) bool {
	if mode == L2 && sp.hasLink && e.hasLink && sp.srcMAC != sp.dstMAC {
		return sp.srcMAC == e.aMAC
	}
	if sp.netVer != 0 && e.hasNet {
		switch {
		case sp.srcIP != sp.dstIP:
			return sp.srcIP.As16() == e.aIP
		case sp.l4 != l4None && sp.srcPort != sp.dstPort:
			return sp.srcPort == e.aPort
		case sp.hasICMP:
			return sp.icmpRaw == e.aICMP
		}
		return true
	}
	if sp.hasLink && e.hasLink {
		return sp.srcMAC == e.aMAC
	}
	return true
}

func (t *Table) update(e *entry, sp *subPacket, tsNs, tsMs int64) {
	m := &e.m
	ab := e.isAB(sp, t.opts.LayerKeyMode)
	if ab {
		m.ABPackets++
		m.ABBytes += sp.length
	} else {
		m.BAPackets++
		m.BABytes += sp.length
	}
	if tsMs > m.Last {
		m.Last = tsMs
	}
	e.updated = true

	if !ab && e.rtt != rttNone {
		ok := false
		switch e.rtt {
		case rttTCP:
			ok = sp.tcpFlags&(tcpSYN|tcpACK) == tcpSYN|tcpACK || sp.tcpFlags&tcpRST != 0
		case rttEcho:
			ok = sp.hasICMP && sp.isEchoReply()
		case rttFirst:
			ok = true
		}
		if ok {
			m.RTT = tsNs - e.firstNs
			e.rtt = rttNone
		}
	}

	if sp.reassembled && e.hasIPM {
		e.ipm.Fragments += sp.ipMetric.Fragments
		e.ipm.FragmentErrors += sp.ipMetric.FragmentErrors
	}

	if e.tcpFlow && sp.l4 == l4TCP {
		fl := sp.tcpFlags
		switch {
		case fl&tcpRST != 0:
			e.finish = TCPRst
		case fl&tcpFIN != 0:
			e.finish = TCPFin
		}
		if e.hasTCPM && (fl&(tcpSYN|tcpFIN|tcpRST) != 0 || e.hasTCP) {
			sd := t.flows.side(e)
			t.updateTCPMetric(sd.tcpm, sd.tcp, sp, ab, tsMs)
		}
	}

	if t.opts.ExtraLayers&ExtraDNS != 0 && sp.restType == layers.LayerTypeDNS {
		if t.dns.DecodeFromBytes(sp.rest, gopacket.NilDecodeFeedback) == nil {
			t.extra(e).dns = dnsFromLayer(&t.dns, tsMs)
		}
	}
}

func (t *Table) updateTCPMetric(tm *TCPMetric, tcp *tcpTracker, sp *subPacket, ab bool, tsMs int64) {
	fl := sp.tcpFlags
	if t.opts.ExtraTCPMetric {
		switch {
		case fl&tcpSYN != 0:
			if ab && tm.ABSynStart == 0 {
				tm.ABSynStart, tm.ABSynTTL = tsMs, uint32(sp.ttl)
			} else if !ab && tm.BASynStart == 0 {
				tm.BASynStart, tm.BASynTTL = tsMs, uint32(sp.ttl)
			}
		case fl&tcpFIN != 0:
			if ab {
				tm.ABFinStart = tsMs
			} else {
				tm.BAFinStart = tsMs
			}
		case fl&tcpRST != 0:
			if ab {
				tm.ABRstStart = tsMs
			} else {
				tm.BARstStart = tsMs
			}
		}
	}
	if tcp != nil {
		if ab {
			tcp.ab.segment(sp, &tcpDirMetric{&tm.ABSegmentOutOfOrder, &tm.ABSegmentSkipped,
				&tm.ABSegmentSkippedBytes, &tm.ABPackets, &tm.ABBytes, &tm.ABSawStart, &tm.ABSawEnd})
		} else {
			tcp.ba.segment(sp, &tcpDirMetric{&tm.BASegmentOutOfOrder, &tm.BASegmentSkipped,
				&tm.BASegmentSkippedBytes, &tm.BAPackets, &tm.BABytes, &tm.BASawStart, &tm.BASawEnd})
		}
	}
}

// Flows returns copies of the flows of the table, in creation order.
func (t *Table) Flows() []*Flow {
	t.mu.Lock()
	es := make([]*entry, 0, t.flows.n)
	t.flows.each(func(e *entry) { es = append(es, e) })
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.serial, b.serial) })
	// The copies share two allocations: a flow kept keeps the others'
	// memory, which a reader of the whole table (pcap flows, POST
	// /api/pcap) does not mind.
	out := make([]*Flow, len(es))
	cps := make([]flowCopy, len(es))
	for i, e := range es {
		t.flowTo(e, &cps[i])
		out[i] = &cps[i].flow
	}
	t.mu.Unlock()
	return out
}

// Len returns the number of flows in the table.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flows.n
}

// Stats returns the capture statistics.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.statsLocked()
}

func (t *Table) statsLocked() Stats {
	s := t.stats
	s.FlowCount = int64(t.flows.n)
	return s
}

// AddDropped adds packets dropped by the capture source (kernel or ring
// drops) to the statistics.
func (t *Table) AddDropped(packets, kernelFlows int64) {
	t.mu.Lock()
	t.stats.PacketsDropped += packets
	t.stats.KernelFlowDropped += kernelFlows
	t.mu.Unlock()
}

// Tick ends idle flows (Expire, per application timeouts, Hold of FIN/RST
// flows) and, when Update has elapsed since the previous update, reports
// the flows updated since then with their LastUpdateMetric. Ended and
// updated flows are passed to Options.OnUpdate.
func (t *Table) Tick(now time.Time) {
	t.tick(now, false)
}

// Flush ends every flow and reports them.
func (t *Table) Flush(now time.Time) {
	t.tick(now, true)
}

func (t *Table) tick(now time.Time, all bool) {
	t.mu.Lock()
	nowMs := now.UnixMilli()
	if t.lastUpd.IsZero() {
		t.lastUpd = now
	}
	doUpdate := now.Sub(t.lastUpd) >= t.opts.Update
	winStart := t.lastUpd.UnixMilli()
	var out []*Flow
	var ended []*entry // removed after the walk, which must not see the index change
	t.flows.each(func(e *entry) {
		idle := nowMs - e.m.Last
		end := all || idle >= t.expireMs || (e.appTO > 0 && idle >= e.appTO)
		held := (e.finish == TCPFin || e.finish == TCPRst) && idle >= t.holdMs
		if end || held {
			if e.finish == NotFinished {
				e.finish = Timeout
			}
			e.setLastUpdate(winStart, nowMs)
			out = append(out, t.snapshot(e))
			ended = append(ended, e)
			return
		}
		if doUpdate {
			if e.updated {
				e.setLastUpdate(winStart, nowMs)
				out = append(out, t.snapshot(e))
			} else {
				// idle since the previous update: an empty window
				e.lastUpd, e.hasLastUpd = Metric{Start: winStart, Last: nowMs}, true
			}
		}
	})
	for _, e := range ended {
		t.flows.remove(e)
	}
	if doUpdate {
		t.lastUpd = now
	}
	if t.dec.defrag != nil {
		t.dec.defrag.flushOlderThan(now.Add(-t.opts.Expire))
	}
	stats := t.statsLocked()
	cb := t.opts.OnUpdate
	t.mu.Unlock()
	if cb != nil && len(out) > 0 {
		slices.SortStableFunc(out, func(a, b *Flow) int { return cmp.Compare(a.Start, b.Start) })
		cb(Batch{Flows: out, Stats: stats})
	}
}

func (e *entry) setLastUpdate(start, last int64) {
	m := &e.m
	e.hasLastUpd = true
	e.lastUpd = Metric{
		ABPackets: m.ABPackets - e.prev.ABPackets,
		ABBytes:   m.ABBytes - e.prev.ABBytes,
		BAPackets: m.BAPackets - e.prev.BAPackets,
		BABytes:   m.BABytes - e.prev.BABytes,
		Start:     start,
		Last:      last,
		RTT:       m.RTT,
	}
	e.prev = *m
	e.updated = false
}

// Run calls Tick every Options.Tick until ctx is done, then flushes the
// table (every flow ends and is reported).
func (t *Table) Run(ctx context.Context) error {
	tk := time.NewTicker(t.opts.Tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Flush(t.opts.Now())
			return nil
		case <-tk.C:
			t.Tick(t.opts.Now())
		}
	}
}

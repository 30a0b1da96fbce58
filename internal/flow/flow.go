// Package flow decodes packets into flows: it keeps a table of flows keyed by
// a packed, comparable key, maintains their metrics (packets, bytes, RTT, TCP
// and IP metrics) and reports updated and expired flows. The JSON form of a
// Flow uses the field names of the original Skydive flow record.
package flow

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Protocol is the protocol of a flow layer. It marshals to JSON as a string
// ("ETHERNET", "IPV4", "TCP", ...).
type Protocol int32

// Flow layer protocols (same numbering as the original's FlowProtocol).
const (
	ProtoEthernet Protocol = 0
	ProtoIPv4     Protocol = 1
	ProtoTCP      Protocol = 2
	ProtoUDP      Protocol = 3
	ProtoSCTP     Protocol = 4
	ProtoIPv6     Protocol = 5
	ProtoICMPv4   Protocol = 6
	ProtoICMPv6   Protocol = 7
)

var protocolNames = [...]string{"ETHERNET", "IPV4", "TCP", "UDP", "SCTP", "IPV6", "ICMPV4", "ICMPV6"}

func (p Protocol) String() string {
	if p >= 0 && int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return fmt.Sprintf("Protocol(%d)", int32(p))
}

// MarshalJSON encodes the protocol as its name.
func (p Protocol) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON decodes a protocol name (or a number).
func (p *Protocol) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int32
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("flow protocol: %w", err)
		}
		*p = Protocol(n)
		return nil
	}
	for i, n := range protocolNames {
		if n == s {
			*p = Protocol(i)
			return nil
		}
	}
	return fmt.Errorf("flow protocol: unknown %q", s)
}

// ICMPType is the kind of an ICMP message, shared by ICMPv4 and ICMPv6.
// It marshals to JSON as a string ("ECHO", ...).
type ICMPType int32

// ICMP types (same numbering as the original, used in the flow key hash).
const (
	ICMPUnknown                ICMPType = 0
	ICMPDestinationUnreachable ICMPType = 1
	ICMPEcho                   ICMPType = 2
	ICMPNeighbor               ICMPType = 3
	ICMPAddressMask            ICMPType = 4
	ICMPInfo                   ICMPType = 5
	ICMPParameterProblem       ICMPType = 6
	ICMPRedirect               ICMPType = 7
	ICMPRouter                 ICMPType = 8
	ICMPSourceQuench           ICMPType = 9
	ICMPTimeExceeded           ICMPType = 10
	ICMPTimestamp              ICMPType = 11
	ICMPPacketTooBig           ICMPType = 12
)

var icmpTypeNames = [...]string{"UNKNOWN", "DESTINATION_UNREACHABLE", "ECHO", "NEIGHBOR", "ADDRESS_MASK",
	"INFO", "PARAMETER_PROBLEM", "REDIRECT", "ROUTER", "SOURCE_QUENCH", "TIME_EXCEEDED", "TIMESTAMP", "PACKET_TOO_BIG"}

func (t ICMPType) String() string {
	if t >= 0 && int(t) < len(icmpTypeNames) {
		return icmpTypeNames[t]
	}
	return "UNKNOWN"
}

// MarshalJSON encodes the ICMP type as its name.
func (t ICMPType) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON decodes an ICMP type name.
func (t *ICMPType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("icmp type: %w", err)
	}
	for i, n := range icmpTypeNames {
		if n == s {
			*t = ICMPType(i)
			return nil
		}
	}
	return fmt.Errorf("icmp type: unknown %q", s)
}

// FinishType tells why a flow ended. It marshals as an integer.
type FinishType int32

// Finish types.
const (
	NotFinished FinishType = 0
	Timeout     FinishType = 1
	TCPFin      FinishType = 2
	TCPRst      FinishType = 3
)

// LayerKeyMode selects the layers a flow key is computed from.
type LayerKeyMode int

// Layer key modes.
const (
	// L2 keys flows on link, network and transport layers (default).
	L2 LayerKeyMode = 0
	// L3 keys flows on network and transport layers (link when there is no
	// network layer).
	L3 LayerKeyMode = 1
)

func (m LayerKeyMode) String() string {
	if m == L3 {
		return "L3"
	}
	return "L2"
}

// ParseLayerKeyMode parses "L2" or "L3" (case-insensitive).
func ParseLayerKeyMode(s string) (LayerKeyMode, error) {
	switch strings.ToUpper(s) {
	case "L2", "":
		return L2, nil
	case "L3":
		return L3, nil
	}
	return L2, fmt.Errorf("unknown layer key mode %q (want L2 or L3)", s)
}

// ExtraLayers is a bit set of application layers whose content is copied
// into flows.
type ExtraLayers int

// Extra layers.
const (
	ExtraVRRP   ExtraLayers = 1
	ExtraDNS    ExtraLayers = 2
	ExtraDHCPv4 ExtraLayers = 4
	ExtraAll    ExtraLayers = 255
)

// FlowLayer is the link or network layer of a flow.
type FlowLayer struct {
	Protocol Protocol `json:"Protocol"`
	A        string   `json:"A,omitempty"`
	B        string   `json:"B,omitempty"`
	ID       int64    `json:"ID,omitempty"`
}

// TransportLayer is the transport layer of a flow.
type TransportLayer struct {
	Protocol Protocol `json:"Protocol"`
	A        int64    `json:"A,omitempty"`
	B        int64    `json:"B,omitempty"`
	ID       int64    `json:"ID,omitempty"`
}

// ICMPLayer is the ICMP part of a flow.
type ICMPLayer struct {
	Type ICMPType `json:"Type"`
	Code uint32   `json:"Code,omitempty"`
	ID   uint32   `json:"ID,omitempty"`
}

// Metric counts packets and bytes in both directions. A is the side that
// sent the first packet. Start and Last are in milliseconds since the
// epoch; RTT is in nanoseconds.
type Metric struct {
	ABPackets int64 `json:"ABPackets"`
	ABBytes   int64 `json:"ABBytes"`
	BAPackets int64 `json:"BAPackets"`
	BABytes   int64 `json:"BABytes"`
	Start     int64 `json:"Start"`
	Last      int64 `json:"Last"`
	RTT       int64 `json:"RTT,omitempty"`
}

// TCPMetric holds TCP specific metrics (Options.ExtraTCPMetric and
// Options.ReassembleTCP). Times are in milliseconds since the epoch.
type TCPMetric struct {
	ABSynStart            int64  `json:"ABSynStart,omitempty"`
	BASynStart            int64  `json:"BASynStart,omitempty"`
	ABSynTTL              uint32 `json:"ABSynTTL,omitempty"`
	BASynTTL              uint32 `json:"BASynTTL,omitempty"`
	ABFinStart            int64  `json:"ABFinStart,omitempty"`
	BAFinStart            int64  `json:"BAFinStart,omitempty"`
	ABRstStart            int64  `json:"ABRstStart,omitempty"`
	BARstStart            int64  `json:"BARstStart,omitempty"`
	ABSegmentOutOfOrder   int64  `json:"ABSegmentOutOfOrder,omitempty"`
	ABSegmentSkipped      int64  `json:"ABSegmentSkipped,omitempty"`
	ABSegmentSkippedBytes int64  `json:"ABSegmentSkippedBytes,omitempty"`
	ABPackets             int64  `json:"ABPackets,omitempty"`
	ABBytes               int64  `json:"ABBytes,omitempty"`
	ABSawStart            bool   `json:"ABSawStart,omitempty"`
	ABSawEnd              bool   `json:"ABSawEnd,omitempty"`
	BASegmentOutOfOrder   int64  `json:"BASegmentOutOfOrder,omitempty"`
	BASegmentSkipped      int64  `json:"BASegmentSkipped,omitempty"`
	BASegmentSkippedBytes int64  `json:"BASegmentSkippedBytes,omitempty"`
	BAPackets             int64  `json:"BAPackets,omitempty"`
	BABytes               int64  `json:"BABytes,omitempty"`
	BASawStart            bool   `json:"BASawStart,omitempty"`
	BASawEnd              bool   `json:"BASawEnd,omitempty"`
}

// IPMetric counts IPv4 fragments (Options.IPDefrag).
type IPMetric struct {
	Fragments      int64 `json:"Fragments"`
	FragmentErrors int64 `json:"FragmentErrors"`
}

// DNS is the last DNS message seen on a flow (ExtraDNS).
type DNS struct {
	ID           uint16              `json:"ID"`
	QR           bool                `json:"QR"`
	OpCode       string              `json:"OpCode,omitempty"`
	AA           bool                `json:"AA"`
	TC           bool                `json:"TC"`
	RD           bool                `json:"RD"`
	RA           bool                `json:"RA"`
	Z            uint8               `json:"Z"`
	ResponseCode string              `json:"ResponseCode,omitempty"`
	QDCount      uint16              `json:"QDCount"`
	ANCount      uint16              `json:"ANCount"`
	NSCount      uint16              `json:"NSCount"`
	ARCount      uint16              `json:"ARCount"`
	Questions    []DNSQuestion       `json:"Questions,omitempty"`
	Answers      []DNSResourceRecord `json:"Answers,omitempty"`
	Authorities  []DNSResourceRecord `json:"Authorities,omitempty"`
	Additionals  []DNSResourceRecord `json:"Additionals,omitempty"`
	Timestamp    int64               `json:"Timestamp"`
}

// DNSQuestion is a question of a DNS message.
type DNSQuestion struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class"`
}

// DNSResourceRecord is an answer, authority or additional record.
type DNSResourceRecord struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Class      string    `json:"class"`
	TTL        uint32    `json:"TTL"`
	DataLength uint16    `json:"data_length"`
	IP         string    `json:"IP,omitempty"`
	NS         string    `json:"NS,omitempty"`
	CNAME      string    `json:"CNAME,omitempty"`
	PTR        string    `json:"PTR,omitempty"`
	TXTs       []string  `json:"TXTs,omitempty"`
	SOA        *DNSSOA   `json:"SOA,omitempty"`
	SRV        *DNSSRV   `json:"SRV,omitempty"`
	MX         *DNSMX    `json:"MX,omitempty"`
	OPT        []*DNSOPT `json:"OPT,omitempty"`
}

// DNSSOA is a SOA record.
type DNSSOA struct {
	MName   string `json:"MName"`
	RName   string `json:"RName"`
	Serial  uint32 `json:"Serial"`
	Refresh uint32 `json:"Refresh"`
	Retry   uint32 `json:"Retry"`
	Expire  uint32 `json:"Expire"`
	Minimum uint32 `json:"Minimum"`
}

// DNSSRV is a SRV record.
type DNSSRV struct {
	Priority uint16 `json:"Priority"`
	Weight   uint16 `json:"Weight"`
	Port     uint16 `json:"Port"`
	Name     string `json:"Name"`
}

// DNSMX is a MX record.
type DNSMX struct {
	Preference uint16 `json:"Preference"`
	Name       string `json:"Name"`
}

// DNSOPT is an EDNS option.
type DNSOPT struct {
	Code string `json:"Code"`
	Data string `json:"Data"`
}

// DHCPv4 holds fields of the first DHCPv4 message of a flow (ExtraDHCPv4).
type DHCPv4 struct {
	File         string `json:"File,omitempty"`
	Flags        uint16 `json:"Flags,omitempty"`
	HardwareLen  uint8  `json:"HardwareLen,omitempty"`
	HardwareOpts uint8  `json:"HardwareOpts,omitempty"`
	ServerName   string `json:"ServerName,omitempty"`
	Secs         uint16 `json:"Secs,omitempty"`
}

// VRRPv2 holds fields of the first VRRPv2 advertisement of a flow (ExtraVRRP).
type VRRPv2 struct {
	AdverInt     uint8 `json:"AdverInt,omitempty"`
	Priority     uint8 `json:"Priority,omitempty"`
	Version      uint8 `json:"Version,omitempty"`
	VirtualRtrID uint8 `json:"VirtualRtrID,omitempty"`
}

// Flow is one flow as reported to the analyzer and shown by the API. The
// JSON field names are those of the original Skydive.
type Flow struct {
	UUID               string          `json:"UUID,omitempty"`
	LayersPath         string          `json:"LayersPath,omitempty"`
	Application        string          `json:"Application,omitempty"`
	Link               *FlowLayer      `json:"Link,omitempty"`
	Network            *FlowLayer      `json:"Network,omitempty"`
	Transport          *TransportLayer `json:"Transport,omitempty"`
	ICMP               *ICMPLayer      `json:"ICMP,omitempty"`
	DHCPv4             *DHCPv4         `json:"DHCPv4,omitempty"`
	DNS                *DNS            `json:"DNS,omitempty"`
	VRRPv2             *VRRPv2         `json:"VRRPv2,omitempty"`
	Metric             *Metric         `json:"Metric,omitempty"`
	LastUpdateMetric   *Metric         `json:"LastUpdateMetric,omitempty"`
	TCPMetric          *TCPMetric      `json:"TCPMetric,omitempty"`
	IPMetric           *IPMetric       `json:"IPMetric,omitempty"`
	Start              int64           `json:"Start"`
	Last               int64           `json:"Last"`
	TrackingID         string          `json:"TrackingID,omitempty"`
	L3TrackingID       string          `json:"L3TrackingID,omitempty"`
	ParentUUID         string          `json:"ParentUUID"`
	NodeTID            string          `json:"NodeTID,omitempty"`
	CaptureID          string          `json:"CaptureID,omitempty"`
	RawPacketsCaptured int64           `json:"RawPacketsCaptured"`
	FinishType         FinishType      `json:"FinishType,omitempty"`
}

// flowCopy is a Flow with room for its usual parts: a copy is one
// allocation (Clone) or a share of one (Table.Flows).
type flowCopy struct {
	link            FlowLayer
	network         FlowLayer
	transport       TransportLayer
	icmp            ICMPLayer
	metric, lastUpd Metric
	ipm             IPMetric
	flow            Flow
}

// Clone returns a deep copy of f, safe to keep while the table goes on
// updating the original.
func (f *Flow) Clone() *Flow {
	c := new(flowCopy)
	f.cloneTo(c)
	return &c.flow
}

func (f *Flow) cloneTo(cp *flowCopy) {
	cp.flow = *f
	c := &cp.flow
	if f.Link != nil {
		cp.link = *f.Link
		c.Link = &cp.link
	}
	if f.Network != nil {
		cp.network = *f.Network
		c.Network = &cp.network
	}
	if f.Transport != nil {
		cp.transport = *f.Transport
		c.Transport = &cp.transport
	}
	if f.ICMP != nil {
		cp.icmp = *f.ICMP
		c.ICMP = &cp.icmp
	}
	if f.DHCPv4 != nil {
		d := *f.DHCPv4
		c.DHCPv4 = &d
	}
	if f.VRRPv2 != nil {
		v := *f.VRRPv2
		c.VRRPv2 = &v
	}
	// DNS content is replaced wholesale, never mutated, so sharing is safe.
	if f.Metric != nil {
		cp.metric = *f.Metric
		c.Metric = &cp.metric
	}
	if f.LastUpdateMetric != nil {
		cp.lastUpd = *f.LastUpdateMetric
		c.LastUpdateMetric = &cp.lastUpd
	}
	if f.TCPMetric != nil {
		m := *f.TCPMetric
		c.TCPMetric = &m
	}
	if f.IPMetric != nil {
		cp.ipm = *f.IPMetric
		c.IPMetric = &cp.ipm
	}
}

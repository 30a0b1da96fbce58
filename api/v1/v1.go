// Package v1 holds the public wire types of Skydive's REST and websocket API,
// with the original's JSON field names so that existing clients keep working.
package v1

import (
	"encoding/json"
	"time"
)

// Websocket namespaces and graph message types.
const (
	NamespaceGraph = "Graph"

	SyncRequestMsgType = "SyncRequest"
	SyncReplyMsgType   = "SyncReply"
	SyncMsgType        = "Sync"
	NodeAddedMsgType   = "NodeAdded"
	NodeUpdatedMsgType = "NodeUpdated"
	NodeDeletedMsgType = "NodeDeleted"
	EdgeAddedMsgType   = "EdgeAdded"
	EdgeUpdatedMsgType = "EdgeUpdated"
	EdgeDeletedMsgType = "EdgeDeleted"
	// ErrorMsgType answers a publisher for each element it sent that was
	// refused (Obj: ElementError); the connection stays open.
	ErrorMsgType = "Error"
)

// ElementError names a refused graph element and why it was refused.
type ElementError struct {
	ID    string `json:"ID"`
	Error string `json:"Error"`
}

// Websocket handshake headers.
const (
	HeaderHostID         = "X-Host-ID"
	HeaderClientType     = "X-Client-Type"
	HeaderClientProtocol = "X-Client-Protocol"
	HeaderServiceType    = "X-Service-Type"
)

// Message is the envelope of every websocket message (JSON protocol).
type Message struct {
	Namespace string          `json:"Namespace"`
	Type      string          `json:"Type"`
	UUID      string          `json:"UUID,omitempty"`
	Status    int             `json:"Status"`
	Obj       json.RawMessage `json:"Obj,omitempty"`
}

// TopologyQuery is the body of POST /api/topology.
type TopologyQuery struct {
	GremlinQuery string `json:"GremlinQuery"`
}

// APIInfo is the answer of GET /api.
type APIInfo struct {
	Host    string `json:"Host"`
	Version string `json:"Version"`
	Service string `json:"Service"`
}

// ConnStatus describes one websocket peer.
type ConnStatus struct {
	ServiceType       string    `json:"ServiceType"`
	ClientProtocol    string    `json:"ClientProtocol"`
	Addr              string    `json:"Addr"`
	Port              int       `json:"Port"`
	IsConnected       bool      `json:"IsConnected"`
	ConnectTime       time.Time `json:"ConnectTime"`
	RemoteHost        string    `json:"RemoteHost"`
	RemoteServiceType string    `json:"RemoteServiceType"`
	// TopologyProbes is an agent's probes and their state ("running",
	// "error: ..."), as the agent reports it (not in the original).
	TopologyProbes map[string]string `json:"TopologyProbes,omitempty"`
}

// Peers is the status of analyzer replication peers.
type Peers struct {
	Incomers map[string]ConnStatus `json:"Incomers"`
	Outgoers map[string]ConnStatus `json:"Outgoers"`
}

// ElectionStatus tells whether this analyzer leads a service.
type ElectionStatus struct {
	IsMaster bool `json:"IsMaster"`
}

// AnalyzerStatus is the answer of the analyzer's GET /api/status.
type AnalyzerStatus struct {
	Agents      map[string]ConnStatus `json:"Agents"`
	Peers       Peers                 `json:"Peers"`
	Publishers  map[string]ConnStatus `json:"Publishers"`
	Subscribers map[string]ConnStatus `json:"Subscribers"`
	Alerts      ElectionStatus        `json:"Alerts"`
	Captures    ElectionStatus        `json:"Captures"`
	Probes      []string              `json:"Probes"`
	// Storage reports the history and flow store: backend, queue, outages,
	// size on disk.
	Storage any `json:"Storage,omitempty"`
	// Security says how the API is protected.
	Security *SecurityStatus `json:"Security,omitempty"`
}

// SecurityStatus is how a service is protected: its authentication backend
// ("" for none), whether it speaks TLS, and what an operator should fix.
type SecurityStatus struct {
	AuthBackend string   `json:"AuthBackend"`
	TLS         bool     `json:"TLS"`
	Warnings    []string `json:"Warnings,omitempty"`
}

// AgentStatus is the answer of the agent's GET /api/status.
type AgentStatus struct {
	Clients        map[string]ConnStatus `json:"Clients"`
	Analyzers      map[string]ConnStatus `json:"Analyzers"`
	TopologyProbes map[string]string     `json:"TopologyProbes"`
	FlowProbes     []string              `json:"FlowProbes"`
}

// Capture is a capture resource (POST/GET/DELETE /api/capture).
type Capture struct {
	UUID            string `json:"UUID"`
	GremlinQuery    string `json:"GremlinQuery"`
	BPFFilter       string `json:"BPFFilter,omitempty"`
	Name            string `json:"Name,omitempty"`
	Description     string `json:"Description,omitempty"`
	Type            string `json:"Type,omitempty"`
	Count           int    `json:"Count"`
	Port            int    `json:"Port,omitempty"`
	SamplingRate    uint32 `json:"SamplingRate"`
	PollingInterval uint32 `json:"PollingInterval"`
	RawPacketLimit  int    `json:"RawPacketLimit,omitempty"`
	HeaderSize      int    `json:"HeaderSize,omitempty"`
	ExtraTCPMetric  bool   `json:"ExtraTCPMetric"`
	IPDefrag        bool   `json:"IPDefrag"`
	ReassembleTCP   bool   `json:"ReassembleTCP"`
	LayerKeyMode    string `json:"LayerKeyMode,omitempty"`
	ExtraLayers     int    `json:"ExtraLayers,omitempty"`
	Target          string `json:"Target,omitempty"`
	TargetType      string `json:"TargetType,omitempty"`
}

// Websocket namespaces between the analyzer and its agents.
const (
	// NamespaceOnDemandCapture carries the analyzer's capture assignments.
	NamespaceOnDemandCapture = "OnDemandCapture"
	// CaptureSetMsgType gives an agent the whole set of its captures.
	CaptureSetMsgType = "Set"
	// NamespaceStatus carries an agent's probe states (ProbeStatusMsgType,
	// Obj a map of probe name to state), after its Sync and on change.
	NamespaceStatus    = "Status"
	ProbeStatusMsgType = "TopologyProbes"
	// NamespaceFlow carries an agent's flow updates.
	NamespaceFlow = "Flow"
	// FlowUpdateMsgType is a batch of updated or ended flows (Obj: FlowUpdate).
	FlowUpdateMsgType = "Update"
)

// CaptureAssignment tells an agent to capture on one of its nodes.
type CaptureAssignment struct {
	NodeID  string  `json:"NodeID"`
	Capture Capture `json:"Capture"`
}

// CaptureStats are the counters of one capture point, sent with its flows.
type CaptureStats struct {
	CaptureID         string `json:"CaptureID"`
	NodeID            string `json:"NodeID"`
	FlowCount         int64  `json:"FlowCount"`
	FlowDropped       int64  `json:"FlowDropped"`
	KernelFlowDropped int64  `json:"KernelFlowDropped"`
	PacketsDropped    int64  `json:"PacketsDropped"`
	PacketsReceived   int64  `json:"PacketsReceived"`
}

// FlowUpdate is the Obj of a Flow Update message: flows as the flow
// record's JSON, and the capture's counters.
type FlowUpdate struct {
	Flows json.RawMessage `json:"Flows"`
	Stats CaptureStats    `json:"Stats"`
	// RawPackets are the raw packets kept of these flows, by flow UUID
	// (captures with RawPacketLimit > 0).
	RawPackets json.RawMessage `json:"RawPackets,omitempty"`
}

// PacketInjection is a packet generator resource (/api/injectpacket).
type PacketInjection struct {
	UUID             string `json:"UUID"`
	Src              string `json:"Src"`
	Dst              string `json:"Dst,omitempty"`
	SrcIP            string `json:"SrcIP,omitempty"`
	DstIP            string `json:"DstIP,omitempty"`
	SrcMAC           string `json:"SrcMAC,omitempty"`
	DstMAC           string `json:"DstMAC,omitempty"`
	SrcPort          uint16 `json:"SrcPort,omitempty"`
	DstPort          uint16 `json:"DstPort,omitempty"`
	Type             string `json:"Type"`
	Payload          string `json:"Payload,omitempty"`
	ICMPID           uint16 `json:"ICMPID,omitempty"`
	Count            uint64 `json:"Count"`
	Interval         uint64 `json:"Interval"`
	Mode             string `json:"Mode,omitempty"`
	IncrementPayload int64  `json:"IncrementPayload,omitempty"`
	StartTime        string `json:"StartTime,omitempty"`
	TTL              uint8  `json:"TTL,omitempty"`
	// Pcap, a pcap file (base64 in JSON), replaces forging: its packets are
	// sent as they are, Count of them (default: the file's), from the
	// start again at its end.
	Pcap []byte `json:"Pcap,omitempty"`
}

// Packet injection messages from the analyzer to an agent.
const (
	NamespaceOnDemandPacketInjection = "OnDemandPacketInjection"
	InjectMsgType                    = "Start"
)

// InjectionOrder asks an agent to send packets from one of its interfaces;
// the analyzer has resolved every address.
type InjectionOrder struct {
	NodeID    string          `json:"NodeID"`
	Injection PacketInjection `json:"Resource"`
}

// Package capture runs packet capture sources feeding a *flow.Table:
//
//   - afpacket: an AF_PACKET TPACKET_V3 ring opened inside the interface's
//     network namespace, with the BPF filter attached in the kernel before
//     the socket receives anything;
//   - pcap: a libpcap handle opened inside the namespace;
//   - pcapsocket: a TCP listener (127.0.0.1, a given port or the first
//     free one of 8100–8132) accepting pcap/pcapng streams;
//   - sflow, ovssflow: a UDP sFlow collector fed the sampled headers;
//   - netflow, ovsnetflow: a UDP NetFlow v5/v9 and IPFIX collector whose
//     records go to the table with flow.Table.FeedRecord;
//   - ebpf: a BPF program attached with TCX (Linux 6.6+) counting flows in
//     the kernel, whose map is read every second and fed as records
//     (package ebpf).
//
// A Capture keeps the first RawPacketLimit raw packets of each flow when
// asked (see Capture.RawPackets).
package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// Capture types.
const (
	TypeAFPacket   = "afpacket"
	TypePcap       = "pcap"
	TypePcapSocket = "pcapsocket"
	// TypeSFlow collects sFlow from any sender.
	TypeSFlow = "sflow"
	// TypeOVSSFlow collects the sFlow an OVS bridge is told to send (the
	// agent configures the bridge; the capture itself is a TypeSFlow one).
	TypeOVSSFlow = "ovssflow"
	// TypeOVSMirror captures, with afpacket, an internal port an OVS mirror
	// copies a port's traffic to (the agent sets the mirror up).
	TypeOVSMirror = "ovsmirror"
	// TypeNetFlow collects NetFlow v5, v9 and IPFIX from any exporter.
	TypeNetFlow = "netflow"
	// TypeOVSNetFlow collects the NetFlow an OVS bridge is told to send
	// (the agent configures the bridge; the capture is a TypeNetFlow one).
	TypeOVSNetFlow = "ovsnetflow"
	// TypeEBPF counts flows in the kernel (a TCX program on the interface)
	// and feeds them to the table every second: no packet is copied.
	TypeEBPF = "ebpf"
)

// Types lists the capture types this package runs.
var Types = []string{TypeAFPacket, TypePcap, TypePcapSocket, TypeSFlow, TypeOVSSFlow, TypeOVSMirror, TypeNetFlow, TypeOVSNetFlow, TypeEBPF}

// Header sizes (snap lengths) accepted by Spec.HeaderSize.
const (
	DefaultHeaderSize = 256 // the original's flow.DefaultCaptureLength
	MinHeaderSize     = 14
	MaxHeaderSize     = 4096
)

// Default pcapsocket listen address and port range (the original's
// agent.flow.pcapsocket settings).
const (
	DefaultPcapSocketAddr    = "127.0.0.1"
	DefaultPcapSocketMinPort = 8100
	DefaultPcapSocketMaxPort = 8132
)

// Spec is what a capture resource asks of one capture point.
type Spec struct {
	CaptureID string // capture UUID, copied into flows
	NodeTID   string // TID of the captured node, copied into flows
	// Type is afpacket (default when empty), pcap or pcapsocket.
	Type string
	// BPFFilter is a tcpdump filter expression ("" captures everything).
	BPFFilter string
	// HeaderSize is the snap length: 0 (DefaultHeaderSize) or 14..4096.
	HeaderSize int
	// LayerKeyMode is "L2" (default) or "L3".
	LayerKeyMode   string
	ExtraTCPMetric bool
	IPDefrag       bool
	ReassembleTCP  bool
	ExtraLayers    flow.ExtraLayers
	// RawPacketLimit keeps the first N (0..10) raw packets of each flow.
	RawPacketLimit int
	// Port is the pcapsocket TCP port; 0 picks the first free port of
	// [PcapSocketMinPort, PcapSocketMaxPort].
	Port int
	// PcapSocketAddr is the pcapsocket listen address (127.0.0.1).
	PcapSocketAddr string
	// PcapSocketMinPort and PcapSocketMaxPort bound the port choice
	// (8100 and 8132).
	PcapSocketMinPort, PcapSocketMaxPort int
	// SFlowAddr and the port range are where sFlow captures listen
	// (127.0.0.1, 6345..6355); Port, when set, is the port.
	SFlowAddr                  string
	SFlowMinPort, SFlowMaxPort int
	// NetFlowAddr and the port range are where NetFlow/IPFIX captures
	// listen (127.0.0.1, 6365..6375); Port, when set, is the port.
	NetFlowAddr                    string
	NetFlowMinPort, NetFlowMaxPort int
	// Promiscuous puts the interface in promiscuous mode while capturing.
	Promiscuous bool
	// Logger (slog.Default() if nil).
	Logger *slog.Logger `json:"-"`
}

// ValidationError is a Spec error naming the field at fault, e.g.
// "BPFFilter: syntax error".
type ValidationError struct {
	Field string
	Err   error
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ErrUnknownType is wrapped by the error of an unknown Spec.Type.
var ErrUnknownType = errors.New("unknown capture type")

// Normalize returns the spec with the defaults filled in.
func (s Spec) Normalize() Spec {
	if s.Type == "" {
		s.Type = TypeAFPacket
	}
	if s.HeaderSize == 0 {
		s.HeaderSize = DefaultHeaderSize
	}
	if s.LayerKeyMode == "" {
		s.LayerKeyMode = "L2"
	}
	if s.PcapSocketAddr == "" {
		s.PcapSocketAddr = DefaultPcapSocketAddr
	}
	if s.PcapSocketMinPort == 0 {
		s.PcapSocketMinPort = DefaultPcapSocketMinPort
	}
	if s.PcapSocketMaxPort == 0 {
		s.PcapSocketMaxPort = DefaultPcapSocketMaxPort
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s
}

// Validate checks the spec; errors are *ValidationError. The BPF filter is
// compiled (with libpcap) for Ethernet.
func (s Spec) Validate() error {
	switch s.Type {
	case "", TypeAFPacket, TypePcap, TypePcapSocket, TypeSFlow, TypeOVSSFlow, TypeOVSMirror, TypeNetFlow, TypeOVSNetFlow, TypeEBPF:
	default:
		return &ValidationError{Field: "Type", Err: fmt.Errorf("%w %q (want one of %s)", ErrUnknownType, s.Type, strings.Join(Types, ", "))}
	}
	if s.Type == TypeNetFlow || s.Type == TypeOVSNetFlow || s.Type == TypeEBPF {
		// Records, not packets: nothing to filter or keep (an ebpf
		// capture's packets stay in the kernel).
		if s.BPFFilter != "" {
			return invalid("BPFFilter", "%s captures receive flow records, not packets: no filter", s.Type)
		}
		if s.RawPacketLimit != 0 {
			return invalid("RawPacketLimit", "%s captures receive flow records, not packets: no raw packets", s.Type)
		}
	}
	if s.HeaderSize != 0 && (s.HeaderSize < MinHeaderSize || s.HeaderSize > MaxHeaderSize) {
		return invalid("HeaderSize", "%d is out of range (0 or %d..%d)", s.HeaderSize, MinHeaderSize, MaxHeaderSize)
	}
	if s.RawPacketLimit < 0 || s.RawPacketLimit > rawpacket.MaxLimit {
		return invalid("RawPacketLimit", "%d is out of range (0..%d)", s.RawPacketLimit, rawpacket.MaxLimit)
	}
	if _, err := flow.ParseLayerKeyMode(s.LayerKeyMode); err != nil {
		return &ValidationError{Field: "LayerKeyMode", Err: err}
	}
	if s.Port < 0 || s.Port > 65535 {
		return invalid("Port", "%d is out of range (0..65535)", s.Port)
	}
	if s.PcapSocketMinPort < 0 || s.PcapSocketMaxPort > 65535 || s.PcapSocketMinPort > s.PcapSocketMaxPort && s.PcapSocketMaxPort != 0 {
		return invalid("PcapSocketMinPort", "bad port range %d..%d", s.PcapSocketMinPort, s.PcapSocketMaxPort)
	}
	if s.BPFFilter != "" {
		snap := s.HeaderSize
		if snap == 0 {
			snap = DefaultHeaderSize
		}
		if _, err := CompileBPF(s.BPFFilter, snap); err != nil {
			return &ValidationError{Field: "BPFFilter", Err: err}
		}
	}
	return nil
}

// TableOptions returns the flow table options of a capture; the caller
// adds OnUpdate, timers and logger.
func TableOptions(s Spec) flow.Options {
	mode, _ := flow.ParseLayerKeyMode(s.LayerKeyMode)
	return flow.Options{
		NodeTID:        s.NodeTID,
		CaptureID:      s.CaptureID,
		LayerKeyMode:   mode,
		ExtraTCPMetric: s.ExtraTCPMetric,
		ReassembleTCP:  s.ReassembleTCP,
		IPDefrag:       s.IPDefrag,
		ExtraLayers:    s.ExtraLayers,
	}
}

package capture

import (
	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/flow"
)

// SpecOf is the spec of the capture resource c on the node nodeTID.
func SpecOf(c *v1.Capture, nodeTID string) Spec {
	return Spec{
		CaptureID: c.UUID, NodeTID: nodeTID, Type: c.Type, BPFFilter: c.BPFFilter, HeaderSize: c.HeaderSize,
		LayerKeyMode: c.LayerKeyMode, ExtraTCPMetric: c.ExtraTCPMetric, IPDefrag: c.IPDefrag, ReassembleTCP: c.ReassembleTCP,
		ExtraLayers: flow.ExtraLayers(c.ExtraLayers), RawPacketLimit: c.RawPacketLimit, Port: c.Port,
	}
}

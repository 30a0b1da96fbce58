// Package rawpacket holds the raw packets a capture keeps for each flow
// (capture RawPacketLimit) and writes them as a pcap file.
package rawpacket

import (
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// MaxLimit is the largest RawPacketLimit a capture accepts (the original's
// flow.MaxRawPacketLimit).
const MaxLimit = 10

// Packet is one raw packet of a flow. The JSON field names are those of the
// original's RawPacket (Data is base64 in JSON).
type Packet struct {
	Timestamp int64           `json:"Timestamp"` // milliseconds since the epoch
	Index     int64           `json:"Index"`     // rank of the packet in its flow, from 0
	Data      []byte          `json:"Data"`
	LinkType  layers.LinkType `json:"LinkType"`
	// Length is the length of the frame on the wire (Data may be shorter).
	Length int `json:"-"`
	// Nanos is the full-precision timestamp (Timestamp is rounded to ms).
	Nanos int64 `json:"-"`
}

// Time returns the capture time of the packet.
func (p *Packet) Time() time.Time {
	if p.Nanos != 0 {
		return time.Unix(0, p.Nanos)
	}
	return time.UnixMilli(p.Timestamp)
}

// WritePcap writes packets as a pcap file. Packets of another link type
// than the first one are skipped (a pcap file has one link type); snaplen
// is the largest packet.
func WritePcap(w io.Writer, pkts []Packet) error {
	lt := layers.LinkTypeEthernet
	snap := 0
	if len(pkts) > 0 {
		lt = pkts[0].LinkType
	}
	for i := range pkts {
		snap = max(snap, len(pkts[i].Data))
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(max(snap, 65535)), lt); err != nil {
		return fmt.Errorf("writing pcap header: %w", err)
	}
	for i := range pkts {
		p := &pkts[i]
		if p.LinkType != lt {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Time(), CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data))}
		if err := pw.WritePacket(ci, p.Data); err != nil {
			return fmt.Errorf("writing packet %d: %w", i, err)
		}
	}
	return nil
}

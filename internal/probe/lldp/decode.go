package lldp

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Neighbor is what one LLDP frame says of the switch and port at the other
// end of a link.
type Neighbor struct {
	ChassisID string
	PortID    string
	TTL       uint16
	Switch    graph.Metadata // the switch node's metadata
	Port      graph.Metadata // the switchport node's metadata
}

// Decode reads an Ethernet frame carrying LLDP; a frame that is not LLDP or
// is truncated is an error, never a panic.
func Decode(frame []byte) (*Neighbor, error) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
	if el := pkt.ErrorLayer(); el != nil {
		return nil, fmt.Errorf("decode LLDP frame: %w", el.Error())
	}
	l, ok := pkt.Layer(layers.LayerTypeLinkLayerDiscovery).(*layers.LinkLayerDiscovery)
	if !ok {
		return nil, errors.New("not an LLDP frame")
	}
	n := &Neighbor{ChassisID: idString(l.ChassisID.Subtype == layers.LLDPChassisIDSubTypeMACAddr, l.ChassisID.ID),
		PortID: idString(l.PortID.Subtype == layers.LLDPPortIDSubtypeMACAddr, l.PortID.ID), TTL: l.TTL}
	if n.ChassisID == "" || n.PortID == "" {
		return nil, errors.New("LLDP frame without chassis or port ID")
	}
	sw := graph.Metadata{"ChassisID": n.ChassisID, "ChassisIDType": l.ChassisID.Subtype.String()}
	port := graph.Metadata{"PortID": n.PortID, "PortIDType": l.PortID.Subtype.String()}
	swName, portName := n.ChassisID, n.PortID
	var mtu uint16
	if info, ok := pkt.Layer(layers.LayerTypeLinkLayerDiscoveryInfo).(*layers.LinkLayerDiscoveryInfo); ok {
		if info.SysName != "" {
			sw["SysName"], swName = info.SysName, info.SysName
		}
		if info.SysDescription != "" {
			sw["Description"] = info.SysDescription
		}
		if a := mgmtAddress(info.MgmtAddress); a != "" {
			sw["MgmtAddress"] = a
		}
		if info.PortDescription != "" {
			port["Description"] = info.PortDescription
		}
		if d1, err := info.Decode8021(); err == nil {
			put8021(port, d1)
		}
		if d3, err := info.Decode8023(); err == nil {
			mtu = d3.MTU
			if d3.LinkAggregation.Supported {
				port["LinkAggregation"] = map[string]any{"Enabled": d3.LinkAggregation.Enabled,
					"PortID": int64(d3.LinkAggregation.PortID), "Supported": true}
			}
		}
	}
	n.Switch = graph.Metadata{graph.KeyName: swName, graph.KeyType: "switch", "Probe": "lldp", "LLDP": sw}
	n.Port = graph.Metadata{graph.KeyName: portName, graph.KeyType: "switchport", "Probe": "lldp", "LLDP": port}
	if mtu > 0 {
		n.Port["MTU"] = int64(mtu)
	}
	return n, nil
}

func put8021(port graph.Metadata, d layers.LLDPInfo8021) {
	if d.PVID > 0 {
		port["PVID"] = int64(d.PVID)
	}
	if d.VIDUsageDigest > 0 {
		port["VIDUsageDigest"] = int64(d.VIDUsageDigest)
	}
	if d.ManagementVID > 0 {
		port["ManagementVID"] = int64(d.ManagementVID)
	}
	var names []any
	for _, v := range d.VLANNames {
		names = append(names, map[string]any{"ID": int64(v.ID), "Name": v.Name})
	}
	if len(names) > 0 {
		port["VLANNames"] = names
	}
	var ppvids []any
	for _, v := range d.PPVIDs {
		ppvids = append(ppvids, map[string]any{"Enabled": v.Enabled, "ID": int64(v.ID), "Supported": v.Supported})
	}
	if len(ppvids) > 0 {
		port["PPVIDs"] = ppvids
	}
}

// idString shows a MAC as a MAC and other IDs (interface names, locally
// assigned strings) as text.
func idString(isMAC bool, b []byte) string {
	if isMAC && len(b) == 6 {
		return net.HardwareAddr(b).String()
	}
	s := strings.TrimRight(string(b), "\x00")
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fmt.Sprintf("%x", b)
		}
	}
	return s
}

func mgmtAddress(a layers.LLDPMgmtAddress) string {
	switch a.Subtype {
	case layers.IANAAddressFamilyIPV4, layers.IANAAddressFamilyIPV6:
		if len(a.Address) == 4 || len(a.Address) == 16 {
			return net.IP(a.Address).String()
		}
	}
	if len(a.Address) == 0 {
		return ""
	}
	return idString(false, a.Address)
}

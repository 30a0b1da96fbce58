package neutron

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// What the probe reads of Neutron, decoded by the API client.

// Port is a Neutron port.
type Port struct {
	ID        string    `json:"id"`
	MAC       string    `json:"mac_address"`
	TenantID  string    `json:"tenant_id"`
	ProjectID string    `json:"project_id"`
	NetworkID string    `json:"network_id"`
	FixedIPs  []FixedIP `json:"fixed_ips"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// Network is a Neutron network with its provider attributes.
type Network struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"provider:network_type"`
	// SegmentationID is a number, null for flat networks, and a string in
	// some old releases.
	SegmentationID any `json:"provider:segmentation_id"`
}

// Subnet is a Neutron subnet: its CIDR gives the addresses' prefix length.
type Subnet struct {
	ID   string `json:"id"`
	CIDR string `json:"cidr"`
}

// Interface is what matching needs of an interface node.
type Interface struct {
	Owner       graph.Identifier // host or netns node owning it
	Name        string
	Type        string
	MAC         string
	IfaceID     string // ExtID.iface-id (OVS)
	AttachedMAC string // ExtID.attached-mac (OVS)
}

// interfaceOf reads an interface node.
func interfaceOf(owner graph.Identifier, m graph.Metadata) Interface {
	i := Interface{Owner: owner, Name: m.String(graph.KeyName), Type: m.String(graph.KeyType),
		MAC: strings.ToLower(m.String(topology.KeyMAC))}
	if v, ok := m.Get("ExtID.iface-id"); ok {
		i.IfaceID, _ = v.(string)
	}
	if v, ok := m.Get("ExtID.attached-mac"); ok {
		s, _ := v.(string)
		i.AttachedMAC = strings.ToLower(s)
	}
	return i
}

// namePrefixes are the prefixes of the devices Nova and the Neutron agents
// name after a port: prefix + the port ID's first 11 characters (15 bytes
// at most for a Linux name).
var namePrefixes = []string{"tap", "qvo", "qvb", "qr-", "qg-", "ha-", "sg-"}

const shortIDLen = 11

// Catalog is Neutron's ports with their networks and subnets, indexed for
// matching.
type Catalog struct {
	ports    []*Port // by ID, so that ties resolve the same way every time
	byID     map[string]*Port
	byMAC    map[string]*Port
	byShort  map[string]*Port
	networks map[string]*Network
	subnets  map[string]*Subnet
}

// NewCatalog indexes ports; networks and subnets may lack some of the
// ports' (their metadata is then partial).
func NewCatalog(ports []Port, networks map[string]*Network, subnets map[string]*Subnet) *Catalog {
	c := &Catalog{byID: map[string]*Port{}, byMAC: map[string]*Port{}, byShort: map[string]*Port{},
		networks: networks, subnets: subnets}
	for i := range ports {
		c.ports = append(c.ports, &ports[i])
	}
	sort.Slice(c.ports, func(i, j int) bool { return c.ports[i].ID < c.ports[j].ID })
	for _, p := range c.ports {
		c.byID[p.ID] = p
		if mac := strings.ToLower(p.MAC); mac != "" {
			if _, dup := c.byMAC[mac]; !dup {
				c.byMAC[mac] = p
			}
		}
		if len(p.ID) >= shortIDLen {
			if _, dup := c.byShort[p.ID[:shortIDLen]]; !dup {
				c.byShort[p.ID[:shortIDLen]] = p
			}
		}
	}
	return c
}

// Match finds the port of an interface, by the strongest evidence first:
// OVS's iface-id, OVS's attached-mac, the name the agents derive from the
// port ID, then (taps and veths only) the MAC itself.
func (c *Catalog) Match(i Interface) *Port {
	p, _ := c.MatchEvidence(i)
	return p
}

// MatchEvidence is Match, telling whether the match rests on more than the
// MAC alone: a port matched that way elsewhere is not also given to an
// interface that only shares its MAC (the guest end of a lab's veth).
func (c *Catalog) MatchEvidence(i Interface) (port *Port, strong bool) {
	if c == nil {
		return nil, false
	}
	if i.IfaceID != "" {
		if p := c.byID[i.IfaceID]; p != nil {
			return p, true
		}
	}
	if i.AttachedMAC != "" {
		if p := c.byMAC[i.AttachedMAC]; p != nil {
			return p, true
		}
	}
	for _, prefix := range namePrefixes {
		if short, ok := strings.CutPrefix(i.Name, prefix); ok && len(short) == shortIDLen {
			if p := c.byShort[short]; p != nil {
				return p, true
			}
		}
	}
	if i.MAC != "" && (i.Type == "tap" || i.Type == topology.TypeVeth) {
		if p := c.byMAC[i.MAC]; p != nil {
			return p, false
		}
	}
	return nil, false
}

// Metadata is the overlay of an interface matched to port p.
func (c *Catalog) Metadata(i Interface, p *Port) graph.Metadata {
	n := map[string]any{"PortID": p.ID, "NetworkID": p.NetworkID}
	tenant := p.TenantID
	if tenant == "" {
		tenant = p.ProjectID
	}
	if tenant != "" {
		n["TenantID"] = tenant
	}
	if nw := c.networks[p.NetworkID]; nw != nil {
		if nw.Name != "" {
			n["NetworkName"] = nw.Name
		}
		if nw.Type != "" {
			n["NetworkType"] = nw.Type
		}
		if seg, ok := segmentationID(nw.SegmentationID); ok {
			n["VNI"] = seg
			n["SegmentationID"] = seg
		}
	}
	var v4, v6 []string
	for _, ip := range p.FixedIPs {
		s, is6, ok := c.address(ip)
		if !ok {
			continue
		}
		if is6 {
			v6 = append(v6, s)
		} else {
			v4 = append(v4, s)
		}
	}
	if len(v4) > 0 {
		n["IPV4"] = v4
	}
	if len(v6) > 0 {
		n["IPV6"] = v6
	}
	m := graph.Metadata{"Manager": "neutron", "Neutron": n}
	// A tap's own MAC is not the VM's: the port's MAC is the other end's.
	if mac := strings.ToLower(p.MAC); mac != "" && i.MAC != "" && i.MAC != mac {
		m["PeerIntfMAC"] = mac
	}
	return m
}

// address renders a fixed IP as ip/prefixlen, the prefix length of its
// subnet (a host prefix when the subnet is unknown).
func (c *Catalog) address(ip FixedIP) (s string, is6, ok bool) {
	a, err := netip.ParseAddr(ip.IPAddress)
	if err != nil {
		return "", false, false
	}
	a = a.Unmap()
	bits := a.BitLen()
	if sn := c.subnets[ip.SubnetID]; sn != nil {
		if pfx, err := netip.ParsePrefix(sn.CIDR); err == nil && pfx.Addr().Is4() == a.Is4() {
			bits = pfx.Bits()
		}
	}
	return netip.PrefixFrom(a, bits).String(), a.Is6(), true
}

func segmentationID(v any) (int, bool) {
	switch t := v.(type) {
	case float64:
		return int(t), true
	case int:
		return t, true
	case int64:
		return int(t), true
	case string:
		var n int
		for _, r := range t {
			if r < '0' || r > '9' {
				return 0, false
			}
			n = n*10 + int(r-'0')
		}
		return n, t != ""
	}
	return 0, false
}

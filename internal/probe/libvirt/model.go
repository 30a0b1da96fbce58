package libvirt

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// Domain states as the original names them.
const (
	StateUp          = "UP"
	StateDown        = "DOWN"
	StatePaused      = "PAUSED"
	StateCrashed     = "CRASHED"
	StateBlocked     = "BLOCKED"
	StatePMSuspended = "PMSUSPENDED"
	StateUndefined   = "UNDEFINED"
)

// stateName maps a virDomainState to the original's names; a domain being
// shut down already counts as DOWN there.
func stateName(s golibvirt.DomainState) string {
	switch s {
	case golibvirt.DomainRunning:
		return StateUp
	case golibvirt.DomainBlocked:
		return StateBlocked
	case golibvirt.DomainPaused:
		return StatePaused
	case golibvirt.DomainShutdown, golibvirt.DomainShutoff:
		return StateDown
	case golibvirt.DomainCrashed:
		return StateCrashed
	case golibvirt.DomainPmsuspended:
		return StatePMSuspended
	}
	return StateUndefined
}

// domainXML is the part of a domain's XML the probe reads.
type domainXML struct {
	Name       string         `xml:"name"`
	UUID       string         `xml:"uuid"`
	Interfaces []interfaceXML `xml:"devices>interface"`
}

type interfaceXML struct {
	Type string `xml:"type,attr"`
	MAC  struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Target struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
	Alias struct {
		Name string `xml:"name,attr"`
	} `xml:"alias"`
	Address addressXML `xml:"address"`
}

type addressXML struct {
	Type     string `xml:"type,attr"`
	Domain   string `xml:"domain,attr"`
	Bus      string `xml:"bus,attr"`
	Slot     string `xml:"slot,attr"`
	Function string `xml:"function,attr"`
}

// iface is one guest interface plugged into a host device.
type iface struct {
	Target  string // host-side device
	MAC     string // guest-side MAC
	Type    string
	Alias   string
	BusType string
	BusInfo string
}

// parseDomainXML returns the domain's interfaces that name their host
// device (the others, such as user-mode networking, have none to link to).
func parseDomainXML(b []byte) (name, uuid string, ifaces []iface, err error) {
	var d domainXML
	if err := xml.Unmarshal(b, &d); err != nil {
		return "", "", nil, fmt.Errorf("domain XML: %w", err)
	}
	for _, i := range d.Interfaces {
		if i.Target.Dev == "" {
			continue
		}
		ifaces = append(ifaces, iface{
			Target:  i.Target.Dev,
			MAC:     i.MAC.Address,
			Type:    i.Type,
			Alias:   i.Alias.Name,
			BusType: i.Address.Type,
			BusInfo: busInfo(i.Address),
		})
	}
	return d.Name, d.UUID, ifaces, nil
}

// busInfo formats a PCI address as the original did (and as ethtool's
// bus-info reads inside the guest): 0000:00:03.0.
func busInfo(a addressXML) string {
	if a.Type != "pci" {
		return ""
	}
	t := func(s string) string { return strings.TrimPrefix(strings.ToLower(s), "0x") }
	return fmt.Sprintf("%s:%s:%s.%s", t(a.Domain), t(a.Bus), t(a.Slot), t(a.Function))
}

// DefaultURL is agent.topology.libvirt.url's default.
const DefaultURL = "qemu:///system"

var schemeRe = regexp.MustCompile(`^[a-z][a-z0-9]*(\+(unix|tcp|tls|ssh|libssh|libssh2))?$`)

// parseURL checks a libvirt connection URI (driver[+transport]://[host]/path[?socket=...])
// as go-libvirt will use it.
func parseURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultURL
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("agent.topology.libvirt.url: %w", err)
	}
	bad := func(why string) error {
		return fmt.Errorf("agent.topology.libvirt.url: %q %s (want driver[+transport]://[host]/path, e.g. %s)", s, why, DefaultURL)
	}
	switch {
	case !schemeRe.MatchString(u.Scheme):
		return nil, bad("has no known driver+transport scheme")
	case u.Opaque != "":
		return nil, bad("is not a hierarchical URI")
	case !strings.HasPrefix(u.Path, "/"):
		return nil, bad("names no path")
	case strings.HasSuffix(u.Scheme, "+unix") && u.Host != "":
		return nil, bad("names a host with the unix transport")
	}
	if sock := u.Query().Get("socket"); sock != "" && !strings.HasPrefix(sock, "/") {
		return nil, bad("has a relative socket path")
	}
	return u, nil
}

// uuidString formats libvirt's binary UUID as its XML does.
func uuidString(u golibvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// claim picks, for each host device named by several domains, the domain
// that uses it: an active one before a stopped one (a stopped domain's
// XML may keep naming a device another domain now uses), then by name.
func claim(domains map[string]*domain) map[string]*domain {
	owners := map[string]*domain{}
	uuids := make([]string, 0, len(domains))
	for u := range domains {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	better := func(a, b *domain) bool {
		if aa, ba := a.State != StateDown, b.State != StateDown; aa != ba {
			return aa
		}
		return a.Name < b.Name
	}
	for _, u := range uuids {
		d := domains[u]
		for _, i := range d.Ifaces {
			if cur, ok := owners[i.Target]; !ok || better(d, cur) {
				owners[i.Target] = d
			}
		}
	}
	return owners
}

// domain is what the probe knows of one libvirt domain.
type domain struct {
	UUID   string
	Name   string
	State  string
	ID     int32 // the hypervisor's id while active, else -1
	Ifaces []iface
}

// Package neutrontest runs a real neutron-server (Debian's, standalone:
// noauth, sqlite, no message bus) for tests, through scripts/neutron-server.sh,
// and talks to its REST API with plain net/http.
package neutrontest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// Neutron is a running neutron-server on a loopback port.
type Neutron struct {
	*testutil.Daemon
	t      testing.TB
	client *http.Client
}

// Start runs neutron-server on a free loopback port in a temporary folder;
// it is stopped when the test ends. Start-up takes 10 to 20 s (schema
// creation included).
func Start(t *testing.T) *Neutron {
	t.Helper()
	if _, err := exec.LookPath("neutron-server"); err != nil {
		t.Fatalf("neutron-server not installed (apt-get install -y --no-install-recommends neutron-server): %v", err)
	}
	return &Neutron{Daemon: testutil.StartDaemon(t, "neutron-server", "neutron-server.sh", "neutron-server.log"),
		t: t, client: &http.Client{Timeout: 30 * time.Second}}
}

// URL is the API's root, http://127.0.0.1:PORT (no trailing slash).
func (n *Neutron) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.Port) }

// CountRequests counts the API request lines of the log that contain substr
// (e.g. `"GET /v2.0/ports`); neutron.wsgi logs one per request.
func (n *Neutron) CountRequests(substr string) int {
	return n.CountLines("neutron-server.log", "neutron.wsgi", " HTTP/1.", substr)
}

// Do sends a JSON request to the API (path from the root, "/v2.0/ports")
// and decodes a JSON answer into out (if not nil); a non-2xx status is an
// error with the body.
func (n *Neutron) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.URL()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, path, b, err)
		}
	}
	return nil
}

// must is Do that ends the test on error.
func (n *Neutron) must(method, path string, in, out any) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Do(ctx, method, path, in, out); err != nil {
		n.t.Fatal(err)
	}
}

// ProjectID is the project the helpers create resources in (noauth takes it
// from the body).
const ProjectID = "5d2a6f1e0c4b4d7a9e3f8a1b2c3d4e5f"

// Network is what the helpers read back of a network.
type Network struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	NetworkType    string `json:"provider:network_type"`
	SegmentationID int    `json:"provider:segmentation_id"`
}

// Subnet is what the helpers read back of a subnet.
type Subnet struct {
	ID        string `json:"id"`
	NetworkID string `json:"network_id"`
	CIDR      string `json:"cidr"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// Port is what the helpers read back of a port.
type Port struct {
	ID          string    `json:"id"`
	NetworkID   string    `json:"network_id"`
	MACAddress  string    `json:"mac_address"`
	DeviceOwner string    `json:"device_owner"`
	FixedIPs    []FixedIP `json:"fixed_ips"`
}

// Router is what the helpers read back of a router.
type Router struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CreateNetwork makes a vxlan network.
func (n *Neutron) CreateNetwork(name string) Network {
	n.t.Helper()
	var r struct{ Network Network }
	n.must("POST", "/v2.0/networks", map[string]any{"network": map[string]any{
		"name": name, "project_id": ProjectID, "provider:network_type": "vxlan"}}, &r)
	return r.Network
}

// CreateSubnet makes an IPv4 or IPv6 subnet (by the CIDR's family).
func (n *Neutron) CreateSubnet(networkID, cidr string) Subnet {
	n.t.Helper()
	version := 4
	if strings.Contains(cidr, ":") {
		version = 6
	}
	var r struct{ Subnet Subnet }
	n.must("POST", "/v2.0/subnets", map[string]any{"subnet": map[string]any{
		"network_id": networkID, "cidr": cidr, "ip_version": version, "project_id": ProjectID}}, &r)
	return r.Subnet
}

// CreatePort makes a port on the network; fixedIPs (optional) choose its
// addresses, mac (optional) its MAC.
func (n *Neutron) CreatePort(networkID, mac string, fixedIPs ...FixedIP) Port {
	n.t.Helper()
	p := map[string]any{"network_id": networkID, "project_id": ProjectID, "device_owner": "compute:nova"}
	if mac != "" {
		p["mac_address"] = mac
	}
	if len(fixedIPs) > 0 {
		p["fixed_ips"] = fixedIPs
	}
	var r struct{ Port Port }
	n.must("POST", "/v2.0/ports", map[string]any{"port": p}, &r)
	return r.Port
}

// UpdatePortIPs replaces the fixed IPs of a port (PUT).
func (n *Neutron) UpdatePortIPs(portID string, fixedIPs ...FixedIP) Port {
	n.t.Helper()
	var r struct{ Port Port }
	n.must("PUT", "/v2.0/ports/"+portID, map[string]any{"port": map[string]any{"fixed_ips": fixedIPs}}, &r)
	return r.Port
}

// DeletePort removes a port.
func (n *Neutron) DeletePort(portID string) {
	n.t.Helper()
	n.must("DELETE", "/v2.0/ports/"+portID, nil, nil)
}

// CreateRouter makes a router.
func (n *Neutron) CreateRouter(name string) Router {
	n.t.Helper()
	var r struct{ Router Router }
	n.must("POST", "/v2.0/routers", map[string]any{"router": map[string]any{"name": name, "project_id": ProjectID}}, &r)
	return r.Router
}

// AddRouterInterface plugs the router into a subnet and returns the port
// neutron made for it (device_owner network:router_interface).
func (n *Neutron) AddRouterInterface(routerID, subnetID string) Port {
	n.t.Helper()
	var r struct {
		PortID string `json:"port_id"`
	}
	n.must("PUT", "/v2.0/routers/"+routerID+"/add_router_interface", map[string]any{"subnet_id": subnetID}, &r)
	var p struct{ Port Port }
	n.must("GET", "/v2.0/ports/"+r.PortID, nil, &p)
	return p.Port
}

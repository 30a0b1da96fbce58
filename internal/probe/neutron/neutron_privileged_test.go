//go:build privileged

package neutron

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/probe/probetest"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/neutrontest"
	"github.com/skydive-ng/skydive/internal/topology"
)

// ownedIface finds the interface called name owned by the node called owner.
func ownedIface(w *topology.Writer, ownerName, name string) (*graph.Node, error) {
	owners, _ := w.G.NodesByIndex(graph.KeyName, ownerName)
	for _, o := range owners {
		if n := w.OwnedNode(o.ID, name); n != nil {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no interface %s owned by %s", name, ownerName)
}

func neutronMeta(w *topology.Writer, ownerName, name string) (map[string]any, *graph.Node, error) {
	n, err := ownedIface(w, ownerName, name)
	if err != nil {
		return nil, nil, err
	}
	m, ok := n.Metadata["Neutron"].(map[string]any)
	if !ok {
		return nil, n, fmt.Errorf("%s not enriched: %v", name, n.Metadata)
	}
	return m, n, nil
}

// randomPrefix names a test's devices and namespaces uniquely.
func randomPrefix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "nt" + hex.EncodeToString(b)
}

// hostGraph is a graph fed by the host's real netlink and netns probes, as
// the agent runs them, with their overlays for the Neutron probe.
type hostGraph struct {
	g        *graph.Graph
	w        *topology.Writer
	overlays *topology.Overlays
}

// newHostGraph starts the netlink and netns probes on a new graph whose
// host node is named "test"; they stop when the test ends.
func newHostGraph(t *testing.T) *hostGraph {
	t.Helper()
	h := probetest.NewHost(t, "test", "/var/run/netns")
	return &hostGraph{g: h.G, w: h.W, overlays: h.Overlays}
}

// runProbe runs a Neutron probe on the host graph.
func (hg *hostGraph) runProbe(t *testing.T, cfg Config) (p *Probe, stop func()) {
	t.Helper()
	return runProbe(t, hg.w, hg.overlays, cfg)
}

// runProbe runs a Neutron probe writing to w. stop ends it (Run returning
// an error fails the test); it is called when the test ends otherwise.
func runProbe(t *testing.T, w *topology.Writer, overlays *topology.Overlays, cfg Config) (p *Probe, stop func()) {
	t.Helper()
	p, err := New(Options{Writer: w, Overlays: overlays, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(stop)
	return p, stop
}

// addVMTap plugs a VM for port vm: a tap-named veth on the host, its other
// end (the port's MAC) in a namespace pfx+"vm" standing for the guest. It
// returns the tap's name; both go when the test ends.
func addVMTap(t *testing.T, pfx string, vm neutrontest.Port) string {
	t.Helper()
	tap, vmEnd, vmNs := "tap"+vm.ID[:11], pfx+"vm", pfx+"vm"
	testutil.Sh(t, "ip", "netns", "add", vmNs)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", vmNs).Run() })
	testutil.Sh(t, "ip", "link", "add", tap, "type", "veth", "peer", "name", vmEnd)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", tap).Run() })
	testutil.Sh(t, "ip", "link", "set", vmEnd, "address", vm.MACAddress)
	testutil.Sh(t, "ip", "link", "set", vmEnd, "netns", vmNs)
	testutil.Sh(t, "ip", "link", "set", tap, "up")
	return tap
}

// tapEnriched checks the Neutron enrichment of the host's interface tap:
// port vm on network net (vxlan, of neutrontest's project) at ipv4/24.
func tapEnriched(w *topology.Writer, tap string, vm neutrontest.Port, net neutrontest.Network, ipv4 string) error {
	m, n, err := neutronMeta(w, "test", tap)
	if err != nil {
		return err
	}
	want := map[string]any{"PortID": vm.ID, "NetworkID": net.ID, "NetworkName": net.Name, "TenantID": neutrontest.ProjectID,
		"VNI": int64(net.SegmentationID), "NetworkType": "vxlan"}
	for k, v := range want {
		if m[k] != v {
			return fmt.Errorf("Neutron.%s = %#v, want %#v (%v)", k, m[k], v, m)
		}
	}
	if fmt.Sprint(m["IPV4"]) != "["+ipv4+"/24]" {
		return fmt.Errorf("Neutron.IPV4 %v, want [%s/24]", m["IPV4"], ipv4)
	}
	if n.Metadata["Manager"] != "neutron" || n.Metadata["PeerIntfMAC"] != vm.MACAddress {
		return fmt.Errorf("Manager %v, PeerIntfMAC %v (port MAC %s)", n.Metadata["Manager"], n.Metadata["PeerIntfMAC"], vm.MACAddress)
	}
	return nil
}

// TestProbeAgainstRealNeutron runs the probe against Debian's neutron-server
// and a graph fed by the real netlink and netns probes.
func TestProbeAgainstRealNeutron(t *testing.T) {
	neutron := neutrontest.Start(t)
	pfx := randomPrefix()

	// Neutron: a network, a VM port at 10.0.0.3, a router on the subnet.
	net1 := neutron.CreateNetwork("net1")
	sub := neutron.CreateSubnet(net1.ID, "10.0.0.0/24")
	vm := neutron.CreatePort(net1.ID, "", neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.3"})
	router := neutron.CreateRouter(pfx)
	qr := neutron.AddRouterInterface(router.ID, sub.ID)
	if qr.DeviceOwner != "network:router_interface" || len(qr.FixedIPs) != 1 {
		t.Fatalf("router port %+v", qr)
	}

	// The graph: host node, netlink probe of the host, netns probe.
	hg := newHostGraph(t)
	g, w := hg.g, hg.w

	const poll = time.Second
	started := time.Now()
	probe, _ := hg.runProbe(t, Config{EndpointURL: neutron.URL(), PollInterval: poll})
	testutil.EventuallyTrue(t, 5*time.Second, "probe running", func() bool { return probe.State() == "running" })

	// The VM: a tap-named veth on the host, its other end (the port's MAC)
	// in a namespace standing for the guest.
	created := time.Now()
	tap := addVMTap(t, pfx, vm)

	// The router: a qr- device in a qrouter- namespace.
	qrNs, qrDev, qrPeer := "qrouter-"+pfx, "qr-"+qr.ID[:11], pfx+"qp"
	testutil.Sh(t, "ip", "netns", "add", qrNs)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", qrNs).Run() })
	testutil.Sh(t, "ip", "link", "add", qrPeer, "type", "veth", "peer", "name", qrDev)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", qrPeer).Run() })
	testutil.Sh(t, "ip", "link", "set", qrDev, "netns", qrNs)

	testutil.Eventually(t, 5*time.Second, "tap enriched", func() error { return tapEnriched(w, tap, vm, net1, "10.0.0.3") })
	t.Logf("tap enriched %s after its creation", time.Since(created).Round(10*time.Millisecond))
	testutil.Eventually(t, 5*time.Second, "qr- enriched", func() error {
		m, _, err := neutronMeta(w, qrNs, qrDev)
		if err != nil {
			return err
		}
		if m["PortID"] != qr.ID || fmt.Sprint(m["IPV4"]) != "["+qr.FixedIPs[0].IPAddress+"/24]" {
			return fmt.Errorf("qr-: %v", m)
		}
		return nil
	})

	// Red Hat's guide's queries.
	query := func(q string) []string {
		t.Helper()
		cq, err := eval.Compile(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		v, err := cq.Run(context.Background(), eval.Env{Graph: g})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var names []string
		for _, n := range v.(eval.Nodes) {
			names = append(names, n.Metadata.String("Name"))
		}
		slices.Sort(names)
		return names
	}
	for _, q := range []string{"G.V().Has('Neutron.IPV4', IPRange('10.0.0.3/32'))", "G.V().Has('Neutron.IPV4', IPRANGE('10.0.0.3/32'))"} {
		// The VM end shares the port's MAC only: the tap, matched by its
		// name, is the port's interface.
		want := []string{tap}
		if got := query(q); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", q, got, want)
		}
	}
	if got := query("G.V().Has('Neutron.NetworkName', 'net1')"); len(got) != 2 {
		t.Fatalf("Has('Neutron.NetworkName','net1'): %v", got)
	}

	// A new fixed IP, by PUT, within 10 s.
	updated := time.Now()
	neutron.UpdatePortIPs(vm.ID, neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.7"})
	waitIP := func(ip string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, "new address "+ip, func() error {
			m, _, err := neutronMeta(w, "test", tap)
			if err != nil {
				return err
			}
			if fmt.Sprint(m["IPV4"]) != "["+ip+"/24]" {
				return fmt.Errorf("Neutron.IPV4 %v", m["IPV4"])
			}
			return nil
		})
	}
	waitIP("10.0.0.7")
	t.Logf("PUT fixed IP seen after %s", time.Since(updated).Round(10*time.Millisecond))

	// One port list per poll at most, whatever the number of interfaces
	// and graph events.
	portLists := func() int {
		return neutron.CountRequests(`"GET /v2.0/ports HTTP`) + neutron.CountRequests(`"GET /v2.0/ports?`)
	}
	checkPortLists := func() {
		t.Helper()
		elapsed := time.Since(started)
		if n, max := portLists(), int(elapsed/poll)+1; n > max {
			t.Fatalf("%d port lists in %s, at most %d expected", n, elapsed, max)
		} else {
			// The networks count includes neutrontest's readiness checks.
			t.Logf("%d port lists in %s (poll %s); networks listed %d times, subnets %d", n, elapsed.Round(time.Millisecond), poll,
				neutron.CountRequests(`"GET /v2.0/networks`), neutron.CountRequests(`"GET /v2.0/subnets`))
		}
	}
	checkPortLists()

	// Neutron away: the state says so, the enrichment stays.
	neutron.Stop()
	want := "error: neutron unreachable at " + neutron.URL()
	testutil.EventuallyTrue(t, 5*time.Second, "state reports Neutron unreachable", func() bool { return strings.HasPrefix(probe.State(), want) })
	t.Logf("state: %s", probe.State())
	if _, _, err := neutronMeta(w, "test", tap); err != nil {
		t.Fatalf("enrichment lost while Neutron is away: %v", err)
	}

	// Back: running, and updates flow again.
	neutron.Restart()
	testutil.EventuallyTrue(t, 10*time.Second, "running again", func() bool { return probe.State() == "running" })
	neutron.UpdatePortIPs(vm.ID, neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.9"})
	waitIP("10.0.0.9")

	// A deleted port takes its enrichment away.
	neutron.DeletePort(vm.ID)
	testutil.Eventually(t, 10*time.Second, "tap no longer enriched", func() error {
		n, err := ownedIface(w, "test", tap)
		if err != nil {
			return err
		}
		for _, k := range []string{"Neutron", "Manager", "PeerIntfMAC"} {
			if _, ok := n.Metadata[k]; ok {
				return fmt.Errorf("%s still there: %v", k, n.Metadata)
			}
		}
		return nil
	})
	checkPortLists()
}

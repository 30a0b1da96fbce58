//go:build privileged

package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/probetest"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/libvirttest"
	"github.com/skydive-ng/skydive/internal/topology"
)

func domainNode(g *graph.Graph, name string) (*graph.Node, error) {
	var out []*graph.Node
	ns, _ := g.NodesByIndex(graph.KeyName, name)
	for _, n := range ns {
		if n.Metadata.String(graph.KeyType) == TypeLibvirt {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("%d libvirt nodes named %s", len(out), name)
	}
	return out[0], nil
}

func hasEdge(g *graph.Graph, parent, child graph.Identifier, relation string) bool {
	for _, e := range g.OutEdges(parent) {
		if e.Child == child && e.Metadata.String(graph.KeyRelationType) == relation {
			return true
		}
	}
	return false
}

func domainXMLFor(name, mac, tap string) string {
	return fmt.Sprintf(`<domain type='test'><name>%s</name><memory>1024</memory><os><type>hvm</type></os>
<devices><interface type='ethernet'><mac address='%s'/><target dev='%s'/><model type='virtio'/>
<alias name='ua-net0'/><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface></devices></domain>`, name, mac, tap)
}

// TestDomainsFromRealLibvirtd follows a domain's life through a private
// libvirtd serving the test driver, with interfaces from the real netlink
// probe.
func TestDomainsFromRealLibvirtd(t *testing.T) {
	lvd := libvirttest.Start(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	p := "lv" + hex.EncodeToString(b)
	tap, lateTap, vm, vm2 := p+"t", p+"l", p+"vm", p+"vm2"
	mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])

	host := probetest.NewHost(t, "test", "")
	g, w, hostID, overlays := host.G, host.W, host.ID, host.Overlays
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe, err := New(Options{Writer: w, Host: hostID, Overlays: overlays, URL: lvd.URL(), Retry: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = probe.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	testutil.Sh(t, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", tap).Run() })

	// The test driver's default state lives as long as a connection holds
	// it: the test keeps its own.
	u, _ := url.Parse(lvd.URL())
	l, err := golibvirt.ConnectToURI(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Disconnect() }()

	testutil.Eventually(t, 10*time.Second, "probe connected, test driver's domain listed", func() error {
		if s := probe.State(); s != "running" {
			return fmt.Errorf("state %s", s)
		}
		_, err := domainNode(g, "test")
		return err
	})

	state := func(name, want string) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, name+" "+want, func() error {
			n, err := domainNode(g, name)
			if err != nil {
				return err
			}
			if got := n.Metadata.String(topology.KeyState); got != want {
				return fmt.Errorf("State %s", got)
			}
			if !hasEdge(g, hostID, n.ID, topology.OwnershipLink) {
				return fmt.Errorf("host does not own %s", name)
			}
			return nil
		})
	}
	linkedTo := func(ifname, domain, mac string) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, ifname+" linked to "+domain, func() error {
			d, err := domainNode(g, domain)
			if err != nil {
				return err
			}
			itf := w.OwnedNode(hostID, ifname)
			if itf == nil {
				return fmt.Errorf("no interface %s", ifname)
			}
			if !hasEdge(g, itf.ID, d.ID, VLayer2Link) {
				return fmt.Errorf("no vlayer2 edge %s -> %s", ifname, domain)
			}
			want := map[string]any{"Libvirt.MAC": mac, "Libvirt.Domain": domain, "Libvirt.BusType": "pci",
				"Libvirt.BusInfo": "0000:00:03.0", "Libvirt.Alias": "ua-net0", "PeerIntfMAC": mac}
			for k, v := range want {
				if got, _ := itf.Metadata.Get(k); got != v {
					return fmt.Errorf("%s: %s = %v, want %v", ifname, k, got, v)
				}
			}
			return nil
		})
	}

	dom, err := l.DomainDefineXML(domainXMLFor(vm, mac, tap))
	if err != nil {
		t.Fatal(err)
	}
	state(vm, StateDown)
	if err := l.DomainCreate(dom); err != nil {
		t.Fatal(err)
	}
	state(vm, StateUp)
	linkedTo(tap, vm, mac)
	if n, _ := domainNode(g, vm); n != nil {
		if v, _ := n.Metadata.Get("Libvirt.UUID"); v != uuidString(dom.UUID) {
			t.Errorf("Libvirt.UUID %v, want %s", v, uuidString(dom.UUID))
		}
	}
	if err := l.DomainSuspend(dom); err != nil {
		t.Fatal(err)
	}
	state(vm, StatePaused)
	if err := l.DomainResume(dom); err != nil {
		t.Fatal(err)
	}
	state(vm, StateUp)
	if err := l.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	state(vm, StateDown)
	if err := l.DomainUndefine(dom); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, vm+" removed, tap cleaned", func() error {
		if _, err := domainNode(g, vm); err == nil {
			return fmt.Errorf("%s still there", vm)
		}
		itf := w.OwnedNode(hostID, tap)
		if itf == nil {
			return fmt.Errorf("tap %s gone", tap)
		}
		for _, k := range []string{"Libvirt", "PeerIntfMAC"} {
			if _, ok := itf.Metadata[k]; ok {
				return fmt.Errorf("%s still has %s", tap, k)
			}
		}
		return nil
	})

	// An interface created after its domain started is linked when it appears.
	dom2, err := l.DomainDefineXML(domainXMLFor(vm2, mac, lateTap))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.DomainDestroy(dom2); _ = l.DomainUndefine(dom2) })
	if err := l.DomainCreate(dom2); err != nil {
		t.Fatal(err)
	}
	state(vm2, StateUp)
	testutil.Sh(t, "ip", "tuntap", "add", "dev", lateTap, "mode", "tap")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", lateTap).Run() })
	linkedTo(lateTap, vm2, mac)

	// libvirtd away: an error state, no crash; back: running again, and the
	// restarted test driver's state (its default domain only) in the graph.
	lvd.Kill()
	testutil.Eventually(t, 5*time.Second, "error state while libvirtd is away", func() error {
		if s := probe.State(); !strings.HasPrefix(s, "error: ") {
			return fmt.Errorf("state %q", s)
		}
		return nil
	})
	lvd.Restart()
	testutil.Eventually(t, 10*time.Second, "reconnected after restart", func() error {
		if s := probe.State(); s != "running" {
			return fmt.Errorf("state %q", s)
		}
		if _, err := domainNode(g, vm2); err == nil {
			return fmt.Errorf("%s survived the restart of the test driver", vm2)
		}
		_, err := domainNode(g, "test")
		return err
	})
	if n := w.OwnedNode(hostID, lateTap); n != nil {
		if _, ok := n.Metadata["Libvirt"]; ok {
			t.Errorf("%s keeps the Libvirt metadata of a domain that is gone", lateTap)
		}
	}

	cancel()
	<-done
	if ns, _ := g.NodesByIndex(graph.KeyType, TypeLibvirt); len(ns) != 0 {
		t.Errorf("%d domain nodes left after Run returned", len(ns))
	}
}

//go:build privileged

package netlink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/probe/probetest"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// prefix returns a prefix for the test's names, unique on the machine.
func prefix(p string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return p + hex.EncodeToString(b)
}

// netns makes a named namespace, deleted at the end of the test.
func netns(t *testing.T, name string) {
	testutil.Sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
}

// nsNode is the netns node of the namespace name.
func nsNode(g *graph.Graph, name string) *graph.Node {
	ns, _ := g.NodesByIndex(graph.KeyName, name)
	for _, n := range ns {
		if n.Metadata.String(graph.KeyType) == "netns" {
			return n
		}
	}
	return nil
}

// iface is the interface name owned by the netns node of ns.
func iface(g *graph.Graph, ns, name string) (*graph.Node, error) {
	owner := nsNode(g, ns)
	if owner == nil {
		return nil, fmt.Errorf("no netns node %s", ns)
	}
	nodes, _ := g.NodesByIndex(graph.KeyName, name)
	for _, n := range nodes {
		for _, e := range g.InEdges(n.ID) {
			if e.Parent == owner.ID && e.Metadata.String(graph.KeyRelationType) == "ownership" {
				return n, nil
			}
		}
	}
	return nil, fmt.Errorf("no interface %s in %s", name, ns)
}

func query(t *testing.T, g graph.View, src string) string {
	t.Helper()
	q, err := eval.Compile(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	res, err := q.Run(context.Background(), eval.Env{Graph: g})
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func macOf(t *testing.T, ns, name string) string {
	t.Helper()
	var out []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(testutil.Sh(t, "ip", "-n", ns, "-j", "link", "show", name)), &out); err != nil || len(out) != 1 {
		t.Fatalf("mac of %s: %v", name, err)
	}
	return out[0].Address
}

// TestLinkNetNsName: each end of a veth pair across two namespaces names
// the other's namespace, the one created there at once and the one whose
// peer moved (the kernel tells no event of that: the probe's refresh
// does); an end whose peer is in the agent's namespace has an ID only.
func TestLinkNetNsName(t *testing.T) {
	p := prefix("ln")
	nsA, nsB := p+"a", p+"b"
	h := probetest.NewHost(t, p, "/var/run/netns")
	netns(t, nsA)
	netns(t, nsB)

	testutil.Sh(t, "ip", "link", "add", "name", p+"x", "netns", nsA, "type", "veth", "peer", "name", p+"y", "netns", nsB)
	testutil.Sh(t, "ip", "link", "add", p+"m", "type", "veth", "peer", "name", p+"n")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", p+"m").Run() })
	testutil.Sh(t, "ip", "link", "set", p+"m", "netns", nsA)
	testutil.Sh(t, "ip", "link", "set", p+"n", "netns", nsB)
	testutil.Sh(t, "ip", "link", "add", "name", p+"r", "netns", nsA, "type", "veth", "peer", "name", p+"h")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", p+"h").Run() })

	check := func(ns, name, peerNs string) error {
		n, err := iface(h.G, ns, name)
		if err != nil {
			return err
		}
		if _, ok := n.Metadata["LinkNetNsID"]; !ok {
			return fmt.Errorf("%s: no LinkNetNsID", name)
		}
		got, has := n.Metadata["LinkNetNsName"]
		if peerNs == "" {
			if has {
				return fmt.Errorf("%s: LinkNetNsName %v, want none (peer in the agent's namespace)", name, got)
			}
			return nil
		}
		if got != peerNs {
			return fmt.Errorf("%s: LinkNetNsName %v, want %s", name, got, peerNs)
		}
		return nil
	}
	testutil.Eventually(t, 15*time.Second, "LinkNetNsName", func() error {
		for _, c := range [][3]string{{nsA, p + "x", nsB}, {nsB, p + "y", nsA}, {nsA, p + "m", nsB}, {nsB, p + "n", nsA}, {nsA, p + "r", ""}} {
			if err := check(c[0], c[1], c[2]); err != nil {
				return err
			}
		}
		// The end in the agent's namespace names the namespace of its peer.
		hn, _ := h.G.NodesByIndex(graph.KeyName, p+"h")
		if len(hn) != 1 || hn[0].Metadata["LinkNetNsName"] != nsA {
			return fmt.Errorf("%sh in the agent's namespace: %v", p, hn)
		}
		return nil
	})
}

// TestBridgeFeatures: a Linux bridge has its ethtool features, highdma on.
func TestBridgeFeatures(t *testing.T) {
	p := prefix("ft")
	h := probetest.NewHost(t, p, "/var/run/netns")
	netns(t, p)
	testutil.Sh(t, "ip", "-n", p, "link", "add", p+"br", "type", "bridge")
	testutil.Eventually(t, 10*time.Second, "Features.highdma", func() error {
		n, err := iface(h.G, p, p+"br")
		if err != nil {
			return err
		}
		got := query(t, h.G, fmt.Sprintf("G.V().Has('Name', '%sbr', 'Features.highdma', true).Values('Name')", p))
		if got != fmt.Sprintf(`["%sbr"]`, p) {
			return fmt.Errorf("query: %s; Features %v", got, n.Metadata["Features"])
		}
		return nil
	})
}

// routeTo returns the route to prefix in table of the node's RoutingTables.
func routeTo(n *graph.Node, table int64, prefix string) map[string]any {
	ts, _ := n.Metadata["RoutingTables"].([]any)
	for _, t := range ts {
		tm := t.(map[string]any)
		if tm["ID"] != table {
			continue
		}
		rs, _ := tm["Routes"].([]any)
		for _, r := range rs {
			if rm := r.(map[string]any); rm["Prefix"] == prefix {
				return rm
			}
		}
	}
	return nil
}

func neighborOf(n *graph.Node, key, ip, mac string) map[string]any {
	ns, _ := n.Metadata[key].([]any)
	for _, e := range ns {
		if em := e.(map[string]any); (ip == "" || em["IP"] == ip) && (mac == "" || em["MAC"] == mac) {
			return em
		}
	}
	return nil
}

// twoNamespaces makes namespaces n and m joined by the veth n+"v" (in n,
// 10.77.0.1/24) and m+"v" (in m, 10.77.0.2/24), both up.
func twoNamespaces(t *testing.T, n, m string) {
	netns(t, n)
	netns(t, m)
	testutil.Sh(t, "ip", "link", "add", "name", n+"v", "netns", n, "type", "veth", "peer", "name", m+"v", "netns", m)
	testutil.Sh(t, "ip", "-n", n, "addr", "add", "10.77.0.1/24", "dev", n+"v")
	testutil.Sh(t, "ip", "-n", m, "addr", "add", "10.77.0.2/24", "dev", m+"v")
	testutil.Sh(t, "ip", "-n", n, "link", "set", n+"v", "up")
	testutil.Sh(t, "ip", "-n", m, "link", "set", m+"v", "up")
}

// TestRoutesAndNeighbors: an interface has the routes leaving by it and
// its ARP entries, kept up to date as routes and neighbours come and go;
// a bridge port has its forwarding entries; a flood of neighbours is
// written in a few updates, not one per entry.
func TestRoutesAndNeighbors(t *testing.T) {
	p := prefix("rt")
	nsN, nsM := p+"n", p+"m"
	h := probetest.NewHost(t, p, "/var/run/netns")
	twoNamespaces(t, nsN, nsM)
	peerMAC := macOf(t, nsM, nsM+"v")

	var ifindex int64
	testutil.Eventually(t, 10*time.Second, "connected route", func() error {
		n, err := iface(h.G, nsN, nsN+"v")
		if err != nil {
			return err
		}
		ifindex, _ = n.Metadata["IfIndex"].(int64)
		r := routeTo(n, 254, "10.77.0.0/24")
		if r == nil {
			return fmt.Errorf("no route 10.77.0.0/24 in %v", n.Metadata["RoutingTables"])
		}
		want := []any{map[string]any{"IfIndex": ifindex, "Priority": int64(0)}}
		if fmt.Sprint(r["NextHops"]) != fmt.Sprint(want) || r["Protocol"] != int64(2) {
			return fmt.Errorf("connected route %v", r)
		}
		if routeTo(n, 255, "10.77.0.1/32") == nil {
			return fmt.Errorf("no local route in %v", n.Metadata["RoutingTables"])
		}
		return nil
	})

	testutil.Sh(t, "ip", "-n", nsN, "route", "add", "10.77.1.0/24", "via", "10.77.0.2", "metric", "10")
	testutil.Sh(t, "ip", "-n", nsN, "neigh", "replace", "10.77.0.2", "lladdr", peerMAC, "dev", nsN+"v", "nud", "permanent")
	testutil.Eventually(t, 10*time.Second, "route and neighbour added", func() error {
		n, err := iface(h.G, nsN, nsN+"v")
		if err != nil {
			return err
		}
		r := routeTo(n, 254, "10.77.1.0/24")
		want := []any{map[string]any{"IP": "10.77.0.2", "IfIndex": ifindex, "Priority": int64(10)}}
		if r == nil || fmt.Sprint(r["NextHops"]) != fmt.Sprint(want) || r["Protocol"] != int64(3) {
			return fmt.Errorf("route 10.77.1.0/24: %v", r)
		}
		nb := neighborOf(n, "Neighbors", "10.77.0.2", "")
		if nb == nil || nb["MAC"] != peerMAC || fmt.Sprint(nb["State"]) != "[NUD_PERMANENT]" || nb["IfIndex"] != ifindex {
			return fmt.Errorf("neighbour 10.77.0.2: %v", nb)
		}
		return nil
	})

	testutil.Sh(t, "ip", "-n", nsN, "route", "del", "10.77.1.0/24")
	testutil.Sh(t, "ip", "-n", nsN, "neigh", "del", "10.77.0.2", "dev", nsN+"v")
	testutil.Eventually(t, 10*time.Second, "route and neighbour removed", func() error {
		n, err := iface(h.G, nsN, nsN+"v")
		if err != nil {
			return err
		}
		if r := routeTo(n, 254, "10.77.1.0/24"); r != nil {
			return fmt.Errorf("route still there: %v", r)
		}
		if nb := neighborOf(n, "Neighbors", "10.77.0.2", ""); nb != nil {
			return fmt.Errorf("neighbour still there: %v", nb)
		}
		return nil
	})

	// A bridge port's forwarding entries.
	testutil.Sh(t, "ip", "-n", nsN, "link", "add", p+"br", "type", "bridge")
	testutil.Sh(t, "ip", "-n", nsN, "link", "add", p+"p0", "type", "veth", "peer", "name", p+"p1")
	testutil.Sh(t, "ip", "-n", nsN, "link", "set", p+"p0", "master", p+"br")
	testutil.Sh(t, "bridge", "-n", nsN, "fdb", "add", "02:00:00:00:00:77", "dev", p+"p0", "master", "static")
	testutil.Eventually(t, 10*time.Second, "FDB", func() error {
		n, err := iface(h.G, nsN, p+"p0")
		if err != nil {
			return err
		}
		// static: NUD_NOARP; the bridge's entries carry no NTF_ flag.
		e := neighborOf(n, "FDB", "", "02:00:00:00:00:77")
		if e == nil || e["IfIndex"] != n.Metadata["IfIndex"] || fmt.Sprint(e["State"]) != "[NUD_NOARP]" {
			return fmt.Errorf("FDB %v", n.Metadata["FDB"])
		}
		return nil
	})

	// A flood of 200 neighbours, in one batch.
	n, err := iface(h.G, nsN, nsN+"v")
	if err != nil {
		t.Fatal(err)
	}
	before := n.Revision
	var batch strings.Builder
	for i := 10; i < 210; i++ {
		fmt.Fprintf(&batch, "neigh add 10.77.0.%d lladdr 02:00:00:00:01:%02x dev %sv nud permanent\n", i, i, nsN)
	}
	file := filepath.Join(t.TempDir(), "neigh.batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Sh(t, "ip", "-n", nsN, "-batch", file)
	testutil.Eventually(t, 10*time.Second, "200 neighbours", func() error {
		n, err := iface(h.G, nsN, nsN+"v")
		if err != nil {
			return err
		}
		if l, _ := n.Metadata["Neighbors"].([]any); len(l) < 200 {
			return fmt.Errorf("%d neighbours", len(l))
		}
		return nil
	})
	n, _ = iface(h.G, nsN, nsN+"v")
	if updates := n.Revision - before; updates > 20 {
		t.Errorf("200 neighbours written in %d updates", updates)
	}
}

// TestNextHop: NextHop() answers from the real probe's metadata: a route
// by gateway A (whose MAC the neighbours know), one by gateway B with a
// metric, the default route, and a connected destination.
func TestNextHop(t *testing.T) {
	p := prefix("nh")
	nsN, nsM := p+"n", p+"m"
	h := probetest.NewHost(t, p, "/var/run/netns")
	twoNamespaces(t, nsN, nsM)
	macA := macOf(t, nsM, nsM+"v")
	testutil.Sh(t, "ip", "-n", nsN, "route", "add", "10.77.1.0/24", "via", "10.77.0.2")
	testutil.Sh(t, "ip", "-n", nsN, "route", "add", "10.77.2.0/24", "via", "10.77.0.3", "metric", "50")
	testutil.Sh(t, "ip", "-n", nsN, "route", "add", "default", "via", "10.77.0.254")
	testutil.Sh(t, "ip", "-n", nsN, "neigh", "replace", "10.77.0.2", "lladdr", macA, "dev", nsN+"v", "nud", "permanent")

	name := nsN + "v"
	testutil.Eventually(t, 10*time.Second, "NextHop answers", func() error {
		n, err := iface(h.G, nsN, name)
		if err != nil {
			return err
		}
		idx := n.Metadata["IfIndex"]
		for ip, want := range map[string]string{
			"10.77.1.5": fmt.Sprintf(`{"Priority":0,"IP":"10.77.0.2","MAC":"%s","IfIndex":%v}`, macA, idx),
			"10.77.2.5": fmt.Sprintf(`{"Priority":50,"IP":"10.77.0.3","IfIndex":%v}`, idx),
			"8.8.8.8":   fmt.Sprintf(`{"Priority":0,"IP":"10.77.0.254","IfIndex":%v}`, idx),
			"10.77.0.9": fmt.Sprintf(`{"Priority":0,"IP":"10.77.0.9","IfIndex":%v}`, idx),
		} {
			got := query(t, h.G, fmt.Sprintf("G.V('%s').NextHop('%s')", n.ID, ip))
			if want := fmt.Sprintf(`[{"%s":%s}]`, n.ID, want); got != want {
				return fmt.Errorf("NextHop('%s') = %s, want %s", ip, got, want)
			}
		}
		// The other end has no route out of 10.77.0.0/24.
		if got := query(t, h.G, fmt.Sprintf("G.V().Has('Name', '%sv').NextHop('8.8.8.8')", nsM)); got != "[]" {
			return fmt.Errorf("NextHop from %sv = %s, want []", nsM, got)
		}
		return nil
	})
}

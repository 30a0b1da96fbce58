//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

// nbDB runs a real OVN northbound ovsdb-server in dir, listening on a
// loopback TCP port, and returns its address and a stop function.
func nbDB(t *testing.T, dir string, port int) (addr string, stop func()) {
	t.Helper()
	if _, err := exec.LookPath("ovn-nbctl"); err != nil {
		t.Skip("ovn-central is not installed")
	}
	db := filepath.Join(dir, "nb.db")
	if _, err := os.Stat(db); err != nil {
		testutil.Sh(t, "ovsdb-tool", "create", db, "/usr/share/ovn/ovn-nb.ovsschema")
	}
	addr = fmt.Sprintf("tcp:127.0.0.1:%d", port)
	testutil.Sh(t, "ovsdb-server", db, fmt.Sprintf("--remote=ptcp:%d:127.0.0.1", port), "--pidfile="+dir+"/nb.pid", "--unixctl="+dir+"/nb.ctl",
		"--log-file="+dir+"/nb.log", "--detach")
	stop = func() {
		if pid, err := os.ReadFile(dir + "/nb.pid"); err == nil {
			_ = exec.Command("kill", strings.TrimSpace(string(pid))).Run()
		}
		testutil.EventuallyTrue(t, 5*time.Second, "nb ovsdb-server gone", func() bool {
			_, err := os.Stat(dir + "/nb.pid")
			return err != nil
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

func TestOVNNorthbound(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	addr, stop := nbDB(t, dir, port)
	nbctl := func(args ...string) string {
		return testutil.Sh(t, append([]string{"timeout", "10", "ovn-nbctl", "--db=" + addr}, args...)...)
	}
	nbctl("ls-add", "neutron-net1")
	nbctl("lsp-add", "neutron-net1", "port-a")
	nbctl("lsp-set-addresses", "port-a", "fa:16:3e:00:00:0a 10.0.0.10")
	nbctl("lr-add", "neutron-r1")
	nbctl("lrp-add", "neutron-r1", "lrp-r1", "fa:16:3e:00:00:01", "10.0.0.1/24")
	nbctl("lsp-add", "neutron-net1", "rp-net1")
	nbctl("lsp-set-type", "rp-net1", "router")
	nbctl("lsp-set-options", "rp-net1", "router-port=lrp-r1")

	g := graph.New()
	agent := &topology.Writer{G: g, Host: "c1", Origin: "agent.c1"}
	tap := graph.Identifier("tap-a")
	if err := agent.AddNode(tap, graph.Metadata{"Name": "tapa", "Type": "veth", "IfIndex": 5, "ExtID": map[string]any{"iface-id": "port-a"}}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Writer: &topology.Writer{G: g, Host: "an", Origin: "analyzer.an"}, Address: addr, Retry: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	byName := func(typ, name string) *graph.Node {
		ns, _ := g.NodesByIndex(graph.KeyName, name)
		for _, n := range ns {
			if n.Metadata.String(graph.KeyType) == typ {
				return n
			}
		}
		return nil
	}
	testutil.Eventually(t, 5*time.Second, "logical topology and mapping", func() error {
		ls, lsp, lr, lrp, rp := byName(TypeSwitch, "neutron-net1"), byName(TypePort, "port-a"), byName(TypeRouter, "neutron-r1"),
			byName(TypeRouterPort, "lrp-r1"), byName(TypePort, "rp-net1")
		if ls == nil || lsp == nil || lr == nil || lrp == nil || rp == nil {
			return fmt.Errorf("missing nodes: %v %v %v %v %v", ls, lsp, lr, lrp, rp)
		}
		for _, e := range []graph.Identifier{
			topology.EdgeID(ls.ID, lsp.ID, topology.OwnershipLink), topology.EdgeID(lr.ID, lrp.ID, topology.OwnershipLink),
			topology.EdgeID(lsp.ID, tap, MappingLink), topology.EdgeID(rp.ID, lrp.ID, topology.Layer2Link),
		} {
			if g.Edge(e) == nil {
				return fmt.Errorf("missing edge %s", e)
			}
		}
		return nil
	})
	if s := p.State(); s != "running" {
		t.Errorf("state %q", s)
	}
	// A port removed goes; an interface appearing later is mapped.
	nbctl("lsp-add", "neutron-net1", "port-b")
	tapB := graph.Identifier("tap-b")
	if err := agent.AddNode(tapB, graph.Metadata{"Name": "tapb", "Type": "veth", "IfIndex": 6, "ExtID": map[string]any{"iface-id": "port-b"}}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "port-b mapped", func() bool {
		n := byName(TypePort, "port-b")
		return n != nil && g.Edge(topology.EdgeID(n.ID, tapB, MappingLink)) != nil
	})
	nbctl("lsp-del", "port-a")
	testutil.EventuallyTrue(t, 5*time.Second, "port-a removed", func() bool { return byName(TypePort, "port-a") == nil })

	// The database goes away: the state says so, the topology stays; back: running.
	stop()
	testutil.EventuallyTrue(t, 10*time.Second, "state error", func() bool { return strings.HasPrefix(p.State(), "error:") })
	if byName(TypeSwitch, "neutron-net1") == nil {
		t.Error("logical switch removed while the database is away")
	}
	nbDB(t, dir, port)
	testutil.EventuallyTrue(t, 10*time.Second, "running again", func() bool { return p.State() == "running" })
}

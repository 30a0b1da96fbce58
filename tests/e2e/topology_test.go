//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
)

func allInOne(t *testing.T) (*client.Client, string, string) {
	t.Helper()
	c, addr, hostID, _ := allInOneWith(t, "")
	return c, addr, hostID
}

// allInOneWith starts an allinone whose configuration is the usual one
// (own host ID, free ports, a data folder) with extra YAML layered on it (a
// second -c file: the loader applies files in order, key by key), and waits
// for its agent.
func allInOneWith(t *testing.T, extra string) (*client.Client, string, string, *process) {
	t.Helper()
	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := writeConf(t, fmt.Sprintf("host_id: %s\nanalyzer:\n  listen: %s\n  data_dir: %s\nagent:\n  listen: 127.0.0.1:%d\n", hostID, addr, t.TempDir(), freePort(t)))
	args := []string{"allinone"}
	if extra != "" {
		args = []string{"-c", writeConf(t, extra), "allinone"}
	}
	p := start(t, conf, args...)
	c := client.New(addr)
	waitAgent(t, c, hostID)
	return c, addr, hostID, p
}

func waitAgent(t *testing.T, c *client.Client, hostID string) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, "agent connected", func() error {
		st, err := c.AnalyzerStatus(context.Background())
		if err != nil {
			return err
		}
		if a, ok := st.Agents[hostID]; !ok || !a.IsConnected {
			return fmt.Errorf("agents: %v", st.Agents)
		}
		_, err = oneNode(c, fmt.Sprintf("G.V().Has('Type', 'host', 'Name', '%s')", hostID))
		return err
	})
}

func cli(addr string, args ...string) (string, error) {
	full := append([]string{"client", "--analyzer", addr}, args...)
	out, err := exec.Command(skydiveBin, full...).CombinedOutput()
	return string(out), err
}

func TestAllInOneLiveTopology(t *testing.T) {
	c, addr, hostID := allInOne(t)
	p := uniq()
	nsA, nsB, nsC := p+"a", p+"b", p+"c"
	vA, vB, br, bp, bq := p+"va", p+"vb", p+"br", p+"bp", p+"bq"
	for _, ns := range []string{nsA, nsB, nsC} {
		netnsAdd(t, ns)
	}
	// Two namespaces joined by a veth pair.
	testutil.Sh(t, "ip", "link", "add", vA, "type", "veth", "peer", "name", vB)
	linkCleanup(t, vA)
	testutil.Sh(t, "ip", "link", "set", vA, "netns", nsA)
	testutil.Sh(t, "ip", "link", "set", vB, "netns", nsB)
	testutil.Sh(t, "ip", "-n", nsA, "addr", "add", "10.250.0.1/24", "dev", vA)
	testutil.Sh(t, "ip", "-n", nsB, "addr", "add", "10.250.0.2/24", "dev", vB)
	testutil.Sh(t, "ip", "-n", nsA, "link", "set", vA, "up")
	testutil.Sh(t, "ip", "-n", nsB, "link", "set", vB, "up")
	// A Linux bridge with a veth into a third namespace.
	testutil.Sh(t, "ip", "link", "add", br, "type", "bridge")
	linkCleanup(t, br)
	testutil.Sh(t, "ip", "link", "add", bp, "type", "veth", "peer", "name", bq)
	linkCleanup(t, bp)
	testutil.Sh(t, "ip", "link", "set", bp, "master", br)
	testutil.Sh(t, "ip", "link", "set", bq, "netns", nsC)
	testutil.Sh(t, "ip", "-n", nsC, "addr", "add", "10.251.0.3/24", "dev", bq)
	testutil.Sh(t, "ip", "link", "set", br, "up")
	testutil.Sh(t, "ip", "link", "set", bp, "up")
	testutil.Sh(t, "ip", "-n", nsC, "link", "set", bq, "up")

	var nodeA, nodeB node
	testutil.Eventually(t, 5*time.Second, "namespaces, veths and edges in the topology", func() error {
		for _, ns := range []string{nsA, nsB, nsC} {
			n, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s')", ns))
			if err != nil {
				return err
			}
			if n.Host != hostID || n.Metadata["Path"] != "/var/run/netns/"+ns {
				return fmt.Errorf("netns node %v", n)
			}
		}
		var err error
		if nodeA, err = oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", vA)); err != nil {
			return err
		}
		if nodeB, err = oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", vB)); err != nil {
			return err
		}
		if err := checkIface(nodeA, "veth", "10.250.0.1/24", "UP"); err != nil {
			return err
		}
		if err := checkIface(nodeB, "veth", "10.250.0.2/24", "UP"); err != nil {
			return err
		}
		// host -> netns -> interface ownership.
		owned, err := queryNodes(c, fmt.Sprintf("G.V().Has('Type', 'host', 'Name', '%s').Out().Has('Type', 'netns', 'Name', '%s').Out().Has('Name', '%s')", hostID, nsA, vA))
		if err != nil || len(owned) != 1 {
			return fmt.Errorf("ownership host->netns->veth: %v %v", owned, err)
		}
		if err := hasEdge(c, "ownership", "G.V().Has('Name', '"+nsA+"')", nodeA.ID); err != nil {
			return err
		}
		// veth peers across namespaces.
		if err := hasLayer2(c, nodeA.ID, nodeB.ID); err != nil {
			return err
		}
		// bridge -> port, and the port's peer in the third namespace.
		brN, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", br))
		if err != nil {
			return err
		}
		if brN.Metadata["Type"] != "bridge" {
			return fmt.Errorf("bridge type %v", brN.Metadata["Type"])
		}
		bpN, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", bp))
		if err != nil {
			return err
		}
		bqN, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", bq))
		if err != nil {
			return err
		}
		if err := checkIface(bqN, "veth", "10.251.0.3/24", "UP"); err != nil {
			return err
		}
		if err := hasLayer2(c, brN.ID, bpN.ID); err != nil {
			return err
		}
		return hasLayer2(c, bpN.ID, bqN.ID)
	})

	// MTU change, seen through the CLI as in Red Hat's guide.
	testutil.Sh(t, "ip", "-n", nsA, "link", "set", vA, "mtu", "1450")
	testutil.Eventually(t, 2*time.Second, "MTU 1450 visible", func() error {
		out, err := cli(addr, "query", "G.V().Has('MTU', NE(1500)).Values('IPV4')")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var values [][]string
		if err := json.Unmarshal([]byte(out), &values); err != nil {
			return fmt.Errorf("output is not a list of lists of CIDR: %v: %s", err, out)
		}
		if !slices.ContainsFunc(values, func(v []string) bool { return slices.Contains(v, "10.250.0.1/24") }) {
			return fmt.Errorf("10.250.0.1/24 not in %s", out)
		}
		ns, err := queryNodes(c, "G.V().Has('MTU', 1500)")
		if err != nil {
			return err
		}
		if slices.ContainsFunc(ns, func(n node) bool { return n.ID == nodeA.ID }) {
			return fmt.Errorf("%s still has MTU 1500", vA)
		}
		return nil
	})

	// Link down.
	testutil.Sh(t, "ip", "-n", nsB, "link", "set", vB, "down")
	testutil.Eventually(t, 2*time.Second, "State DOWN", func() error {
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", vB))
		if err != nil {
			return err
		}
		if n.Metadata["State"] != "DOWN" {
			return fmt.Errorf("state %v", n.Metadata["State"])
		}
		return nil
	})

	// A deleted namespace takes its subgraph with it.
	testutil.Sh(t, "ip", "netns", "del", nsC)
	testutil.Eventually(t, 5*time.Second, "namespace subgraph removed", func() error {
		for _, q := range []string{
			fmt.Sprintf("G.V().Has('Name', '%s')", nsC),
			fmt.Sprintf("G.V().Has('Name', '%s')", bq),
		} {
			ns, err := queryNodes(c, q)
			if err != nil {
				return err
			}
			if len(ns) != 0 {
				return fmt.Errorf("%s: still %d nodes", q, len(ns))
			}
		}
		return nil
	})

	// The CLI's status lists the agent as connected.
	out, err := cli(addr, "status")
	if err != nil {
		t.Fatalf("client status: %v: %s", err, out)
	}
	var st struct {
		Agents map[string]struct{ IsConnected bool }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Agents[hostID].IsConnected {
		t.Fatalf("client status does not list %s as connected (%v): %s", hostID, err, out)
	}
}

func checkIface(n node, typ, cidr, state string) error {
	m := n.Metadata
	if m["Type"] != typ {
		return fmt.Errorf("%v: Type %v, want %s", m["Name"], m["Type"], typ)
	}
	if mtu, _ := m["MTU"].(float64); mtu < 68 {
		return fmt.Errorf("%v: MTU %v", m["Name"], m["MTU"])
	}
	if mac, _ := m["MAC"].(string); len(mac) != 17 {
		return fmt.Errorf("%v: MAC %v", m["Name"], m["MAC"])
	}
	ips, _ := m["IPV4"].([]any)
	if !slices.Contains(ips, any(cidr)) {
		return fmt.Errorf("%v: IPV4 %v, want %s", m["Name"], m["IPV4"], cidr)
	}
	if m["State"] != state {
		return fmt.Errorf("%v: State %v, want %s", m["Name"], m["State"], state)
	}
	if _, ok := m["IfIndex"]; !ok {
		return fmt.Errorf("%v: no IfIndex", m["Name"])
	}
	return nil
}

// hasEdge checks that the node of from has an edge of relation to child.
func hasEdge(c *client.Client, relation, from, child string) error {
	es, err := queryEdges(c, from+".OutE('RelationType', '"+relation+"')")
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Child == child {
			return nil
		}
	}
	return fmt.Errorf("no %s edge from %s to %s", relation, from, child)
}

func hasLayer2(c *client.Client, a, b string) error {
	es, err := queryEdges(c, "G.E().Has('RelationType', 'layer2')")
	if err != nil {
		return err
	}
	for _, e := range es {
		if (e.Parent == a && e.Child == b) || (e.Parent == b && e.Child == a) {
			return nil
		}
	}
	return fmt.Errorf("no layer2 edge between %s and %s", a, b)
}

func TestAnalyzerRestart(t *testing.T) {
	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	aconf := writeConf(t, fmt.Sprintf("host_id: %s-analyzer\nanalyzer:\n  listen: %s\n  data_dir: %s\n", hostID, addr, t.TempDir()))
	gconf := writeConf(t, fmt.Sprintf("host_id: %s\nanalyzers: [%s]\nagent:\n  listen: 127.0.0.1:%d\n", hostID, addr, freePort(t)))
	analyzer := start(t, aconf, "analyzer")
	agentProc := start(t, gconf, "agent")
	c := client.New(addr)
	waitAgent(t, c, hostID)

	ns := uniq() + "r"
	netnsAdd(t, ns)
	testutil.Eventually(t, 5*time.Second, "namespace seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s')", ns))
		return err
	})
	// The host's graph as it settles: the previous test's namespaces may
	// still be going away (the kernel frees them asynchronously).
	var before []string
	testutil.Eventually(t, 10*time.Second, "the host's graph settled", func() error {
		a := graphIDs(t, c, hostID)
		time.Sleep(500 * time.Millisecond) // two reads apart: no change between them
		if b := graphIDs(t, c, hostID); !slices.Equal(a, b) {
			return fmt.Errorf("%d then %d elements", len(a), len(b))
		}
		before = a
		return nil
	})

	analyzer.kill()
	// The agent lives on while its analyzer is gone.
	select {
	case err := <-agentProc.done:
		t.Fatalf("agent exited when the analyzer died: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	start(t, aconf, "analyzer")
	waitAgent(t, c, hostID)
	testutil.Eventually(t, 10*time.Second, "same graph after the analyzer's restart", func() error {
		after := graphIDs(t, c, hostID)
		if !slices.Equal(before, after) {
			return fmt.Errorf("before %d elements, after %d", len(before), len(after))
		}
		return nil
	})
}

// graphIDs lists the IDs of the host's nodes and edges, sorted.
func graphIDs(t *testing.T, c *client.Client, hostID string) []string {
	t.Helper()
	raw, err := c.Query(context.Background(), "G")
	if err != nil {
		t.Fatal(err)
	}
	var g []struct {
		Nodes []node
		Edges []struct {
			ID   string
			Host string
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil || len(g) != 1 {
		t.Fatalf("G: %v: %s", err, raw)
	}
	var ids []string
	for _, n := range g[0].Nodes {
		if n.Host == hostID {
			ids = append(ids, "n:"+n.ID)
		}
	}
	for _, e := range g[0].Edges {
		if e.Host == hostID {
			ids = append(ids, "e:"+e.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

var positioned = regexp.MustCompile(`^\d+:\d+: `)

func TestMalformedQueriesAre400WithPosition(t *testing.T) {
	_, addr, _ := allInOne(t)
	corpus := []string{
		"",
		"   ",
		"G.V(",
		"G.V())",
		"G.V().Has('Name'",
		"G.V().Has('Name', 'eth0'))",
		"G.V().Foo()",
		"G.V().Has(NE())",
		"G.V().Limit('ten')",
		"G.V().HasKey(42)",
		"G.V().Has('Name', 'eth0",
		"G..V()",
		"V()",
		"G.V().Count().Out()",
		"G.V().Values()",
		"G.V().Has('MTU', NE(1500, 1400))",
		"\x00\xff\xfe",
		"G.V().Has('MTU', GT('x'))",
		"G.V().Range(1)",
		"G.V().Has('IPV4', IPV4RANGE('not-a-cidr'))",
		"G.V().Has('Name', REGEX('['))",
	}
	for _, q := range corpus {
		body, _ := json.Marshal(map[string]string{"GremlinQuery": q})
		resp, err := http.Post("http://"+addr+"/api/topology", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400 (%s)", q, resp.StatusCode, msg)
			continue
		}
		if !positioned.Match(msg) {
			t.Errorf("%q: message %q names no position", q, msg)
		}
	}
	// Bad JSON bodies name the problem too.
	for _, body := range []string{"{", `{"GremlinQuery": 3}`, `{"Gremlin": "G.V()"}`, ""} {
		resp, err := http.Post("http://"+addr+"/api/topology", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(msg) == 0 {
			t.Errorf("body %q: status %d %q, want 400 with a message", body, resp.StatusCode, msg)
		}
	}
	// The CLI exits non-zero with the server's message.
	out, err := cli(addr, "query", "G.V().Foo()")
	if err == nil || !strings.Contains(out, "1:7") {
		t.Errorf("client query of a bad query: err %v, output %q", err, out)
	}
	// The analyzer is still alive.
	if _, err := cli(addr, "status"); err != nil {
		t.Fatalf("analyzer died: %v", err)
	}
}

func TestTopologyImport(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	good := writeConf(t, fmt.Sprintf(`[{"Nodes": [
	  {"ID": "%[1]s-tor", "Metadata": {"Name": "%[1]s-tor", "Type": "switch"}},
	  {"ID": "%[1]s-port", "Metadata": {"Name": "%[1]s-port1", "Type": "switchport", "MTU": 9000}}],
	 "Edges": [{"ID": "%[1]s-e", "Parent": "%[1]s-tor", "Child": "%[1]s-port", "Metadata": {"RelationType": "ownership"}}]}]`, p))
	if out, err := cli(addr, "topology", "import", "--file", good); err != nil {
		t.Fatalf("import: %v: %s", err, out)
	}
	testutil.Eventually(t, 2*time.Second, "imported nodes", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'switch', 'Name', '%s-tor').Out().Has('MTU', 9000)", p))
		return err
	})
	// Bad elements are refused one by one, named with their field; their
	// neighbours in the same import are kept.
	mixed := writeConf(t, fmt.Sprintf(`[{"Nodes": [
	  {"ID": "%[1]s-notype", "Metadata": {"Name": "no type"}},
	  {"ID": "%[1]s-ns", "Metadata": {"Name": "%[1]s-ns", "Type": "netns"}},
	  {"ID": "%[1]s-ok", "Metadata": {"Name": "%[1]s-ok", "Type": "switch"}}],
	 "Edges": [{"ID": "%[1]s-e2", "Parent": "%[1]s-tor", "Child": "%[1]s-ok", "Metadata": {"RelationType": "layer2"}}]}]`, p))
	out, err := cli(addr, "topology", "import", "--file", mixed)
	for _, want := range []string{p + "-notype: Metadata.Type", p + "-ns: Metadata.Path", "2 refused"} {
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("import with invalid nodes: err %v, output %q, want %q", err, out, want)
		}
	}
	testutil.Eventually(t, 2*time.Second, "valid neighbours kept", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%[1]s-tor').Out().Has('Name', '%[1]s-ok')", p))
		return err
	})
	if n, err := c.Query(context.Background(), fmt.Sprintf("G.V().Has('Name', '%s-ns').Count()", p)); err != nil || strings.TrimSpace(string(n)) != "0" {
		t.Fatalf("netns without Path: %s %v, want refused", n, err)
	}
}

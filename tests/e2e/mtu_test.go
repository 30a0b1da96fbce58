//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// mtuAudit is one path's answer of MTUAudit() and of CheckMTUPath.
type mtuAudit struct {
	Path []struct {
		ID, Name, Type string
		MTU            int
	}
	Tunnels []struct {
		Name        string
		Overhead    int
		Underlay    string
		UnderlayMTU int
	}
	MaxPacket  int
	Bottleneck string
	Verdict    string
}

// TestMTUAudit: two namespaces joined by an underlay veth pair, a kernel
// vxlan (DF set) over it in each, the vxlans at MTU 1500 and the underlay
// lowered to 1400. The audit, through the query and the CheckMTUPath
// workflow, names the underlay veth and 1350; a ping with DF passes at
// MaxPacket - 28 bytes of payload and fails at one byte more.
func TestMTUAudit(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	nsA, nsB := p+"a", p+"b"
	uA, uB, vxA, vxB := p+"ua", p+"ub", p+"xa", p+"xb"
	for _, ns := range []string{nsA, nsB} {
		netnsAdd(t, ns)
	}
	// The underlay: a veth pair with room for the overlay at first, so
	// that the vxlans are created at MTU 1500 (the kernel caps a new vxlan
	// at its device's MTU - 50).
	testutil.Sh(t, "ip", "link", "add", uA, "mtu", "1550", "type", "veth", "peer", "name", uB, "mtu", "1550")
	linkCleanup(t, uA)
	testutil.Sh(t, "ip", "link", "set", uA, "netns", nsA)
	testutil.Sh(t, "ip", "link", "set", uB, "netns", nsB)
	for _, e := range []struct{ ns, under, vx, self, peer, overlay string }{
		{nsA, uA, vxA, "10.231.0.1", "10.231.0.2", "192.168.231.1/24"},
		{nsB, uB, vxB, "10.231.0.2", "10.231.0.1", "192.168.231.2/24"},
	} {
		testutil.Sh(t, "ip", "-n", e.ns, "addr", "add", e.self+"/24", "dev", e.under)
		testutil.Sh(t, "ip", "-n", e.ns, "link", "set", e.under, "up")
		testutil.Sh(t, "ip", "-n", e.ns, "link", "add", e.vx, "mtu", "1500", "type", "vxlan", "id", "42",
			"remote", e.peer, "local", e.self, "dev", e.under, "dstport", "4789", "df", "set")
		testutil.Sh(t, "ip", "-n", e.ns, "addr", "add", e.overlay, "dev", e.vx)
		testutil.Sh(t, "ip", "-n", e.ns, "link", "set", e.vx, "up")
		// The underlay lowered below what the overlay needs.
		testutil.Sh(t, "ip", "-n", e.ns, "link", "set", e.under, "mtu", "1400")
	}
	for _, e := range []struct{ ns, vx string }{{nsA, vxA}, {nsB, vxB}} {
		if out := testutil.Sh(t, "ip", "-n", e.ns, "-d", "link", "show", e.vx); !strings.Contains(out, "mtu 1500") {
			t.Fatalf("%s: %s", e.vx, out)
		}
	}
	reachable(t, nsA, "192.168.231.2")

	check := func(a mtuAudit) error {
		if a.MaxPacket != 1350 || a.Bottleneck != uA {
			return fmt.Errorf("MaxPacket %d, Bottleneck %q, want 1350 and %s: %+v", a.MaxPacket, a.Bottleneck, uA, a)
		}
		if len(a.Path) < 2 || a.Path[0].Name != vxA || a.Path[0].MTU != 1500 || a.Path[len(a.Path)-1].Name != vxB {
			return fmt.Errorf("path %+v", a.Path)
		}
		if len(a.Tunnels) != 2 || a.Tunnels[0].Name != vxA || a.Tunnels[0].Overhead != 50 || a.Tunnels[0].Underlay != uA || a.Tunnels[0].UnderlayMTU != 1400 ||
			a.Tunnels[1].Name != vxB || a.Tunnels[1].Underlay != uB {
			return fmt.Errorf("tunnels %+v", a.Tunnels)
		}
		if want := "instance MTU 1500 over VXLAN on a 1400 underlay (" + uA + "): 1350 needed, or an underlay MTU of 1550"; a.Verdict != want {
			return fmt.Errorf("verdict %q, want %q", a.Verdict, want)
		}
		return nil
	}

	// Through the query.
	q := fmt.Sprintf("G.V().Has('Name', '%s').ShortestPathTo(Metadata('Name', '%s')).MTUAudit()", vxA, vxB)
	var audit mtuAudit
	testutil.Eventually(t, 20*time.Second, "the audit names the underlay", func() error {
		raw, err := c.Query(context.Background(), q)
		if err != nil {
			return err
		}
		var as []mtuAudit
		if err := json.Unmarshal(raw, &as); err != nil || len(as) != 1 {
			return fmt.Errorf("%s: %v: %s", q, err, raw)
		}
		audit = as[0]
		return check(audit)
	})

	// Through the workflow, by node ID.
	a, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", vxA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", vxB))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli(addr, "workflow", "call", "CheckMTUPath", a.ID, b.ID)
	var wf mtuAudit
	if err != nil || json.Unmarshal([]byte(out), &wf) != nil {
		t.Fatalf("workflow call CheckMTUPath: %v: %s", err, out)
	}
	if err := check(wf); err != nil {
		t.Fatalf("CheckMTUPath: %v", err)
	}

	// The kernel agrees: the largest payload passes with DF, one byte more does not.
	size := audit.MaxPacket - 28
	ping := func(n int) error {
		out, err := exec.Command("ip", "netns", "exec", nsA, "ping", "-M", "do", "-c", "1", "-W", "1", "-s", strconv.Itoa(n), "192.168.231.2").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ping -s %d: %v: %s", n, err, out)
		}
		return nil
	}
	testutil.Eventually(t, 10*time.Second, "a ping of the largest payload", func() error { return ping(size) })
	for i := 0; i < 3; i++ {
		if err := ping(size + 1); err == nil {
			t.Fatalf("ping -M do -s %d passed, the audit said %d is the largest", size+1, size)
		}
	}
	if err := ping(size); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
}

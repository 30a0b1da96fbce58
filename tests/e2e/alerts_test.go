//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// TestAlertOnLinkDown: an alert on a veth's DOWN state, created with the
// CLI, is notified on /ws/subscriber when the link goes down, and again
// after it went up and down again (the original's lo up/down test).
func TestAlertOnLinkDown(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	ns, va, vb := p+"a", p+"va", p+"vb"
	netnsAdd(t, ns)
	testutil.Sh(t, "ip", "-n", ns, "link", "add", va, "type", "veth", "peer", "name", vb)
	testutil.Sh(t, "ip", "-n", ns, "link", "set", va, "up")
	testutil.Sh(t, "ip", "-n", ns, "link", "set", vb, "up")
	// isUp polls until va is UP in the analyzer's graph.
	isUp := func(what string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() error {
			n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", va))
			if err != nil {
				return err
			}
			if n.Metadata["State"] != "UP" {
				return fmt.Errorf("state %v", n.Metadata["State"])
			}
			return nil
		})
	}
	isUp(va + " UP")

	out, err := cli(addr, "alert", "create", "--name", "link down", "--expression", fmt.Sprintf("G.V().Has('Name','%s').Has('State','DOWN')", va))
	if err != nil {
		t.Fatalf("alert create: %v\n%s", err, out)
	}
	var alert v1.Alert
	if err := json.Unmarshal([]byte(out), &alert); err != nil || alert.UUID == "" || alert.Trigger != "graph" {
		t.Fatalf("alert create answered %s (%v)", out, err)
	}
	if out, err := cli(addr, "alert", "create", "--expression", "G.V().Has("); err == nil || !strings.Contains(out, "Expression: 1:") {
		t.Fatalf("invalid alert: %v %s", err, out)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/subscriber", http.Header{v1.HeaderClientType: {"e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// waitAlert reads the subscriber's messages until a notification of
	// this alert made after since, and returns its data.
	waitAlert := func(since time.Time) string {
		t.Helper()
		if err := ws.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			var msg v1.Message
			if err := ws.ReadJSON(&msg); err != nil {
				t.Fatalf("no alert notification: %v", err)
			}
			if msg.Namespace != v1.NamespaceAlert || msg.Type != v1.AlertMsgType {
				continue
			}
			var am v1.AlertMessage
			if err := json.Unmarshal(msg.Obj, &am); err != nil {
				t.Fatalf("alert notification %s: %v", msg.Obj, err)
			}
			if am.UUID == alert.UUID && am.Timestamp >= since.UnixMilli() {
				return string(am.ReasonData)
			}
		}
	}
	for round := range 2 {
		down := time.Now()
		testutil.Sh(t, "ip", "-n", ns, "link", "set", va, "down")
		if data := waitAlert(down); !strings.Contains(data, va) || !strings.Contains(data, `"DOWN"`) {
			t.Fatalf("round %d: notification data %s", round, data)
		}
		testutil.Sh(t, "ip", "-n", ns, "link", "set", va, "up")
		isUp(va + " UP again")
	}
	if out, err := cli(addr, "alert", "delete", alert.UUID); err != nil {
		t.Fatalf("alert delete: %v %s", err, out)
	}
	if out, err := cli(addr, "alert", "get", alert.UUID); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("deleted alert: %v %s", err, out)
	}
}

// TestTopologyRulesWithCLI: node and edge rules made with the CLI show up
// in `skydive client query`, a node rule's update reaches a namespace made
// after it, and deleting the rules removes what they made.
func TestTopologyRulesWithCLI(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	src, dst := p+"-src", p+"-dst"
	var ids []string
	for _, args := range [][]string{
		{"node-rule", "create", "--name", "src", "--node-name", src, "--node-type", "bridge", "--metadata", "Vendor=acme"},
		{"node-rule", "create", "--name", "dst", "--node-name", dst, "--node-type", "bridge"},
		{"edge-rule", "create", "--name", "l2", "--src", fmt.Sprintf("G.V().Has('Name','%s')", src),
			"--dst", fmt.Sprintf("G.V().Has('Name','%s')", dst), "--relationtype", "layer2"},
		{"node-rule", "create", "--action", "update", "--query", fmt.Sprintf("G.V().Has('Type','netns','Name','%s')", p+"late"),
			"--metadata", "Tenant=blue"},
	} {
		out, err := cli(addr, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		var r struct{ UUID string }
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.UUID == "" {
			t.Fatalf("%v answered %s (%v)", args, out, err)
		}
		ids = append(ids, r.UUID)
	}
	if out, err := cli(addr, "node-rule", "create", "--node-name", "x"); err == nil || !strings.Contains(out, "Name and Type") {
		t.Fatalf("node rule without type: %v %s", err, out)
	}
	out, err := cli(addr, "query", fmt.Sprintf("G.V().Has('Name','%s').Values('Vendor')", src))
	if err != nil || !strings.Contains(out, "acme") {
		t.Fatalf("rule node in query: %v %s", err, out)
	}
	edgeQuery := fmt.Sprintf("G.V().Has('Name','%s').OutE().Has('RelationType','layer2').OutV().Has('Name','%s')", src, dst)
	testutil.Eventually(t, 5*time.Second, "edge rule's edge", func() error {
		out, err := cli(addr, "query", edgeQuery)
		if err != nil || !strings.Contains(out, dst) {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	netnsAdd(t, p+"late")
	testutil.Eventually(t, 10*time.Second, "late namespace updated", func() error {
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('Type','netns','Name','%s')", p+"late"))
		if err != nil {
			return err
		}
		if n.Metadata["Tenant"] != "blue" {
			return fmt.Errorf("metadata %v", n.Metadata)
		}
		return nil
	})
	if out, err := cli(addr, "edge-rule", "delete", ids[2]); err != nil {
		t.Fatalf("edge-rule delete: %v %s", err, out)
	}
	if out, err := cli(addr, "node-rule", "delete", ids[0], ids[3]); err != nil {
		t.Fatalf("node-rule delete: %v %s", err, out)
	}
	for _, q := range []string{edgeQuery, fmt.Sprintf("G.V().Has('Name','%s')", src), fmt.Sprintf("G.V().Has('Tenant','blue','Name','%s')", p+"late")} {
		if nodes, err := queryNodes(c, q); err != nil || len(nodes) != 0 {
			t.Errorf("%s after the rules' deletion: %v %v", q, nodes, err)
		}
	}
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

const checkMTUID = "85757b38-6e21-11e8-b42d-28d2442e1325"

func TestWorkflowsFromTheCLI(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()

	// A user's workflow from a YAML file, created and called with the CLI.
	name := "E2E-" + p
	yml := filepath.Join(t.TempDir(), "hello.yml")
	doc := fmt.Sprintf(`---
Name: %s
Title: Greets and counts
Parameters:
  - Name: who
    Type: string
  - Name: times
    Type: integer
  - Name: loud
    Type: boolean
    Default: false
Source: |
  function (who, times, loud) {
    var hosts = client.gremlin.G().V().Has('Type', 'host').Count().result()
    return sleep(10).then(function () {
      var s = "hello " + who
      return {Greeting: loud ? s.toUpperCase() : s, Double: times * 2, Hosts: hosts}
    })
  }
`, name)
	if err := os.WriteFile(yml, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := cli(addr, "workflow", "create", "--path", yml)
	if err != nil {
		t.Fatalf("workflow create: %v: %s", err, out)
	}
	var created struct{ UUID, Name string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.UUID == "" || created.Name != name {
		t.Fatalf("workflow create output %q: %v", out, err)
	}
	out, err = cli(addr, "workflow", "list")
	if err != nil || !strings.Contains(out, created.UUID) || !strings.Contains(out, checkMTUID) {
		t.Fatalf("workflow list (%v) lacks %s or CheckMTU: %s", err, created.UUID, out)
	}
	for _, id := range []string{name, created.UUID} {
		out, err = cli(addr, "workflow", "call", id, "world", "21")
		var res struct {
			Greeting string
			Double   int
			Hosts    int
		}
		if err != nil || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("workflow call %s: %v: %s", id, err, out)
		}
		if res.Greeting != "hello world" || res.Double != 42 || res.Hosts < 1 {
			t.Fatalf("workflow call %s: %+v (%s)", id, res, out)
		}
	}
	if out, err = cli(addr, "workflow", "call", name, "world", "2", "true"); err != nil || !strings.Contains(out, `"HELLO WORLD"`) {
		t.Fatalf("workflow call with a boolean: %v: %s", err, out)
	}
	if out, err = cli(addr, "workflow", "call", name, "world", "many"); err == nil || !strings.Contains(out, "not an integer") {
		t.Fatalf("workflow call with a bad integer: %v: %s", err, out)
	}
	if out, err = cli(addr, "workflow", "delete", checkMTUID); err == nil || !strings.Contains(out, "cannot be deleted") {
		t.Fatalf("deleting CheckMTU: %v: %s", err, out)
	}

	// CheckMTU across the two ends of a veth pair.
	_, ns2, v1, v2, _, _ := vethPair(t, p, 242)
	var idA, idB string
	testutil.Eventually(t, 10*time.Second, "veth ends linked by a layer2 edge", func() error {
		a, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1))
		if err != nil {
			return err
		}
		b, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v2))
		if err != nil {
			return err
		}
		if err := hasLayer2(c, a.ID, b.ID); err != nil {
			return err
		}
		idA, idB = a.ID, b.ID
		return nil
	})
	checkMTU := func(from, to string) string {
		t.Helper()
		out, err := cli(addr, "workflow", "call", "CheckMTU", from, to)
		if err != nil {
			t.Fatalf("CheckMTU %s %s: %v: %s", from, to, err, out)
		}
		return strings.TrimSpace(out)
	}
	if got := checkMTU(idA, idB); got != "true" {
		t.Fatalf("CheckMTU with equal MTUs: %s", got)
	}
	testutil.Sh(t, "ip", "-n", ns2, "link", "set", v2, "mtu", "1400")
	testutil.Eventually(t, 10*time.Second, "MTU 1400 seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V('%s').Has('MTU', 1400)", idB))
		return err
	})
	if got := checkMTU(idA, idB); got != "false" {
		t.Fatalf("CheckMTU from 1500 to 1400: %s", got)
	}
	if got := checkMTU(idB, idA); got != "true" {
		t.Fatalf("CheckMTU from 1400 to 1500: %s", got)
	}

	if out, err = cli(addr, "workflow", "delete", created.UUID); err != nil {
		t.Fatalf("workflow delete: %v: %s", err, out)
	}
	if out, err = cli(addr, "workflow", "call", name, "x", "1"); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("calling a deleted workflow: %v: %s", err, out)
	}
}

// TestWorkflowCheckConnectivity runs the built-in CheckConnectivity between
// the two ends of a veth pair: it captures, injects pings and finds their
// flow.
func TestWorkflowCheckConnectivity(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	_, _, v1, v2, _, _ := vethPair(t, p, 247)
	var ids []string
	testutil.Eventually(t, 10*time.Second, "veths with addresses seen", func() error {
		ids = ids[:0]
		for _, v := range []string{v1, v2} {
			n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s').HasKey('IPV4')", v))
			if err != nil {
				return err
			}
			ids = append(ids, n.ID)
		}
		return nil
	})
	out, err := cli(addr, "workflow", "call", "CheckConnectivity", ids[0], ids[1])
	if err != nil {
		t.Fatalf("CheckConnectivity: %v: %s", err, out)
	}
	var res struct {
		Connectivity bool
		Flows        []flowJSON
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("CheckConnectivity output %q: %v", out, err)
	}
	if !res.Connectivity || len(res.Flows) == 0 || res.Flows[0].Metric.ABPackets == 0 || res.Flows[0].Metric.BAPackets == 0 {
		t.Fatalf("CheckConnectivity: %s", out)
	}
	// The workflow deletes its capture when done.
	testutil.Eventually(t, 5*time.Second, "the workflow's capture deleted", func() error {
		out, err := cli(addr, "capture", "list")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if strings.Contains(out, "CheckConnectivity") {
			return fmt.Errorf("captures left: %s", out)
		}
		return nil
	})
}

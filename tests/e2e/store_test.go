//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// TestEmbeddedStoreSurvivesKill: topology history and flows in the default
// embedded store outlive a kill -9 of the analyzer (and of its agent).
func TestEmbeddedStoreSurvivesKill(t *testing.T) {
	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	data := t.TempDir()
	aconf := writeConf(t, fmt.Sprintf("host_id: %s-analyzer\nanalyzer:\n  listen: %s\n  data_dir: %s\n", hostID, addr, data))
	gconf := writeConf(t, fmt.Sprintf("host_id: %s\nanalyzers: [%s]\nagent:\n  listen: 127.0.0.1:%d\n", hostID, addr, freePort(t)))
	an := start(t, aconf, "analyzer")
	ag := start(t, gconf, "agent")
	c := client.New(addr)
	waitAgent(t, c, hostID)

	ns1, _, v1, _, _, ip2 := vethPair(t, uniq(), 248)
	testutil.Eventually(t, 5*time.Second, "veth seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1))
		return err
	})
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1), "--bpf", "icmp")
	waitCaptureActive(t, c, v1, id)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "3", "-i", "0.2", ip2)
	testutil.Eventually(t, 5*time.Second, "flow stored", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil || len(fs) != 1 || fs[0].Metric.ABPackets != 3 {
			return fmt.Errorf("flows %v %v", fs, err)
		}
		return nil
	})
	before := time.Now()
	time.Sleep(1500 * time.Millisecond) // what the store queued is written (it batches every second)

	ag.kill()
	an.kill()
	start(t, aconf, "analyzer")
	testutil.Eventually(t, 10*time.Second, "analyzer back", func() error {
		_, err := c.Status(t.Context())
		return err
	})
	// No agent now: the live graph lacks the interface, the past has it.
	if ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1)); err != nil || len(ns) != 0 {
		t.Fatalf("live graph: %v %v", ns, err)
	}
	ago := fmt.Sprintf("-%ds", int(time.Since(before).Seconds())+1)
	if _, err := oneNode(c, fmt.Sprintf("G.At('%s').V().Has('Name', '%s')", ago, v1)); err != nil {
		t.Fatalf("G.At('%s') after kill -9: %v", ago, err)
	}
	fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
	if err != nil || len(fs) != 1 || fs[0].Metric.ABPackets != 3 {
		t.Fatalf("G.Flows() after kill -9: %v %v", fs, err)
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/ovstest"
)

// TestNetFlowOVS: an ovsnetflow capture points a real OVS bridge's NetFlow
// (userspace datapath) at the agent's collector; a ping between two
// namespaces on the bridge is one flow of the capture in G.Flows(), with
// both directions, and the bridge's NetFlow goes when the capture does.
func TestNetFlowOVS(t *testing.T) {
	ovs := ovstest.Start(t)
	c, addr, _, _ := allInOneWith(t, fmt.Sprintf("agent:\n  flow:\n    netflow:\n      port_min: 17365\n      port_max: 17375\novs:\n  ovsdb: %s\n", ovs.DB))

	p := uniq()
	br := p + "br"
	ovs.Vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")
	for _, n := range []string{"1", "2"} {
		ns := p + "n" + n
		netnsAdd(t, ns)
		testutil.Sh(t, "ip", "link", "add", p+"v"+n, "type", "veth", "peer", "name", p+"p"+n)
		linkCleanup(t, p+"v"+n)
		testutil.Sh(t, "ip", "link", "set", p+"p"+n, "netns", ns)
		testutil.Sh(t, "ip", "link", "set", p+"v"+n, "up")
		testutil.Sh(t, "ip", "-n", ns, "addr", "add", "10.245.0."+n+"/24", "dev", p+"p"+n)
		testutil.Sh(t, "ip", "-n", ns, "link", "set", p+"p"+n, "up")
		ovs.Vsctl("add-port", br, p+"v"+n)
	}
	testutil.Eventually(t, 10*time.Second, "OVS bridge node", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s')", br))
		return err
	})
	reachable(t, p+"n1", "10.245.0.2")

	id := createCapture(t, addr, "--type", "ovsnetflow", "--gremlin", fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s')", br))
	waitCaptureActive(t, c, br, id)
	bridge, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s')", br))
	if err != nil {
		t.Fatal(err)
	}
	// The bridge's NetFlow row targets the collector the capture listens on.
	socket := ""
	if caps, ok := bridge.Metadata["Captures"].([]any); ok && len(caps) == 1 {
		socket, _ = caps[0].(map[string]any)["NetFlowSocket"].(string)
	}
	if !strings.HasPrefix(socket, "127.0.0.1:173") {
		t.Fatalf("NetFlowSocket %q in %v", socket, bridge.Metadata["Captures"])
	}
	if got := ovs.Vsctl("list", "netflow"); !strings.Contains(got, socket) || !strings.Contains(got, id) {
		t.Fatalf("OVS NetFlow row:\n%s", got)
	}

	testutil.Sh(t, "ip", "netns", "exec", p+"n1", "ping", "-c", "5", "-i", "0.2", "10.245.0.2")
	// OVS exports a flow when its datapath flow ends (about 10 s idle) or
	// at the active timeout (10 s).
	testutil.Eventually(t, 45*time.Second, "the ping's flow from OVS NetFlow", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil {
			return err
		}
		if len(fs) != 1 {
			return fmt.Errorf("%d ICMPv4 flows: %+v", len(fs), fs)
		}
		f := fs[0]
		ips := []string{f.Network.A, f.Network.B}
		if !(ips[0] == "10.245.0.1" && ips[1] == "10.245.0.2" || ips[0] == "10.245.0.2" && ips[1] == "10.245.0.1") {
			return fmt.Errorf("flow between %v", ips)
		}
		if f.Metric.ABPackets < 5 || f.Metric.BAPackets < 5 || f.NodeTID != bridge.Metadata["TID"] {
			return fmt.Errorf("flow %+v", f)
		}
		return nil
	})

	if out, err := cli(addr, "capture", "delete", id); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	testutil.Eventually(t, 10*time.Second, "bridge NetFlow removed", func() error {
		if got := strings.TrimSpace(ovs.Vsctl("get", "bridge", br, "netflow")); got != "[]" {
			return fmt.Errorf("netflow %s", got)
		}
		return nil
	})
}

// nfcapdRecord is a line of `nfdump -o csv`.
type nfcapdRecord struct {
	sa, da     string
	ipkt, opkt int64
}

// nfdumpRecords reads every file nfcapd finished in dir.
func nfdumpRecords(dir string) ([]nfcapdRecord, error) {
	files, err := filepath.Glob(filepath.Join(dir, "nfcapd.2*"))
	if err != nil {
		return nil, err
	}
	var out []nfcapdRecord
	for _, f := range files {
		raw, err := exec.Command("nfdump", "-r", f, "-o", "csv", "-q").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("nfdump -r %s: %v: %s", f, err, raw)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			cols := strings.Split(line, ",")
			// ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...
			if len(cols) < 15 || cols[0] == "ts" || !strings.Contains(cols[0], "-") {
				continue
			}
			ipkt, err1 := strconv.ParseInt(strings.TrimSpace(cols[11]), 10, 64)
			opkt, err2 := strconv.ParseInt(strings.TrimSpace(cols[13]), 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("nfdump line %q", line)
			}
			out = append(out, nfcapdRecord{sa: cols[3], da: cols[4], ipkt: ipkt, opkt: opkt})
		}
	}
	return out, nil
}

// TestNetFlowExportToNfcapd: the analyzer exports, as IPFIX, the flow of a
// ping an afpacket capture sees to a real nfcapd (Debian's nfdump), and
// nfdump reads back the two addresses and, in the flow's records (one
// biflow record per update), as many packets each way as the flow's AB and
// BA. A jsonl export of the same flows writes the flow's updates.
func TestNetFlowExportToNfcapd(t *testing.T) {
	if _, err := exec.LookPath("nfcapd"); err != nil {
		t.Skip("nfcapd not installed (apt-get install nfdump)")
	}
	nfDir, jsonDir := t.TempDir(), t.TempDir()
	nfPort := freeUDPPort(t)
	nfc := exec.Command("nfcapd", "-b", "127.0.0.1", "-p", strconv.Itoa(nfPort), "-w", nfDir, "-t", "2")
	nfLog := &syncWriter{buf: &bytes.Buffer{}}
	nfc.Stdout, nfc.Stderr = nfLog, nfLog
	nfc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := nfc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = nfc.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = nfc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = nfc.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nfcapd:\n%s", nfLog.String())
		}
	})

	p := uniq()
	ns1, _, v1, _, ip1, ip2 := vethPair(t, p, 246)
	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := writeConf(t, fmt.Sprintf(`host_id: %s
analyzer:
  listen: %s
  data_dir: %s
  flow:
    export:
      - type: ipfix
        address: 127.0.0.1:%d
        gremlin: "G.Flows().Has('Network', '%s')"
      - type: jsonl
        dir: %s
        gremlin: "G.Flows().Has('Application', 'ICMPv4')"
agent:
  listen: 127.0.0.1:%d
`, hostID, addr, t.TempDir(), nfPort, ip1, jsonDir, freePort(t)))
	start(t, conf, "allinone")
	c := client.New(addr)
	waitAgent(t, c, hostID)
	testutil.Eventually(t, 10*time.Second, v1+" in the graph", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1))
		return err
	})
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1))
	waitCaptureActive(t, c, v1, id)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "4", "-i", "0.2", ip2)

	var ab, ba int64
	testutil.Eventually(t, 15*time.Second, "the ping's flow", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil {
			return err
		}
		if len(fs) != 1 || fs[0].Metric.ABPackets != 4 || fs[0].Metric.BAPackets != 4 || fs[0].Network.A != ip1 {
			return fmt.Errorf("flows %+v", fs)
		}
		ab, ba = fs[0].Metric.ABPackets, fs[0].Metric.BAPackets
		return nil
	})
	testutil.Eventually(t, 20*time.Second, "nfdump shows the flow's packets", func() error {
		recs, err := nfdumpRecords(nfDir)
		if err != nil {
			return err
		}
		var in, out int64
		for _, r := range recs {
			if r.sa == ip1 && r.da == ip2 {
				in += r.ipkt
				out += r.opkt
			} else {
				return fmt.Errorf("a record of %s -> %s: the export's query keeps %s's flows", r.sa, r.da, ip1)
			}
		}
		if in != ab || out != ba {
			return fmt.Errorf("nfdump: %d packets %s->%s and %d back, the flow has AB %d BA %d (records %+v)", in, ip1, ip2, out, ab, ba, recs)
		}
		return nil
	})
	// The jsonl export: the flow's updates, the last with its totals.
	testutil.Eventually(t, 10*time.Second, "the jsonl export", func() error {
		raw, err := os.ReadFile(filepath.Join(jsonDir, "flows.jsonl"))
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		var last flowJSON
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
			return err
		}
		if last.CaptureID != id || last.Metric.ABPackets != ab || last.Metric.BAPackets != ba || last.Network.B != ip2 {
			return fmt.Errorf("%d lines, the last %s", len(lines), lines[len(lines)-1])
		}
		return nil
	})
}

// freeUDPPort returns a UDP port free on 127.0.0.1.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		p := freePort(t)
		out, err := exec.Command("ss", "-Hnul", fmt.Sprintf("sport = :%d", p)).Output()
		if err == nil && len(bytes.TrimSpace(out)) == 0 {
			return p
		}
	}
	t.Fatal("no free UDP port")
	return 0
}

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/nsexec"
	"github.com/skydive-ng/skydive/internal/testutil"
)

type flowJSON struct {
	UUID, TrackingID, Application, CaptureID, NodeTID string
	Network                                           *struct{ A, B string }
	Transport                                         *struct{ A, B int }
	Metric                                            struct {
		ABPackets, BAPackets, RTT int64
	}
	TCPMetric map[string]any
}

func queryFlows(c *client.Client, q string) ([]flowJSON, error) {
	raw, err := c.Query(context.Background(), q)
	if err != nil {
		return nil, err
	}
	var fs []flowJSON
	if err := json.Unmarshal(raw, &fs); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", q, err, raw)
	}
	return fs, nil
}

func createCapture(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, err := cli(addr, append([]string{"capture", "create"}, args...)...)
	if err != nil {
		t.Fatalf("capture create: %v: %s", err, out)
	}
	var c struct{ UUID string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.UUID == "" {
		t.Fatalf("capture create output %q: %v", out, err)
	}
	return c.UUID
}

func waitCaptureActive(t *testing.T, c *client.Client, name, id string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "capture active on "+name, func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'Captures.ID', '%s', 'Captures.State', 'active')", name, id))
		if err != nil {
			raw, _ := c.Query(context.Background(), fmt.Sprintf("G.V().Has('Name', '%s').Values('Captures')", name))
			return fmt.Errorf("%v; Captures of %s: %s", err, name, raw)
		}
		return nil
	})
}

// vethPair joins two new namespaces with a veth pair addressed 10.<net>.0.1/.2.
func vethPair(t *testing.T, p string, net int) (ns1, ns2, v1, v2, ip1, ip2 string) {
	ns1, ns2, v1, v2 = p+"a", p+"b", p+"va", p+"vb"
	ip1, ip2 = fmt.Sprintf("10.%d.0.1", net), fmt.Sprintf("10.%d.0.2", net)
	netnsAdd(t, ns1)
	netnsAdd(t, ns2)
	testutil.Sh(t, "ip", "link", "add", v1, "type", "veth", "peer", "name", v2)
	linkCleanup(t, v1)
	testutil.Sh(t, "ip", "link", "set", v1, "netns", ns1)
	testutil.Sh(t, "ip", "link", "set", v2, "netns", ns2)
	testutil.Sh(t, "ip", "-n", ns1, "addr", "add", ip1+"/24", "dev", v1)
	testutil.Sh(t, "ip", "-n", ns2, "addr", "add", ip2+"/24", "dev", v2)
	for _, x := range [][2]string{{ns1, v1}, {ns2, v2}, {ns1, "lo"}, {ns2, "lo"}} {
		testutil.Sh(t, "ip", "-n", x[0], "link", "set", x[1], "up")
	}
	return
}

// listenIn opens a TCP listener inside a namespace: the socket stays there.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := nsexec.Do("/var/run/netns/"+ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestCaptureFlowsOnRealTraffic(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	ns1, ns2, v1, v2, ip1, ip2 := vethPair(t, p, 241)
	testutil.Eventually(t, 5*time.Second, "veths seen", func() error {
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1)); err != nil {
			return err
		}
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v2))
		return err
	})
	capA := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1), "--extra-tcp-metric")
	capB := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v2), "--bpf", "icmp")
	waitCaptureActive(t, c, v1, capA)
	waitCaptureActive(t, c, v2, capB)

	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "5", "-i", "0.2", ip2)
	testutil.Eventually(t, 5*time.Second, "ICMPv4 flow with 5/5 packets", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('Application', 'ICMPv4', 'CaptureID', '%s')", capA))
		if err != nil {
			return err
		}
		if len(fs) != 1 {
			return fmt.Errorf("%d ICMPv4 flows", len(fs))
		}
		f := fs[0]
		if f.Metric.ABPackets != 5 || f.Metric.BAPackets != 5 || f.Network.A != ip1 || f.Network.B != ip2 || f.Metric.RTT <= 0 {
			return fmt.Errorf("flow %+v %+v", f.Metric, *f.Network)
		}
		arp, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('Application', 'ARP', 'CaptureID', '%s')", capA))
		if err != nil || len(arp) == 0 {
			return fmt.Errorf("no ARP flow: %v", err)
		}
		return nil
	})

	// The node under capture carries the capture's packet counters, as the
	// original (agent.capture.stats_update, 1 s), and they grow under a ping.
	received := func() (int64, error) {
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v2))
		if err != nil {
			return 0, err
		}
		var md struct {
			Captures []struct {
				ID                                                string
				PacketsReceived, PacketsDropped, PacketsIfDropped *int64
			}
		}
		raw, _ := json.Marshal(n.Metadata)
		if err := json.Unmarshal(raw, &md); err != nil {
			return 0, err
		}
		for _, e := range md.Captures {
			if e.ID == capB {
				if e.PacketsReceived == nil || e.PacketsDropped == nil || e.PacketsIfDropped == nil {
					return 0, fmt.Errorf("counters missing in %s", raw)
				}
				return *e.PacketsReceived, nil
			}
		}
		return 0, fmt.Errorf("capture %s not in %s", capB, raw)
	}
	var before int64
	testutil.Eventually(t, 5*time.Second, "capture counters after the ping", func() (err error) {
		if before, err = received(); err == nil && before < 10 {
			err = fmt.Errorf("PacketsReceived %d, want >= 10 (5 requests, 5 replies)", before)
		}
		return err
	})
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "4", "-i", "0.2", ip2)
	testutil.Eventually(t, 5*time.Second, "capture counters growing", func() error {
		n, err := received()
		if err == nil && n < before+8 {
			err = fmt.Errorf("PacketsReceived %d, want >= %d", n, before+8)
		}
		return err
	})

	// TCP: a listener inside ns2, a client in ns1.
	l := listenIn(t, ns2, ip2+":5001")
	go func() {
		conn, err := l.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
		}
	}()
	testutil.Sh(t, "ip", "netns", "exec", ns1, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/5001; echo hello >&3; exec 3>&-", ip2))
	testutil.Eventually(t, 5*time.Second, "TCP flow with handshake RTT and TCPMetric", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('Application', 'TCP', 'CaptureID', '%s', 'Transport.B', 5001)", capA))
		if err != nil {
			return err
		}
		if len(fs) != 1 {
			return fmt.Errorf("%d TCP flows", len(fs))
		}
		if fs[0].Metric.RTT <= 0 || fs[0].TCPMetric == nil {
			return fmt.Errorf("RTT %d TCPMetric %v", fs[0].Metric.RTT, fs[0].TCPMetric)
		}
		return nil
	})
	// The capture with BPF icmp saw the ping and no TCP (its flows come
	// with its own table's updates, not with capA's).
	testutil.Eventually(t, 5*time.Second, "the icmp-filtered capture's flows", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s')", capB))
		if err != nil {
			return err
		}
		apps := []string{}
		for _, f := range fs {
			apps = append(apps, f.Application)
		}
		if !slices.Contains(apps, "ICMPv4") || slices.Contains(apps, "TCP") {
			return fmt.Errorf("icmp-filtered capture flows: %v, want ICMPv4 and no TCP", apps)
		}
		return nil
	})

	// Deleting a capture stops its flow updates and its Captures metadata.
	if out, err := cli(addr, "capture", "delete", capA); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	testutil.Eventually(t, 5*time.Second, "capture gone from the node", func() error {
		ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', '%s').Has('Captures.ID', '%s')", v1, capA))
		if err != nil {
			return err
		}
		if len(ns) != 0 {
			return fmt.Errorf("still captured")
		}
		return nil
	})
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "3", "-i", "0.2", ip2)
	testutil.Eventually(t, 5*time.Second, "the other capture sees the new pings", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('Application', 'ICMPv4', 'CaptureID', '%s').Has('Metric.ABPackets', GTE(3))", capB))
		if err != nil || len(fs) == 0 {
			return fmt.Errorf("no new ICMP flow on %s: %v", v2, err)
		}
		return nil
	})
	fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", capA))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Metric.ABPackets != 5 {
			t.Fatalf("deleted capture still updates: %+v", f.Metric)
		}
	}
}

func TestTrackingIDAcrossABridge(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	ns1, ns2, br := p+"l", p+"r", p+"br"
	v1, v1p, v2, v2p := p+"v1", p+"p1", p+"v2", p+"p2"
	netnsAdd(t, ns1)
	netnsAdd(t, ns2)
	testutil.Sh(t, "ip", "link", "add", br, "type", "bridge")
	linkCleanup(t, br)
	testutil.Sh(t, "ip", "link", "set", br, "up")
	for _, x := range [][4]string{{v1, v1p, ns1, "10.242.0.1/24"}, {v2, v2p, ns2, "10.242.0.2/24"}} {
		testutil.Sh(t, "ip", "link", "add", x[0], "type", "veth", "peer", "name", x[1])
		linkCleanup(t, x[1])
		testutil.Sh(t, "ip", "link", "set", x[1], "master", br)
		testutil.Sh(t, "ip", "link", "set", x[1], "up")
		testutil.Sh(t, "ip", "link", "set", x[0], "netns", x[2])
		testutil.Sh(t, "ip", "-n", x[2], "addr", "add", x[3], "dev", x[0])
		testutil.Sh(t, "ip", "-n", x[2], "link", "set", x[0], "up")
	}
	testutil.Eventually(t, 5*time.Second, "interfaces seen", func() error {
		_, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', WITHIN('%s', '%s'))", v1, v2))
		return err
	})
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', WITHIN('%s', '%s'))", v1, v2), "--bpf", "icmp")
	waitCaptureActive(t, c, v1, id)
	waitCaptureActive(t, c, v2, id)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "3", "-i", "0.2", "10.242.0.2")
	var tracking string
	testutil.Eventually(t, 5*time.Second, "the same TrackingID at both ends", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil {
			return err
		}
		if len(fs) != 2 || fs[0].NodeTID == fs[1].NodeTID {
			return fmt.Errorf("%d flows", len(fs))
		}
		if fs[0].TrackingID != fs[1].TrackingID || fs[0].UUID == fs[1].UUID {
			return fmt.Errorf("TrackingIDs %s %s", fs[0].TrackingID, fs[1].TrackingID)
		}
		tracking = fs[0].TrackingID
		return nil
	})
	ns, err := queryNodes(c, fmt.Sprintf("G.Flows().Has('TrackingID', '%s').Nodes()", tracking))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range ns {
		names = append(names, fmt.Sprint(n.Metadata["Name"]))
	}
	if !slices.Contains(names, v1) || !slices.Contains(names, v2) {
		t.Fatalf("Nodes() of the flow: %v, want %s and %s", names, v1, v2)
	}
}

func TestCaptureSurvivesAnalyzerRestart(t *testing.T) {
	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	data := t.TempDir()
	aconf := writeConf(t, fmt.Sprintf("host_id: %s-analyzer\nanalyzer:\n  listen: %s\n  data_dir: %s\n", hostID, addr, data))
	gconf := writeConf(t, fmt.Sprintf("host_id: %s\nanalyzers: [%s]\nagent:\n  listen: 127.0.0.1:%d\n", hostID, addr, freePort(t)))
	an := start(t, aconf, "analyzer")
	start(t, gconf, "agent")
	c := client.New(addr)
	waitAgent(t, c, hostID)
	p := uniq()
	ns1, _, v1, _, _, ip2 := vethPair(t, p, 243)
	testutil.Eventually(t, 5*time.Second, "veth seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1))
		return err
	})
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1), "--bpf", "icmp")
	waitCaptureActive(t, c, v1, id)

	an.kill()
	start(t, aconf, "analyzer")
	waitAgent(t, c, hostID)
	out, err := cli(addr, "capture", "get", id)
	if err != nil || !strings.Contains(out, id) {
		t.Fatalf("capture lost with the analyzer: %v %s", err, out)
	}
	waitCaptureActive(t, c, v1, id)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "2", "-i", "0.2", ip2)
	testutil.Eventually(t, 5*time.Second, "flows after the restart", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil || len(fs) == 0 {
			return fmt.Errorf("no flow: %v", err)
		}
		return nil
	})
}

func TestCaptureValidation(t *testing.T) {
	_, addr, _ := allInOne(t)
	for _, tc := range []struct{ body, want string }{
		{`{"GremlinQuery": "G.V("}`, "GremlinQuery: 1:"},
		{`{"GremlinQuery": "G.V()", "BPFFilter": "nonsense(("}`, "BPFFilter"},
		{`{"GremlinQuery": "G.V()", "Type": "nope"}`, "Type"},
		{`{"GremlinQuery": "G.V()", "HeaderSize": 5}`, "HeaderSize"},
		{`{"GremlinQuery": "G.V()", "RawPacketLimit": 50}`, "RawPacketLimit"},
		{`{"GremlinQuery": "G.V()", "LayerKeyMode": "L7"}`, "LayerKeyMode"},
		{`{"GremlinQuery": "G.V().Count()"}`, "GremlinQuery"},
		{`{"Gremlin": "G.V()"}`, "Gremlin"},
		{`garbage`, "invalid JSON"},
	} {
		resp, err := http.Post("http://"+addr+"/api/capture", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), tc.want) {
			t.Errorf("%s: %d %q, want 400 naming %q", tc.body, resp.StatusCode, msg, tc.want)
		}
	}
	createCapture(t, addr, "--gremlin", "G.V().Has('Name', 'nothing-here')")
	out, err := cli(addr, "capture", "create", "--gremlin", "G.V().Has('Name', 'nothing-here')")
	if err == nil || !strings.Contains(out, "duplicate") {
		t.Fatalf("duplicate capture accepted: %s", out)
	}
}

// TestClientPcap streams a trace to the analyzer (POST /api/pcap), then
// G.Flows() answers with its flows, as `skydive pcap flows` computes them.
func TestClientPcap(t *testing.T) {
	c, addr, _ := allInOne(t)
	trace := "../../internal/flow/testdata/eth-ip4-arp-dns-req-http-google.pcap"
	if out, err := cli(addr, "pcap", "--trace", trace); err != nil {
		t.Fatalf("client pcap: %v %s", err, out)
	}
	local, err := exec.Command(skydiveBin, "pcap", "flows", trace).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []flowJSON
	if err := json.Unmarshal(local, &want); err != nil {
		t.Fatal(err)
	}
	got, err := queryFlows(c, "G.Flows().Has('CaptureID', 'pcap')")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("G.Flows() has %d flows of the trace, pcap flows %d", len(got), len(want))
	}
	dns, err := queryFlows(c, "G.Flows().Has('Application', 'DNS')")
	if err != nil || len(dns) == 0 {
		t.Fatalf("no DNS flow: %v", err)
	}
	if out, err := cli(addr, "pcap", "--trace", "/etc/hostname"); err == nil || !strings.Contains(out, "not a pcap") {
		t.Fatalf("garbage trace: %v %s", err, out)
	}
}

// TestRawPacketsAndLiveFlows: raw packets kept by a capture, downloaded as
// a pcap, and flow updates pushed on /ws/subscriber/flow.
func TestRawPacketsAndLiveFlows(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	ns1, _, v1, _, _, ip2 := vethPair(t, p, 245)
	testutil.Eventually(t, 5*time.Second, "veth seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1))
		return err
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/subscriber/flow", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1), "--bpf", "icmp", "--rawpacket-limit", "3")
	waitCaptureActive(t, c, v1, id)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "5", "-i", "0.2", ip2)

	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var msg struct {
			Namespace, Type string
			Obj             []flowJSON
		}
		if err := ws.ReadJSON(&msg); err != nil {
			t.Fatalf("no live flow update: %v", err)
		}
		if msg.Namespace == "flow" && len(msg.Obj) > 0 && msg.Obj[0].CaptureID == id {
			break
		}
	}
	testutil.Eventually(t, 5*time.Second, "raw packets", func() error {
		raw, err := c.Query(context.Background(), fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4').RawPackets()", id))
		if err != nil {
			return err
		}
		var res []map[string][]struct{ Data []byte }
		if err := json.Unmarshal(raw, &res); err != nil || len(res) != 1 {
			return fmt.Errorf("RawPackets(): %s %v", raw, err)
		}
		for _, pkts := range res[0] {
			if len(pkts) != 3 {
				return fmt.Errorf("%d raw packets, want 3", len(pkts))
			}
		}
		return nil
	})
	resp, err := http.Get("http://" + addr + "/api/capture/" + id + "/pcap")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) < 24+3*(16+42) {
		t.Fatalf("pcap download: %d, %d bytes", resp.StatusCode, len(body))
	}
	if magic := fmt.Sprintf("%x", body[:4]); magic != "d4c3b2a1" && magic != "a1b2c3d4" && magic != "4d3cb2a1" {
		t.Fatalf("not a pcap file: magic %s", magic)
	}
}

// TestPacketGenerator injects pings from one namespace's interface to the
// other's, seen by a capture.
func TestPacketGenerator(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	_, _, v1, v2, _, _ := vethPair(t, p, 246)
	testutil.Eventually(t, 5*time.Second, "veths with addresses seen", func() error {
		for _, v := range []string{v1, v2} {
			if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s').HasKey('IPV4')", v)); err != nil {
				return err
			}
		}
		return nil
	})
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v2), "--bpf", "icmp")
	waitCaptureActive(t, c, v2, id)
	out, err := cli(addr, "injection", "create", "--src", fmt.Sprintf("G.V().Has('Name', '%s')", v1),
		"--dst", fmt.Sprintf("G.V().Has('Name', '%s')", v2), "--type", "icmp4", "--count", "5", "--interval", "100", "--id", "4242")
	if err != nil {
		t.Fatalf("injection create: %v %s", err, out)
	}
	testutil.Eventually(t, 5*time.Second, "5 injected echo requests answered", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'ICMP.ID', 4242)", id))
		if err != nil {
			return err
		}
		if len(fs) != 1 || fs[0].Metric.ABPackets != 5 || fs[0].Metric.BAPackets != 5 {
			return fmt.Errorf("flows %+v", fs)
		}
		return nil
	})
	if out, err := cli(addr, "injection", "create", "--src", "G.V().Has('Name', 'no-such-node')", "--dst-ip", "10.0.0.1"); err == nil || !strings.Contains(out, "source node") {
		t.Fatalf("injection without a source: %v %s", err, out)
	}
}

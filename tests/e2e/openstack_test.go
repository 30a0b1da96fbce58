//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/runctest"
)

// lab is an OpenStack lab made by scripts/openstack-lab.sh.
type lab struct {
	dir, prefix string
	c           *client.Client // through the lab's loopback forwarder
	instances   map[string]instance
	networks    map[string]string // name -> ID
	vnis        map[string]string // name -> VXLAN id
	start       time.Time
}

type instance struct {
	name, node, vmID, portID, mac, ip, netID, nodeNs, ns, tap string
}

const labAnalyzer = "10.250.0.10:8082"

var labScript = filepath.Join("..", "..", "scripts", "openstack-lab.sh")

func labUp(t *testing.T) *lab {
	t.Helper()
	for _, b := range []string{"neutron-server", "ovn-nbctl", "libvirtd", "runc", "lldpd", "socat"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed (make deps)", b)
		}
	}
	// lldpd drops its privileges: the lab's folder must be reachable.
	dir, err := os.MkdirTemp("", "skylab")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{dir: dir, prefix: uniq(), instances: map[string]instance{}, networks: map[string]string{}, vnis: map[string]string{}}
	port := freePort(t)
	env := append(os.Environ(), "LAB_DIR="+dir, "LAB_PREFIX="+l.prefix, fmt.Sprintf("LAB_UI_PORT=%d", port), "SKYDIVE_BIN="+skydiveBin)
	script := func(arg string) (string, error) {
		cmd := exec.Command(labScript, arg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"analyzer/analyzer.log", "compute-1/agent.log", "compute-2/agent.log", "controller/agent.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s:\n%s", f, tail(string(b), 40))
				}
			}
		}
		if out, err := script("down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	l.start = time.Now()
	if out, err := script("up"); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Logf("lab up in %s", time.Since(l.start).Round(time.Second))
	l.c = client.New(fmt.Sprintf("127.0.0.1:%d", port))
	f, err := os.Open(filepath.Join(dir, "inventory"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		switch {
		case w[0] == "instance" && len(w) == 11:
			l.instances[w[1]] = instance{name: w[1], node: w[2], vmID: w[3], portID: w[4], mac: w[5], ip: w[6], netID: w[7], nodeNs: w[8], ns: w[9], tap: w[10]}
		case w[0] == "network" && len(w) == 4:
			l.networks[w[1]] = w[2]
			l.vnis[w[1]] = w[3]
		}
	}
	if len(l.instances) != 3 || len(l.networks) != 2 {
		t.Fatalf("inventory: %v %v", l.instances, l.networks)
	}
	return l
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cli runs `skydive client ...` on the controller, as the guide does.
func (l *lab) cli(args ...string) (string, error) {
	full := append([]string{"netns", "exec", l.prefix + "-ctl", skydiveBin, "client", "--analyzer", labAnalyzer}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	return string(out), err
}

func (l *lab) names(q string) ([]string, error) {
	out, err := l.cli("query", q)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", q, err, out)
	}
	var names []string
	if err := json.Unmarshal([]byte(out), &names); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", q, err, out)
	}
	slices.Sort(names)
	return names, nil
}

func (l *lab) wantNames(t *testing.T, within time.Duration, q string, want ...string) {
	t.Helper()
	slices.Sort(want)
	testutil.Eventually(t, within, q, func() error {
		got, err := l.names(q)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	})
}

// neutron calls neutron-server's API from the controller.
func (l *lab) neutron(method, path, body string) (string, error) {
	args := []string{"netns", "exec", l.prefix + "-ctl", "curl", "-sS", "-f", "-X", method, "-H", "Content-Type: application/json"}
	if body != "" {
		args = append(args, "--data", body)
	}
	out, err := exec.Command("ip", append(args, "http://10.250.0.10:9696/v2.0"+path)...).CombinedOutput()
	return string(out), err
}

type labFlow struct {
	UUID, TrackingID, L3TrackingID, Application, NodeTID, LayersPath, CaptureID string
	Network                                                                     *struct {
		A, B string
		ID   int64
	}
	Metric struct{ ABPackets, BAPackets, ABBytes, BABytes, RTT int64 }
}

func (l *lab) flows(q string) ([]labFlow, error) {
	raw, err := l.c.Query(context.Background(), q)
	if err != nil {
		return nil, err
	}
	var fs []labFlow
	if err := json.Unmarshal(raw, &fs); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return fs, nil
}

// capture starts a capture from the controller's CLI, waits until the one
// node it selects captures, and returns that node's TID.
func (l *lab) capture(t *testing.T, gremlin, wantName string) string {
	t.Helper()
	out, err := l.cli("capture", "create", "--gremlin", gremlin)
	if err != nil {
		t.Fatalf("capture create %s: %v: %s", gremlin, err, out)
	}
	var c struct{ UUID string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.UUID == "" {
		t.Fatalf("capture create output %q: %v", out, err)
	}
	var tid string
	testutil.Eventually(t, 15*time.Second, "capture active: "+gremlin, func() error {
		ns, err := queryNodes(l.c, gremlin+fmt.Sprintf(".Has('Captures.ID', '%s', 'Captures.State', 'active')", c.UUID))
		if err != nil {
			return err
		}
		if len(ns) != 1 || ns[0].Metadata["Name"] != wantName {
			return fmt.Errorf("%d nodes capturing: %v", len(ns), ns)
		}
		tid, _ = ns[0].Metadata["TID"].(string)
		return nil
	})
	return tid
}

func ping(t *testing.T, ns, ip string, count int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "2", ip).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", ip, ns, err, out)
	}
}

// The guide, on a small real OpenStack: a controller and two computes, each
// with its agent, Open vSwitch, libvirt and runc; neutron-server and OVN.
func TestOpenStackLab(t *testing.T) {
	l := labUp(t)
	i1, i2, i3 := l.instances["instance-1"], l.instances["instance-2"], l.instances["instance-3"]

	t.Run("status lists the three agents", func(t *testing.T) {
		testutil.Eventually(t, 20*time.Second, "status", func() error {
			out, err := l.cli("status")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			var st struct {
				Agents map[string]struct {
					IsConnected    bool
					TopologyProbes map[string]string
				}
				Probes []string
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				return err
			}
			for _, h := range []string{"controller", "compute-1", "compute-2"} {
				a, ok := st.Agents[h]
				if !ok || !a.IsConnected {
					return fmt.Errorf("agent %s: %+v", h, st.Agents)
				}
				for _, p := range []string{"neutron", "ovsdb", "libvirt", "runc", "lldp"} {
					if a.TopologyProbes[p] != "running" {
						return fmt.Errorf("agent %s probe %s: %q", h, p, a.TopologyProbes[p])
					}
				}
			}
			// As the guide shows them.
			if !slices.Contains(st.Probes, "fabric") || !slices.Contains(st.Probes, "peering") {
				return fmt.Errorf("Probes %v", st.Probes)
			}
			return nil
		})
		out, err := l.cli("query", "G.V().Has('Type','host').Count()")
		if err != nil || strings.TrimSpace(out) != "3" {
			t.Fatalf("host count: %v %q", err, out)
		}
	})

	t.Run("the guide's capture queries", func(t *testing.T) {
		l.wantNames(t, 20*time.Second, fmt.Sprintf("G.V().Has('ExtID.vm-id', '%s').Values('Name')", i1.vmID), i1.tap)
		l.wantNames(t, 20*time.Second, fmt.Sprintf("G.V().Has('Neutron.IPV4', IPRange('%s/32')).Values('Name')", i2.ip), i2.tap)
		// Inside the instance: its eth0, owned by the instance's namespace.
		l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('IPV4', '%s/24').InE('RelationType', 'ownership').InV().Values('Name')", i1.ip), "instance-1")
		l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('IPV4', IPRANGE('%s/32')).Values('Name')", i2.ip), "eth0")
		l.wantNames(t, 10*time.Second, "G.V().Has('Neutron.NetworkName', 'net2', 'Type', 'veth').Has('ExtID.vm-id').Values('Name')", i3.tap)
	})

	t.Run("flows between two instances on two computes", func(t *testing.T) {
		tid1 := l.capture(t, fmt.Sprintf("G.V().Has('ExtID.vm-id', '%s')", i1.vmID), i1.tap)
		tid2 := l.capture(t, fmt.Sprintf("G.V().Has('Neutron.IPV4', IPRange('%s/32'))", i2.ip), i2.tap)
		underlay := l.capture(t, "G.V().Has('Type', 'host', 'Name', 'compute-1').Out().Has('Name', 'eth0')", "eth0")
		ping(t, i1.ns, i2.ip, 5)
		var at1, at2 labFlow
		testutil.Eventually(t, 15*time.Second, "the guide's Flows row at both ends", func() error {
			fs, err := l.flows(fmt.Sprintf("G.Flows().Has('Application', 'ICMPv4', 'Network.A', '%s', 'Network.B', '%s')", i1.ip, i2.ip))
			if err != nil {
				return err
			}
			var ok1, ok2 bool
			for _, f := range fs {
				done := f.Metric.ABPackets >= 5 && f.Metric.BAPackets >= 5 && f.Metric.ABBytes > 0 && f.Metric.BABytes > 0 && f.Metric.RTT > 0
				switch {
				case f.NodeTID == tid1 && done:
					at1, ok1 = f, true
				case f.NodeTID == tid2 && done:
					at2, ok2 = f, true
				}
			}
			if !ok1 || !ok2 {
				return fmt.Errorf("flows %+v", fs)
			}
			return nil
		})
		if at1.TrackingID == "" || at1.TrackingID != at2.TrackingID {
			t.Errorf("TrackingID at compute-1 %q, at compute-2 %q", at1.TrackingID, at2.TrackingID)
		}
		testutil.Eventually(t, 15*time.Second, "outer VXLAN flow on compute-1's underlay", func() error {
			fs, err := l.flows(fmt.Sprintf("G.Flows().Has('NodeTID', '%s', 'LayersPath', Regex('.*VXLAN.*'))", underlay))
			if err != nil {
				return err
			}
			for _, f := range fs {
				if f.Network != nil && f.Network.ID > 0 && (f.Network.A == "10.250.0.11" || f.Network.B == "10.250.0.11") {
					return nil
				}
			}
			return fmt.Errorf("no outer VXLAN flow with a VNI from 10.250.0.11: %+v", fs)
		})
		// The inner flows the underlay decoded carry the same TrackingID.
		testutil.Eventually(t, 10*time.Second, "inner flow at the underlay", func() error {
			fs, err := l.flows(fmt.Sprintf("G.Flows().Has('NodeTID', '%s', 'Application', 'ICMPv4', 'TrackingID', '%s')", underlay, at1.TrackingID))
			if err != nil {
				return err
			}
			if len(fs) == 0 {
				return fmt.Errorf("none")
			}
			return nil
		})
	})

	t.Run("across the router the same L3TrackingID", func(t *testing.T) {
		tid3 := l.capture(t, fmt.Sprintf("G.V().Has('ExtID.vm-id', '%s')", i3.vmID), i3.tap)
		tid1, err := oneNode(l.c, fmt.Sprintf("G.V().Has('ExtID.vm-id', '%s')", i1.vmID))
		if err != nil {
			t.Fatal(err)
		}
		ping(t, i1.ns, i3.ip, 3)
		testutil.Eventually(t, 15*time.Second, "flows on both sides of the router", func() error {
			fs, err := l.flows(fmt.Sprintf("G.Flows().Has('Application', 'ICMPv4', 'Network.A', '%s', 'Network.B', '%s')", i1.ip, i3.ip))
			if err != nil {
				return err
			}
			var a, b *labFlow
			for i := range fs {
				switch fs[i].NodeTID {
				case tid1.Metadata["TID"]:
					a = &fs[i]
				case tid3:
					b = &fs[i]
				}
			}
			if a == nil || b == nil {
				return fmt.Errorf("flows %+v", fs)
			}
			if a.L3TrackingID == "" || a.L3TrackingID != b.L3TrackingID {
				return fmt.Errorf("L3TrackingID %q vs %q", a.L3TrackingID, b.L3TrackingID)
			}
			if a.TrackingID == b.TrackingID {
				return fmt.Errorf("the router rewrites MACs, yet the L2 TrackingID is the same: %q", a.TrackingID)
			}
			return nil
		})
	})

	t.Run("a new fixed IP is seen within 10 s", func(t *testing.T) {
		// Another address of the same subnet for instance-2's port.
		body := `{"port":{"fixed_ips":[{"ip_address":"192.168.10.250"}]}}`
		if out, err := l.neutron("PUT", "/ports/"+i2.portID, body); err != nil {
			t.Fatalf("PUT port: %v: %s", err, out)
		}
		changed := time.Now()
		l.wantNames(t, 10*time.Second, "G.V().Has('Neutron.IPV4', '192.168.10.250/24').Values('Name')", i2.tap)
		t.Logf("new fixed IP seen %s after the PUT", time.Since(changed).Round(100*time.Millisecond))
	})

	t.Run("one port list per poll interval per agent", func(t *testing.T) {
		logData, err := os.ReadFile(filepath.Join(l.dir, "neutron", "neutron-server.log"))
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(l.start)
		re := regexp.MustCompile(`(10\.250\.0\.1[0-2]) "GET /v2.0/ports HTTP`)
		per := map[string]int{}
		for _, m := range re.FindAllStringSubmatch(string(logData), -1) {
			per[m[1]]++
		}
		max := int(elapsed/(5*time.Second)) + 2
		for _, ip := range []string{"10.250.0.10", "10.250.0.11", "10.250.0.12"} {
			if per[ip] == 0 || per[ip] > max {
				t.Errorf("agent %s listed ports %d times in %s (at most %d)", ip, per[ip], elapsed.Round(time.Second), max)
			}
		}
		t.Logf("port lists per agent in %s: %v (at most %d)", elapsed.Round(time.Second), per, max)
	})

	t.Run("OVN mapping edges", func(t *testing.T) {
		for _, i := range []instance{i1, i2, i3} {
			l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('Type', 'logical_port', 'Name', '%s').OutE('RelationType', 'mapping').OutV().Values('Name')", i.portID), i.tap)
		}
		l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('Type', 'logical_switch', 'Name', 'neutron-%s').Out('Type', 'logical_port').Out('Type', 'logical_router_port').In('Type', 'logical_router').Dedup().Values('Type')", l.networks["net1"]), "logical_router")
	})

	t.Run("fabric and LLDP", func(t *testing.T) {
		l.wantNames(t, 10*time.Second, "G.V().Has('Probe', 'fabric').Values('Name')", "tor1", "port1", "port2", "port3")
		for port, host := range map[string]string{"port1": "controller", "port2": "compute-1", "port3": "compute-2"} {
			l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('Probe', 'fabric', 'Name', '%s').Out().In('Type', 'host').Values('Name')", port), host)
		}
		// The management switch's lldpd, seen from every node's eth0.
		l.wantNames(t, 20*time.Second, "G.V().Has('Type', 'switchport').Out('Name', 'eth0').In('Type', 'host').Values('Name')", "compute-1", "compute-2", "controller")
		l.wantNames(t, 5*time.Second, "G.V().Has('Type', 'switch').Dedup('Name').Values('Name')", "tor-mgmt")
	})

	t.Run("libvirt domains appear and go", func(t *testing.T) {
		uri := fmt.Sprintf("test+unix:///default?socket=%s/compute-1/libvirt/libvirt-sock", l.dir)
		xml := filepath.Join(t.TempDir(), "domain.xml")
		if err := os.WriteFile(xml, []byte(fmt.Sprintf(`<domain type='test'><name>instance-1</name><uuid>%s</uuid><memory>65536</memory>
<os><type>hvm</type></os><devices><interface type='ethernet'><mac address='%s'/><target dev='%s'/><model type='virtio'/></interface></devices></domain>`,
			i1.vmID, i1.mac, i1.tap)), 0o644); err != nil {
			t.Fatal(err)
		}
		virsh := func(args ...string) {
			t.Helper()
			if out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("virsh %v: %v: %s", args, err, out)
			}
		}
		virsh("define", xml)
		virsh("start", "instance-1")
		l.wantNames(t, 10*time.Second, "G.V().Has('Type', 'libvirt', 'Name', 'instance-1', 'State', 'UP').In('Type', 'host').Values('Name')", "compute-1")
		l.wantNames(t, 10*time.Second, fmt.Sprintf("G.V().Has('Type', 'libvirt', 'Name', 'instance-1').InE('RelationType', 'vlayer2').InV().Has('Libvirt.MAC', '%s').Values('Name')", i1.mac), i1.tap)
		virsh("destroy", "instance-1")
		l.wantNames(t, 10*time.Second, "G.V().Has('Type', 'libvirt', 'Name', 'instance-1').Values('State')", "DOWN")
		virsh("undefine", "instance-1")
		l.wantNames(t, 10*time.Second, "G.V().Has('Type', 'libvirt', 'Name', 'instance-1').Values('Name')")
		// The test driver's own domain, on every node, stays.
		l.wantNames(t, 5*time.Second, "G.V().Has('Type', 'libvirt').Values('Name')", "test", "test", "test")
		// The tap keeps the peer MAC Neutron gives it (libvirt gave the
		// same, and took its own back): it stays joined to the instance.
		l.wantNames(t, 5*time.Second, fmt.Sprintf("G.V().Has('PeerIntfMAC', '%s').Values('Name')", i1.mac), i1.tap)
		l.wantNames(t, 5*time.Second, fmt.Sprintf("G.V().Has('IPV4', IPV4RANGE('%s/32')).Both('Name', '%s').Values('Name')", i1.ip, i1.tap), i1.tap)
	})

	t.Run("a runc container appears linked to its namespace", func(t *testing.T) {
		root := filepath.Join(l.dir, "compute-2", "runc")
		id := "web-" + uniq()
		bundle := runctest.Bundle(t, "")
		// In compute-2's runc root; runc itself runs here, where the
		// cgroups are mounted (ip netns exec remounts /sys without them).
		if err := runctest.Run(t, root, "run", "-d", "--bundle", bundle, id); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = exec.Command("runc", "--root", root, "delete", "-f", id).Run() })
		l.wantNames(t, 15*time.Second, fmt.Sprintf("G.V().Has('Type', 'container', 'Container.ID', '%s', 'Container.Runtime', 'runc').In('Type', 'netns').Values('Manager')", id), "runc")
		l.wantNames(t, 5*time.Second, fmt.Sprintf("G.V().Has('Type', 'container', 'Name', '%s').In().In('Type', 'host').Values('Name')", id), "compute-2")
		if err := runctest.Run(t, root, "delete", "-f", id); err != nil {
			t.Fatal(err)
		}
		l.wantNames(t, 15*time.Second, fmt.Sprintf("G.V().Has('Type', 'container', 'Name', '%s').Values('Name')", id))
	})

	// The guide's first reason to run Skydive, packet loss, answered by one
	// command: the bridge under the computes (br-mgmt, which the fabric
	// probe declares as tor1) drops 30% of compute-1's VXLAN packets to
	// compute-2; the trace names the place and the count nft gives.
	t.Run("trace locates a loss on the underlay", func(t *testing.T) {
		// Known neighbours: no ARP inside the tunnel for the rule to drop.
		for _, p := range [][2]instance{{i1, i2}, {i2, i1}} {
			if out, err := exec.Command("ip", "-n", p[0].ns, "neigh", "replace", p[1].ip, "lladdr", p[1].mac, "dev", "eth0", "nud", "permanent").CombinedOutput(); err != nil {
				t.Fatalf("neigh: %v: %s", err, out)
			}
		}
		l.traceCaptures(t, i1, i2)
		rule := l.dropVXLAN(t, "c1", "c2")
		const requests = 60
		pingLossy(t, i1.ns, i2.ip, requests)
		dropped := rule.count(t)
		if dropped == 0 || dropped >= requests {
			t.Fatalf("the rule dropped %d of %d packets", dropped, requests)
		}
		tr := l.settledTrace(t, i1, i2, requests, 6)
		if len(tr.Loss) != 1 {
			t.Fatalf("losses %+v, want one (nft dropped %d)\n%s", tr.Loss, dropped, l.traceText(i1, i2))
		}
		loss := tr.Loss[0]
		if loss.Direction != "AB" || loss.From != "eth0" || loss.FromHost != "compute-1" || loss.To != "eth0" || loss.ToHost != "compute-2" {
			t.Errorf("loss %+v, want AB from compute-1's eth0 to compute-2's", loss)
		}
		if d := loss.Lost - dropped; d < -2 || d > 2 || loss.Of != requests {
			t.Errorf("lost %d of %d, nft counted %d drops of %d requests", loss.Lost, loss.Of, dropped, requests)
		}
		if !slices.Contains(loss.Via, "tor1") {
			t.Errorf("via %v, want the bridge (tor1)", loss.Via)
		}
		if tr.Hops[2].Tunnel == nil || tr.Hops[2].Tunnel.A != "10.250.0.11" || tr.Hops[2].Tunnel.ID == 0 {
			t.Errorf("compute-1's underlay hop %+v, want the outer VXLAN flow", tr.Hops[2])
		}
		t.Logf("trace:\n%s", l.traceText(i1, i2))

		rule.delete(t)
		pingLossy(t, i1.ns, i2.ip, requests/2)
		if tr := l.settledTrace(t, i1, i2, requests/2, 6); len(tr.Loss) != 0 {
			t.Errorf("without the rule: losses %+v", tr.Loss)
		}
	})

	// The latency map on request: pings injected between every pair of
	// nodes over their management subnet; the controller's pairs come from
	// them alone (no instance traffic reaches it).
	t.Run("latency map from injected pings", func(t *testing.T) {
		type latencyMap struct {
			Pairs []struct {
				A, B string
				RTT  struct {
					Min   float64
					Count int
				}
			}
		}
		counts := func(raw []byte) map[string]int {
			var m latencyMap
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			out := map[string]int{}
			for _, p := range m.Pairs {
				if p.RTT.Min > 0 {
					out[p.A+"-"+p.B] = p.RTT.Count
				}
			}
			return out
		}
		before, err := l.c.Do(context.Background(), "GET", "/api/latency?since=1h", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		full := []string{"netns", "exec", l.prefix + "-ctl", skydiveBin, "client", "--analyzer", labAnalyzer, "latency", "--since", "1h", "--ping", "3", "--json"}
		cmd := exec.Command("ip", full...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("latency --ping: %v: %s", err, stderr.String())
		}
		for _, want := range []string{"pinging 10.250.0.12 from eth0 of compute-1", "pinging 10.250.0.10 from eth0 of compute-1", "pinging 10.250.0.10 from eth0 of compute-2"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("progress %q lacks %q", stderr.String(), want)
			}
		}
		// Each injection is one more flow, one more RTT sample per pair.
		was, now := counts(before), counts(out)
		for _, pair := range []string{"compute-1-compute-2", "compute-1-controller", "compute-2-controller"} {
			if now[pair] < was[pair]+1 {
				t.Errorf("pair %s: %d RTT samples, %d before the pings: %s", pair, now[pair], was[pair], out)
			}
		}
		t.Logf("%ssamples per pair before %v, after %v", stderr.String(), was, now)
	})

	// The guide's MTU check on the overlay: compute-1's underlay lowered to
	// 1400 under a VXLAN that may not fragment (df set); the audit of the
	// path from instance-1 to its tunnel names eth0 and 1350, and a ping
	// with DF between the instances passes at 1350 bytes and not one more.
	t.Run("MTU audit names the underlay that is too small", func(t *testing.T) {
		vx := "vxlan-" + l.vnis["net1"]
		ns := l.prefix + "-c1"
		run := func(args ...string) {
			t.Helper()
			if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
		run("link", "set", vx, "type", "vxlan", "df", "set")
		run("link", "set", "eth0", "mtu", "1400")
		t.Cleanup(func() {
			_ = exec.Command("ip", "-n", ns, "link", "set", "eth0", "mtu", "1500").Run()
			_ = exec.Command("ip", "-n", ns, "link", "set", vx, "type", "vxlan", "df", "unset").Run()
		})
		l.wantNames(t, 15*time.Second, "G.V().Has('Type', 'host', 'Name', 'compute-1').Out('Name', 'eth0', 'MTU', 1400).Values('Name')", "eth0")
		q := fmt.Sprintf("G.V().Has('IPV4', IPV4RANGE('%s/32')).ShortestPathTo(Metadata('Type', 'vxlan', 'Name', '%s'), Metadata('RelationType', 'layer2')).MTUAudit()", i1.ip, vx)
		var audits []mtuAudit
		testutil.Eventually(t, 10*time.Second, "the audit", func() error {
			raw, err := l.c.Query(context.Background(), q)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &audits); err != nil {
				return err
			}
			if len(audits) != 1 || audits[0].MaxPacket != 1350 || audits[0].Bottleneck != "eth0" || !strings.Contains(audits[0].Verdict, "1350") {
				return fmt.Errorf("%s: %s", q, raw)
			}
			return nil
		})
		t.Logf("verdict: %s", audits[0].Verdict)
		dfPing := func(size int) error {
			return exec.Command("ip", "netns", "exec", i1.ns, "ping", "-M", "do", "-s", fmt.Sprint(size), "-c", "2", "-i", "0.2", "-W", "1", i2.ip).Run()
		}
		if err := dfPing(audits[0].MaxPacket - 28); err != nil {
			t.Errorf("ping -M do -s %d: %v, want replies", audits[0].MaxPacket-28, err)
		}
		if err := dfPing(audits[0].MaxPacket - 27); err == nil {
			t.Errorf("ping -M do -s %d passed: the audit's %d is not the largest", audits[0].MaxPacket-27, audits[0].MaxPacket)
		}
	})

	// Last: it stops neutron-server.
	t.Run("neutron away shows in status, and comes back", func(t *testing.T) {
		dir := filepath.Join(l.dir, "neutron")
		if out, err := exec.Command(filepath.Join("..", "..", "scripts", "neutron-server.sh"), "stop", dir).CombinedOutput(); err != nil {
			t.Fatalf("stop neutron: %v: %s", err, out)
		}
		probeStates := func() (map[string]string, error) {
			out, err := l.cli("status")
			if err != nil {
				return nil, fmt.Errorf("%v: %s", err, out)
			}
			var st struct {
				Agents map[string]struct {
					IsConnected    bool
					TopologyProbes map[string]string
				}
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				return nil, err
			}
			states := map[string]string{}
			for h, a := range st.Agents {
				if !a.IsConnected {
					return nil, fmt.Errorf("agent %s disconnected", h)
				}
				states[h] = a.TopologyProbes["neutron"]
			}
			if len(states) != 3 {
				return nil, fmt.Errorf("agents %v", states)
			}
			return states, nil
		}
		testutil.Eventually(t, 20*time.Second, "neutron probes in error", func() error {
			states, err := probeStates()
			if err != nil {
				return err
			}
			for h, s := range states {
				if !strings.HasPrefix(s, "error:") {
					return fmt.Errorf("%s: %q", h, s)
				}
			}
			return nil
		})
		// The enrichment stays while Neutron is away.
		l.wantNames(t, 5*time.Second, fmt.Sprintf("G.V().Has('Neutron.PortID', '%s').Values('Name')", i1.portID), i1.tap)
		if out, err := exec.Command("ip", "netns", "exec", l.prefix+"-ctl", filepath.Join("..", "..", "scripts", "neutron-server.sh"),
			"start", dir, "9696", "10.250.0.10").CombinedOutput(); err != nil {
			t.Fatalf("restart neutron: %v: %s", err, out)
		}
		testutil.Eventually(t, 30*time.Second, "neutron probes running again", func() error {
			states, err := probeStates()
			if err != nil {
				return err
			}
			for h, s := range states {
				if s != "running" {
					return fmt.Errorf("%s: %q", h, s)
				}
			}
			return nil
		})
	})

	// After every other: an agent killed while a flow crosses its host.
	t.Run("a killed agent makes the trace incomplete", func(t *testing.T) {
		done := make(chan []byte, 1)
		cmd := exec.Command("ip", "netns", "exec", i1.ns, "ping", "-c", "40", "-i", "0.1", "-W", "1", i2.ip)
		go func() { out, _ := cmd.CombinedOutput(); done <- out }()
		time.Sleep(time.Second) // the ping is under way: the kill falls in its window
		pid, err := os.ReadFile(filepath.Join(l.dir, "compute-2", "agent.pid"))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("kill", "-9", strings.TrimSpace(string(pid))).CombinedOutput(); err != nil {
			t.Fatalf("kill: %v %s", err, out)
		}
		<-done
		testutil.Eventually(t, 20*time.Second, "a trace naming the killed agent", func() error {
			for _, tr := range l.traces(i1, i2) {
				if len(tr.Hops) == 0 || tr.Hops[0].AB.Packets != 40 {
					continue
				}
				for _, why := range tr.Incomplete {
					if strings.Contains(why, "agent compute-2 disconnected") {
						return nil
					}
				}
				return fmt.Errorf("incomplete %q", tr.Incomplete)
			}
			return fmt.Errorf("no trace of the 40 requests:\n%s", l.traceText(i1, i2))
		})
	})
}

type labTrace struct {
	TrackingID string
	Hops       []struct {
		Node, Name, Host string
		AB, BA           struct{ Packets, Bytes int64 }
		Tunnel           *struct {
			A, B string
			ID   int64
		}
	}
	Loss []struct {
		From, To, FromHost, ToHost, Direction string
		Lost, Of                              int64
		Via                                   []string
	}
	Incomplete []string
}

// traceCaptures starts, with the CLI, the captures a trace between two
// instances needs, and waits until they all run.
func (l *lab) traceCaptures(t *testing.T, a, b instance) {
	t.Helper()
	out, err := l.cli("trace", "--src", a.ip, "--dst", b.ip, "--capture")
	if err != nil {
		t.Fatalf("trace --capture: %v: %s", err, out)
	}
	m := regexp.MustCompile(`capture (\S+) started on (\d+) interfaces`).FindStringSubmatch(out)
	if m == nil || m[2] != "6" {
		t.Fatalf("trace --capture: %s (want 6 interfaces: both instances' eth0, their taps, both underlays)", out)
	}
	testutil.Eventually(t, 20*time.Second, "trace captures active", func() error {
		ns, err := queryNodes(l.c, fmt.Sprintf("G.V().Has('Captures.ID', '%s', 'Captures.State', 'active')", m[1]))
		if err != nil {
			return err
		}
		if len(ns) != 6 {
			return fmt.Errorf("%d interfaces capturing", len(ns))
		}
		return nil
	})
}

type nftRule struct{ ns, table string }

// dropVXLAN makes the lab's management bridge drop 30% of the VXLAN packets
// from one node's port to another's.
func (l *lab) dropVXLAN(t *testing.T, from, to string) nftRule {
	t.Helper()
	r := nftRule{ns: l.prefix + "-mgmt", table: "trace" + uniq()}
	nft := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", r.ns, "nft"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v: %s", args, err, out)
		}
	}
	nft("add", "table", "bridge", r.table)
	nft("add", "chain", "bridge", r.table, "drops", "{ type filter hook forward priority 0; }")
	nft("add", "rule", "bridge", r.table, "drops", "iifname", "m-"+from, "oifname", "m-"+to,
		"udp", "dport", "4789", "numgen", "random", "mod", "10", "<", "3", "counter", "drop")
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "exec", r.ns, "nft", "delete", "table", "bridge", r.table).Run()
	})
	return r
}

func (r nftRule) count(t *testing.T) int64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", r.ns, "nft", "list", "table", "bridge", r.table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no counter in %s", out)
	}
	var n int64
	fmt.Sscan(m[1], &n)
	return n
}

func (r nftRule) delete(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", r.ns, "nft", "delete", "table", "bridge", r.table).CombinedOutput(); err != nil {
		t.Fatalf("nft delete: %v: %s", err, out)
	}
}

// pingLossy pings with losses allowed: what counts is what the trace says.
func pingLossy(t *testing.T, ns, ip string, count int) {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "exec", ns, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", ip).CombinedOutput()
	if !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted", count)) {
		t.Fatalf("ping: %s", out)
	}
}

func (l *lab) traces(a, b instance) []labTrace {
	out, err := l.cli("trace", "--src", a.ip, "--dst", b.ip, "--json")
	if err != nil {
		return nil
	}
	var trs []labTrace
	_ = json.Unmarshal([]byte(out), &trs)
	return trs
}

func (l *lab) traceText(a, b instance) string {
	out, _ := l.cli("trace", "--src", a.ip, "--dst", b.ip)
	return out
}

// settledTrace waits for the trace of the ping of `requests` requests to
// have its hops, and their counts to stay the same for 2.5 s: every capture
// has reported the end of the ping (flow updates every second).
func (l *lab) settledTrace(t *testing.T, a, b instance, requests int64, hops int) labTrace {
	t.Helper()
	var last string
	var since time.Time
	var found labTrace
	testutil.Eventually(t, 30*time.Second, "a settled trace", func() error {
		for _, tr := range l.traces(a, b) {
			if len(tr.Hops) != hops || tr.Hops[0].AB.Packets != requests {
				continue
			}
			b, _ := json.Marshal(tr.Hops)
			if key := string(b); key != last {
				last, since = key, time.Now()
			}
			found = tr
			if time.Since(since) < 2500*time.Millisecond {
				return fmt.Errorf("counts moved in the last 2.5 s: %s", last)
			}
			return nil
		}
		return fmt.Errorf("no trace of %d requests over %d hops:\n%s", requests, hops, l.traceText(a, b))
	})
	return found
}

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/latency"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// bindNetns makes namespace ns (of /var/run/netns) visible in dir, the
// netns run_path of one agent: each agent then sees its own namespace only.
func bindNetns(t *testing.T, dir, ns string) {
	t.Helper()
	f := filepath.Join(dir, ns)
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Sh(t, "mount", "--bind", filepath.Join("/var/run/netns", ns), f)
	t.Cleanup(func() { _ = exec.Command("umount", f).Run() })
}

var pingRTT = regexp.MustCompile(`rtt min/avg/max/mdev = ([0-9.]+)/([0-9.]+)/([0-9.]+)/`)

// TestLatencyMap: two agents of different host_ids on this machine, each
// seeing one namespace of a veth pair (its netns probe watches its own
// run_path), report to one analyzer; a ping between the namespaces gives
// the pair of hosts an RTT within ping's min..max.
func TestLatencyMap(t *testing.T) {
	p := uniq()
	ns1, ns2, v1, v2, ip1, ip2 := vethPair(t, p, 231)
	_ = ip1
	run1, run2 := t.TempDir(), t.TempDir()
	bindNetns(t, run1, ns1)
	bindNetns(t, run2, ns2)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h1, h2 := "e2e-"+p+"-h1", "e2e-"+p+"-h2"
	start(t, writeConf(t, fmt.Sprintf("host_id: e2e-%s-an\nanalyzer:\n  listen: %s\n  data_dir: %s\n", p, addr, t.TempDir())), "analyzer")
	for _, h := range []struct{ id, run string }{{h1, run1}, {h2, run2}} {
		start(t, writeConf(t, fmt.Sprintf("host_id: %s\nanalyzers: [%s]\nagent:\n  listen: 127.0.0.1:%d\n  topology:\n    netns:\n      run_path: %s\n",
			h.id, addr, freePort(t), h.run)), "agent")
	}
	c := client.New(addr)
	waitAgent(t, c, h1)
	waitAgent(t, c, h2)
	for _, x := range []struct{ name, host string }{{v1, h1}, {v2, h2}} {
		testutil.Eventually(t, 10*time.Second, x.name+" on "+x.host, func() error {
			ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', '%s')", x.name))
			if err != nil {
				return err
			}
			if len(ns) != 1 || ns[0].Host != x.host {
				return fmt.Errorf("nodes %+v", ns)
			}
			return nil
		})
	}
	id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', WITHIN('%s', '%s'))", v1, v2), "--bpf", "icmp")
	waitCaptureActive(t, c, v1, id)
	waitCaptureActive(t, c, v2, id)

	// A loopback veth answers in tens of µs, the scale of ping's own
	// overhead, which the wire RTT of the flows does not include. So the
	// first exchange is made slow on the wire: ns1 knows ns2's MAC (a
	// permanent neighbour) but ignores ARP for 300 ms, and ns2 holds its
	// first echo replies until it resolves ns1. Ping's max is then that
	// first exchange, the flows' RTT just under it, far above ping's min.
	mac := strings.TrimSpace(testutil.Sh(t, "ip", "netns", "exec", ns2, "cat", "/sys/class/net/"+v2+"/address"))
	testutil.Sh(t, "ip", "-n", ns1, "neigh", "replace", ip2, "lladdr", mac, "dev", v1, "nud", "permanent")
	testutil.Sh(t, "ip", "netns", "exec", ns1, "sysctl", "-qw", "net.ipv4.conf."+v1+".arp_ignore=8")
	testutil.Sh(t, "ip", "netns", "exec", ns2, "sysctl", "-qw", "net.ipv4.neigh."+v2+".retrans_time_ms=50",
		"net.ipv4.neigh."+v2+".mcast_solicit=30")
	ping := exec.Command("ip", "netns", "exec", ns1, "ping", "-c", "10", "-i", "0.2", ip2)
	var out strings.Builder
	ping.Stdout, ping.Stderr = &out, &out
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	testutil.Sh(t, "ip", "netns", "exec", ns1, "sysctl", "-qw", "net.ipv4.conf."+v1+".arp_ignore=0")
	if err := ping.Wait(); err != nil {
		t.Fatalf("ping: %v: %s", err, out.String())
	}
	mm := pingRTT.FindStringSubmatch(out.String())
	if mm == nil {
		t.Fatalf("no rtt line in %q", out.String())
	}
	pmin, _ := strconv.ParseFloat(mm[1], 64)
	pmax, _ := strconv.ParseFloat(mm[3], 64)
	t.Logf("ping rtt min %.3f max %.3f ms", pmin, pmax)

	var pair latency.Pair
	testutil.Eventually(t, 20*time.Second, "latency pair "+h1+" "+h2, func() error {
		raw, err := c.Do(context.Background(), "GET", "/api/latency?since=5m", nil, nil)
		if err != nil {
			return err
		}
		var m latency.Map
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%w: %s", err, raw)
		}
		var ok bool
		if pair, ok = m.Pair(h1, h2); !ok || pair.RTT.Count < 2 {
			return fmt.Errorf("no pair (or one capture's sample only) in %s", raw)
		}
		for _, h := range []string{h1, h2} {
			if !strings.Contains(strings.Join(m.Hosts, " "), h) {
				return fmt.Errorf("hosts %v lack %s", m.Hosts, h)
			}
		}
		for _, q := range m.Pairs {
			if (q.A == h1 || q.B == h1 || q.A == h2 || q.B == h2) && !(q.A == pair.A && q.B == pair.B) {
				return fmt.Errorf("unexpected pair %+v", q)
			}
		}
		return nil
	})
	r := pair.RTT
	t.Logf("latency %s-%s: %+v", pair.A, pair.B, r)
	if r.Count < 1 || r.Median < pmin || r.Median > pmax || r.Min > r.Median || r.Median > r.Max {
		t.Fatalf("RTT %+v not within ping's %.3f..%.3f ms", r, pmin, pmax)
	}

	// The CLI's matrix: both hosts, the median in ms.
	cliOut, err := cli(addr, "latency", "--since", "5m")
	if err != nil {
		t.Fatalf("client latency: %v: %s", err, cliOut)
	}
	if !containsAll(cliOut, h1, h2, fmt.Sprintf("%.3f", r.Median)) {
		t.Fatalf("client latency output lacks the hosts or %.3f:\n%s", r.Median, cliOut)
	}
	if raw, err := c.Do(context.Background(), "GET", "/api/latency?since=nope", nil, nil); err == nil {
		t.Fatalf("since=nope answered %s", raw)
	}
}

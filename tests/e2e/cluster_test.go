//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// etcdCluster starts a three-member etcd (Debian's etcd-server) on
// loopback; it returns the client URLs.
func etcdCluster(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Fatal("etcd is not installed (make deps: etcd-server)")
	}
	type member struct{ name, client, peer string }
	var ms []member
	var initial []string
	for i := 1; i <= 3; i++ {
		m := member{name: fmt.Sprintf("e%d", i), client: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			peer: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		ms = append(ms, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	var urls []string
	token := "skydive-e2e-" + uniq()
	for _, m := range ms {
		cmd := exec.Command("etcd", "--name", m.name, "--data-dir", t.TempDir(),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token, "--log-level", "error")
		logs := &syncWriter{buf: &bytes.Buffer{}}
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("etcd %s:\n%s", m.name, logs.String())
			}
		})
		urls = append(urls, m.client)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	for _, u := range urls {
		testutil.Eventually(t, 20*time.Second, "etcd "+u+" healthy", func() error {
			resp, err := hc.Get(u + "/health")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"true"`) {
				return fmt.Errorf("%s", body)
			}
			return nil
		})
	}
	return urls
}

// alertHook records the alert notifications it receives, by alert UUID.
type alertHook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]time.Time
}

func newAlertHook(t *testing.T) *alertHook {
	w := &alertHook{got: map[string][]time.Time{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var am v1.AlertMessage
		if err := json.NewDecoder(r.Body).Decode(&am); err == nil {
			w.mu.Lock()
			w.got[am.UUID] = append(w.got[am.UUID], time.Now())
			w.mu.Unlock()
		}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *alertHook) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got[id])
}

// clusterPost creates a resource on an analyzer and returns its UUID.
func clusterPost(t *testing.T, c *client.Client, path string, body any) string {
	t.Helper()
	raw, err := c.Do(context.Background(), http.MethodPost, path, body, nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	var r struct{ UUID string }
	if err := json.Unmarshal(raw, &r); err != nil || r.UUID == "" {
		t.Fatalf("POST %s answered %s (%v)", path, raw, err)
	}
	return r.UUID
}

// clusterListed tells whether GET path (a resource list) has id.
func clusterListed(c *client.Client, path, id string) error {
	raw, err := c.Do(context.Background(), http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if _, ok := m[id]; !ok {
		return fmt.Errorf("%s has no %s", path, id)
	}
	return nil
}

func clusterCount(c *client.Client, q string) (int, error) {
	raw, err := c.Query(context.Background(), q)
	if err != nil {
		return 0, err
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%s: %s (%v)", q, raw, err)
	}
	return n, nil
}

// TestCluster: three analyzers on a real three-member etcd, two agents
// listing them in different orders. Every analyzer answers for the whole
// graph and lists what any of them created; when the leader is killed
// (kill -9), another leads within 10 s, the leader's agent fails over
// without duplicates, its capture keeps producing flows, an alert notified
// before is not notified again and one that becomes true afterwards is
// notified once; nothing created before is lost.
func TestCluster(t *testing.T) {
	etcd := etcdCluster(t)
	p := uniq()
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	list := "[" + strings.Join(addrs, ", ") + "]"
	analyzers := make([]*process, 3)
	clients := make([]*client.Client, 3)
	startAnalyzer := func(i int) {
		conf := writeConf(t, fmt.Sprintf(`host_id: %s-an%d
analyzers: %s
analyzer:
  listen: %s
  data_dir: %s
etcd:
  servers: [%s]
http:
  ws:
    ping_delay: 1
    pong_timeout: 3
logging:
  level: info
`, p, i+1, list, addrs[i], t.TempDir(), strings.Join(etcd, ", ")))
		analyzers[i] = start(t, conf, "analyzer")
		clients[i] = client.New(addrs[i])
	}
	status := func(i int) (*v1.AnalyzerStatus, error) { return clients[i].AnalyzerStatus(context.Background()) }
	// The first analyzer up leads: the one whose agent fails over.
	startAnalyzer(0)
	testutil.Eventually(t, 15*time.Second, "first analyzer leads", func() error {
		st, err := status(0)
		if err != nil {
			return err
		}
		if !st.Alerts.IsMaster || !st.Captures.IsMaster {
			return fmt.Errorf("alerts %v captures %v", st.Alerts.IsMaster, st.Captures.IsMaster)
		}
		return nil
	})
	startAnalyzer(1)
	startAnalyzer(2)

	hosts := []string{p + "-ag1", p + "-ag2"}
	agentLists := [][]string{addrs, {addrs[1], addrs[2], addrs[0]}}
	for i, h := range hosts {
		conf := writeConf(t, fmt.Sprintf("host_id: %s\nanalyzers: [%s]\nagent:\n  listen: 127.0.0.1:%d\nhttp:\n  ws:\n    ping_delay: 1\n    pong_timeout: 3\n",
			h, strings.Join(agentLists[i], ", "), freePort(t)))
		start(t, conf, "agent")
	}
	ns1, _, v1name, _, _, ip2 := vethPair(t, p, 239)
	hostsQ := fmt.Sprintf("G.V().Has('Type', 'host').Has('Name', Within('%s', '%s')).Count()", hosts[0], hosts[1])
	for i, c := range clients {
		testutil.Eventually(t, 20*time.Second, fmt.Sprintf("analyzer %d sees both agents' graphs", i+1), func() error {
			if n, err := clusterCount(c, hostsQ); err != nil || n != 2 {
				return fmt.Errorf("%d hosts (%v)", n, err)
			}
			if n, err := clusterCount(c, fmt.Sprintf("G.V().Has('Name', '%s').Count()", v1name)); err != nil || n != 2 {
				return fmt.Errorf("%d nodes %s, want one per agent (%v)", n, v1name, err)
			}
			return nil
		})
	}
	testutil.Eventually(t, 10*time.Second, "peers connected", func() error {
		for i := range clients {
			st, err := status(i)
			if err != nil {
				return err
			}
			if len(st.Peers.Incomers) != 2 || len(st.Peers.Outgoers) != 2 {
				return fmt.Errorf("analyzer %d peers %+v", i+1, st.Peers)
			}
			for _, s := range st.Peers.Outgoers {
				if !s.IsConnected {
					return fmt.Errorf("analyzer %d: outgoer %+v", i+1, s)
				}
			}
		}
		return nil
	})
	if st, _ := status(0); !st.Agents[hosts[0]].IsConnected {
		t.Fatalf("agent 1 is not on the first analyzer: %+v", st.Agents)
	}
	for i := 1; i < 3; i++ {
		if st, _ := status(i); st.Alerts.IsMaster || st.Captures.IsMaster {
			t.Fatalf("analyzer %d leads too", i+1)
		}
	}

	// Resources made on different analyzers, listed by all.
	hook := newAlertHook(t)
	onAgent1 := fmt.Sprintf("Has('@Host', '%s')", hosts[0])
	capID := clusterPost(t, clients[2], "/api/capture", map[string]any{"GremlinQuery": fmt.Sprintf("G.V().Has('Name', '%s').%s", v1name, onAgent1), "BPFFilter": "icmp"})
	before := clusterPost(t, clients[1], "/api/alert", map[string]any{"Name": "before",
		"Expression": fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s').%s.Values('Name')", ns1, onAgent1), "Action": hook.srv.URL})
	marker := p + "m"
	after := clusterPost(t, clients[2], "/api/alert", map[string]any{"Name": "after",
		"Expression": fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s').Has('@Host', '%s').Values('Name')", marker, hosts[1]), "Action": hook.srv.URL})
	wfID := clusterPost(t, clients[1], "/api/workflow", map[string]any{"Name": "cl" + p, "Source": "function () { return 42 }"})
	ruleNode := p + "tor"
	ruleID := clusterPost(t, clients[2], "/api/noderule", map[string]any{"Name": "tor", "Action": "create",
		"Metadata": map[string]any{"Name": ruleNode, "Type": "switch"}})
	edgeRuleID := clusterPost(t, clients[0], "/api/edgerule", map[string]any{"Src": fmt.Sprintf("G.V().Has('Name', '%s')", ruleNode),
		"Dst": fmt.Sprintf("G.V().Has('Type', 'host', 'Name', '%s')", hosts[1]), "Metadata": map[string]any{"RelationType": "layer2"}})
	resources := map[string]string{"/api/capture": capID, "/api/alert": before, "/api/workflow": wfID, "/api/noderule": ruleID, "/api/edgerule": edgeRuleID}
	for i, c := range clients {
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("analyzer %d lists every resource", i+1), func() error {
			for path, id := range resources {
				if err := clusterListed(c, path, id); err != nil {
					return err
				}
			}
			return clusterListed(c, "/api/alert", after)
		})
	}
	waitCaptureActive(t, clients[0], v1name, capID)
	testutil.Eventually(t, 10*time.Second, "the alert true from the start notified once", func() error {
		if n := hook.count(before); n != 1 {
			return fmt.Errorf("%d notifications", n)
		}
		return nil
	})
	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "2", "-i", "0.2", ip2)
	flowsQ := fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", capID)
	testutil.Eventually(t, 10*time.Second, "flows on the leader", func() error {
		if fs, err := queryFlows(clients[0], flowsQ); err != nil || len(fs) == 0 {
			return fmt.Errorf("no flow: %v", err)
		}
		return nil
	})
	if fs, _ := queryFlows(clients[1], flowsQ); len(fs) != 0 {
		t.Fatalf("analyzer 2 has flows of agent 1 before the failover: %d", len(fs))
	}

	// kill -9 of the leader: within 10 s, one survivor leads (both
	// elections) and agent 1 is on analyzer 2, the next in its list.
	killed := time.Now()
	analyzers[0].kill()
	survivors := []int{1, 2}
	var leader int
	var leaderAfter, agentAfter time.Duration
	testutil.Eventually(t, 10*time.Second, "a new leader and agent 1 on analyzer 2", func() error {
		leaders, capLeaders := 0, 0
		for _, i := range survivors {
			st, err := status(i)
			if err != nil {
				return err
			}
			if st.Alerts.IsMaster {
				leaders++
				leader = i
			}
			if st.Captures.IsMaster {
				capLeaders++
			}
			if i == 1 && st.Agents[hosts[0]].IsConnected && agentAfter == 0 {
				agentAfter = time.Since(killed)
			}
		}
		if leaders == 1 && capLeaders == 1 && leaderAfter == 0 {
			leaderAfter = time.Since(killed)
		}
		if leaderAfter == 0 || agentAfter == 0 {
			return fmt.Errorf("%d alerting and %d capture leaders; agent 1 on analyzer 2 after %v", leaders, capLeaders, agentAfter)
		}
		return nil
	})
	t.Logf("after the kill: new leader (analyzer %d) in %v, agent 1 on analyzer 2 in %v", leader+1,
		leaderAfter.Round(10*time.Millisecond), agentAfter.Round(10*time.Millisecond))
	if st, _ := status(2); st.Agents[hosts[0]].IsConnected {
		t.Fatal("agent 1 on analyzer 3 too")
	}
	for _, i := range survivors {
		c := clients[i]
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("analyzer %d: both agents' graphs once, the dead analyzer's gone", i+1), func() error {
			if n, err := clusterCount(c, hostsQ); err != nil || n != 2 {
				return fmt.Errorf("%d hosts (%v)", n, err)
			}
			if n, err := clusterCount(c, fmt.Sprintf("G.V().Has('Name', '%s').Count()", v1name)); err != nil || n != 2 {
				return fmt.Errorf("%d nodes %s (%v)", n, v1name, err)
			}
			if n, err := clusterCount(c, fmt.Sprintf("G.V().Has('@Origin', 'analyzer.%s-an1').Count()", p)); err != nil || n != 0 {
				return fmt.Errorf("%d nodes of the dead analyzer (%v)", n, err)
			}
			if n, err := clusterCount(c, fmt.Sprintf("G.V().Has('Name', '%s').Count()", ruleNode)); err != nil || n != 1 {
				return fmt.Errorf("%d nodes of the node rule (%v)", n, err)
			}
			for path, id := range resources {
				if err := clusterListed(c, path, id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// The capture goes on, on agent 1's new analyzer.
	waitCaptureActive(t, clients[1], v1name, capID)
	testutil.Eventually(t, 15*time.Second, "flows after the failover", func() error {
		out, err := exec.Command("ip", "netns", "exec", ns1, "ping", "-c", "1", "-W", "1", ip2).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ping: %v %s", err, out)
		}
		if fs, err := queryFlows(clients[1], flowsQ); err != nil || len(fs) == 0 {
			return fmt.Errorf("no flow on analyzer 2: %v", err)
		}
		return nil
	})

	// An alert that becomes true now is notified once; the one notified
	// before is not again. A witness alert, evaluated after both in each
	// pass, shows that passes ran.
	netnsAdd(t, marker)
	testutil.Eventually(t, 15*time.Second, "the new alert notified", func() error {
		if n := hook.count(after); n != 1 {
			return fmt.Errorf("%d notifications", n)
		}
		return nil
	})
	witnessNS := p + "w"
	witness := clusterPost(t, clients[leader], "/api/alert", map[string]any{"Name": "witness",
		"Expression": fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s').Has('@Host', '%s').Values('Name')", witnessNS, hosts[1]), "Action": hook.srv.URL})
	netnsAdd(t, witnessNS)
	testutil.Eventually(t, 15*time.Second, "the witness notified", func() error {
		if n := hook.count(witness); n != 1 {
			return fmt.Errorf("%d notifications", n)
		}
		return nil
	})
	if b, a := hook.count(before), hook.count(after); b != 1 || a != 1 {
		t.Fatalf("notifications: before %d (want 1), after %d (want 1)", b, a)
	}
}

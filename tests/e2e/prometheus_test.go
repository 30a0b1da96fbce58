//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// TestPrometheusScrapes: a real Prometheus (Debian's) scrapes the analyzer
// and the agent; while a ping runs between two namespaces, the rate of the
// veth's received bytes is above zero; promtool checks both endpoints.
func TestPrometheusScrapes(t *testing.T) {
	for _, bin := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not installed (apt-get install prometheus): %v", bin, err)
		}
	}
	agentAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c, addr, hostID, _ := allInOneWith(t, fmt.Sprintf("agent:\n  listen: %s\n  topology:\n    netlink:\n      metrics_update: 1\n", agentAddr))

	p := uniq()
	ns1, _, _, v2, _, ip2 := vethPair(t, p, 248)
	testutil.Eventually(t, 5*time.Second, "veth seen", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v2))
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := exec.CommandContext(ctx, "ip", "netns", "exec", ns1, "ping", "-q", "-i", "0.2", "-s", "500", ip2)
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = ping.Wait() }()

	// promtool lints both expositions.
	for _, target := range []string{addr, agentAddr} {
		body := get(t, "http://"+target+"/metrics")
		check := exec.Command("promtool", "check", "metrics")
		check.Stdin = strings.NewReader(body)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on %s: %v\n%s", target, err, out)
		}
	}
	if body := get(t, "http://"+addr+"/metrics"); strings.Contains(body, "skydive_interface_") || !strings.Contains(body, "skydive_graph_nodes") {
		t.Errorf("the analyzer exposes per-interface series or lacks its own:\n%s", body)
	}

	// Prometheus scraping both every second.
	dir := t.TempDir()
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: skydive\n    static_configs:\n      - targets: ['%s', '%s']\n", addr, agentAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command("prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logs := &syncWriter{buf: &bytes.Buffer{}}
	prom.Stdout, prom.Stderr = logs, logs
	prom.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	}()
	q := fmt.Sprintf(`rate(skydive_interface_receive_bytes_total{interface=%q}[30s])`, v2)
	testutil.Eventually(t, 60*time.Second, "a rate above zero in Prometheus", func() error {
		body, err := fetch("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return err
		}
		var ans struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  []any
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &ans); err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		if len(ans.Data.Result) != 1 || len(ans.Data.Result[0].Value) != 2 {
			return fmt.Errorf("%s", body)
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(ans.Data.Result[0].Value[1]), 64)
		if v <= 0 {
			return fmt.Errorf("rate %v: %s", v, body)
		}
		if m := ans.Data.Result[0].Metric; m["host"] != hostID || m["namespace"] != p+"b" {
			return fmt.Errorf("labels %v", m)
		}
		return nil
	})
	body := get(t, "http://"+promAddr+"/api/v1/query?query="+url.QueryEscape(`up{job="skydive"}`))
	if strings.Count(body, `"1"]`) != 2 {
		t.Errorf("both targets up: %s", body)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	body, err := fetch(u)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func fetch(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b), nil
}

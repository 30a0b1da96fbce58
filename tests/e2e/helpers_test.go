//go:build e2e

// Package e2e runs the real skydive binary against the real kernel: network
// namespaces, veths and bridges made by the tests themselves. Run as root
// with `make e2e` (SKYDIVE_BIN names the binary; it is built if unset).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
)

var skydiveBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e tests need root (network namespaces): skipped")
		os.Exit(0)
	}
	skydiveBin = os.Getenv("SKYDIVE_BIN")
	if skydiveBin == "" {
		dir, err := os.MkdirTemp("", "skydive-e2e-bin")
		if err != nil {
			panic(err)
		}
		skydiveBin = filepath.Join(dir, "skydive")
		cmd := exec.Command("go", "build", "-o", skydiveBin, "../../cmd/skydive")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

// uniq returns a short unique name prefix (interface names are limited to 15 bytes).
func uniq() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "sk" + hex.EncodeToString(b)
}

func freePort(t *testing.T) int { return testutil.FreePort(t) }

// sh runs a command and fails the test if it fails.

// process is a running skydive command.
type process struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan error
}

func start(t *testing.T, conf string, args ...string) *process {
	t.Helper()
	full := append([]string{"-c", conf}, args...)
	cmd := exec.Command(skydiveBin, full...)
	logs := &bytes.Buffer{}
	pw := &syncWriter{buf: logs}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: logs, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("logs of %v:\n%s", args, pw.String())
		}
	})
	return p
}

func (p *process) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func writeConf(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "skydive.yml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// eventually polls cond until it returns nil or the deadline passes.

type node struct {
	ID       string         `json:"ID"`
	Metadata map[string]any `json:"Metadata"`
	Host     string         `json:"Host"`
}

type edge struct {
	ID       string         `json:"ID"`
	Parent   string         `json:"Parent"`
	Child    string         `json:"Child"`
	Metadata map[string]any `json:"Metadata"`
}

func queryNodes(c *client.Client, q string) ([]node, error) {
	raw, err := c.Query(context.Background(), q)
	if err != nil {
		return nil, err
	}
	var ns []node
	if err := json.Unmarshal(raw, &ns); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", q, err, raw)
	}
	return ns, nil
}

func queryEdges(c *client.Client, q string) ([]edge, error) {
	raw, err := c.Query(context.Background(), q)
	if err != nil {
		return nil, err
	}
	var es []edge
	if err := json.Unmarshal(raw, &es); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", q, err, raw)
	}
	return es, nil
}

// oneNode expects exactly one node for q.
func oneNode(c *client.Client, q string) (node, error) {
	ns, err := queryNodes(c, q)
	if err != nil {
		return node{}, err
	}
	if len(ns) != 1 {
		return node{}, fmt.Errorf("%s: %d nodes, want 1", q, len(ns))
	}
	return ns[0], nil
}

// netnsAdd creates a namespace removed at the end of the test.
func netnsAdd(t *testing.T, name string) {
	t.Helper()
	testutil.Sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
}

// linkCleanup deletes a host interface at the end of the test.
func linkCleanup(t *testing.T, name string) {
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
}

// reachable waits until ip answers a ping from namespace ns (a switch that
// is still setting its ports up drops the first packets).
func reachable(t *testing.T, ns, ip string) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, ip+" reachable from "+ns, func() error {
		out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

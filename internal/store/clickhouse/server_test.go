package clickhouse_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// server is a clickhouse-server started by a test in a temporary
// directory, on free loopback ports.
type server struct {
	dir               string
	tcpPort, httpPort int
	cmd               *exec.Cmd
}

func serverBinary() string {
	for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	// Upstream packages ship one "clickhouse" binary.
	if path, err := exec.LookPath("clickhouse"); err == nil {
		return path
	}
	return ""
}

// startServer starts a server or skips the test when no binary is
// installed (Debian: apt-get install -y clickhouse-server clickhouse-client).
func startServer(t testing.TB) *server {
	bin := serverBinary()
	if bin == "" {
		t.Skip("clickhouse-server is not installed (apt-get install -y clickhouse-server clickhouse-client): ClickHouse tests skipped")
	}
	src, err := os.ReadFile("/etc/clickhouse-server/config.xml")
	if err != nil {
		t.Skipf("clickhouse-server installed but no /etc/clickhouse-server/config.xml: %v", err)
	}
	users, err := os.ReadFile("/etc/clickhouse-server/users.xml")
	if err != nil {
		t.Skipf("no /etc/clickhouse-server/users.xml: %v", err)
	}
	dir := t.TempDir()
	s := &server{dir: dir, tcpPort: testutil.FreePort(t), httpPort: testutil.FreePort(t)}
	cfg := string(src)
	r := strings.NewReplacer(
		"/var/lib/clickhouse/", dir+"/data/",
		"/var/log/clickhouse-server/", dir+"/log/",
		"<http_port>8123</http_port>", fmt.Sprintf("<http_port>%d</http_port>", s.httpPort),
		"<tcp_port>9000</tcp_port>", fmt.Sprintf("<tcp_port>%d</tcp_port>", s.tcpPort),
		"<interserver_http_port>9009</interserver_http_port>", fmt.Sprintf("<interserver_http_port>%d</interserver_http_port>", testutil.FreePort(t)),
		"<listen_host>::1</listen_host>", "",
	)
	cfg = r.Replace(cfg)
	for _, d := range []string{"data", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.tcpPort) }

func (s *server) start(t testing.TB) {
	bin := serverBinary()
	args := []string{"--config-file=" + filepath.Join(s.dir, "config.xml")}
	if filepath.Base(bin) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	out, err := os.Create(filepath.Join(s.dir, "log", "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ping", s.httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "log", "clickhouse-server.err.log"))
	t.Fatalf("clickhouse-server did not start in 30 s:\n%s", log)
}

// stop kills the server (SIGKILL: an outage, not a clean shutdown).
func (s *server) stop(t testing.TB) {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/certtest"
)

// TestTLSAndAuth runs an allinone with TLS (client certificates required)
// and basic authentication: its own agent reaches it over wss with the
// credentials made for the run; the CLI works with --cacert/--cert/--key and
// --username/--password; a guest is refused a capture (403); an untrusted
// client certificate, no certificate, and plain HTTP are refused.
func TestTLSAndAuth(t *testing.T) {
	ca := certtest.New(t, "skydive-test")
	srvCert, srvKey := ca.Server(t, "analyzer")
	cliCert, cliKey := ca.Client(t, "operator")
	rogue := certtest.New(t, "rogue")
	rogueCert, rogueKey := rogue.Client(t, "intruder")

	hostID := "e2e-" + uniq()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := writeConf(t, fmt.Sprintf(`host_id: %s
analyzer:
  listen: %s
  data_dir: %s
  auth:
    api:
      backend: local
agent:
  listen: 127.0.0.1:%d
auth:
  local:
    type: basic
    users: {admin: admin-pw, viewer: viewer-pw}
rbac:
  policy: ["g, viewer, guest"]
tls:
  ca_cert: %s
  server_cert: %s
  server_key: %s
  client_cert: %s
  client_key: %s
  require_client_cert: true
`, hostID, addr, t.TempDir(), freePort(t), ca.CertFile, srvCert, srvKey, srvCert, srvKey))
	start(t, conf, "allinone")

	tlsArgs := []string{"--cacert", ca.CertFile, "--cert", cliCert, "--key", cliKey}
	as := func(user, pw string, args ...string) (string, error) {
		return cli(addr, append(append(append([]string{}, tlsArgs...), "--username", user, "--password", pw), args...)...)
	}
	testutil.Eventually(t, 15*time.Second, "the agent connected over wss", func() error {
		out, err := as("admin", "admin-pw", "status")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var st struct {
			Agents   map[string]struct{ IsConnected bool }
			Security struct {
				AuthBackend string
				TLS         bool
			}
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return err
		}
		if !st.Agents[hostID].IsConnected || st.Security.AuthBackend != "local" || !st.Security.TLS {
			return fmt.Errorf("status %s", out)
		}
		return nil
	})
	testutil.Eventually(t, 10*time.Second, "the host node", func() error {
		out, err := as("viewer", "viewer-pw", "query", "--gremlin", fmt.Sprintf("G.V().Has('Type', 'host', 'Name', '%s').Count()", hostID))
		if err != nil || strings.TrimSpace(out) != "1" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	// The guest reads but may not create a capture; the admin may.
	out, err := as("viewer", "viewer-pw", "capture", "create", "--gremlin", "G.V().Has('Name', 'lo')")
	if err == nil || !strings.Contains(out, "403") && !strings.Contains(out, "no 'write' permission on 'capture'") {
		t.Fatalf("guest capture create: %v %s", err, out)
	}
	if out, err := as("admin", "admin-pw", "capture", "create", "--gremlin", "G.V().Has('Name', 'lo')"); err != nil || !strings.Contains(out, "UUID") {
		t.Fatalf("admin capture create: %v %s", err, out)
	}
	if out, err := as("admin", "wrong", "status"); err == nil || !strings.Contains(out, "401") && !strings.Contains(out, "Unauthorized") {
		t.Fatalf("wrong password: %v %s", err, out)
	}

	// Refused at the handshake: no client certificate, an untrusted one,
	// an untrusted server (no --cacert), plain HTTP.
	for name, args := range map[string][]string{
		"no client certificate":        {"--cacert", ca.CertFile},
		"untrusted client certificate": {"--cacert", ca.CertFile, "--cert", rogueCert, "--key", rogueKey},
		"server not trusted":           {"--cert", cliCert, "--key", cliKey},
	} {
		out, err := cli(addr, append(args, "--username", "admin", "--password", "admin-pw", "status")...)
		if err == nil {
			t.Errorf("%s: accepted: %s", name, out)
		}
	}
	resp, err := http.Get("http://" + addr + "/api/status")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d", resp.StatusCode)
		}
	}
}

// Package keystonetest runs a real Keystone (Debian's python3-keystone:
// sqlite, fernet tokens, the public API on Python's wsgiref server) for
// tests, through scripts/keystone.sh. The script creates the project
// service, the user neutron with the roles admin and member on it, and a
// network service whose public and internal endpoints in RegionOne are the
// URL given to Start.
package keystonetest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The accounts scripts/keystone.sh creates.
const (
	Username      = "neutron"
	Password      = "neutron-secret"
	ProjectName   = "service"
	DomainName    = "Default"
	Region        = "RegionOne"
	AdminUsername = "admin"
	AdminPassword = "admin-secret" // the script's default KEYSTONE_ADMIN_PASSWORD
	AdminProject  = "admin"
)

// Keystone is a running Keystone on a loopback port.
type Keystone struct {
	Dir  string
	Port int

	t          testing.TB
	script     string
	neutronURL string

	mu      sync.Mutex
	running bool
}

// Start runs Keystone on a free loopback port in a temporary folder, its
// catalog's network endpoints at neutronURL (none if empty); it is stopped
// when the test ends. The first start takes 15 to 25 s (schema, keys and
// accounts), a restart 2 to 5 s.
func Start(t *testing.T, neutronURL string) *Keystone {
	t.Helper()
	if _, err := exec.LookPath("keystone-manage"); err != nil {
		t.Fatalf("keystone not installed (apt-get install -y --no-install-recommends python3-keystone): %v", err)
	}
	k := &Keystone{Dir: t.TempDir(), Port: freePort(t), t: t, script: scriptPath(t), neutronURL: neutronURL}
	// Registered after TempDir's own cleanup, so it runs before it: the
	// server is gone before its folder is removed.
	t.Cleanup(k.Stop)
	k.start()
	return k
}

// freePort asks the kernel for a loopback port nobody uses now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// scriptPath finds scripts/keystone.sh at the module's root.
func scriptPath(t testing.TB) string {
	t.Helper()
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dirs = append(dirs, filepath.Dir(file))
	}
	for _, d := range dirs {
		for ; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "scripts", "keystone.sh")
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				if _, err := os.Stat(p); err == nil {
					return p
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	t.Fatal("scripts/keystone.sh not found above the working directory")
	return ""
}

func (k *Keystone) start() {
	k.t.Helper()
	begin := time.Now()
	args := []string{"start", k.Dir, strconv.Itoa(k.Port), "127.0.0.1"}
	if k.neutronURL != "" {
		args = append(args, k.neutronURL)
	}
	out, err := exec.Command(k.script, args...).CombinedOutput()
	if err != nil {
		k.t.Fatalf("keystone start: %v\n%s\n%s", err, out, k.logTail())
	}
	k.mu.Lock()
	k.running = true
	k.mu.Unlock()
	k.t.Logf("keystone on %s in %s", k.AuthURL(), time.Since(begin).Round(100*time.Millisecond))
}

// logTail is the end of the server's log, for failure messages.
func (k *Keystone) logTail() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "keystone.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// AuthURL is the identity v3 API, http://127.0.0.1:PORT/v3 (the auth_url
// of OpenStack clients).
func (k *Keystone) AuthURL() string { return "http://127.0.0.1:" + strconv.Itoa(k.Port) + "/v3" }

// Stop kills the server; the database and keys stay for Restart.
func (k *Keystone) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.running {
		return
	}
	if out, err := exec.Command(k.script, "stop", k.Dir).CombinedOutput(); err != nil {
		k.t.Errorf("keystone stop: %v\n%s", err, out)
		return
	}
	k.running = false
}

// Restart starts the server again on the same port, database and keys:
// tokens issued before stay valid.
func (k *Keystone) Restart() {
	k.t.Helper()
	k.Stop()
	k.start()
}

// CountRequests counts the request lines of the server's output since its
// last (re)start that contain substr (e.g. `"POST /v3/auth/tokens `); the
// wsgiref server writes one per request.
func (k *Keystone) CountRequests(substr string) int {
	b, err := os.ReadFile(filepath.Join(k.Dir, "keystone.stdout"))
	if err != nil {
		k.t.Fatalf("keystone output: %v", err)
	}
	c := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, " HTTP/1.") && strings.Contains(line, substr) {
			c++
		}
	}
	return c
}

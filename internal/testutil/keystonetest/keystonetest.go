// Package keystonetest runs a real Keystone (Debian's python3-keystone:
// sqlite, fernet tokens, the public API on Python's wsgiref server) for
// tests, through scripts/keystone.sh. The script creates the project
// service, the user neutron with the roles admin and member on it, and a
// network service whose public and internal endpoints in RegionOne are the
// URL given to Start.
package keystonetest

import (
	"os/exec"
	"strconv"
	"testing"

	"github.com/skydive-ng/skydive/internal/testutil"
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
type Keystone struct{ *testutil.Daemon }

// Start runs Keystone on a free loopback port in a temporary folder, its
// catalog's network endpoints at neutronURL (none if empty); it is stopped
// when the test ends. The first start takes 15 to 25 s (schema, keys and
// accounts), a restart 2 to 5 s.
func Start(t *testing.T, neutronURL string) *Keystone {
	t.Helper()
	if _, err := exec.LookPath("keystone-manage"); err != nil {
		t.Fatalf("keystone not installed (apt-get install -y --no-install-recommends python3-keystone): %v", err)
	}
	var extra []string
	if neutronURL != "" {
		extra = append(extra, neutronURL)
	}
	return &Keystone{testutil.StartDaemon(t, "keystone", "keystone.sh", "keystone.log", extra...)}
}

// AuthURL is the identity v3 API, http://127.0.0.1:PORT/v3 (the auth_url
// of OpenStack clients).
func (k *Keystone) AuthURL() string { return "http://127.0.0.1:" + strconv.Itoa(k.Port) + "/v3" }

// CountRequests counts the request lines of the server's output since its
// last (re)start that contain substr (e.g. `"POST /v3/auth/tokens `); the
// wsgiref server writes one per request.
func (k *Keystone) CountRequests(substr string) int {
	return k.CountLines("keystone.stdout", " HTTP/1.", substr)
}

//go:build privileged

package neutron

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/keystonetest"
	"github.com/skydive-ng/skydive/internal/testutil/neutrontest"
	"github.com/skydive-ng/skydive/internal/topology"
)

// TestProbeAgainstRealKeystone runs the probe with keystone v3 password
// authentication against Debian's Keystone, whose catalog points at
// Debian's neutron-server, on a graph fed by the real netlink and netns
// probes.
func TestProbeAgainstRealKeystone(t *testing.T) {
	neutron := neutrontest.Start(t)
	ks := keystonetest.Start(t, neutron.URL())
	pfx := randomPrefix()

	net1 := neutron.CreateNetwork("net1")
	sub := neutron.CreateSubnet(net1.ID, "10.0.0.0/24")
	vm := neutron.CreatePort(net1.ID, "", neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.3"})

	hg := newHostGraph(t)
	const auth = `"POST /v3/auth/tokens `
	cfg := Config{
		AuthURL:      ks.AuthURL(),
		Username:     keystonetest.Username,
		Password:     keystonetest.Password,
		TenantName:   keystonetest.ProjectName,
		DomainName:   keystonetest.DomainName,
		RegionName:   keystonetest.Region,
		EndpointType: "internal",
		PollInterval: time.Second,
	}
	probe, _ := hg.runProbe(t, cfg)
	testutil.EventuallyTrue(t, 15*time.Second, "probe running through keystone", func() bool { return probe.State() == "running" })
	tap := addVMTap(t, pfx, vm)
	testutil.Eventually(t, 5*time.Second, "tap enriched", func() error { return tapEnriched(hg.w, tap, vm, net1, "10.0.0.3") })
	// One token for all the polls.
	if n := ks.CountRequests(auth); n != 1 {
		t.Fatalf("%d authentications, want 1", n)
	}

	// A wrong password: the state names keystone and the refusal, polls go
	// on failing without a crash.
	bad := cfg
	bad.Password = "not-" + keystonetest.Password
	badProbe, stopBad := runProbe(t, newTestGraph(t).w, topology.NewOverlays(), bad)
	want := "error: keystone at " + ks.AuthURL() + ": password authentication: "
	testutil.Eventually(t, 15*time.Second, "authentication refused", func() error {
		if s := badProbe.State(); !strings.HasPrefix(s, want) || !strings.Contains(s, "401") {
			return fmt.Errorf("state %q", s)
		}
		return nil
	})
	t.Logf("wrong password: %s", badProbe.State())
	before := ks.CountRequests(auth)
	testutil.EventuallyTrue(t, 10*time.Second, "authentication retried", func() bool { return ks.CountRequests(auth) >= before+2 })
	if s := badProbe.State(); !strings.HasPrefix(s, want) {
		t.Fatalf("wrong password, state %q", s)
	}
	stopBad()
	if s := badProbe.State(); s != "stopped" {
		t.Fatalf("stopped probe, state %q", s)
	}

	// Keystone away: the probe keeps its token and the endpoint, Neutron's
	// updates still flow.
	ks.Stop()
	neutron.UpdatePortIPs(vm.ID, neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.7"})
	testutil.Eventually(t, 10*time.Second, "update while keystone is away", func() error { return tapEnriched(hg.w, tap, vm, net1, "10.0.0.7") })
	if s := probe.State(); s != "running" {
		t.Fatalf("keystone away, state %q", s)
	}

	// A probe started meanwhile says keystone is unreachable, and gets its
	// token once keystone is back.
	late, _ := runProbe(t, newTestGraph(t).w, topology.NewOverlays(), cfg)
	unreachable := "error: keystone unreachable at " + ks.AuthURL() + ": "
	testutil.EventuallyTrue(t, 5*time.Second, "keystone unreachable", func() bool { return strings.HasPrefix(late.State(), unreachable) })
	t.Logf("keystone away: %s", late.State())
	ks.Restart()
	testutil.EventuallyTrue(t, 15*time.Second, "running once keystone is back", func() bool { return late.State() == "running" })
	neutron.UpdatePortIPs(vm.ID, neutrontest.FixedIP{SubnetID: sub.ID, IPAddress: "10.0.0.9"})
	testutil.Eventually(t, 10*time.Second, "update after keystone's restart", func() error { return tapEnriched(hg.w, tap, vm, net1, "10.0.0.9") })
	if s := probe.State(); s != "running" {
		t.Fatalf("after keystone's restart, state %q", s)
	}
	// Since the restart, the late probe's authentication only: the first
	// probe still uses its token.
	if n := ks.CountRequests(auth); n != 1 {
		t.Fatalf("%d authentications since keystone's restart, want 1 (the new probe's)", n)
	}
}

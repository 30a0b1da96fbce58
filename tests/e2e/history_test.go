//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// TestTimeTravel checks G.At on the real kernel: an MTU change and a deleted
// namespace, seen as they were.
func TestTimeTravel(t *testing.T) {
	c, _, _ := allInOne(t)
	p := uniq()
	ns, gone, veth, peer := p+"t", p+"g", p+"tv", p+"tp"
	netnsAdd(t, ns)
	netnsAdd(t, gone)
	testutil.Sh(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
	linkCleanup(t, veth)
	testutil.Sh(t, "ip", "link", "set", veth, "netns", ns)

	var created time.Time
	testutil.Eventually(t, 5*time.Second, "interface and namespaces seen", func() error {
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'MTU', 1500)", veth))
		if err != nil {
			return err
		}
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'netns', 'Name', '%s')", gone)); err != nil {
			return err
		}
		raw, err := c.Query(context.Background(), fmt.Sprintf("G.V('%s').Values('@CreatedAt')", n.ID))
		if err != nil {
			return err
		}
		var ms []int64
		if err := json.Unmarshal(raw, &ms); err != nil || len(ms) != 1 {
			return fmt.Errorf("CreatedAt: %s %v", raw, err)
		}
		created = time.UnixMilli(ms[0])
		return nil
	})
	// The past we look at must be after the creation: wait for it to exist.
	time.Sleep(time.Until(created.Add(6 * time.Second)))

	testutil.Sh(t, "ip", "-n", ns, "link", "set", veth, "mtu", "1400")
	testutil.Eventually(t, 2*time.Second, "new MTU now", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'MTU', 1400)", veth))
		return err
	})
	raw, err := c.Query(context.Background(), fmt.Sprintf("G.At('-5s').V().Has('Name', '%s').Values('MTU')", veth))
	if err != nil {
		t.Fatal(err)
	}
	var mtus []int
	if err := json.Unmarshal(raw, &mtus); err != nil || len(mtus) != 1 || mtus[0] != 1500 {
		t.Fatalf("G.At('-5s') MTU = %s (%v), want [1500]", raw, err)
	}

	// A window answers every revision in it, as the original: the interface
	// that went from DOWN to UP in it is returned once in each state.
	testutil.Sh(t, "ip", "link", "set", peer, "up")
	testutil.Sh(t, "ip", "-n", ns, "link", "set", veth, "up")
	testutil.Eventually(t, 5*time.Second, "interface up now", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'State', 'UP')", veth))
		return err
	})
	for _, q := range []string{"G.At(NOW, 30).V().Has('Name', '%s').Values('State')", "G.Context(NOW, 30).V().Has('Name', '%s').Values('State')"} {
		raw, err = c.Query(context.Background(), fmt.Sprintf(q, veth))
		if err != nil {
			t.Fatal(err)
		}
		var states []string
		if err := json.Unmarshal(raw, &states); err != nil || !slices.Contains(states, "DOWN") || !slices.Contains(states, "UP") {
			t.Fatalf("%s = %s (%v), want both DOWN and UP", q, raw, err)
		}
	}
	raw, err = c.Query(context.Background(), fmt.Sprintf("G.At(NOW, 30).V().Has('Name', '%s').Values('MTU')", veth))
	if err != nil || !containsAll(string(raw), "1500", "1400") {
		t.Fatalf("window MTUs = %s (%v), want 1500 and 1400", raw, err)
	}

	testutil.Sh(t, "ip", "netns", "del", gone)
	var deleted time.Time
	testutil.Eventually(t, 5*time.Second, "namespace gone now", func() error {
		ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', '%s')", gone))
		if err != nil {
			return err
		}
		if len(ns) != 0 {
			return fmt.Errorf("still there")
		}
		deleted = time.Now()
		return nil
	})
	time.Sleep(time.Until(deleted.Add(10 * time.Second)))
	if _, err := oneNode(c, fmt.Sprintf("G.At('-15s').V().Has('Type', 'netns', 'Name', '%s')", gone)); err != nil {
		t.Fatalf("namespace deleted 10 s ago not visible 15 s back: %v", err)
	}
	if ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Name', '%s')", gone)); err != nil || len(ns) != 0 {
		t.Fatalf("namespace visible now: %v %v", ns, err)
	}
	// And the diff between then and now names the change.
	raw, err = c.Query(context.Background(), fmt.Sprintf("G.V().Has('Name', '%s').Diff('-20s')", veth))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) || !containsAll(string(raw), "MTU") {
		t.Fatalf("Diff: %s", raw)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

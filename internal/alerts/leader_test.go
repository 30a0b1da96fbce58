package alerts

import (
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
)

// quiet waits a little and fails on any notification.
func (f *fixture) quiet(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case am := <-f.fired:
		t.Fatalf("%s: notified %s (%s)", what, am.UUID, am.ReasonData)
	case <-time.After(d):
	}
}

// TestLeaderOnlyAndNoRepeatAfterTakeover: two analyzers share a store;
// only the leader notifies; the one that takes over after it does not
// notify again what was notified, and notifies once what became true since.
func TestLeaderOnlyAndNoRepeatAfterTakeover(t *testing.T) {
	st, err := cluster.NewFileStore(nil) // shared by both, as etcd would be
	if err != nil {
		t.Fatal(err)
	}
	var leadA, leadB atomic.Bool
	leadA.Store(true)
	a := newFixture(t, true, func(o *Options) { o.Store, o.Leader = st, leadA.Load })
	b := newFixture(t, true, func(o *Options) { o.Store, o.Leader = st, leadB.Load; o.ResetGrace = 300 * time.Millisecond })
	// Both see the same graph (replicated between analyzers).
	for _, f := range []*fixture{a, b} {
		addNode(t, f.g, "n1", graph.Metadata{"Name": "n1", "Type": "device", "State": "DOWN"})
		addNode(t, f.g, "n2", graph.Metadata{"Name": "n2", "Type": "device", "State": "UP"})
	}
	a.run(t)
	b.run(t)
	before := a.create(t, v1.Alert{Name: "before", Expression: "G.V().Has('Name','n1').Has('State','DOWN').Values('Name')"})
	if am := a.next(t); am.UUID != before.UUID {
		t.Fatalf("leader's notification %+v", am)
	}
	// b has the alert from the store, and does not evaluate.
	deadline := time.Now().Add(5 * time.Second)
	for len(b.m.List()) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(b.m.List()) != 1 {
		t.Fatal("alert created on a not seen by b")
	}
	after := a.create(t, v1.Alert{Name: "after", Expression: "G.V().Has('Name','n2').Has('State','DOWN').Values('Name')"})
	b.quiet(t, 200*time.Millisecond, "a follower")

	// a dies (stops leading without a word); b takes over.
	leadA.Store(false)
	a.m.LeadershipChanged()
	// While no one leads, n2 goes down; and n1's subgraph is briefly gone
	// on b (its agent fails over): within the grace, not a reset.
	setState(t, b.g, "n2", "DOWN")
	if err := b.g.DeleteNode("n1"); err != nil {
		t.Fatal(err)
	}
	leadB.Store(true)
	b.m.LeadershipChanged()
	if am := b.next(t); am.UUID != after.UUID {
		t.Fatalf("after the takeover: %s (%s), want only %q", am.UUID, am.ReasonData, "after")
	}
	addNode(t, b.g, "n1", graph.Metadata{"Name": "n1", "Type": "device", "State": "DOWN"})
	b.quiet(t, 500*time.Millisecond, "the alert notified before the takeover")
	a.quiet(t, 0, "the former leader")

	// After the grace, a real reset and a new transition notify again.
	setState(t, b.g, "n1", "UP")
	time.Sleep(100 * time.Millisecond)
	setState(t, b.g, "n1", "DOWN")
	if am := b.next(t); am.UUID != before.UUID {
		t.Fatalf("new transition: %+v", am)
	}
}

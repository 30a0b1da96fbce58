package alerts

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

func setLoad(t *testing.T, g *graph.Graph, id string, load float64) {
	t.Helper()
	if err := g.UpdateNodeMetadata(graph.Identifier(id), func(m graph.Metadata) bool { m["Load"] = load; return true }); err != nil {
		t.Fatal(err)
	}
}

// TestForAndRecovery: an alert with For fires only after its expression
// held For seconds, once, with State "fired"; a shorter spell never fires;
// a false instant shorter than Settle neither restarts the wait nor
// recovers; the end sends one recovery with the last firing's data, to the
// subscribers and to the webhook.
func TestForAndRecovery(t *testing.T) {
	hooked := make(chan v1.AlertMessage, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var am v1.AlertMessage
		if err := json.Unmarshal(b, &am); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		hooked <- am
	}))
	defer hook.Close()
	f := newFixture(t, true, func(o *Options) { o.Settle = 300 * time.Millisecond })
	addNode(t, f.g, "n", graph.Metadata{"Name": "eth0", "Type": "device", "Load": 0.0})
	f.run(t)
	a := f.create(t, v1.Alert{Expression: "G.V().Has('Name','eth0').Has('Load', GT(50))", For: 1, Action: hook.URL})
	if a.For != 1 {
		t.Fatalf("created %+v", a)
	}
	// Shorter than For: never fires.
	setLoad(t, f.g, "n", 80)
	time.Sleep(500 * time.Millisecond)
	setLoad(t, f.g, "n", 10)
	f.quiet(t, 1500*time.Millisecond, "true for 0.5s of a For of 1s")
	select {
	case am := <-f.recovered:
		t.Fatalf("recovery of an alert that never fired: %+v", am)
	default:
	}
	// Longer, with a false instant (shorter than Settle) in the middle.
	start := time.Now()
	setLoad(t, f.g, "n", 80)
	time.Sleep(600 * time.Millisecond)
	if err := f.g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { delete(m, "Load"); return true }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	setLoad(t, f.g, "n", 90)
	am := f.next(t)
	if held := time.Since(start); held < time.Second {
		t.Fatalf("fired after %v, For is 1s", held)
	}
	if am.UUID != a.UUID || am.State != v1.AlertStateFired || !strings.Contains(string(am.ReasonData), "eth0") {
		t.Fatalf("firing %+v", am)
	}
	// Changes while true, and a false instant: no notification.
	setLoad(t, f.g, "n", 95)
	if err := f.g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { delete(m, "Load"); return true }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	setLoad(t, f.g, "n", 85)
	f.quiet(t, time.Second, "fired and still true")
	select {
	case am := <-f.recovered:
		t.Fatalf("recovered on a false instant: %+v", am)
	default:
	}
	setLoad(t, f.g, "n", 5)
	var rec v1.AlertMessage
	select {
	case rec = <-f.recovered:
	case <-time.After(5 * time.Second):
		t.Fatal("no recovery within 5s")
	}
	if rec.UUID != a.UUID || !strings.Contains(string(rec.ReasonData), "eth0") {
		t.Fatalf("recovery %+v", rec)
	}
	f.quiet(t, time.Second, "recovered")
	select {
	case am := <-f.recovered:
		t.Fatalf("second recovery %+v", am)
	default:
	}
	var states []string
	for len(states) < 2 {
		select {
		case am := <-hooked:
			states = append(states, am.State)
		case <-time.After(5 * time.Second):
			t.Fatalf("webhook: %v, want fired then recovered", states)
		}
	}
	if states[0] != v1.AlertStateFired || states[1] != v1.AlertStateRecovered {
		t.Fatalf("webhook states %v", states)
	}
}

// TestRecoveryWithoutFor: an alert without For recovers at once, once.
func TestRecoveryWithoutFor(t *testing.T) {
	f := newFixture(t, true, nil)
	addNode(t, f.g, "lo", graph.Metadata{"Name": "lo", "Type": "device", "State": "UP"})
	f.run(t)
	a := f.create(t, v1.Alert{Expression: "G.V().Has('Name','lo').Has('State','DOWN')"})
	setState(t, f.g, "lo", "DOWN")
	if am := f.next(t); am.UUID != a.UUID || am.State != v1.AlertStateFired {
		t.Fatalf("firing %+v", am)
	}
	setState(t, f.g, "lo", "UP")
	select {
	case am := <-f.recovered:
		if am.UUID != a.UUID || !strings.Contains(string(am.ReasonData), `"DOWN"`) {
			t.Fatalf("recovery %+v", am)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no recovery")
	}
	if _, err := f.m.Create(&v1.Alert{Expression: "G.V()", For: -1}); err == nil || !strings.Contains(err.Error(), "For:") {
		t.Fatalf("For -1: %v", err)
	}
}

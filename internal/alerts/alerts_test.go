package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/resource"
	"github.com/skydive-ng/skydive/internal/topoquery"
)

// fixture is a manager on a real graph, its notifications in a channel.
type fixture struct {
	g     *graph.Graph
	m     *Manager
	fired chan v1.AlertMessage
	// recovered: the recoveries (State "recovered"), apart from the firings.
	recovered chan v1.AlertMessage
	cancel    context.CancelFunc
	done      chan error
}

func newFixture(t *testing.T, listen bool, mod func(*Options)) *fixture {
	t.Helper()
	g := graph.New()
	f := &fixture{g: g, fired: make(chan v1.AlertMessage, 100), recovered: make(chan v1.AlertMessage, 100), done: make(chan error, 1)}
	opts := Options{
		Graph: g,
		Query: topoquery.NewLive(g).Query,
		Notify: func(msg v1.Message) {
			if msg.Namespace != v1.NamespaceAlert || msg.Type != v1.AlertMsgType {
				t.Errorf("notification %s/%s", msg.Namespace, msg.Type)
			}
			var am v1.AlertMessage
			if err := json.Unmarshal(msg.Obj, &am); err != nil {
				t.Errorf("notification body: %v", err)
			}
			if am.State == v1.AlertStateRecovered {
				f.recovered <- am
				return
			}
			f.fired <- am
		},
		Debounce: 20 * time.Millisecond,
	}
	if !listen {
		opts.Graph = nil
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
	})
}

func (f *fixture) create(t *testing.T, a v1.Alert) *v1.Alert {
	t.Helper()
	created, err := f.m.Create(&a)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// next waits for the next notification.
func (f *fixture) next(t *testing.T) v1.AlertMessage {
	t.Helper()
	select {
	case am := <-f.fired:
		return am
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
	}
	return v1.AlertMessage{}
}

func setState(t *testing.T, g *graph.Graph, id, state string) {
	t.Helper()
	if err := g.UpdateNodeMetadata(graph.Identifier(id), func(m graph.Metadata) bool { m["State"] = state; return true }); err != nil {
		t.Fatal(err)
	}
}

func addNode(t *testing.T, g *graph.Graph, id string, m graph.Metadata) {
	t.Helper()
	if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: m}}); err != nil {
		t.Fatal(err)
	}
}

// TestGraphAlertTransitions is the original's lo up/down test: the alert
// fires at each transition to true, not again on the same data, and again
// after it reset. A witness alert, created later and so evaluated after it
// in each pass, proves a pass happened without a notification.
func TestGraphAlertTransitions(t *testing.T) {
	f := newFixture(t, true, nil)
	addNode(t, f.g, "lo", graph.Metadata{"Name": "lo", "Type": "device", "State": "UP"})
	addNode(t, f.g, "w", graph.Metadata{"Name": "witness", "Type": "device", "Seq": 0})
	f.run(t)
	lo := f.create(t, v1.Alert{Name: "lo down", Expression: "G.V().Has('Name','lo').Has('State','DOWN')"})
	if lo.Trigger != v1.AlertTriggerGraph || lo.CreateTime.IsZero() || lo.UUID == "" {
		t.Fatalf("created %+v: want a UUID, a CreateTime and the graph trigger", lo)
	}
	witness := f.create(t, v1.Alert{Expression: "G.V().Has('Name','witness').Values('Seq')"})
	seq := 0
	// pass makes a graph change and waits for the end of the evaluation pass
	// that follows; it returns the lo alert's notifications of that pass.
	pass := func() []v1.AlertMessage {
		seq++
		if err := f.g.UpdateNodeMetadata("w", func(m graph.Metadata) bool { m["Seq"] = seq; return true }); err != nil {
			t.Fatal(err)
		}
		var got []v1.AlertMessage
		for {
			am := f.next(t)
			if am.UUID == witness.UUID {
				if string(am.ReasonData) == "["+itoa(seq)+"]" {
					return got
				}
				continue
			}
			got = append(got, am)
		}
	}
	if got := pass(); len(got) != 0 {
		t.Fatalf("lo UP: fired %d times", len(got))
	}
	for round := range 2 {
		setState(t, f.g, "lo", "DOWN")
		got := pass()
		if len(got) != 1 || got[0].UUID != lo.UUID || !strings.Contains(string(got[0].ReasonData), `"Name":"lo"`) {
			t.Fatalf("round %d, lo DOWN: notifications %+v, want one with lo", round, got)
		}
		if ts := time.UnixMilli(got[0].Timestamp); time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("timestamp %v is not now in ms", ts)
		}
		if got := pass(); len(got) != 0 {
			t.Fatalf("round %d, same data: fired again %+v", round, got)
		}
		// Its routes change while it is down: the same firing.
		if err := f.g.UpdateNodeMetadata("lo", func(m graph.Metadata) bool { m["RoutingTables"] = []any{round}; return true }); err != nil {
			t.Fatal(err)
		}
		if got := pass(); len(got) != 0 {
			t.Fatalf("round %d, metadata of the same node changed: fired again %+v", round, got)
		}
		setState(t, f.g, "lo", "UP")
		if got := pass(); len(got) != 0 {
			t.Fatalf("round %d, lo UP: fired %+v", round, got)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestDataChangeRefires(t *testing.T) {
	f := newFixture(t, true, nil)
	addNode(t, f.g, "n", graph.Metadata{"Name": "n", "Type": "device", "State": "DOWN", "MTU": 1500})
	f.run(t)
	a := f.create(t, v1.Alert{Expression: "G.V().Has('State','DOWN').Values('MTU')"})
	if am := f.next(t); am.UUID != a.UUID || string(am.ReasonData) != "[1500]" {
		t.Fatalf("first firing %+v %s", am, am.ReasonData)
	}
	if err := f.g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { m["MTU"] = 9000; return true }); err != nil {
		t.Fatal(err)
	}
	if am := f.next(t); string(am.ReasonData) != "[9000]" {
		t.Fatalf("changed data gave %s", am.ReasonData)
	}
}

// TestDurationTrigger runs without a graph listener: only the period can
// evaluate the alert.
func TestDurationTrigger(t *testing.T) {
	f := newFixture(t, false, nil)
	addNode(t, f.g, "n", graph.Metadata{"Name": "n", "Type": "device", "State": "DOWN"})
	f.run(t)
	start := time.Now()
	a := f.create(t, v1.Alert{Expression: "G.V().Has('State','DOWN')", Trigger: "duration:50ms"})
	if am := f.next(t); am.UUID != a.UUID {
		t.Fatalf("fired %+v", am)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("fired after %v, before its period", el)
	}
	// One more interface down: a new firing at the next period.
	addNode(t, f.g, "n2", graph.Metadata{"Name": "n2", "Type": "device", "State": "DOWN"})
	if am := f.next(t); am.UUID != a.UUID || !strings.Contains(string(am.ReasonData), `"n2"`) {
		t.Fatalf("second firing %+v %s", am, am.ReasonData)
	}
}

func TestWebhookAction(t *testing.T) {
	got := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook called with %s %s", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer hook.Close()
	f := newFixture(t, true, nil)
	addNode(t, f.g, "n", graph.Metadata{"Name": "eth0", "Type": "device"})
	f.run(t)
	a := f.create(t, v1.Alert{Expression: "G.V().Has('Name','eth0')", Action: hook.URL + "/hook"})
	select {
	case b := <-got:
		var am v1.AlertMessage
		if err := json.Unmarshal(b, &am); err != nil || am.UUID != a.UUID || !strings.Contains(string(am.ReasonData), "eth0") {
			t.Fatalf("webhook body %s (%v)", b, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook not called within 5s")
	}
}

func TestFileAction(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat > "+out+".tmp && mv "+out+".tmp "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, true, nil)
	addNode(t, f.g, "n", graph.Metadata{"Name": "eth0", "Type": "device"})
	f.run(t)
	a := f.create(t, v1.Alert{Expression: "G.V().Has('Name','eth0')", Action: "file://" + script})
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(out)
		if err == nil {
			var am v1.AlertMessage
			if err := json.Unmarshal(b, &am); err != nil || am.UUID != a.UUID {
				t.Fatalf("script got %s (%v)", b, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("script output not written within 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t, false, nil)
	for _, tc := range []struct {
		name string
		a    v1.Alert
		want string
	}{
		{"no expression", v1.Alert{}, "Expression: required"},
		{"bad gremlin", v1.Alert{Expression: "G.V().Has('Name'"}, "Expression: 1:"},
		{"javascript syntax error", v1.Alert{Expression: "1 >"}, "Expression: JavaScript SyntaxError: alert: Line 1:4"},
		{"bad trigger", v1.Alert{Expression: "G.V()", Trigger: "sometimes"}, "Trigger:"},
		{"bad duration", v1.Alert{Expression: "G.V()", Trigger: "duration:soon"}, "Trigger:"},
		{"negative duration", v1.Alert{Expression: "G.V()", Trigger: "duration:-1s"}, "Trigger:"},
		{"bad action", v1.Alert{Expression: "G.V()", Action: "ftp://x"}, "Action:"},
		{"empty file", v1.Alert{Expression: "G.V()", Action: "file://"}, "Action:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.Create(&tc.a)
			if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an invalid resource error with %q", err, tc.want)
			}
		})
	}
	if n := len(f.m.List()); n != 0 {
		t.Fatalf("%d invalid alerts stored", n)
	}
	for _, trig := range []string{"", "graph", "duration:1m30s", "periodic:10s"} {
		if _, err := f.m.Create(&v1.Alert{Expression: "G.V()", Trigger: trig, Action: "https://example.com/x"}); err != nil {
			t.Errorf("trigger %q: %v", trig, err)
		}
	}
}

func TestPersistenceAndUpdate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "alerts.json")
	f := newFixture(t, false, func(o *Options) { o.File = file })
	a := f.create(t, v1.Alert{Name: "a", Expression: "G.V()", Trigger: "duration:1s"})
	b := f.create(t, v1.Alert{Name: "b", Expression: "G.E()"})
	if err := f.m.Delete(b.UUID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Delete(b.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	upd, err := f.m.Update(a.UUID, &v1.Alert{Name: "renamed", Expression: "G.V().Has('Type','veth')"})
	if err != nil {
		t.Fatal(err)
	}
	if upd.UUID != a.UUID || !upd.CreateTime.Equal(a.CreateTime) || upd.Trigger != "graph" || upd.Name != "renamed" {
		t.Fatalf("updated %+v from %+v", upd, a)
	}
	if _, err := f.m.Update(a.UUID, &v1.Alert{}); err == nil {
		t.Fatal("invalid update accepted")
	}
	if _, err := f.m.Update("nope", &v1.Alert{Expression: "G.V()"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of unknown alert: %v", err)
	}
	again := newFixture(t, false, func(o *Options) { o.File = file })
	got := again.m.List()
	want := map[string]*v1.Alert{a.UUID: upd}
	if len(got) != 1 || !reflect.DeepEqual(*got[a.UUID], *upd) {
		t.Fatalf("reloaded %+v, want %+v", got, want)
	}
}

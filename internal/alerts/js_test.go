package alerts

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/resource"
)

// passer makes a graph change and waits for the end of the evaluation pass
// that follows, returning that pass's other notifications: a witness alert,
// created last and so evaluated last, fires at each pass with new data.
type passer struct {
	f       *fixture
	witness string
	seq     int
}

func newPasser(t *testing.T, f *fixture) *passer {
	t.Helper()
	addNode(t, f.g, "w", graph.Metadata{"Name": "witness", "Type": "device", "Seq": 0})
	return &passer{f: f}
}

func (p *passer) start(t *testing.T) {
	t.Helper()
	p.witness = p.f.create(t, v1.Alert{Expression: "G.V().Has('Name','witness').Values('Seq')"}).UUID
}

func (p *passer) pass(t *testing.T) []v1.AlertMessage {
	t.Helper()
	p.seq++
	if err := p.f.g.UpdateNodeMetadata("w", func(m graph.Metadata) bool { m["Seq"] = p.seq; return true }); err != nil {
		t.Fatal(err)
	}
	var got []v1.AlertMessage
	for {
		am := p.f.next(t)
		if am.UUID == p.witness {
			if string(am.ReasonData) == "["+itoa(p.seq)+"]" {
				return got
			}
			continue
		}
		got = append(got, am)
	}
}

// TestJavaScriptAlert: a JavaScript alert on Gremlin()'s JSON fires when a
// veth goes DOWN, with its value as data, resets when it is UP again (an
// empty array is false), and fires again at the next transition.
func TestJavaScriptAlert(t *testing.T) {
	f := newFixture(t, true, nil)
	addNode(t, f.g, "veth", graph.Metadata{"Name": "veth0", "Type": "veth", "State": "UP"})
	addNode(t, f.g, "eth", graph.Metadata{"Name": "eth0", "Type": "device", "State": "DOWN"})
	p := newPasser(t, f)
	f.run(t)
	js := f.create(t, v1.Alert{Name: "veth down", Expression: `
		var down = JSON.parse(Gremlin("G.V().Has('Type', 'veth')")).filter(function (n) {
			return n.Metadata.State === "DOWN";
		});
		down.map(function (n) { return n.Metadata.Name; })`})
	p.start(t)
	if got := p.pass(t); len(got) != 0 {
		t.Fatalf("veth UP: fired %+v", got)
	}
	for round := range 2 {
		setState(t, f.g, "veth", "DOWN")
		got := p.pass(t)
		if len(got) != 1 || got[0].UUID != js.UUID || string(got[0].ReasonData) != `["veth0"]` {
			t.Fatalf("round %d, veth DOWN: notifications %+v, want one with [\"veth0\"]", round, got)
		}
		if got := p.pass(t); len(got) != 0 {
			t.Fatalf("round %d, same data: fired again %+v", round, got)
		}
		setState(t, f.g, "veth", "UP")
		if got := p.pass(t); len(got) != 0 {
			t.Fatalf("round %d, veth UP: fired %+v", round, got)
		}
	}
	if a, err := f.m.Get(js.UUID); err != nil || a.Error != "" {
		t.Fatalf("alert %+v (%v): want no error", a, err)
	}
}

// TestJavaScriptTruthiness: a truthy scalar fires with itself as data;
// false, 0, "" and empty arrays or objects do not; only the original's
// globals are there.
func TestJavaScriptTruthiness(t *testing.T) {
	f := newFixture(t, false, nil)
	addNode(t, f.g, "n", graph.Metadata{"Name": "n", "Type": "device"})
	for _, tc := range []struct{ expr, want string }{
		{"1 > 0", "true"},
		{"'x' + 1", `"x1"`},
		{"({b: 1, a: [2]})", `{"a":[2],"b":1}`},
		{"JSON.parse(Gremlin(\"G.V().Count()\"))", "1"},
		{"typeof Gremlin === 'function' && typeof request === 'function' && typeof client === 'object'", "true"},
		{"0", ""}, {"''", ""}, {"[]", ""}, {"({})", ""}, {"null", ""}, {"undefined", ""},
		{"typeof require !== 'undefined' || typeof process !== 'undefined' || typeof module !== 'undefined'", ""},
	} {
		data, err := f.m.jsResult(t.Context(), v1.Alert{Expression: tc.expr})
		if err != nil || string(data) != tc.want {
			t.Errorf("%s: data %s (%v), want %q", tc.expr, data, err, tc.want)
		}
	}
	if _, err := f.m.jsResult(t.Context(), v1.Alert{Expression: "nope()"}); err == nil || !strings.Contains(err.Error(), "nope is not defined") {
		t.Errorf("exception: %v", err)
	}
}

// syncBuffer is a log output written by the manager's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJavaScriptTimeout: an alert looping forever is interrupted at its
// limit at each evaluation, which is logged once and reported in its Error;
// a Gremlin alert evaluated after it still fires.
func TestJavaScriptTimeout(t *testing.T) {
	var logs syncBuffer
	limit := 200 * time.Millisecond
	f := newFixture(t, true, func(o *Options) {
		o.JSTimeout = limit
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	addNode(t, f.g, "lo", graph.Metadata{"Name": "lo", "Type": "device", "State": "UP"})
	p := newPasser(t, f)
	f.run(t)
	loop := f.create(t, v1.Alert{Name: "forever", Expression: "while (true) {}"})
	down := f.create(t, v1.Alert{Expression: "G.V().Has('Name','lo').Has('State','DOWN')"})
	p.start(t)
	start := time.Now()
	p.pass(t)
	if el := time.Since(start); el < limit {
		t.Errorf("a pass with the loop took %v, less than its limit %v", el, limit)
	}
	setState(t, f.g, "lo", "DOWN")
	got := p.pass(t)
	if len(got) != 1 || got[0].UUID != down.UUID {
		t.Fatalf("lo DOWN: notifications %+v, want the Gremlin alert's", got)
	}
	a, err := f.m.Get(loop.UUID)
	if err != nil || !strings.Contains(a.Error, "JavaScript interrupted after 200ms") || !strings.Contains(a.Error, " at alert:1:1") {
		t.Fatalf("looping alert %+v (%v): want its interruption in Error", a, err)
	}
	if testing.Verbose() {
		t.Logf("Error: %s", a.Error)
	}
	if l := f.m.List()[loop.UUID]; l.Error != a.Error {
		t.Errorf("List's Error %q", l.Error)
	}
	if n := strings.Count(logs.String(), "alert evaluation failed"); n != 1 {
		t.Errorf("the interruption was logged %d times, want once:\n%s", n, logs.String())
	}
	// Fixed, the alert's error is gone.
	if _, err := f.m.Update(loop.UUID, &v1.Alert{Expression: "false"}); err != nil {
		t.Fatal(err)
	}
	p.pass(t)
	if a, _ := f.m.Get(loop.UUID); a.Error != "" {
		t.Fatalf("updated alert still reports %q", a.Error)
	}
}

// TestJavaScriptSyntaxError is a 400 naming the position.
func TestJavaScriptSyntaxError(t *testing.T) {
	f := newFixture(t, false, nil)
	_, err := f.m.Create(&v1.Alert{Expression: "var x = ;\nx"})
	if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), "Line 1:9") {
		t.Fatalf("error %v, want an invalid resource error at line 1:9", err)
	}
	// A broken Gremlin one reports Gremlin's error, though it is JavaScript.
	_, err = f.m.Create(&v1.Alert{Expression: "G.V().Nope()"})
	if resource.KindOf(err) != resource.KindInvalid || strings.Contains(err.Error(), "JavaScript") {
		t.Fatalf("error %v, want Gremlin's", err)
	}
	if n := len(f.m.List()); n != 0 {
		t.Fatalf("%d invalid alerts stored", n)
	}
}

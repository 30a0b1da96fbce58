package latency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

type fakeCaptures struct {
	mu      sync.Mutex
	created []*v1.Capture
	deleted []string
}

func (f *fakeCaptures) Create(c *v1.Capture) (*v1.Capture, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.UUID = fmt.Sprint("cap-", len(f.created))
	f.created = append(f.created, c)
	return c, nil
}

func (f *fakeCaptures) Delete(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeCaptures) deletedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deleted)
}

type fakeInjector struct {
	sent []*v1.PacketInjection
	err  error
}

func (f *fakeInjector) Create(_ context.Context, p *v1.PacketInjection) (*v1.PacketInjection, error) {
	if f.err != nil {
		return nil, f.err
	}
	p.UUID = fmt.Sprint("inj-", len(f.sent))
	f.sent = append(f.sent, p)
	return p, nil
}

// probeGraph: h1 and h2 share 10.0.0.0/24, h3 is alone in 10.9.0.0/24;
// loopbacks and a down interface are never probed.
func probeGraph() *graph.Graph {
	g := graph.New()
	add := func(host, name, state string, ips ...any) {
		if g.Node(graph.Identifier(host)) == nil {
			g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(host), Metadata: graph.Metadata{"Type": "host", "Name": host}}})
		}
		id := graph.Identifier(host + "-" + name)
		g.AddNode(&graph.Node{Element: graph.Element{ID: id, Metadata: graph.Metadata{"Type": "device", "Name": name, "TID": "tid-" + string(id), "State": state, "IPV4": ips}}})
		g.AddEdge(&graph.Edge{Parent: graph.Identifier(host), Child: id, Element: graph.Element{ID: "own-" + id, Metadata: graph.Metadata{"RelationType": "ownership"}}})
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		add(h, "lo", "UP", "127.0.0.1/8")
	}
	add("h1", "eth0", "UP", "10.0.0.1/24")
	add("h1", "eth9", "DOWN", "10.9.0.1/24")
	add("h2", "eth0", "UP", "10.0.0.2/24")
	add("h3", "eth0", "UP", "10.9.0.3/24")
	return g
}

func TestProbe(t *testing.T) {
	caps, inj := &fakeCaptures{}, &fakeInjector{}
	p := &Prober{Graph: probeGraph(), Captures: caps, Injector: inj, Active: func(string, graph.Identifier) bool { return true }}
	bg, stop := context.WithCancel(context.Background())
	ans, err := p.Start(context.Background(), bg, 3, 100*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []Probe{{A: "h1", B: "h2", From: "eth0", To: "10.0.0.2", Capture: "cap-0", Injection: "inj-0"}}
	if !slices.Equal(ans.Probes, want) {
		t.Errorf("probes %+v, want %+v", ans.Probes, want)
	}
	if !slices.Equal(ans.Skipped, []string{"h1 and h3: no interfaces of theirs share an IPv4 subnet", "h2 and h3: no interfaces of theirs share an IPv4 subnet"}) {
		t.Errorf("skipped %q", ans.Skipped)
	}
	if c := caps.created[0]; c.GremlinQuery != "G.V().Has('TID', 'tid-h1-eth0')" || c.BPFFilter != "icmp and host 10.0.0.2" {
		t.Errorf("capture %+v", c)
	}
	if s := inj.sent[0]; s.Src != "G.V().Has('TID', 'tid-h1-eth0')" || s.Dst != "G.V().Has('TID', 'tid-h2-eth0')" || s.DstIP != "10.0.0.2" || s.Count != 3 || s.Interval != 100 || s.Type != "icmp4" {
		t.Errorf("injection %+v", s)
	}
	if d := time.Until(ans.ReadyAt); d < 2*time.Second || d > 3*time.Second {
		t.Errorf("ready in %s, want 2.3 s", d)
	}
	if len(caps.deletedIDs()) != 0 {
		t.Error("a capture deleted before the probe is over")
	}
	stop() // the analyzer stops: the probe's captures go
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(caps.deletedIDs(), []string{"cap-0"}) {
		if time.Now().After(deadline) {
			t.Fatalf("deleted %v", caps.deletedIDs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProbeFailures(t *testing.T) {
	t.Run("injection refused: captures deleted", func(t *testing.T) {
		caps := &fakeCaptures{}
		p := &Prober{Graph: probeGraph(), Captures: caps, Injector: &fakeInjector{err: errors.New("no agent")}}
		if _, err := p.Start(context.Background(), context.Background(), 1, 10*time.Millisecond, time.Second); err == nil {
			t.Fatal("no error")
		}
		if !slices.Equal(caps.deletedIDs(), []string{"cap-0"}) {
			t.Errorf("deleted %v", caps.deletedIDs())
		}
	})
	t.Run("capture never active", func(t *testing.T) {
		caps := &fakeCaptures{}
		p := &Prober{Graph: probeGraph(), Captures: caps, Injector: &fakeInjector{}, Active: func(string, graph.Identifier) bool { return false }}
		_, err := p.Start(context.Background(), context.Background(), 1, 10*time.Millisecond, 100*time.Millisecond)
		if err == nil || !slices.Equal(caps.deletedIDs(), []string{"cap-0"}) {
			t.Errorf("err %v, deleted %v", err, caps.deletedIDs())
		}
	})
}

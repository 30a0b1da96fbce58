package neutron

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

// fakeNeutron answers the three lists the probe makes and counts them.
type fakeNeutron struct {
	mu       sync.Mutex
	ports    []Port
	networks []Network
	subnets  []Subnet
	fail     bool
	count    map[string]int
}

func (f *fakeNeutron) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count[r.URL.Path]++
	if f.fail {
		http.Error(w, `{"NeutronError": "boom"}`, http.StatusInternalServerError)
		return
	}
	var body any
	switch r.URL.Path {
	case "/": // version discovery, as gophercloud does after keystone
		body = map[string]any{"versions": []any{map[string]any{"id": "v2.0", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": "http://" + r.Host + "/v2.0/"}}}}}
	case "/v2.0/ports":
		body = map[string]any{"ports": f.ports}
	case "/v2.0/networks":
		body = map[string]any{"networks": f.networks}
	case "/v2.0/subnets":
		body = map[string]any{"subnets": f.subnets}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeNeutron) n(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[path]
}

func (f *fakeNeutron) set(change func(*fakeNeutron)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

type testGraph struct {
	g    *graph.Graph
	w    *topology.Writer
	host graph.Identifier
}

func newTestGraph(t *testing.T) *testGraph {
	g := graph.New()
	tg := &testGraph{g: g, w: &topology.Writer{G: g, Host: "h", Origin: "agent.h"}, host: "host"}
	if err := tg.w.AddNode(tg.host, graph.Metadata{"Name": "h", "Type": "host"}); err != nil {
		t.Fatal(err)
	}
	return tg
}

// addIface adds an interface node as the netlink probe does: node, then
// ownership edge, overlays applied.
func (tg *testGraph) addIface(t *testing.T, o *topology.Overlays, owner graph.Identifier, id, name, typ, mac string) {
	t.Helper()
	m := graph.Metadata{"Name": name, "Type": typ, "IfIndex": 10, "MAC": mac}
	for k, v := range o.Get(owner, name) {
		m[k] = v
	}
	if err := tg.w.AddNode(graph.Identifier(id), m); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.w.Link(owner, graph.Identifier(id), topology.OwnershipLink, nil); err != nil {
		t.Fatal(err)
	}
}

func neutronOf(g *graph.Graph, id string) (map[string]any, error) {
	n := g.Node(graph.Identifier(id))
	if n == nil {
		return nil, fmt.Errorf("no node %s", id)
	}
	v, ok := n.Metadata["Neutron"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s not enriched: %v", id, n.Metadata)
	}
	return v, nil
}

func TestProbeAgainstFakeNeutron(t *testing.T) {
	f := &fakeNeutron{count: map[string]int{},
		ports: []Port{{ID: portA, MAC: macA, TenantID: "t1", NetworkID: "n1",
			FixedIPs: []FixedIP{{SubnetID: "s4", IPAddress: "10.0.0.3"}}}},
		networks: []Network{{ID: "n1", Name: "net1", Type: "vxlan", SegmentationID: 77}},
		subnets:  []Subnet{{ID: "s4", CIDR: "10.0.0.0/24"}},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()

	tg := newTestGraph(t)
	overlays := topology.NewOverlays()
	// A netns that owns a router port, and a host tap.
	if err := tg.w.AddNode("ns", graph.Metadata{"Name": "qrouter-1", "Type": "netns"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.w.Link(tg.host, "ns", topology.OwnershipLink, nil); err != nil {
		t.Fatal(err)
	}
	tg.addIface(t, overlays, tg.host, "tap", "tap"+portA[:11], "tap", "fe:16:3e:00:00:0a")
	tg.addIface(t, overlays, tg.host, "eth0", "eth0", "device", "52:54:00:00:00:01")

	const poll = 200 * time.Millisecond
	p, err := New(Options{Writer: tg.w, Overlays: overlays, Config: Config{EndpointURL: srv.URL, PollInterval: poll}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	var runErr error
	var stopOnce sync.Once
	stop := func() error {
		stopOnce.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	defer stop()

	testutil.Eventually(t, 3*time.Second, "tap enriched", func() error {
		n, err := neutronOf(tg.g, "tap")
		if err != nil {
			return err
		}
		if n["NetworkName"] != "net1" || n["VNI"] != int64(77) || fmt.Sprint(n["IPV4"]) != "[10.0.0.3/24]" {
			return fmt.Errorf("metadata %v", n)
		}
		if got := tg.g.Node("tap").Metadata.String("PeerIntfMAC"); got != macA {
			return fmt.Errorf("PeerIntfMAC %q", got)
		}
		return nil
	})
	if p.State() != "running" {
		t.Fatalf("state %q", p.State())
	}
	if _, err := neutronOf(tg.g, "eth0"); err == nil {
		t.Fatal("eth0 enriched")
	}

	// A rewrite by the interface's writer keeps the enrichment (overlay).
	m := graph.Metadata{"Name": "tap" + portA[:11], "Type": "tap", "IfIndex": 10, "MAC": "fe:16:3e:00:00:0a", "MTU": 1450}
	for k, v := range overlays.Get(tg.host, "tap"+portA[:11]) {
		m[k] = v
	}
	if err := tg.w.AddNode("tap", m); err != nil {
		t.Fatal(err)
	}
	if _, err := neutronOf(tg.g, "tap"); err != nil {
		t.Fatal(err)
	}

	// A new fixed IP is seen at the next poll; the subnet is unknown, so
	// it is listed then (and only then).
	subnetLists := f.n("/v2.0/subnets")
	f.set(func(f *fakeNeutron) {
		f.subnets = append(f.subnets, Subnet{ID: "s5", CIDR: "10.5.0.0/16"})
		f.ports[0].FixedIPs = []FixedIP{{SubnetID: "s5", IPAddress: "10.5.1.2"}}
	})
	testutil.Eventually(t, 2*time.Second, "new address", func() error {
		n, err := neutronOf(tg.g, "tap")
		if err != nil {
			return err
		}
		if fmt.Sprint(n["IPV4"]) != "[10.5.1.2/16]" {
			return fmt.Errorf("IPV4 %v", n["IPV4"])
		}
		return nil
	})
	if got := f.n("/v2.0/subnets") - subnetLists; got != 1 {
		t.Fatalf("%d subnet lists for one new subnet", got)
	}

	// Neutron failing: the state says so, the enrichment stays.
	f.set(func(f *fakeNeutron) { f.fail = true })
	testutil.EventuallyTrue(t, 2*time.Second, "error state", func() bool { return strings.HasPrefix(p.State(), "error: neutron at "+srv.URL) })
	t.Logf("state while failing: %s", p.State())
	if _, err := neutronOf(tg.g, "tap"); err != nil {
		t.Fatalf("enrichment lost while Neutron fails: %v", err)
	}
	// Back, without port A: running, and port A's enrichment goes.
	f.set(func(f *fakeNeutron) { f.fail = false; f.ports = f.ports[1:] })
	testutil.EventuallyTrue(t, 2*time.Second, "running again", func() bool { return p.State() == "running" })
	testutil.Eventually(t, 2*time.Second, "tap no longer enriched", func() error {
		if _, err := neutronOf(tg.g, "tap"); err == nil {
			return fmt.Errorf("still enriched")
		}
		if tg.g.Node("tap").Metadata["Manager"] != nil || tg.g.Node("tap").Metadata["PeerIntfMAC"] != nil {
			return fmt.Errorf("left over: %v", tg.g.Node("tap").Metadata)
		}
		return nil
	})
	if overlays.Get(tg.host, "tap"+portA[:11]) != nil {
		t.Fatal("overlay of the tap kept")
	}

	// One port list per poll, whatever the events.
	elapsed := time.Since(start)
	if n, max := f.n("/v2.0/ports"), int(elapsed/poll)+1; n > max {
		t.Fatalf("%d port lists in %s, at most %d expected", n, elapsed, max)
	}
	if n := f.n("/v2.0/networks"); n > 3 {
		t.Fatalf("%d network lists", n)
	}

	// Stopping removes the enrichment.
	f.set(func(f *fakeNeutron) { f.ports = append(f.ports, Port{ID: portA, MAC: macA, NetworkID: "n1"}) })
	testutil.Eventually(t, 2*time.Second, "tap enriched again", func() error {
		_, err := neutronOf(tg.g, "tap")
		return err
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := neutronOf(tg.g, "tap"); err == nil {
		t.Fatal("enrichment kept after Run returned")
	}
	if p.State() != "stopped" {
		t.Fatalf("state %q", p.State())
	}
}

// Interfaces that appear between polls are matched from the graph's events:
// with an hour between polls, only events can do it.
func TestProbeMatchesNewInterfacesFromEvents(t *testing.T) {
	f := &fakeNeutron{count: map[string]int{},
		ports:    []Port{{ID: portA, MAC: macA, NetworkID: "n1"}, {ID: portB, MAC: macB, NetworkID: "n1"}},
		networks: []Network{{ID: "n1", Name: "net1", Type: "vxlan", SegmentationID: 77}},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tg := newTestGraph(t)
	overlays := topology.NewOverlays()
	if err := tg.w.AddNode("ns", graph.Metadata{"Name": "qrouter-1", "Type": "netns"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.w.Link(tg.host, "ns", topology.OwnershipLink, nil); err != nil {
		t.Fatal(err)
	}
	tg.addIface(t, overlays, tg.host, "tap", "tap"+portA[:11], "tap", "fe:16:3e:00:00:0a")
	p, err := New(Options{Writer: tg.w, Overlays: overlays, Config: Config{EndpointURL: srv.URL, PollInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, 3*time.Second, "tap enriched by the first poll", func() error {
		_, err := neutronOf(tg.g, "tap")
		return err
	})

	tg.addIface(t, overlays, "ns", "qr", "qr-"+portB[:11], "veth", macB)
	testutil.Eventually(t, time.Second, "qr- enriched", func() error {
		_, err := neutronOf(tg.g, "qr")
		return err
	})
	if got := tg.g.Node("qr").Metadata.String("PeerIntfMAC"); got != "" {
		t.Fatalf("PeerIntfMAC %q on an interface with the port's MAC", got)
	}
	// Renamed so that it no longer matches: the enrichment goes.
	if err := tg.g.UpdateNodeMetadata("qr", func(m graph.Metadata) bool { m["Name"], m["MAC"] = "other", "52:54:00:00:00:02"; return true }); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Second, "renamed qr- not enriched", func() error {
		if _, err := neutronOf(tg.g, "qr"); err == nil {
			return fmt.Errorf("still enriched")
		}
		return nil
	})
	if n := f.n("/v2.0/ports"); n != 1 {
		t.Fatalf("%d port lists, want 1", n)
	}
}

func TestProbeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	tg := newTestGraph(t)
	p, err := New(Options{Writer: tg.w, Overlays: topology.NewOverlays(), Config: Config{EndpointURL: url, PollInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	want := "error: neutron unreachable at " + url + ": "
	testutil.EventuallyTrue(t, 2*time.Second, "unreachable state", func() bool { return strings.HasPrefix(p.State(), want) })
	t.Logf("state: %s", p.State())
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// fakeKeystone answers v3 password authentication with a catalog whose
// network endpoints (public and internal, two regions) are given.
type fakeKeystone struct {
	mu       sync.Mutex
	catalog  []map[string]any
	requests []map[string]any
}

func (k *fakeKeystone) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	k.requests = append(k.requests, body)
	w.Header().Set("X-Subject-Token", "tok123")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"catalog":    []any{map[string]any{"type": "network", "name": "neutron", "endpoints": k.catalog}},
	}})
}

// Keystone itself cannot run here: a fake one checks what the probe sends
// (password, project and domain) and that it picks the endpoint of its
// region and interface, and sends the token to Neutron.
func TestProbeKeystoneAuth(t *testing.T) {
	f := &fakeNeutron{count: map[string]int{}, ports: []Port{{ID: portA, MAC: macA, NetworkID: "n1"}}}
	var tokens []string
	var tmu sync.Mutex
	neutronSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tmu.Lock()
		tokens = append(tokens, r.Header.Get("X-Auth-Token"))
		tmu.Unlock()
		f.ServeHTTP(w, r)
	}))
	defer neutronSrv.Close()
	k := &fakeKeystone{catalog: []map[string]any{
		{"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": "http://192.0.2.1:9696"},
		{"interface": "internal", "region": "RegionTwo", "region_id": "RegionTwo", "url": "http://192.0.2.2:9696"},
		{"interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": neutronSrv.URL},
	}}
	ks := httptest.NewServer(k)
	defer ks.Close()

	tg := newTestGraph(t)
	p, err := New(Options{Writer: tg.w, Overlays: topology.NewOverlays(), Config: Config{
		AuthURL: ks.URL + "/v3", Password: "secret", EndpointType: "internal", PollInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.EventuallyTrue(t, 3*time.Second, "running through keystone", func() bool { return p.State() == "running" })
	if f.n("/v2.0/ports") == 0 {
		t.Fatal("no port list on the internal endpoint of RegionOne")
	}
	tmu.Lock()
	if tokens[0] != "tok123" {
		t.Fatalf("token sent to Neutron: %q", tokens[0])
	}
	tmu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.requests) != 1 {
		t.Fatalf("%d authentications", len(k.requests))
	}
	b, _ := json.Marshal(k.requests[0])
	for _, want := range []string{`"password"`, `"name":"neutron"`, `"password":"secret"`, `"project":{"domain":{"name":"Default"},"name":"service"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("auth request %s lacks %s", b, want)
		}
	}
}

func TestProbeKeystoneDown(t *testing.T) {
	ks := httptest.NewServer(http.NotFoundHandler())
	url := ks.URL
	ks.Close()
	tg := newTestGraph(t)
	p, err := New(Options{Writer: tg.w, Overlays: topology.NewOverlays(), Config: Config{
		AuthURL: url + "/v3", Password: "secret", PollInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	want := "error: keystone unreachable at " + url + "/v3: password authentication: "
	testutil.EventuallyTrue(t, 3*time.Second, "keystone unreachable state", func() bool { return strings.HasPrefix(p.State(), want) })
	t.Logf("state: %s", p.State())
}

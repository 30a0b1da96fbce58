package eval_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
)

// mtuGraph builds two namespaces, each with an instance-side veth (tapA,
// tapB), a tunnel (vxA, vxB) and an underlay veth (uA, uB): tapA -- vxA --
// vxB -- tapB and uA -- uB are layer2 links; the namespaces own their
// interfaces. nodes overrides or adds metadata by node name.
func mtuGraph(t *testing.T, nodes map[string]graph.Metadata) *graph.Graph {
	t.Helper()
	g := graph.New()
	base := map[string]graph.Metadata{
		"nsA":  {"Type": "netns"},
		"nsB":  {"Type": "netns"},
		"tapA": {"Type": "veth", "MTU": int64(1500), "IfIndex": int64(1)},
		"tapB": {"Type": "veth", "MTU": int64(1500), "IfIndex": int64(1)},
		"vxA":  {"Type": "vxlan", "MTU": int64(1500), "IfIndex": int64(3), "VNI": int64(42), "LocalIP": "10.9.0.1", "RemoteIP": "10.9.0.2"},
		"vxB":  {"Type": "vxlan", "MTU": int64(1500), "IfIndex": int64(3), "VNI": int64(42), "LocalIP": "10.9.0.2", "RemoteIP": "10.9.0.1"},
		"uA":   {"Type": "veth", "MTU": int64(1500), "IfIndex": int64(2), "IPV4": []any{"10.9.0.1/24"}},
		"uB":   {"Type": "veth", "MTU": int64(1500), "IfIndex": int64(2), "IPV4": []any{"10.9.0.2/24"}},
	}
	for _, name := range []string{"nsA", "nsB", "tapA", "vxA", "uA", "tapB", "vxB", "uB"} {
		m := graph.Metadata{"Name": name}
		for k, v := range base[name] {
			m[k] = v
		}
		for k, v := range nodes[name] {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(name), Host: "h", Metadata: m}}); err != nil {
			t.Fatal(err)
		}
	}
	link := func(rel, parent, child string) {
		e := &graph.Edge{Element: graph.Element{ID: graph.Identifier(parent + "-" + child), Metadata: graph.Metadata{"RelationType": rel}},
			Parent: graph.Identifier(parent), Child: graph.Identifier(child)}
		if err := g.AddEdge(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"tapA", "vxA", "uA"} {
		link("ownership", "nsA", c)
	}
	for _, c := range []string{"tapB", "vxB", "uB"} {
		link("ownership", "nsB", c)
	}
	link("layer2", "tapA", "vxA")
	link("layer2", "vxA", "vxB")
	link("layer2", "vxB", "tapB")
	link("layer2", "uA", "uB")
	return g
}

func TestMTUAudit(t *testing.T) {
	const overlay = "G.V().Has('Name', 'tapA').ShortestPathTo(Metadata('Name', 'tapB'), Metadata('RelationType', 'layer2')).MTUAudit()"
	tests := []struct {
		name       string
		query      string
		nodes      map[string]graph.Metadata
		path       []string
		tunnels    []eval.MTUTunnel
		maxPacket  int64
		bottleneck string
		verdict    string
	}{
		{
			name:       "plain path",
			query:      "G.V().Has('Name', 'uA').ShortestPathTo(Metadata('Name', 'uB')).MTUAudit()",
			path:       []string{"uA", "uB"},
			tunnels:    []eval.MTUTunnel{},
			maxPacket:  1500,
			bottleneck: "uA",
			verdict:    "ok: 1500 passes",
		},
		{
			name:       "plain path with a smaller MTU",
			query:      "G.V().Has('Name', 'uA').ShortestPathTo(Metadata('Name', 'uB')).MTUAudit()",
			nodes:      map[string]graph.Metadata{"uB": {"MTU": int64(1400)}},
			path:       []string{"uA", "uB"},
			tunnels:    []eval.MTUTunnel{},
			maxPacket:  1400,
			bottleneck: "uB",
			verdict:    "instance MTU 1500 but MTU 1400 on uB: 1400 needed",
		},
		{
			name:       "VXLAN with enough underlay",
			query:      overlay,
			nodes:      map[string]graph.Metadata{"uA": {"MTU": int64(1550)}, "uB": {"MTU": int64(9000)}},
			path:       []string{"tapA", "vxA", "vxB", "tapB"},
			tunnels:    []eval.MTUTunnel{{Name: "vxA", Overhead: 50, Underlay: "uA", UnderlayMTU: 1550}, {Name: "vxB", Overhead: 50, Underlay: "uB", UnderlayMTU: 9000}},
			maxPacket:  1500,
			bottleneck: "tapA",
			verdict:    "ok: 1500 passes",
		},
		{
			name:       "VXLAN on a too small underlay",
			query:      overlay,
			path:       []string{"tapA", "vxA", "vxB", "tapB"},
			tunnels:    []eval.MTUTunnel{{Name: "vxA", Overhead: 50, Underlay: "uA", UnderlayMTU: 1500}, {Name: "vxB", Overhead: 50, Underlay: "uB", UnderlayMTU: 1500}},
			maxPacket:  1450,
			bottleneck: "uA",
			verdict:    "instance MTU 1500 over VXLAN on a 1500 underlay (uA): 1450 needed, or an underlay MTU of 1550",
		},
		{
			name:  "VXLAN on an IPv6 underlay, the far end smaller",
			query: overlay,
			nodes: map[string]graph.Metadata{
				"vxA": {"LocalIP": "fd00::1", "RemoteIP": "fd00::2"}, "uA": {"IPV4": nil, "IPV6": []any{"fd00::1/64"}, "MTU": int64(1600)},
				"vxB": {"LocalIP": "fd00::2", "RemoteIP": "fd00::1"}, "uB": {"IPV4": nil, "IPV6": []any{"fd00::2/64"}, "MTU": int64(1400)},
			},
			path:       []string{"tapA", "vxA", "vxB", "tapB"},
			tunnels:    []eval.MTUTunnel{{Name: "vxA", Overhead: 70, Underlay: "uA", UnderlayMTU: 1600}, {Name: "vxB", Overhead: 70, Underlay: "uB", UnderlayMTU: 1400}},
			maxPacket:  1330,
			bottleneck: "uB",
			verdict:    "instance MTU 1500 over VXLAN over IPv6 on a 1400 underlay (uB): 1330 needed, or an underlay MTU of 1570",
		},
		{
			name:  "underlay by the parent's index, Geneve, unknown underlay",
			query: overlay,
			nodes: map[string]graph.Metadata{
				"vxA": {"LocalIP": nil, "RemoteIP": nil, "VtepDevIndex": int64(2)}, "uA": {"MTU": int64(1300)},
				"vxB": {"Type": "geneve", "LocalIP": nil, "RemoteIP": nil},
			},
			path:       []string{"tapA", "vxA", "vxB", "tapB"},
			tunnels:    []eval.MTUTunnel{{Name: "vxA", Overhead: 50, Underlay: "uA", UnderlayMTU: 1300}, {Name: "vxB", Overhead: 50}},
			maxPacket:  1250,
			bottleneck: "uA",
			verdict:    "instance MTU 1500 over VXLAN on a 1300 underlay (uA): 1250 needed, or an underlay MTU of 1550; underlay unknown for vxB",
		},
		{
			name:       "an underlay on the path counts through its tunnel",
			query:      "G.V().Has('Name', 'vxA').ShortestPathTo(Metadata('Name', 'uA')).MTUAudit()",
			nodes:      map[string]graph.Metadata{"uA": {"MTU": int64(1400)}},
			path:       []string{"vxA", "uA"},
			tunnels:    []eval.MTUTunnel{{Name: "vxA", Overhead: 50, Underlay: "uA", UnderlayMTU: 1400}},
			maxPacket:  1350,
			bottleneck: "uA",
			verdict:    "instance MTU 1500 over VXLAN on a 1400 underlay (uA): 1350 needed, or an underlay MTU of 1550",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, mtuGraph(t, tt.nodes), tt.query)
			if err != nil {
				t.Fatal(err)
			}
			audits, ok := res.(eval.MTUAudits)
			if !ok || res.Kind() != eval.KindMTUAudits || len(audits) != 1 {
				t.Fatalf("result %#v", res)
			}
			a := audits[0]
			var names []string
			for _, i := range a.Path {
				names = append(names, i.Name)
				if i.ID != i.Name || i.MTU == 0 || i.Type == "" {
					t.Errorf("path interface %+v", i)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.path, ",") {
				t.Errorf("path %v, want %v", names, tt.path)
			}
			if got, want := mustMarshal(t, a.Tunnels), mustMarshal(t, tt.tunnels); got != want {
				t.Errorf("tunnels %s, want %s", got, want)
			}
			if a.MaxPacket != tt.maxPacket || a.Bottleneck != tt.bottleneck || a.Verdict != tt.verdict {
				t.Errorf("MaxPacket %d, Bottleneck %q, Verdict %q\nwant %d, %q, %q", a.MaxPacket, a.Bottleneck, a.Verdict, tt.maxPacket, tt.bottleneck, tt.verdict)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMTUAuditJSON(t *testing.T) {
	g := mtuGraph(t, map[string]graph.Metadata{"uA": {"MTU": int64(1400)}})
	res, err := run(t, g, "G.V().Has('Name', 'vxA').ShortestPathTo(Metadata('Name', 'vxB'), Metadata('RelationType', 'layer2')).MTUAudit()")
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"Path":[{"ID":"vxA","Name":"vxA","Type":"vxlan","MTU":1500},{"ID":"vxB","Name":"vxB","Type":"vxlan","MTU":1500}],` +
		`"Tunnels":[{"Name":"vxA","Overhead":50,"Underlay":"uA","UnderlayMTU":1400},{"Name":"vxB","Overhead":50,"Underlay":"uB","UnderlayMTU":1500}],` +
		`"MaxPacket":1350,"Bottleneck":"uA","Verdict":"instance MTU 1500 over VXLAN on a 1400 underlay (uA): 1350 needed, or an underlay MTU of 1550"}]`
	if got := mustMarshal(t, res); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	res, err = run(t, g, "G.V().Has('Name', 'nothing').ShortestPathTo(Metadata('Name', 'vxB')).MTUAudit()")
	if err != nil || mustMarshal(t, res) != "[]" {
		t.Errorf("no path: %v %v", res, err)
	}
	res, err = run(t, g, "G.V().Has('Name', 'nsA').ShortestPathTo(Metadata('Name', 'nsA')).MTUAudit()")
	if err != nil || !strings.Contains(mustMarshal(t, res), `"Path":[],"Tunnels":[],"MaxPacket":0,"Bottleneck":"","Verdict":"unknown: no interface with an MTU on the path"`) {
		t.Errorf("no interface: %s %v", mustMarshal(t, res), err)
	}
	for src, want := range map[string]string{
		"G.V().MTUAudit()":  "MTUAudit() cannot follow V()",
		"G.V().MTUAudit(1)": "MTUAudit",
		"G.V().Has('Name', 'a').ShortestPathTo(Metadata('Name', 'b')).MTUAudit().Count()": "Count() cannot follow MTUAudit()",
	} {
		if _, err := eval.Compile(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

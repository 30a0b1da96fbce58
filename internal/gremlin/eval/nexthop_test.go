package eval_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
)

// route builds a RoutingTables route as the netlink probe writes it.
func route(prefix string, hops ...map[string]any) map[string]any {
	hs := make([]any, len(hops))
	for i, h := range hops {
		hs[i] = h
	}
	return map[string]any{"Protocol": int64(4), "Prefix": prefix, "NextHops": hs}
}

func hop(ip string, ifindex, priority int64) map[string]any {
	h := map[string]any{"IfIndex": ifindex, "Priority": priority}
	if ip != "" {
		h["IP"] = ip
	}
	return h
}

func table(id int64, routes ...map[string]any) map[string]any {
	rs := make([]any, len(routes))
	for i, r := range routes {
		rs[i] = r
	}
	return map[string]any{"ID": id, "Src": "", "Routes": rs}
}

func tables(ts ...map[string]any) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

func neigh(ip, mac string) map[string]any {
	return map[string]any{"IP": ip, "MAC": mac, "State": []any{"NUD_REACHABLE"}, "IfIndex": int64(3)}
}

func TestLookupNextHop(t *testing.T) {
	neighbors := []any{neigh("10.0.0.254", "aa:aa:aa:aa:aa:01"), neigh("10.0.0.7", "aa:aa:aa:aa:aa:07"), neigh("fe80::1", "aa:aa:aa:aa:aa:06")}
	tests := []struct {
		name   string
		tables []any
		ip     string
		want   *eval.NextHop // nil: no route
	}{
		{
			name:   "gateway of a specific route, MAC from the neighbours",
			tables: tables(table(254, route("10.1.0.0/24", hop("10.0.0.254", 3, 100)))),
			ip:     "10.1.0.5",
			want:   &eval.NextHop{IP: "10.0.0.254", MAC: "aa:aa:aa:aa:aa:01", IfIndex: 3, Priority: 100},
		},
		{
			name: "longest prefix wins over the default and a shorter prefix",
			tables: tables(table(254,
				route("0.0.0.0/0", hop("10.0.0.1", 3, 0)),
				route("10.1.0.0/16", hop("10.0.0.2", 3, 0)),
				route("10.1.2.0/24", hop("10.0.0.3", 3, 0)),
				route("10.1.2.128/25", hop("10.0.0.4", 3, 0)))),
			ip:   "10.1.2.9",
			want: &eval.NextHop{IP: "10.0.0.3", IfIndex: 3},
		},
		{
			name: "default route when nothing more specific",
			tables: tables(table(254,
				route("10.1.0.0/16", hop("10.0.0.2", 3, 0)),
				route("0.0.0.0/0", hop("10.0.0.254", 3, 600)))),
			ip:   "8.8.8.8",
			want: &eval.NextHop{IP: "10.0.0.254", MAC: "aa:aa:aa:aa:aa:01", IfIndex: 3, Priority: 600},
		},
		{
			name:   "connected route: the destination itself, with its MAC",
			tables: tables(table(254, route("10.0.0.0/24", hop("", 3, 0)))),
			ip:     "10.0.0.7",
			want:   &eval.NextHop{IP: "10.0.0.7", MAC: "aa:aa:aa:aa:aa:07", IfIndex: 3},
		},
		{
			name:   "connected route to an unknown neighbour: no MAC",
			tables: tables(table(254, route("10.0.0.0/24", hop("", 3, 0)))),
			ip:     "10.0.0.8",
			want:   &eval.NextHop{IP: "10.0.0.8", IfIndex: 3},
		},
		{
			name: "same prefix twice: the lowest metric",
			tables: tables(table(254,
				route("10.2.0.0/24", hop("10.0.0.20", 3, 200)),
				route("10.2.0.0/24", hop("10.0.0.10", 3, 100)))),
			ip:   "10.2.0.1",
			want: &eval.NextHop{IP: "10.0.0.10", IfIndex: 3, Priority: 100},
		},
		{
			name:   "one route with next hops of several metrics: the lowest",
			tables: tables(table(254, route("10.2.0.0/24", hop("10.0.0.20", 3, 200), hop("10.0.0.10", 3, 50)))),
			ip:     "10.2.0.1",
			want:   &eval.NextHop{IP: "10.0.0.10", IfIndex: 3, Priority: 50},
		},
		{
			name: "the main table answers before the others",
			tables: tables(
				table(100, route("10.3.0.0/24", hop("10.0.0.100", 3, 0))),
				table(254, route("0.0.0.0/0", hop("10.0.0.254", 3, 0)))),
			ip:   "10.3.0.1",
			want: &eval.NextHop{IP: "10.0.0.254", MAC: "aa:aa:aa:aa:aa:01", IfIndex: 3},
		},
		{
			name: "another table when main has no route",
			tables: tables(
				table(254, route("10.4.0.0/24", hop("10.0.0.2", 3, 0))),
				table(255, route("192.168.0.0/24", hop("10.16.0.2", 3, 0)))),
			ip:   "192.168.0.5",
			want: &eval.NextHop{IP: "10.16.0.2", IfIndex: 3},
		},
		{
			name:   "IPv6 default route",
			tables: tables(table(254, route("::/0", hop("fe80::1", 3, 1024)), route("0.0.0.0/0", hop("10.0.0.1", 3, 0)))),
			ip:     "2001:db8::1",
			want:   &eval.NextHop{IP: "fe80::1", MAC: "aa:aa:aa:aa:aa:06", IfIndex: 3, Priority: 1024},
		},
		{
			name:   "an IPv4 address does not match an IPv6 default",
			tables: tables(table(254, route("::/0", hop("fe80::1", 3, 0)))),
			ip:     "8.8.8.8",
		},
		{
			name:   "an older probe's default route has no Prefix",
			tables: tables(table(254, map[string]any{"Protocol": int64(3), "NextHops": []any{hop("10.0.0.254", 3, 0)}})),
			ip:     "1.1.1.1",
			want:   &eval.NextHop{IP: "10.0.0.254", MAC: "aa:aa:aa:aa:aa:01", IfIndex: 3},
		},
		{
			name:   "no route to the address",
			tables: tables(table(254, route("10.5.0.0/24", hop("10.0.0.2", 3, 0)))),
			ip:     "10.6.0.1",
		},
		{
			name: "no routing tables",
			ip:   "10.6.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := graph.Metadata{"Name": "eth0", "Neighbors": neighbors}
			if tt.tables != nil {
				m["RoutingTables"] = tt.tables
			}
			m = graph.NormalizeMetadata(m)
			got, ok := eval.LookupNextHop(m, netip.MustParseAddr(tt.ip))
			switch {
			case tt.want == nil && ok:
				t.Fatalf("got %+v, want no route", got)
			case tt.want != nil && !ok:
				t.Fatalf("no route, want %+v", *tt.want)
			case tt.want != nil && got != *tt.want:
				t.Fatalf("got %+v, want %+v", got, *tt.want)
			}
		})
	}
}

func TestNextHopStep(t *testing.T) {
	g := graph.New()
	add := func(id string, m graph.Metadata) {
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: m}}); err != nil {
			t.Fatal(err)
		}
	}
	add("n1", graph.Metadata{"Type": "veth", "Name": "a", "IPV4": []any{"10.0.0.1/24"},
		"RoutingTables": tables(table(254, route("0.0.0.0/0", hop("10.0.0.254", 3, 0)), route("10.0.0.0/24", hop("", 3, 0)))),
		"Neighbors":     []any{neigh("10.0.0.254", "aa:aa:aa:aa:aa:01")}})
	add("n2", graph.Metadata{"Type": "veth", "Name": "b", "RoutingTables": tables(table(254, route("10.9.0.0/24", hop("10.0.0.9", 4, 7))))})
	add("n3", graph.Metadata{"Type": "host", "Name": "h"})

	tests := []struct{ src, json string }{
		{"G.V().Has('Name', 'a').NextHop('8.8.8.8')", `[{"n1":{"Priority":0,"IP":"10.0.0.254","MAC":"aa:aa:aa:aa:aa:01","IfIndex":3}}]`},
		{"G.V().Has('Name', 'a').NextHop('10.0.0.42')", `[{"n1":{"Priority":0,"IP":"10.0.0.42","IfIndex":3}}]`},
		{"G.V().NextHop('10.9.0.1')", `[{"n1":{"Priority":0,"IP":"10.0.0.254","MAC":"aa:aa:aa:aa:aa:01","IfIndex":3},"n2":{"Priority":7,"IP":"10.0.0.9","IfIndex":4}}]`},
		{"G.V().Has('Type', 'host').NextHop('8.8.8.8')", `[]`},
		{"G.V().Has('Name', 'b').NextHop('8.8.8.8')", `[]`},
		{"g.v().nexthop('::ffff:10.9.0.1')", `[{"n1":{"Priority":0,"IP":"10.0.0.254","MAC":"aa:aa:aa:aa:aa:01","IfIndex":3},"n2":{"Priority":7,"IP":"10.0.0.9","IfIndex":4}}]`},
	}
	for _, tt := range tests {
		res, err := run(t, g, tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if res.Kind() != eval.KindNextHops {
			t.Errorf("%s: kind %s", tt.src, res.Kind())
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.json {
			t.Errorf("%s = %s\nwant %s", tt.src, b, tt.json)
		}
	}

	for src, want := range map[string]string{
		"G.V().NextHop('nope')":            `1:15: NextHop(): "nope" is not a valid IP address`,
		"G.NextHop('8.8.8.8')":             `NextHop() cannot follow G`,
		"G.V().NextHop('8.8.8.8').Count()": `Count() cannot follow NextHop()`,
	} {
		_, err := eval.Compile(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}

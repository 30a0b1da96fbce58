// Package fabric is the analyzer's probe of static objects: the switches,
// ports and links a user declares in analyzer.topology.fabric, in the
// original's syntax, linked to the interfaces the agents report.
//
//	TOR1[Name=tor1] -> TOR1_PORT1[Name=port1, MTU=1500]
//	TOR1_PORT1 -> *[Type=host]/eth0
//	TOR1_PORT2 --> *[Type=host, Name=compute1]/eth1
//
// "A -> B" makes A own B and joins them at layer 2; "A --> B" only joins
// them. A child "*[filter]/name" stands for the interface called name of
// every node matching the filter (the filter alone: those nodes).
package fabric

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Probe keeps the declared objects in the graph.
type Probe struct {
	nodes []nodeDef
	links []linkDef
	rec   topology.Reconciler
	log   *slog.Logger
	// watched are the metadata keys whose changes can change the links.
	watched []string
}

type nodeDef struct {
	key      string
	metadata graph.Metadata
}

type linkDef struct {
	parent    string // a declared node's key
	child     nodeRef
	ownership bool
	metadata  graph.Metadata
}

// nodeRef is either a declared node (key) or a wildcard over the graph.
type nodeRef struct {
	key    string
	filter graph.Metadata // wildcard: every node matching
	iface  string         // wildcard: that node's interface of this name
}

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Definitions are the analyzer.topology.fabric lines.
	Definitions []string
	Logger      *slog.Logger
}

// New parses the definitions; an error names the line and what is wrong.
func New(opts Options) (*Probe, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Probe{log: opts.Logger.With("probe", "fabric")}
	p.rec = topology.Reconciler{W: opts.Writer, Log: p.log}
	declared := map[string]int{}
	declare := func(key string, m graph.Metadata) {
		if i, ok := declared[key]; ok {
			for k, v := range m {
				p.nodes[i].metadata[k] = v
			}
			return
		}
		md := graph.Metadata{graph.KeyName: key, graph.KeyType: "device"}
		for k, v := range m {
			md[k] = v
		}
		md["Probe"] = "fabric"
		declared[key] = len(p.nodes)
		p.nodes = append(p.nodes, nodeDef{key: key, metadata: md})
	}
	for i, line := range opts.Definitions {
		l, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("analyzer.topology.fabric[%d] %q: %w", i, line, err)
		}
		declare(l.parent.key, l.parent.filter)
		if l.child.key != "" {
			declare(l.child.key, l.child.filter)
			l.child.filter = nil
		}
		p.links = append(p.links, linkDef{parent: l.parent.key, child: l.child, ownership: l.ownership, metadata: l.metadata})
		for k := range l.child.filter {
			p.watched = append(p.watched, k)
		}
	}
	// Name finds a host's interface; IfIndex tells an interface.
	p.watched = append(p.watched, graph.KeyName, topology.KeyIfIndex)
	return p, nil
}

// NodeID is the ID of a declared node, the original's UUIDv5("fabric"+key).
func NodeID(key string) graph.Identifier { return topology.GenID("fabric" + key) }

// Run keeps the objects and links until ctx ends, then removes them.
func (p *Probe) Run(ctx context.Context) error {
	p.rec.Follow(ctx, 200*time.Millisecond, p.relevant, p.desired)
	return nil
}

// relevant tells the graph changes that can change the wildcard links:
// nodes (dis)appearing or changing a key a filter or the interface lookup
// reads, and ownership edges.
func (p *Probe) relevant(ev graph.Event) bool {
	return topology.Touches(ev, p.watched...) || topology.EdgeOf(ev, topology.OwnershipLink)
}

func (p *Probe) desired() *topology.Desired {
	d := topology.NewDesired()
	for _, n := range p.nodes {
		id := NodeID(n.key)
		m := n.metadata.Clone()
		m[topology.KeyTID] = string(id)
		d.Nodes[id] = m
	}
	g := p.rec.W.G
	for _, l := range p.links {
		parent := NodeID(l.parent)
		var children []graph.Identifier
		if l.child.key != "" {
			children = []graph.Identifier{NodeID(l.child.key)}
		} else {
			for _, n := range g.Nodes() {
				if n.Metadata["Probe"] == "fabric" || !matches(n.Metadata, l.child.filter) {
					continue
				}
				if l.child.iface == "" {
					children = append(children, n.ID)
				} else if c := p.rec.W.OwnedNode(n.ID, l.child.iface); c != nil {
					children = append(children, c.ID)
				}
			}
		}
		for _, c := range children {
			em := graph.Metadata{"Type": "fabric"}
			for k, v := range l.metadata {
				em[k] = v
			}
			// An agent's node is never owned by the analyzer's objects.
			if l.ownership && l.child.key != "" {
				d.Edges[topology.EdgeKey{Parent: parent, Child: c, Relation: topology.OwnershipLink}] = nil
			}
			d.Edges[topology.EdgeKey{Parent: parent, Child: c, Relation: topology.Layer2Link}] = em
		}
	}
	return d
}

// matches tells whether m has every value of filter (nested filters, from
// dotted keys, match nested metadata).
func matches(m, filter map[string]any) bool {
	for k, want := range filter {
		got, ok := m[k]
		if sub, nested := want.(map[string]any); nested {
			gm, isMap := got.(map[string]any)
			if !ok || !isMap || !matches(gm, sub) {
				return false
			}
			continue
		}
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			return false
		}
	}
	return true
}

type parsedLine struct {
	parent, child nodeRef
	ownership     bool
	metadata      graph.Metadata
}

// parseLine reads "A[k=v] -> B[k=v]", "A --> *[k=v]/eth0", "A -[k=v]-> B".
// Hand-written: the grammar is the original's few-token DSL, no library has it.
func parseLine(line string) (parsedLine, error) {
	var out parsedLine
	arrow := strings.Index(line, "->")
	if arrow < 0 {
		return out, fmt.Errorf("no link: expected NAME[k=v,...] -> NAME[k=v,...]")
	}
	left, right := line[:arrow], line[arrow+2:]
	// The arrow's own part: "-->", "-[k=v]->" or "->[k=v]".
	out.ownership = true
	left = strings.TrimRight(left, " ")
	if i := strings.LastIndex(left, "-["); i >= 0 && strings.HasSuffix(left, "]") {
		md, err := parseMetadata(left[i+2 : len(left)-1])
		if err != nil {
			return out, err
		}
		out.metadata, left = md, left[:i]
	} else if strings.HasSuffix(left, "-") {
		out.ownership, left = false, strings.TrimSuffix(left, "-")
	}
	right = strings.TrimSpace(right)
	if strings.HasPrefix(right, "[") {
		end := strings.Index(right, "]")
		if end < 0 {
			return out, fmt.Errorf("unclosed [ after ->")
		}
		md, err := parseMetadata(right[1:end])
		if err != nil {
			return out, err
		}
		out.metadata, right = md, strings.TrimSpace(right[end+1:])
	}
	var err error
	if out.parent, err = parseRef(strings.TrimSpace(left)); err != nil {
		return out, fmt.Errorf("left of ->: %w", err)
	}
	if out.parent.key == "" {
		return out, fmt.Errorf("left of ->: a wildcard cannot own or link objects, name a declared node")
	}
	if out.child, err = parseRef(right); err != nil {
		return out, fmt.Errorf("right of ->: %w", err)
	}
	return out, nil
}

func parseRef(s string) (nodeRef, error) {
	var r nodeRef
	name, rest := s, ""
	if i := strings.Index(s, "["); i >= 0 {
		end := strings.LastIndex(s, "]")
		if end < i {
			return r, fmt.Errorf("unclosed [ in %q", s)
		}
		name, rest = strings.TrimSpace(s[:i]), s[end+1:]
		md, err := parseMetadata(s[i+1 : end])
		if err != nil {
			return r, err
		}
		r.filter = md
	} else if j := strings.Index(s, "/"); j >= 0 {
		name, rest = s[:j], s[j:]
	}
	if strings.HasPrefix(rest, "/") {
		if name != "*" {
			return r, fmt.Errorf("%q: only a wildcard *[...] takes /interface", s)
		}
		r.iface = strings.TrimSpace(rest[1:])
	} else if strings.TrimSpace(rest) != "" {
		return r, fmt.Errorf("unexpected %q after ]", rest)
	}
	if name == "*" {
		if len(r.filter) == 0 {
			return r, fmt.Errorf("a wildcard needs a filter, e.g. *[Type=host]/eth0")
		}
		return r, nil
	}
	if name == "" {
		return r, fmt.Errorf("missing node name in %q", s)
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return r, fmt.Errorf("node name %q: letters, digits, _ - . only", name)
		}
	}
	r.key = name
	return r, nil
}

// parseMetadata reads "k=v, k2=v2" (dotted keys nest); integers become
// numbers (MTU=1500).
func parseMetadata(s string) (graph.Metadata, error) {
	return graph.ParseKeyValues(s, func(v string) any {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
		return v
	})
}

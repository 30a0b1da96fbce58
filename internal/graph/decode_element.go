package graph

import (
	"encoding/json"

	"github.com/skydive-ng/skydive/internal/jsonscan"
)

// DecodeNode decodes a node's JSON as json.Unmarshal would, the common
// shape (the Element fields by their exact names, strings without
// escapes, integer times) in one pass without encoding/json's validation
// scan and reflection: what every graph event of agents and publishers
// goes through. Anything else is left to json.Unmarshal, so that results
// and errors stay its own (FuzzDecodeElement holds the two equal).
func DecodeNode(b []byte, n *Node) error {
	if fastElement(b, &n.Element, nil, nil, nil) {
		return nil
	}
	*n = Node{}
	return json.Unmarshal(b, n)
}

// DecodeEdge is DecodeNode for an edge.
func DecodeEdge(b []byte, e *Edge) error {
	return decodeEdge(b, e, nil)
}

func decodeEdge(b []byte, e *Edge, shared *EdgeDecoder) error {
	if fastElement(b, &e.Element, &e.Parent, &e.Child, shared) {
		return nil
	}
	*e = Edge{}
	return json.Unmarshal(b, e)
}

// EdgeDecoder is DecodeEdge for one goroutine (a connection's reader)
// that gives the edges whose metadata the graph already shares (most
// edges: {"RelationType":"ownership"}) the graph's map itself, found by
// the metadata's bytes: no map is made for each such edge only for the
// graph to drop it for its own. Those maps are the graph's and are never
// changed.
type EdgeDecoder struct {
	g     *Graph
	byRaw map[string]Metadata
}

// Bounds of an EdgeDecoder's memory: the metadata it knows by their bytes,
// and the bytes of one.
const (
	maxDecoderMetadata = 256
	maxDecoderRawBytes = 256
)

// NewEdgeDecoder returns an EdgeDecoder for edges given to g.
func (g *Graph) NewEdgeDecoder() *EdgeDecoder {
	return &EdgeDecoder{g: g, byRaw: map[string]Metadata{}}
}

// Decode decodes an edge as DecodeEdge does.
func (d *EdgeDecoder) Decode(b []byte, e *Edge) error {
	return decodeEdge(b, e, d)
}

// metadata returns the metadata of raw, decoded as m: the graph's copy
// once it shares it.
func (d *EdgeDecoder) metadata(raw []byte, m Metadata) Metadata {
	if len(raw) > maxDecoderRawBytes {
		return m
	}
	s, ok := d.g.sharedEdgeMetadata(m)
	if !ok {
		return m
	}
	if len(d.byRaw) < maxDecoderMetadata {
		d.byRaw[string(raw)] = s
	}
	return s
}

// fastElement decodes b into *el (and an edge's ends when parent and child
// are set), all or nothing: it writes only when it took the whole
// document.
func fastElement(b []byte, el *Element, parent, child *Identifier, shared *EdgeDecoder) bool {
	var out Element
	var par, chi Identifier
	p := jsonscan.Scanner{B: b}
	p.Space()
	str := func(dst *string) bool {
		if p.Literal("null") { // encoding/json leaves the field as it is
			return true
		}
		s, ok := p.Str()
		*dst = s
		return ok
	}
	id := func(dst *Identifier) bool {
		s := string(*dst)
		ok := str(&s)
		*dst = Identifier(s)
		return ok
	}
	integer := func(dst *int64) bool {
		if p.Literal("null") { // the field stays as it is
			return true
		}
		v, ok := p.Int()
		*dst = v
		return ok
	}
	time := func(dst *Time) bool {
		if p.Literal("null") { // Time.UnmarshalJSON: unset
			*dst = 0
			return true
		}
		v, ok := p.Int()
		*dst = Time(v)
		return ok
	}
	ok := p.Members(func(k []byte) bool {
		switch string(k) {
		case "ID":
			return id(&out.ID)
		case "Metadata":
			if p.Peek() != '{' {
				return false // null and the rest: encoding/json's rules
			}
			if shared == nil {
				m, ok := p.Object()
				out.Metadata = m
				return ok
			}
			start := p.I
			if !p.Skip() {
				return false
			}
			raw := b[start:p.I]
			if m, ok := shared.byRaw[string(raw)]; ok {
				out.Metadata = m
				return true
			}
			sub := jsonscan.Scanner{B: raw}
			m, ok := sub.Object()
			if ok {
				out.Metadata = shared.metadata(raw, m)
			}
			return ok
		case "Host":
			return str(&out.Host)
		case "Origin":
			return str(&out.Origin)
		case "CreatedAt":
			return time(&out.CreatedAt)
		case "UpdatedAt":
			return time(&out.UpdatedAt)
		case "DeletedAt":
			return time(&out.DeletedAt)
		case "Revision":
			return integer(&out.Revision)
		case "Parent":
			return parent != nil && id(&par)
		case "Child":
			return child != nil && id(&chi)
		}
		return false // another key, or another case of one: encoding/json matches keys without case
	})
	if !ok || !p.End() {
		return false
	}
	*el = out
	if parent != nil {
		*parent, *child = par, chi
	}
	return true
}

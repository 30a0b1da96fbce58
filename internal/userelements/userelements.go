// Package userelements serves the original's /api/node and /api/edge: graph
// nodes and edges that clients create, list, get, patch (a JSON patch of
// their Metadata) and delete. The elements created this way are the
// analyzer's own (its Host and an "analyzer.<host>" Origin unless the client
// gives them), so the agents' resyncs never remove them.
package userelements

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/resource"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Keys that a patch may not change.
var frozen = []string{"TID", "Name", "Type"}

// Handlers serves the node and edge resources on a graph.
type Handlers struct {
	G *graph.Graph
	// Host and Origin stamp the elements whose client gives none.
	Host, Origin string
}

// New serves g's elements for the analyzer of host id host.
func New(g *graph.Graph, host string) *Handlers {
	return &Handlers{G: g, Host: host, Origin: "analyzer." + host}
}

// Register adds GET, POST /api/node, GET, PATCH, DELETE /api/node/{id} and
// the same for /api/edge to mux.
func (h *Handlers) Register(mux httpapi.Mux, s *httpapi.Server) {
	mux.HandleFunc("GET /api/node", func(w http.ResponseWriter, _ *http.Request) {
		out := map[graph.Identifier]*graph.Node{}
		for _, n := range h.G.Nodes() {
			out[n.ID] = n
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/edge", func(w http.ResponseWriter, _ *http.Request) {
		out := map[graph.Identifier]*graph.Edge{}
		for _, e := range h.G.Edges() {
			out[e.ID] = e
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/node/{id}", func(w http.ResponseWriter, r *http.Request) {
		if n := h.G.Node(graph.Identifier(r.PathValue("id"))); n != nil {
			httpapi.WriteJSON(w, http.StatusOK, n)
			return
		}
		notFound(w, "Node", r.PathValue("id"))
	})
	mux.HandleFunc("GET /api/edge/{id}", func(w http.ResponseWriter, r *http.Request) {
		if e := h.G.Edge(graph.Identifier(r.PathValue("id"))); e != nil {
			httpapi.WriteJSON(w, http.StatusOK, e)
			return
		}
		notFound(w, "Edge", r.PathValue("id"))
	})
	mux.HandleFunc("POST /api/node", func(w http.ResponseWriter, r *http.Request) {
		var n graph.Node
		if err := httpapi.DecodeJSON(w, r, s.MaxBody, &n); err != nil {
			s.WriteError(w, err)
			return
		}
		created, err := h.CreateNode(&n)
		if err != nil {
			s.WriteError(w, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, created)
	})
	mux.HandleFunc("POST /api/edge", func(w http.ResponseWriter, r *http.Request) {
		var e graph.Edge
		if err := httpapi.DecodeJSON(w, r, s.MaxBody, &e); err != nil {
			s.WriteError(w, err)
			return
		}
		created, err := h.CreateEdge(&e)
		if err != nil {
			s.WriteError(w, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, created)
	})
	mux.HandleFunc("PATCH /api/node/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := graph.Identifier(r.PathValue("id"))
		h.patch(w, r, s, "Node", h.G.Node(id) != nil, func(ops []byte) (any, bool, error) { return h.PatchNode(id, ops) })
	})
	mux.HandleFunc("PATCH /api/edge/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := graph.Identifier(r.PathValue("id"))
		h.patch(w, r, s, "Edge", h.G.Edge(id) != nil, func(ops []byte) (any, bool, error) { return h.PatchEdge(id, ops) })
	})
	mux.HandleFunc("DELETE /api/node/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := h.G.DeleteNode(graph.Identifier(r.PathValue("id"))); err != nil {
			notFound(w, "Node", r.PathValue("id"))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("DELETE /api/edge/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := h.G.DeleteEdge(graph.Identifier(r.PathValue("id"))); err != nil {
			notFound(w, "Edge", r.PathValue("id"))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	})
}

func notFound(w http.ResponseWriter, title, id string) {
	http.Error(w, fmt.Sprintf("%s '%s' not found", title, id), http.StatusNotFound)
}

// patch answers PATCH: 404 for an unknown element, 400 for a bad patch, 304
// when it changes nothing, else 200 and the element.
func (h *Handlers) patch(w http.ResponseWriter, r *http.Request, s *httpapi.Server, title string, exists bool, apply func([]byte) (any, bool, error)) {
	if !exists {
		notFound(w, title, r.PathValue("id"))
		return
	}
	var ops json.RawMessage
	if err := httpapi.DecodeJSON(w, r, s.MaxBody, &ops); err != nil {
		s.WriteError(w, err)
		return
	}
	v, changed, err := apply(ops)
	switch {
	case err != nil && resource.KindOf(err) == resource.KindNotFound:
		notFound(w, title, r.PathValue("id"))
	case err != nil:
		s.WriteError(w, err)
	case !changed:
		w.WriteHeader(http.StatusNotModified)
	default:
		httpapi.WriteJSON(w, http.StatusOK, v)
	}
}

// CreateNode validates n as the original's node schema and adds it.
func (h *Handlers) CreateNode(n *graph.Node) (*graph.Node, error) {
	if err := topology.ValidateNode(n); err != nil {
		return nil, resource.Invalid(err)
	}
	h.own(&n.Element)
	if err := h.G.AddNode(n); err != nil {
		if errors.Is(err, graph.ErrExists) {
			return nil, resource.Conflict(fmt.Sprintf("Node '%s' already exists", n.ID))
		}
		return nil, err
	}
	return h.G.Node(n.ID), nil
}

// CreateEdge validates e as the original's edge schema, checks its ends and
// adds it.
func (h *Handlers) CreateEdge(e *graph.Edge) (*graph.Edge, error) {
	if err := topology.ValidateEdge(e); err != nil {
		return nil, resource.Invalid(err)
	}
	for _, end := range []struct {
		field string
		id    graph.Identifier
	}{{"Parent", e.Parent}, {"Child", e.Child}} {
		if h.G.Node(end.id) == nil {
			return nil, resource.Invalidf("%s: node '%s' not found", end.field, end.id)
		}
	}
	h.own(&e.Element)
	if err := h.G.AddEdge(e); err != nil {
		switch {
		case errors.Is(err, graph.ErrExists):
			return nil, resource.Conflict(fmt.Sprintf("Edge '%s' already exists", e.ID))
		case errors.Is(err, graph.ErrNodeNotFound): // an end deleted meanwhile
			return nil, resource.Invalid(err)
		}
		return nil, err
	}
	return h.G.Edge(e.ID), nil
}

// own stamps a new element: the analyzer's Host and Origin unless given, a
// first revision.
func (h *Handlers) own(e *graph.Element) {
	if e.Host == "" {
		e.Host = h.Host
	}
	if e.Origin == "" {
		e.Origin = h.Origin
	}
	e.Revision, e.DeletedAt = 0, 0
	if e.UpdatedAt < e.CreatedAt {
		e.UpdatedAt = 0
	}
}

// PatchNode applies the JSON patch ops to the node's Metadata and reports
// whether it changed. A patch must only touch /Metadata/..., never TID, Name
// or Type, and must leave a valid node.
func (h *Handlers) PatchNode(id graph.Identifier, ops []byte) (*graph.Node, bool, error) {
	cur := h.G.Node(id)
	if cur == nil {
		return nil, false, resource.NotFound(fmt.Sprintf("Node '%s' not found", id))
	}
	changed, err := h.apply(ops, &cur.Element, topology.ValidateNodeMetadata, func(f func(graph.Metadata) bool) error {
		return h.G.UpdateNodeMetadata(id, f)
	})
	if err != nil {
		return nil, false, err
	}
	return h.G.Node(id), changed, nil
}

// PatchEdge is PatchNode for edges, which must keep a RelationType.
func (h *Handlers) PatchEdge(id graph.Identifier, ops []byte) (*graph.Edge, bool, error) {
	cur := h.G.Edge(id)
	if cur == nil {
		return nil, false, resource.NotFound(fmt.Sprintf("Edge '%s' not found", id))
	}
	changed, err := h.apply(ops, &cur.Element, topology.ValidateEdgeMetadata, func(f func(graph.Metadata) bool) error {
		return h.G.UpdateEdgeMetadata(id, f)
	})
	if err != nil {
		return nil, false, err
	}
	return h.G.Edge(id), changed, nil
}

// apply patches, under the graph's lock (update), the metadata of the
// element el (its other fields as the patch's document sees them).
func (h *Handlers) apply(ops []byte, el *graph.Element, check func(graph.Metadata) error, update func(func(graph.Metadata) bool) error) (bool, error) {
	if err := checkPaths(ops); err != nil {
		return false, err
	}
	var changed bool
	var perr error
	err := update(func(m graph.Metadata) bool {
		doc := *el
		doc.Metadata = m
		b, err := json.Marshal(doc)
		if err != nil {
			perr = err
			return false
		}
		out, err := httpapi.ApplyPatch(b, ops)
		if err != nil {
			perr = resource.Invalid(err)
			return false
		}
		var patched graph.Element
		if err := json.Unmarshal(out, &patched); err != nil {
			perr = resource.Invalidf("patched element: %v", err)
			return false
		}
		if patched.Metadata == nil {
			perr = resource.Invalidf("patch: /Metadata: required")
			return false
		}
		for _, k := range frozen {
			if !reflect.DeepEqual(graph.Normalize(m[k]), graph.Normalize(patched.Metadata[k])) {
				perr = resource.Invalidf("patch: /Metadata/%s cannot be changed", k)
				return false
			}
		}
		if err := check(patched.Metadata); err != nil {
			perr = resource.Invalid(err)
			return false
		}
		if m.Equal(patched.Metadata) {
			return false
		}
		for k := range m {
			delete(m, k)
		}
		for k, v := range patched.Metadata {
			m[k] = v
		}
		changed = true
		return true
	})
	if err != nil {
		if errors.Is(err, graph.ErrNodeNotFound) || errors.Is(err, graph.ErrEdgeNotFound) {
			return false, resource.NotFound(err.Error())
		}
		return false, err
	}
	return changed, perr
}

// checkPaths refuses a malformed patch, one writing outside /Metadata/ and
// one touching the frozen keys; errors name the path.
func checkPaths(ops []byte) error {
	p, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return resource.Invalidf("patch: %v", err)
	}
	for i, op := range p {
		kind := op.Kind()
		if kind == "test" {
			continue
		}
		path, err := op.Path()
		if err != nil {
			return resource.Invalidf("patch: operation %d: %v", i, err)
		}
		paths := []string{path}
		if kind == "move" {
			from, err := op.From()
			if err != nil {
				return resource.Invalidf("patch: operation %d: %v", i, err)
			}
			paths = append(paths, from)
		}
		for _, path := range paths {
			if path != "/Metadata" && !strings.HasPrefix(path, "/Metadata/") {
				return resource.Invalidf("patch: operation %d: path %q: only /Metadata/... can be patched", i, path)
			}
			for _, k := range frozen {
				if path == "/Metadata/"+k || strings.HasPrefix(path, "/Metadata/"+k+"/") {
					return resource.Invalidf("patch: operation %d: path %q: /Metadata/%s cannot be changed", i, path, k)
				}
			}
		}
	}
	return nil
}

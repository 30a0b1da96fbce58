// Package openapi describes the analyzer's REST API in OpenAPI 3
// (/api/openapi.json). The routes are a table checked against the
// router's own patterns by a test, so that a route added without its
// description fails; the bodies' schemas are generated from the api/v1
// types, so that no field can be missing.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/latency"
	"github.com/skydive-ng/skydive/internal/report"
)

// Path of the document.
const Path = "/api/openapi.json"

// Route is one operation of the API.
type Route struct {
	Method, Path string // Path in the router's syntax: /api/capture/{id}
	Summary, Tag string
	// Body is a value of the request body's type (nil: none); BodyType its
	// media type when not JSON.
	Body     any
	BodyType string
	// Status and Response describe the success answer; ResponseType its
	// media type when not JSON; a nil Response is any JSON.
	Status       int
	Response     any
	ResponseType string
}

// nodeDoc and edgeDoc are the JSON of graph nodes and edges (the graph
// package marshals them by hand).
type nodeDoc struct {
	ID        string         `json:"ID"`
	Metadata  map[string]any `json:"Metadata"`
	Host      string         `json:"Host"`
	Origin    string         `json:"Origin"`
	CreatedAt int64          `json:"CreatedAt"`
	UpdatedAt int64          `json:"UpdatedAt"`
	DeletedAt *int64         `json:"DeletedAt"`
	Revision  int64          `json:"Revision"`
}

type edgeDoc struct {
	nodeDoc
	Parent string `json:"Parent"`
	Child  string `json:"Child"`
}

type graphDoc struct {
	Nodes []nodeDoc `json:"Nodes"`
	Edges []edgeDoc `json:"Edges"`
}

// Login is the answer of POST /login.
type loginDoc struct {
	Token       string `json:"Token"`
	Permissions []struct {
		Object  string `json:"Object"`
		Action  string `json:"Action"`
		Allowed bool   `json:"Allowed"`
	} `json:"Permissions"`
}

type pcapAnswer struct {
	Flows   int   `json:"Flows"`
	Packets int64 `json:"Packets"`
}

// jsonPatch is a JSON patch (RFC 6902) as PATCH takes it.
type jsonPatch []struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// anyJSON marks an answer whose shape depends on the request (a query).
type anyJSON struct{}

// resource lists the CRUD operations of /api/<name>.
func resource(name, title string, v any, updatable bool) []Route {
	base := "/api/" + name
	rs := []Route{
		{Method: "GET", Path: base, Summary: "List the " + title + "s, by ID", Tag: title, Status: 200, Response: mapOf(v)},
		{Method: "POST", Path: base, Summary: "Create a " + title, Tag: title, Body: v, Status: 201, Response: v},
		{Method: "GET", Path: base + "/{id}", Summary: "Get a " + title, Tag: title, Status: 200, Response: v},
		{Method: "DELETE", Path: base + "/{id}", Summary: "Delete a " + title, Tag: title, Status: 200, ResponseType: "text/plain"},
	}
	patch := Route{Method: "PATCH", Path: base + "/{id}", Summary: "Change a " + title + " with a JSON patch (304 if nothing changed)",
		Tag: title, Body: jsonPatch{}, BodyType: "application/json-patch+json", Status: 200, Response: v}
	if !updatable {
		patch.Summary = "Answers 400: a " + title + " is not updatable, as in the original (delete and create it again)"
	}
	return append(rs, patch)
}

// mapOfType is the answer of a list: the resources by ID.
type mapOfType struct{ elem any }

func mapOf(v any) any { return mapOfType{v} }

// Routes is the whole API, as the router serves it.
func Routes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/api", Summary: "Service, host and version", Tag: "Service", Status: 200, Response: v1.APIInfo{}},
		{Method: "GET", Path: "/api/status", Summary: "Agents, peers, publishers, subscribers, probes, storage, security", Tag: "Service", Status: 200, Response: v1.AnalyzerStatus{}},
		{Method: "GET", Path: Path, Summary: "This document", Tag: "Service", Status: 200, Response: anyJSON{}},
		{Method: "GET", Path: "/api/topology", Summary: "The whole graph", Tag: "Topology", Status: 200, Response: graphDoc{}},
		{Method: "POST", Path: "/api/topology", Summary: "Run a Gremlin query (topology, history, flows)", Tag: "Topology", Body: v1.TopologyQuery{}, Status: 200, Response: anyJSON{}},
		{Method: "GET", Path: "/api/capture/{id}/pcap", Summary: "The capture's raw packets as a pcap file", Tag: "Capture", Status: 200, ResponseType: "application/vnd.tcpdump.pcap"},
		{Method: "POST", Path: "/api/workflow/{id}/call", Summary: "Run a workflow (by UUID or name) with parameters", Tag: "Workflow", Body: v1.WorkflowCall{}, Status: 200, Response: anyJSON{}},
		{Method: "POST", Path: "/api/pcap", Summary: "Make flows of a pcap or pcapng file", Tag: "Flow", Body: []byte{}, BodyType: "application/octet-stream", Status: 202, Response: pcapAnswer{}},
		{Method: "GET", Path: "/api/report/tenants", Summary: "Bytes and packets per Neutron tenant and application over a window (?since=1h or ?from=&to= in RFC 3339; ?format=csv)",
			Tag: "Report", Status: 200, Response: report.Answer{}},
		{Method: "GET", Path: "/api/latency", Summary: "RTT between hosts (ms) from the flows' RTT over a window (?since=5m) and the live flows", Tag: "Flow", Status: 200, Response: latency.Map{}},
		{Method: "POST", Path: "/api/latency/probe", Summary: "Inject pings between every pair of hosts sharing a subnet (?count=5&interval=200ms), captured where they leave, so that their RTT is in the latency map by ReadyAt",
			Tag: "Flow", Status: 200, Response: latency.ProbeAnswer{}},
		{Method: "GET", Path: "/metrics", Summary: "The analyzer's health in the Prometheus format", Tag: "Service", Status: 200, ResponseType: "text/plain"},
		{Method: "POST", Path: "/login", Summary: "Log in (form username, password, or JSON); sets the authtoken and permissions cookies", Tag: "Security",
			Body: struct {
				Username string `json:"username"`
				Password string `json:"password"`
			}{}, BodyType: "application/x-www-form-urlencoded", Status: 200, Response: loginDoc{}},
		{Method: "GET", Path: "/logout", Summary: "Forget the cookies", Tag: "Security", Status: 302},
	}
	for _, ws := range []struct{ path, what string }{
		{"/ws/agent/topology", "Agents' topology (Sync, then NodeAdded/NodeUpdated/... deltas; capture orders back)"},
		{"/ws/publisher", "Publish graph elements (X-Persistence-Policy: Persistent or DeleteOnDisconnect); refusals answered as Error messages"},
		{"/ws/subscriber", "Graph events, alerts and notifications as they happen (SyncRequest for a whole graph, at a time too)"},
		{"/ws/subscriber/flow", "Flows as they are updated"},
	} {
		rs = append(rs, Route{Method: "GET", Path: ws.path, Summary: "Websocket: " + ws.what, Tag: "Websocket", Status: 101})
	}
	rs = append(rs, resource("capture", "Capture", v1.Capture{}, true)...)
	rs = append(rs, resource("injectpacket", "PacketInjection", v1.PacketInjection{}, true)...)
	rs = append(rs, resource("alert", "Alert", v1.Alert{}, true)...)
	rs = append(rs, resource("workflow", "Workflow", v1.Workflow{}, false)...)
	rs = append(rs, resource("noderule", "NodeRule", v1.NodeRule{}, true)...)
	rs = append(rs, resource("edgerule", "EdgeRule", v1.EdgeRule{}, true)...)
	rs = append(rs, resource("node", "Node", nodeDoc{}, true)...)
	rs = append(rs, resource("edge", "Edge", edgeDoc{}, true)...)
	return rs
}

// Document builds the OpenAPI document.
func Document(version string) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "Skydive analyzer API", Version: version,
			Description: "REST API of the Skydive analyzer, with the original Skydive's paths and JSON field names. " +
				"With an authentication backend, every operation but /login needs credentials; a refused one answers 403."},
		Paths:      openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: openapi3.Schemas{}, SecuritySchemes: openapi3.SecuritySchemes{}},
	}
	doc.Components.SecuritySchemes["basic"] = &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("basic")}
	doc.Components.SecuritySchemes["cookie"] = &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("cookie").WithName("authtoken")}
	doc.Components.SecuritySchemes["token"] = &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("header").WithName("X-Auth-Token")}
	doc.Security = openapi3.SecurityRequirements{{"basic": {}}, {"cookie": {}}, {"token": {}}}
	gen := openapi3gen.NewGenerator(openapi3gen.UseAllExportedFields(),
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true}),
		openapi3gen.CreateTypeNameGenerator(func(t reflect.Type) string {
			name := strings.TrimSuffix(t.Name(), "Doc")
			if name == "" {
				return ""
			}
			return strings.ToUpper(name[:1]) + name[1:]
		}))
	schema := func(v any) (*openapi3.SchemaRef, error) {
		switch t := v.(type) {
		case anyJSON:
			return openapi3.NewSchemaRef("", &openapi3.Schema{Description: "the JSON the query or workflow answers"}), nil
		case mapOfType:
			elem, err := gen.NewSchemaRefForValue(t.elem, doc.Components.Schemas)
			if err != nil {
				return nil, err
			}
			return openapi3.NewSchemaRef("", openapi3.NewObjectSchema().WithAdditionalProperties(elem.Value)), nil
		case []byte:
			return openapi3.NewSchemaRef("", openapi3.NewStringSchema().WithFormat("binary")), nil
		}
		return gen.NewSchemaRefForValue(v, doc.Components.Schemas)
	}
	for _, r := range Routes() {
		op := openapi3.NewOperation()
		op.Summary, op.Tags = r.Summary, []string{r.Tag}
		op.OperationID = operationID(r)
		for _, name := range pathParams(r.Path) {
			op.AddParameter(openapi3.NewPathParameter(name).WithSchema(openapi3.NewStringSchema()))
		}
		if r.Body != nil {
			s, err := schema(r.Body)
			if err != nil {
				return nil, fmt.Errorf("%s %s body: %w", r.Method, r.Path, err)
			}
			ctype := r.BodyType
			if ctype == "" {
				ctype = "application/json"
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithContent(openapi3.Content{ctype: openapi3.NewMediaType().WithSchemaRef(s)})}
		}
		resp := openapi3.NewResponse().WithDescription(statusText(r.Status))
		switch {
		case r.ResponseType != "":
			resp.WithContent(openapi3.Content{r.ResponseType: openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())})
		case r.Response != nil:
			s, err := schema(r.Response)
			if err != nil {
				return nil, fmt.Errorf("%s %s answer: %w", r.Method, r.Path, err)
			}
			resp.WithJSONSchemaRef(s)
		}
		op.AddResponse(r.Status, resp)
		for code, why := range map[int]string{400: "Invalid request (the message names the field or position)", 401: "Credentials required",
			403: "Not allowed to this user's role", 404: "Not found"} {
			op.AddResponse(code, openapi3.NewResponse().WithDescription(why))
		}
		if r.Path == "/login" {
			op.Security = &openapi3.SecurityRequirements{}
		}
		doc.AddOperation(r.Path, r.Method, op)
	}
	return doc, nil
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return fmt.Sprint(code)
}

func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.Trim(seg, "{}"))
		}
	}
	return out
}

func operationID(r Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, seg := range strings.Split(r.Path, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer(".", "", "-", "").Replace(seg)
		if seg == "" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

// Handler serves the document, built once.
func Handler(version string) http.Handler {
	var (
		once sync.Once
		body []byte
		err  error
	)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		once.Do(func() {
			var doc *openapi3.T
			if doc, err = Document(version); err == nil {
				body, err = json.MarshalIndent(doc, "", "  ")
			}
		})
		if err != nil {
			http.Error(w, "OpenAPI document: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

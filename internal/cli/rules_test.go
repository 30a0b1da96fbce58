package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseMetadata(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any
		err  string
	}{
		{"", map[string]any{}, ""},
		{"k1=v1, k2=v2", map[string]any{"k1": "v1", "k2": "v2"}, ""},
		{"a.b=c,a.d=e, x = y ", map[string]any{"a": map[string]any{"b": "c", "d": "e"}, "x": "y"}, ""},
		{"k=a=b", map[string]any{"k": "a=b"}, ""},
		{"novalue", nil, "expected key=value"},
		{"=v", nil, "expected key=value"},
		{"a=1, a.b=2", nil, "already a value"},
	} {
		got, err := parseMetadata(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v (%v), want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestResourceCommandsRequests checks what the alert and rule commands send.
func TestResourceCommandsRequests(t *testing.T) {
	type request struct {
		Method, Path string
		Body         any
	}
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				t.Errorf("%s %s: body %q: %v", r.Method, r.URL.Path, b, err)
			}
		}
		got = append(got, request{r.Method, r.URL.Path, body})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		args []string
		want request
	}{
		{[]string{"alert", "create", "--name", "a", "--expression", "G.V()"},
			request{"POST", "/api/alert", map[string]any{"UUID": "", "Name": "a", "Expression": "G.V()", "Trigger": "graph"}}},
		{[]string{"alert", "update", "ID1", "--name", "b", "--trigger", "duration:5s"},
			request{"PATCH", "/api/alert/ID1", []any{
				map[string]any{"op": "add", "path": "/Name", "value": "b"},
				map[string]any{"op": "add", "path": "/Trigger", "value": "duration:5s"}}}},
		{[]string{"alert", "list"}, request{"GET", "/api/alert", nil}},
		{[]string{"alert", "get", "ID1"}, request{"GET", "/api/alert/ID1", nil}},
		{[]string{"alert", "delete", "ID1"}, request{"DELETE", "/api/alert/ID1", nil}},
		{[]string{"node-rule", "create", "--node-name", "tor1", "--node-type", "switch", "--metadata", "Vendor=x, Loc.Rack=r1"},
			request{"POST", "/api/noderule", map[string]any{"UUID": "", "Action": "create",
				"Metadata": map[string]any{"Name": "tor1", "Type": "switch", "Vendor": "x", "Loc": map[string]any{"Rack": "r1"}}}}},
		{[]string{"node-rule", "create", "--action", "update", "--query", "G.V().Has('Type','netns')", "--metadata", "Tenant=blue"},
			request{"POST", "/api/noderule", map[string]any{"UUID": "", "Action": "update", "Query": "G.V().Has('Type','netns')",
				"Metadata": map[string]any{"Tenant": "blue"}}}},
		{[]string{"node-rule", "delete", "R1"}, request{"DELETE", "/api/noderule/R1", nil}},
		{[]string{"edge-rule", "create", "--src", "G.V().Has('Name','a')", "--dst", "G.V().Has('Name','b')", "--relationtype", "layer2"},
			request{"POST", "/api/edgerule", map[string]any{"UUID": "", "Src": "G.V().Has('Name','a')", "Dst": "G.V().Has('Name','b')",
				"Metadata": map[string]any{"RelationType": "layer2"}}}},
		{[]string{"edge-rule", "list"}, request{"GET", "/api/edgerule", nil}},
	} {
		got = nil
		var out, errOut bytes.Buffer
		root := NewRoot(&out, &errOut)
		root.SetArgs(append([]string{"client", "--analyzer", addr}, tc.args...))
		if err := root.Execute(); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%v sent %#v, want %#v", tc.args, got, tc.want)
		}
	}
	root := NewRoot(io.Discard, io.Discard)
	root.SetArgs([]string{"client", "--analyzer", addr, "alert", "update", "ID1"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "nothing to update") {
		t.Errorf("update without flags: %v", err)
	}
}

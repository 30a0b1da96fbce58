package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	doc := `{"Name":"a","Meta":{"k":"v"},"List":[1,2]}`
	for _, tc := range []struct {
		name, ops, want, err string
	}{
		{"add member", `[{"op":"add","path":"/Description","value":"d"}]`, `{"Description":"d","List":[1,2],"Meta":{"k":"v"},"Name":"a"}`, ""},
		{"add replaces", `[{"op":"add","path":"/Name","value":"x"}]`, `{"List":[1,2],"Meta":{"k":"v"},"Name":"x"}`, ""},
		{"replace nested", `[{"op":"replace","path":"/Meta/k","value":2}]`, `{"List":[1,2],"Meta":{"k":2},"Name":"a"}`, ""},
		{"remove", `[{"op":"remove","path":"/Meta"}]`, `{"List":[1,2],"Name":"a"}`, ""},
		{"append", `[{"op":"add","path":"/List/-","value":3}]`, `{"List":[1,2,3],"Meta":{"k":"v"},"Name":"a"}`, ""},
		{"insert", `[{"op":"add","path":"/List/0","value":0}]`, `{"List":[0,1,2],"Meta":{"k":"v"},"Name":"a"}`, ""},
		{"remove index", `[{"op":"remove","path":"/List/1"}]`, `{"List":[1],"Meta":{"k":"v"},"Name":"a"}`, ""},
		{"escaped", `[{"op":"add","path":"/Meta/a~1b","value":1}]`, `{"List":[1,2],"Meta":{"a/b":1,"k":"v"},"Name":"a"}`, ""},
		{"test ok", `[{"op":"test","path":"/Name","value":"a"}]`, `{"List":[1,2],"Meta":{"k":"v"},"Name":"a"}`, ""},
		{"test fails", `[{"op":"test","path":"/Name","value":"b"}]`, "", "patch: "},
		{"replace missing", `[{"op":"replace","path":"/Nope","value":1}]`, "", "patch: "},
		{"missing parent", `[{"op":"add","path":"/A/B","value":1}]`, "", "patch: "},
		{"bad op", `[{"op":"frobnicate","path":"/Name"}]`, "", "patch: "},
		{"no value", `[{"op":"add","path":"/Name"}]`, "", "patch: "},
		{"not a patch", `{"op":"add"}`, "", "patch: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyPatch([]byte(doc), []byte(tc.ops))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestResourcePatch(t *testing.T) {
	items := map[string]*thing{"a": {UUID: "a", Name: "a"}}
	mux := http.NewServeMux()
	RegisterResource(mux, &Server{}, Resource[thing]{
		Name: "thing", Title: "Thing",
		List: func() any { return items },
		Get: func(id string) (*thing, error) {
			if v, ok := items[id]; ok {
				return v, nil
			}
			return nil, errors.New("no")
		},
		Create: func(_ context.Context, v *thing) (*thing, error) { return v, nil },
		Delete: func(string) error { return nil },
		Update: func(_ context.Context, id string, v *thing) (*thing, error) {
			if v.Name == "" {
				return nil, BadRequest(errors.New("Name: required"))
			}
			v.UUID = id
			items[id] = v
			return v, nil
		},
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		path, body string
		code       int
		text       string
	}{
		{"/api/thing/a", `[{"op":"add","path":"/Name","value":"x"}]`, 200, `"Name":"x"`},
		{"/api/thing/a", `[{"op":"replace","path":"/Name","value":""}]`, 400, "Name: required"},
		{"/api/thing/a", `[{"op":"add","path":"/Nope","value":1}]`, 400, "Nope"},
		{"/api/thing/a", `[{"op":"replace","path":"/Nope","value":1}]`, 400, "doc is missing key: /Nope"},
		{"/api/thing/a", `{"op":"add"}`, 400, ""},
		{"/api/thing/b", `[]`, 404, "Thing 'b' not found"},
	} {
		req, _ := http.NewRequest(http.MethodPatch, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.text) {
			t.Errorf("PATCH %s %s: %d %q, want %d with %q", tc.path, tc.body, resp.StatusCode, b, tc.code, tc.text)
		}
	}
	if items["a"].Name != "x" {
		t.Errorf("stored name %q, want x (failed patches must not store)", items["a"].Name)
	}
}

package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/resource"
)

type thing struct {
	UUID string
	Name string
}

func TestResourceContract(t *testing.T) {
	items := map[string]*thing{}
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
		Create: func(_ context.Context, v *thing) (*thing, error) {
			if v.Name == "" {
				return nil, BadRequest(errors.New("Name: required"))
			}
			if _, dup := items[v.Name]; dup {
				return nil, resource.Conflict("duplicate")
			}
			v.UUID = v.Name
			items[v.Name] = v
			return v, nil
		},
		Delete: func(id string) error {
			if _, ok := items[id]; !ok {
				return fmt.Errorf("%w: %s", resource.NotFound("gone"), id)
			}
			delete(items, id)
			return nil
		},
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		text               string
	}{
		{"POST", "/api/thing", `{"Name": "a"}`, 201, `"UUID":"a"`},
		{"POST", "/api/thing", `{"Name": "a"}`, 409, "duplicate"},
		{"POST", "/api/thing", `{}`, 400, "Name: required"},
		{"POST", "/api/thing", `{"Nope": 1}`, 400, "Nope"},
		{"GET", "/api/thing", "", 200, `"a":{`},
		{"GET", "/api/thing/a", "", 200, `"Name":"a"`},
		{"GET", "/api/thing/b", "", 404, "Thing 'b' not found"},
		{"PATCH", "/api/thing/a", `[{"op":"add","path":"/Name","value":"x"}]`, 400, "resource not updatable"},
		{"DELETE", "/api/thing/a", "", 200, ""},
		{"DELETE", "/api/thing/a", "", 404, "Thing 'a' not found"},
	} {
		code, text := do(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(text, tc.text) {
			t.Errorf("%s %s %s: %d %q, want %d with %q", tc.method, tc.path, tc.body, code, text, tc.code, tc.text)
		}
	}
}

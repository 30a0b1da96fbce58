package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/httpapi"
)

// Register serves the workflow resource on mux: /api/workflow with the
// original's REST contract (POST bodies in JSON or, with Content-Type
// application/yaml or text/yaml, YAML) and POST /api/workflow/{id}/call
// (body {"Params": [...]}), which answers the JSON of the function's result.
func Register(mux httpapi.Mux, api *httpapi.Server, s *Service) {
	inner := httpapi.NewRouter()
	st := s.Store()
	httpapi.RegisterResource(inner, api, httpapi.Resource[v1.Workflow]{
		Name: "workflow", Title: "Workflow",
		List:   func() any { return st.List() },
		Get:    st.Get,
		Create: func(_ context.Context, w *v1.Workflow) (*v1.Workflow, error) { return st.Create(w) },
		Delete: st.Delete,
	})
	inner.HandleFunc("POST /api/workflow/{id}/call", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := st.Lookup(id); err != nil {
			http.Error(w, fmt.Sprintf("Workflow '%s' not found", id), http.StatusNotFound)
			return
		}
		var call v1.WorkflowCall
		if r.ContentLength != 0 {
			if err := httpapi.DecodeJSON(w, r, api.MaxBody, &call); err != nil && !emptyBody(err) {
				api.WriteError(w, err)
				return
			}
		}
		out, err := s.Call(r.Context(), id, call.Params)
		if err != nil {
			api.WriteError(w, callError(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(out, '\n'))
	})
	h := yamlBodies(api, inner)
	mux.Handle("/api/workflow", h)
	mux.Handle("/api/workflow/", h)
	if r, ok := mux.(interface{ Note(...string) }); ok {
		r.Note(inner.Patterns()...)
	}
}

// emptyBody tells DecodeJSON's error for no body at all: a call without
// parameters.
func emptyBody(err error) bool {
	var st *httpapi.StatusError
	return errors.As(err, &st) && st.Err.Error() == "empty body, expected a JSON object"
}

// callError gives the runtime's errors of a call their HTTP status: a
// script that failed 400, one that outlived its deadline 504. The resource
// errors (unknown workflow, invalid parameters) answer by their kind.
func callError(err error) error {
	var script *ScriptError
	var timeout *TimeoutError
	switch {
	case errors.As(err, &script):
		return httpapi.BadRequest(err)
	case errors.As(err, &timeout) && errors.Is(err, context.DeadlineExceeded):
		return httpapi.WithStatus(http.StatusGatewayTimeout, err)
	}
	return err
}

// yamlBodies turns a YAML POST body into the JSON the resource decodes.
func yamlBodies(api *httpapi.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		default:
			next.ServeHTTP(w, r)
			return
		}
		maxBody := api.MaxBody
		if maxBody <= 0 {
			maxBody = 16 << 20
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			api.WriteError(w, httpapi.BadRequest(fmt.Errorf("read body: %w", err)))
			return
		}
		wf, err := DecodeYAML(data)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		js, err := json.Marshal(wf)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(js))
		r2.ContentLength = int64(len(js))
		r2.Header.Set("Content-Type", "application/json")
		next.ServeHTTP(w, r2)
	})
}

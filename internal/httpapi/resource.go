package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Resource is a REST resource with the original's contract: GET /api/<name>
// answers an object keyed by ID, GET /api/<name>/<id> the resource or 404
// "<Title> '<id>' not found", POST creates (201), PATCH applies a JSON
// patch (200, when Update is set), DELETE removes (200, empty text). Errors
// of Create, Update and Delete answer with their Status (a resource kind or a
// StatusError code).
type Resource[T any] struct {
	Name, Title string
	List        func() any
	Get         func(id string) (*T, error)
	Create      func(ctx context.Context, v *T) (*T, error)
	// Delete fails with a not found error (resource.NotFound or a 404
	// StatusError), or another error, when it cannot.
	Delete func(id string) error
	// Update, when set, stores the resource id patched by PATCH
	// /api/<name>/<id> (a JSON patch applied to its JSON); without it PATCH
	// answers 400 "resource not updatable", as the original.
	Update func(ctx context.Context, id string, v *T) (*T, error)
}

// RegisterResource adds the handlers of res to mux.
func RegisterResource[T any](mux Mux, s *Server, res Resource[T]) {
	base := "/api/" + res.Name
	notFound := func(w http.ResponseWriter, id string) {
		http.Error(w, fmt.Sprintf("%s '%s' not found", res.Title, id), http.StatusNotFound)
	}
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, res.List())
	})
	mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := res.Get(r.PathValue("id"))
		if err != nil {
			notFound(w, r.PathValue("id"))
			return
		}
		WriteJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var v T
		if err := DecodeJSON(w, r, s.MaxBody, &v); err != nil {
			s.WriteError(w, err)
			return
		}
		created, err := res.Create(r.Context(), &v)
		if err != nil {
			s.WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusCreated, created)
	})
	mux.HandleFunc("PATCH "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if res.Update == nil {
			http.Error(w, "resource not updatable", http.StatusBadRequest)
			return
		}
		cur, err := res.Get(id)
		if err != nil {
			notFound(w, id)
			return
		}
		var ops json.RawMessage
		if err := DecodeJSON(w, r, s.MaxBody, &ops); err != nil {
			s.WriteError(w, err)
			return
		}
		doc, err := json.Marshal(cur)
		if err != nil {
			s.WriteError(w, err)
			return
		}
		patched, err := ApplyPatch(doc, ops)
		if err != nil {
			s.WriteError(w, BadRequest(err))
			return
		}
		var v T
		dec := json.NewDecoder(bytes.NewReader(patched))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			s.WriteError(w, BadRequest(fmt.Errorf("patched resource: %w", err)))
			return
		}
		updated, err := res.Update(r.Context(), id, &v)
		if err != nil {
			if Status(err) == http.StatusNotFound {
				notFound(w, id)
				return
			}
			s.WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, updated)
	})
	mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := res.Delete(id); err != nil {
			if Status(err) == http.StatusNotFound {
				notFound(w, id)
				return
			}
			s.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	})
}

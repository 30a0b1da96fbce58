// Package workflows is the analyzer's workflow service: the workflow
// resources (the built-in ones embedded from static/, the users' kept in a
// cluster.Store: a file, or etcd shared by the analyzers of a cluster),
// their validation, and the JavaScript runtime (goja) that calls
// them with access to the topology (Gremlin) and to the analyzer's own REST
// API (request).
package workflows

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/resource"
)

// Errors of the resource API.
var (
	ErrNotFound = resource.NotFound("workflow not found")
	// ErrDuplicate is invalid (400), not a conflict, as in the original.
	//lint:ignore ST1005 the original's message
	ErrDuplicate = resource.Invalid(errors.New("Duplicate workflow"))
	ErrStatic    = resource.Invalid(errors.New("built-in workflow cannot be deleted"))
)

//go:embed static/*.yaml
var staticFS embed.FS

// paramTypes are the accepted WorkflowParameter.Type values.
var paramTypes = []string{v1.WorkflowParamNode, v1.WorkflowParamString, v1.WorkflowParamInteger,
	v1.WorkflowParamBoolean, v1.WorkflowParamChoice, v1.WorkflowParamDate}

// Store keeps the workflows: the built-in ones, always there and never
// deleted, and the users', kept in a cluster.Store so that they survive a
// restart (and, with etcd, are every analyzer's).
type Store struct {
	store  cluster.Store
	log    *slog.Logger
	static map[string]*v1.Workflow

	// creating serializes creations: the duplicate checks and the store.
	creating sync.Mutex
	mu       sync.Mutex
	user     map[string]*v1.Workflow
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// Store keeps the users' workflows (kind workflow); nil: a file store
	// of File.
	Store cluster.Store
	// File keeps the users' workflows when Store is nil ("" keeps them in
	// memory).
	File   string
	Logger *slog.Logger
}

// NewStore loads the built-in workflows and the users' kept in the store.
func NewStore(opts StoreOptions) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Store == nil {
		st, err := cluster.NewFileStore(map[cluster.Kind]cluster.FileRef{cluster.KindWorkflow: {Path: opts.File}})
		if err != nil {
			return nil, fmt.Errorf("workflows: %w", err)
		}
		opts.Store = st
	}
	s := &Store{store: opts.Store, log: opts.Logger.With("component", "workflows"), static: map[string]*v1.Workflow{},
		user: map[string]*v1.Workflow{}}
	static, err := Static()
	if err != nil {
		return nil, err
	}
	for _, w := range static {
		s.static[w.UUID] = w
	}
	items, _, err := opts.Store.List(context.Background(), cluster.KindWorkflow)
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	s.reset(items)
	return s, nil
}

// reset replaces the users' workflows by the store's.
func (s *Store) reset(items map[string]json.RawMessage) {
	user := cluster.Decode[v1.Workflow](items, func(id string, err error) {
		s.log.Warn("stored workflow ignored", "workflow", id, "err", err)
	})
	for id, w := range user {
		w.UUID = id
	}
	s.mu.Lock()
	s.user = user
	s.mu.Unlock()
}

// changed applies a change of the store, made here or by another analyzer.
func (s *Store) changed(ev cluster.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Type == cluster.EventDelete {
		delete(s.user, ev.ID)
		return
	}
	var w v1.Workflow
	if err := json.Unmarshal(ev.Value, &w); err != nil {
		s.log.Warn("stored workflow ignored", "workflow", ev.ID, "err", err)
		return
	}
	w.UUID = ev.ID
	s.user[ev.ID] = &w
}

// Run follows the store (other analyzers' workflows) until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	cluster.Follow(ctx, s.store, cluster.KindWorkflow, s.log, s.reset, s.changed)
	return nil
}

// Static returns the built-in workflows embedded from static/*.yaml.
func Static() ([]*v1.Workflow, error) {
	entries, err := staticFS.ReadDir("static")
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	var out []*v1.Workflow
	for _, e := range entries {
		data, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("workflows: %w", err)
		}
		w, err := DecodeYAML(data)
		if err == nil {
			err = Validate(w)
		}
		if err != nil {
			return nil, fmt.Errorf("workflows: static/%s: %w", e.Name(), err)
		}
		out = append(out, w)
	}
	return out, nil
}

// DecodeYAML reads a workflow written in YAML (or JSON, a subset of it).
// Keys are matched as encoding/json does, case-insensitively (the
// original's files use both Name and name); unknown keys are errors.
func DecodeYAML(data []byte) (*v1.Workflow, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, resource.Invalidf("invalid YAML: %w", err)
	}
	if doc == nil {
		return nil, resource.Invalidf("empty body, expected a workflow")
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, resource.Invalidf("expected a YAML mapping of the workflow's fields")
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, resource.Invalidf("invalid YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var w v1.Workflow
	if err := dec.Decode(&w); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, resource.Invalidf("field %q: expected %s, got %s", typ.Field, typ.Type, typ.Value)
		}
		return nil, resource.Invalidf("invalid workflow: %v", err)
	}
	return &w, nil
}

// Validate checks w; errors are resource.Invalid naming the field.
func Validate(w *v1.Workflow) error {
	if strings.TrimSpace(w.Name) == "" {
		return resource.Invalidf("Name: required")
	}
	seen := map[string]bool{}
	for i, p := range w.Parameters {
		field := fmt.Sprintf("Parameters[%d]", i)
		if p.Name == "" {
			return resource.Invalidf("%s.Name: required", field)
		}
		if seen[p.Name] {
			return resource.Invalidf("%s.Name: duplicate parameter %q", field, p.Name)
		}
		seen[p.Name] = true
		if !slices.Contains(paramTypes, p.Type) {
			return resource.Invalidf("%s.Type: %q is not one of %s", field, p.Type, strings.Join(paramTypes, ", "))
		}
		if p.Type == v1.WorkflowParamChoice && len(p.Values) == 0 {
			return resource.Invalidf("%s.Values: required for a choice parameter", field)
		}
	}
	if strings.TrimSpace(w.Source) == "" {
		return resource.Invalidf("Source: required, the text of a JavaScript function")
	}
	if err := checkSource(w.Source); err != nil {
		return resource.Invalidf("Source: %v", err)
	}
	return nil
}

// checkSource compiles src and checks that it evaluates to a function,
// without calling it.
func checkSource(src string) error {
	vm := goja.New()
	v, err := vm.RunScript("workflow", "("+src+"\n)")
	if err != nil {
		return err
	}
	if _, ok := goja.AssertFunction(v); !ok {
		return fmt.Errorf("must be a function, not %s", v.ExportType())
	}
	return nil
}

// Create validates w and stores it, with a new UUID unless it has one
// (the YAML files of the original give theirs).
func (s *Store) Create(w *v1.Workflow) (*v1.Workflow, error) {
	if err := Validate(w); err != nil {
		return nil, err
	}
	s.creating.Lock()
	defer s.creating.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.allLocked() {
		if o.Name == w.Name {
			return nil, fmt.Errorf("%w: %s has the name %q", ErrDuplicate, o.UUID, w.Name)
		}
	}
	cp := *w
	switch {
	case cp.UUID == "":
		cp.UUID = uuid.NewString()
	case uuid.Validate(cp.UUID) != nil:
		return nil, resource.Invalidf("UUID: %q is not a UUID (leave it out to get a new one)", cp.UUID)
	case s.static[cp.UUID] != nil || s.user[cp.UUID] != nil:
		return nil, fmt.Errorf("%w: UUID %s is taken", ErrDuplicate, cp.UUID)
	}
	if cp.Parameters == nil {
		cp.Parameters = []v1.WorkflowParameter{}
	}
	// The store is written without s.mu: its watcher takes it.
	s.mu.Unlock()
	err := s.store.Put(context.Background(), cluster.KindWorkflow, cp.UUID, &cp)
	s.mu.Lock()
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	s.user[cp.UUID] = &cp
	out := cp
	return &out, nil
}

// Delete removes a user's workflow; the built-in ones fail with ErrStatic.
func (s *Store) Delete(id string) error {
	if _, ok := s.static[id]; ok {
		return fmt.Errorf("%w: %s", ErrStatic, id)
	}
	s.mu.Lock()
	_, ok := s.user[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := s.store.Delete(context.Background(), cluster.KindWorkflow, id); err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("workflows: %w", err)
	}
	s.mu.Lock()
	delete(s.user, id)
	s.mu.Unlock()
	return nil
}

// Get returns a copy of the workflow of UUID id.
func (s *Store) Get(id string) (*v1.Workflow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.static[id]
	if !ok {
		w, ok = s.user[id]
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *w
	return &cp, nil
}

// Lookup returns the workflow of UUID idOrName, or else the one of that
// Name.
func (s *Store) Lookup(idOrName string) (*v1.Workflow, error) {
	if w, err := s.Get(idOrName); err == nil {
		return w, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.allLocked() {
		if w.Name == idOrName {
			cp := *w
			return &cp, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, idOrName)
}

// List returns every workflow, built-in ones included, keyed by UUID.
func (s *Store) List() map[string]*v1.Workflow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*v1.Workflow{}
	for _, w := range s.allLocked() {
		cp := *w
		out[w.UUID] = &cp
	}
	return out
}

// allLocked lists the built-in workflows, then the users', by UUID.
func (s *Store) allLocked() []*v1.Workflow {
	out := make([]*v1.Workflow, 0, len(s.static)+len(s.user))
	for _, m := range []map[string]*v1.Workflow{s.static, s.user} {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			out = append(out, m[id])
		}
	}
	return out
}

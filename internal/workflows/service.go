package workflows

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/resource"
)

// Service is the workflows of an analyzer: the store and the calls.
type Service struct {
	store   *Store
	log     *slog.Logger
	timeout time.Duration

	mu      sync.RWMutex
	query   QueryFunc
	handler http.Handler
}

// Options configure a Service.
type Options struct {
	// Store keeps the users' workflows; nil: a file store of File.
	Store cluster.Store
	// File keeps the users' workflows when Store is nil ("" keeps them in
	// memory).
	File   string
	Logger *slog.Logger
	// Timeout bounds each call (0: DefaultTimeout).
	Timeout time.Duration
	// Query and Handler are the workflows' Gremlin() and request(); they
	// may also be given later with Bind.
	Query   QueryFunc
	Handler http.Handler
}

// New loads the workflows.
func New(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := NewStore(StoreOptions{Store: opts.Store, File: opts.File, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return &Service{store: st, log: opts.Logger.With("component", "workflows"), timeout: opts.Timeout,
		query: opts.Query, handler: opts.Handler}, nil
}

// Store returns the workflow resources.
func (s *Service) Store() *Store { return s.store }

// Run follows the workflows of the store (other analyzers') until ctx ends.
func (s *Service) Run(ctx context.Context) error { return s.store.Run(ctx) }

// Bind gives the service its query engine and the API handler that
// request() calls: the analyzer builds both after the service, since the
// query engine has the Workflow step and the API serves the workflows.
func (s *Service) Bind(query QueryFunc, handler http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.query, s.handler = query, handler
}

// Call runs the workflow of UUID or Name idOrName with params, converted
// to the types of its Parameters, and answers the JSON of its result.
func (s *Service) Call(ctx context.Context, idOrName string, params []any) (json.RawMessage, error) {
	w, err := s.store.Lookup(idOrName)
	if err != nil {
		return nil, err
	}
	args, err := convertParams(w, params)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	env := Env{Query: s.query, Handler: s.handler, Logger: s.log, Timeout: s.timeout}
	s.mu.RUnlock()
	start := time.Now()
	out, err := Run(ctx, env, w.Name, w.Source, args)
	s.log.Debug("workflow called", "workflow", w.Name, "uuid", w.UUID, "duration", time.Since(start), "err", err)
	return out, err
}

// convertParams gives the string arguments of integer and boolean
// parameters their type (the CLI passes every argument as a string) and
// fills the missing trailing arguments with their parameters' Default.
// Other arguments are passed as they are.
func convertParams(w *v1.Workflow, params []any) ([]any, error) {
	out := make([]any, 0, max(len(params), len(w.Parameters)))
	for i, p := range params {
		if i < len(w.Parameters) {
			if str, ok := p.(string); ok {
				param := w.Parameters[i]
				switch param.Type {
				case v1.WorkflowParamInteger:
					n, err := strconv.ParseInt(str, 10, 64)
					if err != nil {
						return nil, resource.Invalidf("Params[%d] (%s): %q is not an integer", i, param.Name, str)
					}
					p = n
				case v1.WorkflowParamBoolean:
					b, err := strconv.ParseBool(str)
					if err != nil {
						return nil, resource.Invalidf("Params[%d] (%s): %q is not a boolean", i, param.Name, str)
					}
					p = b
				}
			}
		}
		out = append(out, p)
	}
	for i := len(params); i < len(w.Parameters); i++ {
		if w.Parameters[i].Default == nil {
			break
		}
		out = append(out, w.Parameters[i].Default)
	}
	return out, nil
}

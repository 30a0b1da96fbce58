// Package httpapi serves Skydive's REST API and websockets: the status, the
// topology and its queries, with the original's paths and JSON.
package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/resource"
)

// QueryRunner evaluates a Gremlin query and returns a value to marshal.
type QueryRunner interface {
	Query(ctx context.Context, gremlin string) (any, error)
}

// StatusError is an error answered with its HTTP status and message.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// WithStatus makes err answer with code.
func WithStatus(code int, err error) error { return &StatusError{Code: code, Err: err} }

// BadRequest wraps err as the client's fault (400).
func BadRequest(err error) error { return WithStatus(http.StatusBadRequest, err) }

// Server holds what the handlers need.
type Server struct {
	Info    v1.APIInfo
	Graph   graph.View
	Queries QueryRunner
	// Status returns the body of GET /api/status.
	Status func() any
	Logger *slog.Logger
	// MaxBody bounds request bodies.
	MaxBody int64
	// OnQuery, when set, is told each query's duration and error.
	OnQuery func(time.Duration, error)
}

// Register adds the handlers to mux.
func (s *Server) Register(mux Mux) {
	mux.HandleFunc("GET /api", s.info)
	mux.HandleFunc("GET /api/{$}", s.info)
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/topology", s.topology)
	mux.HandleFunc("POST /api/topology", s.query)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// WriteJSON answers v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Status is the HTTP status that answers err: its StatusError code if it
// has one, then its resource kind (invalid 400, not found 404, conflict
// 409), 503 for a canceled or timed out request, else 500.
func Status(err error) int {
	var st *StatusError
	if errors.As(err, &st) {
		return st.Code
	}
	switch resource.KindOf(err) {
	case resource.KindInvalid:
		return http.StatusBadRequest
	case resource.KindNotFound:
		return http.StatusNotFound
	case resource.KindConflict:
		return http.StatusConflict
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteError answers err as text with its Status, and logs the 500s.
func (s *Server) WriteError(w http.ResponseWriter, err error) {
	code := Status(err)
	if code == http.StatusInternalServerError {
		s.logger().Error("request failed", "err", err)
	}
	http.Error(w, err.Error(), code)
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, s.Info) }

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, s.Status())
}

type graphJSON struct {
	Nodes []*graph.Node `json:"Nodes"`
	Edges []*graph.Edge `json:"Edges"`
}

func (s *Server) topology(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, graphJSON{Nodes: s.Graph.Nodes(), Edges: s.Graph.Edges()})
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var q v1.TopologyQuery
	if err := DecodeJSON(w, r, s.MaxBody, &q); err != nil {
		s.WriteError(w, err)
		return
	}
	if strings.TrimSpace(q.GremlinQuery) == "" {
		s.WriteError(w, BadRequest(errors.New("1:1: empty query, expected G")))
		return
	}
	began := time.Now()
	res, err := s.Queries.Query(r.Context(), q.GremlinQuery)
	if s.OnQuery != nil {
		s.OnQuery(time.Since(began), err)
	}
	if err != nil {
		s.WriteError(w, err)
		return
	}
	if inc, ok := res.(Incomplete); ok {
		w.Header().Set(HeaderIncomplete, strings.Join(inc.Reasons, "; "))
		res = inc.Value
	}
	WriteJSON(w, http.StatusOK, res)
}

// HeaderIncomplete carries, "; "-separated, why a query's answer may be
// short of packets (captures dropping, agents away), beside a body that
// keeps the original's shape.
const HeaderIncomplete = "Skydive-Incomplete"

// Incomplete is a query's answer with the reasons it may be short.
type Incomplete struct {
	Value   any
	Reasons []string
}

// DecodeJSON reads a JSON body strictly: unknown fields and trailing data are
// errors that name the field or the offset.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBody int64, v any) error {
	if maxBody <= 0 {
		maxBody = 16 << 20
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return BadRequest(errors.New("empty body, expected a JSON object"))
		case errors.As(err, &syn):
			return BadRequest(fmt.Errorf("invalid JSON at offset %d: %v", syn.Offset, err))
		case errors.As(err, &typ):
			return BadRequest(fmt.Errorf("field %q: expected %s, got JSON %s (offset %d)", typ.Field, typ.Type, typ.Value, typ.Offset))
		case errors.As(err, &tooBig):
			return WithStatus(http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooBig.Limit))
		case errors.Is(err, io.ErrUnexpectedEOF):
			// Either incomplete JSON or a body shorter than it claimed:
			// the decoder cannot tell them apart.
			return BadRequest(errors.New("invalid body: the JSON ends early (incomplete, or shorter than its Content-Length)"))
		default:
			return BadRequest(fmt.Errorf("invalid body: %v", err))
		}
	}
	if dec.More() {
		return BadRequest(fmt.Errorf("trailing data after the JSON object at offset %d", dec.InputOffset()))
	}
	// The rest is blank (More said so), but a body shorter than its
	// Content-Length is only told by reading it to its end.
	var tooBig *http.MaxBytesError
	if _, err := io.Copy(io.Discard, body); errors.As(err, &tooBig) {
		return WithStatus(http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", tooBig.Limit))
	} else if err != nil {
		return BadRequest(fmt.Errorf("body cut short: %v", err))
	}
	return nil
}

// Serve serves h on l (or on a new listener on addr) until ctx ends.
func Serve(ctx context.Context, l net.Listener, addr string, h http.Handler, log *slog.Logger) error {
	return ServeTLS(ctx, l, addr, h, log, nil)
}

// ServeTLS is Serve speaking TLS with tc (plain when nil).
func ServeTLS(ctx context.Context, l net.Listener, addr string, h http.Handler, log *slog.Logger, tc *tls.Config) error {
	if l == nil {
		var err error
		l, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	// A failed TLS handshake (an untrusted client) is the client's problem:
	// logged at debug level, not on the server's error log.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tc,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("listening", "addr", l.Addr().String(), "tls", tc != nil)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", l.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

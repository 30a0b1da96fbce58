// Package alerts is the analyzer's alerting: alert resources (kept in a
// file), their evaluation when the graph changes or periodically, and the
// notifications of their firings (subscribers' websocket, webhooks,
// scripts).
//
// An alert is a Gremlin expression; it is true when its result has at least
// one value. An expression that is not Gremlin is JavaScript, run in a new
// sandboxed runtime at each evaluation (the workflows' globals: Gremlin(query)
// answering the JSON text of the result, request(), client...; no require, no
// filesystem, no network) for at most Options.JSTimeout; it is true when its
// value is truthy, an empty array or object being false, and that value is
// the notification's data. It fires when it becomes true, and again whenever its result
// changes while true; it resets when the result becomes empty.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/google/uuid"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/jsonfile"
	"github.com/skydive-ng/skydive/internal/resource"
	"github.com/skydive-ng/skydive/internal/workflows"
)

// ErrNotFound is an unknown alert.
var ErrNotFound = resource.NotFound("alert not found")

// QueryFunc runs a Gremlin query on the live graph; its result must marshal
// to JSON.
type QueryFunc func(ctx context.Context, gremlin string) (any, error)

// Options configure a Manager.
type Options struct {
	// Graph's changes trigger the "graph" alerts.
	Graph *graph.Graph
	// Query evaluates the expressions.
	Query QueryFunc
	// Check compiles an expression without running it (nil: the default
	// Gremlin engine's Compile).
	Check func(gremlin string) error
	// Notify receives every firing as a websocket message (nil: none).
	Notify func(v1.Message)
	// File keeps the alerts across restarts ("" keeps them in memory).
	File string
	// Debounce is the least time between two evaluations caused by graph
	// changes (default 150ms).
	Debounce time.Duration
	// ActionTimeout bounds a webhook or a script (default 10s).
	ActionTimeout time.Duration
	// EvalTimeout bounds one evaluation (default 10s).
	EvalTimeout time.Duration
	// JSTimeout bounds one evaluation of a JavaScript alert: the runtime is
	// interrupted then (default 1s, config analyzer.alert.js_timeout).
	JSTimeout time.Duration
	// Handler answers the JavaScript alerts' request(url, method, body) in
	// process (nil: request() throws).
	Handler    http.Handler
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// state is what the evaluation keeps of an alert.
type state struct {
	alert  v1.Alert
	period time.Duration // 0: graph trigger
	next   time.Time     // next periodic evaluation
	last   []byte        // data of the last firing; nil: reset
	js     bool          // the expression is JavaScript
	err    string        // why the last evaluation failed; "": it did not
}

// Manager keeps the alerts and evaluates them.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	alerts map[string]*state
	wake   chan struct{} // graph changed or an alert was added
	resync chan struct{} // the set of alerts changed
	acts   sync.WaitGroup
}

// New loads the alerts kept in opts.File.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Check == nil {
		opts.Check = func(s string) error { _, err := eval.Compile(s); return err }
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 150 * time.Millisecond
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = 10 * time.Second
	}
	if opts.EvalTimeout <= 0 {
		opts.EvalTimeout = 10 * time.Second
	}
	if opts.JSTimeout <= 0 {
		opts.JSTimeout = time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Query == nil {
		return nil, errors.New("alerts: no query function")
	}
	m := &Manager{opts: opts, log: opts.Logger.With("component", "alerts"), alerts: map[string]*state{},
		wake: make(chan struct{}, 1), resync: make(chan struct{}, 1)}
	if opts.File != "" {
		stored := map[string]*v1.Alert{}
		if err := jsonfile.Load(opts.File, &stored); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		for id, a := range stored {
			if err := m.Validate(a); err != nil {
				m.log.Warn("stored alert ignored", "alert", id, "err", err)
				continue
			}
			a.UUID = id
			m.alerts[id] = m.newState(*a)
		}
	}
	return m, nil
}

// Validate fills the defaults of a and checks it; errors are
// resource.Invalid naming the field.
func (m *Manager) Validate(a *v1.Alert) error {
	if strings.TrimSpace(a.Expression) == "" {
		return resource.Invalidf("Expression: required, e.g. G.V().Has('State', 'DOWN')")
	}
	a.Error = ""
	if _, err := m.language(a.Expression); err != nil {
		return resource.Invalidf("Expression: %v", err)
	}
	if a.Trigger == "" {
		a.Trigger = v1.AlertTriggerGraph
	}
	if _, err := triggerPeriod(a.Trigger); err != nil {
		return resource.Invalidf("Trigger: %v", err)
	}
	switch {
	case a.Action == "":
	case strings.HasPrefix(a.Action, "http://"), strings.HasPrefix(a.Action, "https://"):
	case strings.HasPrefix(a.Action, "file://"):
		if strings.TrimPrefix(a.Action, "file://") == "" {
			return resource.Invalidf("Action: file:// needs a path")
		}
	default:
		return resource.Invalidf("Action: %q must be empty, an http://, https:// or file:// URL", a.Action)
	}
	return nil
}

// language tells whether expr is JavaScript (false: Gremlin), or why it is
// neither. An expression starting with G. is Gremlin: as JavaScript it
// could only fail, G being no global there.
func (m *Manager) language(expr string) (js bool, err error) {
	gerr := m.opts.Check(expr)
	if gerr == nil {
		return false, nil
	}
	if t := strings.TrimSpace(expr); strings.HasPrefix(t, "G.") || strings.HasPrefix(t, "g.") {
		return false, gerr
	}
	if _, err := goja.Compile("alert", expr, false); err != nil {
		return false, fmt.Errorf("JavaScript %v (nor is it Gremlin: %v)", err, gerr)
	}
	return true, nil
}

// triggerPeriod is 0 for the graph trigger, the period of a duration one.
func triggerPeriod(trigger string) (time.Duration, error) {
	if trigger == v1.AlertTriggerGraph {
		return 0, nil
	}
	s, ok := strings.CutPrefix(trigger, v1.AlertTriggerDurationPrefix)
	if !ok {
		// The original's client passes --trigger through as typed; users
		// write "periodic:10s" for a period (recorded from the original's
		// client), which can only mean duration:10s.
		s, ok = strings.CutPrefix(trigger, "periodic:")
	}
	if ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q: %v", trigger, err)
		}
		if d <= 0 {
			return 0, fmt.Errorf("%q: the duration must be positive", trigger)
		}
		return d, nil
	}
	return 0, fmt.Errorf("%q must be %q or %q followed by a Go duration (duration:10s)", trigger, v1.AlertTriggerGraph, v1.AlertTriggerDurationPrefix)
}

func (m *Manager) newState(a v1.Alert) *state {
	p, _ := triggerPeriod(a.Trigger)
	js, _ := m.language(a.Expression)
	st := &state{alert: a, period: p, js: js}
	if p > 0 {
		st.next = time.Now().Add(p)
	}
	return st
}

// Create validates and stores a, giving it a UUID and its creation time.
func (m *Manager) Create(a *v1.Alert) (*v1.Alert, error) {
	if err := m.Validate(a); err != nil {
		return nil, err
	}
	cp := *a
	cp.UUID = uuid.NewString()
	cp.CreateTime = time.Now().UTC()
	m.mu.Lock()
	m.alerts[cp.UUID] = m.newState(cp)
	err := m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.changed()
	return &cp, nil
}

// Update replaces the alert id by a (UUID and CreateTime are kept); its
// firing state is reset.
func (m *Manager) Update(id string, a *v1.Alert) (*v1.Alert, error) {
	if err := m.Validate(a); err != nil {
		return nil, err
	}
	m.mu.Lock()
	old, ok := m.alerts[id]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *a
	cp.UUID, cp.CreateTime = id, old.alert.CreateTime
	m.alerts[id] = m.newState(cp)
	err := m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.changed()
	return &cp, nil
}

// Delete removes an alert.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.alerts[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(m.alerts, id)
	return m.saveLocked()
}

// Get returns an alert.
func (m *Manager) Get(id string) (*v1.Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.alerts[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := st.alert
	cp.Error = st.err
	return &cp, nil
}

// List returns every alert keyed by UUID.
func (m *Manager) List() map[string]*v1.Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*v1.Alert, len(m.alerts))
	for id, st := range m.alerts {
		cp := st.alert
		cp.Error = st.err
		out[id] = &cp
	}
	return out
}

func (m *Manager) saveLocked() error {
	if m.opts.File == "" {
		return nil
	}
	out := make(map[string]*v1.Alert, len(m.alerts))
	for id, st := range m.alerts {
		cp := st.alert
		out[id] = &cp
	}
	if err := jsonfile.Save(m.opts.File, out); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return nil
}

// changed makes Run evaluate the graph alerts soon and recompute its timer.
func (m *Manager) changed() {
	m.poke(m.wake)
	m.poke(m.resync)
}

func (m *Manager) poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run evaluates the graph alerts when the graph changes (at most every
// Debounce) and the duration alerts at their period, until ctx ends. It
// waits for the actions it started.
func (m *Manager) Run(ctx context.Context) error {
	defer m.acts.Wait()
	if m.opts.Graph != nil {
		// The listener runs under the graph's lock: it only pokes.
		remove := m.opts.Graph.AddListener(func(graph.Event) { m.poke(m.wake) })
		defer remove()
	}
	m.poke(m.wake) // a first evaluation
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		pending   bool
		lastGraph time.Time
	)
	for {
		wait := time.Hour
		now := time.Now()
		if pending {
			wait = min(wait, lastGraph.Add(m.opts.Debounce).Sub(now))
		}
		m.mu.Lock()
		for _, st := range m.alerts {
			if st.period > 0 {
				wait = min(wait, st.next.Sub(now))
			}
		}
		m.mu.Unlock()
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
			pending = true
		case <-m.resync:
		case <-timer.C:
		}
		now = time.Now()
		var due []string
		evalGraph := pending && !now.Before(lastGraph.Add(m.opts.Debounce))
		if evalGraph {
			pending, lastGraph = false, now
		}
		m.mu.Lock()
		for id, st := range m.alerts {
			switch {
			case st.period == 0 && evalGraph:
				due = append(due, id)
			case st.period > 0 && !now.Before(st.next):
				due = append(due, id)
				st.next = now.Add(st.period)
			}
		}
		// Oldest first: a stable order for users (and tests).
		sort.Slice(due, func(i, j int) bool {
			a, b := m.alerts[due[i]].alert, m.alerts[due[j]].alert
			if !a.CreateTime.Equal(b.CreateTime) {
				return a.CreateTime.Before(b.CreateTime)
			}
			return a.UUID < b.UUID
		})
		m.mu.Unlock()
		for _, id := range due {
			m.evaluate(ctx, id)
		}
	}
}

// evaluate runs one alert and fires it on a transition.
func (m *Manager) evaluate(ctx context.Context, id string) {
	m.mu.Lock()
	st, ok := m.alerts[id]
	var a v1.Alert
	if ok {
		a = st.alert
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	ectx, cancel := context.WithTimeout(ctx, m.opts.EvalTimeout)
	var (
		data []byte
		err  error
	)
	if st.js {
		data, err = m.jsResult(ectx, a)
	} else {
		data, err = m.result(ectx, a.Expression)
	}
	cancel()
	if err != nil && ctx.Err() != nil { // shutting down
		return
	}
	m.mu.Lock()
	cur, ok := m.alerts[id]
	if !ok || cur != st { // deleted or replaced meanwhile
		m.mu.Unlock()
		return
	}
	if err != nil {
		// Reported in the alert's Error; logged once until it changes or an
		// evaluation succeeds.
		again := st.err == err.Error()
		st.err = err.Error()
		m.mu.Unlock()
		if !again {
			m.log.Warn("alert evaluation failed", "alert", id, "name", a.Name, "err", err)
		}
		return
	}
	st.err = ""
	if data == nil || bytes.Equal(data, st.last) {
		st.last = data
		m.mu.Unlock()
		return
	}
	st.last = data
	m.mu.Unlock()
	m.fire(ctx, a, data)
}

// result is the expression's values as canonical JSON (an array, object keys
// sorted, so that equal data give equal bytes), or nil when there are none.
func (m *Manager) result(ctx context.Context, expr string) ([]byte, error) {
	v, err := m.opts.Query(ctx, expr)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	values, ok := decoded.([]any)
	if !ok {
		if decoded == nil {
			return nil, nil
		}
		values = []any{decoded}
	}
	if len(values) == 0 {
		return nil, nil
	}
	return json.Marshal(values)
}

// jsResult runs a JavaScript alert in a new sandbox, interrupted after
// JSTimeout: its value as JSON, nil when it is falsy or an empty array or
// object.
func (m *Manager) jsResult(ctx context.Context, a v1.Alert) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.JSTimeout)
	defer cancel()
	env := workflows.Env{Query: workflows.QueryFunc(m.opts.Query), Handler: m.opts.Handler, Logger: m.log}
	sb, err := workflows.NewSandbox(ctx, env, "alert", a.UUID)
	if err != nil {
		return nil, fmt.Errorf("JavaScript runtime: %w", err)
	}
	defer sb.Close()
	v, err := sb.VM.RunScript("alert", a.Expression)
	if err != nil {
		var intr *goja.InterruptedError
		if errors.As(err, &intr) || ctx.Err() != nil {
			where := ""
			if intr == nil {
				where = " (" + err.Error() + ")"
			} else if fr := intr.Stack(); len(fr) > 0 {
				// The line and column only: the same at each evaluation.
				where = fmt.Sprintf(" at %s", fr[0].Position())
			}
			return nil, fmt.Errorf("JavaScript interrupted after %v (analyzer.alert.js_timeout)%s", m.opts.JSTimeout, where)
		}
		return nil, fmt.Errorf("JavaScript: %v", err)
	}
	if !v.ToBoolean() {
		return nil, nil
	}
	raw, err := sb.JSON(v)
	if err != nil {
		return nil, fmt.Errorf("JavaScript value: %v", err)
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, fmt.Errorf("decode JavaScript value: %w", err)
	}
	switch d := decoded.(type) {
	case []any:
		if len(d) == 0 {
			return nil, nil
		}
	case map[string]any:
		if len(d) == 0 {
			return nil, nil
		}
	case nil: // truthy without a JSON form (a function)
		decoded = true
	}
	return json.Marshal(decoded) // object keys sorted
}

// fire notifies the subscribers and runs the alert's action.
func (m *Manager) fire(ctx context.Context, a v1.Alert, data []byte) {
	body, err := json.Marshal(v1.AlertMessage{UUID: a.UUID, Timestamp: time.Now().UnixMilli(), ReasonData: data})
	if err != nil {
		m.log.Warn("encode alert notification", "alert", a.UUID, "err", err)
		return
	}
	m.log.Info("alert fired", "alert", a.UUID, "name", a.Name)
	if m.opts.Notify != nil {
		m.opts.Notify(v1.Message{Namespace: v1.NamespaceAlert, Type: v1.AlertMsgType, Status: http.StatusOK, Obj: body})
	}
	if a.Action == "" {
		return
	}
	m.acts.Add(1)
	go func() {
		defer m.acts.Done()
		actx, cancel := context.WithTimeout(ctx, m.opts.ActionTimeout)
		defer cancel()
		if err := m.act(actx, a.Action, body); err != nil {
			m.log.Warn("alert action failed", "alert", a.UUID, "action", a.Action, "err", err)
		}
	}()
}

// act POSTs body to an http(s) action, or runs a file:// action with body
// on its standard input.
func (m *Manager) act(ctx context.Context, action string, body []byte) error {
	if path, ok := strings.CutPrefix(action, "file://"); ok {
		cmd := exec.CommandContext(ctx, path)
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("run %s: %w: %s", path, err, bytes.TrimSpace(out))
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

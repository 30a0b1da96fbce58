// Package alerts is the analyzer's alerting: alert resources (kept in a
// cluster.Store: a file, or etcd shared by the analyzers of a cluster),
// their evaluation when the graph changes or periodically, and the
// notifications of their firings (subscribers' websocket, webhooks,
// scripts). In a cluster only the elected analyzer evaluates (Options.Leader),
// and the last firing of each alert is kept in the store, so that the next
// leader notifies neither twice nor never.
//
// An alert is a Gremlin expression; it is true when its result has at least
// one value. An expression that is not Gremlin is JavaScript, run in a new
// sandboxed runtime at each evaluation (the workflows' globals: Gremlin(query)
// answering the JSON text of the result, request(), client...; no require, no
// filesystem, no network) for at most Options.JSTimeout; it is true when its
// value is truthy, an empty array or object being false, and that value is
// the notification's data. It fires when it becomes true, and again whenever its result
// changes while true; it resets when the result becomes empty, and a reset of
// a fired alert is notified once as a recovery (State "recovered", the last
// firing's data; firings carry State "fired").
//
// An alert with For fires only once its expression has stayed true For
// seconds; and it recovers, or its wait restarts, only once its expression
// has stayed false Options.Settle: the analyzer's graph goes through
// transient states (an agent's update replaces a node before the node rules
// and the utilisation are written on it again). The wait is not kept in the
// store: a new leader waits again.
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
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
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
	// Store keeps the alerts (kind alert) and their last firings (kind
	// alert-state); nil: a file store of File.
	Store cluster.Store
	// File keeps the alerts across restarts when Store is nil ("" keeps
	// them in memory).
	File string
	// Leader tells whether this analyzer evaluates the alerts now (nil:
	// always); call LeadershipChanged when it changes.
	Leader func() bool
	// ResetGrace is how long after becoming the leader an alert whose
	// result is empty keeps its last firing: the subgraphs of a dead
	// analyzer's agents come back within it, and an alert that held before
	// is not notified again (default 0).
	ResetGrace time.Duration
	// Debounce is the least time between two evaluations caused by graph
	// changes (default 150ms).
	Debounce time.Duration
	// Settle is how long the expression of an alert with For must stay
	// false before the alert recovers or its wait restarts (default 1s).
	Settle time.Duration
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
	// For: the alert fires once its expression has been true this long.
	hold time.Duration
	// since: the expression is true since then, the alert not fired yet
	// (alerts with For; zero: it is not).
	since time.Time
	// falseSince: the expression of a fired or waiting alert with For is
	// false since then (zero: it is not).
	falseSince time.Time
	// recheck: evaluate again then (the end of a wait; zero: none).
	recheck time.Time
}

// Manager keeps the alerts and evaluates them.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	alerts map[string]*state
	// graceUntil: resets wait until then (after a takeover).
	graceUntil time.Time
	wake       chan struct{} // graph changed or an alert was added
	resync     chan struct{} // the set of alerts or the leadership changed
	acts       sync.WaitGroup
	// An element of a firing changed: evaluate now, not after the
	// debounce, so that it going back (a link up) is seen before it flaps
	// again (down: a new firing of the same element).
	urgent  chan struct{}
	watchMu sync.Mutex
	watched map[graph.Identifier]bool
	dirty   bool // a firing changed since the last rewatch (under mu)
}

// alertState is what the store keeps of an alert's last firing.
type alertState struct {
	Data json.RawMessage `json:"Data"`
	Time time.Time       `json:"Time"`
}

// New loads the alerts kept in the store.
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
	if opts.Settle <= 0 {
		opts.Settle = time.Second
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
	if opts.Store == nil {
		st, err := cluster.NewFileStore(map[cluster.Kind]cluster.FileRef{cluster.KindAlert: {Path: opts.File}})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		opts.Store = st
	}
	m := &Manager{opts: opts, log: opts.Logger.With("component", "alerts"), alerts: map[string]*state{},
		wake: make(chan struct{}, 1), resync: make(chan struct{}, 1), urgent: make(chan struct{}, 1)}
	items, _, err := opts.Store.List(context.Background(), cluster.KindAlert)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	m.reset(items)
	return m, nil
}

// stored decodes and checks an alert of the store.
func (m *Manager) stored(id string, raw json.RawMessage) (*v1.Alert, error) {
	var a v1.Alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if err := m.Validate(&a); err != nil {
		return nil, err
	}
	a.UUID = id
	return &a, nil
}

// reset replaces the alerts by the store's; those that did not change keep
// their evaluation state.
func (m *Manager) reset(items map[string]json.RawMessage) {
	m.mu.Lock()
	old := m.alerts
	m.alerts = make(map[string]*state, len(items))
	for id, raw := range items {
		a, err := m.stored(id, raw)
		if err != nil {
			m.log.Warn("stored alert ignored", "alert", id, "err", err)
			continue
		}
		if st, ok := old[id]; ok && sameAlert(st.alert, *a) {
			m.alerts[id] = st
			continue
		}
		m.alerts[id] = m.newState(*a)
	}
	m.mu.Unlock()
	m.changed()
}

// storeChanged applies a change of the store, made here or by another
// analyzer.
func (m *Manager) storeChanged(ev cluster.Event) {
	m.mu.Lock()
	switch ev.Type {
	case cluster.EventPut:
		a, err := m.stored(ev.ID, ev.Value)
		if err != nil {
			m.mu.Unlock()
			m.log.Warn("stored alert ignored", "alert", ev.ID, "err", err)
			return
		}
		if st, ok := m.alerts[ev.ID]; ok && sameAlert(st.alert, *a) {
			m.mu.Unlock()
			return
		}
		m.alerts[ev.ID] = m.newState(*a)
	case cluster.EventDelete:
		if _, ok := m.alerts[ev.ID]; !ok {
			m.mu.Unlock()
			return
		}
		delete(m.alerts, ev.ID)
	}
	m.mu.Unlock()
	m.changed()
}

func sameAlert(a, b v1.Alert) bool {
	a.Error, b.Error = "", ""
	ra, err1 := json.Marshal(a)
	rb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ra, rb)
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
	if a.For < 0 {
		return resource.Invalidf("For: %d must be a number of seconds, 0 or more", a.For)
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
	st := &state{alert: a, period: p, js: js, hold: time.Duration(a.For) * time.Second}
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
	if err := m.opts.Store.Put(context.Background(), cluster.KindAlert, cp.UUID, &cp); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	m.mu.Lock()
	m.alerts[cp.UUID] = m.newState(cp)
	m.mu.Unlock()
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
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *a
	cp.UUID, cp.CreateTime = id, old.alert.CreateTime
	if err := m.opts.Store.Put(context.Background(), cluster.KindAlert, id, &cp); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	m.forgetFiring(id)
	m.mu.Lock()
	m.alerts[id] = m.newState(cp)
	m.mu.Unlock()
	m.changed()
	return &cp, nil
}

// Delete removes an alert.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	_, ok := m.alerts[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	err := m.opts.Store.Delete(context.Background(), cluster.KindAlert, id)
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("alerts: %w", err)
	}
	m.forgetFiring(id)
	m.mu.Lock()
	delete(m.alerts, id)
	m.mu.Unlock()
	return nil
}

// forgetFiring removes the stored last firing of an alert.
func (m *Manager) forgetFiring(id string) {
	err := m.opts.Store.Delete(context.Background(), cluster.KindAlertState, id)
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		m.log.Warn("alert state not removed", "alert", id, "err", err)
	}
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

// changed makes Run evaluate the graph alerts soon and recompute its timer.
func (m *Manager) changed() {
	m.poke(m.wake)
	m.poke(m.resync)
}

// LeadershipChanged makes Run look at Options.Leader again.
func (m *Manager) LeadershipChanged() { m.changed() }

func (m *Manager) isLeader() bool { return m.opts.Leader == nil || m.opts.Leader() }

// takeOver loads the last firings from the store: the previous leader's
// notifications are not repeated. Periodic alerts keep their schedule (one
// missed while no one led is due at once).
func (m *Manager) takeOver(ctx context.Context) error {
	items, _, err := m.opts.Store.List(ctx, cluster.KindAlertState)
	if err != nil {
		return err
	}
	states := cluster.Decode[alertState](items, nil)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, st := range m.alerts {
		st.last = nil
		st.since, st.falseSince, st.recheck = time.Time{}, time.Time{}, time.Time{}
		m.dirty = true
		if s, ok := states[id]; ok && len(s.Data) > 0 {
			st.last = []byte(s.Data)
			m.dirty = true
		}
	}
	m.graceUntil = now.Add(m.opts.ResetGrace)
	return nil
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
	followed := make(chan struct{})
	defer func() { <-followed }()
	go func() {
		defer close(followed)
		cluster.Follow(ctx, m.opts.Store, cluster.KindAlert, m.log, m.reset, m.storeChanged)
	}()
	if m.opts.Graph != nil {
		// The listener runs under the graph's lock: it only pokes.
		remove := m.opts.Graph.AddListener(func(ev graph.Event) {
			if m.isWatched(ev) {
				m.poke(m.urgent)
			}
			m.poke(m.wake)
		})
		defer remove()
	}
	m.poke(m.wake) // a first evaluation
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		pending   bool
		lastGraph time.Time
		leading   bool
		graceEnd  time.Time // a pass is due when the grace ends
	)
	for {
		wait := time.Hour
		now := time.Now()
		if leading {
			if pending {
				wait = min(wait, lastGraph.Add(m.opts.Debounce).Sub(now))
			}
			if !graceEnd.IsZero() {
				wait = min(wait, graceEnd.Sub(now))
			}
			m.mu.Lock()
			for _, st := range m.alerts {
				if st.period > 0 {
					wait = min(wait, st.next.Sub(now))
				}
				if !st.recheck.IsZero() {
					wait = min(wait, st.recheck.Sub(now))
				}
			}
			m.mu.Unlock()
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
			pending = true
		case <-m.urgent:
			pending, lastGraph = true, time.Time{}
		case <-m.resync:
		case <-timer.C:
		}
		now = time.Now()
		switch leader := m.isLeader(); {
		case leader && !leading:
			if err := m.takeOver(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.log.Warn("alerts: last firings not loaded, retrying", "err", err)
				time.AfterFunc(time.Second, m.changed)
				continue
			}
			leading, pending, lastGraph = true, true, time.Time{}
			if m.opts.ResetGrace > 0 {
				graceEnd = now.Add(m.opts.ResetGrace)
			}
		case !leader:
			leading, pending, graceEnd = false, false, time.Time{}
			continue
		}
		if !graceEnd.IsZero() && !now.Before(graceEnd) {
			graceEnd, pending, lastGraph = time.Time{}, true, time.Time{}
		}
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
			case !st.recheck.IsZero() && !now.Before(st.recheck):
				due = append(due, id)
			}
			if !st.recheck.IsZero() && !now.Before(st.recheck) {
				st.recheck = time.Time{}
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
		m.mu.Lock()
		dirty := m.dirty
		m.dirty = false
		m.mu.Unlock()
		if dirty {
			m.rewatch()
		}
	}
}

// isWatched tells whether ev is about an element of a current firing.
func (m *Manager) isWatched(ev graph.Event) bool {
	var id graph.Identifier
	switch {
	case ev.Node != nil:
		id = ev.Node.ID
	case ev.Edge != nil:
		id = ev.Edge.ID
	default:
		return false
	}
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	return m.watched[id]
}

// rewatch collects the elements of the current firings.
func (m *Manager) rewatch() {
	ids := map[graph.Identifier]bool{}
	m.mu.Lock()
	for _, st := range m.alerts {
		var values []any
		if st.last == nil || json.Unmarshal(identity(st.last), &values) != nil {
			continue
		}
		for _, v := range values {
			if o, ok := v.(map[string]any); ok {
				if id, ok := o["ID"].(string); ok {
					ids[graph.Identifier(id)] = true
				}
			}
		}
	}
	m.mu.Unlock()
	m.watchMu.Lock()
	m.watched = ids
	m.watchMu.Unlock()
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
	now := time.Now()
	if data == nil {
		if st.hold > 0 && (st.last != nil || !st.since.IsZero()) {
			// A recovery, or the restart of the wait, once the expression
			// stayed false Settle.
			if st.falseSince.IsZero() {
				st.falseSince = now
			}
			if end := st.falseSince.Add(m.opts.Settle); now.Before(end) {
				st.recheck = end
				m.mu.Unlock()
				return
			}
		}
		st.since, st.falseSince = time.Time{}, time.Time{}
		if st.last == nil || now.Before(m.graceUntil) {
			// A reset waits for the grace after a takeover.
			m.mu.Unlock()
			return
		}
		prev := st.last
		st.last = nil
		m.dirty = true
		m.mu.Unlock()
		// Forgotten before notified, as a firing is recorded before.
		m.forgetFiring(id)
		m.fire(ctx, a, prev, v1.AlertStateRecovered)
		return
	}
	st.falseSince = time.Time{}
	if st.last == nil && st.hold > 0 {
		if st.since.IsZero() {
			st.since = now
		}
		if end := st.since.Add(st.hold); now.Before(end) {
			st.recheck = end
			m.mu.Unlock()
			return
		}
	}
	if sameFiring(data, st.last) {
		m.mu.Unlock()
		return
	}
	prev := st.last
	st.last = data
	m.dirty = true
	m.mu.Unlock()
	// The firing is recorded before it is notified: a leader that dies
	// between the two loses a notification rather than having the next
	// one repeat it.
	if err := m.opts.Store.Put(ctx, cluster.KindAlertState, id, alertState{Data: data, Time: time.Now().UTC()}); err != nil {
		m.mu.Lock()
		if cur, ok := m.alerts[id]; ok && cur == st && bytes.Equal(st.last, data) {
			st.last = prev
			m.dirty = true
		}
		m.mu.Unlock()
		if ctx.Err() == nil {
			m.log.Warn("alert firing not recorded, not notified yet", "alert", id, "err", err)
			time.AfterFunc(time.Second, func() { m.poke(m.wake) })
		}
		return
	}
	m.fire(ctx, a, data, v1.AlertStateFired)
}

// sameFiring tells whether two results are one firing: the same graph
// elements (by ID) and flows (by UUID), the same other values. A matching
// interface whose routes or counters change does not fire again (the
// original did, at each metadata change); one more interface does.
func sameFiring(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(identity(a), identity(b))
}

func identity(data []byte) []byte {
	var values []any
	if json.Unmarshal(data, &values) != nil {
		return data
	}
	for i, v := range values {
		o, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := o["ID"].(string); ok && o["Metadata"] != nil {
			values[i] = map[string]any{"ID": id}
		} else if id, ok := o["UUID"].(string); ok && o["LayersPath"] != nil {
			values[i] = map[string]any{"UUID": id}
		}
	}
	out, err := json.Marshal(values)
	if err != nil {
		return data
	}
	return out
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

// fire notifies a firing or a recovery (state) to the subscribers and runs
// the alert's action with it.
func (m *Manager) fire(ctx context.Context, a v1.Alert, data []byte, state string) {
	body, err := json.Marshal(v1.AlertMessage{UUID: a.UUID, Timestamp: time.Now().UnixMilli(), ReasonData: data, State: state})
	if err != nil {
		m.log.Warn("encode alert notification", "alert", a.UUID, "err", err)
		return
	}
	m.log.Info("alert "+state, "alert", a.UUID, "name", a.Name)
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

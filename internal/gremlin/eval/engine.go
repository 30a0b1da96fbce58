package eval

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// History gives the graph as it was; *history.Store implements it.
type History interface {
	// At returns the graph at instant t.
	At(t time.Time) graph.View
	// Window returns every revision alive at some point in [from, to].
	Window(from, to time.Time) graph.View
}

// Env is what a query runs against.
type Env struct {
	// Graph is the live graph (required).
	Graph graph.View
	// History answers At()/Context() and Diff(); nil: "Backend does not
	// support history".
	History History
	// Flows is the flow source, used by flow steps that extensions
	// register (Options.Steps); the core never looks into it.
	Flows any
	// Now is the clock for relative times ('-1m', NOW); nil: time.Now.
	Now func() time.Time
}

// StepFunc runs one compiled step on the previous step's value.
type StepFunc func(r *Run, in Value) (Value, error)

// StepDef implements a step for some input kinds. Several StepDefs may
// share a name (Has on nodes, Has on flows ...): the one accepting the input
// kind is chosen at compile time, the last given winning.
type StepDef struct {
	// Name is the canonical name of the step's syntax signature.
	Name string
	// In lists the accepted input kinds; empty accepts any.
	In []Kind
	// Compile checks the arguments and returns the step function and the
	// kind it produces. Errors should be *syntax.Error (c.Errorf).
	Compile func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error)
}

// Options extend an Engine.
type Options struct {
	// Signatures add or replace step signatures (the syntax of new steps).
	Signatures []*syntax.Signature
	// Steps add implementations; they take precedence over the core ones
	// for the same name and input kind.
	Steps []StepDef
}

// Engine compiles queries. It is immutable and safe for concurrent use.
type Engine struct {
	table *syntax.Table
	defs  map[string][]StepDef
}

// NewEngine returns an engine with the core steps and the given extensions.
func NewEngine(opts Options) *Engine {
	e := &Engine{table: syntax.DefaultTable().With(opts.Signatures...), defs: map[string][]StepDef{}}
	for _, d := range coreSteps() {
		e.defs[d.Name] = append(e.defs[d.Name], d)
	}
	for _, d := range opts.Steps {
		e.defs[d.Name] = append(e.defs[d.Name], d)
	}
	return e
}

var defaultEngine = NewEngine(Options{})

// Compile compiles a query with the core steps (see NewEngine for
// extensions).
func Compile(src string) (*Query, error) { return defaultEngine.Compile(src) }

// Table returns the engine's syntax table.
func (e *Engine) Table() *syntax.Table { return e.table }

type compiledStep struct {
	step *syntax.Step
	fn   StepFunc
	out  Kind
}

// Query is a compiled query; it may be run many times, concurrently.
type Query struct {
	ast   *syntax.Query
	steps []compiledStep
	out   Kind
}

// Kind is the kind of the query's result (KindAny if only known at run).
func (q *Query) Kind() Kind { return q.out }

// AST returns the parsed query.
func (q *Query) AST() *syntax.Query { return q.ast }

func (q *Query) String() string { return q.ast.String() }

// Compiler is the per-query compilation state given to StepDef.Compile.
type Compiler struct {
	engine *Engine
	steps  []compiledStep
	marks  map[string]Kind
	lastV  *selector // set by V()/E() so that a following Has() merges into it
	lastNb *Filter   // set by Out()/In()/Both(), for the same
	prev   *syntax.Step
	notes  map[string]any
}

// Note returns what an extension noted under key while compiling this
// query (nil if nothing): a step may leave state for the steps after it,
// as Flows() does so that the Has() after it reaches the flow store.
func (c *Compiler) Note(key string) any { return c.notes[key] }

// SetNote records state for the following steps of this query.
func (c *Compiler) SetNote(key string, v any) {
	if c.notes == nil {
		c.notes = map[string]any{}
	}
	c.notes[key] = v
}

// Previous returns the step before the one being compiled (nil for G).
func (c *Compiler) Previous() *syntax.Step { return c.prev }

// Errorf returns a positioned query error.
func (c *Compiler) Errorf(pos syntax.Pos, format string, args ...any) error {
	return syntax.Errorf(pos, format, args...)
}

// Compile parses and compiles a query. Every error is a *syntax.Error.
func (e *Engine) Compile(src string) (*Query, error) {
	ast, err := syntax.Parse(src, e.table)
	if err != nil {
		return nil, err
	}
	c := &Compiler{engine: e, marks: map[string]Kind{}}
	steps, kind, err := c.compileSteps(ast.Steps, KindStart, "")
	if err != nil {
		return nil, err
	}
	return &Query{ast: ast, steps: steps, out: kind}, nil
}

// compileSteps compiles steps whose input is of kind in; prevName is the
// step before them ("" at the start).
func (c *Compiler) compileSteps(steps []*syntax.Step, kind Kind, prevName string) ([]compiledStep, Kind, error) {
	e := c.engine
	start := len(c.steps) // c.steps is the whole prefix, for Diff()
	for i, s := range steps {
		if kind == KindAny {
			// What the steps after a step of run-time kind (Workflow())
			// apply to is only known then: compile the rest for the value
			// it gives.
			c.steps = append(c.steps, c.lateSteps(steps[i:], prevName))
			return c.steps[start:], KindAny, nil
		}
		def := e.lookup(s.Sig.Name, kind)
		if def == nil {
			if prevName == "G" && kind == KindGraph {
				return nil, "", syntax.Errorf(s.Pos(), "%s() cannot follow G", s.Name)
			}
			return nil, "", syntax.Errorf(s.Pos(), "%s() cannot follow %s()", s.Name, prevName)
		}
		fn, outKind, err := def.Compile(c, s, kind)
		if err != nil {
			var se *syntax.Error
			if !errors.As(err, &se) {
				err = syntax.Errorf(s.Pos(), "%s(): %v", s.Name, err)
			}
			return nil, "", err
		}
		cs := compiledStep{step: s, fn: fn, out: outKind}
		if cs.step.Name != "V" && cs.step.Name != "E" && cs.step.Name != "Has" {
			c.lastV = nil
		}
		if cs.step.Name != "Out" && cs.step.Name != "In" && cs.step.Name != "Both" && cs.step.Name != "Has" {
			c.lastNb = nil
		}
		c.steps = append(c.steps, cs)
		c.prev = s
		kind = cs.out
		prevName = s.Name
	}
	return c.steps[start:], kind, nil
}

// lateSteps compiles steps when their input value is known, once per kind
// of value (the query stays usable from many goroutines). A graph value
// becomes the view the following steps walk, as after SubGraph().
func (c *Compiler) lateSteps(steps []*syntax.Step, prevName string) compiledStep {
	var (
		mu    sync.Mutex
		byKey = map[Kind][]compiledStep{}
		errs  = map[Kind]error{}
	)
	base := *c
	compile := func(kind Kind) ([]compiledStep, error) {
		mu.Lock()
		defer mu.Unlock()
		if cs, ok := byKey[kind]; ok || errs[kind] != nil {
			return cs, errs[kind]
		}
		cc := base
		cc.steps = slices.Clone(base.steps)
		cc.marks = maps.Clone(base.marks)
		cc.notes = maps.Clone(base.notes)
		cc.lastV, cc.lastNb = nil, nil
		cs, _, err := cc.compileSteps(steps, kind, prevName)
		byKey[kind], errs[kind] = cs, err
		return cs, err
	}
	return compiledStep{step: steps[0], out: KindAny, fn: func(r *Run, in Value) (Value, error) {
		if in == nil {
			return nil, syntax.Errorf(steps[0].Pos(), "%s() cannot follow %s(), which gave nothing", steps[0].Name, prevName)
		}
		cs, err := compile(in.Kind())
		if err != nil {
			return nil, err
		}
		if g, ok := in.(Graph); ok && g.View != nil {
			r.View = g.View
		}
		return runStepsFrom(r, cs, in)
	}}
}

func (e *Engine) lookup(name string, in Kind) *StepDef {
	defs := e.defs[name]
	for i := len(defs) - 1; i >= 0; i-- {
		if len(defs[i].In) == 0 || slices.Contains(defs[i].In, in) {
			return &defs[i]
		}
	}
	return nil
}

// Run is the state of one execution, given to step functions.
type Run struct {
	Ctx context.Context
	Env *Env
	// View is the graph the query currently walks (live, historical or a
	// subgraph).
	View graph.View

	now      time.Time
	marks    map[string]Value
	override graph.View // Diff: evaluate the prefix on this view
	ticks    int
}

// Now is the query's reference time (fixed for the whole run).
func (r *Run) Now() time.Time { return r.now }

// Tick is called in loops: it reports cancellation every 512 calls.
func (r *Run) Tick() error {
	r.ticks++
	if r.ticks&511 == 0 {
		return r.Ctx.Err()
	}
	return nil
}

// Run executes the query. Query errors are *syntax.Error (with the position
// of the failing step); a cancelled ctx returns ctx.Err().
func (q *Query) Run(ctx context.Context, env Env) (Value, error) {
	if env.Now == nil {
		env.Now = time.Now
	}
	r := &Run{Ctx: ctx, Env: &env, now: env.Now(), marks: map[string]Value{}}
	return runSteps(r, q.steps)
}

func runSteps(r *Run, steps []compiledStep) (v Value, err error) {
	return runStepsFrom(r, steps, nil)
}

// runStepsFrom runs steps on the value v.
func runStepsFrom(r *Run, steps []compiledStep, v Value) (_ Value, err error) {
	for _, s := range steps {
		if err := r.Ctx.Err(); err != nil {
			return nil, err
		}
		v, err = s.fn(r, v)
		if err != nil {
			var se *syntax.Error
			if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			return nil, syntax.Errorf(s.step.Pos(), "%s(): %v", s.step.Name, err)
		}
	}
	return v, nil
}

// stepError is a positioned error naming the step.
func stepError(s *syntax.Step, format string, args ...any) error {
	return syntax.Errorf(s.Pos(), "%s(): %s", s.Name, fmt.Sprintf(format, args...))
}

package workflows

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// DefaultTimeout bounds a workflow call when Env.Timeout is zero.
const DefaultTimeout = 60 * time.Second

//go:embed prelude.js
var prelude string

// QueryFunc runs a Gremlin query; its result must marshal to JSON.
type QueryFunc func(ctx context.Context, query string) (any, error)

// Env is what a workflow's JavaScript reaches.
type Env struct {
	// Query answers Gremlin(query) and the client.G... queries.
	Query QueryFunc
	// Handler answers request(url, method, body): the analyzer's own REST
	// API, called in process.
	Handler http.Handler
	Logger  *slog.Logger
	// Timeout bounds the call (0: DefaultTimeout).
	Timeout time.Duration
}

// ScriptError is a workflow that failed in JavaScript: a compile error, an
// exception or a rejected promise. Its message has the JavaScript position.
type ScriptError struct {
	Workflow string
	Msg      string
}

func (e *ScriptError) Error() string { return fmt.Sprintf("workflow %s: %s", e.Workflow, e.Msg) }

// TimeoutError is a workflow stopped because its call outlived its
// deadline, or because the caller went away.
type TimeoutError struct {
	Workflow string
	Err      error // context.DeadlineExceeded or context.Canceled
	Where    string
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("workflow %s interrupted: %v", e.Workflow, e.Err)
	if e.Where != "" {
		msg += " (" + e.Where + ")"
	}
	return msg
}
func (e *TimeoutError) Unwrap() error { return e.Err }

// Run calls the JavaScript function source with params in a new runtime
// and answers the JSON of its result; a returned promise (or thenable) is
// awaited, running the timers it waits for.
func Run(ctx context.Context, env Env, name, source string, params []any) (json.RawMessage, error) {
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sb, err := NewSandbox(ctx, env, "workflow", name)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: runtime: %w", name, err)
	}
	defer sb.Close()
	vm, l, rt := sb.VM, sb.loop, sb.rt
	fail := func(err error) error { return classify(ctx, name, err) }
	fv, err := vm.RunScript(name, "("+source+"\n)")
	if err != nil {
		return nil, fail(err)
	}
	fn, ok := goja.AssertFunction(fv)
	if !ok {
		return nil, &ScriptError{Workflow: name, Msg: "Source must be a function, not " + fv.String()}
	}
	args := make([]goja.Value, len(params))
	for i, p := range params {
		if args[i], err = rt.fromJSON(p); err != nil {
			return nil, &ScriptError{Workflow: name, Msg: fmt.Sprintf("parameter %d: %v", i+1, err)}
		}
	}
	ret, err := fn(goja.Undefined(), args...)
	if err != nil {
		return nil, fail(err)
	}
	promise, err := rt.await(ret)
	if err != nil {
		return nil, fail(err)
	}
	for promise.State() == goja.PromiseStatePending {
		if len(l.timers) == 0 && len(l.jobs) == 0 {
			return nil, &ScriptError{Workflow: name, Msg: "the returned promise never settles (no timer is left to settle it)"}
		}
		select {
		case job := <-l.jobs:
			if err := job(); err != nil {
				return nil, fail(err)
			}
		case <-ctx.Done():
			return nil, &TimeoutError{Workflow: name, Err: ctx.Err(), Where: "waiting for the returned promise"}
		}
	}
	if promise.State() == goja.PromiseStateRejected {
		return nil, &ScriptError{Workflow: name, Msg: rejection(vm, promise.Result())}
	}
	out, err := rt.toJSON(promise.Result())
	if err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// Sandbox is a new JavaScript runtime with the workflows' globals and
// nothing else (no require, no filesystem, no network): Gremlin(query),
// request(url, method, body) on env.Handler in process, sleep(ms), the
// timers, console and the client API of prelude.js. It is interrupted when
// its context ends. It is not safe for concurrent use.
type Sandbox struct {
	VM   *goja.Runtime
	rt   *runtime
	loop *loop
	stop func() bool
}

// NewSandbox makes a runtime for one evaluation; its log lines carry
// logKey=name. Close it after use.
func NewSandbox(ctx context.Context, env Env, logKey, name string) (*Sandbox, error) {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	vm := goja.New()
	l := &loop{vm: vm, ctx: ctx, jobs: make(chan func() error, 16), timers: map[int64]*time.Timer{}}
	rt := &runtime{vm: vm, ctx: ctx, env: env, log: env.Logger.With(logKey, name)}
	sb := &Sandbox{VM: vm, rt: rt, loop: l, stop: context.AfterFunc(ctx, func() { vm.Interrupt(ctx.Err()) })}
	if err := rt.install(l); err != nil {
		sb.Close()
		return nil, err
	}
	return sb, nil
}

// Close stops the sandbox's timers and its interruption on the context's
// end.
func (sb *Sandbox) Close() {
	sb.stop()
	sb.loop.stopTimers()
}

// JSON is JSON.stringify(v) in the sandbox, null for undefined.
func (sb *Sandbox) JSON(v goja.Value) (json.RawMessage, error) { return sb.rt.toJSON(v) }

// classify turns a goja error into a ScriptError or a TimeoutError.
func classify(ctx context.Context, name string, err error) error {
	var intr *goja.InterruptedError
	if errors.As(err, &intr) || ctx.Err() != nil {
		where := ""
		if intr != nil {
			var b bytes.Buffer
			if fr := intr.Stack(); len(fr) > 0 {
				fr[0].Write(&b)
			}
			where = b.String()
		}
		cause := ctx.Err()
		if cause == nil {
			cause = context.Canceled
		}
		return &TimeoutError{Workflow: name, Err: cause, Where: where}
	}
	var exc *goja.Exception
	if errors.As(err, &exc) {
		return &ScriptError{Workflow: name, Msg: exc.Error()}
	}
	var syn *goja.CompilerSyntaxError
	if errors.As(err, &syn) {
		return &ScriptError{Workflow: name, Msg: syn.Error()}
	}
	return &ScriptError{Workflow: name, Msg: err.Error()}
}

// rejection describes a promise's rejection reason: an Error's message and
// the first frame of its stack.
func rejection(vm *goja.Runtime, reason goja.Value) string {
	if reason == nil || goja.IsUndefined(reason) {
		return "promise rejected with undefined"
	}
	msg := reason.String()
	if obj, ok := reason.(*goja.Object); ok {
		if st := obj.Get("stack"); st != nil && !goja.IsUndefined(st) {
			lines := strings.Split(strings.TrimSpace(st.String()), "\n")
			for _, line := range lines[1:] {
				if line = strings.TrimSpace(line); strings.HasPrefix(line, "at ") {
					return msg + " " + line
				}
			}
		}
	}
	return msg
}

// runtime is one call's JavaScript side.
type runtime struct {
	vm  *goja.Runtime
	ctx context.Context
	env Env
	log *slog.Logger
}

func (rt *runtime) throw(format string, args ...any) {
	panic(rt.vm.NewGoError(fmt.Errorf(format, args...)))
}

func (rt *runtime) install(l *loop) error {
	vm := rt.vm
	set := func(name string, v any) error { return vm.Set(name, v) }
	for name, fn := range map[string]func(goja.FunctionCall) goja.Value{
		"Gremlin":       rt.gremlin,
		"request":       rt.request,
		"sleep":         rt.sleep,
		"setTimeout":    func(c goja.FunctionCall) goja.Value { return l.set(c, false) },
		"setInterval":   func(c goja.FunctionCall) goja.Value { return l.set(c, true) },
		"clearTimeout":  l.clear,
		"clearInterval": l.clear,
		"_log":          rt.logFn,
	} {
		if err := set(name, fn); err != nil {
			return err
		}
	}
	if _, err := vm.RunScript("prelude.js", prelude); err != nil {
		return err
	}
	return vm.GlobalObject().Delete("_log")
}

func (rt *runtime) logFn(c goja.FunctionCall) goja.Value {
	msg := c.Argument(1).String()
	switch c.Argument(0).String() {
	case "debug":
		rt.log.Debug(msg)
	case "warn":
		rt.log.Warn(msg)
	case "error":
		rt.log.Error(msg)
	default:
		rt.log.Info(msg)
	}
	return goja.Undefined()
}

// gremlin is Gremlin(query): the JSON text of the query's result.
func (rt *runtime) gremlin(c goja.FunctionCall) goja.Value {
	q := c.Argument(0)
	if _, ok := q.Export().(string); !ok {
		rt.throw("Gremlin requires a query string")
	}
	if rt.env.Query == nil {
		rt.throw("Gremlin: no query engine")
	}
	res, err := rt.env.Query(rt.ctx, q.String())
	if err != nil {
		rt.throw("Gremlin %q: %v", q.String(), err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		rt.throw("Gremlin %q: %v", q.String(), err)
	}
	return rt.vm.ToValue(string(b))
}

// request is request(url, method, body): a call to the analyzer's own REST
// API, answering the response's body; an error status throws.
func (rt *runtime) request(c goja.FunctionCall) goja.Value {
	if rt.env.Handler == nil {
		rt.throw("request: no API to call")
	}
	target := c.Argument(0).String()
	method := "GET"
	if m := c.Argument(1); !goja.IsUndefined(m) && !goja.IsNull(m) && m.String() != "" {
		method = strings.ToUpper(m.String())
	}
	var body string
	if b := c.Argument(2); !goja.IsUndefined(b) && !goja.IsNull(b) {
		body = b.String()
	}
	u, err := url.Parse(target)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		rt.throw("request: %q is not a path of the API, e.g. /api/capture", target)
	}
	req, err := http.NewRequestWithContext(rt.ctx, method, u.RequestURI(), strings.NewReader(body))
	if err != nil {
		rt.throw("request %s %s: %v", method, target, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = "workflow"
	rec := &recorder{header: http.Header{}}
	rt.env.Handler.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code >= 400 {
		rt.throw("request %s %s: %d %s: %s", method, u.Path, rec.code, http.StatusText(rec.code), strings.TrimSpace(rec.body.String()))
	}
	return rt.vm.ToValue(rec.body.String())
}

// sleep is sleep(ms): it blocks, then answers a resolved promise, so that
// both `sleep(1000); ...` and `return sleep(1000)` in a chain wait.
func (rt *runtime) sleep(c goja.FunctionCall) goja.Value {
	d := time.Duration(c.Argument(0).ToInteger()) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-rt.ctx.Done():
		rt.throw("sleep: %v", rt.ctx.Err())
	}
	p, resolve, _ := rt.vm.NewPromise()
	_ = resolve(goja.Undefined())
	return rt.vm.ToValue(p)
}

// fromJSON gives v to JavaScript as JSON.parse would.
func (rt *runtime) fromJSON(v any) (goja.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	parse, _ := goja.AssertFunction(rt.vm.Get("JSON").ToObject(rt.vm).Get("parse"))
	return parse(goja.Undefined(), rt.vm.ToValue(string(b)))
}

// toJSON is JSON.stringify(v), null for undefined.
func (rt *runtime) toJSON(v goja.Value) (json.RawMessage, error) {
	stringify, _ := goja.AssertFunction(rt.vm.Get("JSON").ToObject(rt.vm).Get("stringify"))
	s, err := stringify(goja.Undefined(), v)
	if err != nil {
		return nil, err
	}
	if goja.IsUndefined(s) {
		return json.RawMessage("null"), nil
	}
	return json.RawMessage(s.String()), nil
}

// await makes v a promise: Promise.resolve(v).
func (rt *runtime) await(v goja.Value) (*goja.Promise, error) {
	ctor := rt.vm.Get("Promise").ToObject(rt.vm)
	resolve, _ := goja.AssertFunction(ctor.Get("resolve"))
	p, err := resolve(ctor, v)
	if err != nil {
		return nil, err
	}
	promise, ok := p.Export().(*goja.Promise)
	if !ok {
		return nil, errors.New("the result of Promise.resolve is not a promise")
	}
	return promise, nil
}

// loop runs the timers' callbacks on the runtime's goroutine.
type loop struct {
	vm     *goja.Runtime
	ctx    context.Context
	jobs   chan func() error
	timers map[int64]*time.Timer
	nextID int64
}

func (l *loop) set(c goja.FunctionCall, repeat bool) goja.Value {
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		panic(l.vm.NewTypeError("setTimeout: the first argument must be a function"))
	}
	d := time.Duration(c.Argument(1).ToInteger()) * time.Millisecond
	if d < 0 {
		d = 0
	}
	var args []goja.Value
	if len(c.Arguments) > 2 {
		args = append(args, c.Arguments[2:]...)
	}
	l.nextID++
	id := l.nextID
	var job func() error
	post := func() {
		select {
		case l.jobs <- job:
		case <-l.ctx.Done():
		}
	}
	job = func() error {
		t, ok := l.timers[id]
		if !ok { // cleared after it fired
			return nil
		}
		if repeat {
			t.Reset(d)
		} else {
			delete(l.timers, id)
		}
		_, err := fn(goja.Undefined(), args...)
		return err
	}
	l.timers[id] = time.AfterFunc(d, post)
	return l.vm.ToValue(id)
}

func (l *loop) clear(c goja.FunctionCall) goja.Value {
	id := c.Argument(0).ToInteger()
	if t, ok := l.timers[id]; ok {
		t.Stop()
		delete(l.timers, id)
	}
	return goja.Undefined()
}

func (l *loop) stopTimers() {
	for id, t := range l.timers {
		t.Stop()
		delete(l.timers, id)
	}
}

// recorder is the ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}

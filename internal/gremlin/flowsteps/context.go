package flowsteps

import (
	"time"

	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// compileContext replaces the core Context/At step: it does what the core
// step does on the graph (Env.History.At / Window) and also records the
// time window for the flow steps that follow, by replacing Env.Flows
// (per run) with the source and its window.
//
// Time arguments follow the core step: NOW, a duration relative to now
// ('-1m'), a Unix timestamp (≤ MaxInt32: seconds, else milliseconds;
// negative: seconds relative to now), or a date; the duration is seconds,
// a duration string or FOREVER.
func compileContext(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	if p := c.Previous(); p == nil || p.Name != "G" {
		return nil, eval.KindGraph, syntax.Errorf(s.Pos(), "%s() must directly follow G", s.Name)
	}
	at, err := eval.TimeArg(s.Args[0])
	if err != nil {
		return nil, "", err
	}
	var from func(time.Time) time.Time
	if len(s.Args) == 2 {
		if from, err = eval.DurationArg(s.Args[1]); err != nil {
			return nil, "", err
		}
	}
	return func(r *eval.Run, in eval.Value) (eval.Value, error) {
		if !sameView(r.View, r.Env.Graph) {
			// Diff() evaluates the prefix on a view of its own.
			return in, nil
		}
		h := r.Env.History
		if h == nil {
			return nil, syntax.Errorf(s.Pos(), "Backend does not support history")
		}
		t := at(r.Now())
		w := flowstore.Window{From: t, To: t}
		if from == nil {
			r.View = h.At(t)
		} else {
			w.From = from(t)
			r.View = h.Window(w.From, t)
		}
		if src, err := sourceOf(r.Env.Flows); err == nil {
			r.Env.Flows = &timed{src: src, window: w}
		}
		return eval.Graph{View: r.View}, nil
	}, eval.KindGraph, nil
}

// sameView compares two views without panicking on incomparable types.
func sameView(a, b graph.View) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

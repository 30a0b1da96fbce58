package flowsteps

import (
	"math"
	"strings"
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
	at, err := compileTime(s.Args[0])
	if err != nil {
		return nil, "", err
	}
	var from func(time.Time) time.Time
	if len(s.Args) == 2 {
		if from, err = compileDuration(s.Args[1]); err != nil {
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

var timeLayouts = []string{time.RFC1123, time.RFC1123Z, time.RFC3339Nano, time.RFC850, time.ANSIC, time.UnixDate, "2006-01-02 15:04:05", "2006-01-02"}

func compileTime(e syntax.Expr) (func(now time.Time) time.Time, error) {
	switch t := e.(type) {
	case *syntax.Const:
		if t.Name == "NOW" {
			return func(now time.Time) time.Time { return now }, nil
		}
	case *syntax.NumberLit:
		if t.IsInt {
			i := t.Int
			switch {
			case i < 0:
				return func(now time.Time) time.Time { return now.Add(time.Duration(i) * time.Second) }, nil
			case i <= math.MaxInt32:
				at := time.Unix(i, 0)
				return func(time.Time) time.Time { return at }, nil
			default:
				at := time.UnixMilli(i)
				return func(time.Time) time.Time { return at }, nil
			}
		}
		if t.Float > 1e15 || t.Float < -1e15 {
			return nil, syntax.Errorf(t.Pos(), "time %s is out of range", t.Raw)
		}
		sec, frac := math.Modf(t.Float)
		at := time.Unix(int64(sec), int64(frac*1e9))
		return func(time.Time) time.Time { return at }, nil
	case *syntax.StringLit:
		s := strings.TrimSpace(t.Value)
		if d, err := time.ParseDuration(s); err == nil {
			return func(now time.Time) time.Time { return now.Add(d) }, nil
		}
		for _, layout := range timeLayouts {
			if at, err := time.Parse(layout, s); err == nil {
				return func(time.Time) time.Time { return at }, nil
			}
		}
		return nil, syntax.Errorf(t.Pos(), "invalid time %q, expected a duration like '-1m', a Unix timestamp or a date like 'Sun, 27 Nov 2016 15:53:58 CET'", t.Value)
	}
	return nil, syntax.Errorf(e.Pos(), "invalid time %s", e)
}

func compileDuration(e syntax.Expr) (func(at time.Time) time.Time, error) {
	switch t := e.(type) {
	case *syntax.Const:
		if t.Name == "FOREVER" {
			return func(time.Time) time.Time { return time.UnixMilli(0) }, nil
		}
	case *syntax.NumberLit:
		f := t.Float
		if t.IsInt {
			f = float64(t.Int)
		}
		if f < 0 || f > 1e11 {
			return nil, syntax.Errorf(t.Pos(), "duration %s is out of range", t.Raw)
		}
		d := time.Duration(f * float64(time.Second))
		return func(at time.Time) time.Time { return at.Add(-d) }, nil
	case *syntax.StringLit:
		d, err := time.ParseDuration(strings.TrimSpace(t.Value))
		if err != nil {
			return nil, syntax.Errorf(t.Pos(), "invalid duration %q, expected seconds or a duration like '5m'", t.Value)
		}
		d = d.Abs()
		return func(at time.Time) time.Time { return at.Add(-d) }, nil
	}
	return nil, syntax.Errorf(e.Pos(), "invalid duration %s", e)
}

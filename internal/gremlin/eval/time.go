package eval

import (
	"math"
	"strings"
	"time"

	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
	"github.com/skydive-ng/skydive/internal/predicate"
)

type timeT = time.Time

// timeSpec resolves a time argument against the query's reference time.
type timeSpec func(now time.Time) time.Time

var timeLayouts = []string{time.RFC1123, time.RFC1123Z, time.RFC3339Nano, time.RFC850, time.ANSIC, time.UnixDate, "2006-01-02 15:04:05", "2006-01-02"}

// compileTime accepts NOW, a Go duration relative to now ('-1m', '-1h30m'),
// a date (RFC1123 as in the original, RFC3339 ...), or a Unix timestamp
// (integers up to MaxInt32 are seconds, larger ones milliseconds; negative
// integers are seconds relative to now; floats are seconds).
func compileTime(e syntax.Expr) (timeSpec, error) {
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

// durationSpec is the length of a time window.
type durationSpec interface {
	from(at time.Time) time.Time
}

type fixedDuration time.Duration

func (d fixedDuration) from(at time.Time) time.Time { return at.Add(-time.Duration(d)) }

type forever struct{}

func (forever) from(time.Time) time.Time { return time.UnixMilli(0) }

// compileDuration accepts a Go duration string, seconds, or FOREVER.
func compileDuration(e syntax.Expr) (durationSpec, error) {
	switch t := e.(type) {
	case *syntax.Const:
		if t.Name == "FOREVER" {
			return forever{}, nil
		}
	case *syntax.NumberLit:
		f := t.Float
		if t.IsInt {
			f = float64(t.Int)
		}
		if f < 0 || f > 1e11 {
			return nil, syntax.Errorf(t.Pos(), "duration %s is out of range", t.Raw)
		}
		return fixedDuration(time.Duration(f * float64(time.Second))), nil
	case *syntax.StringLit:
		d, err := time.ParseDuration(strings.TrimSpace(t.Value))
		if err != nil {
			return nil, syntax.Errorf(t.Pos(), "invalid duration %q, expected seconds or a duration like '5m'", t.Value)
		}
		return fixedDuration(d.Abs()), nil
	}
	return nil, syntax.Errorf(e.Pos(), "invalid duration %s", e)
}

func eqP(v any) *predicate.P { return predicate.Eq(v) }

// TimeArg compiles a time argument as At() reads it, for extensions that
// have time steps of their own.
func TimeArg(e syntax.Expr) (func(now time.Time) time.Time, error) {
	ts, err := compileTime(e)
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// DurationArg compiles the length of a time window as At(t, d) reads it:
// the function returns the window's start from its end.
func DurationArg(e syntax.Expr) (func(end time.Time) time.Time, error) {
	d, err := compileDuration(e)
	if err != nil {
		return nil, err
	}
	return d.from, nil
}

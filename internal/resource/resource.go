// Package resource holds the error kinds that the analyzer's resource
// managers (captures, alerts, rules, workflows, injections) share: a
// resource refused as invalid, not found, or in conflict with another. The
// servers map a kind to their own answer (httpapi: 400, 404, 409).
package resource

import (
	"errors"
	"fmt"
)

// Kind is what went wrong with a resource.
type Kind int

// The kinds; KindNone is an error of no kind (or no error).
const (
	KindNone Kind = iota
	// KindInvalid is a resource refused for what it holds.
	KindInvalid
	// KindNotFound is an unknown resource.
	KindNotFound
	// KindConflict is a resource that clashes with one already there.
	KindConflict
)

// String names k.
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	}
	return "none"
}

// Error is an error of a kind; its message is Err's.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Invalid makes err an invalid resource; Invalid(nil) is nil.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindInvalid, Err: err}
}

// Invalidf is Invalid(fmt.Errorf(format, args...)).
func Invalidf(format string, args ...any) error {
	return Invalid(fmt.Errorf(format, args...))
}

// NotFound is an unknown resource error with message msg.
func NotFound(msg string) error { return &Error{Kind: KindNotFound, Err: errors.New(msg)} }

// Conflict is a resource conflict error with message msg.
func Conflict(msg string) error { return &Error{Kind: KindConflict, Err: errors.New(msg)} }

// KindOf is the kind of the first *Error in err's chain, KindNone without one.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindNone
}

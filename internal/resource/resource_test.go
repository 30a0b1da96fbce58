package resource

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	notFound := NotFound("thing not found")
	conflict := Conflict("duplicate thing")
	for _, tc := range []struct {
		name string
		err  error
		kind Kind
		msg  string
	}{
		{"nil", nil, KindNone, ""},
		{"plain", errors.New("boom"), KindNone, "boom"},
		{"context", context.Canceled, KindNone, "context canceled"},
		{"invalid", Invalid(errors.New("Name: required")), KindInvalid, "Name: required"},
		{"invalidf", Invalidf("Query: %v", errors.New("1:1: bad")), KindInvalid, "Query: 1:1: bad"},
		{"not found", notFound, KindNotFound, "thing not found"},
		{"not found wrapped", fmt.Errorf("%w: abc", notFound), KindNotFound, "thing not found: abc"},
		{"conflict", conflict, KindConflict, "duplicate thing"},
		{"conflict wrapped twice", fmt.Errorf("create: %w", fmt.Errorf("%w: x", conflict)), KindConflict, "create: duplicate thing: x"},
		{"outermost kind wins", Invalid(fmt.Errorf("%w: y", notFound)), KindInvalid, "thing not found: y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.kind)
			}
			if tc.err != nil && tc.err.Error() != tc.msg {
				t.Errorf("message %q, want %q", tc.err.Error(), tc.msg)
			}
		})
	}
}

func TestSentinels(t *testing.T) {
	notFound := NotFound("thing not found")
	err := fmt.Errorf("%w: abc", notFound)
	if !errors.Is(err, notFound) {
		t.Error("a wrapped sentinel is not errors.Is its sentinel")
	}
	if errors.Is(err, NotFound("thing not found")) {
		t.Error("two sentinels with the same message are the same")
	}
	cause := errors.New("cause")
	if !errors.Is(Invalid(cause), cause) {
		t.Error("Invalid does not unwrap to its cause")
	}
	if Invalid(nil) != nil {
		t.Error("Invalid(nil) is not nil")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindNone: "none", KindInvalid: "invalid", KindNotFound: "not found", KindConflict: "conflict"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", k, k.String(), want)
		}
	}
}

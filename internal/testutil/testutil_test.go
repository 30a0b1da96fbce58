package testutil

import (
	"errors"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Second, "third call", func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	if out := Sh(t, "echo", "hi"); out != "hi\n" {
		t.Fatalf("Sh answered %q", out)
	}
}

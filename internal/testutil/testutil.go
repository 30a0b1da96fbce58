// Package testutil has the helpers the tests share: running a command and
// polling a condition with a deadline (never sleep-and-hope).
package testutil

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Sh runs a command; a failure ends the test with the command's output.
func Sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Eventually polls cond every 20 ms until it returns nil; after within,
// the test ends with cond's last error.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// EventuallyTrue is Eventually for a condition without an error to tell.
func EventuallyTrue(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("still false")
	})
}

package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/skydive-ng/skydive/internal/flowstore"
)

// DefaultSince is the window when none is given.
const DefaultSince = time.Hour

// ParseWindow reads since (a Go duration, the window ending now) or from/to
// (RFC 3339; to defaults to now). Nothing given: the last DefaultSince.
func ParseWindow(since, from, to string, now time.Time) (flowstore.Window, error) {
	if since != "" && (from != "" || to != "") {
		return flowstore.Window{}, errors.New("give since or from/to, not both")
	}
	if from == "" && to == "" {
		d := DefaultSince
		if since != "" {
			var err error
			if d, err = time.ParseDuration(since); err != nil {
				return flowstore.Window{}, fmt.Errorf("since: %w", err)
			}
			if d <= 0 {
				return flowstore.Window{}, errors.New("since must be positive")
			}
		}
		return flowstore.Window{From: now.Add(-d), To: now}, nil
	}
	w := flowstore.Window{To: now}
	if from == "" {
		return flowstore.Window{}, errors.New("to needs from")
	}
	var err error
	if w.From, err = time.Parse(time.RFC3339, from); err != nil {
		return flowstore.Window{}, fmt.Errorf("from: %w", err)
	}
	if to != "" {
		if w.To, err = time.Parse(time.RFC3339, to); err != nil {
			return flowstore.Window{}, fmt.Errorf("to: %w", err)
		}
	}
	if w.To.Before(w.From) {
		return flowstore.Window{}, errors.New("to is before from")
	}
	return w, nil
}

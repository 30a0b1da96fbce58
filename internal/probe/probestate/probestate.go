// Package probestate holds a probe's state as /api/status shows it:
// "starting", "running", "error: ...", "stopped".
package probestate

import "sync/atomic"

// State is safe for concurrent use; its zero value reads "starting".
type State struct{ v atomic.Value }

// Get returns the state.
func (s *State) Get() string {
	if v, ok := s.v.Load().(string); ok {
		return v
	}
	return "starting"
}

// Set replaces the state.
func (s *State) Set(state string) { s.v.Store(state) }

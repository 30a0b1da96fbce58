// Package cluster is what the analyzers of one Skydive share: the API
// resources (captures, alerts, workflows, topology rules, packet injections)
// kept as JSON values by kind behind one small Store interface, the leader
// elections, and the leases that tell which analyzer holds which agent.
//
// Without etcd, a FileStore keeps each kind in its JSON file under the
// analyzer's data_dir, as a single analyzer always did. With etcd (external
// servers, or a member embedded in each analyzer), an EtcdStore keeps them
// under the original's keys (/capture/<uuid>, /alert/<uuid>, ...) and every
// analyzer watches them.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Kind names a set of values: the first part of their keys.
type Kind string

// The kinds of the analyzer's resources, named as the original's etcd keys.
const (
	KindCapture   Kind = "capture"
	KindAlert     Kind = "alert"
	KindWorkflow  Kind = "workflow"
	KindNodeRule  Kind = "noderule"
	KindEdgeRule  Kind = "edgerule"
	KindInjection Kind = "injectpacket"
	// KindAlertState keeps the last firing of each alert, so that a new
	// leader does not notify again what the previous one did.
	KindAlertState Kind = "alert-state"
)

// ErrNotFound is a key that is not there.
var ErrNotFound = errors.New("not found")

// Revision orders the changes of a store; Watch starts after one.
type Revision int64

// EventType tells what happened to a value.
type EventType int

// The changes of a value.
const (
	EventPut EventType = iota + 1
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a change of one value: its new JSON for a put.
type Event struct {
	Type  EventType
	Kind  Kind
	ID    string
	Value json.RawMessage
}

// Store keeps JSON values by kind and ID.
type Store interface {
	// Put stores v's JSON as kind/id.
	Put(ctx context.Context, kind Kind, id string, v any, opts ...PutOption) error
	// Get decodes kind/id into v; errors.Is(err, ErrNotFound) when absent.
	Get(ctx context.Context, kind Kind, id string, v any) error
	// Delete removes kind/id; errors.Is(err, ErrNotFound) when absent.
	Delete(ctx context.Context, kind Kind, id string) error
	// List returns every value of kind and the revision they are at.
	List(ctx context.Context, kind Kind) (map[string]json.RawMessage, Revision, error)
	// Watch calls fn with each change of kind made after rev, in order,
	// until ctx ends (nil) or the watch is lost (an error: List again).
	Watch(ctx context.Context, kind Kind, rev Revision, fn func(Event)) error
	// Shared tells whether other analyzers read and write the same values.
	Shared() bool
}

// PutOption changes a Put.
type PutOption func(*putOptions)

type putOptions struct {
	ttl time.Duration
}

// WithTTL makes the value expire after d (the original's X-Resource-TTL).
func WithTTL(d time.Duration) PutOption { return func(o *putOptions) { o.ttl = d } }

func putOpts(opts []PutOption) putOptions {
	var o putOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Follow keeps a copy of kind: reset gets every value (at start, and again
// whenever the watch was lost), then fn gets each change, until ctx ends. It
// retries a store that does not answer, logging once per outage.
func Follow(ctx context.Context, s Store, kind Kind, log *slog.Logger, reset func(map[string]json.RawMessage), fn func(Event)) {
	if log == nil {
		log = slog.Default()
	}
	backoff := 100 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		items, rev, err := s.List(ctx, kind)
		if err == nil {
			if failing {
				log.Info("store answers again", "kind", kind)
				failing = false
			}
			backoff = 100 * time.Millisecond
			reset(items)
			err = s.Watch(ctx, kind, rev, fn)
			if err == nil || ctx.Err() != nil {
				return
			}
		}
		if !failing {
			log.Warn("store unavailable, retrying", "kind", kind, "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Decode decodes every value of items into a map of T, skipping (and
// reporting to bad) those that are not a T.
func Decode[T any](items map[string]json.RawMessage, bad func(id string, err error)) map[string]*T {
	out := make(map[string]*T, len(items))
	for id, raw := range items {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			if bad != nil {
				bad(id, err)
			}
			continue
		}
		out[id] = v
	}
	return out
}

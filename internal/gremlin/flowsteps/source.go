package flowsteps

import (
	"context"
	"errors"
	"fmt"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
)

// Querier answers flow queries; every flowstore.Store is one.
type Querier interface {
	Flows(ctx context.Context, q flowstore.Query) ([]*flow.Flow, error)
	Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error)
	RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error)
}

// Source is what eval.Env.Flows holds for the flow steps (a *Source, a
// Source, or a bare Querier used for both roles).
type Source struct {
	// Live answers queries without time context: the flows alive now
	// (the agents' tables, or the store's latest states). nil: Store.
	Live Querier
	// Store answers queries in a time context (G.At / G.Context); nil:
	// such queries fail with "no storage configured".
	Store Querier
	// Gaps, when set, adds to Trace()'s answers what the flows cannot
	// show: agents disconnected, store writes refused.
	Gaps GapFinder
}

// errNoStorage is the original's error for a time context without flow
// storage.
var errNoStorage = errors.New("no storage configured")

// timed is what the Context step puts in Env.Flows: the source and the
// window of the time context.
type timed struct {
	src    Source
	window flowstore.Window
}

func sourceOf(v any) (Source, error) {
	switch t := v.(type) {
	case *timed:
		return t.src, nil
	case *Source:
		if t != nil {
			return *t, nil
		}
	case Source:
		return t, nil
	case Querier:
		return Source{Live: t, Store: t}, nil
	}
	if v == nil {
		return Source{}, errors.New("no flow source")
	}
	return Source{}, fmt.Errorf("unsupported flow source %T", v)
}

// resolve returns the querier for this run and the window (nil: live).
func resolve(v any) (Querier, *flowstore.Window, error) {
	src, err := sourceOf(v)
	if err != nil {
		return nil, nil, err
	}
	if t, ok := v.(*timed); ok {
		if src.Store == nil {
			return nil, nil, errNoStorage
		}
		w := t.window
		return src.Store, &w, nil
	}
	q := src.Live
	if q == nil {
		q = src.Store
	}
	if q == nil {
		return nil, nil, errors.New("no flow source")
	}
	return q, nil, nil
}

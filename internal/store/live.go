package store

import (
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/idmap"
)

// live is what the store keeps of a live element (a *graph.Node or a
// *graph.Edge), by value in its kind's set: a map of pointers to a struct
// allocated per element cost a quarter more at 1.3 million elements.
type live[T any] struct {
	el       T
	from     graph.Time // start of the current revision
	lastTime graph.Time // Time of the element's last row
}

// liveSet holds the live elements of one kind by a hash of their ID (see
// idmap: at 1.3 million elements, the store's maps by ID were the
// costliest part of a graph event on the ingest path).
type liveSet[T interface{ *graph.Node | *graph.Edge }] = idmap.Map[graph.Identifier, live[T]]

func newLiveSet[T interface{ *graph.Node | *graph.Edge }]() *liveSet[T] {
	return idmap.New(func(l live[T]) graph.Identifier {
		switch el := any(l.el).(type) {
		case *graph.Node:
			return el.ID
		case *graph.Edge:
			return el.ID
		}
		return ""
	})
}

// checkpoint sets every element's last row time to at least t and calls f
// with each.
func checkpoint[T interface{ *graph.Node | *graph.Edge }](set *liveSet[T], t graph.Time, f func(l live[T])) {
	set.Update(func(l live[T]) live[T] {
		l.lastTime = max(t, l.lastTime)
		f(l)
		return l
	})
}

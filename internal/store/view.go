package store

import (
	"github.com/skydive-ng/skydive/internal/graph"
)

// viewAt builds the graph at t from the rows of [t-C, t] (ordered by Time,
// Seq): the last row of each element decides.
func viewAt(rows []Revision, t graph.Time) *View {
	type key struct {
		k  ElemKind
		id graph.Identifier
	}
	last := map[key]int{}
	for i := range rows {
		if rows[i].Time > t {
			break
		}
		last[key{rows[i].Kind, rows[i].ID()}] = i
	}
	v := newView()
	for _, i := range last {
		r := &rows[i]
		if r.Op == OpDelete {
			continue
		}
		if r.Node != nil {
			v.AddNode(r.Node)
		} else if r.Edge != nil {
			v.AddEdge(r.Edge)
		}
	}
	v.Finish()
	return v
}

// viewWindow builds every revision alive at some point of [from, to] from
// the rows of [from-C, to], with history.Store's semantics: a revision
// [From, To) is kept when From <= to and (To is open or To > from); a
// revision replaced within the millisecond it began is dropped.
func viewWindow(rows []Revision, from, to graph.Time) *View {
	type key struct {
		k  ElemKind
		id graph.Identifier
	}
	type rev struct {
		r        *Revision
		from, to graph.Time
	}
	byID := map[key][]int{}
	var order []key
	for i := range rows {
		k := key{rows[i].Kind, rows[i].ID()}
		if _, ok := byID[k]; !ok {
			order = append(order, k)
		}
		byID[k] = append(byID[k], i)
	}
	v := newView()
	for _, k := range order {
		var cur *rev
		emit := func(end graph.Time) {
			if cur == nil {
				return
			}
			c := cur
			cur = nil
			c.to = end
			if c.to != 0 && c.to <= c.from {
				return // replaced within the same millisecond
			}
			if c.from <= to && (c.to == 0 || c.to > from) {
				if c.r.Node != nil {
					v.AddNode(c.r.Node)
				} else if c.r.Edge != nil {
					v.AddEdge(c.r.Edge)
				}
			}
		}
		for _, i := range byID[k] {
			r := &rows[i]
			switch r.Op {
			case OpCheckpoint:
				if cur != nil && sameRevision(cur.r, r) {
					continue
				}
				emit(r.Time)
				cur = &rev{r: r, from: r.From}
			case OpSet:
				emit(r.Time)
				cur = &rev{r: r, from: r.From}
			case OpDelete:
				emit(r.Time)
			}
		}
		emit(0)
	}
	v.Finish()
	return v
}

func sameRevision(a, b *Revision) bool {
	ea, eb := a.element(), b.element()
	return ea != nil && eb != nil && ea.Revision == eb.Revision && ea.UpdatedAt == eb.UpdatedAt && a.From == b.From
}

// View is the snapshot of the past the store answers with.
type View = graph.Snapshot

func newView() *View { return graph.NewSnapshot() }

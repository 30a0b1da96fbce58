package flowsteps

import (
	"slices"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
)

// Incomplete tells why a query's flows may be short of packets, as Trace()
// does for one flow: the captures that saw them sampling or dropping, an
// agent of their hosts disconnected while they ran, the store losing
// updates then. nil for an answer that is not flows, or nothing to say.
// The API sends the reasons in a header beside the original's JSON array.
func Incomplete(env eval.Env, v eval.Value) []string {
	fs, ok := v.(Flows)
	if !ok || len(fs) == 0 || env.Graph == nil {
		return nil
	}
	byTID := capturingNodes(env.Graph, fs)
	var hops []hop
	var hosts []string
	seen := map[string]bool{}
	for _, f := range fs {
		key := f.NodeTID + "\x00" + f.CaptureID
		if seen[key] {
			continue
		}
		seen[key] = true
		h := hop{flow: f}
		if n := byTID[f.NodeTID]; n != nil {
			h.node = n
			h.Name, h.Host = n.Metadata.String(graph.KeyName), n.Host
			if h.Host != "" && !slices.Contains(hosts, h.Host) {
				hosts = append(hosts, h.Host)
			}
		}
		hops = append(hops, h)
	}
	out := captureGaps(hops)
	if src, err := sourceOf(env.Flows); err == nil && src.Gaps != nil && len(hosts) > 0 {
		from, to := window([]*flow.Flow(fs))
		out = append(out, src.Gaps.Gaps(from, to, hosts)...)
	}
	return dedup(out)
}

// whereView is a view that selects nodes in place (the live graph).
type whereView interface {
	NodesWhere(graph.Where) []*graph.Node
}

// capturingNodes returns the nodes that captured fs, by TID (the first in
// creation order when two share one). It runs on every flow answer: the
// live graph tests its TID column in place rather than every node being
// copied, sorted and indexed.
func capturingNodes(view graph.View, fs Flows) map[string]*graph.Node {
	want := map[string]bool{}
	for _, f := range fs {
		if f.NodeTID != "" {
			want[f.NodeTID] = true
		}
	}
	var nodes []*graph.Node
	if wv, ok := view.(whereView); ok {
		nodes = wv.NodesWhere(graph.Where{Columns: []graph.ColumnTest{{Key: keyTID, Match: func(v any, present bool) bool {
			s, _ := v.(string)
			return present && want[s]
		}}}})
	} else {
		nodes = view.Nodes()
		graph.SortNodes(nodes)
	}
	out := map[string]*graph.Node{}
	for _, n := range nodes {
		tid := n.Metadata.String(keyTID)
		if want[tid] && out[tid] == nil {
			out[tid] = n
		}
	}
	return out
}

func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

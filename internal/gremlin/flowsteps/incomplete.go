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
	ix := indexNodes(env.Graph, false)
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
		if ns := ix.byTID[f.NodeTID]; len(ns) > 0 {
			h.node = ns[0]
			h.Name, h.Host = ns[0].Metadata.String(graph.KeyName), ns[0].Host
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

func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

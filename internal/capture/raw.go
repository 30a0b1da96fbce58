package capture

import (
	"strings"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// rawRecorder keeps the first packets of each flow beside the table. The
// flow package has no per-packet hook, so a packet's flow is identified by
// decoding it again in a scratch table: the chain of TrackingIDs from the
// outermost flow to the packet's flow names it (the TrackingID does not
// depend on the capture time, the UUID does). A recorded flow is matched
// to the table's flow of the same chain and Start.
type rawRecorder struct {
	limit  int
	expire int64 // ms of inactivity after which a chain is forgotten

	mu      sync.Mutex
	scratch *flow.Table
	chains  map[string]*rawFlow // by TrackingID chain
	byUUID  map[string]string   // flow UUID -> chain, learnt from Attach
	lastGC  int64
}

type rawFlow struct {
	start, last int64 // ms
	count       int64 // packets recorded (≤ limit)
	pkts        []rawpacket.Packet
}

func newRawRecorder(spec Spec) *rawRecorder {
	opts := TableOptions(spec)
	opts.IPDefrag, opts.ExtraTCPMetric, opts.ReassembleTCP, opts.ExtraLayers = false, false, false, 0
	opts.Logger = spec.Logger
	return &rawRecorder{
		limit:   spec.RawPacketLimit,
		expire:  flow.DefaultExpire.Milliseconds(),
		scratch: flow.NewTable(opts),
		chains:  map[string]*rawFlow{},
		byUUID:  map[string]string{},
	}
}

// record notes one packet (called before the table sees it).
func (r *rawRecorder) record(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scratch.FeedPacket(data, ci, lt)
	fs := r.scratch.Flows()
	r.scratch.Flush(ci.Timestamp)
	ts := ci.Timestamp.UnixMilli()
	var chain strings.Builder
	for _, f := range fs {
		chain.WriteString(f.TrackingID)
		chain.WriteByte('/')
		id := chain.String()
		rf := r.chains[id]
		if rf == nil || ts-rf.last >= r.expire {
			rf = &rawFlow{start: ts}
			r.chains[id] = rf
		}
		rf.last = max(rf.last, ts)
		if len(rf.pkts) < r.limit {
			length := ci.Length
			if length == 0 {
				length = len(data)
			}
			rf.pkts = append(rf.pkts, rawpacket.Packet{
				Timestamp: ts, Nanos: ci.Timestamp.UnixNano(), Index: rf.count,
				Data: append([]byte(nil), data...), LinkType: lt, Length: length,
			})
			rf.count++
		}
	}
	if ts-r.lastGC >= 10_000 {
		r.lastGC = ts
		for id, rf := range r.chains {
			if ts-rf.last >= r.expire {
				delete(r.chains, id)
			}
		}
	}
}

// attach returns the raw packets of the given flows (by UUID) and sets
// their RawPacketsCaptured. flows should hold the parents of encapsulated
// flows (a table's Flows() or a Batch do); parents learnt before are
// remembered. Flows that ended (FinishType Timeout) are forgotten.
func (r *rawRecorder) attach(flows []*flow.Flow) map[string][]rawpacket.Packet {
	byUUID := make(map[string]*flow.Flow, len(flows))
	for _, f := range flows {
		byUUID[f.UUID] = f
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var chainOf func(f *flow.Flow, depth int) (string, bool)
	chainOf = func(f *flow.Flow, depth int) (string, bool) {
		if c, ok := r.byUUID[f.UUID]; ok {
			return c, true
		}
		prefix := ""
		if f.ParentUUID != "" {
			if depth > 16 {
				return "", false
			}
			if p := byUUID[f.ParentUUID]; p != nil {
				c, ok := chainOf(p, depth+1)
				if !ok {
					return "", false
				}
				prefix = c
			} else if c, ok := r.byUUID[f.ParentUUID]; ok {
				prefix = c
			} else {
				return "", false
			}
		}
		c := prefix + f.TrackingID + "/"
		r.byUUID[f.UUID] = c
		return c, true
	}
	out := map[string][]rawpacket.Packet{}
	for _, f := range flows {
		c, ok := chainOf(f, 0)
		if !ok {
			continue
		}
		rf := r.chains[c]
		if rf == nil || rf.start != f.Start {
			continue
		}
		f.RawPacketsCaptured = rf.count
		if len(rf.pkts) > 0 {
			out[f.UUID] = append([]rawpacket.Packet(nil), rf.pkts...)
		}
	}
	for _, f := range flows {
		if f.FinishType == flow.Timeout {
			if c, ok := r.byUUID[f.UUID]; ok {
				if rf := r.chains[c]; rf != nil && rf.start == f.Start {
					delete(r.chains, c)
				}
				delete(r.byUUID, f.UUID)
			}
		}
	}
	if len(r.byUUID) > 4*len(r.chains)+1024 {
		clear(r.byUUID) // relearnt from the next flows given
	}
	return out
}

package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/captures"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/httpapi"
	"github.com/skydive-ng/skydive/internal/injections"
	"github.com/skydive-ng/skydive/internal/resource"
)

// importedForever keeps flows imported from pcap files "alive" whatever
// their packets' age: a user who sends a trace expects G.Flows() to show it.
const importedForever = 100 * 365 * 24 * time.Hour

// liveFlows answers flow queries without time context: the flows the agents
// report now, and those of the pcap files sent to POST /api/pcap.
type liveFlows struct {
	main     flowstore.Store
	imported *flowstore.Memory
}

func (l liveFlows) Flows(ctx context.Context, q flowstore.Query) ([]*flow.Flow, error) {
	a, err := l.main.Flows(ctx, q)
	if err != nil {
		return nil, err
	}
	b, err := l.imported.Flows(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return a, nil
	}
	seen := make(map[string]bool, len(a))
	for _, f := range a {
		seen[f.UUID] = true
	}
	for _, f := range b {
		if !seen[f.UUID] {
			a = append(a, f)
		}
	}
	sort.SliceStable(a, func(i, j int) bool {
		if a[i].Start != a[j].Start {
			return a[i].Start < a[j].Start
		}
		return a[i].UUID < a[j].UUID
	})
	if q.Limit > 0 && len(a) > q.Limit {
		a = a[:q.Limit]
	}
	return a, nil
}

func (l liveFlows) Metrics(ctx context.Context, uuids []string, w *flowstore.Window) (map[string][]flow.Metric, error) {
	return l.main.Metrics(ctx, uuids, w)
}

func (l liveFlows) RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error) {
	return l.main.RawPackets(ctx, uuids)
}

// flowUpdates takes the agents' Flow messages into the store.
// storeFailed, when set, hears of the flows the store refused.
func flowUpdates(ctx context.Context, store flowstore.Store, live func([]*flow.Flow), storeFailed func(int, error), log *slog.Logger) func(host string, msg v1.Message) {
	return func(host string, msg v1.Message) {
		if msg.Namespace != v1.NamespaceFlow || msg.Type != v1.FlowUpdateMsgType {
			return
		}
		var up v1.FlowUpdate
		if err := json.Unmarshal(msg.Obj, &up); err != nil {
			log.Warn("bad flow update", "agent", host, "err", err)
			return
		}
		var flows []*flow.Flow
		if err := json.Unmarshal(up.Flows, &flows); err != nil {
			log.Warn("bad flows in update", "agent", host, "err", err)
			return
		}
		if err := store.Insert(ctx, flows); err != nil {
			log.Warn("store flows", "agent", host, "err", err)
			if storeFailed != nil {
				storeFailed(len(flows), err)
			}
		}
		if len(up.RawPackets) > 0 {
			var pkts map[string][]rawpacket.Packet
			if err := json.Unmarshal(up.RawPackets, &pkts); err != nil {
				log.Warn("bad raw packets in update", "agent", host, "err", err)
			} else if err := store.InsertRawPackets(ctx, pkts); err != nil {
				log.Warn("store raw packets", "agent", host, "err", err)
			}
		}
		if live != nil {
			live(flows)
		}
	}
}

// pcapStatus answers FeedPcap's err: 400 for what the sender is to fix (not a
// pcap, malformed, cut short, a body over its Content-Length), 503 for a
// request canceled under it (the client gone), else 500.
func pcapStatus(err error) int {
	switch {
	case errors.Is(err, flow.ErrNotPcap) || errors.Is(err, flow.ErrBadPcap) || errors.Is(err, flow.ErrTruncated),
		errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// pcapHandler makes flows of a pcap stream (POST /api/pcap, as the
// original): they go to the store and to the imported flows.
func pcapHandler(store flowstore.Store, imported *flowstore.Memory) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		table := flow.NewTable(flow.Options{CaptureID: "pcap", NodeTID: ""})
		if err := flow.FeedPcap(r.Context(), r.Body, table); err != nil {
			// A file that is not a pcap, is malformed or cut short is the
			// sender's to fix: nothing of it is kept.
			code := pcapStatus(err)
			http.Error(w, "pcap: "+err.Error(), code)
			return
		}
		flows := table.Flows()
		for _, dst := range []flowstore.Store{store, imported} {
			if err := dst.Insert(r.Context(), flows); err != nil {
				http.Error(w, fmt.Sprintf("store flows: %v", err), http.StatusServiceUnavailable)
				return
			}
		}
		st := table.Stats()
		httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"Flows": len(flows), "Packets": st.PacketsReceived})
	}
}

// captureHandlers serve /api/capture with the original's answers, and the
// raw packets of a capture.
func captureHandlers(mux httpapi.Mux, api *httpapi.Server, m *captures.Manager, store flowstore.Store) {
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.Capture]{
		Name: "capture", Title: "Capture",
		List:   func() any { return m.List() },
		Get:    m.Get,
		Create: func(_ context.Context, c *v1.Capture) (*v1.Capture, error) { return m.Create(c) },
		Delete: m.Delete,
	})
	notFound := func(w http.ResponseWriter, id string) {
		http.Error(w, fmt.Sprintf("Capture '%s' not found", id), http.StatusNotFound)
	}
	// The raw packets a capture kept (RawPacketLimit > 0), as a pcap file.
	mux.HandleFunc("GET /api/capture/{id}/pcap", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := m.Get(id); err != nil {
			notFound(w, id)
			return
		}
		flows, err := store.Flows(r.Context(), flowstore.Query{CaptureIDs: []string{id}, Window: &flowstore.Window{To: time.Now().Add(time.Hour)}})
		if err != nil {
			api.WriteError(w, err)
			return
		}
		uuids := make([]string, len(flows))
		for i, f := range flows {
			uuids[i] = f.UUID
		}
		raw, err := store.RawPackets(r.Context(), uuids)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		var pkts []rawpacket.Packet
		for _, u := range uuids {
			pkts = append(pkts, raw[u]...)
		}
		sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].Timestamp < pkts[j].Timestamp })
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "capture-"+id+".pcap"))
		_ = rawpacket.WritePcap(w, pkts)
	})
}

// injectionHandlers serve /api/injectpacket (the packet generator).
func injectionHandlers(mux httpapi.Mux, api *httpapi.Server, m *injections.Manager) {
	httpapi.RegisterResource(mux, api, httpapi.Resource[v1.PacketInjection]{
		Name: "injectpacket", Title: "PacketInjection",
		List: func() any { return m.List() },
		Get:  m.Get,
		Create: func(ctx context.Context, p *v1.PacketInjection) (*v1.PacketInjection, error) {
			created, err := m.Create(ctx, p)
			if err != nil && resource.KindOf(err) != resource.KindInvalid {
				// The source's agent could not be told.
				return nil, httpapi.WithStatus(http.StatusServiceUnavailable, err)
			}
			return created, err
		},
		Delete: m.Delete,
	})
}

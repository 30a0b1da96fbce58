package replicate

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/history"
)

// BenchmarkIngest: graph events (an interface node, then the ownership
// edge from its host: two events per interface) sent in one websocket
// connection, as a publisher and as an agent, into a graph with its
// history, until the last is in. Issue 14 asks ≥ 100,000 events/s.
func BenchmarkIngest(b *testing.B) {
	for _, kind := range []string{"publisher", "agent"} {
		b.Run(kind, func(b *testing.B) {
			g := graph.New()
			h := history.New(history.Options{Retention: time.Hour})
			h.Attach(g)
			quiet := slog.New(slog.DiscardHandler) // a log line would cut the benchmark's result line
			var handler http.Handler = &Publishers{Graph: g, Logger: quiet}
			path := ""
			if kind == "agent" {
				handler, path = &Server{Graph: g, Logger: quiet}, AgentTopologyPath
			}
			hs := httptest.NewServer(handler)
			defer hs.Close()
			hdr := http.Header{}
			hdr.Set(v1.HeaderHostID, "bench-"+kind)
			c, _, err := websocket.DefaultDialer.Dial(strings.Replace(hs.URL, "http", "ws", 1)+path, hdr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			send := func(s string) {
				if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
					b.Fatal(err)
				}
			}
			if kind == "agent" {
				send(`{"Namespace":"Graph","Type":"Sync","Obj":{"Nodes":[{"ID":"host","Metadata":{"Name":"bench","Type":"host"}}],"Edges":[]}}`)
			} else {
				send(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"host","Metadata":{"Name":"bench","Type":"host"}}}`)
			}
			n := max(b.N/2, 1)
			b.ResetTimer()
			start := time.Now()
			for i := range n {
				send(fmt.Sprintf(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n%d","Metadata":{"Name":"tap%d","Type":"veth","MTU":1500,"MAC":"fa:16:3e:00:%02x:%02x","IPV4":["10.%d.%d.%d/24"],"State":"UP"}}}`,
					i, i, i>>8&255, i&255, i>>16&255, i>>8&255, i&255))
				send(fmt.Sprintf(`{"Namespace":"Graph","Type":"EdgeAdded","Obj":{"ID":"e%d","Parent":"host","Child":"n%d","Metadata":{"RelationType":"ownership"}}}`, i, i))
			}
			last := graph.Identifier(fmt.Sprintf("e%d", n-1))
			for g.Edge(last) == nil {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(2*n)/time.Since(start).Seconds(), "events/s")
		})
	}
}

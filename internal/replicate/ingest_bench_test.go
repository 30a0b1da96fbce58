package replicate

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/history"
	"github.com/skydive-ng/skydive/internal/testutil"
)

const hexDigits = "0123456789abcdef"

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
			// The sender stands for an agent or a publisher on another
			// machine: it builds each event in a reused buffer and writes
			// its frames into a buffer (a syscall per 64 KB), so that what
			// it costs on the two cores it shares is small.
			var raw net.Conn
			dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				raw = conn
				return conn, err
			}}
			c, _, err := dialer.Dial(strings.Replace(hs.URL, "http", "ws", 1)+path, hdr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			out := bufio.NewWriterSize(raw, 64<<10)
			var frame []byte
			sent := uint32(0)
			send := func(msg []byte) {
				sent++
				frame = testutil.AppendClientFrame(frame[:0], msg, sent)
				if _, err := out.Write(frame); err != nil {
					b.Fatal(err)
				}
			}
			if kind == "agent" {
				send([]byte(`{"Namespace":"Graph","Type":"Sync","Obj":{"Nodes":[{"ID":"host","Metadata":{"Name":"bench","Type":"host"}}],"Edges":[]}}`))
			} else {
				send([]byte(`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"host","Metadata":{"Name":"bench","Type":"host"}}}`))
			}
			n := max(b.N/2, 1)
			b.ResetTimer()
			start := time.Now()
			var msg []byte
			hex2 := func(dst []byte, v int) []byte { return append(dst, hexDigits[v>>4&15], hexDigits[v&15]) }
			for i := range n {
				msg = strconv.AppendInt(append(msg[:0], `{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n`...), int64(i), 10)
				msg = strconv.AppendInt(append(msg, `","Metadata":{"Name":"tap`...), int64(i), 10)
				msg = append(msg, `","Type":"veth","MTU":1500,"MAC":"fa:16:3e:00:`...)
				msg = hex2(append(hex2(msg, i>>8&255), ':'), i&255)
				msg = strconv.AppendInt(append(msg, `","IPV4":["10.`...), int64(i>>16&255), 10)
				msg = strconv.AppendInt(append(msg, '.'), int64(i>>8&255), 10)
				msg = strconv.AppendInt(append(msg, '.'), int64(i&255), 10)
				send(append(msg, `/24"],"State":"UP"}}}`...))
				msg = strconv.AppendInt(append(msg[:0], `{"Namespace":"Graph","Type":"EdgeAdded","Obj":{"ID":"e`...), int64(i), 10)
				msg = strconv.AppendInt(append(msg, `","Parent":"host","Child":"n`...), int64(i), 10)
				send(append(msg, `","Metadata":{"RelationType":"ownership"}}}`...))
			}
			if err := out.Flush(); err != nil {
				b.Fatal(err)
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

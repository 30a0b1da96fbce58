package analyzer

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/replicate"
	storepkg "github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// BenchmarkAnalyzerRSS500k: the whole analyzer in this process, with the
// embedded store as allinone has it (history on disk, the graph in
// memory), is sent issue 14's 500,000-node / 792,000-edge graph through one
// publisher connection; once the last edge is in, the process's resident
// memory (VmRSS, after a collection) is the analyzer's with the graph. The
// sender streams its events, so its own share is small. It reports MB and
// the ingest rate; it runs only with SKYDIVE_BENCH_FULL=1 or BENCH=full.
func BenchmarkAnalyzerRSS500k(b *testing.B) {
	if os.Getenv("SKYDIVE_BENCH_FULL") != "1" && os.Getenv("BENCH") != "full" {
		b.Skip("set SKYDIVE_BENCH_FULL=1 (or BENCH=full): 500,000 nodes")
	}
	for range b.N {
		addr := startAnalyzerWith(b, b.TempDir(), func(c *config.Config) { c.Storage.Backend = storepkg.BackendEmbedded }, nil)
		h := http.Header{}
		h.Set(v1.HeaderHostID, "rss")
		h.Set(replicate.HeaderPersistencePolicy, "Persistent")
		// The sender stands for a publisher on another machine: it builds
		// each event in a reused buffer and writes it as a websocket frame
		// of its own making into a buffer (a syscall per 64 KB), so that
		// the CPU and the garbage it costs, on the two cores it shares
		// with the analyzer, are small next to the analyzer's.
		var raw net.Conn
		dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			raw = conn
			return conn, err
		}}
		c, _, err := dialer.Dial("ws://"+addr+"/ws/publisher", h)
		if err != nil {
			b.Fatal(err)
		}
		out := bufio.NewWriterSize(raw, 64<<10)
		start := time.Now()
		events := 0
		var msg, frame []byte
		begin := func(typ string, id []byte) {
			msg = append(msg[:0], `{"Namespace":"Graph","Type":"`...)
			msg = append(msg, typ...)
			msg = append(msg, `","Obj":{"ID":"`...)
			msg = append(msg, id...)
			msg = append(msg, '"')
		}
		send := func() {
			events++
			msg = append(msg, "}}}"...) // the metadata, the object, the message
			frame = testutil.AppendClientFrame(frame[:0], msg, uint32(events))
			if _, err := out.Write(frame); err != nil {
				b.Fatal(err)
			}
		}
		str := func(key string, v []byte) {
			msg = append(msg, `,"`...)
			msg = append(msg, key...)
			msg = append(msg, `":"`...)
			msg = append(msg, v...)
			msg = append(msg, '"')
		}
		var eidB []byte
		eid := 0
		edge := func(parent, child []byte, rel string) {
			eid++
			eidB = strconv.AppendInt(append(eidB[:0], 'e'), int64(eid), 10)
			begin("EdgeAdded", eidB)
			str("Parent", parent)
			str("Child", child)
			msg = append(msg, `,"Metadata":{"RelationType":"`...)
			msg = append(msg, rel...)
			msg = append(msg, '"')
			send()
		}
		var host, ns, path, name, prev, ip []byte
		veth := 0
		for hst := range 4950 {
			host = strconv.AppendInt(append(host[:0], "host"...), int64(hst), 10)
			begin("NodeAdded", host)
			msg = append(msg, `,"Metadata":{"Type":"host"`...)
			str("Name", host)
			str("Hostname", host)
			send()
			for s := range 20 {
				ns = strconv.AppendInt(append(strconv.AppendInt(append(ns[:0], "ns"...), int64(hst), 10), '-'), int64(s), 10)
				begin("NodeAdded", ns)
				msg = append(msg, `,"Metadata":{"Type":"netns"`...)
				str("Name", ns)
				path = append(append(path[:0], "/var/run/netns/"...), ns...)
				str("Path", path)
				send()
				edge(host, ns, "ownership")
				prev = prev[:0]
				for i := range 4 {
					name = strconv.AppendInt(append(append(append(name[:0], "tap"...), ns[2:]...), '-'), int64(i), 10) // tap<h>-<s>-<i>
					mtu := 1500
					if veth%10 == 0 {
						mtu = 1450
					}
					begin("NodeAdded", name)
					msg = append(msg, `,"Metadata":{"Type":"veth"`...)
					str("Name", name)
					msg = append(msg, `,"MTU":`...)
					msg = strconv.AppendInt(msg, int64(mtu), 10)
					ip = strconv.AppendInt(append(ip[:0], "10."...), int64(hst%250), 10)
					ip = strconv.AppendInt(append(ip, '.'), int64(s), 10)
					ip = strconv.AppendInt(append(ip, '.'), int64(i+1), 10)
					msg = append(msg, `,"State":"UP","IPV4":["`...)
					msg = append(append(msg, ip...), `/24"],"MAC":"fa:16:3e`...)
					for _, octet := range []int{veth >> 16 & 0xff, veth >> 8 & 0xff, veth & 0xff} {
						msg = append(msg, ':', hexDigits[octet>>4], hexDigits[octet&0xf])
					}
					msg = append(msg, '"')
					send()
					veth++
					edge(ns, name, "ownership")
					if len(prev) > 0 {
						edge(prev, name, "layer2")
					}
					prev = append(prev[:0], name...)
				}
			}
		}
		if err := out.Flush(); err != nil {
			b.Fatal(err)
		}
		// The last edge in the graph: ask for it until it answers.
		last := `G.E().Has('RelationType', 'layer2').Count()`
		want := strconv.Itoa(4950 * 20 * 3)
		for {
			resp, err := http.Post("http://"+addr+"/api/topology", "application/json", strings.NewReader(`{"GremlinQuery":"`+last+`"}`))
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Scan()
			resp.Body.Close()
			if strings.TrimSpace(sc.Text()) == want {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		took := time.Since(start)
		// The graph is the issue's: the last veth as the sender built it.
		resp, err := http.Post("http://"+addr+"/api/topology", "application/json", strings.NewReader(`{"GremlinQuery":"G.V().Has('Name', 'tap4949-19-3')"}`))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`"IPV4":["10.199.19.4/24"]`, `"MAC":"fa:16:3e:06:0a:df"`, `"MTU":1500`, `"Type":"veth"`, `"State":"UP"`} {
			if !strings.Contains(string(body), want) {
				b.Fatalf("the last veth has no %s: %.300s", want, body)
			}
		}
		runtime.GC()
		debug.FreeOSMemory()
		b.ReportMetric(float64(rssKB())/1024, "MB")
		if path := os.Getenv("SKYDIVE_BENCH_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
			if resp, err := http.Get("http://" + addr + "/api/status"); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if i := strings.Index(string(body), `"Storage"`); i >= 0 {
					b.Logf("%.400s", body[i:])
				}
			}
		}
		b.ReportMetric(float64(events)/took.Seconds(), "events/s")
		c.Close()
	}
}

const hexDigits = "0123456789abcdef"

// writeHeapProfile writes the heap profile to path and logs the runtime's
// view of memory next to VmRSS: what RSS holds besides the live heap.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("RSS %d MB; HeapInuse %d MB, HeapIdle %d MB, HeapReleased %d MB, StackInuse %d MB, Sys %d MB, GCSys %d MB, OtherSys %d MB",
		rssKB()/1024, ms.HeapInuse>>20, ms.HeapIdle>>20, ms.HeapReleased>>20, ms.StackInuse>>20, ms.Sys>>20, ms.GCSys>>20, ms.OtherSys>>20)
	// The resident mappings, by name (anonymous ones by address: the Go
	// heap's arenas start at 0xc000000000).
	if data, err := os.ReadFile("/proc/self/smaps"); err == nil {
		byName := map[string]int{}
		name := ""
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
				name = "anon " + f[0]
				if len(f) >= 6 {
					name = f[5]
				} else if strings.HasPrefix(f[0], "c0") {
					name = "anon go heap"
				}
			case len(f) == 3 && f[0] == "Rss:":
				kb, _ := strconv.Atoi(f[1])
				byName[name] += kb
			}
		}
		for n, kb := range byName {
			if kb >= 4096 {
				b.Logf("RSS %-40s %d MB", n, kb/1024)
			}
		}
	}
}

// rssKB reads this process's VmRSS.
func rssKB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

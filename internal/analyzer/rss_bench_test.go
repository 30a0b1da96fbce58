package analyzer

import (
	"bufio"
	"fmt"
	"io"
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
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/publisher", h)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		events := 0
		send := func(typ, obj string) {
			events++
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"Namespace":"Graph","Type":"`+typ+`","Obj":`+obj+`}`)); err != nil {
				b.Fatal(err)
			}
		}
		eid := 0
		edge := func(parent, child, rel string) {
			eid++
			send("EdgeAdded", fmt.Sprintf(`{"ID":"e%d","Parent":"%s","Child":"%s","Metadata":{"RelationType":"%s"}}`, eid, parent, child, rel))
		}
		veth := 0
		for hst := range 4950 {
			host := fmt.Sprintf("host%d", hst)
			send("NodeAdded", fmt.Sprintf(`{"ID":"%s","Metadata":{"Type":"host","Name":"%s","Hostname":"%s"}}`, host, host, host))
			for s := range 20 {
				ns := fmt.Sprintf("ns%d-%d", hst, s)
				send("NodeAdded", fmt.Sprintf(`{"ID":"%s","Metadata":{"Type":"netns","Name":"%s","Path":"/var/run/netns/%s"}}`, ns, ns, ns))
				edge(host, ns, "ownership")
				prev := ""
				for i := range 4 {
					name := fmt.Sprintf("tap%d-%d-%d", hst, s, i)
					mtu := 1500
					if veth%10 == 0 {
						mtu = 1450
					}
					send("NodeAdded", fmt.Sprintf(`{"ID":"%s","Metadata":{"Type":"veth","Name":"%s","MTU":%d,"State":"UP","IPV4":["10.%d.%d.%d/24"],"MAC":"fa:16:3e:%02x:%02x:%02x"}}`,
						name, name, mtu, hst%250, s, i+1, veth>>16&0xff, veth>>8&0xff, veth&0xff))
					veth++
					edge(ns, name, "ownership")
					if prev != "" {
						edge(prev, name, "layer2")
					}
					prev = name
				}
			}
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

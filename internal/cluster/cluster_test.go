package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

type item struct {
	Name string `json:"Name"`
}

// recorder collects a Follow's view of a kind.
type recorder struct {
	mu    sync.Mutex
	items map[string]string
	evs   []string
}

func (r *recorder) reset(items map[string]json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = map[string]string{}
	for id, raw := range items {
		r.items[id] = string(raw)
	}
}

func (r *recorder) event(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev.Type.String()+" "+ev.ID)
	if ev.Type == EventPut {
		r.items[ev.ID] = string(ev.Value)
	} else {
		delete(r.items, ev.ID)
	}
}

func (r *recorder) has(id, want string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, ok := r.items[id]
	switch {
	case want == "" && ok:
		return fmt.Errorf("%s still there: %s", id, got)
	case want != "" && got != want:
		return fmt.Errorf("%s = %q, want %q (events %v)", id, got, want, r.evs)
	}
	return nil
}

// storeSuite runs the Store contract on s.
func storeSuite(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Put(ctx, KindCapture, "before", item{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	go Follow(ctx, s, KindCapture, nil, rec.reset, rec.event)
	testutil.Eventually(t, 5*time.Second, "listed", func() error { return rec.has("before", `{"Name":"b"}`) })
	if err := s.Put(ctx, KindCapture, "a", item{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	// Another kind is not seen by this watch.
	if err := s.Put(ctx, KindAlert, "a", item{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "put seen", func() error { return rec.has("a", `{"Name":"x"}`) })
	var got item
	if err := s.Get(ctx, KindCapture, "a", &got); err != nil || got.Name != "x" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := s.Get(ctx, KindCapture, "nope", &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if err := s.Delete(ctx, KindCapture, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, KindCapture, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "delete seen", func() error { return rec.has("a", "") })
	items, _, err := s.List(ctx, KindCapture)
	if err != nil || len(items) != 1 || string(items["before"]) != `{"Name":"b"}` {
		t.Fatalf("list: %v %v", items, err)
	}
	// A value with a TTL goes by itself.
	if err := s.Put(ctx, KindInjection, "ttl", item{Name: "t"}, WithTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	ttlRec := &recorder{}
	go Follow(ctx, s, KindInjection, nil, ttlRec.reset, ttlRec.event)
	testutil.Eventually(t, 5*time.Second, "ttl value listed", func() error { return ttlRec.has("ttl", `{"Name":"t"}`) })
	testutil.Eventually(t, 10*time.Second, "ttl value expired", func() error { return ttlRec.has("ttl", "") })
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	files := map[Kind]FileRef{
		KindCapture:  {Path: filepath.Join(dir, "captures.json")},
		KindNodeRule: {Path: filepath.Join(dir, "rules.json"), Section: "NodeRules"},
		KindEdgeRule: {Path: filepath.Join(dir, "rules.json"), Section: "EdgeRules"},
	}
	s, err := NewFileStore(files)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shared() {
		t.Fatal("a file store is not shared")
	}
	storeSuite(t, s)

	// Files as the analyzer wrote them before: a map by UUID, and the
	// rules' two sections in one file.
	ctx := context.Background()
	if err := s.Put(ctx, KindNodeRule, "n1", item{Name: "n"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rules map[string]map[string]item
	if err := json.Unmarshal(raw, &rules); err != nil || rules["NodeRules"]["n1"].Name != "n" || rules["EdgeRules"] == nil {
		t.Fatalf("rules.json: %s (%v)", raw, err)
	}
	var caps map[string]item
	raw, _ = os.ReadFile(filepath.Join(dir, "captures.json"))
	if err := json.Unmarshal(raw, &caps); err != nil || len(caps) != 1 || caps["before"].Name != "b" {
		t.Fatalf("captures.json: %s (%v)", raw, err)
	}
	// A new store reads them back; kinds without a file are in memory.
	again, err := NewFileStore(files)
	if err != nil {
		t.Fatal(err)
	}
	var n item
	if err := again.Get(ctx, KindNodeRule, "n1", &n); err != nil || n.Name != "n" {
		t.Fatalf("reloaded node rule: %+v %v", n, err)
	}
	if items, _, _ := again.List(ctx, KindInjection); len(items) != 0 {
		t.Fatalf("memory kind reloaded: %v", items)
	}
	// A file that is not JSON is an error naming it.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := NewFileStore(map[Kind]FileRef{KindAlert: {Path: bad}}); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestFileStoreWatchFromAnOlderRevision(t *testing.T) {
	s, _ := NewFileStore(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, rev, _ := s.List(ctx, KindAlert)
	// Changes between List and Watch are delivered.
	_ = s.Put(ctx, KindAlert, "x", item{Name: "1"})
	_ = s.Put(ctx, KindCapture, "y", item{Name: "2"})
	got := make(chan Event, 4)
	go func() { _ = s.Watch(ctx, KindAlert, rev, func(ev Event) { got <- ev }) }()
	select {
	case ev := <-got:
		if ev.ID != "x" || ev.Type != EventPut {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("change made before Watch lost")
	}
}

func TestEndpoints(t *testing.T) {
	got, err := Endpoints([]string{"127.0.0.1:2379", "https://e:1", " "})
	if err != nil || strings.Join(got, ",") != "http://127.0.0.1:2379,https://e:1" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]string{nil, {"nohost"}, {"ftp://x:1"}} {
		if _, err := Endpoints(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	o := EmbeddedOptions{Name: "a", Listen: "127.0.0.1:12379", Peers: map[string]string{"b": "http://10.0.0.2:12380", "a": "http://ignored:1"}}
	if ic, err := o.InitialCluster(); err != nil || ic != "a=http://127.0.0.1:12380,b=http://10.0.0.2:12380" {
		t.Fatalf("initial cluster %q %v", ic, err)
	}
}

// embedded starts a one-member etcd in this process.
func embedded(t *testing.T, name string) *Cluster {
	t.Helper()
	port := testutil.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Open(ctx, Options{HostID: name, SessionTTL: 2 * time.Second,
		Embedded: &EmbeddedOptions{Name: name, Listen: fmt.Sprintf("127.0.0.1:%d", port), DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// client opens another analyzer's connection to the etcd of c.
func client(t *testing.T, c *Cluster, name string) *Cluster {
	t.Helper()
	other, err := Open(context.Background(), Options{HostID: name, SessionTTL: 2 * time.Second, Servers: c.client.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return other
}

func TestEtcd(t *testing.T) {
	c := embedded(t, "an1")
	t.Run("store", func(t *testing.T) {
		if !c.Store().Shared() {
			t.Fatal("etcd store not shared")
		}
		storeSuite(t, c.Store())
		// Values are under the original's keys.
		resp, err := c.Client().Get(context.Background(), "/capture/before")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("/capture/before: %v %v", resp, err)
		}
	})
	t.Run("election", func(t *testing.T) {
		other := client(t, c, "an2")
		ctx1, stop1 := context.WithCancel(context.Background())
		defer stop1()
		e1, e2 := c.Election("test"), other.Election("test")
		changes := make(chan bool, 8)
		e2.OnChange(func(l bool) { changes <- l })
		go func() { _ = e1.Run(ctx1) }()
		testutil.EventuallyTrue(t, 5*time.Second, "first leader", e1.IsLeader)
		ctx2, stop2 := context.WithCancel(context.Background())
		defer stop2()
		go func() { _ = e2.Run(ctx2) }()
		time.Sleep(300 * time.Millisecond) // e2 campaigns, and must wait
		if e2.IsLeader() {
			t.Fatal("two leaders")
		}
		// The leader stops (resigns): the other takes over at once.
		stop1()
		start := time.Now()
		testutil.EventuallyTrue(t, 5*time.Second, "second leader", e2.IsLeader)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("takeover after a resign took %v", d)
		}
		if l := <-changes; !l {
			t.Fatal("OnChange not told")
		}
		if e1.IsLeader() {
			t.Fatal("stopped analyzer still leads")
		}
	})
	t.Run("origins", func(t *testing.T) {
		a, b := client(t, c, "a"), client(t, c, "b")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		localA := []string{"agent.x", "analyzer.a"}
		claims := make(chan string, 8)
		oa := a.Origins(func() []string { mu.Lock(); defer mu.Unlock(); return append([]string{}, localA...) }, func(o string) { claims <- o })
		go func() { _ = oa.Run(ctx) }()
		goneCh := make(chan string, 8)
		present := make(chan map[string]string, 1)
		go b.WatchOrigins(ctx, func(h map[string]string) { present <- h }, func(o string) { goneCh <- o })
		<-present
		testutil.Eventually(t, 5*time.Second, "origin claimed", func() error {
			h, err := b.Holder(ctx, "agent.x")
			if err != nil || h != "a" {
				return fmt.Errorf("holder %q %v", h, err)
			}
			return nil
		})
		// Claimed again on demand (an agent reconnected): OnClaim again.
		oa.Claim("agent.x")
		deadline := time.After(3 * time.Second)
		for seen := false; !seen; {
			select {
			case o := <-claims:
				seen = o == "agent.x"
			case <-deadline:
				t.Fatal("forced claim not made")
			}
		}
		// The agent leaves a: its key goes, b is told.
		mu.Lock()
		localA = []string{"analyzer.a"}
		mu.Unlock()
		oa.Wake()
		select {
		case o := <-goneCh:
			if o != "agent.x" {
				t.Fatalf("gone %s", o)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("released origin not reported")
		}
		// An origin another analyzer took is not deleted by its old holder.
		bo := b.Origins(func() []string { return []string{"agent.y"} }, nil)
		bctx, bstop := context.WithCancel(ctx)
		go func() { _ = bo.Run(bctx) }()
		testutil.Eventually(t, 5*time.Second, "b holds y", func() error {
			if h, _ := a.Holder(ctx, "agent.y"); h != "b" {
				return fmt.Errorf("holder %q", h)
			}
			return nil
		})
		bstop()
		// a's session dies without a word (an analyzer killed): its keys go
		// with its lease, after the TTL.
		sess, _ := a.Session(ctx)
		cancel()
		sess.Orphan() // no more keep-alives, no revoke
		start := time.Now()
		testutil.Eventually(t, 10*time.Second, "dead analyzer's origins gone", func() error {
			if h, _ := b.Holder(context.Background(), "analyzer.a"); h != "" {
				return fmt.Errorf("still held by %q", h)
			}
			return nil
		})
		t.Logf("origin of a dead session gone after %v", time.Since(start).Round(100*time.Millisecond))
	})
}

// TestEmbeddedMembers: three analyzers each embedding a member of one etcd
// cluster (etcd.peers), started together; what one writes, another reads.
func TestEmbeddedMembers(t *testing.T) {
	names := []string{"m1", "m2", "m3"}
	listen := map[string]string{}
	peers := map[string]string{}
	for _, n := range names {
		// The peer port is the client port + 1: find a free pair.
		for {
			p := testutil.FreePort(t)
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
			if err != nil {
				continue
			}
			l.Close()
			listen[n] = fmt.Sprintf("127.0.0.1:%d", p)
			peers[n] = fmt.Sprintf("http://127.0.0.1:%d", p+1)
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := make([]*Cluster, len(names))
	errs := make(chan error, len(names))
	for i, n := range names {
		go func() {
			c, err := Open(ctx, Options{HostID: n, Embedded: &EmbeddedOptions{Name: n, Listen: listen[n], DataDir: t.TempDir(), Peers: peers}})
			cs[i] = c
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		t.Cleanup(c.Close)
	}
	if err := cs[0].Store().Put(ctx, KindWorkflow, "w", item{Name: "shared"}); err != nil {
		t.Fatal(err)
	}
	var got item
	if err := cs[2].Store().Get(ctx, KindWorkflow, "w", &got); err != nil || got.Name != "shared" {
		t.Fatalf("read on another member: %+v %v", got, err)
	}
	resp, err := cs[1].Client().MemberList(ctx)
	if err != nil || len(resp.Members) != 3 {
		t.Fatalf("members: %v %v", resp, err)
	}
}

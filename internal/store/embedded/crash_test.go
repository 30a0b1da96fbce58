package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/embedded"
)

const crashEnv = "SKYDIVE_STORE_CRASH_DIR"

var crashBase = time.UnixMilli(1_750_000_000_000)

// crashChild writes topology revisions and flows, waits until the writer
// wrote them, says "ready" and waits to be killed (never calling Close).
func crashChild(dir string) {
	db, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s := store.New(db, store.Options{})
	clk := crashBase
	g := graph.New(graph.WithClock(func() graph.Time { return graph.TimeOf(clk) }))
	s.Attach(g)
	for i := range 50 {
		g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("n%d", i)), Metadata: graph.Metadata{"Type": "veth", "MTU": 1500}}})
	}
	clk = clk.Add(time.Minute)
	g.UpdateNodeMetadata("n1", func(m graph.Metadata) bool { m["MTU"] = 9000; return true })
	g.DeleteNode("n2")
	var fs []*flow.Flow
	for i := range 1000 {
		f := flowstore.SuiteFlow(fmt.Sprintf("f%04d", i), "n1", "c", crashBase, crashBase.Add(30*time.Second), int64(i))
		f.LastUpdateMetric = &flow.Metric{ABPackets: int64(i), Start: crashBase.UnixMilli(), Last: crashBase.Add(30 * time.Second).UnixMilli()}
		fs = append(fs, f)
	}
	if err := s.Insert(context.Background(), fs); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := s.Flush(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

func TestCrashRecovery(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if line := sc.Text(); line == "ready" {
			ready = true
			break
		} else if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
	}
	if !ready {
		t.Fatal("the child did not get ready")
	}
	// kill -9: no Close, no flush of anything.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	db, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	s := store.New(db, store.Options{})
	defer s.Close()
	v := s.At(crashBase.Add(10 * time.Second))
	if n := len(v.Nodes()); n != 50 {
		t.Errorf("At(base+10s): %d nodes, want 50", n)
	}
	v = s.At(crashBase.Add(2 * time.Minute))
	if n := len(v.Nodes()); n != 49 || v.Node("n1") == nil || v.Node("n1").Metadata["MTU"] != int64(9000) {
		t.Errorf("At(base+2m): %d nodes, n1 = %+v; want 49 nodes and n1 with MTU 9000", len(v.Nodes()), v.Node("n1"))
	}
	ctx := context.Background()
	fs, err := s.Flows(ctx, flowstore.Query{Window: &flowstore.Window{From: crashBase.Add(10 * time.Second), To: crashBase.Add(10 * time.Second)}})
	if err != nil || len(fs) != 1000 {
		t.Errorf("flows at base+10s: %d (%v), want 1000", len(fs), err)
	}
	ms, err := s.Metrics(ctx, []string{"f0042"}, nil)
	if err != nil || len(ms["f0042"]) != 1 || ms["f0042"][0].ABPackets != 42 {
		t.Errorf("metrics of f0042: %v (%v)", ms, err)
	}
	if st := s.Stats(); st.Flows != 1000 {
		t.Errorf("Stats().Flows = %d after reopen, want 1000", st.Flows)
	}
}

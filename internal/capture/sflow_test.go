package capture

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

func TestSFlowCollectorCountsGarbageAndStops(t *testing.T) {
	spec := Spec{Type: TypeSFlow, SFlowMinPort: 16345, SFlowMaxPort: 16355}
	table := flow.NewTable(TableOptions(spec))
	c, err := Start(context.Background(), spec, Target{}, table)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{{0, 0, 0, 5}, []byte("not sflow at all"), {}} {
		_, _ = conn.Write(d)
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().PacketsDropped < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("garbage datagrams not counted: %+v", c.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := make(chan error)
	go func() { stopped <- c.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop hangs on a blocked UDP read")
	}
	if table.Len() != 0 {
		t.Fatalf("garbage made %d flows", table.Len())
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// TestUserNodeAndEdge creates a node and an edge over /api/node and /api/edge
// of an all-in-one analyzer and sees them with `skydive client query`.
func TestUserNodeAndEdge(t *testing.T) {
	_, addr, hostID := allInOne(t)
	p := uniq()
	a, b, e := "node-a-"+p, "node-b-"+p, "edge-"+p
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	for _, tc := range []struct{ path, body string }{
		{"/api/node", fmt.Sprintf(`{"ID":%q,"Metadata":{"Name":"A-%s","Type":"device","Team":"net"}}`, a, p)},
		{"/api/node", fmt.Sprintf(`{"ID":%q,"Metadata":{"Name":"B-%s","Type":"device"}}`, b, p)},
		{"/api/edge", fmt.Sprintf(`{"ID":%q,"Parent":%q,"Child":%q,"Metadata":{"RelationType":"layer2"}}`, e, a, b)},
	} {
		if code, out := post(tc.path, tc.body); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", tc.path, code, out)
		}
	}
	if code, out := post("/api/edge", fmt.Sprintf(`{"ID":"x-%s","Parent":%q,"Child":"nope","Metadata":{"RelationType":"layer2"}}`, p, a)); code != http.StatusBadRequest || !strings.Contains(out, "Child") {
		t.Errorf("edge to a missing node: %d %s", code, out)
	}
	query := func(q string) []map[string]any {
		t.Helper()
		out, err := cli(addr, "query", q)
		if err != nil {
			t.Fatalf("query %s: %v %s", q, err, out)
		}
		var els []map[string]any
		if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&els); err != nil {
			t.Fatalf("query %s: %v %s", q, err, out)
		}
		return els
	}
	check := func() error {
		ns := query(fmt.Sprintf("G.V().Has('Name', 'A-%s').OutE('RelationType', 'layer2').OutV()", p))
		if len(ns) != 1 || ns[0]["ID"] != b {
			return fmt.Errorf("A's children over layer2: %v", ns)
		}
		es := query(fmt.Sprintf("G.E().Has('@ID', '%s')", e))
		if len(es) != 1 || es[0]["Origin"] != "analyzer."+hostID || es[0]["Parent"] != a {
			return fmt.Errorf("edge: %v", es)
		}
		return nil
	}
	testutil.Eventually(t, 5*time.Second, "node and edge queried", check)
}

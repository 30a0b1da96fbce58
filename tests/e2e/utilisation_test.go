//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/nsexec"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// dialIn opens a TCP connection from inside a namespace: the socket stays
// there.
func dialIn(t *testing.T, ns, addr string) net.Conn {
	t.Helper()
	var conn net.Conn
	if err := nsexec.Do("/var/run/netns/"+ns, func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// postJSON POSTs v to the analyzer's API and decodes the answer into out.
func postJSON(t *testing.T, addr, path string, v, out any) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s %s: %s %s", path, body, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("POST %s answered %s: %v", path, b, err)
	}
}

// TestUtilisationAlert: a node rule sets Speed 10 (Mb/s) on one end of a
// veth pair; an alert on its Utilisation.Tx above 50% held For 5 seconds
// fires exactly once during a ~8 Mb/s transfer of ~9 s to the other end,
// not before 5 s of it, and its end sends exactly one recovery.
func TestUtilisationAlert(t *testing.T) {
	c, addr, _, _ := allInOneWith(t, "agent:\n  topology:\n    netlink:\n      metrics_update: 1\n")

	nsA, nsB, va, _, _, ipB := vethPair(t, uniq(), 243)
	var rule v1.NodeRule
	postJSON(t, addr, "/api/noderule", v1.NodeRule{Action: "update", Query: fmt.Sprintf("G.V().Has('Name','%s')", va),
		Metadata: map[string]any{"Speed": 10}}, &rule)
	// The rule's Speed (a number) is on va, and its Utilisation from it.
	testutil.Eventually(t, 15*time.Second, va+" Speed 10 and Utilisation", func() error {
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('Name','%s')", va))
		if err != nil {
			return err
		}
		if s, ok := n.Metadata["Speed"].(float64); !ok || s != 10 {
			return fmt.Errorf("Speed %#v", n.Metadata["Speed"])
		}
		u, ok := n.Metadata["Utilisation"].(map[string]any)
		if !ok {
			return fmt.Errorf("Utilisation %#v", n.Metadata["Utilisation"])
		}
		if _, ok := u["Tx"].(float64); !ok {
			return fmt.Errorf("Utilisation %#v", u)
		}
		return nil
	})

	var alert v1.Alert
	postJSON(t, addr, "/api/alert", v1.Alert{Name: "va above 50%", For: 5,
		Expression: fmt.Sprintf("G.V().Has('Name','%s').Has('Utilisation.Tx', GT(50))", va)}, &alert)
	if alert.For != 5 || alert.UUID == "" {
		t.Fatalf("alert created %+v", alert)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/subscriber", http.Header{v1.HeaderClientType: {"e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// The notifications of the alert, read in the background: a read that
	// timed out would leave the connection unusable.
	notes := make(chan v1.AlertMessage, 16)
	go func() {
		for {
			var msg v1.Message
			if err := ws.ReadJSON(&msg); err != nil {
				return
			}
			if msg.Namespace != v1.NamespaceAlert || msg.Type != v1.AlertMsgType {
				continue
			}
			var am v1.AlertMessage
			if err := json.Unmarshal(msg.Obj, &am); err != nil {
				t.Errorf("alert notification %s: %v", msg.Obj, err)
				continue
			}
			if am.UUID == alert.UUID {
				notes <- am
			}
		}
	}()
	// next waits for a notification of the alert until deadline (false:
	// none came).
	next := func(deadline time.Time) (v1.AlertMessage, bool) {
		select {
		case am := <-notes:
			return am, true
		default:
		}
		select {
		case am := <-notes:
			return am, true
		case <-time.After(time.Until(deadline)):
			return v1.AlertMessage{}, false
		}
	}
	// Idle: nothing.
	if am, ok := next(time.Now().Add(3 * time.Second)); ok {
		t.Fatalf("idle link notified %+v", am)
	}

	// ~8 Mb/s from nsA to nsB over va: 100 KB every 100 ms for 9 s.
	l := listenIn(t, nsB, ipB+":5001")
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); _, _ = io.Copy(io.Discard, conn) }()
		}
	}()
	conn := dialIn(t, nsA, ipB+":5001")
	began := time.Now()
	sent := make(chan error, 1)
	go func() {
		chunk := make([]byte, 100*1000)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for time.Since(began) < 9*time.Second {
			if _, err := conn.Write(chunk); err != nil {
				sent <- err
				return
			}
			<-tick.C
		}
		sent <- nil
	}()
	fired, ok := next(began.Add(12 * time.Second))
	if !ok {
		n, _ := oneNode(c, fmt.Sprintf("G.V().Has('Name','%s')", va))
		t.Fatalf("no firing during the transfer; %s: Utilisation %v Speed %v", va, n.Metadata["Utilisation"], n.Metadata["Speed"])
	}
	firedAt := time.Now()
	if held := firedAt.Sub(began); held < 5*time.Second {
		t.Fatalf("fired %v after the transfer began, For is 5s", held)
	}
	t.Logf("fired %v after the transfer began", firedAt.Sub(began))
	if fired.State != v1.AlertStateFired || !strings.Contains(string(fired.ReasonData), va) {
		t.Fatalf("firing %+v", fired)
	}
	var data []struct {
		Metadata struct {
			Utilisation struct{ Tx float64 }
		}
	}
	if err := json.Unmarshal(fired.ReasonData, &data); err != nil || len(data) != 1 || data[0].Metadata.Utilisation.Tx <= 50 || data[0].Metadata.Utilisation.Tx > 100 {
		t.Fatalf("firing data %s (%v)", fired.ReasonData, err)
	}
	// Until the transfer ends: no other notification.
	if err := <-sent; err != nil {
		t.Fatalf("transfer: %v", err)
	}
	stopped := time.Now()
	if am, ok := next(stopped); ok {
		t.Fatalf("notified again during the transfer: %+v", am)
	}
	conn.Close()
	// Its end: one recovery.
	rec, ok := next(stopped.Add(10 * time.Second))
	if !ok {
		t.Fatal("no recovery within 10s of the end of the transfer")
	}
	t.Logf("recovered %v after the transfer ended", time.Since(stopped))
	if rec.State != v1.AlertStateRecovered || !strings.Contains(string(rec.ReasonData), va) {
		t.Fatalf("recovery %+v", rec)
	}
	if am, ok := next(time.Now().Add(4 * time.Second)); ok {
		t.Fatalf("notified after the recovery: %+v", am)
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skydive-ng/skydive/internal/testutil"
)

// recordedRequest is one body the original's `skydive client` sent, as
// recorded in testdata/original-client-requests.json.
type recordedRequest struct {
	Method, Path string
	Body         json.RawMessage
}

// TestOriginalClientRequests sends every body the original's client sent
// (with this test's own names and addresses in place of the recorded ones)
// and checks what each one does: the capture runs, the injected packets
// arrive as flows, the rules make their nodes and edges, the workflow
// answers, the alert patch applies and the alert fires.
func TestOriginalClientRequests(t *testing.T) {
	raw, err := os.ReadFile("testdata/original-client-requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var recorded struct{ Requests []recordedRequest }
	if err := json.Unmarshal(raw, &recorded); err != nil {
		t.Fatal(err)
	}

	c, addr, _ := allInOne(t)
	p := uniq()
	ns1, _, va, vb, ip1, ip2 := vethPair(t, p, 247)
	var nodeA, nodeB node
	testutil.Eventually(t, 5*time.Second, "veths with addresses seen", func() (err error) {
		if nodeA, err = oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s').HasKey('IPV4')", va)); err != nil {
			return err
		}
		nodeB, err = oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s').HasKey('IPV4')", vb))
		return err
	})
	macA, macB := nodeA.Metadata["MAC"].(string), nodeB.Metadata["MAC"].(string)

	var (
		hookMu   sync.Mutex
		hookHits []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookHits = append(hookHits, string(b))
		hookMu.Unlock()
	}))
	defer hook.Close()

	// The recorded names and addresses, and this test's.
	replacer := strings.NewReplacer(
		"G.V().Has('State','DOWN')", fmt.Sprintf("G.V().Has('Name','%s','State','DOWN')", va),
		"'a'", "'"+va+"'", "'b'", "'"+vb+"'", "'eth0'", "'"+vb+"'",
		`"tor1"`, `"`+p+"tor1"+`"`,
		"10.0.0.1", ip1, "10.0.0.2", ip2,
		"02:00:00:00:00:01", macA, "02:00:00:00:00:02", macB,
		"http://127.0.0.1:1/hook", hook.URL,
		`"src"`, fmt.Sprintf("%q", nodeA.ID), `"dst"`, fmt.Sprintf("%q", nodeB.ID),
	)
	send := func(method, path string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	var captureID, alertID string
	injections := 0
	for _, r := range recorded.Requests {
		body := []byte(replacer.Replace(string(r.Body)))
		path := r.Path
		if strings.HasPrefix(path, "/api/alert/") {
			path = "/api/alert/" + alertID
		}
		code, out := send(r.Method, path, body)
		if code/100 != 2 {
			t.Fatalf("%s %s %s: %d %s", r.Method, path, body, code, out)
		}
		var created struct{ UUID string }
		_ = json.Unmarshal(out, &created)
		switch {
		case path == "/api/capture":
			captureID = created.UUID
			waitCaptureActive(t, c, vb, captureID)
		case path == "/api/alert":
			alertID = created.UUID
		case path == "/api/injectpacket":
			injections++
		case strings.HasSuffix(path, "/call"):
			if strings.TrimSpace(string(out)) != "true" {
				t.Fatalf("CheckMTU between two veths of MTU 1500: %s", out)
			}
		case path == "/api/topology":
			var n int
			if json.Unmarshal(out, &n) != nil || n < 3 {
				t.Fatalf("G.V().Count(): %s", out)
			}
		}
	}
	if captureID == "" || alertID == "" || injections != 2 {
		t.Fatalf("capture %q, alert %q, %d injections: the recording changed?", captureID, alertID, injections)
	}

	// The ICMP injection by Gremlin ends (ID 7, 3 packets, 'hello'), answered.
	flowOf := func(what, q string, ok func(flowJSON) bool) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() error {
			fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s')%s", captureID, q))
			if err != nil {
				return err
			}
			if len(fs) != 1 || !ok(fs[0]) {
				return fmt.Errorf("flows %+v", fs)
			}
			return nil
		})
	}
	flowOf("injected echo requests", ".Has('ICMP.ID', 7)", func(f flowJSON) bool {
		return f.Metric.ABPackets == 3 && f.Metric.BAPackets == 3 && f.Network.A == ip1
	})
	// The TCP SYN by addresses, from port 1234 to 80 (answered by a reset).
	flowOf("injected TCP SYN", ".Has('Transport.A', 1234, 'Transport.B', 80)", func(f flowJSON) bool {
		return f.Metric.ABPackets == 1 && f.Network.A == ip1 && f.Network.B == ip2
	})

	// The rules: a fabric node with nested metadata, a node's new metadata,
	// an edge with its metadata.
	testutil.Eventually(t, 5*time.Second, "rules applied", func() error {
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%stor1', 'Type', 'fabric', 'A.B', '1', 'C', 'x')", p)); err != nil {
			return fmt.Errorf("node rule create: %w", err)
		}
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'Team', 'net')", vb)); err != nil {
			return fmt.Errorf("node rule update: %w", err)
		}
		es, err := queryEdges(c, fmt.Sprintf("G.V().Has('Name', '%s').OutE().Has('RelationType', 'layer2', 'Speed', '10')", va))
		if err == nil && len(es) != 1 {
			err = fmt.Errorf("%d edges", len(es))
		}
		if err != nil {
			return fmt.Errorf("edge rule: %w", err)
		}
		return nil
	})

	// The alert patch applied: new name, graph trigger; it fires on the
	// link going down, to the recorded webhook.
	code, out := send("GET", "/api/alert/"+alertID, nil)
	var alert struct{ Name, Trigger, Action string }
	if code != 200 || json.Unmarshal(out, &alert) != nil || alert.Name != "new" || alert.Trigger != "graph" || alert.Action != hook.URL {
		t.Fatalf("patched alert: %d %s", code, out)
	}
	testutil.Sh(t, "ip", "-n", ns1, "link", "set", va, "down")
	testutil.Eventually(t, 10*time.Second, "alert notified to the webhook", func() error {
		hookMu.Lock()
		defer hookMu.Unlock()
		for _, h := range hookHits {
			if strings.Contains(h, alertID) && strings.Contains(h, va) {
				return nil
			}
		}
		return fmt.Errorf("webhook got %q", hookHits)
	})
	testutil.Sh(t, "ip", "-n", ns1, "link", "set", va, "up")
	testutil.Eventually(t, 10*time.Second, "link up again", func() error {
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s', 'State', 'UP')", va))
		return err
	})

	// The recorded injection with a pcap in place of its null Pcap: its two
	// echo requests are replayed, 4 packets in all, and answered.
	inj := map[string]any{}
	if err := json.Unmarshal([]byte(replacer.Replace(string(recorded.Requests[1].Body))), &inj); err != nil {
		t.Fatal(err)
	}
	inj["Pcap"] = echoPcap(t, macA, macB, ip1, ip2, 9, 2)
	inj["Count"] = 4
	body, _ := json.Marshal(inj)
	if code, out := send("POST", "/api/injectpacket", body); code/100 != 2 {
		t.Fatalf("pcap injection: %d %s", code, out)
	}
	flowOf("replayed pcap", ".Has('ICMP.ID', 9)", func(f flowJSON) bool {
		return f.Metric.ABPackets == 4 && f.Metric.BAPackets == 4
	})
	inj["Pcap"] = []byte("not a pcap file at all")
	body, _ = json.Marshal(inj)
	if code, out := send("POST", "/api/injectpacket", body); code != 400 || !strings.Contains(string(out), "Pcap: ") {
		t.Fatalf("bad pcap injection: %d %s", code, out)
	}
}

// echoPcap writes a pcap of n ICMP echo requests with the given id.
func echoPcap(t *testing.T, srcMAC, dstMAC, src, dst string, id uint16, n int) []byte {
	t.Helper()
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC(dstMAC)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sb := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: uint16(i + 1)},
			gopacket.Payload("replayed"))
		if err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(sb.Bytes()), Length: len(sb.Bytes())}
		if err := w.WritePacket(ci, sb.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

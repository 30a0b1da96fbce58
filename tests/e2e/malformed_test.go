//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// malformedCase is one request of testdata/malformed.json. Placeholders
// {node}, {edge}, {alert}, {workflow} and {host} in path, headers and body
// name resources made before the corpus runs.
type malformedCase struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	BodyB64 string            `json:"body_b64"`
	// Repeat is appended Times times to the body.
	Repeat string `json:"repeat"`
	Times  int    `json:"times"`
	// Raw sends the headers as they are: no Content-Length is added.
	Raw        bool   `json:"raw"`
	RawHeaders string `json:"rawheaders"`
	Proto      string `json:"proto"`
	// Want is a status code or "4xx". A code outside 4xx needs a Note
	// saying why it is not the server's fault.
	Want json.RawMessage `json:"want"`
	Note string          `json:"note"`
}

const malformedDeadline = 20 * time.Second

func TestMalformedCorpus(t *testing.T) {
	raw, err := os.ReadFile("testdata/malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []malformedCase
	if err := json.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 100 {
		t.Fatalf("corpus of %d cases, want at least 100", len(corpus))
	}

	c, addr, hostID, p := allInOneWith(t, "")
	vars := malformedSetup(t, addr, hostID)

	fdStart := fdCount(t, p.cmd.Process.Pid)
	for _, tc := range corpus {
		t.Run(tc.Name, func(t *testing.T) {
			status, body, err := sendRaw(addr, tc, vars)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.Method, tc.Path, err)
			}
			checkStatus(t, tc, status, body)
		})
	}

	t.Run("websocket", func(t *testing.T) { malformedWebsockets(t, addr, p.cmd.Process.Pid) })

	// The server still serves, leaks nothing and never panicked.
	alive(t, addr, c, p)
	testutil.Eventually(t, 20*time.Second, "fds back near their start", func() error {
		if n := fdCount(t, p.cmd.Process.Pid); n > fdStart+8 {
			return fmt.Errorf("%d open fds, %d before the corpus", n, fdStart)
		}
		return nil
	})
	p.stop()
	for _, bad := range []string{"panic:", "http: panic serving", "fatal error:"} {
		if strings.Contains(p.logs.String(), bad) {
			t.Errorf("log holds %q:\n%s", bad, p.logs.String())
		}
	}
}

// malformedSetup makes the resources the corpus names.
func malformedSetup(t *testing.T, addr, hostID string) map[string]string {
	t.Helper()
	vars := map[string]string{"{host}": hostID, "{node}": "malformed-node-" + uniq(), "{edge}": "malformed-edge-" + uniq()}
	post := func(path, body string) []byte {
		t.Helper()
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %s: %s", path, resp.Status, out)
		}
		return out
	}
	post("/api/node", fmt.Sprintf(`{"ID": %q, "Metadata": {"Name": "malformed", "Type": "device"}}`, vars["{node}"]))
	post("/api/edge", fmt.Sprintf(`{"ID": %q, "Parent": %q, "Child": %q, "Metadata": {"RelationType": "layer2"}}`,
		vars["{edge}"], vars["{node}"], vars["{node}"]))
	var al v1.Alert
	if err := json.Unmarshal(post("/api/alert", `{"Name": "malformed", "Expression": "G.V().Has('Name', 'none')"}`), &al); err != nil {
		t.Fatal(err)
	}
	vars["{alert}"] = al.UUID
	resp, err := http.Get("http://" + addr + "/api/workflow")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var wfs map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&wfs); err != nil || len(wfs) == 0 {
		t.Fatalf("workflows: %v %d", err, len(wfs))
	}
	for id := range wfs {
		vars["{workflow}"] = id
		break
	}
	return vars
}

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// sendRaw writes tc on a new TCP connection, as it is, and reads the answer
// within malformedDeadline.
func sendRaw(addr string, tc malformedCase, vars map[string]string) (int, string, error) {
	body := []byte(expand(tc.Body, vars))
	if tc.BodyB64 != "" {
		b, err := base64.StdEncoding.DecodeString(tc.BodyB64)
		if err != nil {
			return 0, "", err
		}
		body = b
	}
	if tc.Repeat != "" {
		body = append(body, []byte(strings.Repeat(tc.Repeat, tc.Times))...)
	}
	proto := tc.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s %s\r\nHost: %s\r\nConnection: close\r\n", tc.Method, expand(tc.Path, vars), proto, addr)
	hasCT := false
	for k, v := range tc.Headers {
		fmt.Fprintf(&sb, "%s: %s\r\n", k, expand(v, vars))
		hasCT = hasCT || strings.EqualFold(k, "Content-Type")
	}
	if !tc.Raw {
		if len(body) > 0 || tc.Method == http.MethodPost || tc.Method == http.MethodPatch || tc.Method == http.MethodPut {
			fmt.Fprintf(&sb, "Content-Length: %d\r\n", len(body))
		}
		if len(body) > 0 && !hasCT {
			sb.WriteString("Content-Type: application/json\r\n")
		}
	}
	sb.WriteString(strings.ReplaceAll(tc.RawHeaders, "@BIG@", strings.Repeat("b", 2<<20)))
	sb.WriteString("\r\n")

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(malformedDeadline))
	// The server may answer (413, 431) before it has read everything: write
	// in the background and read the answer.
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(append([]byte(sb.String()), body...))
		if err == nil && tc.Raw {
			// A raw request may lie about its length: the server sees
			// its end rather than waiting for the rest.
			err = conn.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if e := <-werr; e != nil {
			err = fmt.Errorf("%w (write: %v)", err, e)
		}
		return 0, "", fmt.Errorf("no answer within %v: %w", malformedDeadline, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(out), nil
}

func checkStatus(t *testing.T, tc malformedCase, status int, body string) {
	t.Helper()
	var want int
	_ = json.Unmarshal(tc.Want, &want)
	if want != 0 && (want < 400 || want > 499) && tc.Note == "" {
		t.Fatalf("want %d outside 4xx without a note", want)
	}
	if (status < 400 || status > 499) && (status != want || tc.Note == "") {
		t.Errorf("%s %s: %d %q, want a 4xx", tc.Method, tc.Path, status, body)
		return
	}
	if want != 0 && want != status {
		t.Errorf("%s %s: %d %q, want %d", tc.Method, tc.Path, status, body, want)
	}
}

func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// alive checks that the analyzer runs and answers its status and a query.
func alive(t *testing.T, addr string, c *client.Client, p *process) {
	t.Helper()
	if err := syscall.Kill(p.cmd.Process.Pid, 0); err != nil {
		t.Fatalf("analyzer gone: %v", err)
	}
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Query(ctx, "G.V().Has('Type', 'host').Count()"); err != nil {
		t.Fatalf("query: %v", err)
	}
}

// wsDial opens a websocket on path with headers h.
func wsDial(t *testing.T, addr, path string, h http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+addr+path, h)
	if err != nil {
		st := ""
		if resp != nil {
			st = resp.Status
		}
		t.Fatalf("dial %s: %v %s", path, err, st)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// wsFrame is one abuse of an open websocket.
type wsFrame struct {
	name string
	typ  int
	data []byte
}

var wsFrames = []wsFrame{
	{"not JSON", websocket.TextMessage, []byte("hello, not json")},
	{"truncated JSON", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "NodeAdded", "Obj": {`)},
	{"JSON array", websocket.TextMessage, []byte(`[1, 2, 3]`)},
	{"JSON of the wrong shape", websocket.TextMessage, []byte(`{"Namespace": 5, "Type": ["x"], "Obj": "str"}`)},
	{"node message with a string object", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "NodeAdded", "Obj": "nope"}`)},
	{"node without ID", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "NodeAdded", "Obj": {"Metadata": {"Name": 1}}}`)},
	{"edge to nowhere", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "EdgeAdded", "Obj": {"ID": "e-x", "Parent": "nope", "Child": "nope2", "Metadata": {"RelationType": "ownership"}}}`)},
	{"sync of the wrong shape", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "SyncReply", "Obj": {"Nodes": "x", "Edges": 4}}`)},
	{"unknown message type", websocket.TextMessage, []byte(`{"Namespace": "Graph", "Type": "Frobnicate", "Obj": {}}`)},
	{"unknown namespace", websocket.TextMessage, []byte(`{"Namespace": "Nowhere", "Type": "Frobnicate", "Obj": null}`)},
	{"status message of the wrong shape", websocket.TextMessage, []byte(`{"Namespace": "Status", "Type": "Probes", "Obj": [1]}`)},
	{"flow message of the wrong shape", websocket.TextMessage, []byte(`{"Namespace": "Flow", "Type": "store", "Obj": "garbage"}`)},
	{"binary garbage", websocket.BinaryMessage, []byte{0xff, 0x00, 0x13, 0x37, 0xde, 0xad}},
	{"binary JSON", websocket.BinaryMessage, []byte(`{"Namespace": "Graph", "Type": "Frobnicate"}`)},
	{"empty text", websocket.TextMessage, nil},
	{"deeply nested JSON", websocket.TextMessage, []byte(strings.Repeat("[", 200000))},
}

// malformedWebsockets abuses /ws/publisher, /ws/subscriber and
// /ws/agent/topology: every frame on a connection of its own, then a check
// that the server still answers.
func malformedWebsockets(t *testing.T, addr string, pid int) {
	c := client.New(addr)
	paths := []struct {
		name, path, host string
	}{
		{"publisher", "/ws/publisher", "malformed-pub"},
		{"subscriber", "/ws/subscriber", "malformed-sub"},
		{"agent", "/ws/agent/topology", "malformed-agent"},
	}
	for _, p := range paths {
		for _, f := range wsFrames {
			t.Run(p.name+": "+f.name, func(t *testing.T) {
				h := http.Header{}
				h.Set(v1.HeaderHostID, p.host+"-"+uniq())
				conn := wsDial(t, addr, p.path, h)
				if err := conn.WriteMessage(f.typ, f.data); err != nil {
					t.Fatal(err)
				}
				// The server either answers (an Error message), closes, or
				// keeps quiet; in any case it must not hang the read past
				// the deadline nor crash.
				_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, msg, err := conn.ReadMessage()
				var ce *websocket.CloseError
				var ne net.Error
				switch {
				case err == nil:
					t.Logf("answered %.200s", msg)
				case errors.As(err, &ce):
					t.Logf("closed %d %q", ce.Code, ce.Text)
					if ce.Code == websocket.CloseInternalServerErr {
						t.Errorf("closed as a server error: %v", ce)
					}
				case errors.As(err, &ne) && ne.Timeout():
					// Quiet and open: a ping must still come back.
				default:
					t.Logf("read: %v", err)
				}
				if err := syscall.Kill(pid, 0); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Query(context.Background(), "G.V().Count()"); err != nil {
					t.Fatalf("query after %s: %v", f.name, err)
				}
			})
		}
	}

	// The contract: a frame that is not JSON on /ws/publisher
	// closes the connection with 1007 (invalid frame payload data).
	t.Run("publisher: not JSON closes 1007", func(t *testing.T) {
		conn := wsDial(t, addr, "/ws/publisher", http.Header{"X-Host-Id": {"malformed-1007"}})
		if err := conn.WriteMessage(websocket.TextMessage, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
			t.Errorf("after a not-JSON frame: message %q, err %v; want a close 1007", msg, err)
		}
	})

	// Oversized, invalid and unmasked frames, written raw after a real
	// handshake: the server closes, nothing more.
	raws := []struct {
		name  string
		frame func() []byte
	}{
		{"frame claiming 1 TiB", func() []byte { return frameHeader(0x1, 1<<40, true) }},
		{"frame of 300 MB announced, 1 KB sent", func() []byte {
			return append(frameHeader(0x1, 300<<20, true), make([]byte, 1024)...)
		}},
		{"unmasked client frame", func() []byte { return append(frameHeader(0x1, 2, false), '{', '}') }},
		{"reserved opcode", func() []byte { return frameHeader(0x3, 0, true) }},
		{"fragmented ping", func() []byte { return append([]byte{0x09, 0x80}, 0, 0, 0, 0) }},
		{"continuation without a start", func() []byte { return frameHeader(0x0, 0, true) }},
		{"invalid UTF-8 text", func() []byte { return append(frameHeader(0x1, 2, true), 0xff, 0xfe) }},
		{"close with a bad code", func() []byte { return append(frameHeader(0x8, 2, true), 0x00, 0x01) }},
	}
	for _, p := range paths {
		for i, r := range raws {
			t.Run(p.name+": raw "+r.name, func(t *testing.T) {
				h := http.Header{}
				h.Set(v1.HeaderHostID, fmt.Sprintf("%s-raw-%d-%s", p.host, i, uniq()))
				conn, br := rawUpgrade(t, addr, p.path, h)
				defer conn.Close()
				if _, err := conn.Write(r.frame()); err != nil {
					t.Fatal(err)
				}
				// The server must close (or at least not crash) soon.
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.Copy(io.Discard, br)
				if _, err := c.Query(context.Background(), "G.V().Count()"); err != nil {
					t.Fatalf("query after %s: %v", r.name, err)
				}
			})
		}
	}
}

func frameHeader(op byte, n uint64, masked bool) []byte {
	b := []byte{0x80 | op}
	mask := byte(0)
	if masked {
		mask = 0x80
	}
	switch {
	case n < 126:
		b = append(b, mask|byte(n))
	case n < 1<<16:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	if masked {
		b = append(b, 0, 0, 0, 0) // a zero mask keeps the payload as is
	}
	return b
}

// rawUpgrade does a websocket handshake by hand and returns the connection.
func rawUpgrade(t *testing.T, addr, path string, h http.Header) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: addr, Path: path}, Host: addr,
		Header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {base64.StdEncoding.EncodeToString(key)}}}
	for k, v := range h {
		req.Header[k] = v
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return conn, br
}

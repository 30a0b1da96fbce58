//go:build e2e

package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/testutil"
)

type reportRow struct {
	Tenant, Application   string
	Packets, Bytes, Flows int64
}

// reportRows reads the report's JSON answer; it must carry Incomplete.
func reportRows(b []byte) ([]reportRow, error) {
	var ans struct {
		Rows       []reportRow
		Incomplete *[]string
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, err
	}
	if ans.Incomplete == nil {
		return nil, fmt.Errorf("no Incomplete in %s", b)
	}
	return ans.Rows, nil
}

func getReport(addr, query string) (string, []byte, error) {
	resp, err := http.Get("http://" + addr + "/api/report/tenants?" + query)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	return resp.Header.Get("Content-Type"), b, err
}

// TestTenantReport: two projects, each a pair of namespaces joined by a veth
// pair whose ends a node rule gives Neutron.TenantID. Project A's pair is
// captured on both ends (the flow is seen twice: it must count once),
// project B's on one. A TCP transfer of a known size and a ping in each; the
// report's TCP bytes per project are the captured flows' own Metric sums,
// and the payload within 5% once the headers are taken off; the CSV and the
// CLI say the same.
func TestTenantReport(t *testing.T) {
	c, addr, _ := allInOne(t)
	type project struct {
		tenant                     string
		ns1, ns2, v1, v2, ip1, ip2 string
		payload                    int
		caps                       []string
	}
	projs := []*project{{tenant: "proj-a-" + uniq(), payload: 200 * 1024}, {tenant: "proj-b-" + uniq(), payload: 500 * 1024}}
	for i, p := range projs {
		p.ns1, p.ns2, p.v1, p.v2, p.ip1, p.ip2 = vethPair(t, uniq(), 250+i)
	}
	for _, p := range projs {
		for _, v := range []string{p.v1, p.v2} {
			var rule v1.NodeRule
			postJSON(t, addr, "/api/noderule", v1.NodeRule{Action: "update", Query: fmt.Sprintf("G.V().Has('Name','%s')", v),
				Metadata: map[string]any{"Neutron": map[string]any{"TenantID": p.tenant}}}, &rule)
		}
	}
	for _, p := range projs {
		for _, v := range []string{p.v1, p.v2} {
			testutil.Eventually(t, 15*time.Second, v+" Neutron.TenantID", func() error {
				_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name','%s','Neutron.TenantID','%s')", v, p.tenant))
				return err
			})
		}
	}
	// Project A: both ends captured; project B: one.
	for i, p := range projs {
		ends := []string{p.v1, p.v2}
		if i == 1 {
			ends = ends[:1]
		}
		for _, v := range ends {
			id := createCapture(t, addr, "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v))
			waitCaptureActive(t, c, v, id)
			p.caps = append(p.caps, id)
		}
	}

	for _, p := range projs {
		l := listenIn(t, p.ns2, p.ip2+":5001")
		done := make(chan int64, 1)
		go func() {
			conn, err := l.Accept()
			if err != nil {
				done <- -1
				return
			}
			n, _ := io.Copy(io.Discard, conn)
			conn.Close()
			done <- n
		}()
		conn := dialIn(t, p.ns1, p.ip2+":5001")
		if _, err := conn.Write(make([]byte, p.payload)); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		select {
		case n := <-done:
			if n != int64(p.payload) {
				t.Fatalf("%s: server read %d bytes, want %d", p.tenant, n, p.payload)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: transfer not done", p.tenant)
		}
		testutil.Sh(t, "ip", "netns", "exec", p.ns1, "ping", "-c", "3", "-i", "0.2", p.ip2)
	}

	// The TCP flow's own Metric, as the first capture of each project saw it.
	type metricFlow struct {
		TrackingID string
		Metric     struct{ ABPackets, BAPackets, ABBytes, BABytes int64 }
	}
	flowSums := func(p *project) (packets, bytes int64, err error) {
		raw, err := c.Query(context.Background(), fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'TCP')", p.caps[0]))
		if err != nil {
			return 0, 0, err
		}
		var fs []metricFlow
		if err := json.Unmarshal(raw, &fs); err != nil {
			return 0, 0, err
		}
		if len(fs) != 1 {
			return 0, 0, fmt.Errorf("%d TCP flows on %s", len(fs), p.v1)
		}
		m := fs[0].Metric
		return m.ABPackets + m.BAPackets, m.ABBytes + m.BABytes, nil
	}
	find := func(rows []reportRow, tenant, app string) (reportRow, bool) {
		for _, r := range rows {
			if r.Tenant == tenant && r.Application == app {
				return r, true
			}
		}
		return reportRow{}, false
	}
	var rows []reportRow
	testutil.Eventually(t, 30*time.Second, "report with each project's TCP and ICMP", func() error {
		_, b, err := getReport(addr, "since=1h")
		if err != nil {
			return err
		}
		if rows, err = reportRows(b); err != nil {
			return fmt.Errorf("%w: %s", err, b)
		}
		for _, p := range projs {
			fp, fb, err := flowSums(p)
			if err != nil {
				return err
			}
			tcp, ok := find(rows, p.tenant, "TCP")
			if !ok {
				return fmt.Errorf("no TCP row for %s in %+v", p.tenant, rows)
			}
			// One flow, counted once though project A's is seen twice.
			if tcp.Flows != 1 || tcp.Bytes != fb || tcp.Packets != fp {
				return fmt.Errorf("%s TCP row %+v, flow Metric %d packets %d bytes", p.tenant, tcp, fp, fb)
			}
			// The payload within 5%, once 54 to 74 bytes of headers a
			// packet are taken off (Ethernet, IP, TCP with options).
			pl := float64(p.payload)
			if lo, hi := float64(tcp.Bytes-74*tcp.Packets), float64(tcp.Bytes-54*tcp.Packets); lo > pl*1.05 || hi < pl*0.95 {
				return fmt.Errorf("%s TCP %d bytes in %d packets: payload %d not within 5%%", p.tenant, tcp.Bytes, tcp.Packets, p.payload)
			}
			icmp, ok := find(rows, p.tenant, "ICMPv4")
			if !ok || icmp.Packets < 6 || icmp.Flows != 1 {
				return fmt.Errorf("%s ICMPv4 row %+v (%v), want 1 flow of >= 6 packets", p.tenant, icmp, ok)
			}
		}
		return nil
	})
	for _, p := range projs {
		r, _ := find(rows, p.tenant, "TCP")
		t.Logf("%s: sent %d bytes; report TCP %d bytes, %d packets", p.tenant, p.payload, r.Bytes, r.Packets)
	}

	// The CSV says the same.
	ct, b, err := getReport(addr, "since=1h&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "Tenant,Application,Packets,Bytes,Flows" {
		t.Fatalf("CSV header %q", recs)
	}
	for _, p := range projs {
		want, _ := find(rows, p.tenant, "TCP")
		found := false
		for _, rec := range recs[1:] {
			if rec[0] == p.tenant && rec[1] == "TCP" {
				found = true
				if rec[2] != strconv.FormatInt(want.Packets, 10) || rec[3] != strconv.FormatInt(want.Bytes, 10) || rec[4] != "1" {
					t.Errorf("CSV %q, JSON %+v", rec, want)
				}
			}
		}
		if !found {
			t.Errorf("no CSV line for %s TCP:\n%s", p.tenant, b)
		}
	}

	// A window from/to covering the test gives the same; one in the past, none.
	from := time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)
	if _, b, err = getReport(addr, "from="+from); err != nil {
		t.Fatal(err)
	}
	fromRows, err := reportRows(b)
	if err != nil {
		t.Fatal(err)
	}
	past := "from=2020-01-01T00:00:00Z&to=2020-01-01T01:00:00Z"
	_, b, err = getReport(addr, past)
	if err != nil {
		t.Fatal(err)
	}
	pastRows, err := reportRows(b)
	if err != nil {
		t.Fatalf("%v %s", err, b)
	}
	for _, p := range projs {
		want, _ := find(rows, p.tenant, "TCP")
		if got, _ := find(fromRows, p.tenant, "TCP"); got != want {
			t.Errorf("from window %+v, since %+v", got, want)
		}
		if got, ok := find(pastRows, p.tenant, "TCP"); ok {
			t.Errorf("past window has %+v", got)
		}
	}
	if _, _, err := getReport(addr, "since=bogus"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("since=bogus: %v", err)
	}

	// The CLI prints them, as a table and as CSV.
	out, err := cli(addr, "report", "tenants", "--since", "1h")
	if err != nil {
		t.Fatalf("cli: %v %s", err, out)
	}
	csvOut, err := cli(addr, "report", "tenants", "--since", "1h", "--format", "csv")
	if err != nil {
		t.Fatalf("cli csv: %v %s", err, csvOut)
	}
	for _, p := range projs {
		want, _ := find(rows, p.tenant, "TCP")
		line := fmt.Sprintf("%s,TCP,%d,%d,1", p.tenant, want.Packets, want.Bytes)
		if !strings.Contains(csvOut, line) {
			t.Errorf("CLI CSV lacks %q:\n%s", line, csvOut)
		}
		ok := false
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) == 5 && f[0] == p.tenant && f[1] == "TCP" && f[3] == strconv.FormatInt(want.Bytes, 10) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("CLI table lacks %s TCP %d bytes:\n%s", p.tenant, want.Bytes, out)
		}
	}
}

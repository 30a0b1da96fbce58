//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/nsexec"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// ebpfFlow is what TestEBPFMatchesAFPacket compares of a flow.
type ebpfFlow struct {
	UUID, TrackingID, L3TrackingID, LayersPath, Application string
	Link, Network                                           *struct{ A, B string }
	Transport                                               *struct{ A, B int }
	ICMP                                                    *struct {
		Type string
		ID   int
	}
	Metric     struct{ ABPackets, ABBytes, BAPackets, BABytes int64 }
	FinishType int
}

func (f ebpfFlow) String() string {
	s := fmt.Sprintf("%s %s %v %+v", f.TrackingID, f.LayersPath, *f.Network, f.Metric)
	if f.Transport != nil {
		s += fmt.Sprintf(" %+v", *f.Transport)
	}
	return s
}

// pairFlows returns a capture's IPv4 flows between ip1 and ip2 by
// TrackingID (the namespaces' IPv6 and ARP chatter left out).
func pairFlows(c *client.Client, capID, ip1, ip2 string) (map[string]ebpfFlow, error) {
	raw, err := c.Query(context.Background(), fmt.Sprintf("G.Flows().Has('CaptureID', '%s')", capID))
	if err != nil {
		return nil, err
	}
	var fs []ebpfFlow
	if err := json.Unmarshal(raw, &fs); err != nil {
		return nil, fmt.Errorf("%w: %s", err, raw)
	}
	out := map[string]ebpfFlow{}
	for _, f := range fs {
		if f.Network != nil && (f.Network.A == ip1 && f.Network.B == ip2 || f.Network.A == ip2 && f.Network.B == ip1) {
			out[f.TrackingID] = f
		}
	}
	return out, nil
}

// TestEBPFMatchesAFPacket: an ebpf capture on one end of a veth pair and an
// afpacket capture on the other, made with the CLI, report the same flows
// of a ping and of a rate-limited TCP transfer: addresses, ports, packets
// and bytes both ways. Segmentation offloads are off so that each side
// sees the frames the wire carries.
func TestEBPFMatchesAFPacket(t *testing.T) {
	c, addr, _ := allInOne(t)
	p := uniq()
	ns1, ns2, v1, v2, ip1, ip2 := vethPair(t, p, 236)
	for _, x := range [][2]string{{ns1, v1}, {ns2, v2}} {
		testutil.Sh(t, "ip", "netns", "exec", x[0], "ethtool", "-K", x[1], "gso", "off", "gro", "off", "tso", "off")
	}
	testutil.Eventually(t, 5*time.Second, "veths seen", func() error {
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v1)); err != nil {
			return err
		}
		_, err := oneNode(c, fmt.Sprintf("G.V().Has('Name', '%s')", v2))
		return err
	})
	capE := createCapture(t, addr, "--type", "ebpf", "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1))
	capA := createCapture(t, addr, "--type", "afpacket", "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v2))
	waitCaptureActive(t, c, v1, capE)
	waitCaptureActive(t, c, v2, capA)

	testutil.Sh(t, "ip", "netns", "exec", ns1, "ping", "-c", "5", "-i", "0.2", ip2)

	// 256 KiB from ns1 to ns2 at about 512 KiB/s, in 4 KiB writes.
	l := listenIn(t, ns2, ip2+":5002")
	received := make(chan int64, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			received <- -1
			return
		}
		n, _ := io.Copy(io.Discard, conn)
		conn.Close()
		received <- n
	}()
	var conn net.Conn
	if err := nsexec.Do("/var/run/netns/"+ns1, func() (err error) {
		conn, err = net.DialTimeout("tcp", ip2+":5002", 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	tick := time.NewTicker(8 * time.Millisecond)
	for range 64 {
		<-tick.C
		if _, err := conn.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	conn.Close()
	if n := <-received; n != 64*4096 {
		t.Fatalf("received %d bytes, want %d", n, 64*4096)
	}

	last := ""
	testutil.Eventually(t, 10*time.Second, "the same ICMP and TCP flows from ebpf and afpacket", func() (err error) {
		defer func() {
			// The flows' state while it converges (a TCP flow leaves the
			// live view 15 s after its FIN: the last error may not tell).
			if err != nil && err.Error() != last {
				last = err.Error()
				t.Log(last)
			}
		}()
		e, err := pairFlows(c, capE, ip1, ip2)
		if err != nil {
			return err
		}
		a, err := pairFlows(c, capA, ip1, ip2)
		if err != nil {
			return err
		}
		var tcp *ebpfFlow
		for id, af := range a {
			if af.Transport != nil && af.Transport.B == 5002 {
				tcp = &af
			}
			ef, ok := e[id]
			if !ok {
				return fmt.Errorf("afpacket flow %s not in the ebpf capture's %v", af, e)
			}
			if ef.Metric != af.Metric {
				return fmt.Errorf("flow %s: ebpf %+v, afpacket %+v", id, ef.Metric, af.Metric)
			}
			if ef.LayersPath != af.LayersPath || *ef.Network != *af.Network || *ef.Link != *af.Link ||
				ef.L3TrackingID != af.L3TrackingID || (ef.Transport == nil) != (af.Transport == nil) ||
				ef.Transport != nil && *ef.Transport != *af.Transport || (ef.ICMP == nil) != (af.ICMP == nil) ||
				ef.ICMP != nil && *ef.ICMP != *af.ICMP {
				return fmt.Errorf("flow %s: ebpf %+v, afpacket %+v", id, ef, af)
			}
		}
		if len(e) != len(a) || len(a) != 2 {
			return fmt.Errorf("ebpf %v, afpacket %v: want the ICMP and the TCP flows", e, a)
		}
		if tcp == nil || tcp.Metric.ABBytes < 64*4096 || tcp.FinishType == 0 || tcp.Network.A != ip1 {
			return fmt.Errorf("TCP flow %v (want the whole transfer, ended)", tcp)
		}
		for _, f := range e {
			if f.ICMP != nil && (f.Metric.ABPackets != 5 || f.Metric.BAPackets != 5 || f.Metric.ABBytes != 5*98 || f.Network.A != ip1) {
				return fmt.Errorf("ICMP flow %s", f)
			}
		}
		return nil
	})

	out, err := cli(addr, "capture", "create", "--type", "ebpf", "--gremlin", fmt.Sprintf("G.V().Has('Name', '%s')", v1), "--bpf", "icmp")
	if err == nil || !strings.Contains(out, "BPFFilter") {
		t.Fatalf("an ebpf capture with a BPF filter: %v %s", err, out)
	}
}

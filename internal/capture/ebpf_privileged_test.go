//go:build privileged

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/ebpf"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/nsexec"
	"github.com/skydive-ng/skydive/internal/testutil"
)

// ipFlows returns the flows of a table between the pair's two addresses,
// by TrackingID (the namespaces' own IPv6 and ARP chatter left out).
func ipFlows(tb *flow.Table, p *vethPair) map[string]*flow.Flow {
	out := map[string]*flow.Flow{}
	for _, f := range tb.Flows() {
		if f.Network != nil && (f.Network.A == p.ipA || f.Network.B == p.ipA) {
			out[f.TrackingID] = f
		}
	}
	return out
}

func describe(fs map[string]*flow.Flow) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s %+v %+v %+v %+v fin=%d", f.TrackingID, f.LayersPath, f.Link, f.Network, f.Transport, f.Metric, f.FinishType)
	}
	return b.String()
}

// TestEBPFPrivilegedFlows: an ebpf capture and an afpacket capture on the
// same interface, under a ping, a UDP exchange and a TCP connection, give
// the flows expected, and the same ones.
func TestEBPFPrivilegedFlows(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	p := newVethPair(t)
	ec, etb := startOn(t, TypeEBPF, "", p)
	_, atb := startOn(t, TypeAFPacket, "", p)

	// Ping: 3 echo requests and replies of 98 bytes (64 of ICMP).
	testutil.Sh(t, "ip", "netns", "exec", p.nsA, "ping", "-c", "3", "-i", "0.2", "-W", "1", p.ipB)

	// UDP: 4 datagrams of 100 bytes A -> B, 2 of 50 bytes back (frames of
	// 142 and 92 bytes).
	var uconn *net.UDPConn
	if err := nsexec.Do(p.pathB, func() (err error) {
		uconn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(p.ipB)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer uconn.Close()
	uport := uconn.LocalAddr().(*net.UDPAddr).Port
	var client net.Conn
	if err := nsexec.Do(p.pathA, func() (err error) {
		client, err = net.Dial("udp", net.JoinHostPort(p.ipB, strconv.Itoa(uport)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for range 4 {
		if _, err := client.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	for range 4 {
		_ = uconn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := uconn.ReadFromUDP(buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := uconn.WriteToUDP(make([]byte, 50), client.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	uclientPort := client.LocalAddr().(*net.UDPAddr).Port

	// TCP: an echo of 13 bytes, closed by the client.
	ln := listenIn(t, p.pathB, p.ipB+":0")
	tport := ln.Addr().(*net.TCPAddr).Port
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(conn, conn)
		conn.Close()
	}()
	conn := dialIn(t, p.pathA, fmt.Sprintf("%s:%d", p.ipB, tport))
	_, _ = conn.Write([]byte("hello skydive"))
	_, _ = io.ReadFull(conn, make([]byte, 13))
	conn.Close()

	// Both captures saw the same frames once the afpacket TCP flow has its
	// FIN both ways and the ebpf table has as many packets.
	testutil.Eventually(t, 10*time.Second, "the same flows in both captures", func() error {
		a, e := ipFlows(atb, p), ipFlows(etb, p)
		if len(a) != 3 {
			return fmt.Errorf("afpacket: %d flows: %s", len(a), describe(a))
		}
		for id, af := range a {
			ef := e[id]
			if ef == nil {
				return fmt.Errorf("no ebpf flow %s: afpacket %s, ebpf %s", id, describe(a), describe(e))
			}
			am, em := af.Metric, ef.Metric
			if am.ABPackets != em.ABPackets || am.BAPackets != em.BAPackets || am.ABBytes != em.ABBytes || am.BABytes != em.BABytes {
				return fmt.Errorf("flow %s: afpacket %+v, ebpf %+v", id, af.Metric, ef.Metric)
			}
		}
		return nil
	})
	if err := ec.Stop(); err != nil {
		t.Fatal(err)
	}

	a, e := ipFlows(atb, p), ipFlows(etb, p)
	if len(e) != 3 {
		t.Fatalf("ebpf: %d flows, want 3: %s", len(e), describe(e))
	}
	var icmp, udp, tcp *flow.Flow
	for id, f := range e {
		af := a[id]
		if f.LayersPath != af.LayersPath || *f.Link != *af.Link || *f.Network != *af.Network || f.L3TrackingID != af.L3TrackingID ||
			f.NodeTID != "tid-"+p.ifB || f.CaptureID != "cap-ebpf" {
			t.Errorf("ebpf flow %+v, afpacket %+v", f, af)
		}
		if f.Network.A != p.ipA || f.Network.B != p.ipB {
			t.Errorf("flow %s: Network %+v, want %s -> %s (A is the first packet's source)", f.LayersPath, f.Network, p.ipA, p.ipB)
		}
		switch {
		case f.ICMP != nil:
			icmp = f
		case f.Transport != nil && f.Transport.Protocol == flow.ProtoUDP:
			udp = f
		case f.Transport != nil && f.Transport.Protocol == flow.ProtoTCP:
			tcp = f
		}
		if (f.Transport == nil) != (af.Transport == nil) || f.Transport != nil && *f.Transport != *af.Transport ||
			(f.ICMP == nil) != (af.ICMP == nil) || f.ICMP != nil && *f.ICMP != *af.ICMP {
			t.Errorf("flow %s: ebpf %+v %+v, afpacket %+v %+v", f.LayersPath, f.Transport, f.ICMP, af.Transport, af.ICMP)
		}
	}
	t.Logf("ebpf flows: %s", describe(e))
	if icmp == nil || udp == nil || tcp == nil {
		t.Fatalf("want an ICMP, a UDP and a TCP flow: %s", describe(e))
	}
	if m := icmp.Metric; icmp.LayersPath != "Ethernet/IPv4/ICMPv4" || icmp.ICMP.Type != flow.ICMPEcho || icmp.ICMP.ID == 0 ||
		m.ABPackets != 3 || m.BAPackets != 3 || m.ABBytes != 3*98 || m.BABytes != 3*98 {
		t.Errorf("ICMP flow %s %+v %+v", icmp.LayersPath, icmp.ICMP, m)
	}
	if m := udp.Metric; udp.LayersPath != "Ethernet/IPv4/UDP" || udp.Transport.A != int64(uclientPort) || udp.Transport.B != int64(uport) ||
		m.ABPackets != 4 || m.BAPackets != 2 || m.ABBytes != 4*142 || m.BABytes != 2*92 {
		t.Errorf("UDP flow %s %+v %+v", udp.LayersPath, udp.Transport, m)
	}
	if m := tcp.Metric; tcp.LayersPath != "Ethernet/IPv4/TCP" || tcp.Transport.B != int64(tport) || tcp.FinishType != flow.TCPFin ||
		m.ABPackets < 4 || m.BAPackets < 3 || m.ABBytes < 13 {
		t.Errorf("TCP flow %s %+v %+v fin=%d", tcp.LayersPath, tcp.Transport, m, tcp.FinishType)
	}
	if st := ec.Stats(); st.PacketsReceived < 6+6 || st.PacketsDropped != 0 {
		t.Errorf("Stats() = %+v", st)
	}
}

// TestEBPFPrivilegedErrors: an interface that does not exist is a clear
// error, and a stopped capture leaves no program on the interface.
func TestEBPFPrivilegedErrors(t *testing.T) {
	p := newVethPair(t)
	spec := Spec{Type: TypeEBPF, CaptureID: "x", NodeTID: "x"}
	_, err := Start(context.Background(), spec, Target{NsPath: p.pathB, IfName: "nosuch0"}, flow.NewTable(TableOptions(spec)))
	if !errors.Is(err, ebpf.ErrNoInterface) || !strings.Contains(err.Error(), `"nosuch0"`) {
		t.Fatalf("Start on a missing interface: %v", err)
	}
	c, _ := startOn(t, TypeEBPF, "", p)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("bpftool"); err == nil {
		out := testutil.Sh(t, "ip", "netns", "exec", p.nsB, "bpftool", "net", "show", "dev", p.ifB)
		if strings.Contains(out, "skydive_") {
			t.Fatalf("program still attached after Stop: %s", out)
		}
	}
}

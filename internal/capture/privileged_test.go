//go:build privileged

package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/testutil"

	"github.com/skydive-ng/skydive/internal/nsexec"
)

// vethPair is two network namespaces joined by a veth pair.
type vethPair struct {
	nsA, nsB     string // names (ip netns)
	ifA, ifB     string
	ipA, ipB     string
	pathA, pathB string
}

func newVethPair(t testing.TB) *vethPair {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed")
	}
	b := make([]byte, 4)
	rand.Read(b)
	id := hex.EncodeToString(b)[:6]
	p := &vethPair{
		nsA: "cap" + id + "a", nsB: "cap" + id + "b",
		ifA: "cap" + id + "0", ifB: "cap" + id + "1",
		ipA: fmt.Sprintf("10.%d.%d.1", 100+int(b[0])%100, b[1]), ipB: fmt.Sprintf("10.%d.%d.2", 100+int(b[0])%100, b[1]),
	}
	p.pathA, p.pathB = "/var/run/netns/"+p.nsA, "/var/run/netns/"+p.nsB
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.nsA).Run()
		exec.Command("ip", "netns", "del", p.nsB).Run()
	})
	testutil.Sh(t, "ip", "netns", "add", p.nsA)
	testutil.Sh(t, "ip", "netns", "add", p.nsB)
	testutil.Sh(t, "ip", "link", "add", p.ifA, "netns", p.nsA, "type", "veth", "peer", "name", p.ifB, "netns", p.nsB)
	testutil.Sh(t, "ip", "-n", p.nsA, "addr", "add", p.ipA+"/24", "dev", p.ifA)
	testutil.Sh(t, "ip", "-n", p.nsB, "addr", "add", p.ipB+"/24", "dev", p.ifB)
	for _, x := range [][2]string{{p.nsA, p.ifA}, {p.nsB, p.ifB}, {p.nsA, "lo"}, {p.nsB, "lo"}} {
		testutil.Sh(t, "ip", "-n", x[0], "link", "set", x[1], "up")
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startOn(t *testing.T, typ, filter string, p *vethPair) (*Capture, *flow.Table) {
	t.Helper()
	spec := Spec{Type: typ, BPFFilter: filter, CaptureID: "cap-" + typ, NodeTID: "tid-" + p.ifB}
	tb := flow.NewTable(TableOptions(spec))
	c, err := Start(context.Background(), spec, Target{NsPath: p.pathB, IfName: p.ifB}, tb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c, tb
}

func TestPrivilegedICMP(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	for _, typ := range []string{TypeAFPacket, TypePcap} {
		t.Run(typ, func(t *testing.T) {
			p := newVethPair(t)
			c, tb := startOn(t, typ, "icmp", p)
			testutil.Sh(t, "ip", "netns", "exec", p.nsA, "ping", "-c", "5", "-i", "0.2", "-W", "1", p.ipB)
			waitFor(t, "10 packets", func() bool { return tb.Stats().PacketsReceived >= 10 })
			time.Sleep(200 * time.Millisecond) // anything else would show now
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			fs := tb.Flows()
			if len(fs) != 1 {
				for _, f := range fs {
					t.Logf("flow %s %s %+v", f.LayersPath, f.UUID, f.Metric)
				}
				t.Fatalf("%d flows, want exactly one ICMPv4 flow", len(fs))
			}
			f := fs[0]
			if f.LayersPath != "Ethernet/IPv4/ICMPv4" || f.Application != "ICMPv4" || f.ICMP == nil || f.ICMP.Type != flow.ICMPEcho {
				t.Errorf("flow %s %s %+v, want an ICMPv4 echo flow", f.LayersPath, f.Application, f.ICMP)
			}
			if f.Network.A != p.ipA || f.Network.B != p.ipB {
				t.Errorf("Network %+v, want %s -> %s", f.Network, p.ipA, p.ipB)
			}
			if m := f.Metric; m.ABPackets != 5 || m.BAPackets != 5 || m.RTT <= 0 || m.ABBytes != 5*98 {
				t.Errorf("Metric %+v, want 5/5 packets of 98 bytes and RTT > 0", m)
			}
			if f.NodeTID != "tid-"+p.ifB || f.CaptureID != "cap-"+typ {
				t.Errorf("NodeTID %q CaptureID %q", f.NodeTID, f.CaptureID)
			}
			if st := c.Stats(); st.PacketsReceived < 10 || st.PacketsDropped != 0 {
				t.Errorf("Stats() = %+v, want ≥ 10 received, 0 dropped", st)
			}
		})
	}
}

// listenIn opens a TCP listener inside a namespace.
func listenIn(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := nsexec.Do(nsPath, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dialIn(t *testing.T, nsPath, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := nsexec.Do(nsPath, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPrivilegedTCP(t *testing.T) {
	for _, typ := range []string{TypeAFPacket, TypePcap} {
		t.Run(typ, func(t *testing.T) {
			p := newVethPair(t)
			c, tb := startOn(t, typ, "tcp", p)
			ln := listenIn(t, p.pathB, p.ipB+":0")
			port := ln.Addr().(*net.TCPAddr).Port
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(conn, conn) // echo
				conn.Close()
			}()
			if _, err := exec.LookPath("ping"); err == nil {
				testutil.Sh(t, "ip", "netns", "exec", p.nsA, "ping", "-c", "2", "-i", "0.2", "-W", "1", p.ipB)
			}
			conn := dialIn(t, p.pathA, fmt.Sprintf("%s:%d", p.ipB, port))
			conn.Write([]byte("hello skydive"))
			buf := make([]byte, 13)
			io.ReadFull(conn, buf)
			conn.Close()
			waitFor(t, "the end of the TCP connection", func() bool {
				for _, f := range tb.Flows() {
					if f.Transport != nil && f.FinishType == flow.TCPFin && f.Metric.ABPackets+f.Metric.BAPackets >= 8 {
						return true
					}
				}
				return false
			})
			c.Stop()
			fs := tb.Flows()
			if len(fs) != 1 {
				for _, f := range fs {
					t.Logf("flow %s %+v", f.LayersPath, f.Metric)
				}
				t.Fatalf("%d flows, want one TCP flow (no ICMP with filter tcp)", len(fs))
			}
			f := fs[0]
			if f.LayersPath != "Ethernet/IPv4/TCP" || f.Transport.Protocol != flow.ProtoTCP || f.Transport.B != int64(port) || f.Transport.A == 0 {
				t.Errorf("flow %s Transport %+v, want TCP to port %d", f.LayersPath, f.Transport, port)
			}
			if f.Network.A != p.ipA || f.Metric.RTT <= 0 {
				t.Errorf("Network %+v RTT %d", f.Network, f.Metric.RTT)
			}
		})
	}
}

// TestPrivilegedRawPackets checks raw packets on a live capture and that
// a stopped capture leaves the namespace's interface usable.
func TestPrivilegedRawPackets(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	p := newVethPair(t)
	spec := Spec{BPFFilter: "icmp", RawPacketLimit: 4, CaptureID: "raw", NodeTID: "tid"}
	tb := flow.NewTable(TableOptions(spec))
	c, err := Start(context.Background(), spec, Target{NsPath: p.pathB, IfName: p.ifB}, tb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	testutil.Sh(t, "ip", "netns", "exec", p.nsA, "ping", "-c", "3", "-i", "0.2", "-W", "1", p.ipB)
	waitFor(t, "6 packets", func() bool { return tb.Stats().PacketsReceived >= 6 })
	fs := tb.Flows()
	raw := c.RawPackets(fs)
	if len(fs) != 1 || len(raw[fs[0].UUID]) != 4 || fs[0].RawPacketsCaptured != 4 {
		t.Fatalf("flows %d, raw %d", len(fs), len(raw))
	}
}

// TestPrivilegedLonePacketReachesTheTable: a capture gathers packets in
// batches, but a packet with none after it reaches the table within a
// poll timeout, not when the next one comes.
func TestPrivilegedLonePacketReachesTheTable(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	for _, typ := range []string{TypeAFPacket, TypePcap} {
		t.Run(typ, func(t *testing.T) {
			p := newVethPair(t)
			_, tb := startOn(t, typ, "icmp", p)
			testutil.Sh(t, "ip", "netns", "exec", p.nsA, "ping", "-c", "1", "-W", "1", p.ipB)
			sent := time.Now()
			deadline := sent.Add(time.Second)
			for tb.Stats().PacketsReceived < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("%d packets in the table 1 s after the ping's reply, want 2", tb.Stats().PacketsReceived)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("request and reply in the table %v after ping returned", time.Since(sent).Round(time.Millisecond))
		})
	}
}

//go:build privileged

package lldp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/probetest"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

// A real lldpd on one end of a veth makes its switch and port appear on the
// other end.
func TestLLDPNeighbor(t *testing.T) {
	if _, err := exec.LookPath("lldpd"); err != nil {
		t.Skip("lldpd is not installed")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	ns, local, remote := "lldp"+sfx, "ll"+sfx+"a", "ll"+sfx+"b"
	testutil.Sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	testutil.Sh(t, "ip", "link", "add", local, "type", "veth", "peer", "name", remote)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", local).Run() })
	testutil.Sh(t, "ip", "link", "set", remote, "netns", ns)
	testutil.Sh(t, "ip", "link", "set", local, "up")
	testutil.Sh(t, "ip", "-n", ns, "link", "set", remote, "up")

	h := probetest.NewHost(t, "h", "")
	g, w, host := h.G, h.W, h.ID
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := New(Options{Writer: w, Host: host, Interfaces: []string{local}})
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()

	testutil.EventuallyTrue(t, 10*time.Second, "listening on "+local, func() bool {
		l := p.Listening()
		return len(l) == 1 && l[0] == local
	})
	// lldpd drops its privileges: its socket's folder must be reachable.
	dir, err := os.MkdirTemp("", "lldpd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// This host's own announcement first (the probe's socket sees it
	// leave; it is no neighbour), then the neighbour's lldpd: once the
	// neighbour shows, the earlier frame has been read.
	sendFrame(t, local, frame(t))
	runLLDPD(t, dir, "remote", []string{"ip", "netns", "exec", ns}, remote, "skydive test switch")

	var sw, port *graph.Node
	testutil.Eventually(t, 20*time.Second, "switch and port from lldpd", func() error {
		sw, port = nil, nil
		for _, n := range g.Nodes() {
			switch n.Metadata.String(graph.KeyType) {
			case "switch":
				sw = n
			case "switchport":
				port = n
			}
		}
		if sw == nil || port == nil {
			return fmt.Errorf("switch %v, port %v", sw, port)
		}
		l := w.OwnedNode(host, local)
		if l == nil || g.Edge(topology.EdgeID(port.ID, l.ID, topology.Layer2Link)) == nil {
			return fmt.Errorf("no layer2 edge from the port to %s", local)
		}
		return nil
	})
	if d, _ := sw.Metadata.Get("LLDP.Description"); d != "skydive test switch" {
		t.Errorf("switch description %v, metadata %v", d, sw.Metadata)
	}
	for _, n := range g.Nodes() {
		if d, _ := n.Metadata.Get("LLDP.Description"); d == "Skydive lab switch" {
			t.Errorf("the host's own announcement made a neighbour: %v", n.Metadata)
		}
	}
	if pd, _ := port.Metadata.Get("LLDP.PortID"); pd == "" || pd == nil {
		t.Errorf("port metadata %v", port.Metadata)
	}
	if s := p.State(); s != "running" {
		t.Errorf("state %q", s)
	}
	cancel()
	<-done
	if g.Node(sw.ID) != nil {
		t.Error("switch left after the probe stopped")
	}
}

// runLLDPD runs lldpd in the foreground (prefix: how to enter its
// namespace) until the test ends.
func runLLDPD(t *testing.T, dir, name string, prefix []string, iface, description string) {
	t.Helper()
	args := append(prefix, "lldpd", "-d", "-u", filepath.Join(dir, name+".sock"), "-I", iface, "-S", description)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("lldpd %s: %s", name, b)
		}
	})
}

// sendFrame sends an Ethernet frame out of an interface of this namespace.
func sendFrame(t *testing.T, iface string, data []byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	copy(to.Addr[:], data[:6])
	if err := unix.Sendto(fd, data, 0, to); err != nil {
		t.Fatal(err)
	}
}

//go:build privileged

package runc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/netns"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/runctest"
	"github.com/skydive-ng/skydive/internal/topology"
)

func node(g *graph.Graph, typ, name string) (*graph.Node, error) {
	var out []*graph.Node
	ns, _ := g.NodesByIndex(graph.KeyName, name)
	for _, n := range ns {
		if n.Metadata.String(graph.KeyType) == typ {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("%d %s nodes named %s", len(out), typ, name)
	}
	return out[0], nil
}

func owner(g *graph.Graph, id graph.Identifier) *graph.Node {
	for _, e := range g.InEdges(id) {
		if e.Metadata.String(graph.KeyRelationType) == topology.OwnershipLink {
			return g.Node(e.Parent)
		}
	}
	return nil
}

func TestContainersFromRealRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("runc not installed: %v", err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	p := "rc" + hex.EncodeToString(b)
	id1, id2, named := p+"a", p+"b", p+"ns"
	root := filepath.Join(t.TempDir(), "runroot") // made by runc: the probe waits for it
	nsRun := t.TempDir()                          // the netns probe's run_path, so it follows only this test's namespace

	g := graph.New()
	w := &topology.Writer{G: g, Host: "test", Origin: "agent.test"}
	hostID := topology.GenID("runc-test-host")
	if err := w.AddNode(hostID, graph.Metadata{"Name": "test", "Type": "host", "TID": string(hostID)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nsProbe := netns.New(netns.Options{Writer: w, Host: hostID, RunPath: nsRun})
	nsDone := make(chan struct{})
	go func() { _ = nsProbe.Run(ctx); close(nsDone) }()
	probe := New(Options{Writer: w, Host: hostID, Netns: nsProbe, RunPaths: []string{root}, Rescan: 200 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- probe.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-nsDone })

	// A container in a namespace of its own.
	b1 := runctest.Bundle(t, "")
	t.Cleanup(func() { _ = runctest.Run(t, root, "delete", "--force", id1) })
	if err := runctest.Run(t, root, "run", "-d", "--bundle", b1, id1); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "container in its namespace", func() error {
		c, err := node(g, TypeContainer, id1)
		if err != nil {
			return err
		}
		want := map[string]any{"Manager": "runc", "Container.ID": id1, "Container.Name": id1, "Container.Runtime": "runc",
			"Container.Bundle": b1, "Container.Status": StatusRunning, "Container.Labels.org.skydive.test": "yes"}
		for k, v := range want {
			if got, _ := c.Metadata.Get(k); got != v {
				return fmt.Errorf("%s = %v, want %v", k, got, v)
			}
		}
		if pid, _ := c.Metadata.Get("Container.InitProcessPID"); pid == nil || pid == int64(0) {
			return fmt.Errorf("InitProcessPID %v", pid)
		}
		ns := owner(g, c.ID)
		if ns == nil || ns.Metadata.String(graph.KeyType) != topology.TypeNetns {
			return fmt.Errorf("owner %v", ns)
		}
		if ns.Metadata.String(graph.KeyName) != id1 || ns.Metadata.String("Manager") != "runc" {
			return fmt.Errorf("netns node %v", ns.Metadata)
		}
		if w.OwnedNode(ns.ID, "lo") == nil {
			return fmt.Errorf("the namespace's lo not probed")
		}
		return nil
	})
	nsNode := owner(g, mustNode(t, g, id1).ID)
	if err := runctest.Run(t, root, "kill", id1, "KILL"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "killed container removed", func() error {
		if _, err := node(g, TypeContainer, id1); err == nil {
			return fmt.Errorf("container %s still there", id1)
		}
		if g.Node(nsNode.ID) != nil {
			return fmt.Errorf("its namespace still there")
		}
		return nil
	})
	if err := runctest.Run(t, root, "delete", "--force", id1); err != nil {
		t.Fatal(err)
	}

	// A container joining a named namespace that the netns probe follows.
	testutil.Sh(t, "ip", "netns", "add", named)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", named).Run() })
	nsFile := filepath.Join(nsRun, named)
	if err := os.WriteFile(nsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Sh(t, "mount", "--bind", "/var/run/netns/"+named, nsFile)
	t.Cleanup(func() { _ = exec.Command("umount", nsFile).Run() })
	var namedNode *graph.Node
	testutil.Eventually(t, 5*time.Second, "named namespace followed", func() (err error) {
		namedNode, err = node(g, topology.TypeNetns, named)
		return err
	})
	b2 := runctest.Bundle(t, "/var/run/netns/"+named)
	t.Cleanup(func() { _ = runctest.Run(t, root, "delete", "--force", id2) })
	if err := runctest.Run(t, root, "run", "-d", "--bundle", b2, id2); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "container in the named namespace", func() error {
		c, err := node(g, TypeContainer, id2)
		if err != nil {
			return err
		}
		if o := owner(g, c.ID); o == nil || o.ID != namedNode.ID {
			return fmt.Errorf("owner %v, want the named namespace", o)
		}
		if n := g.Node(namedNode.ID); n.Metadata.String("Manager") != "runc" {
			return fmt.Errorf("named namespace's Manager %v", n.Metadata["Manager"])
		}
		if _, err := node(g, topology.TypeNetns, id2); err == nil {
			return fmt.Errorf("a second node for the named namespace")
		}
		return nil
	})
	// Deleted through runc: the container goes, the named namespace stays.
	if err := runctest.Run(t, root, "kill", id2, "KILL"); err != nil {
		t.Fatal(err)
	}
	if err := runctest.Run(t, root, "delete", "--force", id2); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "container gone, named namespace kept", func() error {
		if _, err := node(g, TypeContainer, id2); err == nil {
			return fmt.Errorf("container %s still there", id2)
		}
		n := g.Node(namedNode.ID)
		if n == nil {
			return fmt.Errorf("named namespace removed")
		}
		if _, ok := n.Metadata["Manager"]; ok {
			return fmt.Errorf("named namespace keeps Manager %v", n.Metadata["Manager"])
		}
		return nil
	})

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func mustNode(t *testing.T, g *graph.Graph, name string) *graph.Node {
	t.Helper()
	n, err := node(g, TypeContainer, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

//go:build privileged

package ebpf

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skydive-ng/skydive/internal/flow"
)

// netns makes a namespace of its own for a test (its lo is up).
func netns(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ebpf" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	return "/var/run/netns/" + name
}

// A program the kernel refuses is reported as such, with the verifier's
// error inside.
func TestEBPFVerifierError(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(object))
	if err != nil {
		t.Fatal(err)
	}
	// Returning R0 without setting it: "R0 !read_ok".
	spec.Programs["skydive_ingress"].Instructions = asm.Instructions{asm.Return()}
	c, err := open(spec, netns(t), "lo", nil)
	if err == nil {
		c.Close()
		t.Fatal("a program the verifier refuses was loaded")
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "the kernel refused the ebpf flow program") {
		t.Fatalf("error %v (%T), want a wrapped *ebpf.VerifierError", err, errors.Unwrap(err))
	}
	t.Log(err)
}

// The embedded object loads and attaches (on lo of a namespace of the
// test's), and Close detaches it.
func TestEBPFOpenClose(t *testing.T) {
	c, err := Open(netns(t), "lo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Stats(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Poll(nil); err == nil {
		t.Fatal("Poll after Close")
	}
}

// Each poll feeds what the kernel counted since the previous one.
func TestEBPFPollDeltas(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	ns := netns(t)
	c, err := Open(ns, "lo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := func(n int) {
		t.Helper()
		// On lo each packet leaves (egress) and comes back (ingress).
		name := strings.TrimPrefix(ns, "/var/run/netns/")
		if out, err := exec.Command("ip", "netns", "exec", name, "ping", "-c", strconv.Itoa(n), "-i", "0.2", "127.0.0.1").CombinedOutput(); err != nil {
			t.Fatalf("ping: %v %s", err, out)
		}
	}
	poll := func() (packets uint64, recs int) {
		t.Helper()
		n, err := c.Poll(func(r flow.Record) {
			if r.Proto == flow.ProtoNumICMP {
				packets += r.Packets
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return packets, n
	}
	ping(2)
	if p, _ := poll(); p != 2*2*2 {
		t.Fatalf("first poll: %d ICMP packets, want 8 (2 requests and 2 replies, out and in)", p)
	}
	if p, n := poll(); p != 0 || n != 0 {
		t.Fatalf("second poll without traffic: %d packets in %d records", p, n)
	}
	ping(1)
	if p, _ := poll(); p != 4 {
		t.Fatalf("third poll: %d ICMP packets, want 4", p)
	}
	if packets, skipped, failed, err := c.Stats(); err != nil || packets < 12 || failed != 0 {
		t.Fatalf("Stats() = %d %d %d %v", packets, skipped, failed, err)
	}
}

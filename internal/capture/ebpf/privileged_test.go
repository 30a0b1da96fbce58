//go:build privileged

package ebpf

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
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

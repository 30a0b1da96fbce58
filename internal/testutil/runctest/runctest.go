// Package runctest makes OCI bundles of busybox (Debian's busybox-static)
// and runs runc for tests.
package runctest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Bundle makes an OCI bundle running busybox's sleep; netnsPath, if set,
// is the network namespace the container joins.
func Bundle(t *testing.T, netnsPath string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static not installed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(bin, l)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("runc", "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	var spec map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "600"}
	spec["annotations"] = map[string]string{"org.skydive.test": "yes"}
	if netnsPath != "" {
		linux := spec["linux"].(map[string]any)
		for _, ns := range linux["namespaces"].([]any) {
			if m := ns.(map[string]any); m["type"] == "network" {
				m["path"] = netnsPath
			}
		}
	}
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Run runs a runc command; its output goes to a file, not a pipe, which a
// detached container would keep open.
func Run(t *testing.T, root string, args ...string) error {
	t.Helper()
	log, err := os.CreateTemp(t.TempDir(), "runc")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command("runc", append([]string{"--root", root}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		return fmt.Errorf("runc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

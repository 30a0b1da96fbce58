// Package libvirttest runs a private libvirtd for tests, from Debian's
// libvirt-daemon: its own config, sockets and pidfile in a temporary folder,
// and only the built-in drivers (test, remote), so that it starts without
// the qemu user and leaves the system's libvirt alone.
package libvirttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Daemon is a running libvirtd.
type Daemon struct {
	Dir string
	// Socket is the read-write socket.
	Socket string
	t      *testing.T
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start runs libvirtd in a temporary folder; it is stopped when the test ends.
func Start(t *testing.T) *Daemon {
	t.Helper()
	if _, err := exec.LookPath("libvirtd"); err != nil {
		t.Fatalf("libvirtd not installed (apt-get install libvirt-daemon): %v", err)
	}
	// Not t.TempDir: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "lvt")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "libvirt-sock"), t: t}
	t.Cleanup(func() {
		d.Stop()
		os.RemoveAll(dir)
	})
	if err := os.Mkdir(filepath.Join(dir, "nodrivers"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`listen_tls = 0
listen_tcp = 0
unix_sock_dir = %q
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:%s"
`, dir, filepath.Join(dir, "libvirtd.log"))
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	return d
}

// URL is the test driver's default connection through this daemon.
func (d *Daemon) URL() string { return "test+unix:///default?socket=" + d.Socket }

// Restart starts libvirtd (again, after Stop or Kill) and waits for its socket.
func (d *Daemon) Restart() {
	d.t.Helper()
	if d.cmd != nil {
		d.t.Fatal("libvirtd already running")
	}
	for _, s := range []string{"libvirt-sock", "libvirt-sock-ro", "libvirt-admin-sock"} {
		_ = os.Remove(filepath.Join(d.Dir, s)) // left by a killed daemon
	}
	cmd := exec.Command("libvirtd", "-f", filepath.Join(d.Dir, "libvirtd.conf"), "-p", filepath.Join(d.Dir, "libvirtd.pid"))
	// Only the built-in drivers: the qemu one fails without its user.
	cmd.Env = append(os.Environ(), "LIBVIRT_DRIVER_DIR="+filepath.Join(d.Dir, "nodrivers"))
	out, err := os.Create(filepath.Join(d.Dir, "stdout.log"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start libvirtd: %v", err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(d.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(d.Socket); err == nil {
			return
		}
		select {
		case <-d.done:
			d.cmd = nil
			log, _ := os.ReadFile(filepath.Join(d.Dir, "libvirtd.log"))
			d.t.Fatalf("libvirtd exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("libvirtd socket %s not there within 10s", d.Socket)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends libvirtd abruptly, as a crash would.
func (d *Daemon) Kill() { d.signal(syscall.SIGKILL) }

// Stop ends libvirtd cleanly (SIGKILL after 5 s).
func (d *Daemon) Stop() { d.signal(syscall.SIGTERM) }

func (d *Daemon) signal(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// Running reports whether the daemon process is alive.
func (d *Daemon) Running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

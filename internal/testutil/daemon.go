package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Daemon is a server one of the repository's scripts runs in the
// background on a free loopback port: `SCRIPT start DIR PORT 127.0.0.1
// [args...]` and `SCRIPT stop DIR` (scripts/neutron-server.sh, keystone.sh).
type Daemon struct {
	Name string // for messages
	Dir  string
	Port int
	// Log is the file, in Dir, whose end failure messages show.
	Log string

	t      testing.TB
	script string
	args   []string

	mu      sync.Mutex
	running bool
}

// StartDaemon runs scripts/SCRIPT in a temporary folder on a free port,
// with extra start arguments; the server is stopped when the test ends.
func StartDaemon(t testing.TB, name, script, log string, extra ...string) *Daemon {
	t.Helper()
	d := &Daemon{Name: name, Dir: t.TempDir(), Port: FreePort(t), Log: log, t: t,
		script: RepoFile(t, filepath.Join("scripts", script)), args: extra}
	// Registered after TempDir's own cleanup, so it runs before it: the
	// server is gone before its folder is removed.
	t.Cleanup(d.Stop)
	d.start()
	return d
}

func (d *Daemon) start() {
	d.t.Helper()
	begin := time.Now()
	args := append([]string{"start", d.Dir, strconv.Itoa(d.Port), "127.0.0.1"}, d.args...)
	out, err := exec.Command(d.script, args...).CombinedOutput()
	if err != nil {
		d.t.Fatalf("%s start: %v\n%s\n%s", d.Name, err, out, d.logTail())
	}
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
	d.t.Logf("%s on port %d in %s", d.Name, d.Port, time.Since(begin).Round(100*time.Millisecond))
}

func (d *Daemon) logTail() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, d.Log))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop stops the server; what it keeps in Dir stays for Restart.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running {
		return
	}
	if out, err := exec.Command(d.script, "stop", d.Dir).CombinedOutput(); err != nil {
		d.t.Errorf("%s stop: %v\n%s", d.Name, err, out)
		return
	}
	d.running = false
}

// Restart starts the server again on the same port and folder.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// CountLines counts the lines of file (in Dir) that contain every one of
// substrs.
func (d *Daemon) CountLines(file string, substrs ...string) int {
	b, err := os.ReadFile(filepath.Join(d.Dir, file))
	if err != nil {
		d.t.Fatalf("%s: %v", d.Name, err)
	}
	c := 0
lines:
	for _, line := range strings.Split(string(b), "\n") {
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				continue lines
			}
		}
		c++
	}
	return c
}

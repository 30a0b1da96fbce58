// Package ovstest starts a private ovsdb-server and ovs-vswitchd (userspace
// datapath) for tests, from Debian's openvswitch-switch.
package ovstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OVS is a running Open vSwitch.
type OVS struct {
	Dir string
	// DB is the ovsdb-server socket, as ovs-vsctl's --db wants it.
	DB string
	t  *testing.T
}

// Start runs ovsdb-server and ovs-vswitchd in a temporary folder; both are
// stopped when the test ends.
func Start(t *testing.T) *OVS {
	t.Helper()
	for _, b := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s not installed (apt-get install openvswitch-switch): %v", b, err)
		}
	}
	dir, err := os.MkdirTemp("", "ovstest")
	if err != nil {
		t.Fatal(err)
	}
	o := &OVS{Dir: dir, DB: "unix:" + filepath.Join(dir, "db.sock"), t: t}
	t.Cleanup(func() {
		o.Stop()
		os.RemoveAll(dir)
	})
	o.run("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema")
	o.StartDB()
	o.Vsctl("--no-wait", "init")
	o.run("ovs-vswitchd", o.DB, "--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"),
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"), "--detach")
	return o
}

func (o *OVS) env() []string {
	return append(os.Environ(), "OVS_RUNDIR="+o.Dir, "OVS_LOGDIR="+o.Dir, "OVS_DBDIR="+o.Dir)
}

func (o *OVS) run(name string, args ...string) string {
	o.t.Helper()
	cmd := exec.Command("timeout", append([]string{"20", name}, args...)...)
	cmd.Env = o.env()
	cmd.Dir = o.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// StartDB starts ovsdb-server (again, after StopDB).
func (o *OVS) StartDB() {
	o.t.Helper()
	o.run("ovsdb-server", filepath.Join(o.Dir, "conf.db"), "--remote=punix:"+filepath.Join(o.Dir, "db.sock"),
		"--pidfile="+filepath.Join(o.Dir, "ovsdb-server.pid"), "--log-file="+filepath.Join(o.Dir, "ovsdb-server.log"), "--detach")
}

// StopDB kills ovsdb-server.
func (o *OVS) StopDB() { o.kill("ovsdb-server.pid") }

// Vsctl runs ovs-vsctl on this switch.
func (o *OVS) Vsctl(args ...string) string {
	o.t.Helper()
	return o.run("ovs-vsctl", append([]string{"--db=" + o.DB}, args...)...)
}

func (o *OVS) kill(pidfile string) {
	b, err := os.ReadFile(filepath.Join(o.Dir, pidfile))
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// Stop ends both daemons. The userspace datapath makes its bridges' and
// internal ports' tap devices persistent: they are deleted too, or every
// test run would leave them behind on the host.
func (o *OVS) Stop() {
	taps := o.tapDevices()
	o.kill("ovs-vswitchd.pid")
	o.kill("ovsdb-server.pid")
	for _, name := range taps {
		_ = exec.Command("ip", "link", "del", name).Run()
	}
}

// tapDevices lists the interfaces the datapath backs with a tap device
// (bridges' own ports and internal ports), best effort: the database may be
// stopped already.
func (o *OVS) tapDevices() []string {
	cmd := exec.Command("timeout", "5", "ovs-vsctl", "--db="+o.DB, "--format=csv", "--no-headings", "--columns=name,type", "list", "Interface")
	cmd.Env = o.env()
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var taps []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, typ, ok := strings.Cut(line, ",")
		if ok && typ == "internal" {
			taps = append(taps, strings.Trim(name, `"`))
		}
	}
	return taps
}

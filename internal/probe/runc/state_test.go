package runc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *container
		err  string
	}{
		{file: "state.json", want: &container{
			ID: "web1", PID: 22331, Start: 68301, Created: time.Date(2026, 12, 7, 0, 51, 10, 940996747, time.UTC),
			Labels: map[string]any{"org.example.tier": "front", "org.example.replicas": float64(3),
				"org.example.meta": map[string]any{"a": float64(1)}, "bundle": "/srv/bundles/web1"},
			Bundle: "/srv/bundles/web1", Hostname: "web1.example", NetnsPath: "/proc/22331/ns/net",
			FreezePath: "/sys/fs/cgroup/freezer/web1/freezer.state",
		}},
		// runc before 1.0: start time as a string, no namespace paths; cgroup v2.
		{file: "state-old.json", want: &container{
			ID: "old", PID: 4242, Start: 12345, Created: time.Date(2018, 3, 1, 10, 0, 0, 0, time.UTC),
			Labels: map[string]any{"bundle": "/old/bundle"}, Bundle: "/old/bundle", NetnsPath: "/proc/4242/ns/net",
			FreezePath: "/sys/fs/cgroup/system.slice/old.scope/cgroup.freeze",
		}},
		{file: "state-broken.json", err: "state.json"},
		{file: "state-noid.json", err: "no id"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseState(b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	tail := " 1 1 0 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 68301 1000 10 18446744073709551615"
	for _, tc := range []struct {
		in   string
		want procStat
		err  bool
	}{
		{in: "22331 (sleep) S" + tail, want: procStat{State: 'S', Start: 68301}},
		{in: "7 (a) b) (c) Z" + tail, want: procStat{State: 'Z', Start: 68301}},
		{in: "7 (sleep S 1 2", err: true},
		{in: "7 (sleep) S 1 2 3", err: true},
	} {
		got, err := parseProcStat([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestStatus(t *testing.T) {
	stat := func(state string, start string) []byte {
		return []byte("100 (sleep) " + state + " 1 1 0 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 " + start + " 1000 10")
	}
	for _, tc := range []struct {
		name   string
		c      container
		files  map[string][]byte
		fifo   bool
		status string
	}{
		{name: "no pid", c: container{}, status: StatusStopped},
		{name: "pid gone", c: container{PID: 100, Start: 5}, status: StatusStopped},
		{name: "pid reused", c: container{PID: 100, Start: 5}, files: map[string][]byte{"/proc/100/stat": stat("S", "6")}, status: StatusStopped},
		{name: "zombie", c: container{PID: 100, Start: 5}, files: map[string][]byte{"/proc/100/stat": stat("Z", "5")}, status: StatusStopped},
		{name: "created", c: container{PID: 100, Start: 5}, files: map[string][]byte{"/proc/100/stat": stat("S", "5")}, fifo: true, status: StatusCreated},
		{name: "running", c: container{PID: 100, Start: 5, FreezePath: "/f"}, files: map[string][]byte{"/proc/100/stat": stat("S", "5"), "/f": []byte("THAWED\n")}, status: StatusRunning},
		{name: "paused v1", c: container{PID: 100, Start: 5, FreezePath: "/f"}, files: map[string][]byte{"/proc/100/stat": stat("S", "5"), "/f": []byte("FROZEN\n")}, status: StatusPaused},
		{name: "paused v2", c: container{PID: 100, Start: 5, FreezePath: "/f"}, files: map[string][]byte{"/proc/100/stat": stat("S", "5"), "/f": []byte("1\n")}, status: StatusPaused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.fifo {
				if err := os.WriteFile(filepath.Join(dir, "exec.fifo"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			read := func(p string) ([]byte, error) {
				if b, ok := tc.files[p]; ok {
					return b, nil
				}
				return nil, errors.New("no such file")
			}
			if got := status(dir, &tc.c, read); got != tc.status {
				t.Errorf("got %s, want %s", got, tc.status)
			}
		})
	}
}

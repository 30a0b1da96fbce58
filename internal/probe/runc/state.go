package runc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Container statuses, as `runc state` names them.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusPaused  = "paused"
	StatusStopped = "stopped"
)

// stateFile is the part of runc's <root>/<id>/state.json the probe reads.
type stateFile struct {
	ID               string    `json:"id"`
	InitProcessPid   int       `json:"init_process_pid"`
	InitProcessStart startTime `json:"init_process_start"`
	Created          time.Time `json:"created"`
	Config           struct {
		Labels     []string `json:"labels"`
		Hostname   string   `json:"hostname"`
		Namespaces []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"namespaces"`
	} `json:"config"`
	NamespacePaths map[string]string `json:"namespace_paths"`
	CgroupPaths    map[string]string `json:"cgroup_paths"`
}

// startTime is the init process' start time in clock ticks since boot;
// runc wrote it as a string before 1.0.
type startTime uint64

func (s *startTime) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 {
		*s = 0
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("init_process_start: %w", err)
	}
	*s = startTime(v)
	return nil
}

// container is what the probe keeps of a state.json.
type container struct {
	ID         string
	PID        int
	Start      uint64
	Created    time.Time
	Labels     map[string]any
	Bundle     string
	Hostname   string
	NetnsPath  string // the network namespace, as seen through the init process
	FreezePath string // cgroup v1 freezer.state or v2 cgroup.freeze, "" if unknown
}

// parseState reads a state.json.
func parseState(b []byte) (*container, error) {
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state.json: %w", err)
	}
	if s.ID == "" {
		return nil, errors.New("state.json: no id")
	}
	c := &container{ID: s.ID, PID: s.InitProcessPid, Start: uint64(s.InitProcessStart), Created: s.Created,
		Hostname: s.Config.Hostname, Labels: parseLabels(s.Config.Labels)}
	if b, ok := c.Labels["bundle"].(string); ok {
		c.Bundle = b
	}
	c.NetnsPath = s.NamespacePaths["NEWNET"]
	if c.NetnsPath == "" && c.PID > 0 {
		c.NetnsPath = fmt.Sprintf("/proc/%d/ns/net", c.PID)
	}
	if p := s.CgroupPaths["freezer"]; p != "" {
		c.FreezePath = filepath.Join(p, "freezer.state")
	} else if p := s.CgroupPaths[""]; p != "" {
		c.FreezePath = filepath.Join(p, "cgroup.freeze")
	}
	return c, nil
}

// parseLabels turns runc's key=value labels (bundle, and the OCI
// annotations) into a map; values that are JSON are decoded, as the
// original did.
func parseLabels(raw []string) map[string]any {
	labels := map[string]any{}
	for _, l := range raw {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			continue
		}
		var decoded any
		if json.Unmarshal([]byte(v), &decoded) == nil && decoded != nil {
			labels[k] = decoded
		} else {
			labels[k] = v
		}
	}
	return labels
}

// procStat is what the status needs of /proc/<pid>/stat.
type procStat struct {
	State byte
	Start uint64
}

// parseProcStat reads /proc/<pid>/stat: the fields after the command
// (which may hold spaces and parentheses) start with the state; the start
// time is field 22.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("stat: no command")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("stat: too few fields")
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat start time: %w", err)
	}
	return procStat{State: f[0][0], Start: start}, nil
}

// status tells what runc state would: stopped when the init process is
// gone (or its pid reused), created until it execs (exec.fifo is still
// there), paused when its cgroup is frozen.
func status(dir string, c *container, readFile func(string) ([]byte, error)) string {
	if c.PID <= 0 {
		return StatusStopped
	}
	b, err := readFile(fmt.Sprintf("/proc/%d/stat", c.PID))
	if err != nil {
		return StatusStopped
	}
	ps, err := parseProcStat(b)
	if err != nil || ps.State == 'Z' || ps.State == 'X' || (c.Start != 0 && ps.Start != c.Start) {
		return StatusStopped
	}
	if _, err := os.Stat(filepath.Join(dir, "exec.fifo")); err == nil {
		return StatusCreated
	}
	if c.FreezePath != "" {
		if b, err := readFile(c.FreezePath); err == nil {
			if s := strings.TrimSpace(string(b)); s == "FROZEN" || s == "1" {
				return StatusPaused
			}
		}
	}
	return StatusRunning
}

// Package host makes the agent's root node: the host, with what the system
// says of itself (OS, kernel, CPUs).
package host

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// NodeID is the ID of a host's node.
func NodeID(hostID string) graph.Identifier { return topology.GenID(hostID) }

// Metadata describes this machine as the host hostID.
func Metadata(hostID string, extra map[string]any) graph.Metadata {
	m := graph.Metadata{
		graph.KeyName:   hostID,
		graph.KeyType:   topology.TypeHost,
		topology.KeyTID: string(NodeID(hostID)),
		"OS":            runtime.GOOS,
		"CPU":           runtime.NumCPU(),
	}
	if h, err := os.Hostname(); err == nil {
		m["Hostname"] = h
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m["KernelVersion"] = unix.ByteSliceToString(u.Release[:])
		m["Architecture"] = unix.ByteSliceToString(u.Machine[:])
	}
	for k, v := range osRelease() {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func osRelease() map[string]string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			out["Platform"] = v
		case "VERSION_ID":
			out["PlatformVersion"] = v
		case "ID_LIKE":
			out["PlatformFamily"] = v
		}
	}
	return out
}

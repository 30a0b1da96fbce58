// Package runc is the probe of runc containers: it follows runc's state
// folders (inotify, and a periodic pass that also notices dead init
// processes), and keeps each live container as a node owned by its network
// namespace, which it has the netns probe follow so that the container's
// interfaces are in the graph too.
package runc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Node type and metadata of the probe.
const (
	TypeContainer = "container"
	Manager       = "runc"
	KeyContainer  = "Container"
	KeyManager    = "Manager"
)

// DefaultRunPaths are agent.topology.runc.run_path's default.
var DefaultRunPaths = []string{"/run/containerd/runc", "/run/runc", "/run/runc-ctrs"}

// NetnsRegistry follows network namespaces given by path; the netns probe
// is one.
type NetnsRegistry interface {
	// Register returns the node of the namespace at path, making it if it
	// is not followed yet (extra is its metadata then).
	Register(path string, extra graph.Metadata) (graph.Identifier, error)
	// Unregister drops one Register of path.
	Unregister(path string)
}

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Host is the host node: owner of the containers in the agent's namespace.
	Host graph.Identifier
	// Netns follows the containers' namespaces; without it, containers are
	// owned by the host and their interfaces not probed.
	Netns NetnsRegistry
	// RunPaths are runc --root folders (default DefaultRunPaths); missing
	// ones are waited for.
	RunPaths []string
	Logger   *slog.Logger
	// Rescan is the period of the pass that notices dead init processes,
	// frozen cgroups and run paths that appear (default 1 s).
	Rescan time.Duration
}

// Probe follows the run paths.
type Probe struct {
	opts    Options
	log     *slog.Logger
	hostIno uint64
	hostTID string

	// Only Run's goroutine touches these.
	inotify    int
	containers map[string]*tracked // by state folder
}

type tracked struct {
	c      *container
	stamp  fileStamp
	id     graph.Identifier
	owner  graph.Identifier
	nsPath string // given to Netns.Register, "" for the host
}

type fileStamp struct {
	ino   uint64
	size  int64
	mtime int64
}

// New returns the probe.
func New(opts Options) *Probe {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.RunPaths) == 0 {
		opts.RunPaths = DefaultRunPaths
	}
	if opts.Rescan <= 0 {
		opts.Rescan = time.Second
	}
	var st unix.Stat_t
	var hostIno uint64
	if unix.Stat("/proc/self/ns/net", &st) == nil {
		hostIno = st.Ino
	}
	return &Probe{opts: opts, log: opts.Logger.With("probe", "runc"), hostIno: hostIno, inotify: -1,
		containers: map[string]*tracked{}}
}

// Run follows the run paths until ctx ends, then removes its nodes.
func (p *Probe) Run(ctx context.Context) error {
	if h := p.opts.Writer.G.Node(p.opts.Host); h != nil {
		p.hostTID = h.Metadata.String(topology.KeyTID)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	p.inotify = fd
	f := os.NewFile(uintptr(fd), "inotify")
	changed := make(chan struct{}, 1)
	readErr := make(chan error, 1)
	go func() { readErr <- drain(f, changed) }()
	defer func() {
		f.Close()
		<-readErr
		for dir := range p.containers {
			p.drop(dir)
		}
	}()

	tick := time.NewTicker(p.opts.Rescan)
	defer tick.Stop()
	for {
		p.scan()
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			readErr <- nil // for the deferred wait
			return fmt.Errorf("read inotify: %w", err)
		case <-changed:
		case <-tick.C:
		}
	}
}

// drain turns inotify events into pokes: every change leads to a pass over
// the folders, which is cheap and never misses what happened meanwhile.
func drain(f *os.File, changed chan<- struct{}) error {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		if _, err := f.Read(buf); err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		select {
		case changed <- struct{}{}:
		default:
		}
	}
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF

// watch adds an inotify watch on dir; adding one again is harmless, and a
// folder removed and made again needs it.
func (p *Probe) watch(dir string) {
	if _, err := unix.InotifyAddWatch(p.inotify, dir, watchMask); err != nil && !errors.Is(err, unix.ENOENT) {
		p.log.Debug("watch runc folder", "path", dir, "err", err)
	}
}

// scan makes the graph match the run paths: <root>/<id>/state.json, or
// <root>/<namespace>/<id>/state.json as containerd lays them out.
func (p *Probe) scan() {
	seen := map[string]bool{}
	for _, root := range p.opts.RunPaths {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue // not there (yet): the next pass looks again
		}
		p.watch(root)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(root, e.Name())
			p.watch(dir)
			if p.container(dir) {
				seen[dir] = true
				continue
			}
			subs, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, s := range subs {
				if !s.IsDir() {
					continue
				}
				sub := filepath.Join(dir, s.Name())
				p.watch(sub)
				if p.container(sub) {
					seen[sub] = true
				}
			}
		}
	}
	for dir := range p.containers {
		if !seen[dir] {
			p.drop(dir)
		}
	}
}

// container brings the container of a state folder up to date and tells
// whether it is a live one.
func (p *Probe) container(dir string) bool {
	path := filepath.Join(dir, "state.json")
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	stamp := fileStamp{ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano()}
	t := p.containers[dir]
	c := (*container)(nil)
	if t != nil && t.stamp == stamp {
		c = t.c
	} else {
		b, err := os.ReadFile(path)
		if err == nil {
			c, err = parseState(b)
		}
		if err != nil {
			p.log.Debug("read runc state", "path", path, "err", err)
			return t != nil // keep what was known; runc writes it atomically
		}
	}
	s := status(dir, c, os.ReadFile)
	if s == StatusStopped {
		return false
	}
	if t != nil && (t.c.PID != c.PID || t.c.NetnsPath != c.NetnsPath) {
		p.drop(dir) // a new init process (runc restarted the container)
		t = nil
	}
	if t == nil {
		t = &tracked{id: topology.GenID(p.hostTID, Manager, dir)}
	}
	t.c, t.stamp = c, stamp
	if err := p.write(dir, t, s); err != nil {
		p.log.Debug("runc container not in the graph yet", "container", c.ID, "err", err)
		if p.containers[dir] == nil {
			p.release(t)
		}
		return false
	}
	p.containers[dir] = t
	return true
}

// write puts the container's node, owned by its namespace's node.
func (p *Probe) write(dir string, t *tracked, status string) error {
	w, c := p.opts.Writer, t.c
	if t.owner != "" && w.G.Node(t.owner) == nil {
		p.release(t) // the namespace's node went (its netns file removed): register again
	}
	if t.owner == "" {
		owner, nsPath, err := p.namespaceOwner(c)
		if err != nil {
			return err
		}
		t.owner, t.nsPath = owner, nsPath
	}
	cm := graph.Metadata{
		"ID": c.ID, graph.KeyName: c.ID, "Runtime": Manager, "InitProcessPID": int64(c.PID), "Status": status,
	}
	if !c.Created.IsZero() {
		cm["CreatedAt"] = c.Created.UnixMilli()
	}
	if c.Bundle != "" {
		cm["Bundle"] = c.Bundle
	}
	if c.Hostname != "" {
		cm["Hostname"] = c.Hostname
	}
	if len(c.Labels) > 0 {
		cm["Labels"] = c.Labels
	}
	m := graph.Metadata{
		graph.KeyName: c.ID, graph.KeyType: TypeContainer, KeyManager: Manager, KeyContainer: cm,
		topology.KeyTID: string(t.id),
	}
	if err := w.AddNode(t.id, m); err != nil {
		return fmt.Errorf("container node: %w", err)
	}
	for _, e := range w.G.InEdges(t.id) { // a previous owner
		if e.Parent != t.owner && e.Metadata.String(graph.KeyRelationType) == topology.OwnershipLink {
			_ = w.G.DeleteEdge(e.ID)
		}
	}
	if _, err := w.Link(t.owner, t.id, topology.OwnershipLink, nil); err != nil {
		return fmt.Errorf("container ownership: %w", err)
	}
	return nil
}

// namespaceOwner returns the node of the container's network namespace:
// the host's for a container sharing the agent's, else the netns probe's.
func (p *Probe) namespaceOwner(c *container) (graph.Identifier, string, error) {
	var st unix.Stat_t
	if err := unix.Stat(c.NetnsPath, &st); err != nil {
		return "", "", fmt.Errorf("network namespace of %s: %w", c.ID, err)
	}
	if st.Ino == p.hostIno || p.opts.Netns == nil {
		return p.opts.Host, "", nil
	}
	id, err := p.opts.Netns.Register(c.NetnsPath, graph.Metadata{graph.KeyName: c.ID, KeyManager: Manager})
	if err != nil {
		return "", "", err
	}
	return id, c.NetnsPath, nil
}

// release gives the container's namespace back.
func (p *Probe) release(t *tracked) {
	if t.nsPath != "" {
		p.opts.Netns.Unregister(t.nsPath)
	}
	t.owner, t.nsPath = "", ""
}

// drop removes a container that went.
func (p *Probe) drop(dir string) {
	t := p.containers[dir]
	if t == nil {
		return
	}
	delete(p.containers, dir)
	_ = p.opts.Writer.G.DeleteNode(t.id)
	p.release(t)
}

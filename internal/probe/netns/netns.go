// Package netns is the probe of named network namespaces (the files of
// /var/run/netns, as `ip netns` makes them). Each appears as a netns node
// owned by the host, with a netlink probe inside it; a namespace that goes
// away takes its subgraph with it.
package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	nlprobe "github.com/skydive-ng/skydive/internal/probe/netlink"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Options configure the probe.
type Options struct {
	Writer  *topology.Writer
	Host    graph.Identifier
	RunPath string
	Peers   *nlprobe.VethLinker
	// Overlays hold other probes' metadata of the namespaces' interfaces.
	Overlays      *topology.Overlays
	MetricsPeriod time.Duration
	Logger        *slog.Logger
	// MountWait bounds the wait for `ip netns add` to bind-mount a new file.
	MountWait time.Duration
}

// Probe watches RunPath.
type Probe struct {
	opts    Options
	log     *slog.Logger
	hostIno uint64

	mu      sync.Mutex
	runCtx  context.Context // Run's, nil when not running: Register needs it
	watched map[string]*watchedNs
	users   map[string]string // path given to Register -> key of watched
	wg      sync.WaitGroup
}

type watchedNs struct {
	id    graph.Identifier // "" until its node exists
	ino   uint64
	named bool // a file of RunPath, as opposed to one given to Register
	// users are the paths given to Register that resolve to this namespace;
	// a registered namespace goes with its last user.
	users        map[string]bool
	addedManager bool
	cancel       context.CancelFunc
	done         chan struct{}
}

// New returns the probe.
func New(opts Options) *Probe {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MountWait <= 0 {
		opts.MountWait = 3 * time.Second
	}
	var st unix.Stat_t
	var hostIno uint64
	if unix.Stat("/proc/self/ns/net", &st) == nil {
		hostIno = st.Ino
	}
	return &Probe{opts: opts, log: opts.Logger.With("probe", "netns"), hostIno: hostIno, watched: map[string]*watchedNs{}, users: map[string]string{}}
}

const nsfsMagic = 0x6e736673

// Run watches the folder until ctx ends.
func (p *Probe) Run(ctx context.Context) error {
	if err := os.MkdirAll(p.opts.RunPath, 0o755); err != nil {
		return fmt.Errorf("netns folder: %w", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, p.opts.RunPath, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_ATTRIB); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", p.opts.RunPath, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	p.mu.Lock()
	p.runCtx = ctx
	p.mu.Unlock()
	defer p.stopAll()

	entries, err := os.ReadDir(p.opts.RunPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.opts.RunPath, err)
	}
	for _, e := range entries {
		p.add(ctx, filepath.Join(p.opts.RunPath, e.Name()))
	}
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read inotify: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name := unix.ByteSliceToString(nameBytes)
			if name == "" {
				continue
			}
			path := filepath.Join(p.opts.RunPath, name)
			switch {
			case ev.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
				p.remove(path)
			case ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ATTRIB) != 0:
				p.add(ctx, path)
			}
		}
	}
}

// add starts watching a namespace file once it is a mounted namespace.
func (p *Probe) add(ctx context.Context, path string) {
	p.mu.Lock()
	if _, ok := p.watched[path]; ok {
		p.mu.Unlock()
		return
	}
	nctx, cancel := context.WithCancel(ctx)
	w := &watchedNs{named: true, users: map[string]bool{}, cancel: cancel, done: make(chan struct{})}
	p.watched[path] = w
	p.mu.Unlock()

	p.wg.Add(1)
	p.start(nctx, path, w)
}

func (p *Probe) start(ctx context.Context, path string, w *watchedNs) {
	go func() {
		defer p.wg.Done()
		defer close(w.done)
		p.follow(ctx, path, w)
	}()
}

func (p *Probe) follow(ctx context.Context, path string, w *watchedNs) {
	wr := p.opts.Writer
	if w.named { // Register made the node of the others
		ino, err := p.waitMounted(ctx, path)
		if err != nil {
			p.log.Debug("not a namespace", "path", path, "err", err)
			p.forget(path, w)
			return
		}
		if ino == p.hostIno {
			p.forget(path, w)
			return
		}
		id, err := p.addNode(path, ino, nil)
		if err != nil {
			p.log.Warn("add netns node", "path", path, "err", err)
			return
		}
		p.mu.Lock()
		w.id, w.ino = id, ino
		p.mu.Unlock()
	}
	defer wr.DeleteSubtree(w.id)

	// The netlink probe of the namespace; restarted if its subscription fails.
	for backoff := 100 * time.Millisecond; ctx.Err() == nil; backoff = min(backoff*2, 5*time.Second) {
		probe, err := nlprobe.New(nlprobe.Options{
			Writer: wr, Owner: w.id, NsPath: path, Peers: p.opts.Peers, Overlays: p.opts.Overlays,
			MetricsPeriod: p.opts.MetricsPeriod, Logger: p.opts.Logger,
		})
		if err == nil {
			if p.opts.Peers != nil {
				p.opts.Peers.AddNamespace(path, probe.NsHandle())
			}
			err = probe.Run(ctx)
			if p.opts.Peers != nil {
				p.opts.Peers.RemoveNamespace(path)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if _, serr := os.Stat(path); serr != nil {
			return
		}
		p.log.Warn("netlink probe of namespace stopped, restarting", "path", path, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// addNode writes the node of the namespace at path, owned by the host.
func (p *Probe) addNode(path string, ino uint64, extra graph.Metadata) (graph.Identifier, error) {
	wr := p.opts.Writer
	hostTID := ""
	if h := wr.G.Node(p.opts.Host); h != nil {
		hostTID = h.Metadata.String(topology.KeyTID)
	}
	id := topology.GenID(hostTID, path, topology.TypeNetns)
	m := graph.Metadata{
		graph.KeyName:    filepath.Base(path),
		graph.KeyType:    topology.TypeNetns,
		topology.KeyPath: path,
		"Inode":          int64(ino),
		topology.KeyTID:  string(id),
	}
	for k, v := range extra {
		m[k] = v
	}
	if err := wr.AddNode(id, m); err != nil {
		return "", err
	}
	if _, err := wr.Link(p.opts.Host, id, topology.OwnershipLink, nil); err != nil {
		_ = wr.G.DeleteNode(id)
		return "", err
	}
	return id, nil
}

// KeyManager names what made a namespace (runc, docker...).
const KeyManager = "Manager"

// ErrNotRunning is Register's answer outside of Run.
var ErrNotRunning = errors.New("netns probe not running")

// Register follows the namespace at path (such as a container's
// /proc/<pid>/ns/net) as a netns node with the extra metadata, and returns
// the node. A namespace the probe already follows (a named one of RunPath,
// or one registered through another path) is not duplicated: its node is
// returned, and given extra's Manager if it has none. The agent's own
// namespace is the host node. Each Register of a path wants an Unregister.
func (p *Probe) Register(path string, extra graph.Metadata) (graph.Identifier, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return "", fmt.Errorf("namespace %s: %w", path, err)
	}
	if fs.Type != nsfsMagic {
		return "", fmt.Errorf("%s is not a network namespace", path)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("namespace %s: %w", path, err)
	}
	if st.Ino == p.hostIno {
		return p.opts.Host, nil
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runCtx == nil || p.runCtx.Err() != nil {
		return "", ErrNotRunning
	}
	if key, ok := p.users[path]; ok {
		if w := p.watched[key]; w != nil && w.ino == st.Ino {
			return w.id, nil
		}
		p.dropUserLocked(path) // a pid reused for another namespace
	}
	for key, w := range p.watched {
		if w.id == "" || w.ino != st.Ino {
			continue
		}
		w.users[path] = true
		p.users[path] = key
		if mgr, ok := extra[KeyManager]; ok && w.named {
			_ = p.opts.Writer.G.UpdateNodeMetadata(w.id, func(m graph.Metadata) bool {
				if _, has := m[KeyManager]; has {
					return false
				}
				m[KeyManager] = mgr
				w.addedManager = true
				return true
			})
		}
		return w.id, nil
	}
	if _, pending := p.watched[path]; pending {
		return "", fmt.Errorf("namespace %s: not followed yet, try again", path)
	}
	id, err := p.addNode(path, st.Ino, extra)
	if err != nil {
		return "", fmt.Errorf("netns node of %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(p.runCtx)
	w := &watchedNs{id: id, ino: st.Ino, users: map[string]bool{path: true}, cancel: cancel, done: make(chan struct{})}
	p.watched[path] = w
	p.users[path] = path
	p.wg.Add(1)
	p.start(ctx, path, w)
	return id, nil
}

// Unregister drops a path given to Register; the namespace's node goes with
// its last user (a named namespace stays, without the Manager it was given).
func (p *Probe) Unregister(path string) {
	p.mu.Lock()
	key, ok := p.users[path]
	if !ok {
		p.mu.Unlock()
		return
	}
	w := p.dropUserLocked(path)
	if w == nil || w.named || len(w.users) > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.watched, key)
	p.mu.Unlock()
	w.cancel()
	<-w.done
}

// dropUserLocked forgets one user of a namespace and returns the namespace.
func (p *Probe) dropUserLocked(path string) *watchedNs {
	key := p.users[path]
	delete(p.users, path)
	w := p.watched[key]
	if w == nil {
		return nil
	}
	delete(w.users, path)
	if w.named && len(w.users) == 0 && w.addedManager {
		w.addedManager = false
		_ = p.opts.Writer.G.UpdateNodeMetadata(w.id, func(m graph.Metadata) bool {
			delete(m, KeyManager)
			return true
		})
	}
	return w
}

func (p *Probe) forget(path string, w *watchedNs) {
	p.mu.Lock()
	if p.watched[path] == w {
		delete(p.watched, path)
	}
	p.mu.Unlock()
}

// waitMounted waits until path is a namespace (ip netns add creates the file
// first, then bind-mounts the namespace on it) and returns its inode.
func (p *Probe) waitMounted(ctx context.Context, path string) (uint64, error) {
	deadline := time.Now().Add(p.opts.MountWait)
	for {
		var fs unix.Statfs_t
		err := unix.Statfs(path, &fs)
		if err == nil && fs.Type == nsfsMagic {
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err != nil {
				return 0, err
			}
			return st.Ino, nil
		}
		if errors.Is(err, syscall.ENOENT) {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s is not a mounted network namespace", path)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// remove stops watching a namespace and removes its subgraph.
func (p *Probe) remove(path string) {
	p.mu.Lock()
	w, ok := p.watched[path]
	if ok && w.named {
		delete(p.watched, path)
		// Its users' next Register makes a node of their own.
		for u := range w.users {
			delete(p.users, u)
		}
	} else {
		ok = false // registered ones go with their users
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	w.cancel()
	<-w.done
}

func (p *Probe) stopAll() {
	p.mu.Lock()
	ws := p.watched
	p.watched = map[string]*watchedNs{}
	p.users = map[string]string{}
	p.runCtx = nil
	p.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	p.wg.Wait()
}

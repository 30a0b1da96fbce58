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
	watched map[string]*watchedNs
	wg      sync.WaitGroup
}

type watchedNs struct {
	id     graph.Identifier
	cancel context.CancelFunc
	done   chan struct{}
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
	return &Probe{opts: opts, log: opts.Logger.With("probe", "netns"), hostIno: hostIno, watched: map[string]*watchedNs{}}
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
	w := &watchedNs{cancel: cancel, done: make(chan struct{})}
	p.watched[path] = w
	p.mu.Unlock()

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(w.done)
		p.follow(nctx, path, w)
	}()
}

func (p *Probe) follow(ctx context.Context, path string, w *watchedNs) {
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
	wr := p.opts.Writer
	hostTID := ""
	if h := wr.G.Node(p.opts.Host); h != nil {
		hostTID = h.Metadata.String(topology.KeyTID)
	}
	w.id = topology.GenID(hostTID, path, topology.TypeNetns)
	m := graph.Metadata{
		graph.KeyName:    filepath.Base(path),
		graph.KeyType:    topology.TypeNetns,
		topology.KeyPath: path,
		"Inode":          int64(ino),
		topology.KeyTID:  string(w.id),
	}
	if err := wr.AddNode(w.id, m); err != nil {
		p.log.Warn("add netns node", "path", path, "err", err)
		return
	}
	if _, err := wr.Link(p.opts.Host, w.id, topology.OwnershipLink, nil); err != nil {
		p.log.Warn("link netns node", "path", path, "err", err)
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
	delete(p.watched, path)
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
	p.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	p.wg.Wait()
}

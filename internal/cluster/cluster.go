package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// Options configure the connection of an analyzer to its cluster.
type Options struct {
	// HostID names this analyzer in elections and leases.
	HostID string
	// Servers are the etcd client URLs (http://host:port, or host:port).
	// Empty with Embedded: the embedded member's.
	Servers []string
	// Embedded, when set, runs an etcd member in this process first.
	Embedded *EmbeddedOptions
	// ClientTimeout bounds each request (default 5 s).
	ClientTimeout time.Duration
	// SessionTTL is how long the leases of this analyzer (its leaderships,
	// its agents' origins) outlive it when it dies (default 5 s).
	SessionTTL time.Duration
	Logger     *slog.Logger
}

// Cluster is an analyzer's connection to etcd: the shared store, one
// session (a lease kept alive while the analyzer lives), the elections and
// the origin leases made with it.
type Cluster struct {
	opts     Options
	log      *slog.Logger
	client   *clientv3.Client
	embedded *Member
	store    *EtcdStore

	mu   sync.Mutex
	sess *concurrency.Session
}

// Open connects to etcd (after starting the embedded member, if any) and
// checks that it answers within ctx.
func Open(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ClientTimeout <= 0 {
		opts.ClientTimeout = 5 * time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 5 * time.Second
	}
	c := &Cluster{opts: opts, log: opts.Logger.With("component", "cluster")}
	servers := opts.Servers
	if opts.Embedded != nil {
		e, err := StartEmbedded(ctx, *opts.Embedded, opts.Logger)
		if err != nil {
			return nil, err
		}
		c.embedded = e
		if len(servers) == 0 {
			servers = []string{opts.Embedded.clientURL()}
		}
	}
	endpoints, err := Endpoints(servers)
	if err != nil {
		c.Close()
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: opts.ClientTimeout, Context: context.Background(),
		Logger: zap.NewNop()})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	c.client = cli
	c.store = &EtcdStore{Client: cli, Timeout: opts.ClientTimeout}
	// Fail early, naming the servers, rather than at the first request.
	for {
		sctx, cancel := context.WithTimeout(ctx, opts.ClientTimeout)
		_, err = cli.Get(sctx, "/elections/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || opts.Embedded == nil {
			c.Close()
			return nil, fmt.Errorf("etcd %s does not answer: %w", strings.Join(endpoints, ","), err)
		}
		// An embedded member waits for its peers to make a quorum.
		c.log.Info("waiting for the etcd cluster", "err", err)
	}
	c.log.Info("cluster: etcd connected", "servers", endpoints, "embedded", opts.Embedded != nil)
	return c, nil
}

// Endpoints turns etcd.servers entries into client URLs.
func Endpoints(servers []string) ([]string, error) {
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			if _, _, err := net.SplitHostPort(s); err != nil {
				return nil, fmt.Errorf("etcd server %q: not a URL nor host:port", s)
			}
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("etcd server %q: want http://host:port", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no etcd server")
	}
	return out, nil
}

// Store is the shared store.
func (c *Cluster) Store() Store { return c.store }

// Client is the etcd client.
func (c *Cluster) Client() *clientv3.Client { return c.client }

// HostID is this analyzer's name in the cluster.
func (c *Cluster) HostID() string { return c.opts.HostID }

// Session returns the analyzer's live session, making a new one when the
// last was lost (etcd unreachable longer than its TTL).
func (c *Cluster) Session(ctx context.Context) (*concurrency.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		select {
		case <-c.sess.Done():
			c.log.Warn("cluster session lost, making a new one")
			c.sess = nil
		default:
			return c.sess, nil
		}
	}
	ttl := max(int((c.opts.SessionTTL+time.Second-1)/time.Second), 1)
	sctx, cancel := context.WithTimeout(ctx, c.opts.ClientTimeout)
	defer cancel()
	// The grant is bounded by sctx; the keep-alive lives with the client.
	lease, err := c.client.Grant(sctx, int64(ttl))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	s, err := concurrency.NewSession(c.client, concurrency.WithLease(lease.ID), concurrency.WithTTL(ttl))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	c.sess = s
	return s, nil
}

// Close ends the session (its leaderships and leases go at once, rather
// than at their TTL), the client and the embedded member.
func (c *Cluster) Close() {
	c.mu.Lock()
	s := c.sess
	c.sess = nil
	c.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
	if c.client != nil {
		_ = c.client.Close()
	}
	if c.embedded != nil {
		c.embedded.Close()
	}
}

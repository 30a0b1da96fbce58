package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// Election names of the original.
const (
	ElectionAlerts   = "alert-server"
	ElectionCaptures = "ondemand-client-Capture"
)

// Election is this analyzer's candidacy in /elections/<name>: it leads
// from its Campaign's success until its session ends (the analyzer died,
// or could not reach etcd for the session's TTL) or it stops.
type Election struct {
	c    *Cluster
	name string

	leader atomic.Bool
	mu     sync.Mutex
	since  time.Time
	subs   []func(leader bool)
}

// Election returns the candidacy of this analyzer in /elections/<name>;
// Run campaigns.
func (c *Cluster) Election(name string) *Election { return &Election{c: c, name: name} }

// Key is the election's prefix in etcd.
func (e *Election) Key() string { return "/elections/" + e.name }

// IsLeader tells whether this analyzer leads now.
func (e *Election) IsLeader() bool { return e.leader.Load() }

// Since is when this analyzer became the leader (zero when it is not).
func (e *Election) Since() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.since
}

// OnChange calls f (on the election's goroutine) whenever this analyzer
// becomes or stops being the leader.
func (e *Election) OnChange(f func(leader bool)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subs = append(e.subs, f)
}

func (e *Election) set(leader bool) {
	if e.leader.Swap(leader) == leader {
		return
	}
	e.mu.Lock()
	if leader {
		e.since = time.Now()
	} else {
		e.since = time.Time{}
	}
	subs := append([]func(bool){}, e.subs...)
	e.mu.Unlock()
	e.c.log.Info("election", "name", e.name, "leader", leader)
	for _, f := range subs {
		f(leader)
	}
}

// Run campaigns until ctx ends, again after each lost session; on its end
// it resigns, so that another analyzer takes over at once.
func (e *Election) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		sess, err := e.c.Session(ctx)
		if err != nil {
			e.c.log.Warn("election: no session", "name", e.name, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		el := concurrency.NewElection(sess, e.Key())
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done():
				cancel()
			case <-cctx.Done():
			}
		}()
		err = el.Campaign(cctx, e.c.opts.HostID)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		e.set(true)
		select {
		case <-sess.Done():
		case <-ctx.Done():
		}
		e.set(false)
		cancel()
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), e.c.opts.ClientTimeout)
			_ = el.Resign(rctx)
			rcancel()
			return nil
		}
	}
	return nil
}

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// KindOrigin keys, for each subgraph origin an analyzer holds (agent.<host>
// of its agents, analyzer.<host> of its own elements), the analyzer's host
// ID, bound to that analyzer's session lease. The original kept pong
// timestamps of its agents in /ws-pong/pods/<origin> for the same end: when
// an analyzer dies, the others drop the subgraphs it held.
const KindOrigin Kind = "origins"

// Origins keeps this analyzer's origin keys in step with what it holds.
type Origins struct {
	c *Cluster
	// Local lists the origins this analyzer holds now.
	Local func() []string
	// OnClaim is called after each origin key put by this analyzer (a new
	// holder, or a new session): the peers are sent that subgraph again.
	OnClaim func(origin string)

	mu      sync.Mutex
	claimed map[string]clientv3.LeaseID
	wake    chan struct{}
}

// Origins returns the keeper of this analyzer's origin keys; Run keeps them.
func (c *Cluster) Origins(local func() []string, onClaim func(origin string)) *Origins {
	return &Origins{c: c, Local: local, OnClaim: onClaim, claimed: map[string]clientv3.LeaseID{}, wake: make(chan struct{}, 1)}
}

// Claim puts the key of origin again soon (an agent just connected here).
func (o *Origins) Claim(origin string) {
	o.mu.Lock()
	o.claimed[origin] = clientv3.NoLease // never a session's: put again
	o.mu.Unlock()
	o.Wake()
}

// Wake makes Run compare the keys with Local now.
func (o *Origins) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run puts the keys of the local origins with the session's lease and
// deletes those of origins no longer held here (if still this analyzer's),
// at each Wake and every second, until ctx ends.
func (o *Origins) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		o.sync(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case <-tick.C:
		}
	}
}

func (o *Origins) sync(ctx context.Context) {
	sess, err := o.c.Session(ctx)
	if err != nil {
		return
	}
	lease := sess.Lease()
	value, _ := json.Marshal(o.c.opts.HostID)
	want := map[string]bool{}
	for _, origin := range o.Local() {
		want[origin] = true
	}
	o.mu.Lock()
	var put, drop []string
	for origin := range want {
		if o.claimed[origin] != lease {
			put = append(put, origin)
		}
	}
	for origin := range o.claimed {
		if !want[origin] {
			drop = append(drop, origin)
		}
	}
	o.mu.Unlock()
	sort.Strings(put)
	for _, origin := range put {
		rctx, cancel := context.WithTimeout(ctx, o.c.opts.ClientTimeout)
		_, err := o.c.client.Put(rctx, Key(KindOrigin, origin), string(value), clientv3.WithLease(lease))
		cancel()
		if err != nil {
			o.c.log.Warn("origin lease", "origin", origin, "err", err)
			continue
		}
		o.mu.Lock()
		o.claimed[origin] = lease
		o.mu.Unlock()
		if o.OnClaim != nil {
			o.OnClaim(origin)
		}
	}
	for _, origin := range drop {
		// Deleted only while still this analyzer's: the agent may already
		// be another's.
		rctx, cancel := context.WithTimeout(ctx, o.c.opts.ClientTimeout)
		key := Key(KindOrigin, origin)
		_, err := o.c.client.Txn(rctx).If(clientv3.Compare(clientv3.Value(key), "=", string(value))).
			Then(clientv3.OpDelete(key)).Commit()
		cancel()
		if err != nil {
			o.c.log.Warn("origin release", "origin", origin, "err", err)
			continue
		}
		o.mu.Lock()
		delete(o.claimed, origin)
		o.mu.Unlock()
	}
}

// WatchOrigins follows the origin keys of every analyzer: present gets the
// origins held by some analyzer (at start, and after a lost watch), gone
// each origin whose key went away and is still absent (its analyzer died or
// let it go, and no other took it since).
func (c *Cluster) WatchOrigins(ctx context.Context, present func(holders map[string]string), gone func(origin string)) {
	Follow(ctx, c.store, KindOrigin, c.log, func(items map[string]json.RawMessage) {
		holders := map[string]string{}
		for origin, raw := range items {
			var h string
			_ = json.Unmarshal(raw, &h)
			holders[origin] = h
		}
		present(holders)
	}, func(ev Event) {
		if ev.Type != EventDelete {
			return
		}
		var h string
		err := c.store.Get(ctx, KindOrigin, ev.ID, &h)
		if errors.Is(err, ErrNotFound) {
			gone(ev.ID)
		}
	})
}

// Holder is the host ID of the analyzer holding origin ("" for none).
func (c *Cluster) Holder(ctx context.Context, origin string) (string, error) {
	var h string
	err := c.store.Get(ctx, KindOrigin, origin, &h)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return h, err
}

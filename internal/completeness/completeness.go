// Package completeness remembers what makes the analyzer's flow answers
// short of packets without the flows showing it: agents that were
// disconnected (their captures' counts stop, their subgraph leaves) and flow
// writes the store refused or dropped. Traces and reports ask it for the
// reasons that concern their hosts and time window.
package completeness

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// keep is how long events are remembered; older windows get no reasons.
const keep = 24 * time.Hour

// maxEvents bounds memory whatever the churn: the oldest go first.
const maxEvents = 10000

type outage struct {
	host     string
	from, to time.Time // to zero: still disconnected
}

type storeLoss struct {
	at     time.Time
	flows  uint64
	reason string
}

// Tracker records the events. Its methods are safe for concurrent use.
type Tracker struct {
	now func() time.Time

	mu       sync.Mutex
	outages  []outage
	losses   []storeLoss
	lastDrop uint64
}

// New returns a tracker; now nil is time.Now.
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now}
}

// AgentDisconnected records that host's agent left.
func (t *Tracker) AgentDisconnected(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.outages = append(t.outages, outage{host: host, from: t.now()})
	t.trimLocked()
}

// AgentConnected ends host's outage, if any.
func (t *Tracker) AgentConnected(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.outages) - 1; i >= 0; i-- {
		if o := &t.outages[i]; o.host == host && o.to.IsZero() {
			o.to = t.now()
			return
		}
	}
}

// StoreFailed records flows the store did not take.
func (t *Tracker) StoreFailed(flows int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.losses = append(t.losses, storeLoss{at: t.now(), flows: uint64(flows), reason: err.Error()})
	t.trimLocked()
}

// WatchStoreDrops samples a store's cumulative count of dropped flow items
// every period until ctx ends, recording each increase.
func (t *Tracker) WatchStoreDrops(ctx context.Context, period time.Duration, dropped func() uint64) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.sampleDrops(dropped())
		}
	}
}

func (t *Tracker) sampleDrops(n uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > t.lastDrop {
		t.losses = append(t.losses, storeLoss{at: t.now(), flows: n - t.lastDrop, reason: "its write queue was full"})
		t.trimLocked()
	}
	t.lastDrop = n
}

func (t *Tracker) trimLocked() {
	cut := t.now().Add(-keep)
	t.outages = slices.DeleteFunc(t.outages, func(o outage) bool { return !o.to.IsZero() && o.to.Before(cut) })
	t.losses = slices.DeleteFunc(t.losses, func(l storeLoss) bool { return l.at.Before(cut) })
	if n := len(t.outages) - maxEvents; n > 0 {
		t.outages = t.outages[n:]
	}
	if n := len(t.losses) - maxEvents; n > 0 {
		t.losses = t.losses[n:]
	}
}

// Gaps returns the reasons that concern hosts (every host when empty) in
// [from, to]: each agent outage overlapping the window, and the store's
// losses in it. It implements flowsteps.GapFinder.
func (t *Tracker) Gaps(from, to time.Time, hosts []string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, o := range t.outages {
		if len(hosts) > 0 && !slices.Contains(hosts, o.host) {
			continue
		}
		end := o.to
		if end.IsZero() {
			end = t.now()
		}
		if o.from.After(to) || end.Before(from) {
			continue
		}
		if o.to.IsZero() {
			out = append(out, fmt.Sprintf("agent %s disconnected at %s and has not come back: its captures' counts stop there", o.host, stamp(o.from)))
		} else {
			out = append(out, fmt.Sprintf("agent %s was disconnected from %s to %s: its captures' counts miss that time", o.host, stamp(o.from), stamp(o.to)))
		}
	}
	for _, l := range t.losses {
		if l.at.Before(from) || l.at.After(to) {
			continue
		}
		out = append(out, fmt.Sprintf("the flow store dropped %d flow updates at %s (%s)", l.flows, stamp(l.at), l.reason))
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

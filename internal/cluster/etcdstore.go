package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdStore keeps the values in etcd under /<kind>/<id>, the original's keys.
type EtcdStore struct {
	Client *clientv3.Client
	// Timeout bounds each request (etcd.client_timeout; default 5 s).
	Timeout time.Duration
}

var _ Store = (*EtcdStore)(nil)

// Key is the etcd key of kind/id.
func Key(kind Kind, id string) string { return "/" + string(kind) + "/" + id }

func prefix(kind Kind) string { return "/" + string(kind) + "/" }

func (s *EtcdStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.Timeout
	if d <= 0 {
		d = 5 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// Shared is true: every analyzer of the cluster sees the values.
func (s *EtcdStore) Shared() bool { return true }

// Put stores v's JSON; WithTTL binds it to a lease of that time.
func (s *EtcdStore) Put(ctx context.Context, kind Kind, id string, v any, opts ...PutOption) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", kind, id, err)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var ops []clientv3.OpOption
	if o := putOpts(opts); o.ttl > 0 {
		secs := int64((o.ttl + time.Second - 1) / time.Second)
		lease, err := s.Client.Grant(ctx, secs)
		if err != nil {
			return fmt.Errorf("etcd: lease for %s: %w", Key(kind, id), err)
		}
		ops = append(ops, clientv3.WithLease(lease.ID))
	}
	if _, err := s.Client.Put(ctx, Key(kind, id), string(raw), ops...); err != nil {
		return fmt.Errorf("etcd: put %s: %w", Key(kind, id), err)
	}
	return nil
}

// Get decodes kind/id into v.
func (s *EtcdStore) Get(ctx context.Context, kind Kind, id string, v any) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.Client.Get(ctx, Key(kind, id))
	if err != nil {
		return fmt.Errorf("etcd: get %s: %w", Key(kind, id), err)
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("%s/%s: %w", kind, id, ErrNotFound)
	}
	return json.Unmarshal(resp.Kvs[0].Value, v)
}

// Delete removes kind/id.
func (s *EtcdStore) Delete(ctx context.Context, kind Kind, id string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.Client.Delete(ctx, Key(kind, id))
	if err != nil {
		return fmt.Errorf("etcd: delete %s: %w", Key(kind, id), err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("%s/%s: %w", kind, id, ErrNotFound)
	}
	return nil
}

// List returns every value under /<kind>/.
func (s *EtcdStore) List(ctx context.Context, kind Kind) (map[string]json.RawMessage, Revision, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.Client.Get(ctx, prefix(kind), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: list %s: %w", prefix(kind), err)
	}
	out := make(map[string]json.RawMessage, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix(kind))] = json.RawMessage(kv.Value)
	}
	return out, Revision(resp.Header.Revision), nil
}

// Watch follows /<kind>/ from rev+1.
func (s *EtcdStore) Watch(ctx context.Context, kind Kind, rev Revision, fn func(Event)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := s.Client.Watch(wctx, prefix(kind), clientv3.WithPrefix(), clientv3.WithRev(int64(rev)+1))
	for resp := range ch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("etcd: watch %s: %w", prefix(kind), err)
		}
		for _, ev := range resp.Events {
			e := Event{Kind: kind, ID: strings.TrimPrefix(string(ev.Kv.Key), prefix(kind))}
			if ev.Type == clientv3.EventTypeDelete {
				e.Type = EventDelete
			} else {
				e.Type, e.Value = EventPut, json.RawMessage(ev.Kv.Value)
			}
			fn(e)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("etcd: watch %s: closed", prefix(kind))
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/jsonfile"
)

// FileRef is where a FileStore keeps a kind: the JSON object of a file
// (Section ""), or the object under Section in a file that several kinds
// share. An empty Path keeps the kind in memory only.
type FileRef struct {
	Path    string
	Section string
}

// FileStore is the Store of a single analyzer: values in memory, each kind
// written to its file on every change (atomically), as the analyzer kept its
// resources before etcd. Its watchers see its own changes.
type FileStore struct {
	files map[Kind]FileRef

	mu     sync.Mutex
	data   map[Kind]map[string]json.RawMessage
	rev    Revision
	expiry map[Kind]map[string]*time.Timer
	subs   map[int]*fileSub
	nextID int
	// past keeps the last changes, for a Watch from a revision just behind.
	past []revEvent
}

type revEvent struct {
	rev Revision
	ev  Event
}

// pastSize bounds the changes kept for late watchers.
const pastSize = 256

type fileSub struct {
	kind Kind
	mu   sync.Mutex
	q    []Event
	wake chan struct{}
}

var _ Store = (*FileStore)(nil)

// NewFileStore loads the files of files; a kind not in files is kept in
// memory.
func NewFileStore(files map[Kind]FileRef) (*FileStore, error) {
	s := &FileStore{files: files, data: map[Kind]map[string]json.RawMessage{},
		expiry: map[Kind]map[string]*time.Timer{}, subs: map[int]*fileSub{}}
	for kind, ref := range files {
		if ref.Path == "" {
			continue
		}
		items := map[string]json.RawMessage{}
		if ref.Section == "" {
			if err := jsonfile.Load(ref.Path, &items); err != nil {
				return nil, err
			}
		} else {
			var doc map[string]map[string]json.RawMessage
			if err := jsonfile.Load(ref.Path, &doc); err != nil {
				return nil, err
			}
			if doc[ref.Section] != nil {
				items = doc[ref.Section]
			}
		}
		s.data[kind] = items
	}
	return s, nil
}

// Shared is false: no other analyzer sees these values.
func (s *FileStore) Shared() bool { return false }

// Put stores v as kind/id and writes the kind's file.
func (s *FileStore) Put(_ context.Context, kind Kind, id string, v any, opts ...PutOption) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", kind, id, err)
	}
	o := putOpts(opts)
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.data[kind]
	if items == nil {
		items = map[string]json.RawMessage{}
		s.data[kind] = items
	}
	old, had := items[id]
	items[id] = raw
	if err := s.saveLocked(kind); err != nil {
		if had {
			items[id] = old
		} else {
			delete(items, id)
		}
		return err
	}
	s.stopExpiryLocked(kind, id)
	if o.ttl > 0 {
		if s.expiry[kind] == nil {
			s.expiry[kind] = map[string]*time.Timer{}
		}
		var t *time.Timer
		t = time.AfterFunc(o.ttl, func() { s.expire(kind, id, t) })
		s.expiry[kind][id] = t
	}
	s.emitLocked(Event{Type: EventPut, Kind: kind, ID: id, Value: raw})
	return nil
}

// expire deletes kind/id when its timer t is still the one of the value.
func (s *FileStore) expire(kind Kind, id string, t *time.Timer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry[kind][id] != t {
		return
	}
	_ = s.deleteLocked(kind, id)
}

func (s *FileStore) stopExpiryLocked(kind Kind, id string) {
	if t := s.expiry[kind][id]; t != nil {
		t.Stop()
		delete(s.expiry[kind], id)
	}
}

// Get decodes kind/id into v.
func (s *FileStore) Get(_ context.Context, kind Kind, id string, v any) error {
	s.mu.Lock()
	raw, ok := s.data[kind][id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s/%s: %w", kind, id, ErrNotFound)
	}
	return json.Unmarshal(raw, v)
}

// Delete removes kind/id and writes the kind's file.
func (s *FileStore) Delete(_ context.Context, kind Kind, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(kind, id)
}

func (s *FileStore) deleteLocked(kind Kind, id string) error {
	items := s.data[kind]
	old, ok := items[id]
	if !ok {
		return fmt.Errorf("%s/%s: %w", kind, id, ErrNotFound)
	}
	delete(items, id)
	if err := s.saveLocked(kind); err != nil {
		items[id] = old
		return err
	}
	s.stopExpiryLocked(kind, id)
	s.emitLocked(Event{Type: EventDelete, Kind: kind, ID: id})
	return nil
}

// List returns a copy of kind's values.
func (s *FileStore) List(_ context.Context, kind Kind) (map[string]json.RawMessage, Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.data[kind]), s.rev, nil
}

// Watch calls fn with the changes of kind made after rev (the store keeps
// its last changes only: a rev too old is an error, to List again).
func (s *FileStore) Watch(ctx context.Context, kind Kind, rev Revision, fn func(Event)) error {
	sub := &fileSub{kind: kind, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	if rev < s.rev {
		if len(s.past) == 0 || s.past[0].rev > rev+1 {
			s.mu.Unlock()
			return fmt.Errorf("watch %s from revision %d: too old, the store is at %d", kind, rev, s.rev)
		}
		for _, p := range s.past {
			if p.rev > rev && p.ev.Kind == kind {
				sub.q = append(sub.q, p.ev)
			}
		}
		sub.wake <- struct{}{}
	}
	id := s.nextID
	s.nextID++
	s.subs[id] = sub
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.wake:
		}
		sub.mu.Lock()
		q := sub.q
		sub.q = nil
		sub.mu.Unlock()
		for _, ev := range q {
			fn(ev)
		}
	}
}

// emitLocked queues ev for the watchers of its kind (never blocking).
func (s *FileStore) emitLocked(ev Event) {
	s.rev++
	if len(s.past) == pastSize {
		s.past = append(s.past[:0], s.past[1:]...)
	}
	s.past = append(s.past, revEvent{rev: s.rev, ev: ev})
	for _, sub := range s.subs {
		if sub.kind != ev.Kind {
			continue
		}
		sub.mu.Lock()
		sub.q = append(sub.q, ev)
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// saveLocked writes the file of kind: its values, or every section of a
// shared file.
func (s *FileStore) saveLocked(kind Kind) error {
	ref := s.files[kind]
	if ref.Path == "" {
		return nil
	}
	var doc any
	if ref.Section == "" {
		doc = nonNil(s.data[kind])
	} else {
		sections := map[string]map[string]json.RawMessage{}
		kinds := make([]Kind, 0, len(s.files))
		for k := range s.files {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
		for _, k := range kinds {
			if r := s.files[k]; r.Path == ref.Path && r.Section != "" {
				sections[r.Section] = nonNil(s.data[k])
			}
		}
		doc = sections
	}
	if err := jsonfile.Save(ref.Path, doc); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}

func nonNil(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

package embedded_test

import (
	"context"
	"testing"

	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/embedded"
	"github.com/skydive-ng/skydive/internal/store/storetest"
)

func newSyncStore(t testing.TB, opts store.Options) *store.Store {
	db, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return store.New(db, opts)
}

// BenchmarkFlowInsert writes with an fsync per batch (the default).
func BenchmarkFlowInsert(b *testing.B) { storetest.BenchFlowInsert(b, newSyncStore) }

func BenchmarkFlowQueryNetworkA(b *testing.B) {
	storetest.BenchFlowQueryNetworkA(b, newSyncStore, func(s *store.Store) {
		if err := s.Backend().(*embedded.DB).Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

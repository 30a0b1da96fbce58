package embedded_test

import (
	"testing"

	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/embedded"
	"github.com/skydive-ng/skydive/internal/store/storetest"
)

func newStore(t testing.TB, opts store.Options) *store.Store {
	db, err := embedded.Open(embedded.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return store.New(db, opts)
}

func TestFlowSuite(t *testing.T)     { storetest.FlowSuite(t, newStore) }
func TestTopologySuite(t *testing.T) { storetest.TopologySuite(t, newStore) }

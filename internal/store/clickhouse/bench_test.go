package clickhouse_test

import (
	"testing"

	"github.com/skydive-ng/skydive/internal/store/storetest"
)

func BenchmarkFlowInsert(b *testing.B) {
	srv := startServer(b)
	storetest.BenchFlowInsert(b, opener(srv))
}

func BenchmarkFlowQueryNetworkA(b *testing.B) {
	srv := startServer(b)
	storetest.BenchFlowQueryNetworkA(b, opener(srv), nil)
}

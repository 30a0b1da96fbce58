// Package backends opens the store chosen by the configuration (the only
// package that knows every backend).
package backends

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/clickhouse"
	"github.com/skydive-ng/skydive/internal/store/embedded"
)

// Env is what the analyzer gives besides the storage section.
type Env struct {
	// DataDir is the analyzer's data directory (the embedded store goes
	// to DataDir/store unless storage.embedded.path says otherwise).
	DataDir string
	// Instance names this analyzer in shared stores (its host ID).
	Instance string
	Logger   *slog.Logger
}

// Open opens the configured store; it returns nil (and no error) for the
// "memory" backend: the caller keeps its in-memory history and flow store.
// The returned store's writer runs at once; call its Run for retention and
// topology checkpoints, and Close at the end.
func Open(ctx context.Context, cfg store.Config, env Env) (*store.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	topo, flows := cfg.Retention.Durations()
	opts := store.Options{
		Logger:             log,
		QueueFlows:         cfg.Queue.Flows,
		QueueRevisions:     cfg.Queue.Revisions,
		MaxBatch:           cfg.Queue.MaxBatch,
		FlowRetention:      flows,
		TopologyRetention:  topo,
		CheckpointInterval: cfg.CheckpointInterval,
	}
	switch cfg.Backend {
	case store.BackendMemory:
		return nil, nil
	case "", store.BackendEmbedded:
		dir := cfg.Embedded.Path
		if dir == "" {
			if env.DataDir == "" {
				return nil, fmt.Errorf("storage: embedded store: no storage.embedded.path and no data directory")
			}
			dir = filepath.Join(env.DataDir, "store")
		}
		db, err := embedded.Open(embedded.Options{Dir: dir, NoSync: cfg.Embedded.NoSync, CacheSize: int64(cfg.Embedded.CacheMB) << 20,
			MemTableSize: uint64(max(cfg.Embedded.MemTableMB, 0)) << 20, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		log.Info("storage: embedded store", "path", dir)
		return store.New(db, opts), nil
	case store.BackendClickHouse:
		db, err := clickhouse.Open(clickhouse.Options{ClickHouseConfig: cfg.ClickHouse, Analyzer: env.Instance,
			TopologyRetention: topo, FlowRetention: flows, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		opts.FlushInterval = cfg.ClickHouse.FlushInterval
		if opts.FlushInterval <= 0 {
			opts.FlushInterval = time.Second
		}
		log.Info("storage: clickhouse store", "addresses", cfg.ClickHouse.Addresses, "database", cfg.ClickHouse.Database)
		return store.New(db, opts), nil
	}
	return nil, fmt.Errorf("storage.backend: unknown %q", cfg.Backend)
}

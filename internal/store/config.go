package store

import (
	"fmt"
	"time"
)

// Config is the storage section of the analyzer's configuration
// (`storage:`); the zero value is the embedded store under the data
// directory with the default retentions.
//
//	storage:
//	  backend: clickhouse          # embedded (default) | clickhouse | memory
//	  retention:
//	    topology_days: 7
//	    flows_days: 7
//	  clickhouse:
//	    addresses: [ch1:9000, ch2:9000]
//	    database: skydive
//	    username: default
//	    password: ""
type Config struct {
	// Backend is "embedded" (default), "clickhouse" or "memory" (no
	// durable history: the in-memory history and flow stores).
	Backend   string          `yaml:"backend"`
	Retention RetentionConfig `yaml:"retention"`
	Queue     QueueConfig     `yaml:"queue"`
	// CheckpointInterval: see Options.CheckpointInterval (default 1h).
	CheckpointInterval time.Duration    `yaml:"checkpoint_interval"`
	Embedded           EmbeddedConfig   `yaml:"embedded"`
	ClickHouse         ClickHouseConfig `yaml:"clickhouse"`
}

// RetentionConfig sets how long each kind of data is kept, in days.
type RetentionConfig struct {
	TopologyDays int `yaml:"topology_days"` // default 7
	FlowsDays    int `yaml:"flows_days"`    // default 7
}

// QueueConfig bounds the write queue.
type QueueConfig struct {
	Flows     int `yaml:"flows"`     // default 200000
	Revisions int `yaml:"revisions"` // default 100000
	MaxBatch  int `yaml:"max_batch"` // default 10000
}

// EmbeddedConfig configures the embedded (Pebble) backend.
type EmbeddedConfig struct {
	// Path of the database; default <data_dir>/store.
	Path string `yaml:"path"`
	// NoSync skips the fsync of each batch (a killed process still loses
	// nothing written; a machine crash may lose the last batches).
	NoSync bool `yaml:"no_sync"`
	// CacheMB is the block cache size (default 64).
	CacheMB int `yaml:"cache_mb"`
	// MemTableMB is the size of a memtable, the write buffer of the
	// store (default 16): Pebble keeps up to two in memory (one filling,
	// one being flushed), outside the Go heap. A bigger one makes fewer,
	// larger flushes.
	MemTableMB int `yaml:"memtable_mb"`
}

// ClickHouseConfig configures the ClickHouse backend (native protocol;
// ClickHouse 18.16 or later).
type ClickHouseConfig struct {
	// Addresses are host:port of the native protocol (default
	// 127.0.0.1:9000); several are tried in turn.
	Addresses []string `yaml:"addresses"`
	// Database is created on first start (default "skydive"). Analyzers
	// of one cluster share it; separate deployments use separate
	// databases.
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DialTimeout (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// FlushInterval is how long rows wait to make a bigger insert
	// (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Secure uses TLS.
	Secure bool `yaml:"secure"`
}

// Backends.
const (
	BackendEmbedded   = "embedded"
	BackendClickHouse = "clickhouse"
	BackendMemory     = "memory"
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch c.Backend {
	case "", BackendEmbedded, BackendClickHouse, BackendMemory:
	default:
		return fmt.Errorf("storage.backend: unknown %q (want embedded, clickhouse or memory)", c.Backend)
	}
	if c.Retention.TopologyDays < 0 || c.Retention.FlowsDays < 0 {
		return fmt.Errorf("storage.retention: days must be >= 0")
	}
	return nil
}

// Durations returns the retentions as durations (defaults applied).
func (r RetentionConfig) Durations() (topology, flows time.Duration) {
	topology, flows = DefaultRetention, DefaultRetention
	if r.TopologyDays > 0 {
		topology = time.Duration(r.TopologyDays) * 24 * time.Hour
	}
	if r.FlowsDays > 0 {
		flows = time.Duration(r.FlowsDays) * 24 * time.Hour
	}
	return topology, flows
}

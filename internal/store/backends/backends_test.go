package backends_test

import (
	"context"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/skydive-ng/skydive/internal/store"
	"github.com/skydive-ng/skydive/internal/store/backends"
)

func TestOpen(t *testing.T) {
	var cfg struct {
		Storage store.Config `yaml:"storage"`
	}
	src := "storage:\n  backend: embedded\n  retention: {topology_days: 3, flows_days: 1}\n  checkpoint_interval: 30m\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.CheckpointInterval.Minutes() != 30 {
		t.Fatalf("checkpoint_interval = %v", cfg.Storage.CheckpointInterval)
	}
	s, err := backends.Open(context.Background(), cfg.Storage, backends.Env{DataDir: t.TempDir()})
	if err != nil || s == nil {
		t.Fatalf("Open: %v %v", s, err)
	}
	if s.SizeOnDisk(context.Background()) <= 0 {
		t.Errorf("SizeOnDisk <= 0")
	}
	s.Close()
	if s, err := backends.Open(context.Background(), store.Config{Backend: "memory"}, backends.Env{}); s != nil || err != nil {
		t.Errorf("memory: %v %v, want nil, nil", s, err)
	}
	if _, err := backends.Open(context.Background(), store.Config{Backend: "elasticsearch"}, backends.Env{}); err == nil {
		t.Errorf("unknown backend accepted")
	}
}

package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/skydive-ng/skydive/internal/agent"
	"github.com/skydive-ng/skydive/internal/analyzer"
)

func newAnalyzerCommand(rf *rootFlags) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "analyzer",
		Short: "Run the analyzer: merged topology of every agent, API, UI",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rf.loadConfig()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Analyzer.Listen = listen
			}
			log := newLogger(cfg, cmd.ErrOrStderr(), "analyzer")
			return ignoreCanceled(analyzer.Run(cmd.Context(), analyzer.Options{Config: cfg, Logger: log}))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address and port to listen on (analyzer.listen)")
	return cmd
}

func newAgentCommand(rf *rootFlags) *cobra.Command {
	var listen, hostID string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: probes of this host, forwarded to the analyzer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rf.loadConfig()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Agent.Listen = listen
			}
			if hostID != "" {
				cfg.HostID = hostID
			}
			log := newLogger(cfg, cmd.ErrOrStderr(), "agent")
			return ignoreCanceled(agent.Run(cmd.Context(), agent.Options{Config: cfg, Logger: log}))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address and port to listen on (agent.listen)")
	cmd.Flags().StringVar(&hostID, "host-id", "", "identity of this host (host_id)")
	return cmd
}

func newAllInOneCommand(rf *rootFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "allinone",
		Short: "Run an analyzer and an agent in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rf.loadConfig()
			if err != nil {
				return err
			}
			// Listen first so that the agent reports to the actual port (":0" works).
			l, err := net.Listen("tcp", cfg.Analyzer.Listen)
			if err != nil {
				return fmt.Errorf("analyzer.listen: %w", err)
			}
			cfg.Analyzers = []string{l.Addr().String()}
			cfg.AnalyzerServers = nil
			// With authentication on, the agent reaches its own analyzer with
			// credentials made for this run, unless it was given some.
			var internal map[string]string
			if cfg.Analyzer.Auth.API.Backend != "" && cfg.Agent.Auth.Cluster.Username == "" {
				secret := make([]byte, 18)
				_, _ = rand.Read(secret)
				user, pass := "allinone-agent-"+cfg.HostID, base64.RawURLEncoding.EncodeToString(secret)
				internal = map[string]string{user: pass}
				cfg.Agent.Auth.Cluster.Username, cfg.Agent.Auth.Cluster.Password = user, pass
			}
			grp, ctx := errgroup.WithContext(cmd.Context())
			grp.Go(func() error {
				return analyzer.Run(ctx, analyzer.Options{Config: cfg, Logger: newLogger(cfg, cmd.ErrOrStderr(), "analyzer"),
					Listener: l, ClusterUsers: internal})
			})
			grp.Go(func() error {
				return agent.Run(ctx, agent.Options{Config: cfg, Logger: newLogger(cfg, cmd.ErrOrStderr(), "agent")})
			})
			return ignoreCanceled(grp.Wait())
		},
	}
}

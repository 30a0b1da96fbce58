// Package cli holds the cobra commands of the skydive binary.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/version"
)

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

type rootFlags struct {
	confFiles []string
	verbose   bool
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	rf := &rootFlags{}
	root := &cobra.Command{
		Use:           "skydive",
		Short:         "Skydive: real-time network topology and flow analyzer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringArrayVarP(&rf.confFiles, "conf", "c", nil, "configuration file (YAML); repeatable")
	root.PersistentFlags().BoolVar(&rf.verbose, "verbose", false, "debug logs")
	root.AddCommand(
		newAllInOneCommand(rf),
		newAnalyzerCommand(rf),
		newAgentCommand(rf),
		newClientCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "skydive", version.Version) },
		},
	)
	for _, c := range extraCommands() {
		root.AddCommand(c)
	}
	return root
}

// loadConfig reads the configuration files and the environment.
func (rf *rootFlags) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(rf.confFiles, os.Environ())
	if err != nil {
		return nil, err
	}
	if rf.verbose {
		cfg.Logging.Level = "debug"
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer, service string) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(cfg.Logging.Level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})).With("service", service)
}

// ignoreCanceled turns a clean shutdown into success.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

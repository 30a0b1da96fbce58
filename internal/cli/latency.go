package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/latency"
)

// newLatencyCommand prints the latency map (GET /api/latency): a hosts ×
// hosts matrix of the median RTTs in milliseconds, or the JSON answer.
func newLatencyCommand(cf *clientFlags) *cobra.Command {
	var (
		since  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "latency",
		Short: "Show the RTT between hosts (median ms) from the flows' RTT",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/latency?since="+url.QueryEscape(since.String()), nil, nil)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), b)
			}
			var m latency.Map
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("latency answer: %w", err)
			}
			return latency.WriteMatrix(cmd.OutOrStdout(), m)
		},
	}
	cmd.Flags().DurationVar(&since, "since", 5*time.Minute, "window of the stored flows (the live ones always count)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON answer (min, median, max, count per pair)")
	return cmd
}

package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
		ping   int
	)
	cmd := &cobra.Command{
		Use:   "latency",
		Short: "Show the RTT between hosts (median ms) from the flows' RTT",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			get := func() ([]byte, error) {
				return cf.client().Do(cmd.Context(), http.MethodGet, "/api/latency?since="+url.QueryEscape(since.String()), nil, nil)
			}
			if ping > 0 {
				if err := probeLatency(cmd, cf, ping, get); err != nil {
					return err
				}
			}
			b, err := get()
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
	cmd.Flags().IntVar(&ping, "ping", 0, "first inject this many pings between every pair of hosts sharing a subnet, and wait for their RTT")
	return cmd
}

// probeLatency asks the analyzer to inject pings between the hosts and
// waits until their RTTs are in the map (each probed pair one sample more
// than before, or 10 s after ReadyAt), saying what it does on stderr.
func probeLatency(cmd *cobra.Command, cf *clientFlags, count int, get func() ([]byte, error)) error {
	samples := func() (map[[2]string]int, error) {
		b, err := get()
		if err != nil {
			return nil, err
		}
		var m latency.Map
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("latency answer: %w", err)
		}
		out := map[[2]string]int{}
		for _, p := range m.Pairs {
			out[[2]string{p.A, p.B}] = p.RTT.Count
		}
		return out, nil
	}
	before, err := samples()
	if err != nil {
		return err
	}
	b, err := cf.client().Do(cmd.Context(), http.MethodPost, fmt.Sprintf("/api/latency/probe?count=%d", count), nil, nil)
	if err != nil {
		return err
	}
	var ans latency.ProbeAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("latency probe answer: %w", err)
	}
	errOut := cmd.ErrOrStderr()
	for _, p := range ans.Probes {
		fmt.Fprintf(errOut, "pinging %s from %s of %s\n", p.To, p.From, p.A)
	}
	for _, s := range ans.Skipped {
		fmt.Fprintln(errOut, "skipped:", s)
	}
	if len(ans.Probes) == 0 {
		fmt.Fprintln(errOut, "no pair of hosts to ping: the map is the flows' alone")
		return nil
	}
	if wait := time.Until(ans.ReadyAt); wait > 0 {
		fmt.Fprintf(errOut, "waiting %s for the replies\n", wait.Round(100*time.Millisecond))
	}
	deadline := ans.ReadyAt.Add(10 * time.Second)
	for {
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(time.Until(ans.ReadyAt)):
		}
		now, err := samples()
		if err != nil {
			return err
		}
		var missing []string
		for _, p := range ans.Probes {
			k := [2]string{min(p.A, p.B), max(p.A, p.B)}
			if now[k] <= before[k] {
				missing = append(missing, p.A+"-"+p.B)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(errOut, "no new RTT for %s: no reply seen (ICMP filtered?)\n", strings.Join(missing, ", "))
			return nil
		}
		ans.ReadyAt = time.Now().Add(500 * time.Millisecond)
	}
}

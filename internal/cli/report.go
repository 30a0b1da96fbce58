package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/report"
)

func newReportCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Traffic reports from the analyzer's stored flows"}
	var since, from, to, format string
	tenants := &cobra.Command{
		Use:   "tenants",
		Short: "Bytes and packets per Neutron tenant and application over a window",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" && format != "csv" {
				return fmt.Errorf("--format %q: table, json or csv", format)
			}
			q := url.Values{}
			if from != "" || to != "" {
				if cmd.Flags().Changed("since") {
					return fmt.Errorf("give --since or --from/--to, not both")
				}
				q.Set("from", from)
				if to != "" {
					q.Set("to", to)
				}
			} else {
				q.Set("since", since)
			}
			if format == "csv" {
				q.Set("format", "csv")
			}
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/report/tenants?"+q.Encode(), nil, nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "csv":
				_, err = out.Write(b)
				return err
			case "json":
				return printJSON(out, b)
			}
			var ans report.Answer
			if err := json.Unmarshal(b, &ans); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			rows := ans.Rows
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tAPPLICATION\tPACKETS\tBYTES\tFLOWS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", report.TenantName(r.Tenant), r.Application, r.Packets, r.Bytes, r.Flows)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, why := range ans.Incomplete {
				fmt.Fprintln(out, "incomplete:", why)
			}
			return nil
		},
	}
	tenants.Flags().StringVar(&since, "since", "1h", "window ending now (a duration: 30m, 1h, 24h)")
	tenants.Flags().StringVar(&from, "from", "", "window start (RFC 3339), instead of --since")
	tenants.Flags().StringVar(&to, "to", "", "window end (RFC 3339; default now)")
	tenants.Flags().StringVar(&format, "format", "table", "output: table, json or csv")
	cmd.AddCommand(tenants)
	return cmd
}

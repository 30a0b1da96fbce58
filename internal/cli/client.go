package cli

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/client"
	"github.com/skydive-ng/skydive/internal/tlsconfig"
)

type clientFlags struct {
	analyzer string
	username string
	password string
	// TLS, as the original's client: any of these makes it speak https.
	caCert, cert, key string
	insecure          bool
	tls               *tls.Config
}

// setup reads the TLS files once, before any command runs.
func (f *clientFlags) setup() error {
	if f.caCert == "" && f.cert == "" && f.key == "" && !f.insecure {
		return nil
	}
	tc, err := tlsconfig.ClientFiles(f.caCert, f.cert, f.key, f.insecure)
	if err != nil {
		return fmt.Errorf("--cacert/--cert/--key: %w", err)
	}
	f.tls = tc
	return nil
}

func (f *clientFlags) client() *client.Client {
	opts := []client.Option{client.WithAuth(f.username, f.password)}
	if f.tls != nil {
		opts = append(opts, client.WithTLS(f.tls))
	}
	return client.New(f.analyzer, opts...)
}

// create posts body to /api/<resource> and prints the stored resource.
func (f *clientFlags) create(cmd *cobra.Command, resource string, body any) error {
	b, err := f.client().Do(cmd.Context(), http.MethodPost, "/api/"+resource, body, nil)
	if err != nil {
		return err
	}
	return printJSON(cmd.OutOrStdout(), b)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newClientCommand() *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Talk to an analyzer: status, queries, captures ...",
	}
	cmd.PersistentFlags().StringVar(&cf.analyzer, "analyzer", envOr("SKYDIVE_ANALYZER", "127.0.0.1:8082"), "analyzer address (host:port)")
	cmd.PersistentFlags().StringVar(&cf.username, "username", os.Getenv("SKYDIVE_USERNAME"), "user name")
	cmd.PersistentFlags().StringVar(&cf.password, "password", os.Getenv("SKYDIVE_PASSWORD"), "password")
	cmd.PersistentFlags().StringVar(&cf.caCert, "cacert", "", "CA certificate to check the analyzer's (https)")
	cmd.PersistentFlags().StringVar(&cf.cert, "cert", "", "client certificate (https)")
	cmd.PersistentFlags().StringVar(&cf.key, "key", "", "client certificate's key (https)")
	cmd.PersistentFlags().BoolVar(&cf.insecure, "insecure", false, "do not check the analyzer's certificate (https)")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return cf.setup() }
	cmd.AddCommand(
		&cobra.Command{
			Use:   "status",
			Short: "Show the analyzer's status",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				b, err := cf.client().Status(cmd.Context())
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), b)
			},
		},
		newQueryCommand(cf, "query [gremlin]", ""),
		newTopologyCommand(cf),
		newCaptureCommand(cf),
		newInjectionCommand(cf),
		newAlertCommand(cf),
		newNodeRuleCommand(cf),
		newEdgeRuleCommand(cf),
		newPcapClientCommand(cf),
		newWorkflowCommand(cf),
		newLatencyCommand(cf),
		newTraceCommand(cf),
		newReportCommand(cf),
	)
	return cmd
}

func newQueryCommand(cf *clientFlags, use, defaultQuery string) *cobra.Command {
	var format, gremlin string
	cmd := &cobra.Command{
		Use:   use,
		Short: "Run a Gremlin query on the topology and flows",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := gremlin
			if len(args) == 1 {
				q = args[0]
			}
			if q == "" {
				return fmt.Errorf("no query: give one, e.g. skydive client query \"G.V().Has('Type', 'host')\"")
			}
			if format != "json" {
				return fmt.Errorf("--format %q: only json is available in this version", format)
			}
			b, err := cf.client().Query(cmd.Context(), q)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: json")
	cmd.Flags().StringVar(&gremlin, "gremlin", defaultQuery, "the query")
	return cmd
}

func newTopologyCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "topology", Short: "Query or export the topology"}
	var file, endpoint string
	importCmd := &cobra.Command{
		Use:   "import",
		Short: "Add the nodes and edges of a JSON export to the analyzer's topology",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var graphs []struct {
				Nodes []json.RawMessage
				Edges []json.RawMessage
			}
			if err := json.Unmarshal(data, &graphs); err != nil {
				return fmt.Errorf("%s: expected the JSON of `skydive client topology export` ([{\"Nodes\": [...], \"Edges\": [...]}]): %w", file, err)
			}
			if len(graphs) != 1 {
				return fmt.Errorf("%s: expected a list of exactly one graph, got %d", file, len(graphs))
			}
			refused, err := cf.client().Publish(cmd.Context(), endpoint, graphs[0].Nodes, graphs[0].Edges)
			if err != nil {
				return err
			}
			for _, r := range refused {
				fmt.Fprintln(cmd.ErrOrStderr(), "refused:", r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d nodes and %d edges sent, %d refused\n", len(graphs[0].Nodes), len(graphs[0].Edges), len(refused))
			if len(refused) > 0 {
				return fmt.Errorf("%d elements refused", len(refused))
			}
			return nil
		},
	}
	importCmd.Flags().StringVar(&file, "file", "graph.json", "JSON file of the graph")
	importCmd.Flags().StringVar(&endpoint, "endpoint", "/ws/publisher", "publisher endpoint")
	cmd.AddCommand(importCmd)
	cmd.AddCommand(newQueryCommand(cf, "query", "G"), &cobra.Command{
		Use:   "export",
		Short: "Print the whole graph as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.client().Query(cmd.Context(), "G")
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	})
	return cmd
}

// printJSON prints a server's JSON answer indented, as the original does.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	raw = bytes.TrimSpace(raw)
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, werr := w.Write(raw)
		return werr
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

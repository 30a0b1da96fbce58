package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

func newWorkflowCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "workflow", Short: "Manage and call workflows (JavaScript functions the analyzer runs)"}
	var path string
	create := &cobra.Command{
		Use:   "create --path FILE",
		Short: "Create a workflow from a YAML (or JSON) file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--path FILE is required")
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			// YAML is a superset of JSON: the analyzer reads both this way.
			b, err := cf.client().DoRaw(cmd.Context(), http.MethodPost, "/api/workflow", bytes.NewReader(data), "application/yaml")
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	create.Flags().StringVar(&path, "path", "", "YAML file of the workflow (UUID, Name, Parameters, Source ...)")
	list := &cobra.Command{
		Use: "list", Short: "List workflows", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/workflow", nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	get := &cobra.Command{
		Use: "get ID", Short: "Show a workflow", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cf.client().Do(cmd.Context(), http.MethodGet, "/api/workflow/"+url.PathEscape(args[0]), nil, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	del := &cobra.Command{
		Use: "delete ID...", Short: "Delete workflows", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if _, err := cf.client().Do(cmd.Context(), http.MethodDelete, "/api/workflow/"+url.PathEscape(id), nil, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}
	call := &cobra.Command{
		Use:   "call ID_OR_NAME [params...]",
		Short: "Call a workflow and print its result",
		Long: "Call a workflow, given by UUID or name, with its parameters in order. Every parameter\n" +
			"is sent as a string; the analyzer makes those of integer and boolean parameters\n" +
			"numbers and booleans, and fills missing trailing ones with their Default.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			params := make([]any, 0, len(args)-1)
			for _, a := range args[1:] {
				params = append(params, a)
			}
			body, err := json.Marshal(v1.WorkflowCall{Params: params})
			if err != nil {
				return err
			}
			// No client timeout: a workflow may run for a while (the
			// analyzer bounds it).
			b, err := cf.client().DoRaw(cmd.Context(), http.MethodPost, "/api/workflow/"+url.PathEscape(args[0])+"/call",
				bytes.NewReader(body), "application/json")
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	cmd.AddCommand(create, list, get, del, call)
	return cmd
}

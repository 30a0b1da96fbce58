package cli

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

// resourceCommands are the list, get and delete commands of a REST
// resource (/api/<name>).
func resourceCommands(cf *clientFlags, name, what string) []*cobra.Command {
	path := "/api/" + name
	return []*cobra.Command{
		{
			Use: "list", Short: "List " + what + "s", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				b, err := cf.client().Do(cmd.Context(), http.MethodGet, path, nil, nil)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), b)
			},
		},
		{
			Use: "get ID", Short: "Show a " + what, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				b, err := cf.client().Do(cmd.Context(), http.MethodGet, path+"/"+args[0], nil, nil)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), b)
			},
		},
		{
			Use: "delete ID...", Short: "Delete " + what + "s", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				for _, id := range args {
					if _, err := cf.client().Do(cmd.Context(), http.MethodDelete, path+"/"+id, nil, nil); err != nil {
						return fmt.Errorf("%s %s: %w", what, id, err)
					}
				}
				return nil
			},
		},
	}
}

func newAlertCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Manage alerts"}
	var a v1.Alert
	flags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringVar(&a.Name, "name", "", "name")
		f.StringVar(&a.Description, "description", "", "description")
		f.StringVar(&a.Expression, "expression", "", "Gremlin expression: the alert fires when it gives values")
		f.StringVar(&a.Trigger, "trigger", "graph", `"graph" (on graph changes) or "duration:<Go duration>" (periodically)`)
		f.StringVar(&a.Action, "action", "", "http(s):// URL to POST the notification to, or file:// script run with it on stdin")
		f.IntVar(&a.For, "for", 0, "seconds the expression must hold before the alert fires (0: at once)")
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an alert",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.create(cmd, "alert", &a)
		},
	}
	flags(create)
	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change the fields of an alert given as flags",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fields := []struct {
				flag, field, value string
			}{
				{"name", "Name", a.Name}, {"description", "Description", a.Description},
				{"expression", "Expression", a.Expression}, {"trigger", "Trigger", a.Trigger}, {"action", "Action", a.Action},
			}
			var ops []map[string]any
			for _, f := range fields {
				if cmd.Flags().Changed(f.flag) {
					ops = append(ops, map[string]any{"op": "add", "path": "/" + f.field, "value": f.value})
				}
			}
			if cmd.Flags().Changed("for") {
				ops = append(ops, map[string]any{"op": "add", "path": "/For", "value": a.For})
			}
			if len(ops) == 0 {
				return fmt.Errorf("nothing to update: give at least one of --name, --description, --expression, --trigger, --action, --for")
			}
			b, err := cf.client().Do(cmd.Context(), http.MethodPatch, "/api/alert/"+args[0], ops, nil)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), b)
		},
	}
	flags(update)
	cmd.AddCommand(create, update)
	cmd.AddCommand(resourceCommands(cf, "alert", "alert")...)
	return cmd
}

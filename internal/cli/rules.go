package cli

import (
	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// parseMetadata reads 'k1=v1, k2=v2' as the original's CLI: dotted keys
// make nested objects, values are strings.
func parseMetadata(s string) (map[string]any, error) {
	m, err := graph.ParseKeyValues(s, nil)
	return map[string]any(m), err
}

func newNodeRuleCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "node-rule", Short: "Manage node rules (user topology)"}
	var (
		r                  v1.NodeRule
		metadata, nodeName string
		nodeType           string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a node (--action create) or add metadata to the nodes of a query (--action update)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := parseMetadata(metadata)
			if err != nil {
				return err
			}
			if nodeName != "" {
				m["Name"] = nodeName
			}
			if nodeType != "" {
				m["Type"] = nodeType
			}
			r.Metadata = m
			return cf.create(cmd, "noderule", &r)
		},
	}
	f := create.Flags()
	f.StringVar(&r.Name, "name", "", "rule name")
	f.StringVar(&r.Description, "description", "", "rule description")
	f.StringVar(&nodeName, "node-name", "", "Name of the node to create")
	f.StringVar(&nodeType, "node-type", "", "Type of the node to create")
	f.StringVar(&metadata, "metadata", "", "node metadata, 'k1=v1, k2=v2'")
	f.StringVar(&r.Query, "query", "", "Gremlin query of the nodes to update")
	f.StringVar(&r.Action, "action", "create", "create or update")
	cmd.AddCommand(create)
	cmd.AddCommand(resourceCommands(cf, "noderule", "node rule")...)
	return cmd
}

func newEdgeRuleCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "edge-rule", Short: "Manage edge rules (user topology)"}
	var (
		r                  v1.EdgeRule
		metadata, relation string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Link the first node of --src to the first node of --dst",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := parseMetadata(metadata)
			if err != nil {
				return err
			}
			if relation != "" {
				m["RelationType"] = relation
			}
			r.Metadata = m
			return cf.create(cmd, "edgerule", &r)
		},
	}
	f := create.Flags()
	f.StringVar(&r.Name, "name", "", "rule name")
	f.StringVar(&r.Description, "description", "", "rule description")
	f.StringVar(&r.Src, "src", "", "Gremlin query of the source (parent) node")
	f.StringVar(&r.Dst, "dst", "", "Gremlin query of the destination (child) node")
	f.StringVar(&relation, "relationtype", "", "RelationType of the edge (layer2, ownership ...)")
	f.StringVar(&metadata, "metadata", "", "edge metadata, 'k1=v1, k2=v2'")
	cmd.AddCommand(create)
	cmd.AddCommand(resourceCommands(cf, "edgerule", "edge rule")...)
	return cmd
}

package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

// parseMetadata reads 'k1=v1, k2=v2' as the original's CLI: dotted keys
// make nested objects (a.b=c gives {"a": {"b": "c"}}), values are strings.
func parseMetadata(s string) (map[string]any, error) {
	m := map[string]any{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("metadata %q: expected key=value", pair)
		}
		cur := m
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				if _, set := cur[p]; set {
					return nil, fmt.Errorf("metadata %q: %s is already a value", pair, p)
				}
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
	return m, nil
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

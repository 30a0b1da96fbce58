package topology

import (
	"fmt"

	"github.com/skydive-ng/skydive/internal/graph"
)

// The original checked published elements against JSON schemas
// (statics/schemas/node.json and edge.json); these are those rules, shared by
// /api/node, /api/edge, /ws/publisher and `client topology import`. Errors
// name the field so that a refusal can be acted on.

// fieldError names the field first, as clients act on it (hence not the
// lower-case start of Go's error strings).
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

// ValidateNode checks n as the original's node schema.
func ValidateNode(n *graph.Node) error {
	if n.ID == "" {
		return fieldError("ID", "required, a non-empty string")
	}
	if n.Metadata == nil {
		return fieldError("Metadata", "required")
	}
	return ValidateNodeMetadata(n.Metadata)
}

// ValidateNodeMetadata checks a node's metadata: Type and Name, and Path on a
// netns, UUID on an ovsport.
func ValidateNodeMetadata(m graph.Metadata) error {
	for _, k := range []string{graph.KeyType, graph.KeyName} {
		if err := nonEmptyString(m, k); err != nil {
			return err
		}
	}
	switch m[graph.KeyType] {
	case TypeNetns:
		return isString(m, "Path")
	case "ovsport":
		return isString(m, "UUID")
	}
	return nil
}

// ValidateEdge checks e as the original's edge schema.
func ValidateEdge(e *graph.Edge) error {
	switch {
	case e.ID == "":
		return fieldError("ID", "required, a non-empty string")
	case e.Parent == "":
		return fieldError("Parent", "required, a non-empty node ID")
	case e.Child == "":
		return fieldError("Child", "required, a non-empty node ID")
	case e.Metadata == nil:
		return fieldError("Metadata", "required")
	}
	return ValidateEdgeMetadata(e.Metadata)
}

// ValidateEdgeMetadata checks an edge's metadata: a RelationType.
func ValidateEdgeMetadata(m graph.Metadata) error {
	return nonEmptyString(m, graph.KeyRelationType)
}

func nonEmptyString(m graph.Metadata, k string) error {
	if s, ok := m[k].(string); !ok || s == "" {
		return fieldError("Metadata."+k, "required, a non-empty string")
	}
	return nil
}

func isString(m graph.Metadata, k string) error {
	if _, ok := m[k].(string); !ok {
		return fieldError("Metadata."+k, "required on a %s node, a string", m[graph.KeyType])
	}
	return nil
}

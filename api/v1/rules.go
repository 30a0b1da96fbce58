package v1

// Node rule actions.
const (
	NodeRuleCreate = "create"
	NodeRuleUpdate = "update"
)

// NodeRule is a topology rule on nodes (/api/noderule): "create" adds a node
// made of Metadata (Type and Name required); "update" adds Metadata to the
// nodes Query selects.
type NodeRule struct {
	UUID        string         `json:"UUID"`
	Name        string         `json:"Name,omitempty"`
	Description string         `json:"Description,omitempty"`
	Metadata    map[string]any `json:"Metadata"`
	Action      string         `json:"Action"`
	Query       string         `json:"Query,omitempty"`
}

// EdgeRule is a topology rule on edges (/api/edgerule): it links the first
// node Src selects (parent) to the first node Dst selects (child) with
// Metadata (RelationType required).
type EdgeRule struct {
	UUID        string         `json:"UUID"`
	Name        string         `json:"Name,omitempty"`
	Description string         `json:"Description,omitempty"`
	Src         string         `json:"Src"`
	Dst         string         `json:"Dst"`
	Metadata    map[string]any `json:"Metadata"`
}

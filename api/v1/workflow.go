package v1

// Workflow parameter types (WorkflowParameter.Type).
const (
	WorkflowParamNode    = "node"
	WorkflowParamString  = "string"
	WorkflowParamInteger = "integer"
	WorkflowParamBoolean = "boolean"
	WorkflowParamChoice  = "choice"
	WorkflowParamDate    = "date"
)

// WorkflowChoice is one value a "choice" parameter may take.
type WorkflowChoice struct {
	Value       string `json:"Value"`
	Description string `json:"Description,omitempty"`
}

// WorkflowParameter describes one argument of a workflow's function.
type WorkflowParameter struct {
	Name        string           `json:"Name"`
	Description string           `json:"Description,omitempty"`
	Type        string           `json:"Type"`
	Default     any              `json:"Default,omitempty"`
	Values      []WorkflowChoice `json:"Values,omitempty"`
}

// Workflow is a workflow resource (POST/GET/DELETE /api/workflow): a
// JavaScript function run by the analyzer with POST /api/workflow/<id>/call.
type Workflow struct {
	UUID     string `json:"UUID"`
	Name     string `json:"Name"`
	Title    string `json:"Title,omitempty"`
	Abstract string `json:"Abstract,omitempty"`
	// Description is markdown.
	Description string              `json:"Description,omitempty"`
	Parameters  []WorkflowParameter `json:"Parameters"`
	// Source is the text of a JavaScript function.
	Source string `json:"Source"`
}

// WorkflowCall is the body of POST /api/workflow/<id>/call: the function's
// arguments, in the order of the workflow's Parameters.
type WorkflowCall struct {
	Params []any `json:"Params"`
}

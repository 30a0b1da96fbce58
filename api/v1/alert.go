package v1

import (
	"encoding/json"
	"time"
)

// Alert websocket namespace and message type: each firing is broadcast to
// the /ws/subscriber clients as {Namespace: "Alert", Type: "Alert",
// Obj: AlertMessage}.
const (
	NamespaceAlert = "Alert"
	AlertMsgType   = "Alert"
)

// Alert triggers.
const (
	// AlertTriggerGraph evaluates the alert when the graph changes.
	AlertTriggerGraph = "graph"
	// AlertTriggerDurationPrefix followed by a Go duration evaluates the
	// alert periodically ("duration:10s").
	AlertTriggerDurationPrefix = "duration:"
)

// Alert is an alert resource (/api/alert): a Gremlin expression that fires
// when its result becomes non-empty, or changes while non-empty; or else a
// JavaScript one, firing when its value is truthy (an empty array or object
// is false).
type Alert struct {
	UUID        string `json:"UUID"`
	Name        string `json:"Name,omitempty"`
	Description string `json:"Description,omitempty"`
	Expression  string `json:"Expression"`
	// Action is "", an http(s):// URL the notification is POSTed to, or a
	// file:// path run with the notification on its standard input.
	Action string `json:"Action,omitempty"`
	// Trigger is "graph" (the default) or "duration:<Go duration>".
	Trigger    string    `json:"Trigger"`
	CreateTime time.Time `json:"CreateTime,omitzero"`
	// Error is read only: why the last evaluation failed (a JavaScript
	// exception, a JavaScript evaluation interrupted at its time limit, a
	// query error); empty once an evaluation succeeds.
	Error string `json:"Error,omitempty"`
}

// AlertMessage is the notification of an alert's firing.
type AlertMessage struct {
	UUID string `json:"UUID"`
	// Timestamp is in milliseconds since the epoch.
	Timestamp  int64           `json:"Timestamp"`
	ReasonData json.RawMessage `json:"ReasonData"`
}

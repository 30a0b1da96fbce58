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
	Trigger string `json:"Trigger"`
	// For is how many seconds the expression must stay true before the
	// alert fires (0: at once). An alert with For also recovers only once
	// its expression has stayed false for a second: the transient states
	// the analyzer's graph goes through (an agent's update replaces a node
	// before the node rules and the utilisation are written on it again)
	// neither restart the wait nor recover it.
	For        int       `json:"For,omitempty"`
	CreateTime time.Time `json:"CreateTime,omitzero"`
	// Error is read only: why the last evaluation failed (a JavaScript
	// exception, a JavaScript evaluation interrupted at its time limit, a
	// query error); empty once an evaluation succeeds.
	Error string `json:"Error,omitempty"`
}

// Alert notification states.
const (
	// AlertStateFired: the expression became true (or its result changed
	// while true).
	AlertStateFired = "fired"
	// AlertStateRecovered: the expression of a fired alert became false;
	// notified once, its ReasonData the last firing's.
	AlertStateRecovered = "recovered"
)

// AlertMessage is the notification of an alert's firing or recovery.
type AlertMessage struct {
	UUID string `json:"UUID"`
	// Timestamp is in milliseconds since the epoch.
	Timestamp  int64           `json:"Timestamp"`
	ReasonData json.RawMessage `json:"ReasonData"`
	// State is "fired" or "recovered" (the original's notifications had
	// no State: a message without one is a firing).
	State string `json:"State,omitempty"`
}

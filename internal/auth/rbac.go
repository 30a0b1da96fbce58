package auth

import (
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

// ModelSections are the casbin model's sections, as the original's
// rbac.model keys; a section left empty keeps DefaultModel's.
type ModelSections struct {
	RequestDefinition []string
	PolicyDefinition  []string
	RoleDefinition    []string
	PolicyEffect      []string
	Matchers          []string
}

// DefaultModel is the original's model: a request is a subject, an object
// and an action; a role's allow grants unless a deny says otherwise. Objects
// and actions match with casbin's keyMatch, so that admin can be "*".
var DefaultModel = ModelSections{
	RequestDefinition: []string{"sub, obj, act"},
	PolicyDefinition:  []string{"sub, obj, act, eft"},
	RoleDefinition:    []string{"_, _"},
	PolicyEffect:      []string{"some(where (p.eft == allow)) && !some(where (p.eft == deny))"},
	Matchers:          []string{"g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && keyMatch(r.act, p.act)"},
}

// DefaultPolicy gives admin everything and guest the reading of the
// topology, the flows and the resources, never a change (the original's
// guest read only the status and the topology).
var DefaultPolicy = []string{
	"p, admin, *, *, allow",
	"p, guest, status, read, allow",
	"p, guest, topology, read, allow",
	"p, guest, metrics, read, allow",
	"p, guest, capture, read, allow",
	"p, guest, injectpacket, read, allow",
	"p, guest, alert, read, allow",
	"p, guest, workflow, read, allow",
	"p, guest, noderule, read, allow",
	"p, guest, edgerule, read, allow",
	"p, guest, node, read, allow",
	"p, guest, edge, read, allow",
	"p, guest, report, read, allow",
	"p, guest, latency, read, allow",
	"p, guest, websocket, /ws/subscriber, allow",
	"p, guest, websocket, /ws/subscriber/flow, allow",
}

// Permission says whether an action on an object is allowed, the shape of
// the original's /login answer and permissions cookie.
type Permission struct {
	Object  string `json:"Object"`
	Action  string `json:"Action"`
	Allowed bool   `json:"Allowed"`
}

// Objects and actions the UI asks about.
var uiPermissions = [][2]string{
	{"topology", "read"}, {"status", "read"},
	{"capture", "read"}, {"capture", "write"}, {"capture", "rawpackets"},
	{"injectpacket", "read"}, {"injectpacket", "write"},
	{"alert", "read"}, {"alert", "write"},
	{"workflow", "read"}, {"workflow", "write"}, {"workflow.call", "write"},
	{"noderule", "read"}, {"noderule", "write"}, {"edgerule", "read"}, {"edgerule", "write"},
	{"node", "read"}, {"node", "write"}, {"edge", "read"}, {"edge", "write"},
	{"pcap", "write"},
}

// RBAC decides what users may do.
type RBAC struct {
	e *casbin.SyncedEnforcer
}

// NewRBAC builds the enforcer from the model (empty sections: the default)
// and the default policy followed by extra lines ("p, sub, obj, act, eft"
// or "g, user, role").
func NewRBAC(m ModelSections, extra []string) (*RBAC, error) {
	text := modelText(m)
	mdl, err := model.NewModelFromString(text)
	if err != nil {
		return nil, fmt.Errorf("rbac.model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(mdl)
	if err != nil {
		return nil, fmt.Errorf("rbac: %w", err)
	}
	r := &RBAC{e: e}
	for i, line := range append(append([]string{}, DefaultPolicy...), extra...) {
		if err := r.addLine(line); err != nil {
			if i >= len(DefaultPolicy) {
				return nil, fmt.Errorf("rbac.policy[%d]: %w", i-len(DefaultPolicy), err)
			}
			return nil, err
		}
	}
	return r, nil
}

func modelText(m ModelSections) string {
	pick := func(v, def []string) []string {
		if len(v) > 0 {
			return v
		}
		return def
	}
	var b strings.Builder
	for _, s := range []struct {
		name, key string
		lines     []string
	}{
		{"request_definition", "r", pick(m.RequestDefinition, DefaultModel.RequestDefinition)},
		{"policy_definition", "p", pick(m.PolicyDefinition, DefaultModel.PolicyDefinition)},
		{"role_definition", "g", pick(m.RoleDefinition, DefaultModel.RoleDefinition)},
		{"policy_effect", "e", pick(m.PolicyEffect, DefaultModel.PolicyEffect)},
		{"matchers", "m", pick(m.Matchers, DefaultModel.Matchers)},
	} {
		fmt.Fprintf(&b, "[%s]\n", s.name)
		for _, l := range s.lines {
			fmt.Fprintf(&b, "%s = %s\n", s.key, l)
		}
	}
	return b.String()
}

func (r *RBAC) addLine(line string) error {
	rec, err := csv.NewReader(strings.NewReader(line)).Read()
	if err != nil {
		return fmt.Errorf("%q: %w", line, err)
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	args := make([]any, 0, len(rec)-1)
	for _, f := range rec[1:] {
		args = append(args, f)
	}
	switch rec[0] {
	case "p":
		_, err = r.e.AddPolicy(args...)
	case "g":
		_, err = r.e.AddGroupingPolicy(args...)
	default:
		err = fmt.Errorf("%q: a line starts with p or g", line)
	}
	return err
}

// ensureRole gives user the role def when the policy gives it none.
func (r *RBAC) ensureRole(user, def string) {
	roles, _ := r.e.GetRolesForUser(user)
	if len(roles) == 0 && def != "" && user != def {
		_, _ = r.e.AddGroupingPolicy(user, def)
	}
}

// Allowed tells whether user may do act on obj.
func (r *RBAC) Allowed(user, obj, act string) bool {
	ok, err := r.e.Enforce(user, obj, act)
	return err == nil && ok
}

// Permissions lists what the UI needs to know of user's rights.
func (r *RBAC) Permissions(user string) []Permission {
	out := make([]Permission, 0, len(uiPermissions))
	for _, p := range uiPermissions {
		out = append(out, Permission{Object: p[0], Action: p[1], Allowed: r.Allowed(user, p[0], p[1])})
	}
	return out
}

// Roles returns the roles of user.
func (r *RBAC) Roles(user string) []string {
	roles, _ := r.e.GetImplicitRolesForUser(user)
	return roles
}

package ovsdb

import (
	"github.com/ovn-org/libovsdb/model"
)

// The columns of the Open_vSwitch database the probe reads (libovsdb maps
// rows onto these structs by their ovsdb tags).

type openvSwitch struct {
	UUID          string            `ovsdb:"_uuid"`
	Bridges       []string          `ovsdb:"bridges"`
	DbVersion     *string           `ovsdb:"db_version"`
	OVSVersion    *string           `ovsdb:"ovs_version"`
	ExternalIDs   map[string]string `ovsdb:"external_ids"`
	OtherConfig   map[string]string `ovsdb:"other_config"`
	SystemType    *string           `ovsdb:"system_type"`
	SystemVersion *string           `ovsdb:"system_version"`
}

type bridge struct {
	UUID         string            `ovsdb:"_uuid"`
	Name         string            `ovsdb:"name"`
	Ports        []string          `ovsdb:"ports"`
	DatapathType string            `ovsdb:"datapath_type"`
	DatapathID   *string           `ovsdb:"datapath_id"`
	ExternalIDs  map[string]string `ovsdb:"external_ids"`
	OtherConfig  map[string]string `ovsdb:"other_config"`
	Protocols    []string          `ovsdb:"protocols"`
	Sflow        *string           `ovsdb:"sflow"`
	Netflow      *string           `ovsdb:"netflow"`
	Mirrors      []string          `ovsdb:"mirrors"`
}

type port struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Interfaces  []string          `ovsdb:"interfaces"`
	Tag         *int              `ovsdb:"tag"`
	Trunks      []int             `ovsdb:"trunks"`
	BondMode    *string           `ovsdb:"bond_mode"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	OtherConfig map[string]string `ovsdb:"other_config"`
}

type iface struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Ofport      *int              `ovsdb:"ofport"`
	Ifindex     *int              `ovsdb:"ifindex"`
	MAC         *string           `ovsdb:"mac_in_use"`
	MTU         *int              `ovsdb:"mtu"`
	AdminState  *string           `ovsdb:"admin_state"`
	LinkState   *string           `ovsdb:"link_state"`
	Error       *string           `ovsdb:"error"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	Options     map[string]string `ovsdb:"options"`
	OtherConfig map[string]string `ovsdb:"other_config"`
	Statistics  map[string]int    `ovsdb:"statistics"`
}

func dbModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		"Open_vSwitch": &openvSwitch{},
		"Bridge":       &bridge{},
		"Port":         &port{},
		"Interface":    &iface{},
		"sFlow":        &sflow{},
		"Mirror":       &mirror{},
		"NetFlow":      &netflowRow{},
	})
}

// monitoredTables are the tables the probe follows.
func monitoredTables() []model.Model {
	return []model.Model{&openvSwitch{}, &bridge{}, &port{}, &iface{}}
}

type sflow struct {
	UUID        string            `ovsdb:"_uuid"`
	Agent       *string           `ovsdb:"agent"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	Header      *int              `ovsdb:"header"`
	Polling     *int              `ovsdb:"polling"`
	Sampling    *int              `ovsdb:"sampling"`
	Targets     []string          `ovsdb:"targets"`
}

type mirror struct {
	UUID          string            `ovsdb:"_uuid"`
	Name          string            `ovsdb:"name"`
	SelectSrcPort []string          `ovsdb:"select_src_port"`
	SelectDstPort []string          `ovsdb:"select_dst_port"`
	OutputPort    *string           `ovsdb:"output_port"`
	ExternalIDs   map[string]string `ovsdb:"external_ids"`
}

package topology

// Metadata keys of an interface's routing, neighbours and ethtool state, as
// the original's netlink probe names them.
const (
	// KeyRoutingTables: [{ID, Src, Routes: [{Protocol, Prefix, NextHops:
	// [{Priority, IP, IfIndex}]}]}], the routes leaving by the interface.
	KeyRoutingTables = "RoutingTables"
	// KeyNeighbors: the ARP/NDP entries of the interface, [{Flags, MAC, IP,
	// State, Vlan, VNI, IfIndex}].
	KeyNeighbors = "Neighbors"
	// KeyFDB: the bridge forwarding entries of the interface, same shape.
	KeyFDB = "FDB"
	// KeyFeatures: the ethtool features, {name: active}.
	KeyFeatures = "Features"
	// KeyLinkNetNsName: the name of the namespace of the link's peer (a
	// veth's other end), as its netns node is named.
	KeyLinkNetNsName = "LinkNetNsName"
	// KeyLinkNetNsID: the kernel's ID of that namespace, seen from the
	// interface's own.
	KeyLinkNetNsID = "LinkNetNsID"
)

#!/usr/bin/env bash
# openstack-lab.sh up|down|status
#
# A small OpenStack network on this one machine, for Red Hat's guide to
# Skydive: a controller and two computes, each a network namespace on a
# management bridge, each with its own Open vSwitch (userspace datapath,
# br-int and br-tun), its own libvirtd (test driver) and its own
# `skydive agent`; a real neutron-server (noauth, sqlite, router plugin)
# holding two networks, a router and the ports; an OVN northbound database
# holding the same ports; qrouter-/qdhcp- namespaces; three instances, each a
# namespace plugged into br-int: instance-1 (net1, compute-1), instance-2
# (net1, compute-2), instance-3 (net2, compute-1, behind the router).
#
# Every address is inside namespaces the lab makes (10.250.0.0/24 for the
# management network and underlay, 192.168.10/24 and 192.168.20/24 for the
# tenants). The analyzer, neutron-server and OVN NB run in the controller's
# namespace, on 10.250.0.10. With LAB_UI_PORT (default 8082, 0: none) a
# socat in this namespace forwards 127.0.0.1:LAB_UI_PORT into the
# controller, so the UI and `skydive client` work from here.
#
# Tunnels: the userspace datapath's own VXLAN ports need the underlay routed
# through an OVS bridge; instead each node has one kernel vxlan device per
# network (id = the network's VNI, head-end replication to the other nodes
# by FDB entries), added to br-tun as an access port of the network's local
# VLAN, as the OVS agent's tunnel bridge maps VNI <-> local VLAN.
#
# Environment: LAB_DIR (default /run/skydive-lab), LAB_PREFIX (namespace
# prefix, default skl), SKYDIVE_BIN (default bin/skydive next to this
# script), LAB_UI_PORT. `up` prints what it made; `status` what runs;
# `down` removes everything `up` made (also after a failed `up`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LAB_DIR=${LAB_DIR:-/run/skydive-lab}
P=${LAB_PREFIX:-skl}
SKYDIVE_BIN=${SKYDIVE_BIN:-$here/../bin/skydive}
LAB_UI_PORT=${LAB_UI_PORT:-8082}
PY=/usr/bin/python3 # the distro's python has neutron's modules; a pyenv shim may not
CTL_IP=10.250.0.10
NODES=(controller compute-1 compute-2)
declare -A IP=([controller]=10.250.0.10 [compute-1]=10.250.0.11 [compute-2]=10.250.0.12)
declare -A SHORT=([controller]=ctl [compute-1]=c1 [compute-2]=c2)
declare -A NS=([controller]=$P-ctl [compute-1]=$P-c1 [compute-2]=$P-c2)
NEUTRON=http://$CTL_IP:9696/v2.0
PROJECT=5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e

log() { echo "lab: $*" >&2; }
die() {
	echo "lab: error: $*" >&2
	exit 1
}
in_ns() { ip netns exec "$1" "${@:2}"; }
ovs() { # ovs NODE CMD... : an OVS command against that node's own daemons
	local d=$LAB_DIR/$1/ovs
	OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d timeout 20 "${@:2}"
}
vsctl() { ovs "$1" ovs-vsctl --db="unix:$LAB_DIR/$1/ovs/db.sock" "${@:2}"; }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
api() { # api METHOD PATH [BODY]: neutron's REST API, from the controller
	local out code
	out=$(in_ns "${NS[controller]}" curl -sS -X "$1" -H 'Content-Type: application/json' -w '\n%{http_code}' \
		${3:+--data "$3"} "$NEUTRON$2") || die "neutron $1 $2: $out"
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	[[ $code == 2* ]] || die "neutron $1 $2: HTTP $code: $out"
	echo "$out"
}
wait_for() { # wait_for SECONDS WHAT CMD...
	local deadline=$((SECONDS + $1))
	until "${@:3}" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$2: not ready after $1 s"
		sleep 0.2
	done
}

need() {
	local missing=()
	for b in ip bridge curl ovsdb-server ovs-vswitchd ovs-vsctl ovn-nbctl neutron-server libvirtd socat lldpd runc; do
		command -v "$b" >/dev/null || missing+=("$b")
	done
	[ -x "$SKYDIVE_BIN" ] || die "no skydive binary at $SKYDIVE_BIN (make build)"
	[ -x "$PY" ] || missing+=("$PY")
	((${#missing[@]} == 0)) || die "missing: ${missing[*]} (apt-get install iproute2 curl openvswitch-switch ovn-central neutron-server libvirt-daemon socat lldpd runc)"
	[ "$(id -u)" = 0 ] || die "run as root"
}

# --- the machines -----------------------------------------------------------

make_nodes() {
	ip netns add "$P-mgmt"
	in_ns "$P-mgmt" ip link add br-mgmt type bridge
	in_ns "$P-mgmt" ip link set br-mgmt up
	in_ns "$P-mgmt" ip link set lo up
	for n in "${NODES[@]}"; do
		local ns=${NS[$n]}
		ip netns add "$ns"
		mkdir -p "$LAB_DIR/$n/netns" "$LAB_DIR/$n/runc" "$LAB_DIR/$n/ovs" "$LAB_DIR/$n/libvirt"
		# Made in place: no name of the lab's ever exists in this namespace.
		ip link add name "m-${SHORT[$n]}" netns "$P-mgmt" type veth peer name eth0 netns "$ns"
		in_ns "$P-mgmt" ip link set "m-${SHORT[$n]}" master br-mgmt up
		in_ns "$ns" ip addr add "${IP[$n]}/24" dev eth0
		in_ns "$ns" ip link set eth0 up
		in_ns "$ns" ip link set lo up
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
}

start_ovs() { # start_ovs NODE: ovsdb-server + ovs-vswitchd inside the node
	local n=$1 d=$LAB_DIR/$1/ovs ns=${NS[$1]}
	ovs "$n" ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
	in_ns "$ns" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" ovsdb-server "$d/conf.db" \
		--remote="punix:$d/db.sock" --pidfile="$d/ovsdb-server.pid" --log-file="$d/ovsdb-server.log" -vconsole:off --detach
	vsctl "$n" --no-wait init
	in_ns "$ns" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" ovs-vswitchd "unix:$d/db.sock" \
		--pidfile="$d/ovs-vswitchd.pid" --log-file="$d/ovs-vswitchd.log" -vconsole:off --detach
	vsctl "$n" add-br br-int -- set bridge br-int datapath_type=netdev \
		-- add-br br-tun -- set bridge br-tun datapath_type=netdev \
		-- add-port br-int patch-tun -- set interface patch-tun type=patch options:peer=patch-int \
		-- add-port br-tun patch-int -- set interface patch-int type=patch options:peer=patch-tun
	in_ns "$ns" ip link set br-int up
	in_ns "$ns" ip link set br-tun up
}

# tunnels NODE VNI VLAN: the network's vxlan device on br-tun.
tunnels() {
	local n=$1 vni=$2 vlan=$3 ns=${NS[$1]} dev="vxlan-$2"
	in_ns "$ns" ip link add "$dev" type vxlan id "$vni" dstport 4789 local "${IP[$n]}" dev eth0
	for peer in "${NODES[@]}"; do
		[ "$peer" = "$n" ] || in_ns "$ns" bridge fdb append 00:00:00:00:00:00 dev "$dev" dst "${IP[$peer]}"
	done
	in_ns "$ns" ip link set "$dev" mtu 1450 up
	vsctl "$n" add-port br-tun "$dev" tag="$vlan"
}

# plug NODE DEV NS INNER PORT_ID MAC CIDR [GW] [VM_ID]: a veth from br-int
# (DEV, carrying Neutron's external_ids) into namespace NS (INNER).
plug() {
	local n=$1 dev=$2 target=$3 inner=$4 port=$5 mac=$6 cidr=$7 gw=${8:-} vm=${9:-} vlan=${10}
	local ns=${NS[$n]}
	ip link add name "$dev" netns "$ns" type veth peer name "$inner" netns "$target"
	in_ns "$target" ip link set "$inner" address "$mac" mtu 1450
	in_ns "$target" ip addr add "$cidr" dev "$inner"
	in_ns "$target" ip link set "$inner" up
	in_ns "$target" ip link set lo up
	[ -z "$gw" ] || in_ns "$target" ip route add default via "$gw"
	in_ns "$ns" ip link set "$dev" mtu 1450 up
	local ext="external_ids:iface-id=$port external_ids:attached-mac=$mac external_ids:iface-status=active"
	[ -z "$vm" ] || ext="$ext external_ids:vm-id=$vm external_ids:vm-uuid=$vm"
	# shellcheck disable=SC2086
	vsctl "$n" add-port br-int "$dev" tag="$vlan" -- set interface "$dev" $ext
}

# expose NODE NS NAME: NS appears as NAME in the node's netns folder, the
# agent's agent.topology.netns.run_path.
expose() {
	local f=$LAB_DIR/$1/netns/$3
	touch "$f"
	mount --bind "/run/netns/$2" "$f"
}

# --- OpenStack ----------------------------------------------------------------

start_neutron() {
	in_ns "${NS[controller]}" "$here/neutron-server.sh" start "$LAB_DIR/neutron" 9696 "$CTL_IP" ||
		die "neutron-server did not start (log: $LAB_DIR/neutron/neutron-server.log)"
}

start_ovn() {
	local d=$LAB_DIR/ovn
	mkdir -p "$d"
	ovsdb-tool create "$d/nb.db" /usr/share/ovn/ovn-nb.ovsschema
	in_ns "${NS[controller]}" ovsdb-server "$d/nb.db" --remote="punix:$d/nb.sock" --remote="ptcp:6641:$CTL_IP" \
		--pidfile="$d/nb.pid" --unixctl="$d/nb.ctl" --log-file="$d/nb.log" -vconsole:off --detach
}
nbctl() { timeout 20 ovn-nbctl --db="unix:$LAB_DIR/ovn/nb.sock" "$@"; }

# port NET NAME OWNER DEVICE_ID HOST [IP]: a Neutron port; prints "id mac ip".
port() {
	local body fixed=""
	[ -z "${6:-}" ] || fixed=$(printf ',"fixed_ips":[{"ip_address":"%s"}]' "$6")
	body=$(printf '{"port":{"network_id":"%s","name":"%s","device_owner":"%s","device_id":"%s","binding:host_id":"%s","project_id":"%s"%s}}' \
		"$1" "$2" "$3" "$4" "$5" "$PROJECT" "$fixed")
	api POST /ports "$body" | json 'd["port"]["id"], d["port"]["mac_address"], d["port"]["fixed_ips"][0]["ip_address"]'
}

build_openstack() {
	local n1 n2 s1 s2 vni1 vni2 r
	n1=$(api POST /networks "{\"network\":{\"name\":\"net1\",\"project_id\":\"$PROJECT\",\"provider:network_type\":\"vxlan\"}}" | json 'd["network"]["id"]')
	n2=$(api POST /networks "{\"network\":{\"name\":\"net2\",\"project_id\":\"$PROJECT\",\"provider:network_type\":\"vxlan\"}}" | json 'd["network"]["id"]')
	vni1=$(api GET "/networks/$n1" | json 'd["network"]["provider:segmentation_id"]')
	vni2=$(api GET "/networks/$n2" | json 'd["network"]["provider:segmentation_id"]')
	s1=$(api POST /subnets "{\"subnet\":{\"network_id\":\"$n1\",\"name\":\"sub1\",\"ip_version\":4,\"cidr\":\"192.168.10.0/24\",\"gateway_ip\":\"192.168.10.1\",\"project_id\":\"$PROJECT\"}}" | json 'd["subnet"]["id"]')
	s2=$(api POST /subnets "{\"subnet\":{\"network_id\":\"$n2\",\"name\":\"sub2\",\"ip_version\":4,\"cidr\":\"192.168.20.0/24\",\"gateway_ip\":\"192.168.20.1\",\"project_id\":\"$PROJECT\"}}" | json 'd["subnet"]["id"]')
	r=$(api POST /routers "{\"router\":{\"name\":\"router1\",\"project_id\":\"$PROJECT\"}}" | json 'd["router"]["id"]')
	local rp1 rp2
	rp1=$(api PUT "/routers/$r/add_router_interface" "{\"subnet_id\":\"$s1\"}" | json 'd["port_id"]')
	rp2=$(api PUT "/routers/$r/add_router_interface" "{\"subnet_id\":\"$s2\"}" | json 'd["port_id"]')
	# On every node, the same local VLANs: net1 -> 1, net2 -> 2.
	for n in "${NODES[@]}"; do
		tunnels "$n" "$vni1" 1
		tunnels "$n" "$vni2" 2
	done

	# The router, on the controller: qr- devices with the gateways.
	local qr="qrouter-$r" qrns=$P-qr
	ip netns add "$qrns"
	in_ns "$qrns" sysctl -qw net.ipv4.ip_forward=1
	local rport rp net vlan rmac rip cidr
	for rp in "$rp1:$n1:1:24" "$rp2:$n2:2:24"; do
		IFS=: read -r rport net vlan cidr <<<"$rp"
		read -r rmac rip < <(api GET "/ports/$rport" | json 'd["port"]["mac_address"], d["port"]["fixed_ips"][0]["ip_address"]')
		plug controller "qrp${rport:0:11}" "$qrns" "qr-${rport:0:11}" "$rport" "$rmac" "$rip/$cidr" "" "" "$vlan"
		echo "router-port $rport $net $rmac $rip" >>"$LAB_DIR/inventory"
	done
	expose controller "$qrns" "$qr"

	# DHCP namespaces, on the controller (no dnsmasq: instances are static).
	local i=0 dport dmac dip
	for net in "$n1" "$n2"; do
		i=$((i + 1))
		read -r dport dmac dip < <(port "$net" "dhcp-$i" network:dhcp "dhcp$net" controller)
		ip netns add "$P-qd$i"
		plug controller "dhp${dport:0:11}" "$P-qd$i" "tap${dport:0:11}" "$dport" "$dmac" "$dip/24" "" "" "$i"
		expose controller "$P-qd$i" "qdhcp-$net"
		echo "dhcp-port $dport $net $dmac $dip" >>"$LAB_DIR/inventory"
	done

	# The instances: namespaces standing for the VMs, with their port's MAC
	# and address, plugged through tap<port id> into br-int.
	local spec name node vm vport vmac vip gw
	for spec in "instance-1:compute-1:$n1:1:192.168.10.1" "instance-2:compute-2:$n1:1:192.168.10.1" "instance-3:compute-1:$n2:2:192.168.20.1"; do
		IFS=: read -r name node net vlan gw <<<"$spec"
		vm=$($PY -c 'import uuid; print(uuid.uuid4())')
		read -r vport vmac vip < <(port "$net" "$name-port" compute:nova "$vm" "$node")
		ip netns add "$P-$name"
		plug "$node" "tap${vport:0:11}" "$P-$name" eth0 "$vport" "$vmac" "$vip/24" "$gw" "$vm" "$vlan"
		expose "$node" "$P-$name" "$name"
		echo "instance $name $node $vm $vport $vmac $vip $net ${NS[$node]} $P-$name tap${vport:0:11}" >>"$LAB_DIR/inventory"
	done
	echo "network net1 $n1 $vni1" >>"$LAB_DIR/inventory"
	echo "network net2 $n2 $vni2" >>"$LAB_DIR/inventory"
	echo "router router1 $r" >>"$LAB_DIR/inventory"

	# OVN northbound: the same switches, ports and router, as networking-ovn
	# names them.
	local kind id mac ip rest
	nbctl ls-add "neutron-$n1" -- ls-add "neutron-$n2" -- lr-add "neutron-$r"
	while read -r kind id rest; do
		case $kind in
		instance)
			read -r name node vm vport vmac vip net _ <<<"$id $rest"
			nbctl lsp-add "neutron-$net" "$vport" -- lsp-set-addresses "$vport" "$vmac $vip"
			;;
		dhcp-port)
			read -r net mac ip <<<"$rest"
			nbctl lsp-add "neutron-$net" "$id" -- lsp-set-addresses "$id" "$mac $ip"
			;;
		router-port)
			read -r net mac ip <<<"$rest"
			nbctl lrp-add "neutron-$r" "lrp-$id" "$mac" "$ip/24" -- lsp-add "neutron-$net" "$id" \
				-- lsp-set-type "$id" router -- lsp-set-options "$id" "router-port=lrp-$id" -- lsp-set-addresses "$id" router
			;;
		esac
	done <"$LAB_DIR/inventory"
}

# --- Skydive ------------------------------------------------------------------

start_skydive() {
	local d=$LAB_DIR/analyzer
	mkdir -p "$d"
	cat >"$d/skydive.yml" <<X
host_id: analyzer
analyzer:
  listen: $CTL_IP:8082
  data_dir: $d/data
  topology:
    probes: [ovn]
    ovn:
      address: tcp:$CTL_IP:6641
    fabric:
      - TOR1[Name=tor1, Vendor=lab] -> TOR1_PORT1[Name=port1, MTU=1500]
      - TOR1 -> TOR1_PORT2[Name=port2, MTU=1500]
      - TOR1 -> TOR1_PORT3[Name=port3, MTU=1500]
      - TOR1_PORT1 -> *[Type=host, Name=controller]/eth0
      - TOR1_PORT2 -> *[Type=host, Name=compute-1]/eth0
      - TOR1_PORT3 -> *[Type=host, Name=compute-2]/eth0
logging:
  level: info
X
	# Not through in_ns: a function in the background is a subshell, and
	# $! would be its pid, not the analyzer's (kill -9 must reach it).
	ip netns exec "${NS[controller]}" setsid "$SKYDIVE_BIN" analyzer -c "$d/skydive.yml" >"$d/analyzer.log" 2>&1 </dev/null &
	echo $! >"$d/pid"
	wait_for 30 "analyzer" in_ns "${NS[controller]}" curl -sf "http://$CTL_IP:8082/api"
	for n in "${NODES[@]}"; do
		"$here/libvirtd.sh" start "$LAB_DIR/$n/libvirt"
		cat >"$LAB_DIR/$n/skydive.yml" <<X
host_id: $n
analyzers: [$CTL_IP:8082]
agent:
  listen: 127.0.0.1:8081
  topology:
    probes: [ovsdb, neutron, libvirt, runc, lldp]
    lldp:
      interfaces: [eth0]
    netns:
      run_path: $LAB_DIR/$n/netns
    neutron:
      endpoint_url: http://$CTL_IP:9696
      poll_interval: 5
    libvirt:
      url: test+unix:///default?socket=$LAB_DIR/$n/libvirt/libvirt-sock
    runc:
      run_path: [$LAB_DIR/$n/runc]
ovs:
  ovsdb: unix://$LAB_DIR/$n/ovs/db.sock
logging:
  level: info
X
		ip netns exec "${NS[$n]}" setsid "$SKYDIVE_BIN" agent -c "$LAB_DIR/$n/skydive.yml" >"$LAB_DIR/$n/agent.log" 2>&1 </dev/null &
		echo $! >"$LAB_DIR/$n/agent.pid"
	done
	# The management switch announces itself on its ports, as a top-of-rack
	# switch does; the agents' lldp probes show it.
	mkdir -p "$LAB_DIR/lldpd"
	chmod 755 "$LAB_DIR" "$LAB_DIR/lldpd" # lldpd drops its privileges
	ip netns exec "$P-mgmt" setsid lldpd -d -u "$LAB_DIR/lldpd/lldpd.sock" -I 'm-*' -S "lab top-of-rack switch" \
		>"$LAB_DIR/lldpd/lldpd.log" 2>&1 </dev/null &
	echo $! >"$LAB_DIR/lldpd/pid"
	wait_for 10 "lldpd" test -S "$LAB_DIR/lldpd/lldpd.sock"
	lldpcli -u "$LAB_DIR/lldpd/lldpd.sock" configure system hostname tor-mgmt >/dev/null
	lldpcli -u "$LAB_DIR/lldpd/lldpd.sock" configure lldp tx-interval 5 >/dev/null
	if [ "$LAB_UI_PORT" != 0 ]; then
		# Loopback here, the controller's address there: each connection
		# enters the controller's namespace.
		setsid socat "TCP-LISTEN:$LAB_UI_PORT,bind=127.0.0.1,reuseaddr,fork" \
			"EXEC:ip netns exec ${NS[controller]} socat STDIO TCP\:$CTL_IP\:8082" >"$LAB_DIR/socat.log" 2>&1 </dev/null &
		echo $! >"$LAB_DIR/socat.pid"
	fi
}

agents_connected() {
	local n
	n=$(in_ns "${NS[controller]}" curl -sf "http://$CTL_IP:8082/api/status" | json 'sum(1 for a in d["Agents"].values() if a["IsConnected"])')
	[ "$n" = 3 ]
}

# --- commands -----------------------------------------------------------------

up() {
	need
	[ ! -e "$LAB_DIR/inventory" ] || die "a lab is up in $LAB_DIR ($0 down first)"
	mkdir -p "$LAB_DIR"
	: >"$LAB_DIR/inventory"
	echo "$P" >"$LAB_DIR/prefix"
	trap 'echo "lab: up failed; cleaning up" >&2; down >/dev/null 2>&1 || true' ERR
	log "nodes and management network"
	make_nodes
	for n in "${NODES[@]}"; do start_ovs "$n"; done
	log "neutron-server (about 15 s) and OVN northbound"
	start_neutron
	start_ovn
	log "networks, router, DHCP and instances"
	build_openstack
	log "analyzer and agents"
	start_skydive
	wait_for 60 "three agents connected" agents_connected
	trap - ERR
	status
}

status() {
	[ -e "$LAB_DIR/inventory" ] || {
		echo "no lab in $LAB_DIR"
		return 0
	}
	echo "lab in $LAB_DIR (namespaces $(cat "$LAB_DIR/prefix")-*)"
	local f alive
	for f in "$LAB_DIR"/analyzer/pid "$LAB_DIR"/*/agent.pid "$LAB_DIR"/lldpd/pid "$LAB_DIR"/neutron/neutron-server.pid "$LAB_DIR"/ovn/nb.pid "$LAB_DIR"/*/ovs/*.pid "$LAB_DIR"/*/libvirt/libvirtd.pid; do
		[ -e "$f" ] || continue
		alive=dead
		kill -0 "$(cat "$f")" 2>/dev/null && alive=running
		printf '  %-60s %s\n' "${f#"$LAB_DIR"/}" "$alive"
	done
	echo "instances (name node vm-id port mac ip network):"
	awk '$1 == "instance" {print "  " $2, $3, $4, $5, $6, $7, $8}' "$LAB_DIR/inventory"
	echo "analyzer: http://$CTL_IP:8082 in namespace ${NS[controller]}; e.g."
	echo "  ip netns exec ${NS[controller]} $SKYDIVE_BIN client status --analyzer $CTL_IP:8082"
	[ "$LAB_UI_PORT" = 0 ] || echo "  UI and client from here: http://127.0.0.1:$LAB_UI_PORT"
}

stop_pidfile() { # stop_pidfile FILE: TERM the process (and its group), then KILL
	[ -e "$1" ] || return 0
	local pid
	pid=$(cat "$1")
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$1"
}

down() {
	[ -e "$LAB_DIR/prefix" ] && P=$(cat "$LAB_DIR/prefix")
	stop_pidfile "$LAB_DIR/socat.pid"
	stop_pidfile "$LAB_DIR/lldpd/pid"
	for f in "$LAB_DIR"/*/agent.pid "$LAB_DIR/analyzer/pid"; do stop_pidfile "$f"; done
	[ ! -d "$LAB_DIR/neutron" ] || "$here/neutron-server.sh" stop "$LAB_DIR/neutron" || true
	for n in "${NODES[@]}"; do
		[ ! -d "$LAB_DIR/$n/libvirt" ] || "$here/libvirtd.sh" stop "$LAB_DIR/$n/libvirt" || true
		stop_pidfile "$LAB_DIR/$n/ovs/ovs-vswitchd.pid"
		stop_pidfile "$LAB_DIR/$n/ovs/ovsdb-server.pid"
	done
	stop_pidfile "$LAB_DIR/ovn/nb.pid"
	# Containers the tests ran in a node's runc root.
	for r in "$LAB_DIR"/*/runc; do
		[ -d "$r" ] || continue
		for c in $(runc --root "$r" list -q 2>/dev/null); do runc --root "$r" delete -f "$c" 2>/dev/null || true; done
	done
	for f in "$LAB_DIR"/*/netns/*; do
		[ -e "$f" ] && umount "$f" 2>/dev/null || true
	done
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$P-" || true); do
		# Anything left running inside keeps the namespace alive.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$LAB_DIR"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac

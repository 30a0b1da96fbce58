#!/bin/sh
# Runs Debian's neutron-server (21, Antelope) standalone for tests and labs:
# no keystone (noauth), sqlite in DIR, no message bus (fake://), ML2 with
# vxlan tenant networks and the router service plugin.
#
#   neutron-server.sh start DIR PORT [BIND_ADDR]   # BIND_ADDR defaults to 127.0.0.1
#   neutron-server.sh stop DIR
#
# start writes DIR/neutron.conf, creates the schema on first use (a restart on
# the same DIR keeps the database), starts neutron-server in the background
# (pid in DIR/neutron-server.pid, log in DIR/neutron-server.log) and returns
# once GET /v2.0/networks answers. stop kills the server and its workers and
# waits for them. Nothing is printed but errors.
set -eu

usage() {
	echo "usage: $0 start DIR PORT [BIND_ADDR] | stop DIR" >&2
	exit 2
}

# The distribution's python: the one on PATH may be a pyenv shim without
# neutron's modules.
PY=/usr/bin/python3
START_TIMEOUT=${NEUTRON_START_TIMEOUT:-60}

# shellcheck source=lib/proc.sh
. "$(dirname "$0")/lib/proc.sh"

do_stop() { stop_tree "$1/neutron-server.pid" neutron-server; }

fail() {
	echo "neutron-server: $*" >&2
	echo "neutron-server: log: $LOG (and $DIR/neutron-server.stdout)" >&2
	do_stop "$DIR" || true
	exit 1
}

do_start() {
	DIR=$1 PORT=$2 ADDR=$3
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	LOG=$DIR/neutron-server.log
	if [ -f "$DIR/neutron-server.pid" ] && alive "$(cat "$DIR/neutron-server.pid")"; then
		echo "neutron-server: already running in $DIR (pid $(cat "$DIR/neutron-server.pid"))" >&2
		exit 1
	fi
	for b in neutron-server neutron-db-manage curl setsid "$PY"; do
		command -v "$b" >/dev/null 2>&1 || {
			echo "neutron-server: $b not found (apt-get install -y --no-install-recommends neutron-server)" >&2
			exit 1
		}
	done
	url="http://$ADDR:$PORT/v2.0/networks"
	case $ADDR in *:*) url="http://[$ADDR]:$PORT/v2.0/networks" ;; esac
	case $ADDR in 0.0.0.0) url="http://127.0.0.1:$PORT/v2.0/networks" ;; esac
	# Something answering there already would pass for our server.
	if curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
		echo "neutron-server: $ADDR:$PORT is already in use" >&2
		exit 1
	fi
	mkdir -p "$DIR/state" "$DIR/lock"
	cat >"$DIR/neutron.conf" <<EOF
[DEFAULT]
auth_strategy = noauth
core_plugin = ml2
service_plugins = router
transport_url = fake://
bind_host = $ADDR
bind_port = $PORT
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
state_path = $DIR/state
lock_path = $DIR/lock
api_paste_config = /etc/neutron/api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
debug = false
use_stderr = false
log_file = $LOG
# The API request lines ("GET /v2.0/ports HTTP/1.1") are neutron.wsgi's INFO
# records: keep that logger at INFO whatever the defaults become.
default_log_levels = amqp=WARN,amqplib=WARN,sqlalchemy=WARN,oslo.messaging=INFO,oslo_messaging=INFO,iso8601=WARN,requests.packages.urllib3.connectionpool=WARN,urllib3.connectionpool=WARN,websocket=WARN,keystonemiddleware=WARN,routes.middleware=WARN,stevedore=WARN,taskflow=WARN,oslo_policy=WARN,neutron.wsgi=INFO
[database]
connection = sqlite:///$DIR/neutron.sqlite
[oslo_concurrency]
lock_path = $DIR/lock
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vxlan]
vni_ranges = 1:1000
EOF
	if [ ! -s "$DIR/neutron.sqlite" ]; then
		# `neutron-db-manage upgrade heads` cannot ALTER constraints on
		# sqlite: create the tables from the models, then stamp.
		if ! "$PY" - "$DIR/neutron.sqlite" >"$DIR/schema.log" 2>&1 <<'EOF'
import sys
import sqlalchemy as sa
from neutron.db.migration.models import head
head.get_metadata().create_all(sa.create_engine("sqlite:///" + sys.argv[1]))
EOF
		then
			rm -f "$DIR/neutron.sqlite"
			cat "$DIR/schema.log" >&2
			echo "neutron-server: schema creation failed" >&2
			exit 1
		fi
		if ! neutron-db-manage --config-file "$DIR/neutron.conf" stamp heads >>"$DIR/schema.log" 2>&1; then
			rm -f "$DIR/neutron.sqlite"
			cat "$DIR/schema.log" >&2
			echo "neutron-server: neutron-db-manage stamp heads failed" >&2
			exit 1
		fi
	fi
	start_bg "$DIR/neutron-server.pid" "$DIR/neutron-server.stdout" neutron-server --config-file "$DIR/neutron.conf" ||
		fail "no pidfile"
	why=$(wait_http "$(cat "$DIR/neutron-server.pid")" "$url" "$START_TIMEOUT") || fail "$why"
}

[ $# -ge 1 ] || usage
case $1 in
start)
	[ $# -ge 3 ] && [ $# -le 4 ] || usage
	do_start "$2" "$3" "${4:-127.0.0.1}"
	;;
stop)
	[ $# -eq 2 ] || usage
	do_stop "$2"
	;;
*) usage ;;
esac

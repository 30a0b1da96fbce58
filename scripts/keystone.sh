#!/bin/sh
# Runs Debian's Keystone (22, Antelope; package python3-keystone) standalone
# for tests and labs: sqlite, fernet tokens and credential keys in DIR, the
# public WSGI application served by keystone-wsgi-public (Python's wsgiref,
# one request at a time: a test server, not a production one).
#
#   keystone.sh start DIR PORT [BIND_ADDR] [NEUTRON_URL]  # BIND_ADDR defaults to 127.0.0.1 (IPv4 only)
#   keystone.sh stop DIR
#
# On first use of DIR, start writes DIR/keystone.conf, creates the schema and
# the keys, bootstraps (user admin, password $KEYSTONE_ADMIN_PASSWORD or
# admin-secret, project admin, region RegionOne, identity endpoints at
# http://ADDR:PORT/v3/), then creates the project service, the user neutron
# (password neutron-secret, roles admin and member on service) and, with
# NEUTRON_URL, the network service neutron with its public and internal
# endpoints in RegionOne. A restart on the same DIR keeps all that.
# The server runs in the background (pid in DIR/keystone.pid, log in
# DIR/keystone.log, request lines in DIR/keystone.stdout); start returns once
# GET /v3 answers. stop kills the server and waits for it. Nothing is
# printed but errors.
set -eu

usage() {
	echo "usage: $0 start DIR PORT [BIND_ADDR] [NEUTRON_URL] | stop DIR" >&2
	exit 2
}

# The distribution's python: the one on PATH may be a pyenv shim without
# keystone's modules.
PY=/usr/bin/python3
START_TIMEOUT=${KEYSTONE_START_TIMEOUT:-60}
ADMIN_PASSWORD=${KEYSTONE_ADMIN_PASSWORD:-admin-secret}

# shellcheck source=lib/proc.sh
. "$(dirname "$0")/lib/proc.sh"

do_stop() { stop_tree "$1/keystone.pid" keystone; }

fail() {
	echo "keystone: $*" >&2
	echo "keystone: log: $LOG (and $DIR/keystone.stdout, $DIR/setup.log)" >&2
	do_stop "$DIR" || true
	exit 1
}

# manage ARGS...: keystone-manage on DIR's configuration, its output in
# DIR/setup.log (shown on failure).
manage() {
	if ! keystone-manage --config-file "$DIR/keystone.conf" "$@" >>"$DIR/setup.log" 2>&1; then
		cat "$DIR/setup.log" >&2
		rm -f "$DIR/keystone.sqlite"
		echo "keystone: keystone-manage $1 failed" >&2
		exit 1
	fi
}

do_start() {
	DIR=$1 PORT=$2 ADDR=$3 NEUTRON_URL=$4
	case $ADDR in *:*)
		echo "keystone: $ADDR: keystone-wsgi-public listens on IPv4 only" >&2
		exit 2
		;;
	esac
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	LOG=$DIR/keystone.log
	if [ -f "$DIR/keystone.pid" ] && alive "$(cat "$DIR/keystone.pid")"; then
		echo "keystone: already running in $DIR (pid $(cat "$DIR/keystone.pid"))" >&2
		exit 1
	fi
	for b in keystone-manage keystone-wsgi-public curl setsid "$PY"; do
		command -v "$b" >/dev/null 2>&1 || {
			echo "keystone: $b not found (apt-get install -y --no-install-recommends python3-keystone curl)" >&2
			exit 1
		}
	done
	host=$ADDR
	[ "$ADDR" = 0.0.0.0 ] && host=127.0.0.1
	url="http://$host:$PORT/v3"
	# Something answering there already would pass for our server.
	if curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
		echo "keystone: $ADDR:$PORT is already in use" >&2
		exit 1
	fi
	cat >"$DIR/keystone.conf" <<EOF
[DEFAULT]
debug = false
use_stderr = false
log_file = $LOG
[database]
connection = sqlite:///$DIR/keystone.sqlite
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/fernet-keys
[fernet_receipts]
key_repository = $DIR/fernet-keys
[credential]
key_repository = $DIR/credential-keys
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
	if [ ! -s "$DIR/keystone.sqlite" ]; then
		: >"$DIR/setup.log"
		rm -rf "$DIR/fernet-keys" "$DIR/credential-keys"
		manage db_sync
		manage fernet_setup --keystone-user root --keystone-group root
		manage credential_setup --keystone-user root --keystone-group root
		manage bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
			--bootstrap-admin-url "$url/" --bootstrap-internal-url "$url/" \
			--bootstrap-public-url "$url/" --bootstrap-region-id RegionOne
		# The neutron account and the network service, through keystone's
		# own managers as bootstrap does (keystone-manage has no command for
		# them; the REST API of the wsgiref server, on sqlite, fails
		# creating a second endpoint with "database is locked").
		if ! "$PY" - "$DIR/keystone.conf" "$NEUTRON_URL" >>"$DIR/setup.log" 2>&1 <<'EOF'; then
import sys
import uuid

import keystone.server
from keystone.common import driver_hints
from keystone.common import provider_api
from keystone.server import backends

conf, neutron_url = sys.argv[1:3]
del sys.argv[1:]  # oslo.config parses them
keystone.server.configure(config_files=[conf])
backends.load_backends()
P = provider_api.ProviderAPIs

project = {"id": uuid.uuid4().hex, "name": "service", "domain_id": "default", "enabled": True,
           "description": "Service project"}
P.resource_api.create_project(project["id"], project)
user = P.identity_api.create_user({"name": "neutron", "password": "neutron-secret", "domain_id": "default",
                                   "default_project_id": project["id"], "enabled": True})
for name in ("admin", "member"):
    hints = driver_hints.Hints()
    hints.add_filter("name", name)
    hints.add_filter("domain_id", None)
    roles = P.role_api.list_roles(hints)
    if not roles:
        sys.exit("no role %s after bootstrap" % name)
    P.assignment_api.add_role_to_user_and_project(user["id"], project["id"], roles[0]["id"])
if neutron_url:
    service = {"id": uuid.uuid4().hex, "type": "network", "name": "neutron", "enabled": True,
               "description": "OpenStack Networking"}
    P.catalog_api.create_service(service["id"], service)
    for interface in ("public", "internal"):
        endpoint = {"id": uuid.uuid4().hex, "service_id": service["id"], "interface": interface,
                    "url": neutron_url, "region_id": "RegionOne", "enabled": True}
        P.catalog_api.create_endpoint(endpoint["id"], endpoint)
EOF
			cat "$DIR/setup.log" >&2
			rm -f "$DIR/keystone.sqlite"
			echo "keystone: creating the neutron user and service failed" >&2
			exit 1
		fi
	fi
	start_bg "$DIR/keystone.pid" "$DIR/keystone.stdout" \
		env OS_KEYSTONE_CONFIG_DIR="$DIR" keystone-wsgi-public --host "$ADDR" --port "$PORT" || fail "no pidfile"
	why=$(wait_http "$(cat "$DIR/keystone.pid")" "$url" "$START_TIMEOUT") || fail "$why"
}

[ $# -ge 1 ] || usage
case $1 in
start)
	[ $# -ge 3 ] && [ $# -le 5 ] || usage
	do_start "$2" "$3" "${4:-127.0.0.1}" "${5:-}"
	;;
stop)
	[ $# -eq 2 ] || usage
	do_stop "$2"
	;;
*) usage ;;
esac

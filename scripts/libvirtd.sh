#!/bin/sh
# libvirtd.sh start DIR | stop DIR
# A private libvirtd serving the built-in test driver: config, sockets
# (DIR/libvirt-sock), log and pidfile in DIR; no other driver is loaded
# (the qemu one fails without its system user). Connect with
#   virsh -c "test+unix:///default?socket=DIR/libvirt-sock"
# Silent on success; errors on stderr, exit status non-zero.
set -eu
usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
dir=$2
case $1 in
start)
	mkdir -p "$dir/nodrivers"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/libvirtd.pid" ] && kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null; then
		exit 0
	fi
	cat >"$dir/libvirtd.conf" <<X
listen_tls = 0
listen_tcp = 0
unix_sock_dir = "$dir"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$dir/libvirtd.log"
X
	rm -f "$dir/libvirt-sock" "$dir/libvirt-sock-ro" "$dir/libvirt-admin-sock"
	LIBVIRT_DRIVER_DIR="$dir/nodrivers" libvirtd -d -f "$dir/libvirtd.conf" -p "$dir/libvirtd.pid" >/dev/null 2>&1
	i=0
	while [ ! -S "$dir/libvirt-sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "libvirtd.sh: no socket in $dir after 10 s, see $dir/libvirtd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	;;
stop)
	[ -f "$dir/libvirtd.pid" ] || exit 0
	pid=$(cat "$dir/libvirtd.pid")
	kill "$pid" 2>/dev/null || exit 0
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$dir/libvirtd.pid"
	;;
*)
	usage
	;;
esac

# Process helpers for the scripts that run servers in the background
# (neutron-server.sh, keystone.sh); POSIX sh, sourced.

# pgid_of PID: the process group of PID (empty if gone).
pgid_of() { ps -o pgid= -p "$1" 2>/dev/null | tr -d ' '; }

# descendants PID: PID's children, grandchildren... one per line.
descendants() {
	for c in $(pgrep -P "$1" 2>/dev/null || true); do
		echo "$c"
		descendants "$c"
	done
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_tree PIDFILE NAME: TERM the process of PIDFILE, its process group and
# its descendants, KILL what is left after 10 s, and wait for them.
stop_tree() {
	pidfile=$1
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if [ -z "$pid" ] || ! alive "$pid"; then
		rm -f "$pidfile"
		return 0
	fi
	# The server runs in its own session (setsid), workers included: signal
	# the group, and the descendants by PID in case one left the group.
	pids="$pid $(descendants "$pid")"
	pgid=$(pgid_of "$pid")
	if [ "$pgid" = "$pid" ]; then
		kill -TERM -- "-$pgid" 2>/dev/null || true
	fi
	kill -TERM $pids 2>/dev/null || true
	i=0
	while [ $i -lt 100 ]; do # 10 s of grace, then KILL
		left=""
		for p in $pids; do alive "$p" && left="$left $p"; done
		[ -z "$left" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$left" ]; then
		[ "$pgid" = "$pid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
		kill -KILL $left 2>/dev/null || true
		i=0
		while [ $i -lt 50 ]; do
			left2=""
			for p in $left; do alive "$p" && left2="$left2 $p"; done
			[ -z "$left2" ] && break
			sleep 0.1
			i=$((i + 1))
		done
		if [ -n "$left2" ]; then
			echo "$2: processes$left2 survived SIGKILL" >&2
			return 1
		fi
	fi
	rm -f "$pidfile"
}

# start_bg PIDFILE OUT CMD...: runs CMD in a session of its own (setsid: its
# workers share a process group stop_tree signals as a whole), stdin closed,
# output to OUT. The inner shell writes its own pid, then becomes CMD: the
# pidfile is right whether or not setsid had to fork. Fails if no pidfile
# shows within 5 s.
start_bg() {
	pidfile=$1 out=$2
	shift 2
	rm -f "$pidfile"
	setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" </dev/null >"$out" 2>&1 &
	i=0
	while [ ! -s "$pidfile" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.05
	done
	return 0
}

# wait_http PID URL SECONDS: until URL answers; on failure prints why and
# fails (the process exited, or no answer in time).
wait_http() {
	deadline=$(($(date +%s) + $3))
	while :; do
		if ! alive "$1"; then
			echo "exited during start-up"
			return 1
		fi
		curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null && return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "no answer from $2 within ${3}s"
			return 1
		fi
		sleep 0.2
	done
}

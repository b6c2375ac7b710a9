#!/bin/sh
# Ensure a local ClickHouse server answers on 127.0.0.1:9000 (native) / 8123 (HTTP).
#
# Usage: .ci/clickhouse.sh [start|stop|status]   (default: start)
#
# start  installs Debian's clickhouse-server + clickhouse-client with apt-get if
#        missing, starts the server in the background without systemd and waits
#        (up to CLICKHOUSE_WAIT seconds, default 60) until `SELECT 1` answers.
#        Idempotent: does nothing when the server already answers.
# stop   stops a server started by this script (pid file), waiting for it to exit.
# status exits 0 when the server answers.
set -eu

CONFIG=${CLICKHOUSE_CONFIG:-/etc/clickhouse-server/config.xml}
WAIT=${CLICKHOUSE_WAIT:-60}
RUNDIR=${CLICKHOUSE_RUNDIR:-/var/run/clickhouse-server}
PIDFILE=$RUNDIR/clickhouse-server.pid
LOG=${CLICKHOUSE_STDLOG:-/tmp/clickhouse-server.stdout.log}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ours_running: the pid file names a live clickhouse-server (not a process
# that reused the pid after the server was killed).
ours_running() {
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE")
	kill -0 "$pid" 2>/dev/null || return 1
	case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
	clickhouse*) return 0 ;;
	esac
	return 1
}

answers() {
	clickhouse-client -q 'SELECT 1' >/dev/null 2>&1
}

install() {
	if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
		return 0
	fi
	echo "clickhouse.sh: installing clickhouse-server clickhouse-client" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server clickhouse-client
}

start() {
	install
	if answers; then
		echo "clickhouse.sh: server already answers" >&2
		return 0
	fi
	as_root mkdir -p "$RUNDIR" /var/lib/clickhouse /var/log/clickhouse-server
	if id clickhouse >/dev/null 2>&1; then
		as_root chown clickhouse:clickhouse "$RUNDIR" /var/lib/clickhouse /var/log/clickhouse-server
	fi
	# Containers often lack IPv6; ClickHouse then refuses to start when it
	# cannot bind ::1 unless listen_try is set. Drop an override that keeps
	# the loopback IPv4 listener mandatory and tolerates the rest.
	confd=$(dirname "$CONFIG")/config.d
	if [ ! -f "$confd/ward-listen.xml" ]; then
		as_root mkdir -p "$confd"
		as_root sh -c "cat > '$confd/ward-listen.xml'" <<'XML'
<yandex>
    <listen_try>1</listen_try>
</yandex>
XML
	fi
	if ours_running; then
		echo "clickhouse.sh: server process $(cat "$PIDFILE") running, waiting for it" >&2
	else
		# A pid file left by a killed server may name a pid reused since
		# (start-stop-daemon would otherwise refuse or mis-track).
		as_root rm -f "$PIDFILE"
		echo "clickhouse.sh: starting clickhouse-server" >&2
		if [ "$(id -u)" = 0 ] && id clickhouse >/dev/null 2>&1 && command -v start-stop-daemon >/dev/null 2>&1; then
			start-stop-daemon --start --quiet --chuid clickhouse:clickhouse --background \
				--make-pidfile --pidfile "$PIDFILE" \
				--exec "$(command -v clickhouse-server)" -- --config-file="$CONFIG"
		else
			nohup clickhouse-server --config-file="$CONFIG" >"$LOG" 2>&1 &
			echo $! >"$PIDFILE"
		fi
	fi
	i=0
	while ! answers; do
		i=$((i + 1))
		if [ "$i" -gt $((WAIT * 2)) ]; then
			echo "clickhouse.sh: server did not answer within ${WAIT}s; see /var/log/clickhouse-server/" >&2
			tail -n 20 /var/log/clickhouse-server/clickhouse-server.err.log 2>/dev/null >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	echo "clickhouse.sh: server answers ($(clickhouse-client -q 'SELECT version()'))" >&2
}

stop() {
	if [ ! -f "$PIDFILE" ]; then
		echo "clickhouse.sh: no pid file $PIDFILE" >&2
		return 0
	fi
	pid=$(cat "$PIDFILE")
	as_root kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 120 ]; then
			as_root kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
	as_root rm -f "$PIDFILE"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) answers ;;
*)
	echo "usage: $0 [start|stop|status]" >&2
	exit 2
	;;
esac

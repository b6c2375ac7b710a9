#!/bin/sh
# Ensure a local Redis server answers PING on 127.0.0.1:6379 (rate limits and
# budgets shared between Ward replicas; see docs/limits.md).
#
# Usage: .ci/redis.sh [start|stop|status]   (default: start)
#
# start  installs Debian's redis-server (which brings redis-cli) with apt-get
#        if missing, starts it in the background without systemd (no
#        persistence, loopback only) and waits up to REDIS_WAIT seconds
#        (default 30) for PING. Idempotent: does nothing when a server
#        already answers on the port.
# stop   stops a server started by this script (pid file), waiting for it.
# status exits 0 when the server answers PING.
#
# Environment: REDIS_PORT (6379), REDIS_WAIT (30), REDIS_RUNDIR (/tmp/ward-redis).
set -eu

PORT=${REDIS_PORT:-6379}
WAIT=${REDIS_WAIT:-30}
RUNDIR=${REDIS_RUNDIR:-/tmp/ward-redis}
PIDFILE=$RUNDIR/redis.pid

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

answers() {
	[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]
}

install() {
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
		return 0
	fi
	echo "redis.sh: installing redis-server" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
}

# ours_running: the pid file names a live redis-server (not a process that
# reused the pid after the server was killed).
ours_running() {
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE")
	kill -0 "$pid" 2>/dev/null || return 1
	case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
	redis-server*) return 0 ;;
	esac
	return 1
}

start() {
	install
	if answers; then
		echo "redis.sh: server already answers on 127.0.0.1:$PORT" >&2
		return 0
	fi
	mkdir -p "$RUNDIR"
	if ours_running; then
		echo "redis.sh: server process $(cat "$PIDFILE") running, waiting for it" >&2
	else
		# A pid file left by a killed server may name a pid reused since.
		rm -f "$PIDFILE"
		echo "redis.sh: starting redis-server on 127.0.0.1:$PORT" >&2
		# --daemonize writes the pid file itself; no persistence: the
		# limiter's state is soft and ClickHouse holds the durable spend.
		redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes \
			--pidfile "$PIDFILE" --logfile "$RUNDIR/redis.log" --dir "$RUNDIR" \
			--save '' --appendonly no
	fi
	i=0
	while ! answers; do
		i=$((i + 1))
		if [ "$i" -gt $((WAIT * 10)) ]; then
			echo "redis.sh: server did not answer PING within ${WAIT}s" >&2
			tail -n 20 "$RUNDIR/redis.log" 2>/dev/null >&2 || true
			exit 1
		fi
		sleep 0.1
	done
	echo "redis.sh: server answers ($(redis-cli -h 127.0.0.1 -p "$PORT" info server | grep redis_version | tr -d '\r'))" >&2
}

stop() {
	if [ ! -f "$PIDFILE" ]; then
		echo "redis.sh: no pid file $PIDFILE" >&2
		return 0
	fi
	pid=$(cat "$PIDFILE")
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$PIDFILE"
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

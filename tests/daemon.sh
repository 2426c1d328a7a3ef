# daemon.sh - shell helpers shared by the tests and benchmarks that run the
# real amortd (sourced, not run).  Only loopback; every wait is bounded.

# daemon_port LOG PID: waits (at most 10 s) for the "listening on" line of
# the daemon PID in LOG and prints its port; prints nothing if the daemon
# exited or never said it.
daemon_port() {
	_i=0
	while [ $_i -lt 200 ]; do
		_p=$(sed -n 's/.*amortd: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$1")
		[ -n "$_p" ] && { echo "$_p"; return 0; }
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# daemon_stop PID [TENTHS]: SIGTERM, wait at most TENTHS tenths of a second
# (default 100) for it to go, then return its exit status.
daemon_stop() {
	kill -TERM "$1"
	_i=0
	while [ $_i -lt "${2:-100}" ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$1"
}

# daemon_start AMORTD LOG ARGS...: starts AMORTD --listen 127.0.0.1:0
# ARGS... in the background, its stderr in LOG (emptied first), and sets
# $pid, $port and $U (the base URL) from its "listening on" line.  Fails if
# the daemon exited or never said where it listens ($pid is set anyway).
daemon_start() {
	_d=$1 _l=$2
	shift 2
	: >"$_l"
	"$_d" --listen 127.0.0.1:0 "$@" 2>"$_l" &
	pid=$!
	port=$(daemon_port "$_l" "$pid")
	U="http://127.0.0.1:$port"
	[ -n "$port" ]
}

# daemon_end: daemon_stop of the daemon of daemon_start, which is then
# forgotten ($pid emptied); returns its exit status.
daemon_end() {
	daemon_stop "$pid"
	_rc=$?
	pid=""
	return $_rc
}

# daemon_kill: for exit traps: kills the daemon of daemon_start if it is
# still there, and waits for it.
daemon_kill() {
	[ -n "${pid:-}" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}

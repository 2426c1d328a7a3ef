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

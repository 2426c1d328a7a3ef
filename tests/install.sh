#!/bin/sh
# install.sh - `make install` and `make uninstall` into a temporary prefix:
# the tools, the shipped models, the config and the systemd unit land where
# the Makefile says, with no @...@ placeholder left; the installed daemon
# starts with the installed config and serves the installed models;
# `systemd-analyze verify` accepts the unit; install keeps an existing
# config, uninstall keeps a changed one and removes everything else.
#
# The prefix is a directory in the temporary one (PREFIX=$tmp/usr,
# SYSCONFDIR=$tmp/etc), not DESTDIR=$tmp PREFIX=/usr: systemd-analyze verify
# wants ExecStart's program to exist, and with --root=$tmp it misses the
# system's own units (sysinit.target).  Where systemd-analyze is missing (a
# container without the systemd package) that check is SKIPPED.
# Usage: tests/install.sh BUILD_DIR, from the top of the tree; make runs
# with BUILD=BUILD_DIR, so what is built is installed, not rebuilt.  Prints
# cmocka-style result lines for tests/run.sh.
set -u
here=$(dirname "$0")
. "$here/daemon.sh"
. "$here/result.sh"
B=$1
tmp=$(mktemp -d)
pid=""
trap 'daemon_kill; rm -rf "$tmp"' EXIT
P="$tmp/usr"
E="$tmp/etc"
UNIT="$P/lib/systemd/system/amortd.service"
CONF="$E/amortd/amortd.conf"
nmodels=$(ls "$here"/../deploy/models/*.amort | wc -l)

why_failed() {
	[ -s "$tmp/out" ] && sed 's/^/    /' "$tmp/out" | tail -n 25
}

# mk TARGET: make TARGET with the temporary prefix, its output in $tmp/out.
mk() {
	make -C "$here/.." --no-print-directory BUILD="$B" PREFIX="$P" \
		SYSCONFDIR="$E" "$1" >"$tmp/out" 2>&1
}

# files: every file under the prefix and the config directory, sorted.
files() {
	find "$P" "$E" -type f 2>/dev/null | sort
}

echo "[==========] Running make install tests."
expect "make install into a temporary prefix" mk install
expect "it installs amort, amortd and the $nmodels shipped models" eval \
	'[ -x "$P/bin/amort" ] && [ -x "$P/bin/amortd" ] && [ $(ls "$P"/share/amortd/models/*.amort | wc -l) -eq $nmodels ]'
: >"$tmp/out"
expect "the unit and the config have every @...@ filled in" eval \
	'[ -s "$UNIT" ] && [ -s "$CONF" ] && ! grep -n "@[A-Z]*@" "$UNIT" "$CONF" >"$tmp/out"'
expect "the unit runs the installed daemon with the installed config" \
	grep -qx "ExecStart=$P/bin/amortd --config $CONF" "$UNIT"

# the daemon as the unit starts it, but on a free port and a state
# directory of its own (flags win over the config file)
mkdir -p "$tmp/state"
if daemon_start "$P/bin/amortd" "$tmp/out" --config "$CONF" --state-dir "$tmp/state"; then
	expect "the installed daemon starts with the installed config and its $nmodels models" eval \
		'curl -s -m 10 "$U/readyz" | grep -q "\"models\":$nmodels}"'
	expect "SIGTERM exits 0" daemon_end
else
	bad "the installed daemon starts with the installed config"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# it exits 0 on most warnings: a line naming the unit is a failure too
	expect "systemd-analyze verify accepts the unit" eval \
		'systemd-analyze verify "$UNIT" >"$tmp/out" 2>&1 && ! grep -q amortd "$tmp/out"'
else
	skipped "systemd-analyze verify of the unit: systemd-analyze missing (Debian package systemd)"
fi

echo "# a local change" >>"$CONF"
expect "a second install keeps the changed config" eval \
	'mk install && grep -q "keeping the existing" "$tmp/out" && grep -q "^# a local change" "$CONF"'
expect "uninstall removes everything but the changed config" eval \
	'mk uninstall && [ "$(files)" = "$CONF" ] && [ ! -d "$P/share/amortd" ]'
rm -f "$CONF"
expect "install and uninstall with the config unchanged leave no file" eval \
	'mk install && mk uninstall && [ -z "$(files)" ] && [ ! -d "$E/amortd" ]'

result_end

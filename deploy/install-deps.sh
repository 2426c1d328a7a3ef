#!/bin/sh
# install-deps.sh - install the Debian packages amortd builds against, if any
# is missing.  Called by `make` before the first build (and by `make bench`
# as `install-deps.sh bench`, which adds wrk); safe to run again.
# Needs root (or sudo) only when something is actually missing.
set -eu

# Debian package : what we probe to know it is there
# (hershey-fonts-data: the .jhf vector fonts core/data/hershey.c reads from
# /usr/share/hershey-fonts for the letter point-cloud tasks)
pkgs="libmicrohttpd-dev libjansson-dev libsqlite3-dev libopenblas-dev libcmocka-dev pkg-config hershey-fonts-data"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# make and a C compiler are needed to get here at all; curl is used by the
# walkthroughs and integration tests, the sqlite3 shell by tests/crash.sh
# (PRAGMA integrity_check on the database of a killed daemon), Debian's
# python3 (standard library only) by tests/clients.sh for the Python client.
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
[ -x /usr/bin/python3 ] || missing="$missing python3"
# `install-deps.sh bench`: also what `make bench` drives the daemon with.
if [ "${1:-}" = bench ]; then
	command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
fi

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

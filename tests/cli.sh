#!/bin/sh
# cli.sh - behaviour of the `amort` command on good and bad input: exit
# codes and messages.  Usage: tests/cli.sh BUILD_DIR.  Prints cmocka-style
# result lines so tests/run.sh counts it with the rest.
set -u
AMORT="$1/amort"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

check() {	# name, expected exit status, expected stderr pattern, command...
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/err" "$tmp/out"; then
		echo "[       OK ] $name"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $name: exit $rc (want $want), output:"
		cat "$tmp/out" "$tmp/err"
		fail=$((fail + 1))
	fi
}

echo "[==========] Running amort command tests."
check "usage without a command" 2 "usage: amort" "$AMORT"
check "unknown command" 2 "unknown command 'frobnicate'" "$AMORT" frobnicate
check "demo refuses a bad --iters" 2 "--iters wants an integer" "$AMORT" demo --iters 12x
check "demo trains and saves" 0 "saved $tmp/m.amort" "$AMORT" demo --iters 3 -o "$tmp/m.amort"
check "info on a good file" 0 "30 tensors" "$AMORT" info "$tmp/m.amort"
check "info shows the header" 0 '"task_family": "linreg1d-demo"' "$AMORT" info "$tmp/m.amort"
head -c 200 "$tmp/m.amort" >"$tmp/trunc.amort"
check "info refuses a truncated file" 1 "truncated\|checksum" "$AMORT" info "$tmp/trunc.amort"
check "info refuses a missing file" 1 "nope.amort" "$AMORT" info "$tmp/nope.amort"
check "info refuses a directory" 1 "$tmp" "$AMORT" info "$tmp"
printf 'not a model' >"$tmp/text.amort"
check "info refuses a text file" 1 "magic\|too short\|not a model" "$AMORT" info "$tmp/text.amort"
check "demo refuses an unwritable path" 1 "no-such-dir" "$AMORT" demo --iters 1 -o "$tmp/no-such-dir/m.amort"

if [ "$fail" -eq 0 ]; then
	echo "[  PASSED  ] $pass test(s)."
else
	echo "[  PASSED  ] $pass test(s)."
	echo "[  FAILED  ] $fail test(s)."
	exit 1
fi

#!/bin/sh
# run.sh - run every test binary given as an argument, report each one's
# result, and finish with one summary line counting cmocka test cases.
# An argument may carry arguments of its own ("tests/cli.sh build"): it
# is split on spaces.  Exits non-zero if any binary fails.
set -u
passed=0
failed=0
bad=""
for t in "$@"; do
	# shellcheck disable=SC2086
	out=$($t 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		bad="$bad $(basename "${t%% *}")"
		[ -z "$f" ] && failed=$((failed + 1))
	fi
done
[ -n "$bad" ] && echo "failing binaries:$bad"
echo "tests: $passed passed, $failed failed"
[ -z "$bad" ]

#!/bin/sh
# run.sh - run every test binary given as an argument, report each one's
# result, and finish with one summary line counting cmocka test cases:
# passed, failed and skipped, after a list of what was skipped and why.
# An argument may carry arguments of its own ("tests/cli.sh build"): it
# is split on spaces.  Exits non-zero if any binary fails.
#
# Counted are cmocka's summary lines, "[  PASSED  ] N test(s)." and the
# same with FAILED and SKIPPED (tests/result.sh prints them for the shell
# tests).  The skipped tests are the other "[  SKIPPED ] NAME" lines (cmocka
# prints each twice); a line printed just before one, between its
# "[ RUN      ]" line and it, is taken as the reason.
set -u
passed=0
failed=0
skipped=0
bad=""
skips=""

# name_of ARG: the program an argument runs ("env X=1 tests/a.sh b": a.sh).
name_of() {
	for w in $1; do
		case $w in
		env | *=*) ;;
		*) basename "$w"; return ;;
		esac
	done
}

for t in "$@"; do
	# shellcheck disable=SC2086
	out=$($t 2>&1)
	rc=$?
	name=$(name_of "$t")
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	what=$(printf '%s\n' "$out" | awk -v name="$name" '
		/^\[  SKIPPED \] [0-9]+ test/ { prev = ""; next }
		/^\[  SKIPPED \] / {
			t = substr($0, 14)
			if (!(t in seen)) {
				seen[t] = 1
				printf "  %s: %s%s\n", name, t, (prev == "" ? "" : " (" prev ")")
			}
		}
		{ prev = ($0 ~ /^\[/) ? "" : $0 }')
	[ -n "$what" ] && skips="$skips$what
"
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-$(printf '%s' "$what" | grep -c .)}))
	if [ "$rc" -ne 0 ]; then
		bad="$bad $name"
		[ -z "$f" ] && failed=$((failed + 1))
	fi
done
[ -n "$skips" ] && printf 'skipped:\n%s' "$skips"
[ -n "$bad" ] && echo "failing binaries:$bad"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ -z "$bad" ]

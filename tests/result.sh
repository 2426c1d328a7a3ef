# result.sh - cmocka-style result lines for the shell tests (sourced, not
# run), in the forms tests/run.sh counts.  A script reports each check with
# ok, bad or skipped and ends with result_end, which prints
#   [  PASSED  ] N test(s).
#   [  SKIPPED ] N test(s).      (if any check was skipped)
#   [  FAILED  ] N test(s).      (if any failed; result_end then returns 1)
# A script may redefine why_failed to print context under a FAILED line.
pass=0
fail=0
skip=0

why_failed() { :; }

# ok NAME: a check that passed.
ok() {
	echo "[       OK ] $1"
	pass=$((pass + 1))
}

# bad NAME: a check that failed; why_failed prints what the script knows.
bad() {
	echo "[  FAILED  ] $1"
	why_failed
	fail=$((fail + 1))
}

# skipped NAME: a check (or a group of them) that could not run here; NAME
# says what and why, e.g. "image models: data/ missing (run make data)".
skipped() {
	echo "[  SKIPPED ] $1"
	skip=$((skip + 1))
}

# expect NAME COMMAND...: ok if the command succeeds, else bad.
expect() {
	_name=$1
	shift
	if "$@"; then ok "$_name"; else bad "$_name"; fi
}

# result_end: the summary lines; fails if any check failed.
result_end() {
	echo "[  PASSED  ] $pass test(s)."
	[ "$skip" -eq 0 ] || echo "[  SKIPPED ] $skip test(s)."
	[ "$fail" -eq 0 ] || { echo "[  FAILED  ] $fail test(s)."; return 1; }
}

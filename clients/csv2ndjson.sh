#!/bin/sh
# csv2ndjson.sh - turn a CSV of training rows into the NDJSON that
# POST /v1/sessions/{id}/batches streams: one {"x":[..],"y":..} per row.
#
# usage: clients/csv2ndjson.sh [--no-y] [FILE...]     (standard input if none)
#
# The last column is y and the others are x; with --no-y every column is x
# and the lines are {"x":[..]} (rows for a generative model).  A first line
# that is not all numbers is a header and is skipped.  Commas separate
# fields; spaces around them, CRLF line ends and blank lines are ignored.
# Anything else that is not a finite number, or a row whose width differs
# from the first row's, stops the conversion with the file and line on
# stderr and exit status 1.  In a pipeline into curl the rows before the bad
# line have been streamed (and applied) by then; `set -o pipefail` makes the
# pipeline fail.  To upload all or nothing, convert to a file first.
#
# Example:
#   clients/csv2ndjson.sh train.csv | curl --fail-with-body --data-binary @- \
#       -H 'Content-Type: application/x-ndjson' "$URL/v1/sessions/$ID/batches"
set -eu

noy=0
case "${1-}" in
--no-y) noy=1; shift ;;
-h|--help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
-*) echo "usage: csv2ndjson.sh [--no-y] [FILE...]" >&2; exit 2 ;;
esac

exec awk -v noy="$noy" '
function die(msg) {
	printf "csv2ndjson: %s: line %d: %s\n", FILENAME == "" ? "-" : FILENAME, FNR, msg > "/dev/stderr"
	exit 1
}
# A JSON number: what the daemon accepts as is.
function is_json(s) {
	return s ~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/
}
# A number in a form JSON lacks (+1, .5, 1., 007): rewritten with %.9g, which
# keeps every digit a float32 holds.
function is_loose(s) {
	return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/
}
FNR == 1 { header_done = 0 }
{
	sub(/\r$/, "")
	if ($0 ~ /^[ \t]*$/) next
	n = split($0, f, ",")
	numeric = 1
	for (i = 1; i <= n; i++) {
		gsub(/^[ \t]+|[ \t]+$/, "", f[i])
		if (!is_json(f[i]) && !is_loose(f[i])) numeric = 0
	}
	if (!header_done) {
		header_done = 1
		if (!numeric) next	# a header line
	}
	if (width == 0) {
		width = n
		if (!noy && width < 2) die("one column: need at least one x and y (or --no-y)")
	}
	if (n != width) die(n " fields, expected " width)
	for (i = 1; i <= n; i++) {
		if (is_json(f[i])) continue
		if (!is_loose(f[i])) die("field " i ": \047" f[i] "\047 is not a finite number")
		f[i] = sprintf("%.9g", f[i] + 0)
	}
	nx = noy ? n : n - 1
	line = "{\"x\":[" f[1]
	for (i = 2; i <= nx; i++) line = line "," f[i]
	line = line "]"
	if (!noy) line = line ",\"y\":" f[n]
	print line "}"
}
' "$@"

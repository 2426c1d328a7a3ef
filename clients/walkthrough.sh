#!/bin/bash
# walkthrough.sh - a first session with amortd, with curl only.
#
# Start the daemon in one terminal (`make run`), then run this in another:
#
#   clients/walkthrough.sh                 # talks to http://127.0.0.1:8080
#   AMORTD_URL=http://host:port clients/walkthrough.sh
#   KEEP=1 clients/walkthrough.sh          # leave the session for a look
#
# It opens a session on the "linreg" model, streams the 1000 rows of
# y = 2 x1 - x2 + 0.5 + noise in clients/train.csv as NDJSON (converted by
# csv2ndjson.sh; clients/mkdata.sh says how the file was made), sends one
# JSON batch with a sequence number (and retries it, to show that a retry
# is not applied twice), asks for predictions, reads the step history,
# shows an error response, and deletes the session.
# Every request is printed before it runs, followed by the response's status
# line and body.  Any unexpected HTTP status stops the walkthrough with a
# non-zero exit (curl --fail-with-body).
set -euo pipefail

URL=${AMORTD_URL:-http://127.0.0.1:8080}
URL=${URL%/}
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() {	# a numbered heading
	n=$((${n:-0} + 1))
	printf '\n== %d. %s\n' "$n" "$*"
}

show() {	# print a command the way one would type it
	local out="$" a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ || $a == '|' || $a == '>' ]]; then
			out="$out $a"
		else
			out="$out '$a'"
		fi
	done
	printf '%s\n' "$out"
}

respond() {	# print the final status line, Location if any, and the body
	awk '{ sub(/\r$/, "") }
	     /^HTTP\// { status = $0; loc = "" }
	     tolower($0) ~ /^location:/ { loc = $0 }
	     END { if (status != "") print "< " status; if (loc != "") print "< " loc }' \
		"$tmp/headers"
	if [ -s "$tmp/body" ]; then
		cat "$tmp/body"
		[ -z "$(tail -c 1 "$tmp/body")" ] || echo
	fi
}

call() {	# curl ARGS...: print the command, then fetch
	show curl "$@"
	fetch "$@"
}

fetch() {	# curl ARGS...: run and print the response; stop on an HTTP error
	if ! curl -sS --fail-with-body -D "$tmp/headers" -o "$tmp/body" "$@"; then
		[ -s "$tmp/headers" ] && respond
		echo "walkthrough: the request above failed" >&2
		exit 1
	fi
	respond
}

field() {	# NAME: a top-level scalar from the last response body
	sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\).*/\1/p" "$tmp/body" | head -n 1
}

step "Is the daemon up?"
show curl "$URL/healthz"
if ! curl -sS --fail-with-body -D "$tmp/headers" -o "$tmp/body" "$URL/healthz"; then
	echo "walkthrough: no amortd at $URL: start it with 'make run' (or set AMORTD_URL)" >&2
	exit 1
fi
respond
call "$URL/readyz"

step "Which models does it hold?"
call "$URL/v1/models"
call "$URL/v1/models/linreg"

step "Open a session on linreg for two inputs"
call -H 'Content-Type: application/json' \
	-d '{"model": "linreg", "options": {"dim": 2, "standardize": true}}' \
	"$URL/v1/sessions"
id=$(field id)
seq=$(field next_seq)
[ -n "$id" ] || { echo "walkthrough: no session id in the response" >&2; exit 1; }
echo "session id: $id, next sequence number: $seq"

step "The data: clients/train.csv, 1000 rows of y = 2 x1 - x2 + 0.5 + noise (sd 0.1)"
# made by clients/mkdata.sh 1000 42 (x1, x2 uniform in [-2, 2])
show head -n 4 "$HERE/train.csv"
head -n 4 "$HERE/train.csv"
echo "..."

step "Stream it as NDJSON; the daemon applies one refinement step per mini-batch of 32 rows as the rows arrive"
# --data-binary @- reads all of standard input before sending, which is fine
# for 1000 rows; for files of any size, `-T - -X POST` streams it in
# constant memory (chunked transfer encoding).
show "$HERE/csv2ndjson.sh" "$HERE/train.csv" '|' curl --fail-with-body --data-binary @- \
	-H 'Content-Type: application/x-ndjson' "$URL/v1/sessions/$id/batches?seq=$seq"
head -n 3 "$HERE/train.csv" | "$HERE/csv2ndjson.sh" | sed 's/^/  (first lines) /'
"$HERE/csv2ndjson.sh" "$HERE/train.csv" |
	fetch --data-binary @- -H 'Content-Type: application/x-ndjson' \
		"$URL/v1/sessions/$id/batches?seq=$seq"
seq=$(field next_seq)

step "Send one more batch as JSON, with the next sequence number ($seq)"
batch="{\"x\": [[1, 1], [2, 0], [0, 2], [-1, 1]], \"y\": [1.5, 4.5, -1.5, -2.5], \"seq\": $seq}"
call -H 'Content-Type: application/json' -d "$batch" "$URL/v1/sessions/$id/batches"

step "Send it again, as a client would after a lost response: not applied twice (\"duplicate\": true)"
call -H 'Content-Type: application/json' -d "$batch" "$URL/v1/sessions/$id/batches"

step "Predict at four points (the truth, without noise: 0.5 2.5 -0.5 3.5)"
call -H 'Content-Type: application/json' \
	-d '{"x": [[0, 0], [1, 0], [0, 1], [2, 1]]}' \
	"$URL/v1/sessions/$id/predict"

step "The first steps of the history: rows and batch loss before and after each step"
call "$URL/v1/sessions/$id/history?after=0&limit=5"

step "The session now"
call "$URL/v1/sessions/$id"

step "A mistake: three inputs for a two-input session is 422, as application/problem+json"
show curl -H 'Content-Type: application/json' -d '{"x": [[1, 2, 3]]}' "$URL/v1/sessions/$id/predict"
code=$(curl -sS -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' \
	-H 'Content-Type: application/json' -d '{"x": [[1, 2, 3]]}' \
	"$URL/v1/sessions/$id/predict")
respond
if [ "$code" != 422 ]; then
	echo "walkthrough: expected 422, got $code" >&2
	exit 1
fi

if [ -n "${KEEP:-}" ]; then
	step "Keeping the session: delete it with"
	show curl -X DELETE "$URL/v1/sessions/$id"
else
	step "Delete the session (204, no body)"
	call -X DELETE "$URL/v1/sessions/$id"
fi

printf '\nwalkthrough: done\n'

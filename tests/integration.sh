#!/bin/sh
# integration.sh - the real daemon over HTTP: starts build/amortd on a free
# loopback port with a temporary state directory and a tiny model trained
# for the occasion, walks through the API with curl (health, models, a
# session, a CSV pushed as NDJSON, JSON batches with seq, a duplicate and a
# gap, predict, history, metrics, refusals; a mixture session; a
# classification session with labels and class probabilities; an implicit
# session, whose predictions replay its batches and whose query set is
# refined by every batch), restarts the daemon and checks that the sessions
# resumed where they were, and that SIGTERM exits 0.
# Usage: tests/integration.sh BUILD_DIR.  Prints cmocka-style result lines
# so tests/run.sh counts it with the rest.  Only 127.0.0.1 is used; every
# wait is bounded.
set -u
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/result.sh"
B="$1"
AMORT="$B/amort"
AMORTD="$B/amortd"
tmp=$(mktemp -d)
pid=""
trap 'daemon_kill; rm -rf "$tmp"' EXIT

why_failed() {
	[ -s "$tmp/body" ] && { echo "body:"; cat "$tmp/body"; echo; }
}

# start: launches the daemon (extra flags as arguments); sets $pid and $U.
start() {
	daemon_start "$AMORTD" "$tmp/log" --state-dir "$tmp/state" --models "$tmp/models" \
		--max-body 65536 --max-rows 1000 --threads 2 "$@"
}

# req: METHOD PATH [curl args...]: the body goes to $tmp/body, the
# headers to $tmp/head, the status to $S.
req() {
	m=$1 p=$2
	shift 2
	S=$(curl -s -m 20 -X "$m" -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' "$@" "$U$p")
}
json() {	# METHOD PATH BODY
	req "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"
}
status_is() { [ "$S" = "$1" ]; }
body_has() { grep -q -- "$1" "$tmp/body"; }
one_line() {	# the body is one line: one newline, at its end
	[ "$(wc -l <"$tmp/body")" -eq 1 ] && [ -z "$(tail -c 1 "$tmp/body")" ]
}
head_has() { tr -d '\r' <"$tmp/head" | grep -qi -- "$1"; }
member() {	# NAME: the value of a top-level number or string member
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$tmp/body" | head -n 1
}

echo "[==========] Running amortd integration tests."
mkdir -p "$tmp/models"
printf 'name = tiny\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tiny.recipe"
if ! "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/models/tiny.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	bad "train a tiny model"
fi
printf 'name = tinymog\nfamily = mog\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinymog.recipe"
if ! "$AMORT" train "$tmp/tinymog.recipe" -o "$tmp/models/tinymog.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	bad "train a tiny mixture model"
fi
printf 'name = tinyclf\nfamily = clf\ntasks = linclass\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinyclf.recipe"
if ! "$AMORT" train "$tmp/tinyclf.recipe" -o "$tmp/models/tinyclf.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	bad "train a tiny classification model"
fi
printf 'name = tinyimp\nfamily = clf\nregime = implicit\nstate = logits\ntasks = linclass\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\nqueries = 8\n' >"$tmp/tinyimp.recipe"
if ! "$AMORT" train "$tmp/tinyimp.recipe" -o "$tmp/models/tinyimp.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	bad "train a tiny implicit classification model"
fi
# an image model of 4-pixel images (a hand-made PCA on the classifier)
if ! "$B/tests/loadhelper_imgmodel" "$tmp/models/tinyclf.amort" "$tmp/models/tinyimg.amort" tinyimg; then
	bad "make a tiny image model"
fi
printf 'not a model' >"$tmp/models/broken.amort"

# usage and start-up errors: exit 2 for a bad flag or file, 1 when the
# daemon cannot start
exits() {	# name, status, stderr pattern, arguments...
	name=$1 want=$2 pat=$3
	shift 3
	timeout 10 "$AMORTD" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/err" "$tmp/out"; then
		ok "$name"
	else
		echo "exit $rc (want $want):"
		cat "$tmp/out" "$tmp/err"
		bad "$name"
	fi
}
exits "--help lists the flags" 0 "--max-connections" --help
exits "an unknown flag is a usage error" 2 "unknown option '--bogus'" --bogus
exits "a bad value is a usage error" 2 "threads: bad value '0'" --threads 0
exits "a missing config file is a usage error" 2 "$tmp/none.conf" --config "$tmp/none.conf"
printf 'listen = 127.0.0.1:0\nmax-rows = many\n' >"$tmp/bad.conf"
exits "a bad config line is a usage error" 2 "bad.conf: line 2" --config "$tmp/bad.conf"
: >"$tmp/afile"
exits "a state dir that is a file fails to start" 1 "state directory" \
	--listen 127.0.0.1:0 --state-dir "$tmp/afile" --models "$tmp/models"
exits "a missing models dir fails to start" 1 "models directory" \
	--listen 127.0.0.1:0 --state-dir "$tmp/state0" --models "$tmp/nomodels"

expect "daemon starts on a free port and logs it" start
expect "a bad model file is skipped with a message" grep -q "broken.amort: skipped" "$tmp/log"

req GET /healthz
expect "healthz" sh -c "[ $S = 200 ] && grep -q '\"status\":\"ok\"' '$tmp/body'"
expect "a JSON body is one line, ended by a newline" one_line
req GET /readyz
expect "readyz with five models" sh -c "[ $S = 200 ] && grep -q '\"models\":5' '$tmp/body'"
req GET /v1/models
expect "models lists tiny" sh -c "[ $S = 200 ] && grep -q '\"name\":\"tiny\"' '$tmp/body' && grep -q '\"batch\":8' '$tmp/body'"
req GET /v1/models/tiny
expect "a model with its header" sh -c "[ $S = 200 ] && grep -q '\"header\":{' '$tmp/body'"

json POST /v1/sessions '{"model": "tiny"}'
ID=$(member id)
expect "create a session: 201 and a 32-hex id" sh -c "[ $S = 201 ] && [ ${#ID} -eq 32 ]"
expect "Location names the session" head_has "^Location: /v1/sessions/$ID\$"

# a CSV of y = 2 x1 - x2 + 3 with x2 far from unit scale, as NDJSON
awk 'BEGIN { srand(7); print "x1,x2,y"
	for (i = 0; i < 203; i++) { a = rand() * 10 - 5; b = 100 + 4 * rand()
		printf "%.6f,%.6f,%.6f\n", a, b, 2 * a - b + 3 } }' >"$tmp/train.csv"
awk -F, 'NR > 1 { printf "{\"x\": [%s, %s], \"y\": %s}\n", $1, $2, $3 }' "$tmp/train.csv" >"$tmp/train.ndjson"
req POST "/v1/sessions/$ID/batches?seq=0" -H 'Content-Type: application/x-ndjson' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$tmp/train.ndjson"
expect "a CSV streamed as NDJSON: 26 steps, 203 rows" sh -c \
	"[ $S = 200 ] && grep -q '\"steps_applied\":26' '$tmp/body' && grep -q '\"rows\":203' '$tmp/body' && grep -q '\"next_seq\":1' '$tmp/body'"

json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101], [2, 102], [0.5, 99]], "y": [-95, -95, -95.5], "seq": 1}'
expect "a JSON batch with seq 1" sh -c "[ $S = 200 ] && grep -q '\"step\":27' '$tmp/body' && grep -q '\"next_seq\":2' '$tmp/body'"
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101], [2, 102], [0.5, 99]], "y": [-95, -95, -95.5], "seq": 1}'
expect "the same seq again: the original result" sh -c "[ $S = 200 ] && grep -q '\"duplicate\":true' '$tmp/body' && grep -q '\"step\":27' '$tmp/body'"
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101]], "y": [-95], "seq": 5}'
expect "a gap in seq is 409" sh -c "[ $S = 409 ] && grep -q 'application/problem+json' '$tmp/head'"
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101, 3]], "y": [-95]}'
expect "a wrong dimension is 422" status_is 422
expect "a problem body is one line, ended by a newline" one_line
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101]], "y": [1e999]}'
expect "an infinite value is 422" status_is 422
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101]], "y": [-95]'
expect "malformed JSON is 400" status_is 400
req POST "/v1/sessions/$ID/batches" -H 'Content-Type: text/csv' --data-binary '1,2,3'
expect "a CSV body is 415" status_is 415
awk 'BEGIN { printf "{\"x\": ["; for (i = 0; i < 20000; i++) printf "%s[1, 2]", i ? "," : ""; print "], \"y\": []}" }' >"$tmp/big.json"
req POST "/v1/sessions/$ID/batches" -H 'Content-Type: application/json' --data-binary @"$tmp/big.json"
expect "a body over --max-body is 413" status_is 413
expect "the HTTP layer's problem is one line too" one_line
req PUT "/v1/sessions/$ID"
expect "a wrong method is 405 with Allow" sh -c "[ $S = 405 ] && tr -d '\r' <'$tmp/head' | grep -q '^Allow: GET, HEAD, DELETE$'"
req GET /v1/nothing
expect "an unknown route is 404" status_is 404
req GET /v1/sessions/0123456789abcdef0123456789abcdef
expect "an unknown session is 404" status_is 404

json POST "/v1/sessions/$ID/predict" '{"x": [[0, 100], [1.5, 102]]}'
cp "$tmp/body" "$tmp/pred1"
expect "predict gives means and variances" sh -c "[ $S = 200 ] && grep -q '\"mean\":\[[^],]*,[^],]*\]' '$tmp/body' && grep -q '\"variance\":\[' '$tmp/body'"
json POST "/v1/sessions/$ID/sample" '{"n": 2}'
expect "sample on a regression model is 422" sh -c "[ $S = 422 ] && grep -q \"model 'linreg' cannot sample\" '$tmp/body'"
req GET "/v1/sessions/$ID/history?limit=5"
expect "history pages" sh -c "[ $S = 200 ] && [ \$(grep -o '\"step\":' '$tmp/body' | wc -l) -eq 5 ] && grep -q '\"next\":5' '$tmp/body'"
req GET "/v1/sessions/$ID"
cp "$tmp/body" "$tmp/session1"
expect "the session shows 27 steps and 206 rows" sh -c "grep -q '\"step\":27' '$tmp/body' && grep -q '\"rows\":206' '$tmp/body' && grep -q '\"dim\":2' '$tmp/body'"
req GET /metrics
expect "metrics count requests by route pattern" sh -c \
	"grep -q 'amortd_requests_total{route=\"/v1/sessions/{id}/batches\",status=\"200\"}' '$tmp/body' && ! grep -q '$ID' '$tmp/body' && grep -q '^amortd_steps_applied_total 27$' '$tmp/body' && grep -q '^amortd_sessions 1$' '$tmp/body'"

# a generative session: samples in, log-densities and samples out
json POST /v1/sessions '{"model": "tinymog"}'
GID=$(member id)
expect "a mixture session is created" sh -c "[ $S = 201 ] && [ -n '$GID' ]"
json POST "/v1/sessions/$GID/batches" '{"x": [[10, 1], [11, 1.5], [9, 0.5], [10.5, 1.2], [30, -4], [31, -5], [29, -4.5], [30.5, -3.9], [10.2, 0.9]]}'
expect "rows without y make two steps" sh -c "[ $S = 200 ] && grep -q '\"steps_applied\":2' '$tmp/body'"
json POST "/v1/sessions/$GID/batches" '{"x": [[10, 1]], "y": [3]}'
expect "a row with y is 422 for a mixture" status_is 422
json POST "/v1/sessions/$GID/predict" '{"x": [[10, 1], [20, -2]]}'
expect "predict gives log-densities" sh -c "[ $S = 200 ] && grep -q '\"log_density\":\[[^],]*,[^],]*\]' '$tmp/body'"
json POST "/v1/sessions/$GID/sample" '{"n": 5, "seed": 7}'
cp "$tmp/body" "$tmp/samp1"
expect "sample gives 5 rows of 2" sh -c "[ $S = 200 ] && [ \$(grep -o '\[[^][]*\]' '$tmp/body' | wc -l) -eq 5 ] && grep -q '\"seed\":7' '$tmp/body'"
json POST "/v1/sessions/$GID/sample" '{"n": 5, "seed": 7}'
expect "the same seed gives the same samples" cmp -s "$tmp/body" "$tmp/samp1"
json POST "/v1/sessions/$GID/sample" '{"n": 0}'
expect "n = 0 is 422" status_is 422

# a classification session: labelled rows in, class probabilities out
req GET /v1/models/tinyclf
expect "a classifier predicts probs, up to 10 classes" sh -c \
	"[ $S = 200 ] && grep -q '\"predicts\":\"probs\"' '$tmp/body' && grep -q '\"classes\":10' '$tmp/body' && grep -q '\"input\":\[\"features\"\]' '$tmp/body'"
json POST /v1/sessions '{"model": "tinyclf", "options": {"classes": 3}}'
CID=$(member id)
expect "a classification session of 3 classes" sh -c "[ $S = 201 ] && grep -q '\"classes\":3' '$tmp/body'"
awk 'BEGIN { for (i = 0; i < 20; i++) printf "{\"x\": [%d, %d], \"y\": %d}\n", i % 5 - 2, (3 * i) % 7 - 3, i % 3 }' >"$tmp/clf.ndjson"
req POST "/v1/sessions/$CID/batches" -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/clf.ndjson"
expect "labelled rows as NDJSON: 3 steps" sh -c "[ $S = 200 ] && grep -q '\"steps_applied\":3' '$tmp/body'"
json POST "/v1/sessions/$CID/batches" '{"x": [[1, 2], [3, -4]], "y": [0, 2.0]}'
expect "labels as JSON integers or integral numbers" sh -c "[ $S = 200 ] && grep -q '\"step\":4' '$tmp/body'"
json POST "/v1/sessions/$CID/batches" '{"x": [[1, 2], [3, -4]], "y": [0, 3]}'
expect "a label outside the session's classes is 422" sh -c \
	"[ $S = 422 ] && grep -q 'y\[1\] = 3 is not a class label' '$tmp/body'"
json POST "/v1/sessions/$CID/batches" '{"x": [[1, 2]], "y": [0.5]}'
expect "a label that is not an integer is 422" status_is 422
json POST "/v1/sessions/$CID/predict" '{"x": [[0, 1], [2, -1]]}'
cp "$tmp/body" "$tmp/predc1"
# the probabilities of each row, one row per line
sed -n 's/.*"probs":\[\[\([^]]*\)\],\[\([^]]*\)\]\].*/\1\n\2/p' "$tmp/body" >"$tmp/probs"
expect "predict gives 3 probabilities per row, summing to 1, and labels" sh -c \
	"[ $S = 200 ] && grep -q '\"labels\":\[[0-2],[0-2]\]' '$tmp/body' &&
	 awk -F, 'NF != 3 { bad = 1 } { s = \$1 + \$2 + \$3; if (s < 0.99999 || s > 1.00001) bad = 1 } END { exit bad || NR != 2 }' '$tmp/probs'"
json POST "/v1/sessions/$CID/predict" '{"x": [[0, 1, 2]]}'
expect "a row of the wrong dimension is 422" status_is 422
json POST /v1/sessions '{"model": "tinyimg", "options": {"input": "pixels", "classes": 2}}'
PID=$(member id)
expect "a pixel session: rows of the model's 4 pixels" sh -c "[ $S = 201 ] && grep -q '\"dim\":4' '$tmp/body' && grep -q '\"input\":\"pixels\"' '$tmp/body'"
json POST "/v1/sessions/$PID/batches" '{"x": [[0, 255, 128, 64], [10, 20, 30, 40], [255, 255, 0, 0]], "y": [0, 1, 1]}'
expect "pixel rows are taken" sh -c "[ $S = 200 ] && grep -q '\"steps_applied\":1' '$tmp/body'"
json POST "/v1/sessions/$PID/predict" '{"x": [[255, 0, 255, 0]]}'
expect "pixel rows are predicted" sh -c "[ $S = 200 ] && grep -q '\"probs\":\[\[[^],]*,[^],]*\]\]' '$tmp/body'"
json POST "/v1/sessions/$PID/batches" '{"x": [[0, 256, 1, 1]], "y": [0]}'
expect "a pixel above 255 is 422" sh -c "[ $S = 422 ] && grep -q 'not a pixel value' '$tmp/body'"
json POST "/v1/sessions/$PID/predict" '{"x": [[0, 1, 2]]}'
expect "a row of 3 pixels is 422" status_is 422

# an implicit session: no adapted state; predict replays the stored
# batches, a query set is refined by every batch and answered without replay
answers() {	# the probs and labels of $tmp/body
	grep -o '"probs":\[\[[^]]*\]\(,\[[^]]*\]\)*\],"labels":\[[^]]*\]' "$tmp/body"
}
req GET /v1/models/tinyimp
expect "an implicit model says its sessions replay" sh -c \
	"[ $S = 200 ] && grep -q '\"regime\":\"implicit\"' '$tmp/body' && grep -q '\"replay\":true' '$tmp/body'"
json POST /v1/sessions '{"model": "tinyimp", "options": {"classes": 3}}'
IID=$(member id)
expect "an implicit session of 3 classes" sh -c "[ $S = 201 ] && [ -n '$IID' ]"
json PUT "/v1/sessions/$IID/queries" '{"x": [[0, 1], [2, -1]]}'
expect "a query set before the first batch is 409 no-batch-yet" sh -c \
	"[ $S = 409 ] && grep -q 'urn:amortd:problem:no-batch-yet' '$tmp/body' && grep -q 'application/problem+json' '$tmp/head'"
req POST "/v1/sessions/$IID/batches" -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/clf.ndjson"
expect "labelled rows as NDJSON: 3 steps, with losses by replay" sh -c \
	"[ $S = 200 ] && grep -q '\"steps_applied\":3' '$tmp/body' && ! grep -q 'null' '$tmp/body'"
json PUT "/v1/sessions/$IID/queries" '{"x": [[0, 1], [2, -1]]}'
expect "a query set registered: 201, current at step 3 after replaying 3 batches" sh -c \
	"[ $S = 201 ] && grep -q '\"step\":3' '$tmp/body' && grep -q '\"replayed\":3' '$tmp/body'"
expect "Location names the query set" head_has "^Location: /v1/sessions/$IID/queries\$"
json POST "/v1/sessions/$IID/batches" '{"x": [[1, 2], [3, -4], [0.1, 0.7]], "y": [0, 2, 1]}'
expect "a JSON batch refines the session" sh -c "[ $S = 200 ] && grep -q '\"step\":4' '$tmp/body'"
req GET "/v1/sessions/$IID/queries"
cp "$tmp/body" "$tmp/qset1"
answers >"$tmp/qans1"
expect "the query set is current at step 4" sh -c "[ $S = 200 ] && grep -q '\"step\":4' '$tmp/body' && [ -s '$tmp/qans1' ]"
json POST "/v1/sessions/$IID/predict" '{"x": [[0, 1], [2, -1]]}'
cp "$tmp/body" "$tmp/ipred1"
answers >"$tmp/pans1"
expect "predict replays the 4 batches and equals the query set's answers" sh -c \
	"[ $S = 200 ] && grep -q '\"replayed\":4' '$tmp/body' && cmp -s '$tmp/pans1' '$tmp/qans1'"
json PUT "/v1/sessions/$IID/queries" '{"x": [[0, 1, 2]]}'
expect "a query row of the wrong dimension is 422" sh -c "[ $S = 422 ] && grep -q 'application/problem+json' '$tmp/head'"
json POST "/v1/sessions/$IID/batches" '{"x": [[1, 2], [3, 4]], "y": [0, 5]}'
expect "a bad label is 422" status_is 422
req GET "/v1/sessions/$IID/queries"
expect "refused requests left the query set as it was" cmp -s "$tmp/body" "$tmp/qset1"
json PUT "/v1/sessions/$ID/queries" '{"x": [[0, 100]]}'
expect "a query set on a parametric session is 409 not-implicit" sh -c \
	"[ $S = 409 ] && grep -q 'urn:amortd:problem:not-implicit' '$tmp/body'"
req GET /metrics
expect "metrics count the replayed batches" sh -c \
	"grep -q '^amortd_replayed_batches_total [1-9]' '$tmp/body'"

exits "a port in use fails to start" 1 "cannot listen" --listen "127.0.0.1:$port" \
	--state-dir "$tmp/state1" --models "$tmp/models"
expect "SIGTERM exits 0" daemon_end
expect "restart" start
req GET "/v1/sessions/$ID"
expect "the session resumed with the same step" sh -c "grep -q '\"step\":27' '$tmp/body' && grep -q '\"rows\":206' '$tmp/body' && grep -q '\"next_seq\":2' '$tmp/body'"
json POST "/v1/sessions/$ID/predict" '{"x": [[0, 100], [1.5, 102]]}'
expect "the same predictions after the restart" cmp -s "$tmp/body" "$tmp/pred1"
json POST "/v1/sessions/$GID/sample" '{"n": 5, "seed": 7}'
expect "the same samples after the restart" cmp -s "$tmp/body" "$tmp/samp1"
json POST "/v1/sessions/$CID/predict" '{"x": [[0, 1], [2, -1]]}'
expect "the same class probabilities after the restart" cmp -s "$tmp/body" "$tmp/predc1"
req GET "/v1/sessions/$IID/queries"
expect "the query set survived the restart" cmp -s "$tmp/body" "$tmp/qset1"
json POST "/v1/sessions/$IID/predict" '{"x": [[0, 1], [2, -1]]}'
expect "the same replayed predictions after the restart" cmp -s "$tmp/body" "$tmp/ipred1"
json POST "/v1/sessions/$IID/batches" '{"x": [[-1, 1], [2, 0.5]], "y": [2, 0]}'
req GET "/v1/sessions/$IID/queries"
answers >"$tmp/qans2"
json POST "/v1/sessions/$IID/predict" '{"x": [[0, 1], [2, -1]]}'
answers >"$tmp/pans2"
expect "after the restart the set goes on with the session (step 5) and equals a replay" sh -c \
	"grep -q '\"replayed\":5' '$tmp/body' && [ -s '$tmp/qans2' ] && cmp -s '$tmp/pans2' '$tmp/qans2' && ! cmp -s '$tmp/qans1' '$tmp/qans2'"
req DELETE "/v1/sessions/$IID/queries"
expect "the query set is deleted" status_is 204
req GET "/v1/sessions/$IID/queries"
expect "a deleted query set is 404" status_is 404
json POST "/v1/sessions/$ID/batches" '{"x": [[1, 101]], "y": [-95], "seq": 2}'
expect "the session goes on from seq 2" sh -c "[ $S = 200 ] && grep -q '\"step\":28' '$tmp/body'"
req DELETE "/v1/sessions/$ID"
expect "delete is 204" status_is 204
req GET "/v1/sessions/$ID"
expect "a deleted session is 404" status_is 404
expect "SIGTERM exits 0 again" daemon_end
expect "no error was logged" sh -c "! grep -q 'amortd: error' '$tmp/log'"

result_end

#!/bin/sh
# bench_server.sh - the daemon's benchmarks, printed as Markdown: streamed
# NDJSON ingestion next to the core's raw step throughput, single-row
# predict under wrk, kill -9 cycles, and the implicit regime's replay cost
# against the history's length.  `make bench` runs it after the bench_*
# binaries.
#
# Usage: tests/bench_server.sh BUILD_DIR
#   BENCH_ROWS     rows per NDJSON upload (default 48000)
#   BENCH_SECONDS  seconds of each wrk run (default 10)
#   BENCH_CYCLES   kill -9 cycles (default 20)
#   BENCH_PARTS    which parts to run (default "ingest predict crash replay")
#   BENCH_REPS     requests per figure of the replay part (default 10)
#
# The model is deploy/models/linreg.amort when it exists and loads;
# otherwise a stand-in with the same architecture is trained from a copy of
# deploy/recipes/linreg.recipe with iters = 20 (speed does not depend on
# the trained values).  The daemon runs on 127.0.0.1 with its database in a
# temporary directory on the same disk as /tmp, with its default 2 worker
# threads on this machine and one OpenBLAS thread per request; the OpenBLAS
# kernel is whatever the environment gives (OPENBLAS_CORETYPE is passed
# through), the same for the daemon and the raw figure.
#
#   1. ingestion: one NDJSON upload of BENCH_ROWS rows (D = 16) into one
#      session, then one such upload into each of two sessions at once;
#      rows/s = rows / wall time of the upload(s), end to end (curl sends,
#      the daemon parses, steps, commits each group of steps to SQLite and
#      answers).  With synchronous=full (the default) and =normal.  Next to
#      it, in the same run, tests/loadhelper_step on the same model, D and
#      batch size: refiner_step alone on one thread (and two processes at
#      once for the two-session row).  Target: ingestion >= 0.5 x raw.
#   2. predict: wrk, 32 connections, 2 threads, one-row predict on a
#      session with 5 mini-batches applied.  Target: >= 10,000 requests/s
#      with p99 < 10 ms.
#   3. tests/crash.sh with BENCH_CYCLES cycles.
#   4. replay: an implicit classification session (no adapted state:
#      predict replays its stored mini-batches) next to a parametric one,
#      both fed the same rows (D = 8, 4 classes) up to 1, 8, 64 and 256
#      stored mini-batches; at each, the median wall time of BENCH_REPS
#      predicts of 1 and of 64 rows, of a GET of a 64-row query set (no
#      replay), and the time per mini-batch of the upload that got there
#      (an implicit step computes its batch losses by replay while rows
#      seen x batch <= loss-replay, 65536 by default, and refines the
#      query set).  Models: deploy/models/linclass-implicit.amort and
#      deploy/models/linclass.amort, or stand-ins trained from their
#      recipes with iters = 20.  Every figure is end to end over HTTP
#      (curl's time_total), one request at a time.
#
# Only 127.0.0.1 is used; every wait is bounded; every process started
# here is stopped by the exit trap.
set -u
. "$(dirname "$0")/daemon.sh"
B="${1:-build}"
AMORT="$B/amort"
AMORTD="$B/amortd"
STEPHELP="$B/tests/loadhelper_step"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROWS="${BENCH_ROWS:-48000}"
SECS="${BENCH_SECONDS:-10}"
CYCLES="${BENCH_CYCLES:-20}"
PARTS="${BENCH_PARTS:-ingest predict crash replay}"
REPS="${BENCH_REPS:-10}"
D=16
tmp=$(mktemp -d)
pid=""
bgpids=""
status=0

cleanup() {
	for p in $bgpids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() { echo "bench_server: $*" >&2; exit 1; }
fmt() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

for t in "$AMORT" "$AMORTD" "$STEPHELP"; do
	[ -x "$t" ] || die "$t is missing (make build-all)"
done
command -v wrk >/dev/null 2>&1 || die "wrk is missing (sh deploy/install-deps.sh bench)"

# ---- model --------------------------------------------------------------
mkdir -p "$tmp/models"
model="$ROOT/deploy/models/linreg.amort"
if [ -f "$model" ] && "$AMORT" info "$model" >/dev/null 2>&1; then
	cp "$model" "$tmp/models/linreg.amort"
	model_note="deploy/models/linreg.amort"
else
	sed 's/^iters *=.*/iters = 20/' "$ROOT/deploy/recipes/linreg.recipe" >"$tmp/linreg.recipe"
	"$AMORT" train "$tmp/linreg.recipe" -o "$tmp/models/linreg.amort" >"$tmp/train.log" 2>&1 ||
		{ cat "$tmp/train.log"; die "training the stand-in model failed"; }
	model_note="a stand-in: deploy/recipes/linreg.recipe with iters = 20 (deploy/models/linreg.amort is missing or does not load)"
fi
MODEL="$tmp/models/linreg.amort"
"$AMORT" info "$MODEL" >"$tmp/info" 2>&1 || die "the model does not load"
BATCH=$(sed -n 's/^ *"batch": \([0-9]*\),*$/\1/p' "$tmp/info" | head -n 1)
ARCH=$(tr -d ' \n' <"$tmp/info" | sed -n 's/.*"variant":"\([a-z]*\)".*"arch":{"width":\([0-9]*\),"heads":\([0-9]*\),"layers":\([0-9]*\)}.*/variant \1, width \2, heads \3, layers \4/p')
PASSES=$(sed -n 's/^ *"passes": \([0-9]*\),*$/\1/p' "$tmp/info" | head -n 1)

# ---- machine ----------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(df -PT "$tmp" | awk 'NR == 2 { print $2 " on " $1 }')
training=$(pgrep -f "amort train" | wc -l)

echo "## amortd server benchmarks"
echo
echo "| machine | |"
echo "|---|---|"
echo "| CPU | $cpu |"
echo "| CPUs online | $(nproc) |"
echo "| memory | $mem |"
echo "| kernel | $(uname -sr) |"
echo "| OpenBLAS core | $("$STEPHELP" "$MODEL" $D 0.05 | sed -n 's/.* blas=\(.*\)/\1/p')${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)} |"
echo "| state directory | $fs |"
echo "| model | $model_note: $ARCH, $PASSES passes per step, mini-batch $BATCH |"
echo "| daemon | 127.0.0.1, 2 HTTP worker threads, 1 OpenBLAS thread per request |"
if [ "$training" -gt 0 ]; then
	echo
	echo "**Warning:** $training \`amort train\` process(es) ran during this benchmark; the figures are distorted."
fi
echo

# ---- daemon -------------------------------------------------------------
# start FLAGS...: a fresh daemon on a free port with a new state dir.
start() {
	rm -rf "$tmp/state"
	: >"$tmp/log"
	"$AMORTD" --listen 127.0.0.1:0 --state-dir "$tmp/state" --models "$tmp/models" \
		--threads 2 --max-connections 256 "$@" 2>"$tmp/log" &
	pid=$!
	port=$(daemon_port "$tmp/log" "$pid")
	[ -n "$port" ] || { cat "$tmp/log"; die "the daemon did not start"; }
	U="http://127.0.0.1:$port"
}
stop() {
	daemon_stop "$pid" 300 || status=1
	pid=""
	if grep -q 'amortd: error' "$tmp/log"; then
		grep 'amortd: error' "$tmp/log" | head -n 5 >&2
		status=1
	fi
}
session() {
	curl -s -m 10 -H 'Content-Type: application/json' --data-binary '{"model": "linreg"}' \
		"$U/v1/sessions" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'
}
now() { date +%s.%N; }

part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 1. ingestion ---------------------------------------------------------
awk -v n="$ROWS" -v d="$D" 'BEGIN {
	srand(1)
	for (k = 0; k < d; k++)
		w[k] = rand() * 2 - 1
	for (i = 0; i < n; i++) {
		y = 0.5
		printf "{\"x\": ["
		for (k = 0; k < d; k++) {
			v = rand() * 4 - 2
			y += w[k] * v
			printf "%s%.5f", k ? ", " : "", v
		}
		printf "], \"y\": %.5f}\n", y + 0.2 * (rand() - 0.5)
	}
}' >"$tmp/rows.ndjson"
STEPS=$(((ROWS + BATCH - 1) / BATCH))
SIZE=$(wc -c <"$tmp/rows.ndjson")

# upload ID OUT: streams the file into session ID; "seconds" into OUT.time
upload() {
	curl -s -m 600 -o "$2" -w '%{time_total}' -H 'Content-Type: application/x-ndjson' \
		-H 'Transfer-Encoding: chunked' --data-binary @"$tmp/rows.ndjson" \
		"$U/v1/sessions/$1/batches" >"$2.time"
}
# uploaded OUT: whether the upload applied every step (a failed one fails
# the benchmark)
uploaded() {
	grep -q "\"steps_applied\":$STEPS," "$1" && return 0
	echo "bench_server: upload: $(head -c 300 "$1")" >&2
	status=1
}

# raw N: the summed rows/s of N loadhelper_step processes run at once
raw() {
	j=0
	ps=""
	while [ $j -lt "$1" ]; do
		"$STEPHELP" "$MODEL" $D 5 >"$tmp/raw.$j" &
		ps="$ps $!"
		j=$((j + 1))
	done
	for p in $ps; do wait "$p"; done
	cat "$tmp"/raw.[0-9]* | sed -n 's/^rows_per_s=\([0-9]*\) .*/\1/p' |
		awk -v n="$1" '{ s += $1; k++ } END { print k == n ? s : 0 }'
	rm -f "$tmp"/raw.[0-9]*
}

bench_ingest() {
	raw1=$(raw 1)
	raw2=$(raw 2)
	[ "$raw1" -gt 0 ] && [ "$raw2" -gt 0 ] || die "$STEPHELP failed"
	echo "### Streamed NDJSON ingestion vs the core's raw step"
	echo
	echo "One upload of $ROWS rows ($SIZE bytes, D = $D, $STEPS steps of $BATCH rows) per session:"
	echo "\`curl -H 'Content-Type: application/x-ndjson' -H 'Transfer-Encoding: chunked' --data-binary @rows.ndjson \$URL/v1/sessions/\$ID/batches\`."
	echo "Raw: \`$STEPHELP MODEL $D 5\` (refiner_step alone, B = $BATCH, 1 OpenBLAS thread), one process, or two at once for the two-session rows."
	echo
	echo "| synchronous | sessions at once | seconds | ingestion rows/s | raw core rows/s | ingestion / raw | target >= 0.5 |"
	echo "|---|---|---|---|---|---|---|"
	met_ingest=yes
	for sync in full normal; do
		start --synchronous "$sync"
		id1=$(session)
		upload "$id1" "$tmp/up1"
		uploaded "$tmp/up1"
		t=$(cat "$tmp/up1.time")
		r=$(awk -v n="$ROWS" -v t="$t" 'BEGIN { print n / t }')
		q=$(ratio "$r" "$raw1")
		ok=$(awk -v q="$q" 'BEGIN { print (q >= 0.5 ? "met" : "NOT met") }')
		[ "$sync" = full ] && [ "$ok" != met ] && met_ingest=no
		echo "| $sync | 1 | $(awk -v t="$t" 'BEGIN { printf "%.2f", t }') | $(fmt "$r") | $(fmt "$raw1") | $q | $ok |"
		id1=$(session)
		id2=$(session)
		t0=$(now)
		upload "$id1" "$tmp/up1" &
		p1=$!
		upload "$id2" "$tmp/up2" &
		p2=$!
		bgpids="$p1 $p2"
		wait "$p1"
		wait "$p2"
		bgpids=""
		uploaded "$tmp/up1"
		uploaded "$tmp/up2"
		t1=$(now)
		t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
		r=$(awk -v n="$ROWS" -v t="$t" 'BEGIN { print 2 * n / t }')
		q=$(ratio "$r" "$raw2")
		ok=$(awk -v q="$q" 'BEGIN { print (q >= 0.5 ? "met" : "NOT met") }')
		[ "$sync" = full ] && [ "$ok" != met ] && met_ingest=no
		echo "| $sync | 2 | $(awk -v t="$t" 'BEGIN { printf "%.2f", t }') | $(fmt "$r") | $(fmt "$raw2") | $q | $ok |"
		stop
	done
	echo
	echo "Ingestion target (synchronous=full, the default): $met_ingest."
	echo
}

# ---- 2. predict -------------------------------------------------------------
bench_predict() {
	start
	id=$(session)
	head -n $((5 * BATCH)) "$tmp/rows.ndjson" >"$tmp/five.ndjson"
	curl -s -m 60 -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/five.ndjson" \
		"$U/v1/sessions/$id/batches"
	row=$(awk -v d="$D" 'BEGIN { for (k = 0; k < d; k++) printf "%s%.3f", k ? ", " : "", 0.1 * k - 0.7 }')
	cat >"$tmp/predict.lua" <<-EOF
	wrk.method = "POST"
	wrk.body = '{"x": [[$row]]}'
	wrk.headers["Content-Type"] = "application/json"
	EOF
	code=$(curl -s -m 10 -o "$tmp/pred" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"x\": [[$row]]}" "$U/v1/sessions/$id/predict")
	[ "$code" = 200 ] || { cat "$tmp/pred"; die "predict answered $code"; }
	wrk -t 2 -c 32 -d 2s -s "$tmp/predict.lua" "$U/v1/sessions/$id/predict" >/dev/null 2>&1
	wrk -t 2 -c 32 -d "${SECS}s" --latency -s "$tmp/predict.lua" "$U/v1/sessions/$id/predict" >"$tmp/wrk" 2>&1
	stop
	# wrk prints latencies as 1.23ms, 456.00us or 1.02s
	ms() { awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
		else printf "?" }'; }
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk")
	p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
	p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
	total=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$tmp/wrk")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$tmp/wrk")
	errs=$(sed -n 's/^ *Socket errors: *\(.*\)/\1/p' "$tmp/wrk")
	met_predict=$(awk -v r="${rps:-0}" -v p="$p99" 'BEGIN { print ((r >= 10000 && p + 0 < 10) ? "met" : "NOT met") }')
	[ -n "$non2xx$errs" ] && { met_predict="NOT met (errors)"; status=1; }
	echo "### Single-row predict under load"
	echo
	echo "\`wrk -t 2 -c 32 -d ${SECS}s --latency -s predict.lua \$URL/v1/sessions/\$ID/predict\` (after a 2 s warm-up),"
	echo "body \`{\"x\": [[16 values]]}\`, session with 5 mini-batches applied; wrk runs on the same 2 CPUs as the daemon."
	echo
	echo "| connections | requests | requests/s | p50 ms | p99 ms | non-2xx | socket errors | target >= 10,000/s, p99 < 10 ms |"
	echo "|---|---|---|---|---|---|---|---|"
	echo "| 32 | ${total:-?} | $(fmt "${rps:-0}") | $p50 | $p99 | ${non2xx:-0} | ${errs:-none} | $met_predict |"
	echo
}

# ---- 3. kill -9 -------------------------------------------------------------
bench_crash() {
	echo "### kill -9 during uploads"
	echo
	echo "\`sh tests/crash.sh $B $CYCLES\`:"
	echo
	if sh "$HERE/crash.sh" "$B" "$CYCLES" >"$tmp/crash" 2>&1; then
		crash_ok=passed
	else
		crash_ok=FAILED
		status=1
		grep -A3 'FAILED' "$tmp/crash" | head -n 20 | sed 's/^/    /'
	fi
	echo "    $(grep '^kill -9 cycles:' "$tmp/crash")"
	echo "    $(grep '^requests applied in part:' "$tmp/crash")"
	echo "    $(grep '^\[  PASSED  \]' "$tmp/crash") ($crash_ok)"
	echo
}

# ---- 4. the implicit regime's replay ---------------------------------------
# clf_model NAME: copies deploy/models/NAME.amort into the models directory,
# or trains a stand-in from deploy/recipes/NAME.recipe with iters = 20;
# prints where it came from.
clf_model() {
	if [ -f "$ROOT/deploy/models/$1.amort" ] && "$AMORT" info "$ROOT/deploy/models/$1.amort" >/dev/null 2>&1; then
		cp "$ROOT/deploy/models/$1.amort" "$tmp/models/$1.amort"
		echo "deploy/models/$1.amort"
	else
		sed 's/^iters *=.*/iters = 20/' "$ROOT/deploy/recipes/$1.recipe" >"$tmp/$1.recipe"
		"$AMORT" train "$tmp/$1.recipe" -o "$tmp/models/$1.amort" >"$tmp/train.log" 2>&1 ||
			{ cat "$tmp/train.log" >&2; die "training a stand-in for $1 failed"; }
		echo "a stand-in from deploy/recipes/$1.recipe with iters = 20"
	fi
}

# median_ms N CURL-ARGS...: the median time_total of N requests, in ms
# (a request that does not answer 2xx fails the benchmark)
median_ms() {
	n=$1
	shift
	j=0
	: >"$tmp/times"
	while [ $j -lt "$n" ]; do
		out=$(curl -s -m 600 -o "$tmp/rbody" -w '%{http_code} %{time_total}' "$@")
		case "$out" in
		2*) echo "${out#* }" >>"$tmp/times" ;;
		*) echo "bench_server: $* answered ${out% *}: $(head -c 300 "$tmp/rbody")" >&2
			: >"$tmp/replay.failed" ;;
		esac
		j=$((j + 1))
	done
	sort -n "$tmp/times" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "?"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f", m * 1000 }'
}

bench_replay() {
	imp_note=$(clf_model linclass-implicit)
	par_note=$(clf_model linclass)
	"$AMORT" info "$tmp/models/linclass-implicit.amort" >"$tmp/iinfo" 2>&1
	RB=$(sed -n 's/^ *"batch": \([0-9]*\),*$/\1/p' "$tmp/iinfo" | head -n 1)
	start
	imp=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary \
		'{"model": "linclass-implicit", "options": {"classes": 4}}' "$U/v1/sessions" |
		sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	par=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary \
		'{"model": "linclass", "options": {"classes": 4}}' "$U/v1/sessions" |
		sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	[ -n "$imp" ] && [ -n "$par" ] || die "creating the replay sessions failed"
	# 256 mini-batches of labelled rows: a random linear teacher over 8 inputs
	awk -v n=$((256 * RB)) 'BEGIN {
		srand(5)
		for (c = 0; c < 4; c++) for (k = 0; k < 8; k++) w[c, k] = rand() * 2 - 1
		for (i = 0; i < n; i++) {
			best = -1e9
			printf "{\"x\": ["
			for (k = 0; k < 8; k++) { v[k] = rand() * 4 - 2; printf "%s%.4f", k ? ", " : "", v[k] }
			for (c = 0; c < 4; c++) {
				s = 0.3 * (rand() - 0.5)
				for (k = 0; k < 8; k++) s += w[c, k] * v[k]
				if (s > best) { best = s; lab = c }
			}
			printf "], \"y\": %d}\n", lab
		}
	}' >"$tmp/clf.ndjson"
	one='{"x": [[0.5, -1, 0.25, 1.5, -0.5, 0, 1, -1.5]]}'
	awk 'BEGIN { srand(9); printf "{\"x\": ["
		for (i = 0; i < 64; i++) { printf "%s[", i ? ", " : ""
			for (k = 0; k < 8; k++) printf "%s%.3f", k ? ", " : "", rand() * 4 - 2
			printf "]" }
		print "]}" }' >"$tmp/q64.json"
	J='Content-Type: application/json'
	echo "### Implicit sessions: predict replays the history"
	echo
	echo "An implicit classifier ($imp_note) keeps no adapted state: predict replays every stored"
	echo "mini-batch of the session (\"replayed\" in the reply), so its cost grows with the history;"
	echo "a query set registered with the session is refined by each batch instead and read without replay."
	echo "Next to it, a parametric classifier ($par_note) on the same rows: its predict reads the adapted state."
	echo "Rows: D = 8, 4 classes, mini-batches of $RB. Median of $REPS requests, end to end over HTTP, one at a time;"
	echo "ingest: ms per mini-batch of the NDJSON upload that brought the session to that many batches"
	echo "(implicit: batch losses by replay while rows seen x $RB <= loss-replay = 65536, plus the 64-row query set)."
	echo
	echo "| stored batches | implicit predict 1 row ms | implicit predict 64 rows ms | query set GET (64 rows) ms | parametric predict 1 row ms | parametric predict 64 rows ms | implicit ingest ms/batch | parametric ingest ms/batch |"
	echo "|---|---|---|---|---|---|---|---|"
	have=0
	for k in 1 8 64 256; do
		sed -n "$((have * RB + 1)),$((k * RB))p" "$tmp/clf.ndjson" >"$tmp/part.ndjson"
		ti=$(curl -s -m 3600 -o "$tmp/up1" -w '%{time_total}' -H 'Content-Type: application/x-ndjson' \
			--data-binary @"$tmp/part.ndjson" "$U/v1/sessions/$imp/batches")
		tp=$(curl -s -m 3600 -o "$tmp/up2" -w '%{time_total}' -H 'Content-Type: application/x-ndjson' \
			--data-binary @"$tmp/part.ndjson" "$U/v1/sessions/$par/batches")
		grep -q "\"step\":$k," "$tmp/up1" && grep -q "\"step\":$k," "$tmp/up2" ||
			{ echo "bench_server: replay upload: $(head -c 300 "$tmp/up1")" >&2; status=1; }
		if [ $k -eq 1 ]; then
			curl -s -m 600 -o "$tmp/put" -X PUT -H "$J" --data-binary @"$tmp/q64.json" \
				"$U/v1/sessions/$imp/queries"
			grep -q '"n":64' "$tmp/put" || { echo "bench_server: query set: $(head -c 300 "$tmp/put")" >&2; status=1; }
		fi
		n=$((k - have))
		i1=$(median_ms "$REPS" -H "$J" --data-binary "$one" "$U/v1/sessions/$imp/predict")
		i64=$(median_ms "$REPS" -H "$J" --data-binary @"$tmp/q64.json" "$U/v1/sessions/$imp/predict")
		qg=$(median_ms "$REPS" "$U/v1/sessions/$imp/queries")
		p1=$(median_ms "$REPS" -H "$J" --data-binary "$one" "$U/v1/sessions/$par/predict")
		p64=$(median_ms "$REPS" -H "$J" --data-binary @"$tmp/q64.json" "$U/v1/sessions/$par/predict")
		echo "| $k | $i1 | $i64 | $qg | $p1 | $p64 | $(awk -v t="$ti" -v n="$n" 'BEGIN { printf "%.1f", t * 1000 / n }') | $(awk -v t="$tp" -v n="$n" 'BEGIN { printf "%.1f", t * 1000 / n }') |"
		have=$k
	done
	stop
	[ -e "$tmp/replay.failed" ] && status=1
	echo
}

part ingest && bench_ingest
part predict && bench_predict
part crash && bench_crash
part replay && bench_replay
exit $status

#!/bin/sh
# concurrency.sh - many sessions at once give exactly what they give one by
# one.
#
# Usage: tests/concurrency.sh BUILD_DIR.  Prints cmocka-style result lines
# so tests/run.sh counts them.
#
# Sixteen sessions of a tiny model (mini-batches of 8 rows) each follow a
# fixed script: a predict at three fixed points, then six uploads (JSON
# batches with seq, every third one an NDJSON stream with ?seq=), each
# followed by the same predict, then GET of the session and its whole
# history.  Session i has inputs of dimension 1 + i % 4; its JSON uploads
# have 5 to 34 rows (1 to 5 steps, applied all at once), its streams 1 to 8
# (one step: a longer stream may show readers the steps committed so far,
# which are not states the script predicts at).  The script's transcript
# (every status and body, history without its wall-clock times) is written
# to a file per session.
#
#   concurrent: a fresh daemon with 4 worker threads; the 16 scripts run at
#               once, and 4 readers predict on random sessions meanwhile;
#   one by one: another fresh daemon with 1 worker thread; the same scripts
#               run one after another.
#
# The transcripts must be byte for byte the same (predictions as printed
# JSON, steps, rows, losses), and every prediction a reader got must be one
# the session gives at some step of its script (no torn or mixed state).
# Only 127.0.0.1 is used; every loop and wait is bounded; every process
# started here is stopped by the exit trap.
set -u
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/result.sh"
B="$1"
AMORT="$B/amort"
AMORTD="$B/amortd"
NS=16				# sessions
NB=6				# uploads per session
NR=4				# readers
tmp=$(mktemp -d)
pid=""
cpids=""

cleanup() {
	: >"$tmp/stop"
	for c in $cpids; do
		kill "$c" 2>/dev/null
		wait "$c" 2>/dev/null
	done
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

why_failed() {
	[ -s "$tmp/why" ] && sed 's/^/    /' "$tmp/why" | head -n 20
}

echo "[==========] Running amortd concurrency tests: $NS sessions."
mkdir -p "$tmp/models" "$tmp/data"
printf 'name = tiny\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tiny.recipe"
if ! "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/models/tiny.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	echo "[  FAILED  ] train a tiny model"
	exit 1
fi

# upload j of session i: u<i>_<j>.json with 5 + (3 i + 7 j) % 30 rows, or
# every third u<i>_<j>.ndjson with 1 + (i + j) % 8, of dimension 1 + i % 4;
# the predict rows of session i: p<i>.json
awk -v ns="$NS" -v nb="$NB" -v dir="$tmp/data" 'BEGIN {
	srand(5)
	for (i = 0; i < ns; i++) {
		d = 1 + i % 4
		for (k = 0; k < d; k++)
			w[k] = rand() * 4 - 2
		for (j = 0; j < nb; j++) {
			nd = j % 3 == 2
			r = nd ? 1 + (i + j) % 8 : 5 + (3 * i + 7 * j) % 30
			f = dir "/u" i "_" j (nd ? ".ndjson" : ".json")
			if (!nd)
				printf "{\"seq\": %d, \"x\": [", j >f
			for (n = 0; n < r; n++) {
				yv = 1.5
				row = ""
				for (k = 0; k < d; k++) {
					v = rand() * 6 - 3
					yv += w[k] * v
					row = row (k ? ", " : "") sprintf("%.5f", v)
				}
				yv += 0.3 * (rand() - 0.5)
				if (nd)
					printf "{\"x\": [%s], \"y\": %.5f}\n", row, yv >f
				else {
					printf "%s[%s]", n ? ", " : "", row >f
					ys[n] = yv
				}
			}
			if (!nd) {
				printf "], \"y\": [" >f
				for (n = 0; n < r; n++)
					printf "%s%.5f", n ? ", " : "", ys[n] >f
				print "]}" >f
			}
			close(f)
		}
		f = dir "/p" i ".json"
		printf "{\"x\": [" >f
		for (n = 0; n < 3; n++) {
			printf "%s[", n ? ", " : "" >f
			for (k = 0; k < d; k++)
				printf "%s%.2f", k ? ", " : "", n - 1 + 0.5 * k >f
			printf "]" >f
		}
		print "]}" >f
		close(f)
	}
}'

# start DIR THREADS: a fresh daemon; sets $pid and $U.
start() {
	daemon_start "$AMORTD" "$tmp/log" --state-dir "$1" --models "$tmp/models" \
		--threads "$2" --timeout 20
}

# post OUT PATH CT FILE: one request, "status body" appended to OUT.
post() {
	code=$(curl -s -m 30 -o "$1.body" -w '%{http_code}' -H "Content-Type: $3" \
		--data-binary @"$4" "$U$2")
	printf '%s %s\n' "$code" "$(cat "$1.body")" >>"$1"
}

# script I ID OUT: session I's script against session ID, transcript to OUT.
script() {
	s_i=$1 s_id=$2 s_out=$3
	: >"$s_out"
	post "$s_out" "/v1/sessions/$s_id/predict" application/json "$tmp/data/p$s_i.json"
	s_j=0
	while [ $s_j -lt $NB ]; do
		if [ -e "$tmp/data/u${s_i}_$s_j.ndjson" ]; then
			post "$s_out" "/v1/sessions/$s_id/batches?seq=$s_j" application/x-ndjson \
				"$tmp/data/u${s_i}_$s_j.ndjson"
		else
			post "$s_out" "/v1/sessions/$s_id/batches" application/json \
				"$tmp/data/u${s_i}_$s_j.json"
		fi
		post "$s_out" "/v1/sessions/$s_id/predict" application/json "$tmp/data/p$s_i.json"
		s_j=$((s_j + 1))
	done
	# the session without its id and times, and its history without times
	# (each body a line of its own: it ends with a newline)
	curl -s -m 30 "$U/v1/sessions/$s_id" |
		sed 's/"id":"[0-9a-f]*",//; s/,"created":"[^"]*","updated":"[^"]*"//' >>"$s_out"
	curl -s -m 30 "$U/v1/sessions/$s_id/history?limit=1000" |
		sed 's/,"time":"[^"]*"//g' >>"$s_out"
}

# reader R: predicts on session (R + 5 n) % NS until $tmp/stop exists or
# 5000 requests, logging "i status body" to reader.R.
reader() {
	r=$1 n=0
	while [ $n -lt 5000 ] && [ ! -e "$tmp/stop" ]; do
		i=$(((r + 5 * n) % NS))
		eval "id=\$ID_$i"
		code=$(curl -s -m 30 -o "$tmp/rbody.$r" -w '%{http_code}' \
			-H 'Content-Type: application/json' --data-binary @"$tmp/data/p$i.json" \
			"$U/v1/sessions/$id/predict")
		printf '%s %s %s\n' "$i" "$code" "$(cat "$tmp/rbody.$r")" >>"$tmp/reader.$r"
		n=$((n + 1))
	done
}

# sessions: creates NS sessions, ID_0 .. ID_<NS-1>.
sessions() {
	i=0
	while [ $i -lt $NS ]; do
		r=$(curl -s -m 10 -H 'Content-Type: application/json' \
			--data-binary '{"model": "tiny"}' "$U/v1/sessions")
		id=$(printf '%s' "$r" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
		[ ${#id} -eq 32 ] || { echo "$r" >"$tmp/why"; return 1; }
		eval "ID_$i=$id"
		i=$((i + 1))
	done
}

# ---- concurrent ---------------------------------------------------------
: >"$tmp/why"
if start "$tmp/state-c" 4 && sessions; then
	ok "a daemon with 4 workers and $NS sessions"
else
	cat "$tmp/log" >"$tmp/why"
	bad "a daemon with 4 workers and $NS sessions"
	exit 1
fi
t0=$(date +%s.%N)
i=0
wpids=""
while [ $i -lt $NS ]; do
	eval "id=\$ID_$i"
	script "$i" "$id" "$tmp/conc.$i" &
	wpids="$wpids $!"
	i=$((i + 1))
done
cpids="$wpids"
r=0
rpids=""
while [ $r -lt $NR ]; do
	reader "$r" &
	rpids="$rpids $!"
	r=$((r + 1))
done
cpids="$cpids $rpids"
for w in $wpids; do
	wait "$w"
done
: >"$tmp/stop"
for w in $rpids; do
	wait "$w"
done
cpids=""
t1=$(date +%s.%N)
ok "$NS scripts and $NR readers ran at once ($(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s, $(cat "$tmp"/reader.* | wc -l) reads)"
: >"$tmp/why"
if daemon_end; then ok "SIGTERM exits 0 after the concurrent run"; else bad "SIGTERM exits 0 after the concurrent run"; fi
cp "$tmp/log" "$tmp/log.c"

# ---- one by one -----------------------------------------------------------
rm -f "$tmp/stop"
: >"$tmp/why"
if start "$tmp/state-s" 1 && sessions; then
	ok "a fresh daemon with 1 worker and $NS sessions"
else
	cat "$tmp/log" >"$tmp/why"
	bad "a fresh daemon with 1 worker and $NS sessions"
	exit 1
fi
i=0
while [ $i -lt $NS ]; do
	eval "id=\$ID_$i"
	script "$i" "$id" "$tmp/seq.$i"
	i=$((i + 1))
done
: >"$tmp/why"
if daemon_end; then ok "SIGTERM exits 0 after the sequential run"; else bad "SIGTERM exits 0 after the sequential run"; fi

# ---- compare ----------------------------------------------------------------
: >"$tmp/why"
bad=0
i=0
while [ $i -lt $NS ]; do
	if ! grep -q '^200 {"mean"' "$tmp/seq.$i" || grep -qv '^200 \|^{' "$tmp/seq.$i"; then
		echo "session $i: a request of the script failed:" >>"$tmp/why"
		grep -v '^200 \|^{' "$tmp/seq.$i" | head -n 3 >>"$tmp/why"
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
if [ $bad -eq 0 ]; then ok "every request of the scripts answered 200"; else bad "every request of the scripts answered 200"; fi

: >"$tmp/why"
bad=0
i=0
while [ $i -lt $NS ]; do
	if ! cmp -s "$tmp/conc.$i" "$tmp/seq.$i"; then
		echo "session $i differs:" >>"$tmp/why"
		diff "$tmp/seq.$i" "$tmp/conc.$i" | head -n 4 >>"$tmp/why"
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
steps=$(cat "$tmp"/seq.* | sed -n 's/^{"model":"tiny".*"step":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
if [ $bad -eq 0 ]; then
	ok "all $NS transcripts are byte for byte the same ($steps steps, $((NS * (NB + 1))) predictions)"
else
	bad "$bad of $NS transcripts differ between the concurrent and the sequential run"
fi

# every reader's answer is one the session gives at some step
: >"$tmp/why"
cat "$tmp"/reader.* >"$tmp/reads"
awk -v ns="$NS" -v dir="$tmp" '
	BEGIN {
		for (i = 0; i < ns; i++) {
			f = dir "/seq." i
			while ((getline line <f) > 0)
				if (line ~ /^200 \{"mean"/)
					known[i, substr(line, 5)] = 1
			close(f)
		}
	}
	{
		i = $1; code = $2
		body = $0; sub(/^[0-9]+ [0-9]+ /, "", body)
		n++
		if (code != 200 || !((i, body) in known)) {
			bad++
			if (bad <= 5) print "session " i ": " code " " body
		}
	}
	END { print n + 0, bad + 0 >(dir "/readres") }' "$tmp/reads" >>"$tmp/why"
set -- $(cat "$tmp/readres")
if [ "$1" -gt 0 ] && [ "$2" -eq 0 ]; then
	ok "all $1 concurrent reads saw a state of their session's script"
else
	bad "concurrent reads: $2 of $1 saw no state of their session's script"
fi
if grep -q 'amortd: error' "$tmp/log.c" "$tmp/log"; then
	grep 'amortd: error' "$tmp/log.c" "$tmp/log" >"$tmp/why"
	bad "no error was logged"
else
	ok "no error was logged"
fi

result_end

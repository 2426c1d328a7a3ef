#!/bin/sh
# crash.sh - kill -9 the daemon at random moments while clients upload,
# restart it, and check that nothing acknowledged was lost and nothing was
# applied twice or in part.
#
# Usage: tests/crash.sh BUILD_DIR [CYCLES]   (5 cycles by default;
# CRASH_SEED=N repeats the kill times of an earlier run, which prints its
# seed).  Prints cmocka-style result lines so tests/run.sh counts them, and
# a summary line "kill -9 cycles: N, lost acknowledged steps: L, doubly
# applied: D, integrity: ok|FAILED".
#
# Three clients run in the background for the whole test, each on its own
# session of a tiny model (mini-batches of 8 rows), each retrying a request
# with the same seq until it gets an answer:
#   J1, J2  JSON batches with seq 0, 1, 2, ...; request seq carries
#           nrows(seq) = 1 + (7 seq + 10) % 47 rows, so 1 to 6 steps;
#   N1      NDJSON streams with ?seq=0, 1, 2, ...; stream seq carries the
#           rows of file nd(seq % 3) (203, 317 or 150 rows, 26 to 40 steps).
# A client logs "seq steps_applied step duplicate" for each 200 it receives:
# that is what it saw acknowledged.  With seq, an answer "step S" means the
# steps up to S are stored, and a retry of a request that was (even in part)
# stored answers with what was stored instead of applying it again.
#
# Each cycle: the daemon runs for a random 0.2 to 1.2 s, gets SIGKILL, and a
# copy of its database and WAL (so the restarted daemon still does its own
# recovery) is checked with the sqlite3 command-line shell: PRAGMA
# integrity_check and foreign_key_check, and for each session
#   - its steps are exactly 1..step (no gap, no duplicate) and rows is the
#     sum of its steps' rows: no step stored in part;
#   - its requests' seqs are 0..next_seq-1, each on consecutive steps; a
#     JSON request's steps hold exactly its rows (never part of them: it is
#     atomic; never more: not applied twice); a stream's steps are full
#     mini-batches of its rows, in order, a partial one only as its last;
#   - every acknowledged step is there, under the seq that acknowledged it.
# After the last cycle the daemon is restarted once more, the clients stop,
# and the same checks run on what a client sees over HTTP (GET session,
# the whole history) and again on the database after a clean SIGTERM.
#
# Only 127.0.0.1 is used; every loop and wait is bounded; every process
# started here is stopped by the exit trap.
set -u
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/result.sh"
B="$1"
CYCLES="${2:-5}"
SEED="${CRASH_SEED:-$$}"
AMORT="$B/amort"
AMORTD="$B/amortd"
BMAX=8
NSEQ=$((3000 + 400 * CYCLES))	# JSON requests prepared per client
tmp=$(mktemp -d)
pid=""				# the daemon
cpids=""			# the clients

cleanup() {
	: >"$tmp/stop"
	i=0
	for c in $cpids; do
		while [ $i -lt 100 ] && kill -0 "$c" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
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
q() { sqlite3 -batch -noheader "$@"; }

command -v sqlite3 >/dev/null 2>&1 || { echo "crash.sh: needs the sqlite3 shell (deploy/install-deps.sh)"; exit 1; }
echo "[==========] Running amortd kill -9 tests: $CYCLES cycles, seed $SEED (CRASH_SEED=$SEED repeats the kill times)."

# ---- a tiny model and the clients' data ---------------------------------
mkdir -p "$tmp/models" "$tmp/data" "$tmp/state"
printf 'name = tiny\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = %d\n' \
	"$BMAX" >"$tmp/tiny.recipe"
if ! "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/models/tiny.amort" >"$tmp/train.log" 2>&1; then
	cat "$tmp/train.log"
	echo "[  FAILED  ] train a tiny model"
	exit 1
fi
# y = 2 x1 - x2 + 3 + noise; JSON request s has nrows(s) rows
awk -v n="$NSEQ" -v dir="$tmp/data" 'BEGIN {
	srand(11)
	for (s = 0; s < n; s++) {
		f = dir "/j" s ".json"; r = 1 + (7 * s + 10) % 47
		printf "{\"seq\": %d, \"x\": [", s >f
		for (i = 0; i < r; i++) {
			a = rand() * 10 - 5; b = rand() * 4 - 2; yv[i] = 2 * a - b + 3 + rand() - 0.5
			printf "%s[%.4f, %.4f]", i ? ", " : "", a, b >f
		}
		printf "], \"y\": [" >f
		for (i = 0; i < r; i++)
			printf "%s%.4f", i ? ", " : "", yv[i] >f
		print "]}" >f
		close(f)
	}
	split("203 317 150", tot, " ")
	for (k = 0; k < 3; k++) {
		f = dir "/nd" k ".ndjson"
		for (i = 0; i < tot[k + 1]; i++) {
			a = rand() * 10 - 5; b = rand() * 4 - 2
			printf "{\"x\": [%.4f, %.4f], \"y\": %.4f}\n", a, b, 2 * a - b + 3 + rand() - 0.5 >f
		}
		close(f)
	}
}'
NDTOT="203 317 150"

# ---- the checker ----------------------------------------------------------
# check.awk -v mode=json|nd -v B=.. -v tot="..." -v sstep= -v srows= -v snext=
#   ACKS BATCHES: ACKS holds "seq steps_applied step dup" lines, BATCHES
#   "seq|step|rows" lines in step order.  Prints "lost L double D half H
#   bad X" and the reasons, one a line, after it.
cat >"$tmp/check.awk" <<'EOF'
function why(m) { if (nwhy < 20) reasons[++nwhy] = m }
function want_rows(s) { return mode == "json" ? 1 + (7 * s + 10) % 47 : t[s % 3 + 1] }
# closes the group of steps of seq cur
function close_group(   w) {
	if (cur == "")
		return
	w = want_rows(cur)
	grows[cur] = grpr
	gcount[cur] = grpc
	if (grpr > w) { double++; why("seq " cur ": " grpr " rows stored, the request had " w) }
	else if (mode == "json" && grpr < w) { half++; why("seq " cur ": " grpr " of its " w " rows stored") }
	else if (mode == "nd" && lastr < B && grpr != w) { half++; why("seq " cur ": a partial mini-batch of " lastr " rows inside the stream") }
}
BEGIN { FS = "|"; split(tot, t, " "); cur = ""; nb = 0; sum = 0 }
# an ack line ends in "." when it was written whole (it may be caught
# half written at the moment of a kill)
FNR == NR { split($0, a, " "); if (a[5] == ".") { nack++; aseq[nack] = a[1]; an[nack] = a[2]; astep[nack] = a[3] } next }
{
	seq = $1; step = $2; rows = $3
	nb++
	if (step != nb) { bad++; why("step " step " stored where step " nb " was due (gap or duplicate)") }
	if (rows < 1 || rows > B) { bad++; why("step " step ": " rows " rows") }
	seqof[step] = seq
	sum += rows
	if (seq != cur) {
		close_group()
		if (seq in seen) { double++; why("seq " seq " applied again at step " step) }
		else if (seq != (cur == "" ? 0 : cur + 1)) { bad++; why("seq " seq " follows seq " cur) }
		seen[seq] = 1
		cur = seq; grpr = 0; grpc = 0
	} else if (lastr != B) {
		bad++; why("seq " seq ": step " step - 1 " has " lastr " rows inside the request")
	}
	grpr += rows; grpc++; lastr = rows
}
END {
	close_group()
	if (nb != sstep) { bad++; why("the session is at step " sstep " but " nb " steps are stored") }
	if (sum != srows) { bad++; why("the session counts " srows " rows but its steps hold " sum) }
	if (snext != (cur == "" ? 0 : cur + 1)) { bad++; why("next_seq " snext " after seq " cur) }
	for (i = 1; i <= nack; i++) {
		s = aseq[i]
		for (k = astep[i] - an[i] + 1; k <= astep[i]; k++)
			if (!(k in seqof) || seqof[k] != s) { lost++; why("acknowledged step " k " of seq " s " is missing") }
		if ((s in gcount) && gcount[s] != an[i]) { bad++; why("seq " s " was acknowledged with " an[i] " steps but " gcount[s] " are stored") }
		if (mode == "json" && an[i] != int((want_rows(s) + B - 1) / B)) { half++; why("seq " s " acknowledged with " an[i] " steps for " want_rows(s) " rows") }
	}
	printf "lost %d double %d half %d bad %d\n", lost, double, half, bad
	for (i = 1; i <= nwhy; i++)
		print reasons[i]
}
EOF

# ---- the daemon -------------------------------------------------------
port=0
# start: launches the daemon on $port (0 the first time) and writes the
# port it bound to $tmp/port for the clients.
start() {
	: >"$tmp/log"
	"$AMORTD" --listen "127.0.0.1:$port" --state-dir "$tmp/state" --models "$tmp/models" \
		--threads 2 --max-rows 1000 --timeout 10 2>"$tmp/log" &
	pid=$!
	got=$(daemon_port "$tmp/log" "$pid")
	cat "$tmp/log" >>"$tmp/log.all"
	[ -n "$got" ] || return 1
	port=$got
	echo "$port" >"$tmp/port.new" && mv "$tmp/port.new" "$tmp/port"
}
restart() {	# the same port if it is free again, else any
	start && return 0
	wait "$pid" 2>/dev/null
	pid=""
	port=0
	start
}
kill9() {
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}

# ---- the clients ------------------------------------------------------
# client NAME ID json|nd: posts requests in seq order until $tmp/stop
# exists (or its request budget is spent), retrying one until it is
# answered; logs each 200 to NAME.ack, anything unexpected to NAME.err.
client() {
	name=$1 id=$2 mode=$3
	seq=0 n=0
	while [ $n -lt 100000 ] && [ ! -e "$tmp/stop" ] && [ $seq -lt $NSEQ ]; do
		n=$((n + 1))
		read -r p <"$tmp/port"
		if [ "$mode" = json ]; then
			code=$(curl -s -m 20 -o "$tmp/$name.out" -w '%{http_code}' \
				-H 'Content-Type: application/json' \
				--data-binary @"$tmp/data/j$seq.json" \
				"http://127.0.0.1:$p/v1/sessions/$id/batches")
		else
			code=$(curl -s -m 30 -o "$tmp/$name.out" -w '%{http_code}' \
				-H 'Content-Type: application/x-ndjson' -H 'Transfer-Encoding: chunked' \
				--data-binary @"$tmp/data/nd$((seq % 3)).ndjson" \
				"http://127.0.0.1:$p/v1/sessions/$id/batches?seq=$seq")
		fi
		case $code in
		200)
			r=$(sed -n 's/.*"steps_applied":\([0-9]*\),"step":\([0-9]*\),.*/\1 \2/p' "$tmp/$name.out")
			d=0
			grep -q '"duplicate":true' "$tmp/$name.out" && d=1
			if [ -n "$r" ]; then
				echo "$seq $r $d ." >>"$tmp/$name.ack"
			else
				echo "seq $seq: 200 without steps: $(head -c 300 "$tmp/$name.out")" >>"$tmp/$name.err"
			fi
			seq=$((seq + 1))
			;;
		000 | 503) sleep 0.02 ;;	# down, or not yet up again
		*)
			echo "seq $seq: HTTP $code: $(head -c 300 "$tmp/$name.out")" >>"$tmp/$name.err"
			sleep 0.02
			;;
		esac
	done
}

# check_session NAME ID MODE BATCHES SSTEP SROWS SNEXT: runs the checker,
# adds to this check's counts (check_lost, check_double, check_half) and
# appends its reasons to $tmp/why.  0 if all is well.  The summary reports
# the largest counts any one check found.
lost_total=0
double_total=0
half_total=0
check_lost=0
check_double=0
check_half=0
tally() {
	[ "$check_lost" -gt "$lost_total" ] && lost_total=$check_lost
	[ "$check_double" -gt "$double_total" ] && double_total=$check_double
	[ "$check_half" -gt "$half_total" ] && half_total=$check_half
	check_lost=0
	check_double=0
	check_half=0
}
check_session() {
	: >>"$tmp/$1.ack"
	awk -v mode="$3" -v B="$BMAX" -v tot="$NDTOT" -v sstep="$5" -v srows="$6" \
		-v snext="$7" -f "$tmp/check.awk" "$tmp/$1.ack" "$4" >"$tmp/res"
	set -- $(head -n 1 "$tmp/res")
	tail -n +2 "$tmp/res" >>"$tmp/why"
	check_lost=$((check_lost + $2))
	check_double=$((check_double + $4))
	check_half=$((check_half + $6))
	[ "$2" -eq 0 ] && [ "$4" -eq 0 ] && [ "$6" -eq 0 ] && [ "$8" -eq 0 ]
}

# check_db DB: integrity and every session's steps, seqs and acks in DB.
integrity=ok
check_db() {
	db=$1
	: >"$tmp/why"
	r=$(q "$db" 'PRAGMA integrity_check' 2>&1)
	if [ "$r" != ok ]; then
		integrity=FAILED
		echo "integrity_check: $r" >>"$tmp/why"
	fi
	r=$(q "$db" 'PRAGMA foreign_key_check' 2>&1)
	if [ -n "$r" ]; then
		integrity=FAILED
		echo "foreign_key_check: $r" >>"$tmp/why"
	fi
	good=1
	[ "$integrity" = ok ] || good=0
	for cs in J1:json N1:nd J2:json; do
		name=${cs%%:*}
		eval "id=\$ID_$name"
		q "$db" "SELECT seq, step, rows FROM batches WHERE session = '$id' ORDER BY step" \
			| tr -d ' ' >"$tmp/batches" 2>>"$tmp/why"
		set -- $(q "$db" "SELECT step, rows, next_seq FROM sessions WHERE id = '$id'" | tr '|' ' ')
		if [ $# -ne 3 ]; then
			echo "$name: session $id is not in the database" >>"$tmp/why"
			good=0
			continue
		fi
		eval "step_$name=$1"
		check_session "$name" "$id" "${cs#*:}" "$tmp/batches" "$1" "$2" "$3" || good=0
	done
	tally
	[ $good -eq 1 ]
}

expect_start() {
	if "$@"; then
		ok "$1: the daemon is up on 127.0.0.1:$port"
	else
		cat "$tmp/log"
		bad "$1: the daemon starts"
		exit 1
	fi
}

# ---- run ------------------------------------------------------------------
expect_start start
for name in J1 N1 J2; do
	r=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary '{"model": "tiny"}' \
		"http://127.0.0.1:$port/v1/sessions")
	id=$(printf '%s' "$r" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	[ ${#id} -eq 32 ] || { echo "$r"; bad "create session $name"; exit 1; }
	eval "ID_$name=$id"
done
ok "three sessions created"
client J1 "$ID_J1" json &
cpids="$cpids $!"
client N1 "$ID_N1" nd &
cpids="$cpids $!"
client J2 "$ID_J2" json &
cpids="$cpids $!"

c=1
while [ "$c" -le "$CYCLES" ]; do
	t=$(awk -v s="$SEED" -v c="$c" 'BEGIN { srand(s * 1000 + c); printf "%.2f", 0.2 + rand() }')
	sleep "$t"
	acks=$(cat "$tmp"/*.ack 2>/dev/null | wc -l)
	kill9
	rm -rf "$tmp/snap"
	mkdir "$tmp/snap"
	cp "$tmp/state/amortd.db" "$tmp/snap/"
	[ -e "$tmp/state/amortd.db-wal" ] && cp "$tmp/state/amortd.db-wal" "$tmp/snap/"
	if check_db "$tmp/snap/amortd.db"; then
		ok "cycle $c: kill -9 after ${t} s ($acks answers so far): steps J1 $step_J1, N1 $step_N1, J2 $step_J2 intact"
	else
		bad "cycle $c: kill -9 after ${t} s"
	fi
	expect_start restart "cycle $c"
	c=$((c + 1))
done

# let the clients see the last daemon, then stop them
sleep 0.3
: >"$tmp/stop"
for cp in $cpids; do
	i=0
	while [ $i -lt 300 ] && kill -0 "$cp" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	wait "$cp" 2>/dev/null
done
cpids=""
if cat "$tmp"/*.err >"$tmp/why" 2>/dev/null && [ -s "$tmp/why" ]; then
	bad "the clients got only 200s and connection failures"
else
	ok "the clients got only 200s and connection failures"
fi
for name in J1 N1 J2; do
	n=$(wc -l <"$tmp/$name.ack" 2>/dev/null || echo 0)
	if [ "$n" -gt 0 ]; then ok "$name: $n requests acknowledged"; else : >"$tmp/why"; bad "$name: requests acknowledged"; fi
done

# what a client sees over HTTP
U="http://127.0.0.1:$port"
for c in J1:json N1:nd J2:json; do
	name=${c%%:*}
	eval "id=\$ID_$name"
	: >"$tmp/why"
	r=$(curl -s -m 10 "$U/v1/sessions/$id")
	sstep=$(printf '%s' "$r" | sed -n 's/.*"step":\([0-9]*\).*/\1/p')
	srows=$(printf '%s' "$r" | sed -n 's/.*"rows":\([0-9]*\).*/\1/p')
	snext=$(printf '%s' "$r" | sed -n 's/.*"next_seq":\([0-9]*\).*/\1/p')
	: >"$tmp/hist"
	after=0 pages=0
	while [ "$pages" -lt 200 ] && [ -n "$after" ]; do
		curl -s -m 20 "$U/v1/sessions/$id/history?after=$after&limit=1000" >"$tmp/page"
		grep -o '"step":[0-9]*,"seq":[0-9-]*,"rows":[0-9]*' "$tmp/page" |
			sed 's/"step":\([0-9]*\),"seq":\([0-9-]*\),"rows":\([0-9]*\)/\2|\1|\3/' >>"$tmp/hist"
		after=$(sed -n 's/.*"next":\([0-9][0-9]*\)}$/\1/p' "$tmp/page")
		pages=$((pages + 1))
	done
	maxack=$(awk 'BEGIN { m = 0 } $5 == "." && $3 > m { m = $3 } END { print m }' "$tmp/$name.ack")
	if [ -n "$sstep" ] && [ "$sstep" -ge "$maxack" ] &&
		check_session "$name" "$id" "${c#*:}" "$tmp/hist" "$sstep" "$srows" "$snext"; then
		ok "$name over HTTP: step $sstep >= $maxack acknowledged, history 1..$sstep, $srows rows"
	else
		echo "GET: $r" >>"$tmp/why"
		bad "$name over HTTP: step >= acknowledged, history consistent"
	fi
done
tally

kill -TERM "$pid"
i=0
while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
wait "$pid"
rc=$?
pid=""
if [ $rc -eq 0 ]; then ok "SIGTERM exits 0"; else : >"$tmp/why"; bad "SIGTERM exits 0 (got $rc)"; fi
if check_db "$tmp/state/amortd.db"; then
	ok "the database after the last run: integrity ok, every session consistent"
else
	bad "the database after the last run"
fi
if grep 'amortd: error' "$tmp/log.all" >"$tmp/why"; then
	bad "no error was logged"
else
	ok "no error was logged"
fi

echo "kill -9 cycles: $CYCLES, lost acknowledged steps: $lost_total, doubly applied: $double_total, integrity: $integrity"
echo "requests applied in part: $half_total (JSON requests are atomic; a stream may stop between mini-batches)"
result_end

#!/bin/sh
# clients.sh - the shipped clients against the real daemon: starts
# BUILD/amortd on a free loopback port with the shipped models
# (deploy/models) and a temporary state directory, runs
# clients/walkthrough.sh, tests/clients.py (clients/amortd.py call by call),
# clients/example.py and clients/example_mixture.py, and checks what they
# print against what their data implies: predictions near the noise-free
# truth, a retried batch not applied twice, the mixture's clusters where
# they were drawn.  Each must leave no session behind and, once the daemon
# is stopped, say that it cannot reach one.  clients/csv2ndjson.sh is
# checked on its own.
#
# Python is Debian's /usr/bin/python3 (PYTHON=... for another), run with
# -I -S -B: no site or user packages, so the clients are shown to need the
# standard library only, and no __pycache__ is left in clients/.  Without
# it the Python checks are skipped.
# Usage: tests/clients.sh BUILD_DIR.  Prints cmocka-style result lines for
# tests/run.sh.  Only 127.0.0.1 is used; every wait is bounded.
set -u
here=$(dirname "$0")
. "$here/daemon.sh"
. "$here/result.sh"
CLIENTS="$here/../clients"
AMORTD="$1/amortd"
PY=${PYTHON:-/usr/bin/python3}
PYFLAGS="-I -S -B"
tmp=$(mktemp -d)
pid=""
trap 'daemon_kill; rm -rf "$tmp"' EXIT
# A proxy in the environment must not see the loopback requests.
no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
export no_proxy NO_PROXY

why_failed() {
	[ -s "$tmp/out" ] && sed 's/^/    /' "$tmp/out" | tail -n 25
}

# run NAME COMMAND...: runs a client (for at most 2 minutes) with its
# stdout and stderr in $tmp/out; passes if it exits 0.  Sets $rc.
run() {
	_run=$1
	shift
	timeout 120 "$@" >"$tmp/out" 2>&1
	rc=$?
	expect "$_run" [ "$rc" -eq 0 ]
}

# refuses NAME PATTERN COMMAND...: passes if the client exits 1 with
# PATTERN (a grep pattern) in what it prints.
refuses() {
	_run=$1 _pat=$2
	shift 2
	timeout 60 "$@" >"$tmp/out" 2>&1
	rc=$?
	expect "$_run" eval '[ "$rc" -eq 1 ] && grep -q -- "$_pat" "$tmp/out"'
}

# section TEXT: the lines of $tmp/out under the walkthrough's "== N. ..."
# heading that contains TEXT, up to the next heading.
section() {
	awk -v t="$1" '/^== [0-9]+\. / { on = index($0, t) > 0; next } on' "$tmp/out"
}

# array NAME: the numbers of the first JSON array NAME on standard input,
# comma-separated.
array() {
	sed -n "s/.*\"$1\":\[\([^]]*\)\].*/\1/p" | head -n 1
}

# near LIST TRUTH TOL: LIST has as many comma-separated numbers as TRUTH,
# each finite and within TOL of its counterpart.
near() {
	awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN {
		n = split(a, x, ","); if (n == 0 || n != split(b, y, ",")) exit 1
		for (i = 1; i <= n; i++) {
			if (x[i] !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) exit 1
			d = x[i] - y[i]
			if (d > tol || d < -tol) exit 1
		}
	}'
}

# no_sessions: the daemon holds no session.
no_sessions() {
	curl -s -m 10 "$U/v1/sessions" | grep -q '"sessions":\[\]'
}

echo "[==========] Running the clients against amortd with the shipped models."

# ---- csv2ndjson.sh, on its own ---------------------------------------------
printf 'x1, x2 ,y\r\n+1,.5,2.\r\n\n-3,4e2,0\n' | "$CLIENTS/csv2ndjson.sh" >"$tmp/out" 2>&1
printf '%s\n' '{"x":[1,0.5],"y":2}' '{"x":[-3,4e2],"y":0}' >"$tmp/want"
expect "csv2ndjson.sh skips the header and writes loose numbers as JSON" \
	cmp -s "$tmp/want" "$tmp/out"
printf '1,2\n' | "$CLIENTS/csv2ndjson.sh" --no-y >"$tmp/out" 2>&1
expect "csv2ndjson.sh --no-y writes rows without y" grep -qx '{"x":\[1,2\]}' "$tmp/out"
printf 'a,y\n1,2\n1,nan\n' >"$tmp/bad.csv"
refuses "csv2ndjson.sh names the file and line of a field that is not a number" \
	"csv2ndjson: $tmp/bad.csv: line 3: field 2: 'nan' is not a finite number" \
	"$CLIENTS/csv2ndjson.sh" "$tmp/bad.csv"

# ---- the daemon ----------------------------------------------------------
if ! daemon_start "$AMORTD" "$tmp/log" --state-dir "$tmp/state" \
	--models "$here/../deploy/models" --threads 2; then
	cp "$tmp/log" "$tmp/out"
	bad "amortd starts with deploy/models"
	result_end
	exit 1
fi
ok "amortd starts with deploy/models"
checksum=$(curl -s -m 10 "$U/v1/models/linreg" | sed -n 's/^{[^{]*"checksum":"\([0-9a-f]*\)".*/\1/p')

# ---- walkthrough.sh: a first session with curl ---------------------------
run "walkthrough.sh runs to its end" env AMORTD_URL="$U" "$CLIENTS/walkthrough.sh"
expect "walkthrough: it says it is done" eval 'tail -n 1 "$tmp/out" | grep -qx "walkthrough: done"'
section "Stream it" | grep '^{' >"$tmp/stream"
expect "walkthrough: its 1000 CSV rows stream as NDJSON in 32 steps" \
	eval 'grep -q "\"steps_applied\":32," "$tmp/stream" && grep -q "\"rows\":1000," "$tmp/stream"'
section "Send it again" | grep '^{' >"$tmp/retry"
section "The session now" | grep '^{' >"$tmp/now"
expect "walkthrough: the retried batch is a duplicate, not applied twice (33 steps, 1004 rows)" \
	eval 'grep -q "\"duplicate\":true" "$tmp/retry" && grep -q "\"step\":33," "$tmp/now" && grep -q "\"rows\":1004," "$tmp/now"'
mean=$(section "Predict at four points" | array mean)
sd=$(section "Predict at four points" | array variance | awk -F, '{ for (i = 1; i <= NF; i++) printf "%s%.4f", (i > 1 ? "," : ""), sqrt($i) }')
expect "walkthrough: its predictions are within 0.1 of the truth 0.5 2.5 -0.5 3.5 ($mean)" \
	near "$mean" "0.5,2.5,-0.5,3.5" 0.1
expect "walkthrough: its predictive sds are near the noise's 0.1 ($sd)" \
	near "$sd" "0.15,0.15,0.15,0.15" 0.1
section "history" | grep '^{' >"$tmp/history"
expect "walkthrough: the history's first 5 steps, 32 rows each" \
	eval '[ $(grep -o "\"rows\":32," "$tmp/history" | wc -l) -eq 5 ] && grep -q "\"next\":5" "$tmp/history"'
section "A mistake" >"$tmp/mistake"
expect "walkthrough: three inputs are a 422 problem naming the dimension" \
	eval 'grep -q "^< HTTP/1.1 422" "$tmp/mistake" && grep -q "\"status\":422" "$tmp/mistake" && grep -q "session.s dimension is 2" "$tmp/mistake"'
section "Delete the session" >"$tmp/delete"
expect "walkthrough: it deletes its session (204) and leaves none" \
	eval 'grep -q "^< HTTP/1.1 204" "$tmp/delete" && no_sessions'

# ---- the Python client and examples --------------------------------------
havepy=0
command -v "$PY" >/dev/null 2>&1 && havepy=1
if [ "$havepy" -eq 0 ]; then
	for c in tests/clients.py clients/example.py clients/example_mixture.py; do
		skipped "$c: $PY missing (apt-get install python3)"
	done
else
	# tests/clients.py prints result lines of its own: counted as they come
	timeout 120 "$PY" $PYFLAGS "$here/clients.py" "$U" >"$tmp/py" 2>&1
	pyrc=$?
	: >"$tmp/out"
	while IFS= read -r line; do
		case $line in
		"[       OK ] "*) ok "amortd.py: ${line#"[       OK ] "}" ;;
		"[  FAILED  ] "*) bad "amortd.py: ${line#"[  FAILED  ] "}" ;;
		*) echo "$line" ;;
		esac
	done <"$tmp/py"
	pyfail=$(grep -c '^\[  FAILED  \]' "$tmp/py")
	cp "$tmp/py" "$tmp/out"
	expect "tests/clients.py runs to its end and leaves no session" \
		eval '{ [ $pyrc -eq 0 ] || [ $pyrc -eq 1 -a $pyfail -gt 0 ]; } && no_sessions'

	run "example.py runs" "$PY" $PYFLAGS "$CLIENTS/example.py" "$U"
	head="^session \([0-9a-f]\{32\}\) on linreg (model checksum \([0-9a-f]*\))$"
	sid=$(sed -n "1s/$head/\1/p" "$tmp/out")
	cks=$(sed -n "1s/$head/\2/p" "$tmp/out")
	expect "example.py: a session on linreg (checksum $checksum), deleted at the end, none left" \
		eval '[ -n "$sid" ] && [ "$cks" = "$checksum" ] && tail -n 1 "$tmp/out" | grep -qx "session $sid deleted" && no_sessions'
	# "batch rows step before after": batch b is step b, rows 32 b so far
	expect "example.py: 20 batches of 32 rows, one step each, and the loss falls" awk '
		/^ +[0-9]+ +[0-9]+ +[0-9]+ +[-0-9.]+ +[-0-9.]+$/ {
			n++
			if ($1 != n || $3 != n || $2 != 32 * n) exit 1
			if (n == 1) first = $4
			last = $5
		}
		END { exit !(n == 20 && last < first) }' "$tmp/out"
	# "x1 x2 truth prediction sd", the truth 3 x1 - 2 x2 + 1
	expect "example.py: its 5 predictions are within 0.2 of the truth, sds near the noise's 0.1" awk '
		/^ +x1 +x2 +truth/ { on = 1; next }
		on && NF == 5 {
			n++
			t = 3 * $1 - 2 * $2 + 1
			if ($3 - t > 1e-3 || t - $3 > 1e-3) exit 1
			if ($4 - t > 0.2 || t - $4 > 0.2) exit 1
			if ($5 !~ /^[0-9.]+$/ || $5 < 0.05 || $5 > 0.3) exit 1
		}
		END { exit n != 5 }' "$tmp/out"

	run "example_mixture.py runs (URL from AMORTD_URL)" \
		env AMORTD_URL="$U" "$PY" $PYFLAGS "$CLIENTS/example_mixture.py"
	nll=$(sed -n 's/^16 steps on 512 samples; batch NLL \([-0-9.]*\) -> \([-0-9.]*\)$/\1 \2/p' "$tmp/out")
	expect "example_mixture.py: 16 steps on 512 samples, the NLL falls, no session left" \
		eval 'echo "$nll" | awk "NF != 2 || \$2 >= \$1 { exit 1 }" && no_sessions'
	# "cluster at (X, Y): weight W (truth W0), mean (MX, MY), sd (SX, SY)
	# (truth SX0, SY0)" as "X Y W W0 MX MY SX SY SX0 SY0"
	tr -s '(),:' ' ' <"$tmp/out" | awk '/^cluster at/ {
		print $3, $4, $6, $8, $10, $11, $13, $14, $16, $17 }' >"$tmp/clusters"
	expect "example_mixture.py: cluster weights within 0.1 of the truth, no sample between them" awk '
		{ n++; w += $3; if ($3 - $4 > 0.1 || $4 - $3 > 0.1) exit 1 }
		END { exit !(n == 2 && w > 0.98) }' "$tmp/clusters"
	expect "example_mixture.py: cluster means within 0.5 and sds within a factor 2 of the truth" awk '
		function far(a, b) { return a - b > 0.5 || b - a > 0.5 }
		function off(s, t) { return !(s > t / 2 && s < t * 2) }
		{ n++; if (far($5, $1) || far($6, $2) || off($7, $9) || off($8, $10)) exit 1 }
		END { exit n != 2 }' "$tmp/clusters"
	expect "example_mixture.py: the log-density at both centres is 10 above the one between them" awk '
		/^log-density at \(10, 1\): / { a = $NF; n++ }
		/^log-density at \(30, -4\): / { b = $NF; n++ }
		/^log-density at \(20, -2\): / { m = $NF; n++ }
		END { exit !(n == 3 && a > m + 10 && b > m + 10) }' "$tmp/out"
fi

# ---- the daemon gone -----------------------------------------------------
expect "SIGTERM exits 0" daemon_end
expect "no error was logged" eval '! grep -q "amortd: error" "$tmp/log"'
refuses "walkthrough.sh without a daemon says how to start one" \
	"no amortd at $U: start it with 'make run'" env AMORTD_URL="$U" "$CLIENTS/walkthrough.sh"
if [ "$havepy" -eq 1 ]; then
	refuses "example.py without a daemon says it cannot reach amortd" \
		"^example: cannot reach amortd: .*make run" "$PY" $PYFLAGS "$CLIENTS/example.py" "$U"
	refuses "example_mixture.py without a daemon says it cannot reach amortd" \
		"^example_mixture: cannot reach amortd: .*make run" "$PY" $PYFLAGS "$CLIENTS/example_mixture.py" "$U"
fi

result_end

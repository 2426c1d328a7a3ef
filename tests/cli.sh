#!/bin/sh
# cli.sh - behaviour of the `amort` command on good and bad input: exit
# codes and messages.  Usage: tests/cli.sh BUILD_DIR.  Prints cmocka-style
# result lines so tests/run.sh counts it with the rest.
set -u
AMORT="$1/amort"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

check() {	# name, expected exit status, expected stderr pattern, command...
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/err" "$tmp/out"; then
		echo "[       OK ] $name"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $name: exit $rc (want $want), output:"
		cat "$tmp/out" "$tmp/err"
		fail=$((fail + 1))
	fi
}

echo "[==========] Running amort command tests."
check "usage without a command" 2 "usage: amort" "$AMORT"
check "unknown command" 2 "unknown command 'frobnicate'" "$AMORT" frobnicate
check "demo refuses a bad --iters" 2 "--iters wants an integer" "$AMORT" demo --iters 12x
check "demo trains and saves" 0 "saved $tmp/m.amort" "$AMORT" demo --iters 3 -o "$tmp/m.amort"
check "info on a good file" 0 "30 tensors" "$AMORT" info "$tmp/m.amort"
check "info shows the header" 0 '"task_family": "linreg1d-demo"' "$AMORT" info "$tmp/m.amort"
head -c 200 "$tmp/m.amort" >"$tmp/trunc.amort"
check "info refuses a truncated file" 1 "truncated\|checksum" "$AMORT" info "$tmp/trunc.amort"
check "info refuses a missing file" 1 "nope.amort" "$AMORT" info "$tmp/nope.amort"
check "info refuses a directory" 1 "$tmp" "$AMORT" info "$tmp"
printf 'not a model' >"$tmp/text.amort"
check "info refuses a text file" 1 "magic\|too short\|not a model" "$AMORT" info "$tmp/text.amort"
check "demo refuses an unwritable path" 1 "no-such-dir" "$AMORT" demo --iters 1 -o "$tmp/no-such-dir/m.amort"

# ---- amort adapt -----------------------------------------------------------
expect() {	# name, command...: passes when the command succeeds
	name=$1
	shift
	if "$@"; then
		echo "[       OK ] $name"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $name"
		fail=$((fail + 1))
	fi
}

refuse() {	# name, stderr pattern, command...: exit 1, the pattern, no stdout
	name=$1 pat=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		echo "[       OK ] $name"
		pass=$((pass + 1))
	else
		echo "[  FAILED  ] $name: exit $rc (want 1, no stdout), output:"
		cat "$tmp/out" "$tmp/err"
		fail=$((fail + 1))
	fi
}

lines_are() {	# N: $tmp/out has N lines
	[ "$(wc -l <"$tmp/out")" -eq "$1" ]
}

all_finite() {	# every line of $tmp/out is "prediction,sd", both finite, sd > 0
	awk -F, 'NF != 2 || $1 !~ /^-?[0-9.]+(e[-+][0-9]+)?$/ ||
		 $2 !~ /^[0-9.]+(e[-+][0-9]+)?$/ || $2 <= 0 { bad = 1 }
		 END { exit bad || NR == 0 }' "$tmp/out"
}

printf 'name = tiny\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\n' >"$tmp/tiny.recipe"
check "train a tiny regression model" 0 "wrote" "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/r.amort"
# noise-free y = 2 x1 - x2 + 3, with x2 far from unit scale
awk 'BEGIN { srand(7); print "x1,x2,y"
	for (i = 0; i < 2000; i++) { a = rand() * 10 - 5; b = 100 + 4 * rand()
		printf "%.6f,%.6f,%.6f\n", a, b, 2 * a - b + 3 } }' >"$tmp/train.csv"
awk 'BEGIN { srand(8); print "x1,x2"
	for (i = 0; i < 50; i++) printf "%.6f,%.6f\n", rand() * 10 - 5, 100 + 4 * rand() }' >"$tmp/test.csv"
A="$AMORT adapt --model $tmp/r.amort"
check "adapt reads a header and streams 2000 rows" 0 "2000 rows of 2 inputs in 63 mini-batches" \
	$A --train "$tmp/train.csv" --predict "$tmp/test.csv"
expect "adapt prints one line per test row" lines_are 50
expect "adapt predictions are finite" all_finite
check "adapt --batch 7 leaves a partial last batch" 0 "286 mini-batches of up to 7" \
	$A --train "$tmp/train.csv" --predict "$tmp/test.csv" --batch 7
expect "adapt --batch 7 prints every row" lines_are 50
awk -F, 'NR > 1 { print $0 ",0" }' "$tmp/test.csv" >"$tmp/test_y.csv"
check "adapt ignores a y column in TEST" 0 "y, ignored" \
	$A --train "$tmp/train.csv" --predict "$tmp/test_y.csv"
expect "adapt with TEST's y prints every row" lines_are 50
printf '0.5,1.5,2\r\n-1,0.25,-3\r\n2,2,1\r\n\r\n\n' >"$tmp/crlf.csv"
printf '1,1\n' >"$tmp/one.csv"
check "adapt takes CRLF and trailing blank lines" 0 "3 rows" \
	$A --train "$tmp/crlf.csv" --predict "$tmp/one.csv"
check "adapt --no-standardize feeds raw values" 0 "3 rows" \
	$A --train "$tmp/crlf.csv" --predict "$tmp/one.csv" --no-standardize
expect "adapt --no-standardize predicts" all_finite
check "adapt reads TRAIN from standard input" 0 "2000 rows" \
	sh -c "$A --train - --predict '$tmp/test.csv' <'$tmp/train.csv'"

printf 'x1,x2,y\n1,2,3\n4,5,6\n7,8\n' >"$tmp/ragged.csv"
refuse "adapt refuses a ragged row" "ragged.csv: line 4: 2 fields, expected 3" \
	$A --train "$tmp/ragged.csv" --predict "$tmp/test.csv"
printf '1,2,3\n4,abc,6\n' >"$tmp/word.csv"
refuse "adapt refuses a non-number" "word.csv: line 2, field 2: 'abc' is not a number" \
	$A --train "$tmp/word.csv" --predict "$tmp/test.csv"
printf '1,2,3\n4,5,nan\n' >"$tmp/nan.csv"
refuse "adapt refuses NaN" "nan.csv: line 2, field 3: 'nan' is not finite" \
	$A --train "$tmp/nan.csv" --predict "$tmp/test.csv"
printf '1,2,3\n-inf,5,6\n' >"$tmp/inf.csv"
refuse "adapt refuses Inf" "inf.csv: line 2, field 1: '-inf' is not finite" \
	$A --train "$tmp/inf.csv" --predict "$tmp/test.csv"
printf '1,2,3\n\n4,5,6\n' >"$tmp/gap.csv"
refuse "adapt refuses a blank line inside the data" "gap.csv: line 2 is blank" \
	$A --train "$tmp/gap.csv" --predict "$tmp/test.csv"
awk 'BEGIN { for (i = 0; i < 18; i++) printf i ? ",1" : "1"; print "" }' >"$tmp/wide.csv"
refuse "adapt refuses more than 16 inputs" "wide.csv: line 1: 18 columns.*at most 16 inputs" \
	$A --train "$tmp/wide.csv" --predict "$tmp/test.csv"
printf 'x1,x2,y\n\n' >"$tmp/header-only.csv"
refuse "adapt refuses an empty training set" "header-only.csv: no data rows" \
	$A --train "$tmp/header-only.csv" --predict "$tmp/test.csv"
printf '1,2,3,4\n' >"$tmp/test4.csv"
refuse "adapt refuses a TEST of the wrong width" "test4.csv: line 1: 4 columns, expected 2" \
	$A --train "$tmp/train.csv" --predict "$tmp/test4.csv"
{ cat "$tmp/test.csv"; printf '1\n'; } >"$tmp/test-bad-end.csv"
refuse "adapt prints nothing when TEST's last row is bad" "test-bad-end.csv: line 52: 1 field, expected 2" \
	$A --train "$tmp/train.csv" --predict "$tmp/test-bad-end.csv"
{ cat "$tmp/train.csv"; printf '1,2,x\n'; } >"$tmp/train-bad-end.csv"
refuse "adapt prints nothing when TRAIN's last row is bad" "train-bad-end.csv: line 2002, field 3: 'x' is not a number" \
	$A --train "$tmp/train-bad-end.csv" --predict "$tmp/test.csv"
refuse "adapt refuses a missing TRAIN" "nope.csv" $A --train "$tmp/nope.csv" --predict "$tmp/test.csv"
refuse "adapt refuses a missing TEST" "nope.csv" $A --train "$tmp/train.csv" --predict "$tmp/nope.csv"
refuse "adapt refuses a model that is not a regression amortizer" "m.amort" \
	"$AMORT" adapt --model "$tmp/m.amort" --train "$tmp/train.csv" --predict "$tmp/test.csv"
check "adapt --batch 0 is a usage error" 2 "--batch wants an integer" \
	$A --train "$tmp/train.csv" --predict "$tmp/test.csv" --batch 0
check "adapt without --predict is a usage error" 2 "usage: amort adapt" \
	$A --train "$tmp/train.csv"

if [ "$fail" -eq 0 ]; then
	echo "[  PASSED  ] $pass test(s)."
else
	echo "[  PASSED  ] $pass test(s)."
	echo "[  FAILED  ] $fail test(s)."
	exit 1
fi

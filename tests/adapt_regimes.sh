#!/bin/sh
# adapt_regimes.sh - `amort adapt` on the implicit regime and on regression
# by a learned predictor: tiny models are trained here (a fraction of a
# second each) and adapted to small generated CSVs.  Checks the shape of
# what is printed, that implicit predictions are deterministic and do not
# depend on the other rows of TEST, and that bad input names the file and
# line, exits 1 and prints nothing on stdout.  Usage: tests/adapt_regimes.sh
# BUILD_DIR.  Prints cmocka-style result lines for tests/run.sh.
set -u
. "$(dirname "$0")/result.sh"
AMORT="$1/amort"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {		# name, command...: must exit 0; stdout in $tmp/out
	name=$1
	shift
	if "$@" >"$tmp/out" 2>"$tmp/err"; then
		ok "$name"
	else
		bad "$name: exit $?, output:"
		cat "$tmp/out" "$tmp/err"
	fi
}

refuse() {	# name, stderr pattern, command...: exit 1, the pattern, no stdout
	name=$1 pat=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$name"
	else
		bad "$name: exit $rc (want 1, no stdout), output:"
		cat "$tmp/out" "$tmp/err"
	fi
}

means_ok() {	# N: $tmp/out is N lines of one finite number each
	awk -v N="$1" 'NF != 1 || $1 !~ /^-?[0-9.]+(e[-+][0-9]+)?$/ { bad = 1 }
		END { exit bad || NR != N }' "$tmp/out"
}

probs_ok() {	# N, K: $tmp/out is N lines "label,p0,..,p(K-1)", the
		# probabilities in [0, 1] summing to 1, the label their argmax
	awk -F, -v N="$1" -v K="$2" 'NF != K + 1 || $1 !~ /^[0-9]+$/ { bad = 1; next }
		{ s = 0; best = 0; for (c = 0; c < K; c++) { p = $(c + 2) + 0; s += p
			if ($(c + 2) !~ /^[0-9.]+(e[-+][0-9]+)?$/ || p > 1) bad = 1
			if (p > $(best + 2) + 0) best = c }
		  if (s < 0.9999 || s > 1.0001 || $1 != best) bad = 1 }
		END { exit bad || NR != N }' "$tmp/out"
}

summary_has() {	# pattern: the run's closing line on stderr
	grep -q -- "$1" "$tmp/err"
}

echo "[==========] Running amort adapt regime tests."

# ---- tiny models -----------------------------------------------------------
common='width = 8
heads = 2
layers = 1
population = 8
chunk = 8
queries = 8
iters = 2
shards = 1
warmup = 1
batch = 8'
printf 'name = tinyic\nfamily = clf\nregime = implicit\nstate = logits\ntasks = linclass\n%s\n' "$common" >"$tmp/ic.recipe"
printf 'name = tinyicp\nfamily = clf\nregime = implicit\nstate = probs\ntasks = linclass\n%s\n' "$common" >"$tmp/icp.recipe"
printf 'name = tinyrx\nfamily = reg\nregime = explicit\nvariant = both\ntasks = linreg\nlatent = 8\npredictor_width = 8\npredictor_layers = 1\n%s\n' "$common" >"$tmp/rx.recipe"
printf 'name = tinyri\nfamily = reg\nregime = implicit\nstate = mean\ntasks = linreg\n%s\n' "$common" >"$tmp/ri.recipe"
for m in ic icp rx ri; do
	run "train the tiny model $m" "$AMORT" train "$tmp/$m.recipe" -o "$tmp/$m.amort"
done

# ---- data --------------------------------------------------------------------
# regression: y = 3 x1 - x2 / 2 + x3 + 7, x2 far from unit scale
awk 'BEGIN { srand(11); print "x1,x2,x3,y"
	for (i = 0; i < 100; i++) { a = rand() * 2 - 1; b = rand() * 10 + 50; c = rand() - 3
		printf "%.5f,%.5f,%.5f,%.5f\n", a, b, c, 3 * a - b / 2 + c + 7 } }' >"$tmp/rtrain.csv"
awk 'BEGIN { srand(12); print "x1,x2,x3"
	for (i = 0; i < 30; i++) printf "%.5f,%.5f,%.5f\n", rand() * 2 - 1, rand() * 10 + 50, rand() - 3 }' >"$tmp/rtest.csv"
# classification: three classes by two thresholds; the first batch has all
awk 'BEGIN { srand(3); print "a,b,label"
	for (i = 0; i < 60; i++) { a = rand() * 4 - 2; b = rand() * 40 + 100
		printf "%.4f,%.4f,%d\n", a, b, (i < 3 ? i : a > 0.5 ? 2 : b > 120 ? 1 : 0) } }' >"$tmp/ctrain.csv"
awk 'BEGIN { srand(4); print "a,b"
	for (i = 0; i < 25; i++) printf "%.4f,%.4f\n", rand() * 4 - 2, rand() * 40 + 100 }' >"$tmp/ctest.csv"

# ---- output shape ----------------------------------------------------------
run "implicit clf adapts" "$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv"
expect "implicit clf: 25 lines of a label and 3 probabilities summing to 1" probs_ok 25 3
expect "implicit clf: the summary names the regime" summary_has "60 rows of 2 inputs in 8 mini-batches of up to 8; 3 classes (from the first mini-batch); implicit"
cp "$tmp/out" "$tmp/ic1.out"
run "implicit clf, again" "$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv"
expect "implicit clf: two runs print the same predictions" cmp -s "$tmp/out" "$tmp/ic1.out"
sed -n '9,13p' "$tmp/ctest.csv" >"$tmp/csub.csv"
run "implicit clf on 5 rows of TEST" "$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/csub.csv"
expect "implicit clf: a row's prediction does not depend on TEST's other rows" \
	sh -c "sed -n '8,12p' '$tmp/ic1.out' | cmp -s - '$tmp/out'"
run "implicit clf --classes 4 --batch 3" "$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --classes 4 --batch 3
expect "--classes 4 prints 4 probabilities" probs_ok 25 4
expect "--batch 3 streams 20 mini-batches" summary_has "in 20 mini-batches of up to 3; 4 classes;"
awk -F, 'NR > 1 && NR <= 11' "$tmp/ctrain.csv" >"$tmp/ctest_y.csv"
run "implicit clf ignores TEST's label column" "$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest_y.csv"
expect "TEST with labels: 10 lines" probs_ok 10 3
run "implicit clf reads TEST from standard input" sh -c "'$AMORT' adapt --model '$tmp/ic.amort' --train '$tmp/ctrain.csv' --predict - <'$tmp/ctest.csv'"
expect "TEST from standard input predicts the same" cmp -s "$tmp/out" "$tmp/ic1.out"
run "implicit clf (state probs) adapts" "$AMORT" adapt --model "$tmp/icp.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv"
expect "state probs: 25 lines of probabilities" probs_ok 25 3

run "explicit reg adapts" "$AMORT" adapt --model "$tmp/rx.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv"
expect "explicit reg: 30 finite means, one column" means_ok 30
expect "explicit reg: the summary has the batch loss" summary_has "100 rows of 3 inputs in 13 mini-batches of up to 8; final batch loss"
cp "$tmp/out" "$tmp/rx1.out"
run "explicit reg, again" "$AMORT" adapt --model "$tmp/rx.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv"
expect "explicit reg: two runs print the same predictions" cmp -s "$tmp/out" "$tmp/rx1.out"

run "implicit reg adapts" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv"
expect "implicit reg: 30 finite means, one column" means_ok 30
expect "implicit reg: the summary names the regime" summary_has "100 rows of 3 inputs in 13 mini-batches of up to 8; implicit"
cp "$tmp/out" "$tmp/ri1.out"
run "implicit reg, again" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv"
expect "implicit reg: two runs print the same predictions" cmp -s "$tmp/out" "$tmp/ri1.out"
sed -n '20,24p' "$tmp/rtest.csv" >"$tmp/rsub.csv"
run "implicit reg on 5 rows of TEST" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rsub.csv"
expect "implicit reg: a row's prediction does not depend on TEST's other rows" \
	sh -c "sed -n '19,23p' '$tmp/ri1.out' | cmp -s - '$tmp/out'"
run "implicit reg ignores TEST's y column" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtrain.csv"
expect "TEST with y: 100 means" means_ok 100
run "implicit reg --no-standardize" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv" --no-standardize
expect "--no-standardize: 30 finite means" means_ok 30
: >"$tmp/empty.csv"
run "implicit reg with an empty TEST" "$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/empty.csv"
expect "an empty TEST prints nothing" sh -c "[ ! -s '$tmp/out' ]"

# ---- bad input: the file and line, exit 1, nothing on stdout ----------------
# a label past the first mini-batch's classes on line 20 (row 19)
awk -F, 'NR == 20 { print $1 "," $2 ",7"; next } { print }' "$tmp/ctrain.csv" >"$tmp/clate.csv"
refuse "implicit clf refuses a label out of range (line 20)" \
	"clate.csv: line 20, field 3: 7 is not a class label: labels are integers from 0 to 2" \
	"$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/clate.csv" --predict "$tmp/ctest.csv"
refuse "... and past --classes" "clate.csv: line 20, field 3: 7 is not a class label: labels are integers from 0 to 4" \
	"$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/clate.csv" --predict "$tmp/ctest.csv" --classes 5
# in the first mini-batch (line 4): past the model's 10 classes
awk -F, 'NR == 4 { print $1 "," $2 ",10"; next } { print }' "$tmp/ctrain.csv" >"$tmp/cfirst.csv"
refuse "implicit clf refuses a label out of range in the first mini-batch" \
	"cfirst.csv: line 4, field 3: 10 is not a class label" \
	"$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/cfirst.csv" --predict "$tmp/ctest.csv"
awk -F, 'NR == 17 { print $1 ",x7"; next } { print }' "$tmp/ctest.csv" >"$tmp/ctest_bad.csv"
refuse "implicit clf refuses a non-numeric TEST cell (line 17)" "ctest_bad.csv: line 17, field 2: 'x7' is not a number" \
	"$AMORT" adapt --model "$tmp/ic.amort" --train "$tmp/ctrain.csv" --predict "$tmp/ctest_bad.csv"
awk -F, 'NR == 12 { print "abc," $2 "," $3; next } { print }' "$tmp/rtest.csv" >"$tmp/rtest_bad.csv"
refuse "implicit reg refuses a non-numeric TEST cell (line 12)" "rtest_bad.csv: line 12, field 1: 'abc' is not a number" \
	"$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest_bad.csv"
refuse "explicit reg refuses a non-numeric TEST cell (line 12)" "rtest_bad.csv: line 12, field 1: 'abc' is not a number" \
	"$AMORT" adapt --model "$tmp/rx.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest_bad.csv"
# TRAIN's last row is bad: TEST has been read and refined by then
{ cat "$tmp/rtrain.csv"; printf '1,2,3,y\n'; } >"$tmp/rtrain_bad.csv"
refuse "implicit reg: a bad last TRAIN row (line 102) prints nothing" "rtrain_bad.csv: line 102, field 4: 'y' is not a number" \
	"$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain_bad.csv" --predict "$tmp/rtest.csv"
{ cat "$tmp/rtest.csv"; printf '1,2\n'; } >"$tmp/rtest_short.csv"
refuse "implicit reg: a ragged last TEST row (line 32) prints nothing" "rtest_short.csv: line 32: 2 fields, expected 3" \
	"$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest_short.csv"
refuse "a reg model refuses a batch above its own" "--batch 9: a step of 'tinyri' takes at most 8 rows" \
	"$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv" --batch 9
refuse "a reg model refuses --classes" "--classes is for classification models; 'tinyrx' is a regression amortizer" \
	"$AMORT" adapt --model "$tmp/rx.amort" --train "$tmp/rtrain.csv" --predict "$tmp/rtest.csv" --classes 3
printf 'x1,x2,x3,y\n' >"$tmp/header-only.csv"
refuse "implicit reg refuses an empty training set" "header-only.csv: no data rows" \
	"$AMORT" adapt --model "$tmp/ri.amort" --train "$tmp/header-only.csv" --predict "$tmp/rtest.csv"

result_end

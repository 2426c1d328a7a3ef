#!/bin/sh
# cli.sh - behaviour of the `amort` command on good and bad input: exit
# codes and messages.  Usage: tests/cli.sh BUILD_DIR.  Prints cmocka-style
# result lines so tests/run.sh counts it with the rest.
set -u
. "$(dirname "$0")/result.sh"
AMORT="$1/amort"
root=$(dirname "$0")/..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {	# name, expected exit status, expected stderr pattern, command...
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/err" "$tmp/out"; then
		ok "$name"
	else
		bad "$name: exit $rc (want $want), output:"
		cat "$tmp/out" "$tmp/err"
	fi
}

echo "[==========] Running amort command tests."
check "usage without a command" 2 "usage: amort" "$AMORT"
check "unknown command" 2 "unknown command 'frobnicate'" "$AMORT" frobnicate
# a tiny regression model, three iterations: what the info and adapt
# checks below read
printf 'name = tiny\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\n' >"$tmp/tiny.recipe"
check "train a tiny regression model" 0 "wrote" "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/r.amort"
check "info on a good file" 0 "22 tensors" "$AMORT" info "$tmp/r.amort"
check "info shows the header" 0 '"task_family": "linreg"' "$AMORT" info "$tmp/r.amort"
head -c 200 "$tmp/r.amort" >"$tmp/trunc.amort"
check "info refuses a truncated file" 1 "truncated\|checksum" "$AMORT" info "$tmp/trunc.amort"
check "info refuses a missing file" 1 "nope.amort" "$AMORT" info "$tmp/nope.amort"
check "info refuses a directory" 1 "$tmp" "$AMORT" info "$tmp"
printf 'not a model' >"$tmp/text.amort"
check "info refuses a text file" 1 "magic\|too short\|not a model" "$AMORT" info "$tmp/text.amort"
check "train refuses an unwritable path" 1 "no-such-dir" "$AMORT" train "$tmp/tiny.recipe" -o "$tmp/no-such-dir/m.amort"

# ---- amort adapt -----------------------------------------------------------
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

bad_recipe() {	# file name, recipe text (printf format), test name, stderr
		# pattern: `amort train` refuses the recipe with exit 1
	printf "$2" >"$tmp/$1.recipe"
	check "$3" 1 "$4" "$AMORT" train "$tmp/$1.recipe" -o "$tmp/x.amort"
}

lines_are() {	# N: $tmp/out has N lines
	[ "$(wc -l <"$tmp/out")" -eq "$1" ]
}

all_finite() {	# every line of $tmp/out is "prediction,sd", both finite, sd > 0
	awk -F, 'NF != 2 || $1 !~ /^-?[0-9.]+(e[-+][0-9]+)?$/ ||
		 $2 !~ /^[0-9.]+(e[-+][0-9]+)?$/ || $2 <= 0 { bad = 1 }
		 END { exit bad || NR == 0 }' "$tmp/out"
}

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
refuse "adapt refuses a model that is not a regression amortizer" "mog.amort.*generative" \
	"$AMORT" adapt --model "$root/deploy/models/mog.amort" --train "$tmp/train.csv" --predict "$tmp/test.csv"
check "adapt --batch 0 is a usage error" 2 "--batch wants an integer" \
	$A --train "$tmp/train.csv" --predict "$tmp/test.csv" --batch 0
check "adapt without --predict is a usage error" 2 "usage: amort adapt" \
	$A --train "$tmp/train.csv"

# ---- amort adapt: classification -------------------------------------------
probs_ok() {	# K: every line of $tmp/out is "label,p0,..,p(K-1)", the
		# probabilities sum to 1 and the label is their argmax
	awk -F, -v K="$1" 'NF != K + 1 || $1 !~ /^[0-9]+$/ { bad = 1; next }
		{ s = 0; best = 0; for (c = 0; c < K; c++) { p = $(c + 2) + 0; s += p
			if (p < 0 || p > 1) bad = 1; if (p > $(best + 2) + 0) best = c }
		  if (s < 0.9999 || s > 1.0001 || $1 != best) bad = 1 }
		END { exit bad || NR == 0 }' "$tmp/out"
}

printf 'name = tinyclf\nfamily = clf\ntasks = linclass\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinyclf.recipe"
check "train a tiny classification model" 0 "wrote" "$AMORT" train "$tmp/tinyclf.recipe" -o "$tmp/c.amort"
{ cat "$tmp/tinyclf.recipe"; printf 'step_weight = 1\ntask_batch = 1\n'; } >"$tmp/tinysw.recipe"
check "train a step-weighted classifier with one batch size per task" 0 "wrote" "$AMORT" train "$tmp/tinysw.recipe" -o "$tmp/sw.amort"
check "its header records the step weighting" 0 '"step_weight": 1' "$AMORT" info "$tmp/sw.amort"
check "and the batch size per task" 0 '"task_batch": 1' "$AMORT" info "$tmp/sw.amort"
check "a plain recipe's header records neither" 1 '^0$' sh -c "\"$AMORT\" info \"$tmp/c.amort\" | grep -c 'step_weight\\|task_batch'"
# three classes by two thresholds; the first mini-batch holds all three
awk 'BEGIN { srand(3); print "a,b,label"
	for (i = 0; i < 200; i++) { a = rand() * 4 - 2; b = rand() * 40 + 100
		printf "%.4f,%.4f,%d\n", a, b, (i < 3 ? i : a > 0.5 ? 2 : b > 120 ? 1 : 0) } }' >"$tmp/ctrain.csv"
awk 'BEGIN { srand(4); print "a,b"
	for (i = 0; i < 20; i++) printf "%.4f,%.4f\n", rand() * 4 - 2, rand() * 40 + 100 }' >"$tmp/ctest.csv"
C="$AMORT adapt --model $tmp/c.amort"
check "adapt a classifier: K from the first mini-batch" 0 \
	"200 rows of 2 inputs in 25 mini-batches of up to 8; 3 classes (from the first mini-batch)" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv"
expect "adapt prints one line per test row" lines_are 20
expect "each line: the label, then 3 probabilities summing to 1" probs_ok 3
check "adapt --classes 5 --batch 3" 0 "67 mini-batches of up to 3; 5 classes;" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --classes 5 --batch 3
expect "--classes 5 prints 5 probabilities" probs_ok 5
awk -F, 'NR > 1 && NR < 12' "$tmp/ctrain.csv" >"$tmp/ctest_y.csv"
check "adapt ignores TEST's label column" 0 "a label, ignored" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest_y.csv" --no-standardize
expect "TEST with labels prints every row" lines_are 10
printf '1,2,0\n3,4,1\n5,6,1.5\n' >"$tmp/half.csv"
refuse "adapt refuses a label that is not an integer" "half.csv: line 3, field 3: 1.5 is not a class label" \
	$C --train "$tmp/half.csv" --predict "$tmp/ctest.csv"
printf '1,2,0\n3,4,-1\n' >"$tmp/neg.csv"
refuse "adapt refuses a negative label" "neg.csv: line 2, field 3: -1 is not a class label" \
	$C --train "$tmp/neg.csv" --predict "$tmp/ctest.csv"
printf '1,2,0\n3,4,3\n' >"$tmp/three.csv"
refuse "adapt refuses a label past --classes" "three.csv: line 2, field 3: 3 is not a class label: labels are integers from 0 to 2" \
	$C --train "$tmp/three.csv" --predict "$tmp/ctest.csv" --classes 3
awk 'BEGIN { for (i = 0; i < 12; i++) printf "%d,1,%d\n", i, i < 8 ? i % 2 : 2 }' >"$tmp/late.csv"
refuse "adapt refuses a label past the classes of the first mini-batch" "late.csv: line 9, field 3: 2 is not a class label.*give --classes" \
	$C --train "$tmp/late.csv" --predict "$tmp/ctest.csv"
refuse "adapt refuses a batch above the classifier's" "--batch 9: a step of 'tinyclf' takes at most 8 rows" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --batch 9
refuse "adapt refuses --pixels for a model without pixels" "--pixels needs an image model" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --pixels
refuse "adapt refuses --classes for a regression model" "--classes is for classification models" \
	$A --train "$tmp/train.csv" --predict "$tmp/test.csv" --classes 3
check "adapt --classes 11 is a usage error" 2 "--classes wants an integer" \
	$C --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --classes 11
awk 'BEGIN { for (i = 0; i < 66; i++) printf i ? ",0" : "1"; print "" }' >"$tmp/wide65.csv"
refuse "adapt refuses more than 64 inputs" "wide65.csv: line 1: 66 columns (65 inputs and the label).*at most 64 inputs" \
	$C --train "$tmp/wide65.csv" --predict "$tmp/ctest.csv"

# an image model of 4-pixel images, made from the classifier with a
# hand-made PCA (the real ones need `make data`)
expect "make a tiny image model" "$1/tests/loadhelper_imgmodel" "$tmp/c.amort" "$tmp/img.amort" tinyimg
awk 'BEGIN { srand(5); for (i = 0; i < 40; i++) { a = int(rand() * 256); b = int(rand() * 256)
	c = int(rand() * 256); d = int(rand() * 256); printf "%d,%d,%d,%d,%d\n", a, b, c, d, (i < 2 ? i : a + c > b + d) } }' >"$tmp/ptrain.csv"
printf '255,0,255,0\n0,255,0,255\n128,128,128,128\n' >"$tmp/ptest.csv"
I="$AMORT adapt --model $tmp/img.amort"
check "adapt --pixels reads raw pixels" 0 "40 rows of 4 pixels in 5 mini-batches of up to 8; 2 classes" \
	$I --train "$tmp/ptrain.csv" --predict "$tmp/ptest.csv" --pixels
expect "adapt --pixels prints the label and 2 probabilities per row" probs_ok 2
printf '1,2,300,4,0\n' >"$tmp/pbig.csv"
refuse "adapt refuses a pixel above 255" "pbig.csv: line 1, field 3: 300 is not a pixel value" \
	$I --train "$tmp/pbig.csv" --predict "$tmp/ptest.csv" --pixels
refuse "adapt refuses rows of the wrong number of pixels" "3 columns (2 inputs and the label), but with --pixels a row is the model's 4 pixels" \
	$I --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv" --pixels
printf '1,2,3\n' >"$tmp/ptest3.csv"
refuse "adapt refuses a TEST of the wrong number of pixels" "ptest3.csv: line 1: 3 columns, expected 4" \
	$I --train "$tmp/ptrain.csv" --predict "$tmp/ptest3.csv" --pixels
awk 'BEGIN { for (i = 0; i < 16; i++) { a = (i * 37) % 256; printf "%d,%d,%d,%d,%d\n", a, a, a, a, i % 2 } }' >"$tmp/pgrey.csv"
check "adapt --pixels --standardize names a constant feature" 0 "feature 2 is constant in the first mini-batch" \
	$I --train "$tmp/pgrey.csv" --predict "$tmp/ptest.csv" --pixels --standardize
check "an image model without --pixels takes features" 0 "200 rows of 2 inputs" \
	$I --train "$tmp/ctrain.csv" --predict "$tmp/ctest.csv"

# generative and classification models through train and eval
printf 'name = tinymog\nfamily = mog\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 3\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinymog.recipe"
check "train a tiny mixture model" 0 "wrote" "$AMORT" train "$tmp/tinymog.recipe" -o "$tmp/g.amort"
check "eval a mixture model against EM" 0 "" "$AMORT" eval "$tmp/g.amort" --tasks 2 --no-ood --svg "$tmp/g.svg" --csv "$tmp/g.csv"
expect "the mixture table has its header" grep -q "| k | samples | amortizer NLL | EM NLL" "$tmp/out"
expect "the mixture CSV has a header and 6 rows" sh -c "[ \$(wc -l <'$tmp/g.csv') -eq 7 ]"
expect "the SVG grid is written" grep -q "<svg" "$tmp/g.svg"
check "eval a classification model against logistic regression" 0 "" "$AMORT" eval "$tmp/c.amort" --tasks 2 --tune-tasks 1 --no-ood
expect "the classification table has its header" grep -q "| k | rows | amortizer | step (SE) | full batch (L2)" "$tmp/out"
expect "its step column, per block: none at k = 1, a change and its standard error after" sh -c "n=\$(grep -c '^| 1 | 8 | [0-9.]* | - |' '$tmp/out'); [ \$n -ge 1 ] && [ \$(grep -cE '^\\| (2|4|8|16|32) \\| [0-9]+ \\| [0-9.]+ \\| [-+][0-9.]+ \\([0-9.]+\\) \\|' '$tmp/out') -eq \$((5 * n)) ]"
bad_recipe bad1 'name = x\nfamily = mog\nkmax = 9\n' "a mixture recipe with 9 components is refused" "bad1.recipe:3: kmax wants an integer in \\[1, 8\\]"
bad_recipe bad2 'name = x\nfamily = flow\ntasks = letters\n' "a letters recipe needs its letters" "letters tasks need a 'letters' line"
bad_recipe bad3 'name = x\nfamily = clf\nregime = bogus\n' "an unknown classification regime is refused" "regime 'bogus' is not available"
bad_recipe bad4 'name = x\nfamily = mog\nletters = ABC\ntasks = mixtures\nvelocity_width = 0\n' "a bad velocity width is refused" "velocity_width wants an integer"
# the implicit regime's and the reg family's recipe keys
bad_recipe bad5 'name = x\nfamily = reg\nregime = parametric\n' "a parametric reg recipe is refused (that is linreg)" "bad5.recipe:3: regime 'parametric' is not available for reg (explicit, implicit; parametric regression is family linreg)"
bad_recipe bad6 'name = x\nfamily = reg\nregime = implicit\nstate = probs\n' "a probabilities state for regression is refused" "bad6.recipe: a probabilities state is for classification"
bad_recipe bad7 'name = x\nfamily = clf\nregime = implicit\nqueries = 200\n' "200 queries of 10 logits (2000 floats) are refused" "bad7.recipe: queries must be in \\[1, 256\\] with at most 1024 state floats"
bad_recipe bad8 'name = x\nfamily = clf\nregime = implicit\nvariant = both\n' "an implicit recipe with gradients is refused" "the implicit regime learns from observations only"
bad_recipe bad9 'name = x\nfamily = reg\nregime = implicit\nstate = latent\nlatent = 40\n' "an implicit latent above 32 floats is refused" "an implicit latent must have 1 to 32 floats"
bad_recipe bad10 'name = x\nfamily = clf\nregime = implicit\nstate = sideways\n' "an unknown implicit state is refused" "bad10.recipe:4: state must be logits (mean), probs or latent"
printf 'name = tinyci\nfamily = clf\nregime = implicit\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\nqueries = 8\niters = 2\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinyci.recipe"
check "train a tiny implicit classifier (default state and variant)" 0 "wrote" "$AMORT" train "$tmp/tinyci.recipe" -o "$tmp/ci.amort"
check "an implicit recipe defaults to variant obs" 0 '"variant": "obs"' "$AMORT" info "$tmp/ci.amort"
expect "the header's implicit object: state logits, 8 queries" sh -c "grep -A3 '\"implicit\": {' '$tmp/out' | tr -d ' \n' | grep -q '\"state\":\"logits\",\"queries\":8'"
sed -e '/^queries/d' -e 's/regime = implicit/regime = implicit\nstate = latent/' "$tmp/tinyci.recipe" >"$tmp/tinycl.recipe"
check "an implicit latent recipe without queries trains (the default latent of 32)" 0 "wrote" "$AMORT" train "$tmp/tinycl.recipe" -o "$tmp/cl.amort"
check "...with as many queries as fit in 1024 floats" 0 '"queries": 32' "$AMORT" info "$tmp/cl.amort"

# the explicit classifier's head predictor: its recipe key and header
bad_recipe bad11 'name = x\nfamily = clf\nregime = implicit\npredictor = head\n' "a predictor outside the explicit regime is refused" "'predictor' is for the explicit regime"
bad_recipe bad12 'name = x\nfamily = clf\nregime = explicit\npredictor = sideways\n' "an unknown predictor is refused" "bad12.recipe:4: predictor must be mlp or head"
bad_recipe bad13 'name = x\nfamily = clf\nregime = explicit\npredictor = head\nlatent = 32\n' "a head latent above 16 per class is refused" "the head predictor's latent per class must be 8 or 16"
bad_recipe bad14 'name = x\nfamily = clf\ntasks = linclass\ndisjoint = 1\n' "disjoint stream and query rows are for image tasks" "bad14.recipe: 'disjoint' is for image tasks"
bad_recipe bad15 'name = x\nfamily = clf\ntasks = images\ndataset = mnist\ndisjoint = 2\n' "disjoint is 0 or 1" "bad15.recipe:5: disjoint wants an integer in \\[0, 1\\]"
bad_recipe bad16 'name = x\nfamily = clf\nstep_weight = 2\n' "step_weight is 0 or 1" "bad16.recipe:3: step_weight wants an integer in \\[0, 1\\]"
bad_recipe bad17 'name = x\nstep_weight = 1\n' "the parametric regression trainer has no step_weight" "bad17.recipe:2: unknown key 'step_weight'"
bad_recipe bad18 'name = x\nfamily = mog\ntask_batch = 3\n' "task_batch is 0 or 1" "bad18.recipe:3: task_batch wants an integer in \\[0, 1\\]"
bad_recipe bad19 'name = x\nfamily = clf\naugment = 0.5\n' "augment is for image tasks" "augment is a chance in \\[0, 1\\], for image tasks"
bad_recipe bad20 'name = x\nfamily = clf\ntasks = images\ndataset = fashion-mnist\naugment = 2\n' "augment is a chance" "bad20.recipe:5: augment wants a number in \\[0, 1\\]"
# the messages model/recipe.c builds from its family table (regimes, task
# sources) and its line reader
bad_recipe bad21 'name = x\nfamily = flow\nregime = parametric\n' "a parametric flow is refused" "bad21.recipe:3: regime 'parametric' is not available for this family (explicit)"
bad_recipe bad22 'name = x\nregime = implicit\n' "an implicit linreg recipe is refused" "bad22.recipe:2: regime 'implicit' is not available for this family (parametric)"
bad_recipe bad23 'name = x\nfamily = flow\ntasks = images\n' "a flow names its task sources" "bad23.recipe:3: tasks must be mixtures or letters"
bad_recipe bad24 'name = x\nfamily = reg\ntasks = linclass\n' "reg runs on linreg tasks only" "bad24.recipe:3: tasks must be linreg"
bad_recipe bad25 'name = x\nfamily = gan\n' "an unknown family is refused" "bad25.recipe:2: family 'gan' is not known (linreg, clf, reg, mog, flow)"
bad_recipe bad26 'width = 8\n\n# c\nname = x\nwidth = 16\n' "a key given twice is refused, blank and comment lines counted" "bad26.recipe:5: 'width' given twice"
bad_recipe bad27 'name = x\nlatent\n' "a line without '=' is refused" "bad27.recipe:2: expected 'key = value'"
bad_recipe bad28 'name = x\nfamily = mog\npredictor_width = 8\n' "a mixture recipe has no predictor" "bad28.recipe:3: unknown key 'predictor_width'"
bad_recipe bad29 'latent = 8\nname = x\nfamily = mog\nlatent = 16\n' "the family line counts wherever it stands" "bad29.recipe:4: 'latent' given twice"
# every committed recipe, shipped and ablation, is one `amort train` takes
for f in "$root"/deploy/recipes/*.recipe "$root"/deploy/recipes/ablations/*.recipe; do
	check "train --check accepts $(basename "$(dirname "$f")")/$(basename "$f")" 0 \
		"$(basename "$f" .recipe), [0-9]* iterations, seed [0-9]*" \
		"$AMORT" train "$f" --check
done
check "train --check refuses a bad recipe, and trains nothing" 1 "bad18.recipe:3: task_batch" "$AMORT" train "$tmp/bad18.recipe" --check
check "train without -o or --check is a usage error" 2 "usage: amort train" "$AMORT" train "$tmp/tiny.recipe"
printf 'name = tinyhx\nfamily = clf\nregime = explicit\npredictor = head\nlatent = 8\npredictor_width = 8\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 8\nchunk = 8\niters = 2\nshards = 1\nwarmup = 1\nbatch = 8\ndmax = 4\n' >"$tmp/tinyhx.recipe"
check "train a tiny explicit classifier with the head predictor" 0 "wrote" "$AMORT" train "$tmp/tinyhx.recipe" -o "$tmp/hx.amort"
check "its header names the predictor" 0 '"predictor": "head"' "$AMORT" info "$tmp/hx.amort"
check "eval the head predictor" 0 "" "$AMORT" eval "$tmp/hx.amort" --tasks 2 --tune-tasks 1 --no-ood
expect "its table names the head predictor" grep -q "tinyhx (linclass, explicit (head predictor) regime, both variant)" "$tmp/out"
sed -e 's/tinyhx/tinyhm/' -e 's/predictor = head/predictor = mlp/' "$tmp/tinyhx.recipe" >"$tmp/tinyhm.recipe"
check "train a tiny explicit classifier with the mlp predictor" 0 "wrote" "$AMORT" train "$tmp/tinyhm.recipe" -o "$tmp/hm.amort"
check "its header names the mlp predictor" 0 '"predictor": "mlp"' "$AMORT" info "$tmp/hm.amort"

# regression by a learned predictor (explicit, implicit) through train and
# eval, alone and side by side with the linreg model trained above
printf 'name = tinyrx\nfamily = reg\nregime = explicit\nvariant = both\ntasks = linreg\nwidth = 8\nheads = 2\nlayers = 1\nlatent = 8\npredictor_width = 8\npredictor_layers = 1\npopulation = 8\nchunk = 8\nqueries = 8\niters = 2\nshards = 1\nwarmup = 1\nbatch = 8\n' >"$tmp/tinyrx.recipe"
sed -e 's/tinyrx/tinyri/' -e 's/regime = explicit/regime = implicit\nstate = mean/' -e 's/variant = both/variant = obs/' "$tmp/tinyrx.recipe" >"$tmp/tinyri.recipe"
check "train a tiny explicit regression model" 0 "wrote" "$AMORT" train "$tmp/tinyrx.recipe" -o "$tmp/rx.amort"
check "train a tiny implicit regression model" 0 "wrote" "$AMORT" train "$tmp/tinyri.recipe" -o "$tmp/ri.amort"
check "eval an explicit regression model against ridge" 0 "" "$AMORT" eval "$tmp/rx.amort" --tasks 2 --tune-tasks 2 --test-rows 50 --csv "$tmp/rx.csv"
expect "the regression table has its header" grep -q "| k | rows | amortizer | step (SE) | Bayes (ridge) | SGD (lr) | Adam (lr) | one-step" "$tmp/out"
expect "its step column is empty at k = 1, a change and its standard error after" sh -c "[ \$(grep -c '^| 1 | 8 | [0-9.]* | - |' '$tmp/out') -eq 5 ] && [ \$(grep -cE '^\\| (2|4|8|16|32) \\| [0-9]+ \\| [0-9.]+ \\| [-+][0-9.e+-]+ \\([0-9.e+-]+\\) \\|' '$tmp/out') -eq 25 ]"
expect "the regression eval has the out-of-distribution blocks" grep -q "noise sd 0.02" "$tmp/out"
expect "the regression CSV has a header and 5 x 6 rows" sh -c "[ \$(wc -l <'$tmp/rx.csv') -eq 31 ]"
expect "the regression CSV ends with the step and its standard error, empty at k = 1" sh -c "head -1 '$tmp/rx.csv' | grep -q ',noise_floor,change,change_se\$' && [ \$(grep -c ',1,8,.*,,\$' '$tmp/rx.csv') -eq 5 ] && [ \$(grep -cE ',-?[0-9.e+-]+,[0-9.e+-]+\$' '$tmp/rx.csv') -eq 25 ]"
check "eval an implicit regression model" 0 "" "$AMORT" eval "$tmp/ri.amort" --tasks 2 --tune-tasks 2 --test-rows 50 --no-ood
expect "the implicit model's table" grep -q "tinyri (learned-predictor regression, implicit, state mean" "$tmp/out"
check "eval parametric, explicit and implicit side by side" 0 "" "$AMORT" eval "$tmp/r.amort" "$tmp/rx.amort" "$tmp/ri.amort" --tasks 2 --tune-tasks 2 --test-rows 50 --no-ood --dim 4
expect "the side-by-side table names the three regimes" grep -q "| k | rows | tiny (parametric, both) | tinyrx (explicit, both) | tinyri (implicit, state mean) | Bayes (ridge) | SGD | Adam |" "$tmp/out"
expect "the regression side by side has a step table with a column per model, from k = 2" sh -c "grep -q '^| k | tiny | tinyrx | tinyri |\$' '$tmp/out' && [ \$(grep -cE '^\\| (2|4|8|16|32) (\\| [-+][0-9.e+-]+ \\([0-9.e+-]+\\) ){3}\\|\$' '$tmp/out') -eq 5 ]"
check "eval a linreg model against ridge" 0 "" "$AMORT" eval "$tmp/r.amort" --tasks 2 --no-ood --csv "$tmp/r.csv"
expect "the linreg table has the step column, empty at k = 1" sh -c "grep -q '| k | rows | amortizer | step (SE) | Bayes (ridge) |' '$tmp/out' && grep -q '^| 1 | 32 | [0-9.]* | - |' '$tmp/out' && [ \$(grep -cE '^\\| (2|4|8|16|32|64) \\| [0-9]+ \\| [0-9.]+ \\| [-+][0-9.e+-]+ \\([0-9.e+-]+\\) \\|' '$tmp/out') -eq 6 ]"
expect "the linreg CSV ends with the step and its standard error, empty at k = 1" sh -c "head -1 '$tmp/r.csv' | grep -q ',noise_floor,change,change_se\$' && [ \$(grep -c ',1,32,.*,,\$' '$tmp/r.csv') -eq 1 ] && [ \$(grep -cE ',-?[0-9.e+-]+,[0-9.e+-]+\$' '$tmp/r.csv') -eq 6 ]"
check "eval two linreg models side by side" 0 "" "$AMORT" eval "$tmp/r.amort" "$tmp/r.amort" --tasks 2
expect "the linreg side by side has a step table, from k = 2; a repeated name gets its place" sh -c "grep -q '^| k | tiny | tiny #2 |\$' '$tmp/out' && grep -q '^| k | tiny (both) | tiny #2 (both) |' '$tmp/out' && [ \$(grep -cE '^\\| (2|4|8|16|32|64) (\\| [-+][0-9.e+-]+ \\([0-9.e+-]+\\) ){2}\\|\$' '$tmp/out') -eq 6 ]"
check "side by side refuses a classification model beside a regression one" 1 "regression models only" "$AMORT" eval "$tmp/rx.amort" "$tmp/c.amort" --tasks 2
check "eval of a regression model refuses --dim 17" 2 "--dim wants an integer" "$AMORT" eval "$tmp/rx.amort" --dim 17
check "eval of a regression model refuses a batch above the model's" 2 "--batch 9: a step of these models takes at most 8 rows" "$AMORT" eval "$tmp/rx.amort" --batch 9

# classification models side by side (the baselines computed once)
check "eval classifiers side by side" 0 "" "$AMORT" eval "$tmp/c.amort" "$tmp/ci.amort" --tasks 2 --tune-tasks 1 --dim 4 --classes 2 --csv "$tmp/cs.csv"
expect "the classification side by side names both regimes" grep -q "| k | rows | tinyclf (parametric, both) | tinyci (implicit, logits) | full batch (L2) | SGD | Adam |" "$tmp/out"
expect "its CSV has a header and 2 x 6 rows" sh -c "[ \$(wc -l <'$tmp/cs.csv') -eq 13 ]"
expect "the side by side has a step table with a column per model, from k = 2" sh -c "grep -q '^| k | tinyclf | tinyci |\$' '$tmp/out' && [ \$(grep -cE '^\\| (2|4|8|16|32) \\| [-+][0-9.]+ \\([0-9.]+\\) \\| [-+][0-9.]+ \\([0-9.]+\\) \\|\$' '$tmp/out') -eq 5 ]"
expect "its CSV ends with the step and its standard error, empty at k = 1" sh -c "head -1 '$tmp/cs.csv' | grep -q ',ceiling,change,change_se\$' && [ \$(grep -c ',1,.*,,\$' '$tmp/cs.csv') -eq 2 ] && [ \$(grep -cE ',-?[0-9.]+,[0-9.]+\$' '$tmp/cs.csv') -eq 10 ]"
check "eval of one linclass model refuses --classes" 2 "--classes alone is for image models" "$AMORT" eval "$tmp/c.amort" --classes 3
check "side by side refuses an image model beside a linclass one" 1 "side by side needs models of one dataset: tinyclf was trained on linclass tasks, tinyimg on test" "$AMORT" eval "$tmp/c.amort" "$tmp/img.amort" --tasks 2
if [ -r data/fashion-mnist.img ]; then
	printf 'name = tfp\nfamily = clf\ntasks = images\ndataset = fashion-mnist\nwidth = 8\nheads = 2\nlayers = 1\npopulation = 4\nchunk = 4\niters = 1\nshards = 1\nwarmup = 1\n' >"$tmp/tfp.recipe"
	sed -e 's/tfp/tfi/' -e 's/family = clf/family = clf\nregime = implicit\nqueries = 8/' "$tmp/tfp.recipe" >"$tmp/tfi.recipe"
	check "train a tiny FashionMNIST model" 0 "wrote" "$AMORT" train "$tmp/tfp.recipe" -o "$tmp/tfp.amort"
	check "train a tiny implicit FashionMNIST model" 0 "wrote" "$AMORT" train "$tmp/tfi.recipe" -o "$tmp/tfi.amort"
	{ cat "$tmp/tfi.recipe"; printf 'augment = 0.5\n'; } >"$tmp/tfa.recipe"
	check "train it with half its tasks' features permuted" 0 "wrote" "$AMORT" train "$tmp/tfa.recipe" -o "$tmp/tfa.amort"
	check "its header records the augmentation" 0 '"augment": 0.5' "$AMORT" info "$tmp/tfa.amort"
	check "a plain image recipe's header does not" 1 '^0$' sh -c "\"$AMORT\" info \"$tmp/tfi.amort\" | grep -c augment"
	check "eval image classifiers side by side" 0 "PCAs are identical" "$AMORT" eval "$tmp/tfp.amort" "$tmp/tfi.amort" --tasks 1 --tune-tasks 1 --no-ood
	expect "the image side by side has the test-split block and both models" sh -c "grep -q '### in distribution: fashion-mnist test split, 10 classes' '$tmp/out' && grep -q '| k | rows | tfp (parametric, both) | tfi (implicit, logits) |' '$tmp/out'"
	expect "the image side by side ends with the whole-split fit" grep -q '| full batch (L2) | SGD | Adam | whole split |' "$tmp/out"
	check "eval image classifiers side by side on 3-class tasks" 0 "" "$AMORT" eval "$tmp/tfp.amort" "$tmp/tfi.amort" --tasks 1 --tune-tasks 1 --no-ood --classes 3
	expect "its block says 3 classes" grep -q '### in distribution: fashion-mnist test split, 3 random classes of the 10' "$tmp/out"
	check "eval one image model on 2-class tasks, in and out of distribution" 0 "" "$AMORT" eval "$tmp/tfp.amort" --tasks 1 --tune-tasks 1 --classes 2
	expect "both its blocks say 2 classes" sh -c "grep -q '### in distribution: fashion-mnist test split, 2 random classes of the 10' '$tmp/out' && grep -q 'PCA), 2 random classes of the 10' '$tmp/out'"
	expect "both its blocks have the whole-split fit, on their training splits" sh -c "grep -q 'fitted on the whole training split (60000 images' '$tmp/out' && [ \$(grep -c 'fitted on the whole training split (' '$tmp/out') -eq 2 ] && [ \$(grep -c '| one-step | whole split | amortizer - full |' '$tmp/out') -eq 2 ]"
	check "image side by side refuses --dim" 2 "--dim is for linclass models" "$AMORT" eval "$tmp/tfp.amort" "$tmp/tfi.amort" --dim 4
else
	skipped "image side by side: data/fashion-mnist.img missing (run make data)"
fi

result_end

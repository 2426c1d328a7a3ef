#!/bin/sh
# results.sh - remake the measured tables under docs/results/ (and the
# generated tables of docs/studies/) from their `amort eval` commands, so
# that no figure is ever copied by hand.
#
# usage: docs/results.sh [AMORT] [NAME...]
#        docs/results.sh --list
#        docs/results.sh --needs-data [NAME...]
#
#   AMORT   the amort binary (default build/amort); taken as such when the
#           first argument contains a '/' (build/amort, ./amort, /usr/bin/amort)
#   NAME    which files to remake, by name (linreg-eval, mog-eval, ...);
#           all of them when none is given.  --list prints the names, where
#           each file goes, and roughly how long it takes; --needs-data
#           exits 0 when one of them needs `make data` (for the Makefile).
#
# Each NAME is one file, docs/DIR/NAME.md, made from one or more runs of
# `amort eval` (the lines of the table below with that name, in order):
# every run writes a comment line naming its command, then what it prints.
# Its --csv and --svg files go next to it.  A NAME's outputs are written to
# a scratch directory first and moved into docs/ only when all its runs
# succeeded, so a failed or interrupted run leaves docs/ as it was.
#
# The command of each run is printed before it starts, and its time after.
# The evaluations are seeded: on the same machine they give the same bytes
# again.  The committed files were made on a 2-CPU Intel Xeon with
# OpenBLAS's default (Prescott) kernel; another BLAS kernel can change the
# last digits.  The image runs (column data) need data/fashion-mnist.img
# and data/mnist.img: run `make data` first.  The minutes (column min) are
# a guide: those noted with the committed runs on 2 cores (often shared
# with another run), or measured while the cores were shared with other
# jobs.  All of it takes about an hour; not run in CI.
set -eu

# name                    dir      data   min   amort arguments (one run per line)
TABLE='
linreg-eval               results  -      3.5   eval deploy/models/linreg.amort --tasks 256 --csv docs/results/linreg-eval.csv --svg docs/results/linreg-eval.svg
reg-eval                  results  -      4.5   eval deploy/models/linreg.amort deploy/models/reg-explicit.amort deploy/models/reg-implicit.amort --dim 8
reg-eval                  results  -      1     eval deploy/models/linreg.amort deploy/models/reg-explicit.amort deploy/models/reg-implicit.amort --dim 2 --no-ood
reg-eval                  results  -      1     eval deploy/models/linreg.amort deploy/models/reg-explicit.amort deploy/models/reg-implicit.amort --dim 16 --no-ood
reg-eval                  results  -      0.5   eval deploy/models/reg-explicit.amort --no-ood
reg-eval                  results  -      0.5   eval deploy/models/reg-implicit.amort --no-ood
linclass-eval             results  -      1     eval deploy/models/linclass.amort --tasks 100 --csv docs/results/linclass-eval.csv
linclass-explicit-eval    results  -      1.5   eval deploy/models/linclass-explicit.amort --tasks 100 --csv docs/results/linclass-explicit-eval.csv
linclass-explicit-head-eval results -     1.5   eval deploy/models/linclass-explicit-head.amort --tasks 100 --csv docs/results/linclass-explicit-head-eval.csv
linclass-implicit-eval    results  -      3     eval deploy/models/linclass-implicit.amort --tasks 100 --csv docs/results/linclass-implicit-eval.csv
linclass-implicit-32-eval results  -      5     eval deploy/models/linclass-implicit-32.amort --tasks 100 --csv docs/results/linclass-implicit-32-eval.csv
fashion-eval              results  data   4     eval deploy/models/fashion.amort --tasks 50 --tune-tasks 8 --csv docs/results/fashion-eval.csv
fashion-explicit-eval     results  data   7     eval deploy/models/fashion-explicit.amort --tasks 40 --tune-tasks 6 --csv docs/results/fashion-explicit-eval.csv
fashion-implicit-eval     results  data   1.5   eval deploy/models/fashion-implicit.amort --tasks 40 --tune-tasks 6 --csv docs/results/fashion-implicit-eval.csv
mnist-eval                results  data   3     eval deploy/models/mnist.amort --tasks 40 --tune-tasks 6 --csv docs/results/mnist-eval.csv
mog-eval                  results  -      0.7   eval deploy/models/mog.amort --tasks 100 --csv docs/results/mog-eval.csv --svg docs/results/mog-eval.svg
flow-mog-eval             results  -      2     eval deploy/models/flow-mog.amort --tasks 100 --csv docs/results/flow-mog-eval.csv --svg docs/results/flow-mog-eval.svg
flow-letters-eval         results  -      3     eval deploy/models/flow-letters.amort --tasks 100 --csv docs/results/flow-letters-eval.csv --svg docs/results/flow-letters-eval.svg
linreg-ablation           studies  -      2.5   eval deploy/models/linreg.amort deploy/models/linreg-grad.amort deploy/models/linreg-both.amort --tasks 256 --no-ood --dim 2
linreg-ablation           studies  -      2.5   eval deploy/models/linreg.amort deploy/models/linreg-grad.amort deploy/models/linreg-both.amort --tasks 256 --no-ood --dim 8
linreg-ablation           studies  -      2.5   eval deploy/models/linreg.amort deploy/models/linreg-grad.amort deploy/models/linreg-both.amort --tasks 256 --no-ood --dim 16
linclass-ablation         studies  -      0.2   eval deploy/models/linclass-obs.amort deploy/models/linclass-grad.amort deploy/models/linclass.amort --dim 2 --classes 4 --tasks 100
linclass-ablation         studies  -      0.2   eval deploy/models/linclass-obs.amort deploy/models/linclass-grad.amort deploy/models/linclass.amort --dim 32 --classes 4 --tasks 100
linclass-regimes          studies  -      1.6   eval deploy/models/linclass.amort deploy/models/linclass-explicit.amort deploy/models/linclass-explicit-head.amort deploy/models/linclass-implicit.amort deploy/models/linclass-implicit-32.amort --dim 16 --classes 4 --tasks 100
linclass-implicit-state   studies  -      5     eval deploy/models/linclass-implicit.amort deploy/models/linclass-implicit-probs.amort deploy/models/linclass-implicit-latent.amort --dim 16 --classes 4 --tasks 100
fashion-regimes           studies  data   4.5   eval deploy/models/fashion.amort deploy/models/fashion-explicit.amort deploy/models/fashion-implicit.amort deploy/models/fashion-implicit-32.amort --tasks 40 --tune-tasks 6 --csv docs/studies/fashion-regimes.csv
'

usage() {
	echo "usage: docs/results.sh [AMORT] [NAME...]   (docs/results.sh --list for the names)" >&2
	exit 2
}

# The table without blank lines, one run per line.
runs() {
	printf '%s\n' "$TABLE" | awk 'NF >= 5'
}

# The names, each once, in table order.
names() {
	runs | awk '!seen[$1]++ { print $1 }'
}

case "${1-}" in
--list)
	runs | awk '{ n[$1]++; if (!($1 in d)) { order[++k] = $1; d[$1] = $2; data[$1] = $3 } m[$1] += $4 }
		END { for (i = 1; i <= k; i++) { x = order[i]
			printf "%-28s docs/%s/%s.md  %s run%s, about %g min%s\n", x, d[x], x,
				n[x], (n[x] > 1 ? "s" : ""), m[x], (data[x] == "data" ? ", needs make data" : "") } }'
	exit 0 ;;
--needs-data)
	# exit 0 when one of the names (all when none) needs `make data`
	shift
	runs | awk -v names=" $* " '$3 == "data" && (names == "  " || index(names, " " $1 " ")) { f = 1 }
		END { exit !f }'
	exit ;;
-h|--help) sed -n '2,32s/^# \{0,1\}//p' "$0"; exit 0 ;;
-*) usage ;;
esac

amort=build/amort
case "${1-}" in
*/*) amort=$1; shift ;;
esac

# Everything is relative to the top of the tree; AMORT to where we were.
case "$amort" in
/*) ;;
*) amort=$(pwd)/$amort ;;
esac
cd "$(dirname "$0")/.."
if [ ! -x "$amort" ]; then
	echo "results: no amort binary at $amort (make build/amort)" >&2
	exit 1
fi

if [ $# -eq 0 ]; then
	# shellcheck disable=SC2046	# one word per name
	set -- $(names)
fi
all=$(names)
for n in "$@"; do
	if ! printf '%s\n' "$all" | grep -qx -- "$n"; then
		echo "results: no result named '$n' (docs/results.sh --list)" >&2
		exit 2
	fi
	# check what the runs need before any of them starts
	if runs | awk -v n="$n" '$1 == n && $3 == "data" { f = 1 } END { exit !f }'; then
		for f in data/fashion-mnist.img data/mnist.img; do
			if [ ! -e "$f" ]; then
				echo "results: $n needs $f: run 'make data' first" >&2
				exit 1
			fi
		done
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
set -f		# the arguments are split on blanks, never globbed

total0=$(date +%s)
for n in "$@"; do
	t0=$(date +%s)
	runs | awk -v n="$n" '$1 == n' >"$tmp/runs"
	: >"$tmp/out.md"
	: >"$tmp/moves"
	while read -r name dir _ _ args; do
		todir=$dir	# read leaves dir empty at the end of the file
		# the --csv and --svg files go to the scratch directory first
		run='' header='' next=''
		for a in $args; do
			header="$header $a"
			if [ -n "$next" ]; then
				echo "$tmp/${a##*/} $a" >>"$tmp/moves"
				a=$tmp/${a##*/}
				next=
			fi
			case "$a" in --csv|--svg) next=1 ;; esac
			run="$run $a"
		done
		echo "\$ $amort$run"
		echo "<!-- generated by docs/results.sh $name: amort$header -->" >>"$tmp/out.md"
		s0=$(date +%s)
		# shellcheck disable=SC2086	# $run is split into the arguments
		if ! "$amort" $run >>"$tmp/out.md" </dev/null; then
			echo "results: $name: the run above failed; docs/$dir/$name.md left as it was" >&2
			exit 1
		fi
		echo "  $(( $(date +%s) - s0 )) s"
	done <"$tmp/runs"
	mv "$tmp/out.md" "docs/$todir/$n.md"
	while read -r from to; do
		mv "$from" "$to"
	done <"$tmp/moves"
	echo "results: docs/$todir/$n.md in $(( $(date +%s) - t0 )) s"
done
echo "results: $# file(s) in $(( $(date +%s) - total0 )) s"

#!/bin/sh
# mkdata.sh - rows of a known linear model, as CSV on standard output:
#
#     y = 2 x1 - x2 + 0.5 + noise,   x1, x2 uniform in [-2, 2],
#     noise normal with mean 0 and sd SD (Box-Muller)
#
# usage: clients/mkdata.sh ROWS SEED [SD]      (SD defaults to 0.1)
#
# The first line is the header x1,x2,y; values have 6 decimals.  The same
# ROWS, SEED and SD give the same file with the same awk (Debian's default,
# mawk; gawk draws other numbers from the same seed).  The shipped files
# were made with mawk 1.3.4:
#
#     clients/mkdata.sh 1000 42 > clients/train.csv     # what walkthrough.sh streams
#     clients/mkdata.sh 20 7 0 > clients/test.csv        # y without noise: the truth
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: mkdata.sh ROWS SEED [SD]" >&2
	exit 2
fi

exec awk -v rows="$1" -v seed="$2" -v sd="${3:-0.1}" 'BEGIN {
	srand(seed)
	print "x1,x2,y"
	for (i = 0; i < rows; i++) {
		x1 = 4 * rand() - 2
		x2 = 4 * rand() - 2
		# a normal deviate by Box-Muller
		e = sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand())
		printf "%.6f,%.6f,%.6f\n", x1, x2, 2 * x1 - x2 + 0.5 + sd * e
	}
}'

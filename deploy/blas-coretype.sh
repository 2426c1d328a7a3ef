#!/bin/sh
# blas-coretype.sh - print the OpenBLAS kernel `make models` should train
# with, or nothing to leave OpenBLAS's own choice.
#
# Debian 12's OpenBLAS 0.3.21 does not recognise some newer CPUs and falls
# back to its generic Prescott kernel, 3-4x slower in sgemm.  When the CPU
# has the instructions of a newer kernel we name it; an OPENBLAS_CORETYPE
# already set always wins.  `amort train` checks the chosen kernel against
# a reference product before it trains.  Tests and CI never use this.
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
	echo "$OPENBLAS_CORETYPE"
	exit 0
fi
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd; then
	echo SkylakeX
elif has avx2 && has fma; then
	echo Haswell
fi

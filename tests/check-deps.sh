#!/bin/sh
# check-deps.sh - hold the include rules of core/README.md: every include of
# a project header names its folder where it crosses one, reaches only into
# the layers below its own, and no two modules include each other, directly
# or around a longer circle.  Prints each offence with file:line and exits
# non-zero if there is one.  Run from the top of the tree (make check-deps).
#
# The order, lowest first; a folder may include itself and what it lists:
#   core/base    -
#   core/nn      base
#   core/tasks   base
#   core/io      base
#   core/data    base io
#   core/refine  base nn tasks           (the linear refiner reads the linear
#                                          model's gradient)
#   core/family  base nn tasks io data refine
#   core/train   base nn tasks io data refine family
#   core/eval    base nn tasks io data refine family
#   core/tools   every core layer        (the CLI and the model files)
#   server       every core layer, and core/tools' model.h
# core/ never includes jansson, libmicrohttpd, SQLite, libpq or pthreads.
set -u
cd "$(dirname "$0")/.."

edges=$(mktemp)
loop=$(mktemp)
trap 'rm -f "$edges" "$loop"' EXIT
files=$(ls core/*/*.[ch] server/*.[ch] 2>/dev/null)

# One line per include: FILE LINE FOLDER HEADER, FOLDER being the header's
# folder as written ("-" when it names none).
# shellcheck disable=SC2086
grep -n '^#include [<"]' $files /dev/null |
awk -F: -v edges="$edges" '
function allowed(from, to) {
	if (from == to)
		return 1
	if (from == "server")
		return (to ~ /^core\// && to != "core/tools") ||
		       target == "core/tools/model"
	split(from, a, "/")
	return index(" " order[a[2]] " ", " " substr(to, 6) " ") > 0
}
BEGIN {
	order["base"] = ""
	order["nn"] = "base"
	order["tasks"] = "base"
	order["io"] = "base"
	order["data"] = "base io"
	order["refine"] = "base nn tasks"
	order["family"] = "base nn tasks io data refine"
	order["train"] = "base nn tasks io data refine family"
	order["eval"] = order["train"]
	order["tools"] = "base nn tasks io data refine family train eval"
	bad = 0
}
{
	file = $1; line = $2
	inc = $0; sub(/^[^:]*:[^:]*:/, "", inc)
	dir = file; sub(/\/[^\/]*$/, "", dir)
	mod = file; sub(/\.[ch]$/, "", mod)
	if (inc ~ /^#include </) {
		if (dir ~ /^core\// && dir != "core/tools" &&
		    inc ~ /<(jansson|microhttpd|sqlite3|libpq-fe|pthread)\.h>/) {
			printf "%s:%s: core reaches a foreign library: %s\n", file, line, inc
			bad = 1
		}
		next
	}
	h = inc; sub(/^#include "/, "", h); sub(/".*/, "", h)
	if (h ~ /\//)
		target = "core/" h
	else if (dir == "server" && h == "model.h")
		target = "core/tools/model.h"	# through -Icore/tools
	else
		target = dir "/" h
	sub(/\.h$/, "", target)
	to = target; sub(/\/[^\/]*$/, "", to)
	if (dir ~ /^core\// && dir != "core/tools" && h !~ /\//) {
		printf "%s:%s: include without its folder: %s\n", file, line, inc
		bad = 1
	} else if (!allowed(dir, to)) {
		printf "%s:%s: %s may not include %s\n", file, line, dir, h
		bad = 1
	}
	if (target != mod)
		print mod, target > edges
}
END { exit bad }'
rc=$?

# Circles: tsort reports any loop in the module graph.
if ! tsort "$edges" >/dev/null 2>"$loop"; then
	awk '/contains a loop/ { if (c) print c; c = "include circle:"; next }
	     { sub(/^tsort: /, ""); c = c " " $0 }
	     END { if (c) print c }' "$loop"
	rc=1
fi
[ "$rc" -eq 0 ] && echo "check-deps: the include order holds"
exit "$rc"

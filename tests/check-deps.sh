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
#   core/data    base io tasks           (the task sources draw from the
#                                          synthetic families and real data)
#   core/refine  base nn tasks           (the linear refiner reads the linear
#                                          model's gradient)
#   core/family  base nn tasks io data refine
#   core/train   base nn tasks io data refine family
#   core/eval    base nn tasks io data refine family
#   model        core                    (*.amort headers; jansson)
#   cli          core model              (the amort command)
#   server       core model              (never cli)
# core/ never includes jansson, libmicrohttpd, SQLite, libpq or pthreads.
# Every project include but server's own names its folder.
set -u
cd "$(dirname "$0")/.."

edges=$(mktemp)
loop=$(mktemp)
trap 'rm -f "$edges" "$loop"' EXIT
files=$(ls core/*/*.[ch] model/*.[ch] cli/*.[ch] server/*.[ch])

# One line per include: FILE LINE FOLDER HEADER, FOLDER being the header's
# folder as written ("-" when it names none).
# shellcheck disable=SC2086
grep -n '^#include [<"]' $files /dev/null |
awk -F: -v edges="$edges" '
BEGIN {
	core = "core/base core/nn core/tasks core/io core/data core/refine core/family core/train core/eval"
	may["core/base"] = ""
	may["core/nn"] = "core/base"
	may["core/tasks"] = "core/base"
	may["core/io"] = "core/base"
	may["core/data"] = "core/base core/io core/tasks"
	may["core/refine"] = "core/base core/nn core/tasks"
	may["core/family"] = "core/base core/nn core/tasks core/io core/data core/refine"
	may["core/train"] = may["core/family"] " core/family"
	may["core/eval"] = may["core/train"]
	may["model"] = core
	may["cli"] = core " model"
	may["server"] = core " model"
	bad = 0
}
{
	file = $1; line = $2
	inc = $0; sub(/^[^:]*:[^:]*:/, "", inc)
	dir = file; sub(/\/[^\/]*$/, "", dir)
	mod = file; sub(/\.[ch]$/, "", mod)
	if (inc ~ /^#include </) {
		if (dir ~ /^core\// &&
		    inc ~ /<(jansson|microhttpd|sqlite3|libpq-fe|pthread)\.h>/) {
			printf "%s:%s: core reaches a foreign library: %s\n", file, line, inc
			bad = 1
		}
		next
	}
	h = inc; sub(/^#include "/, "", h); sub(/".*/, "", h)
	if (h !~ /\//) {
		if (dir != "server") {
			printf "%s:%s: include without its folder: %s\n", file, line, inc
			bad = 1
		}
		target = dir "/" h
	} else if (h ~ /^(cli|model)\//)
		target = h
	else
		target = "core/" h
	sub(/\.h$/, "", target)
	to = target; sub(/\/[^\/]*$/, "", to)
	if (to != dir && index(" " may[dir] " ", " " to " ") == 0) {
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

#!/bin/sh
# openapi.sh - schema/openapi.yaml describes exactly the routes the daemon
# serves: the set of (method, path) pairs under `paths:` must equal what
# `amortd --print-routes` prints (one "METHOD /path/{param}" per line).
# Usage: tests/openapi.sh BUILD_DIR.  Prints cmocka-style result lines so
# tests/run.sh counts it with the rest.
#
# The YAML is read with awk, relying on the file's layout: top-level keys
# at column 0, each path at two spaces ("  /v1/x:" or quoted), each
# operation at four ("    get:").  The first test fails if that layout is
# broken, so a reformatted file cannot pass by listing nothing.
#
# A daemon without --print-routes makes the comparison a skip (exit 0), or
# a failure when OPENAPI_STRICT=1.
set -u
. "$(dirname "$0")/result.sh"
BUILD=${1:-build}
AMORTD="$BUILD/amortd"
SPEC="$(dirname "$0")/../schema/openapi.yaml"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The (method, path) pairs of the spec, "METHOD /path" per line, sorted.
spec_routes() {
	awk '
	/^[^ \t#]/ { inpaths = ($0 ~ /^paths:[ \t]*$/); next }
	!inpaths { next }
	/^  [^ \t#]/ {
		path = $0
		sub(/^  /, "", path)
		sub(/:[ \t]*$/, "", path)
		gsub(/^["\047]|["\047]$/, "", path)
		next
	}
	/^    (get|put|post|delete|patch|head|options|trace):[ \t]*$/ {
		m = $0
		sub(/^    /, "", m)
		sub(/:.*/, "", m)
		print toupper(m), path
	}' "$1" | LC_ALL=C sort
}

echo "[==========] Running OpenAPI description tests."

# 1. The spec parses into operations on absolute paths.
if [ ! -r "$SPEC" ]; then
	bad "schema/openapi.yaml is readable: $SPEC missing"
	result_end
	exit 1
fi
spec_routes "$SPEC" >"$tmp/spec"
n=$(wc -l <"$tmp/spec")
if [ "$n" -gt 0 ] && ! grep -qv '^[A-Z]* /' "$tmp/spec" &&
	grep -q '^openapi: 3\.0\.[0-9]' "$SPEC"; then
	ok "openapi.yaml lists $n operations"
else
	bad "openapi.yaml lists operations: found $n, or a path not starting with /:"
	cat "$tmp/spec"
fi

# 2. No operation is listed twice, and every operationId is unique.
dups=$(uniq -d "$tmp/spec")
ids=$(sed -n 's/^ *operationId: *//p' "$SPEC" | LC_ALL=C sort | uniq -d)
nids=$(grep -c '^ *operationId:' "$SPEC")
if [ -z "$dups" ] && [ -z "$ids" ] && [ "$nids" -eq "$n" ]; then
	ok "every operation is listed once with its own operationId"
else
	bad "operations unique: repeated: $dups $ids; $nids operationIds for $n operations"
fi

# 3. Every {param} in a path is declared as a path parameter.
missing=""
for p in $(grep -o '{[A-Za-z_][A-Za-z0-9_]*}' "$tmp/spec" | tr -d '{}' | sort -u); do
	# declared inline or in components/parameters: "name: p" with
	# "in: path" on one of the next two lines
	if ! awk -v p="$p" '
		{ sub(/^[ \t]*(-[ \t]+)?/, "") }
		$1 == "name:" && $2 == p { name = NR }
		$1 == "in:" && $2 == "path" && name && NR - name <= 2 { found = 1 }
		END { exit !found }' "$SPEC"; then
		missing="$missing {$p}"
	fi
done
if [ -z "$missing" ]; then
	ok "every path parameter is declared"
else
	bad "path parameters declared: missing$missing"
fi

# 4. The daemon serves exactly these routes.
name="openapi.yaml matches amortd --print-routes"
if [ ! -x "$AMORTD" ]; then
	why="$AMORTD is not built"
	rc=127
else
	timeout 10 "$AMORTD" --print-routes >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	why="$AMORTD --print-routes exited $rc: $(head -n 1 "$tmp/err")"
	[ "$rc" -eq 124 ] && why="$AMORTD --print-routes did not exit within 10 s"
fi
if [ "$rc" -ne 0 ]; then
	if [ "${OPENAPI_STRICT:-0}" = 1 ]; then
		bad "$name: $why"
	else
		skipped "$name: $why (no route table to compare yet)"
	fi
else
	# Trailing spaces and CRs are not differences; anything else is.
	sed 's/[[:space:]]*$//; /^$/d' "$tmp/out" | LC_ALL=C sort >"$tmp/served"
	if grep -qv '^[A-Z][A-Z]* /[^ ]*$' "$tmp/served"; then
		bad "$name: lines not of the form 'METHOD /path':"
		grep -v '^[A-Z][A-Z]* /[^ ]*$' "$tmp/served"
	elif cmp -s "$tmp/spec" "$tmp/served"; then
		ok "$name ($n routes)"
	else
		bad "$name:"
		LC_ALL=C comm -13 "$tmp/spec" "$tmp/served" | sed 's/^/    served, not in openapi.yaml: /'
		LC_ALL=C comm -23 "$tmp/spec" "$tmp/served" | sed 's/^/    in openapi.yaml, not served: /'
	fi
fi

result_end
